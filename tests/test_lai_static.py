"""`landemu lai static`: the online LAI step's static file gains NDVI max/min and fAPAR max
on the global 0.05° grid, atomically; a file or grid without them is refused by name."""

from __future__ import annotations

import netCDF4
import numpy as np
import pytest
from lai_online_setup import config, write_static
from mpi4py import MPI

from coupler.component import Component
from coupler.errors import ConfigError, DataFileError
from emulators.lai import target
from emulators.lai.features import VEGETATION
from emulators.lai.staticfile import add_vegetation, vegetation_at

ROWS, COLS = (3600, 7200)


def index_fields() -> dict[str, np.ndarray]:
    """Global fields whose values encode their own row / column (zero-copy views)."""
    row = np.broadcast_to((np.arange(ROWS, dtype=np.float32) * 1e-4)[:, None], (ROWS, COLS))
    col = np.broadcast_to(np.arange(COLS, dtype=np.float32) * 1e-4, (ROWS, COLS))
    return {"ndvi_max": row, "ndvi_min": col, "fapar_max": row}


def test_vegetation_is_cut_at_the_cells_of_the_global_grid():
    lat = np.array([44.025, 44.075])  # rows 2680, 2681 south → north
    lon = np.array([-179.975, 2.025, 359.975])  # columns 0, 3640, 3599 (= -0.025°E)
    veg = vegetation_at(lat, lon, index_fields())
    np.testing.assert_allclose(veg["ndvi_max"][:, 0], [0.2680, 0.2681], atol=1e-6)
    np.testing.assert_allclose(veg["ndvi_min"][0], [0.0, 0.3640, 0.3599], atol=1e-6)


def test_centres_off_the_global_grid_are_named():
    with pytest.raises(DataFileError, match="lat centres are not on the global 0.05° grid"):
        vegetation_at(np.array([44.01]), np.array([2.025]), index_fields())


def test_add_vegetation_writes_the_three_fields_and_leaves_no_temporary(tmp_path):
    path = write_static(tmp_path / "static.nc")
    with netCDF4.Dataset(path, "a") as ds:  # a phase-one file has none of them
        ds.renameVariable("ndvi_max", "old_ndvi_max")
    add_vegetation(path, index_fields())
    with netCDF4.Dataset(path) as ds:
        assert all(ds[k].shape == (48, 48) for k in VEGETATION)
        assert float(ds["ndvi_max"][0, 0]) == pytest.approx(0.2680, abs=1e-6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["static.nc"]


def test_a_missing_static_file_is_named(tmp_path):
    with pytest.raises(DataFileError, match="static file '.*nothere.nc' not found"):
        add_vegetation(tmp_path / "nothere.nc", index_fields())


def test_a_static_file_without_vegetation_is_a_config_error_naming_the_field(tmp_path):
    cfg = config(tmp_path)
    with netCDF4.Dataset(cfg.parent / "static.nc", "a") as ds:
        ds.renameVariable("fapar_max", "fapar")
    with pytest.raises(ConfigError, match="input fapar_max: not available"):
        Component(MPI.COMM_WORLD, cfg)


def test_the_real_vegetation_is_oriented_south_to_north():
    """Sahara (25°N, 10°E) bare, Congo basin (0.5°N, 20°E) green in both real files."""
    fields = {
        "ndvi_max": target.read_ndvi("maximum"),
        "ndvi_min": target.read_ndvi("minimum"),
        "fapar_max": target.read_fapar_max(),
    }
    veg = vegetation_at(np.array([25.025, 0.525]), np.array([10.025, 20.025]), fields)
    assert veg["ndvi_max"][0, 0] < 0.2 and veg["ndvi_max"][1, 1] > 0.75
    assert veg["fapar_max"][0, 0] < 0.25 and veg["fapar_max"][1, 1] > 0.55
