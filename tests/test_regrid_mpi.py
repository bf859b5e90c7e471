"""Bit-for-bit identical remaps on 1, 2, 3 and 4 ranks, and parallel map generation (each
case launched through run/mpirun.sh; the scripts live in tests/mpi/)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from coupler.grids import LatLonGrid
from coupler.regrid import Regridder, conservative_weights, write_esmf
from coupler.regrid.check import analytic_field

ROOT = Path(__file__).resolve().parents[1]
MPIRUN = ROOT / "run" / "mpirun.sh"
PY = sys.executable
pytestmark = pytest.mark.mpi


def clean_env() -> dict[str, str]:
    """The environment without the variables this (singleton-MPI) process got from Open MPI:
    inherited, they make the child mpirun think it runs inside a job and exit at once."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OMPI_", "PMIX_", "OPAL_", "PRTE_"))
    }


def mpirun(n: int, *args: str) -> None:
    res = subprocess.run(
        [str(MPIRUN), "-n", str(n), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=clean_env(),
    )
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[int, dict]:
    tmp = tmp_path_factory.mktemp("regrid_mpi")
    fine = LatLonGrid.parse("latlon:240,240:30,32,10,12")
    host = LatLonGrid.parse("latlon:6,6:29.5,32.5,9.5,12.5")
    write_esmf(tmp / "map.nc", conservative_weights(fine, host), fine, host)
    out = {}
    for n in (1, 2, 3, 4):
        mpirun(
            n,
            PY,
            str(ROOT / "tests" / "mpi" / "regrid_bitwise.py"),
            str(tmp / "map.nc"),
            str(tmp / f"r{n}.npz"),
        )
        with np.load(tmp / f"r{n}.npz") as z:
            out[n] = {k: z[k] for k in z.files}
    return out


@pytest.mark.parametrize("n", [2, 3, 4])
@pytest.mark.parametrize("key", ["up", "down", "frommap"])
def test_remap_is_bit_for_bit_on_any_rank_count(results: dict, n: int, key: str) -> None:
    a, b = results[1][key], results[n][key]
    assert a.shape == b.shape
    assert np.array_equal(a, b, equal_nan=True), f"{key}: {n} ranks differ from 1 rank"


def test_parallel_result_is_the_serial_remap(results: dict) -> None:
    fine = LatLonGrid.parse("latlon:240,240:30,32,10,12")
    host = LatLonGrid.parse("latlon:6,6:29.5,32.5,9.5,12.5")
    reg = Regridder.latlon(fine, host)
    fy, fx = fine.centres()
    expect = reg(analytic_field(fy, fx, 16).reshape(fine.shape)).ravel()
    got = results[4]["up"][1]
    live = reg.covered
    assert np.abs(got[live] / expect[live] - 1).max() < 1e-13  # tile partial sums first
    assert np.isnan(got[~live]).all()
    assert np.abs(results[4]["frommap"][1][live] / expect[live] - 1).max() < 1e-13


def test_block_split_between_ranks_is_refused_everywhere(results: dict) -> None:
    assert "src_block 7 is split between ranks 0 and 1" in str(results[2]["msg"])


def test_parallel_map_generation_writes_the_serial_file(tmp_path: Path) -> None:
    args = ["latlon:300,400:-10,10,170,-170", "latlon:7,9:-11,12,165,-160"]
    exe = str(Path(PY).parent / "landemu")
    mpirun(1, exe, "regrid", *args, "-o", str(tmp_path / "m1.nc"))
    mpirun(3, exe, "regrid", *args, "-o", str(tmp_path / "m3.nc"))
    with netCDF4.Dataset(tmp_path / "m1.nc") as a, netCDF4.Dataset(tmp_path / "m3.nc") as b:
        for v in ("S", "row", "col", "frac_a", "frac_b", "area_a", "xv_a"):
            assert np.array_equal(a.variables[v][:], b.variables[v][:]), v
