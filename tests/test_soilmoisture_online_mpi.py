"""The soil-moisture online step under mpirun: its host aggregate, the phenology LAI it reads
and the subregion's fine history are bit-for-bit identical on 1, 2, 3 and 4 ranks with
70 × 50 tiles straddling the host cells, and 4 days = 2 days + restart + 2 days (restarted
on another rank count)."""

import netCDF4
import numpy as np
import pytest
from conftest import REPO, run_mpi
from soilmoisture_setup import config

from emulators.soilmoisture.static import add_soil

SCRIPT = str(REPO / "tests" / "mpi" / "state_run.py")
DAY = "86400"
PUTS = ("--puts", "soilmoisture_setup:host_fields")
DAYS = 4
pytestmark = [pytest.mark.mpi, pytest.mark.slow]


@pytest.fixture(scope="module")
def soil_static(coast_static, tmp_path_factory):
    return add_soil(coast_static, tmp_path_factory.mktemp("sm") / "coast_soil.nc")


def results(npz, folder):
    """The gathered exports of a run and its subregion's fine fields, (days, ...) each."""
    with np.load(npz) as z:
        out = {k: z[k] for k in z.files}
    (path,) = (folder / "out").glob("*.landemu.hfine.*.nc")
    with netCDF4.Dataset(path) as ds:
        out.update({f"fine {n}": ds[n][:].filled(np.nan) for n in ("H2OSOI_FINE", "LAI")})
    return out


def test_soil_moisture_bit_for_bit_on_1_to_4_ranks_and_across_a_restart(
    tmp_path, soil_static, coast_domain
):
    def cfg(name, **more):
        return str(config(tmp_path / name, soil_static, coast_domain, **more))

    runs = {}
    for n in (1, 2, 3, 4):
        out = tmp_path / f"e{n}.npz"
        run_mpi(n, SCRIPT, cfg(f"r{n}"), DAY, "1", str(DAYS), str(out), *PUTS)
        runs[n] = results(out, tmp_path / f"r{n}")
    ref = runs[1]["H2OSOI_FINE"]
    assert ref.shape == (DAYS, 10, 16)
    land = ~np.isnan(ref[0, 0]) & (ref[0, 0] > 0)
    assert land.sum() == 12  # land host cells
    assert runs[1]["fine H2OSOI_FINE"].shape == (DAYS, 10, 96, 156)
    assert np.count_nonzero(np.ptp(ref[:, :, land], axis=0)) > 60  # the days differ
    for n in (2, 3, 4):
        for name, values in runs[1].items():
            np.testing.assert_array_equal(runs[n][name], values, err_msg=f"{name} on {n} ranks")

    restart = tmp_path / "mid.nc"
    first, second = tmp_path / "first.npz", tmp_path / "second.npz"
    run_mpi(3, SCRIPT, cfg("a"), DAY, "1", "2", str(first), "--write-restart", str(restart), *PUTS)
    again = cfg("b", restart={"read": str(restart)})
    run_mpi(2, SCRIPT, again, DAY, "3", str(DAYS), str(second), *PUTS)
    a, b = results(first, tmp_path / "a"), results(second, tmp_path / "b")
    for name, values in runs[1].items():
        np.testing.assert_array_equal(np.concatenate([a[name], b[name]]), values, err_msg=name)
