"""The Fortran host program coupled to the soil-moisture step: it puts everything the forest
needs (TBOT, PRECTmms, H2OSOI, TSOI, QFLX_EVAP, RNET), and landemu's fine subregion history
is bit-for-bit the same on 1 and 2 ranks and across a restart of host and landemu."""

from __future__ import annotations

import netCDF4
import numpy as np
import pytest
from soilmoisture_setup import config
from test_hostmodel_program import PFTS, run_program

from emulators.data.forcing import CellSet, write_forcing
from emulators.soilmoisture.static import add_soil

pytestmark = [pytest.mark.fortran, pytest.mark.mpi, pytest.mark.slow]
PUTS = "landemu_landmodel: puts TBOT PRECTmms H2OSOI TSOI QFLX_EVAP RNET"


@pytest.fixture(scope="module")
def case(tmp_path_factory, coast_static, coast_domain) -> dict:
    folder = tmp_path_factory.mktemp("sm_host")
    soil = add_soil(coast_static, folder / "coast_soil.nc")
    write_forcing(folder / "forcing.nc", CellSet.from_domain(coast_domain), 2001, 1)
    return {"folder": folder, "soil": soil, "domain": coast_domain}


def host_run(case: dict, name: str, nranks: int, days: int, start: int = 1, after=None) -> dict:
    """Run the host for `days` days from January `start` (continuing run `after` from its
    restarts); the fine history landemu wrote."""
    folder = case["folder"]
    more = {
        "run": {"start": f"2001-01-{start:02d}"},
        "history": {"fields": ["H2OSOI_FINE", "QFLX_EVAP", "RNET", "TSOI"]},
    }
    if after:
        more["restart"] = {"read": str(folder / f"{after}_landemu_r.nc")}
    cfg = config(folder / name, case["soil"], case["domain"], **more)
    proc = run_program(
        folder,
        nranks,
        config=str(cfg),
        domain_file=str(case["domain"]),
        forcing_file="forcing.nc",
        ndays=days,
        start_ymd=20010100 + start,
        history_file=f"{name}.nc",
        restart_out=f"{name}_r.nc",
        landemu_restart=str(folder / f"{name}_landemu_r.nc"),
        default_pct_nat_pft=PFTS,
        **({"restart_in": f"{after}_r.nc"} if after else {}),
    )
    assert PUTS in proc.stdout
    out = {}
    for kind, names in (("hfine", ("H2OSOI_FINE", "LAI")), ("h", ("QFLX_EVAP", "RNET", "TSOI"))):
        (path,) = (folder / name / "out").glob(f"*.landemu.{kind}.*.nc")
        with netCDF4.Dataset(path) as ds:
            out.update({v: ds[v][:].filled(np.nan) for v in names})
    return out


def test_host_program_drives_the_soil_step_bit_for_bit(case):
    one = host_run(case, "one", 1, 4)
    two = host_run(case, "two", 2, 4)
    sm = one["H2OSOI_FINE"]
    assert sm.shape == (4, 10, 96, 156)
    land = np.isfinite(sm[0, 0])
    assert land.sum() > 5000 and np.nanmin(sm) > 0.05 and np.nanmax(sm) < 0.6
    # landemu's daily means of what the host put: the fluxes lag one interval (zero on a
    # cold start's first day), the soil temperature is the state at the interval's start
    rnet, evap = (one[v].reshape(4, -1) for v in ("RNET", "QFLX_EVAP"))
    cells = np.isfinite(rnet[0])
    tsoi = one["TSOI"].reshape(4, 10, -1)[:, :, cells]
    assert cells.sum() == 12 and np.all(rnet[0, cells] == 0) and np.all(evap[0, cells] == 0)
    assert np.all(np.abs(rnet[1:, cells]).mean(axis=1) > 1.0)
    assert np.all(evap[1:, cells].mean(axis=1) > 0.0)
    assert tsoi.min() > 250.0 and tsoi.max() < 300.0
    for v in one:
        np.testing.assert_array_equal(one[v], two[v], err_msg=v)


def test_host_program_restart_continues_the_soil_step_bit_for_bit(case):
    full = host_run(case, "full", 1, 4)
    first = host_run(case, "first", 2, 2)
    second = host_run(case, "second", 1, 2, start=3, after="first")
    for v in full:
        np.testing.assert_array_equal(np.concatenate([first[v], second[v]]), full[v], err_msg=v)
