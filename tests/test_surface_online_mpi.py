"""The online surface step under mpirun: every export (PCT_*, MONTHLY_LAI/SAI/HEIGHT_*) is
bit-for-bit the same on 1, 2 and 3 ranks, and a run restarted mid-February on another rank
count continues it bit for bit."""

import numpy as np
import pytest
from conftest import REPO, run_mpi
from surface_online_setup import DAY, climate_file, config, static_file

SCRIPT = str(REPO / "tests" / "mpi" / "state_run.py")
PUTS = ("--puts", "surface_online_setup:forcing")  # daily TBOT and PRECTmms
DAYS = 62  # runs of the monthly steps on January 1, February 1 and March 1
pytestmark = pytest.mark.mpi


def load(path):
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def test_surface_exports_bit_for_bit_on_1_2_3_ranks_and_across_a_restart(tmp_path):
    static, climate = static_file(tmp_path / "static.nc"), climate_file(tmp_path / "clim.nc")
    runs = {}
    for n in (1, 2, 3):
        out = tmp_path / f"e{n}.npz"
        cfg = config(tmp_path / f"r{n}", static, climate)
        run_mpi(n, SCRIPT, str(cfg), str(DAY), "1", str(DAYS), str(out), *PUTS)
        runs[n] = load(out)
    for n in (2, 3):
        for name, values in runs[1].items():
            np.testing.assert_array_equal(runs[n][name], values, err_msg=f"{name} on {n} ranks")
    restart, first, second = tmp_path / "mid.nc", tmp_path / "a.npz", tmp_path / "b.npz"
    cfg = config(tmp_path / "a", static, climate)
    run_mpi(
        3, SCRIPT, str(cfg), str(DAY), "1", "45", str(first), "--write-restart", str(restart), *PUTS
    )
    cfg = config(tmp_path / "b", static, climate, restart={"read": str(restart)})
    run_mpi(2, SCRIPT, str(cfg), str(DAY), "46", str(DAYS), str(second), *PUTS)
    a, b = load(first), load(second)
    for name, values in runs[1].items():
        np.testing.assert_array_equal(np.concatenate([a[name], b[name]]), values, err_msg=name)
    pct = runs[1]["PCT_NAT_PFT"][-1]
    np.testing.assert_allclose(pct.sum(axis=0), 100.0, rtol=0, atol=1e-10)
    assert runs[1]["MONTHLY_LAI"][-1].max() > 1.0
