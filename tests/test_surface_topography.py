"""Topography from a DEM: STD_ELEV by hand, sky view on flat terrain, in a V valley, on a
tilted plane; coverage errors; the real ETOPO5."""

import netCDF4
import numpy as np
import pytest

from coupler.errors import GridError
from coupler.grids.latlon import LatLonGrid
from emulators.surface.topography import (
    Dem,
    cell_lengths_m,
    host_topography,
    read_etopo5,
    read_user_dem,
    terrain_factors,
)


def metric_dem(z: np.ndarray) -> Dem:
    """A DEM of small cells on the equator (0.001° ≈ 111 m, nearly square)."""
    ny, nx = z.shape
    d = 0.001
    return Dem(z.astype(float), LatLonGrid(ny, nx, -ny * d / 2, ny * d / 2, 0.0, nx * d), "test")


def test_std_elev_is_the_area_weighted_std_of_the_dem_cells_inside():
    z = np.array([[100.0, 200.0, 300.0, 400.0], [50.0, 60.0, 70.0, 80.0]] * 2)
    dem = Dem(z, LatLonGrid(4, 4, 40.0, 44.0, 10.0, 14.0), "known")
    host = LatLonGrid(1, 2, 40.0, 44.0, 10.0, 14.0)
    out = host_topography(dem, host, max_steps=1)
    w = np.diff(np.sin(np.deg2rad(np.arange(40.0, 44.1, 1.0))))[:, None] * np.ones((4, 2))
    for k in range(2):
        zz = z[:, 2 * k : 2 * k + 2]
        mean = (w * zz).sum() / w.sum()
        std = np.sqrt((w * (zz - mean) ** 2).sum() / w.sum())
        assert out["TOPO"][0, k] == pytest.approx(mean, rel=1e-12)
        assert out["STD_ELEV"][0, k] == pytest.approx(std, rel=1e-12)
    assert out["STD_ELEV"].shape == (1, 2)


def test_flat_terrain_sees_the_whole_sky():
    f = terrain_factors(metric_dem(np.full((20, 20), 500.0)), n_azimuth=16, max_steps=5)
    assert np.all(f["SLOPE"] == 0.0)
    np.testing.assert_allclose(f["SKY_VIEW"], 1.0, atol=1e-15)
    np.testing.assert_allclose(f["TERRAIN_CONFIG"], 0.0, atol=1e-15)


@pytest.mark.parametrize("alpha_deg", [20.0, 45.0])
def test_v_valley_bottom_sky_view_is_cos_alpha(alpha_deg):
    dem = metric_dem(np.zeros((81, 81)))
    _, dx = cell_lengths_m(dem.grid)
    x_m = (np.arange(81) - 40) * dx[:, None]  # distance from the valley axis (north-south)
    dem = Dem(np.tan(np.deg2rad(alpha_deg)) * np.abs(x_m), dem.grid, "V valley")
    f = terrain_factors(dem, n_azimuth=72, max_steps=40)
    sky = f["SKY_VIEW"][40, 40]
    assert f["SLOPE"][40, 40] == pytest.approx(0.0, abs=1e-9)
    assert sky == pytest.approx(np.cos(np.deg2rad(alpha_deg)), rel=0.02)
    assert f["TERRAIN_CONFIG"][40, 40] == pytest.approx(1.0 - sky, rel=1e-12)


def test_uniform_slope_sees_its_whole_hemisphere():
    dem = metric_dem(np.zeros((41, 41)))
    dy, _ = cell_lengths_m(dem.grid)
    slope = np.deg2rad(30.0)
    z = np.tan(slope) * dy * np.arange(41)[:, None] * np.ones((1, 41))  # rises to the north
    f = terrain_factors(Dem(z, dem.grid, "plane"), n_azimuth=72, max_steps=15)
    assert f["SLOPE"][20, 20] == pytest.approx(30.0, abs=0.05)
    assert f["ASPECT"][20, 20] == pytest.approx(180.0, abs=0.5)  # faces south
    # nothing rises above the plane: V_d = 1, i.e. SKY_VIEW = 1 / cos S per horizontal area
    assert f["SKY_VIEW"][20, 20] * np.cos(slope) == pytest.approx(1.0, rel=1e-3)
    assert f["TERRAIN_CONFIG"][20, 20] == 0.0
    assert f["SINSL_COSAS"][20, 20] == pytest.approx(-0.5, abs=1e-3)


def test_dem_that_does_not_cover_the_host_grid_is_an_error():
    dem = Dem(np.ones((4, 4)), LatLonGrid(4, 4, 40.0, 44.0, 10.0, 14.0), "regional test DEM")
    with pytest.raises(GridError, match=r"covers longitudes 10.0000..14.0000; the host grid needs"):
        host_topography(dem, LatLonGrid(1, 1, 41.0, 42.0, 13.0, 15.0))
    with pytest.raises(GridError, match=r"covers latitudes 40.0000..44.0000"):
        host_topography(dem, LatLonGrid(1, 1, 39.0, 42.0, 11.0, 12.0))


def test_user_dem_netcdf_round_trip(tmp_path):
    path = tmp_path / "dem.nc"
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("lat", 3)
        ds.createDimension("lon", 4)
        ds.createVariable("lat", "f8", ("lat",))[:] = [42.5, 41.5, 40.5]  # north first
        ds.createVariable("lon", "f8", ("lon",))[:] = [10.5, 11.5, 12.5, 13.5]
        ds.createVariable("elevation", "f4", ("lat", "lon"))[:] = np.arange(12.0).reshape(3, 4)
    dem = read_user_dem(path)
    assert dem.grid.south == 40.0 and dem.grid.east == 14.0
    assert dem.z[0].tolist() == [8.0, 9.0, 10.0, 11.0]  # flipped to south → north


def test_etopo5_himalaya_and_open_ocean():
    dem = read_etopo5()
    assert dem.z.shape == (2160, 4320)
    host = LatLonGrid(2, 2, 27.0, 29.0, 86.0, 88.0)  # Everest at 27.99 N 86.93 E
    out = host_topography(dem, host)
    assert out["TOPO"].min() > 2000.0 and out["STD_ELEV"].max() > 800.0
    assert out["SLOPE"].max() > 2.0 and out["TERRAIN_CONFIG"].max() > 0.0
    assert np.all((out["ASPECT"][0] > 150.0) & (out["ASPECT"][0] < 250.0))  # south flank
    sea = host_topography(dem, LatLonGrid(1, 1, -30.0, -29.0, -140.0, -139.0))  # South Pacific
    assert sea["TOPO"][0, 0] == 0.0 and sea["SKY_VIEW"][0, 0] == 1.0


def test_user_dem_geotiff(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    z = np.arange(12, dtype=np.float32).reshape(3, 4)  # row 0 = north
    path = tmp_path / "dem.tif"
    tifffile.imwrite(
        path,
        z,
        extratags=[
            (33550, "d", 3, (0.5, 0.25, 0.0), False),  # ModelPixelScale: dlon, dlat
            (33922, "d", 6, (0.0, 0.0, 0.0, 10.0, 46.0, 0.0), False),  # tie: NW corner
        ],
    )
    dem = read_user_dem(path)
    assert (dem.grid.south, dem.grid.north, dem.grid.west, dem.grid.east) == (
        45.25,
        46.0,
        10.0,
        12.0,
    )
    assert dem.z[0].tolist() == [8.0, 9.0, 10.0, 11.0]  # south row first
