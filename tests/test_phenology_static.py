"""Phenology on real static fine data: tiles read with StaticFineData from a prepared file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from coupler.clock import ModelTime, Schedule
from coupler.grids.latlon import LatLonGrid
from coupler.static import StaticFineData
from coupler.steps.base import StepContext
from emulators.data.static_fine import prepare_static
from emulators.transforms.phenology import IGBP_LAI_RANGE, PhenologyGSI

pytest.importorskip("tifffile")
DAY = 86400
START = ModelTime.from_date(2001, 1, 1)


@pytest.fixture(scope="module")
def static_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("phen") / "liguria.nc"
    prepare_static(LatLonGrid.parse("latlon:120,120:43.5,44.5,7.5,8.5"), out, progress=False)
    return out


def _run_tile(data: StaticFineData, tile: LatLonGrid, days: range) -> np.ndarray:
    """Daily steps on one tile with a latitude-dependent summer climate; returns the last LAI."""
    step = PhenologyGSI("phen", Schedule.parse("daily"))
    lat = np.repeat(tile.lat_centres()[:, None], tile.nlon, axis=1)
    lon = np.repeat(tile.lon_centres()[None, :], tile.nlat, axis=0)
    cover = data.read("land_cover", tile).astype(np.float64)
    land = data.read("landmask", tile).astype(np.float64)
    elev = data.read("elevation", tile).astype(np.float64)
    state = {k: np.full(lat.shape, v) for k, v in step.state.items()}
    lai = np.zeros(lat.shape)
    for d in days:
        tbot = 273.15 + 8.0 + 12.0 * np.sin(2 * np.pi * (d - 110) / 365) - 0.0065 * elev
        precip = np.full(lat.shape, 2.5 / DAY)
        ctx = StepContext(
            time=START + d * DAY, previous_run=START + (d - 1) * DAY, lat=lat, lon=lon
        )
        lai = step.run(
            {"TBOT": tbot, "PRECTmms": precip, "land_cover": cover, "landmask": land}, state, ctx
        )["LAI"]
    return lai


def test_real_tile_lai_is_zero_at_sea_and_within_class_range_on_land(static_file: Path) -> None:
    with StaticFineData(static_file) as data:
        tile = data.grid
        lai = _run_tile(data, tile, range(1, 200))
        land = data.read("landmask", tile) == 1
        cover = data.read("land_cover", tile)
    assert land.any() and (~land).any()
    assert np.all(lai[~land] == 0.0)
    lo = np.array([IGBP_LAI_RANGE.get(int(c), (0.0, 0.0))[0] for c in cover[land]])
    hi = np.array([IGBP_LAI_RANGE.get(int(c), (0.0, 0.0))[1] for c in cover[land]])
    assert np.all(lai[land] >= lo - 1e-12) and np.all(lai[land] <= hi + 1e-12)
    # mid-July on the Ligurian coast: vegetated land is well above its winter minimum
    forest = land & np.isin(cover, (1, 4, 5))
    assert forest.any() and lai[forest].mean() > 3.0


def test_tiles_of_a_real_window_reproduce_the_whole_window(static_file: Path) -> None:
    with StaticFineData(static_file) as data:
        g = data.grid
        whole = _run_tile(data, g, range(100, 140))
        quads = [
            [_run_tile(data, g.window(j0, j0 + 60, i0, i0 + 60), range(100, 140)) for i0 in (0, 60)]
            for j0 in (0, 60)
        ]
    np.testing.assert_array_equal(np.block(quads), whole)
