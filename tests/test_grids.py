"""Grids: lat-lon specs, windows, areas, SCRIP/domain files and their errors."""

from __future__ import annotations

import math
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from coupler.errors import GridError
from coupler.grids import HostGrid, LatLonGrid
from coupler.grids.ncio import atomic_dataset


def test_spec_with_west_greater_than_east_crosses_the_dateline() -> None:
    g = LatLonGrid.parse("latlon:6,8:30,33,170,-170")
    assert (g.west, g.east) == (170.0, 190.0)
    assert g.lon_edges()[[0, 4, 8]].tolist() == [170.0, 180.0, 190.0]
    assert LatLonGrid.parse(g.spec) == g


@pytest.mark.parametrize(
    "spec",
    [
        "latlon:6:30,33,0,10",
        "grid:6,8:30,33,0,10",
        "latlon:6,8:33,30,0,10",
        "latlon:0,8:30,33,0,10",
    ],
)
def test_bad_spec_is_a_grid_error_quoting_it(spec: str) -> None:
    with pytest.raises(GridError, match="latlon|south|nlat"):
        LatLonGrid.parse(spec)


def test_global_grid_areas_sum_to_4pi() -> None:
    g = LatLonGrid.parse("latlon:180,360:-90,90,-180,180")
    assert g.is_global_lon
    assert abs(g.areas().sum() - 4 * math.pi) < 1e-13
    assert abs(g.cell_area_sr().sum() * g.nlon - 4 * math.pi) < 1e-13


def test_window_edges_are_bit_identical_to_the_parent() -> None:
    g = LatLonGrid.parse("latlon:2400,2400:30,50,10,30")
    w = g.window(241, 481, 719, 959)
    assert w.shape == (240, 240)
    assert np.array_equal(w.lat_edges(), g.lat_edges(241, 481))
    assert np.array_equal(w.lon_edges(), g.lon_edges(719, 959))
    assert np.array_equal(
        g.ids(241, 243, 719, 721),
        [241 * 2400 + 719, 241 * 2400 + 720, 242 * 2400 + 719, 242 * 2400 + 720],
    )


def test_nested_grids_share_exact_edges() -> None:
    fine = LatLonGrid.parse("latlon:1200,1200:30,40,10,20")
    coarse = LatLonGrid.parse("latlon:20,20:30,40,10,20")
    assert np.array_equal(fine.lat_edges()[::60], coarse.lat_edges())
    assert np.array_equal(fine.lon_edges()[::60], coarse.lon_edges())


@pytest.mark.parametrize("fmt", ["scrip", "domain"])
def test_written_grid_reads_back_as_the_same_latlon_grid(tmp_path: Path, fmt: str) -> None:
    g = LatLonGrid.parse("latlon:6,8:30,33,170,-170")
    mask = np.arange(g.size) % 3 != 0
    h = HostGrid.from_latlon(g, mask=mask, frac=np.full(g.size, 0.5))
    path = tmp_path / f"{fmt}.nc"
    (h.write_scrip if fmt == "scrip" else h.write_domain)(path)
    back = HostGrid.from_file(path)
    assert back.latlon == g
    assert back.dims == (6, 8)
    assert np.array_equal(back.mask, mask.astype(np.int32))
    assert np.allclose(back.area, g.areas().ravel(), rtol=1e-15, atol=0)
    if fmt == "domain":
        assert np.allclose(back.frac, 0.5)


def test_scrip_file_in_radians_is_converted(tmp_path: Path) -> None:
    g = LatLonGrid.parse("latlon:4,4:-10,10,0,20")
    h = HostGrid.from_latlon(g)
    path = tmp_path / "rad.nc"
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("grid_size", h.n)
        ds.createDimension("grid_corners", 4)
        ds.createDimension("grid_rank", 2)
        ds.createVariable("grid_dims", "i4", ("grid_rank",))[:] = [4, 4]
        for name, arr in (
            ("grid_center_lat", h.center_lat),
            ("grid_center_lon", h.center_lon),
            ("grid_corner_lat", h.corner_lat),
            ("grid_corner_lon", h.corner_lon),
        ):
            dims = ("grid_size",) if arr.ndim == 1 else ("grid_size", "grid_corners")
            v = ds.createVariable(name, "f8", dims)
            v.units = "radians"
            v[:] = np.deg2rad(arr)
    back = HostGrid.from_file(path)
    assert back.latlon == g
    # no grid_area: great-circle polygon area, within 1e-3 of the lat-lon area for 5° cells
    assert np.allclose(back.area, g.areas().ravel(), rtol=1e-3)


def test_grid_file_without_corners_names_the_file_and_variables(tmp_path: Path) -> None:
    path = tmp_path / "nocorners.nc"
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("grid_size", 4)
        ds.createVariable("grid_center_lat", "f8", ("grid_size",))[:] = 0.0
        ds.createVariable("grid_center_lon", "f8", ("grid_size",))[:] = 0.0
    with pytest.raises(GridError, match=r"nocorners\.nc.*grid_corner_lat, grid_corner_lon"):
        HostGrid.from_file(path)


def test_missing_and_unrecognised_grid_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(GridError, match="absent.nc' does not exist"):
        HostGrid.from_file(tmp_path / "absent.nc")
    other = tmp_path / "other.nc"
    with netCDF4.Dataset(other, "w") as ds:
        ds.createDimension("x", 1)
        ds.createVariable("t", "f8", ("x",))
    with pytest.raises(GridError, match="neither an E3SM domain file"):
        HostGrid.from_file(other)


def test_curvilinear_grid_is_not_taken_for_latlon() -> None:
    g = LatLonGrid.parse("latlon:4,4:0,20,0,20")
    h = HostGrid.from_latlon(g)
    h.corner_lat = h.corner_lat + 0.01 * np.arange(4)[None, :]  # skewed cells
    from coupler.grids.host import detect_latlon

    assert detect_latlon(h) is None


def test_failed_write_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "half.nc"
    with pytest.raises(RuntimeError, match="boom"), atomic_dataset(target) as ds:
        ds.createDimension("x", 3)
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
