"""The reproducibility promises, under mpirun: the same exports on 1, 2 and 4 ranks, and a
run of 2N steps equal to N steps + restart + N steps (restarting on another rank count)."""

import netCDF4
import numpy as np
import pytest
from conftest import REPO, run_mpi

SCRIPT = str(REPO / "tests" / "mpi" / "component_run.py")
pytestmark = pytest.mark.mpi


def exports(path):
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def test_exports_are_bit_for_bit_identical_on_1_2_and_4_ranks(make_config, tmp_path):
    results = {}
    for n in (1, 2, 4):
        cfg = make_config(
            f"c{n}.yaml",
            run={"output_dir": str(tmp_path / f"o{n}")},
            history={"frequency": "every 5 days"},
        )
        run_mpi(n, SCRIPT, str(cfg), "1", "12", str(tmp_path / f"e{n}.npz"))
        results[n] = exports(tmp_path / f"e{n}.npz")
    assert results[1]["LAI"].shape == (12, 1, 16)
    assert np.nanmax(results[1]["LAI"]) > 0
    for n in (2, 4):
        for name, values in results[1].items():
            np.testing.assert_array_equal(results[n][name], values, err_msg=f"{name} on {n} ranks")
    hist = [sorted((tmp_path / f"o{n}").glob("*.landemu.h.*.nc")) for n in (1, 4)]
    with netCDF4.Dataset(hist[0][0]) as a, netCDF4.Dataset(hist[1][0]) as b:
        np.testing.assert_array_equal(a["LAI"][:], b["LAI"][:])


def test_restart_is_bit_for_bit_even_on_another_rank_count(make_config, tmp_path):
    n = 10
    cfg = make_config("ref.yaml", run={"output_dir": str(tmp_path / "ref")})
    run_mpi(1, SCRIPT, str(cfg), "1", str(2 * n), str(tmp_path / "ref.npz"))
    restart = tmp_path / "mid.nc"
    cfg = make_config("first.yaml", run={"output_dir": str(tmp_path / "first")})
    run_mpi(
        2,
        SCRIPT,
        str(cfg),
        "1",
        str(n),
        str(tmp_path / "first.npz"),
        "--write-restart",
        str(restart),
    )
    cfg = make_config(
        "second.yaml", run={"output_dir": str(tmp_path / "second")}, restart={"read": str(restart)}
    )
    run_mpi(4, SCRIPT, str(cfg), str(n + 1), str(2 * n), str(tmp_path / "second.npz"))
    ref, first, second = (exports(tmp_path / f"{k}.npz") for k in ("ref", "first", "second"))
    for name in ref:
        np.testing.assert_array_equal(
            np.concatenate([first[name], second[name]]), ref[name], err_msg=name
        )
