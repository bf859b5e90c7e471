"""The static file of the online LAI step's 0.05° grid: phase one's (`landemu lulc-static`)
plus the static real vegetation the U-Net reads since v3, as ELM reads satellite phenology.

    landemu lai static --region S,N,W,E -o lai_static.nc [--cube run/data/lulc/cube.zarr]
    landemu lai static --add-to lc_static.nc      (adds the vegetation to an existing file)

Vegetation (features.VEGETATION, fractions, NaN where the source has no data): NDVI maximum
and minimum (bess-jpl, MODIS climatology) and fAPAR maximum (ptjpl), all on the global 0.05°
grid, cut at the file's cell centres (which must sit on that grid). Written to a temporary
file and renamed (never half-written).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import netCDF4
import numpy as np

from coupler.errors import DataFileError
from emulators.lai import target
from emulators.lai.features import VEGETATION
from emulators.lulc.dataset import DEG

SOURCES = {
    "ndvi_max": "NDVI maximum, bess-jpl NDVI_maximum.tif (MODIS climatology)",
    "ndvi_min": "NDVI minimum, bess-jpl NDVI_minimum.tif (MODIS climatology)",
    "fapar_max": "fAPAR maximum, ptjpl fAPARmax_mean_CMG_int16.tif",
}


def global_vegetation() -> dict[str, np.ndarray]:
    """The three global (3600, 7200) fields, rows south → north."""
    return {
        "ndvi_max": target.read_ndvi("maximum"),
        "ndvi_min": target.read_ndvi("minimum"),
        "fapar_max": target.read_fapar_max(),
    }


def grid_index(centres: np.ndarray, origin: float, n: int, name: str) -> np.ndarray:
    """Global 0.05° indices of cell centres; DataFileError if they are off that grid."""
    pos = (np.asarray(centres, np.float64) - origin) / DEG - 0.5
    idx = np.rint(pos).astype(np.int64)
    if np.abs(pos - idx).max() > 1e-3 or idx.min() < 0 or idx.max() >= n:
        raise DataFileError(
            f"static file: {name} centres are not on the global 0.05° grid "
            f"({centres[0]:.4f} … {centres[-1]:.4f}); the LAI vegetation needs that grid"
        )
    return idx


def vegetation_at(lat: np.ndarray, lon: np.ndarray, fields=None) -> dict[str, np.ndarray]:
    """The vegetation fields (lat.size, lon.size) at cell centres on the 0.05° grid."""
    fields = fields or global_vegetation()
    rows = grid_index(lat, -90.0, 3600, "lat")
    cols = grid_index(np.mod(np.asarray(lon) + 180.0, 360.0) - 180.0, -180.0, 7200, "lon")
    return {k: v[np.ix_(rows, cols)] for k, v in fields.items()}


def add_vegetation(path: Path, fields=None) -> Path:
    """Add (or replace) the vegetation variables of a static file, via a temporary copy."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"static file '{path}' not found")
    tmp = path.with_name(path.name + ".tmp")
    shutil.copyfile(path, tmp)
    try:
        with netCDF4.Dataset(tmp, "a") as ds:
            if "lat" not in ds.variables or "lon" not in ds.variables:
                raise DataFileError(f"static file '{path}' has no lat/lon coordinates")
            veg = vegetation_at(ds["lat"][:], ds["lon"][:], fields)
            for name in VEGETATION:
                v = ds.variables.get(name) or ds.createVariable(
                    name, "f4", ("lat", "lon"), fill_value=np.float32(np.nan)
                )
                v[:] = veg[name]
                v.units = "1"
                v.source = SOURCES[name]
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    return path


def write_static_file(cube, region: tuple[float, float, float, float], path: Path) -> Path:
    """Phase one's static file of `region` with the vegetation added, at `path`."""
    from emulators.lulc.staticfile import write_static_file as write_lulc_static

    path = Path(path)
    part = path.with_name(path.name + ".part")
    try:
        add_vegetation(write_lulc_static(cube, region, part))
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, path)
    return path
