"""The coupled demo year (make demo's configuration: 0.5° France/Alps host, 1/120° fine grid,
daily coupling, real static data and ERA5-climatology forcing) gives bit-for-bit the same
host history and landemu history on 1 and 2 ranks, and the host runs on landemu's PFTs."""

import shutil
import subprocess

import netCDF4
import numpy as np
import pytest
from conftest import MPIRUN, REPO

pytestmark = [pytest.mark.fortran, pytest.mark.slow, pytest.mark.mpi]
LANDEMU = REPO / ".venv" / "bin" / "landemu"
HOST = REPO / "build" / "install" / "bin" / "landemu_landmodel"


def prepare_data(data):
    """The demo's data, made exactly as run/demo/run.sh makes it."""
    data.mkdir()
    for args in (
        ["prepare-static", "--grid", "latlon:1200,1200:42,52,0,10", "-o", data / "demo_static.nc"],
        [
            "domain",
            "--grid",
            "latlon:20,20:42,52,0,10",
            "--static",
            data / "demo_static.nc",
            "-o",
            data / "demo_domain.nc",
        ],
        [
            "forcing",
            "--domain",
            data / "demo_domain.nc",
            "--start-year",
            "2001",
            "--years",
            "1",
            "-o",
            data / "demo_forcing.nc",
        ],
        ["surface-climate", "--grid", data / "demo_domain.nc", "-o", data / "demo_climate.nc"],
    ):
        subprocess.run([str(LANDEMU), *map(str, args)], check=True, capture_output=True)


def run_demo_year(folder, nranks):
    folder.mkdir(parents=True)
    for name in ("landemu.yaml", "landmodel.nml"):
        shutil.copy(REPO / "run" / "demo" / name, folder / name)
    subprocess.run(
        [str(MPIRUN), "-n", str(nranks), str(HOST), "landmodel.nml"],
        cwd=folder,
        check=True,
        capture_output=True,
        timeout=900,
    )
    return folder


def variables(path):
    with netCDF4.Dataset(path) as ds:
        return {k: np.ma.filled(ds[k][:], np.nan) for k in ds.variables}


@pytest.mark.timeout(1800)  # two coupled years and the data: minutes idle, far more loaded
def test_demo_year_is_bit_for_bit_on_one_and_two_ranks(tmp_path):
    prepare_data(tmp_path / "data")
    one = run_demo_year(tmp_path / "out" / "one", 1)
    two = run_demo_year(tmp_path / "out" / "two", 2)
    host_one, host_two = (
        variables(one / "landmodel_coupled.nc"),
        variables(two / "landmodel_coupled.nc"),
    )
    assert host_one["time"].size == 365
    # the host really ran on landemu's PFTs and per-PFT LAI
    assert np.nanmax(host_one["landemu_MONTHLY_LAI"]) > 1.0
    used, received = host_one["PCT_NAT_PFT"], host_one["landemu_PCT_PFT"]
    land = np.isfinite(used)
    assert land.sum() > 300 * 17 * 365
    np.testing.assert_allclose(used[land], received[land], rtol=0, atol=1e-9)
    np.testing.assert_allclose(np.nansum(used, axis=1)[land[:, 0]], 100.0, rtol=1e-12)
    for name, values in host_one.items():
        np.testing.assert_array_equal(host_two[name], values, err_msg=name)
    hist = [sorted(d.glob("demo.landemu.h.*.nc"))[0] for d in (one, two)]
    emu_one, emu_two = variables(hist[0]), variables(hist[1])
    for name, values in emu_one.items():
        np.testing.assert_array_equal(emu_two[name], values, err_msg=name)
