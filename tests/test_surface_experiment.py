"""Smoke run of the miniature scaling experiment: the host physics on the fine columns of
one 0.5° box for two days (the full season runs offline; see emulators/surface)."""

import numpy as np

from emulators.surface.experiment import run_experiment


def test_scaling_experiment_smoke_run_on_one_box():
    res = run_experiment(
        "latlon:60,60:45,45.5,5,5.5", log=lambda m: None, start_doy=180, season=(181, 181)
    )
    assert res["maps"]["LH"].shape == (60, 60)
    assert res["fine_cells_run"] == int(np.isfinite(res["maps"]["LH"]).sum()) > 3000
    assert 0 < res["host_columns"] < res["fine_cells_run"]
    for name in ("LH", "SM", "ASR", "ELR", "LAI"):
        g = res["fields"][name]["gamma_12_per_box_pct"]
        assert len(g) == 1 and 0.0 < g[0] < 100.0, name
    assert 0.05 < res["fields"]["SM"]["season_mean"] < 0.6  # volumetric
    assert 100.0 < res["fields"]["ASR"]["season_mean"] < 350.0  # W m-2, early July
