"""`landemu lai static`: the static file of the LAI step's 0.05° grid, cut from phase one's cube.

    landemu lai static --grid latlon:200,200:42,52,0,10 -o run/data/lai_static.nc

The U-Net reads what it was trained on: phase one's land use `lu` and land cover `lc` (the
IGBP-derived truth; an online phase-one step producing `lu`/`lc` on the same grid replaces
them), the MODIS IGBP class `land_cover`, the seven physical statics of
emulators/lulc/features.py (elevation, slope, land fraction, Köppen group, ERA5 annual
temperature mean and range, annual precipitation) and `landmask` (land fraction ≥ 0.5) for
the coupler's tiling. The grid must be whole 0.05° cells of the global grid (rows from 90°S,
columns from 180°W). Written to a temporary name, then renamed.
"""

from __future__ import annotations

import os
from pathlib import Path

import netCDF4
import numpy as np

from coupler.errors import DataFileError, GridError
from coupler.grids.latlon import LatLonGrid
from emulators.lulc.dataset import DEFAULT_CUBE, DEG, UNITS

FIELDS = (
    "lu",
    "lc",
    "land_cover",
    "elevation",
    "slope",
    "land_fraction",
    "koppen",
    "t_mean",
    "t_range",
    "precip",
)


def cube_window(grid: LatLonGrid) -> tuple[int, int, int, int]:
    """Global (row0, row1, col0, col1) of a grid made of whole 0.05° cube cells."""
    edges = [(grid.south + 90) / DEG, (grid.north + 90) / DEG]
    edges += [(grid.west + 180) / DEG, (grid.east + 180) / DEG]
    idx = [round(e) for e in edges]
    if (
        any(abs(e - i) > 1e-6 for e, i in zip(edges, idx, strict=True))
        or (
            idx[1] - idx[0],
            idx[3] - idx[2],
        )
        != grid.shape
    ):
        raise GridError(
            f"LAI static grid {grid.spec}: must be whole 0.05° cells of the global grid "
            "(edges on multiples of 0.05°, 20 cells per degree)"
        )
    if idx[0] < 0 or idx[1] > 3600 or idx[2] < 0 or idx[3] > 7200:
        raise GridError(f"LAI static grid {grid.spec}: outside the globe")
    return idx[0], idx[1], idx[2], idx[3]


def write_static(grid_spec: str, out: str | Path, cube: str | Path = DEFAULT_CUBE) -> Path:
    """Cut the LAI step's static fields for `grid_spec` from the cube into netCDF `out`."""
    import zarr

    grid = LatLonGrid.parse(grid_spec)
    r0, r1, c0, c1 = cube_window(grid)
    if not (Path(cube) / "manifest.json").is_file():
        raise DataFileError(
            f"land-use cube '{cube}' is missing; build it with "
            "`python -m emulators.lulc.dataset build`"
        )
    group = zarr.open_group(str(cube), mode="r")
    out = Path(out)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    try:
        with netCDF4.Dataset(tmp, "w") as ds:
            ds.title = "landemu LAI step static fields (0.05 deg), cut from phase one's cube"
            ds.grid = grid.spec
            ds.createDimension("lat", grid.nlat)
            ds.createDimension("lon", grid.nlon)
            ds.createDimension("nv", 2)
            for dim, lo, n in (("lat", grid.south, grid.nlat), ("lon", grid.west, grid.nlon)):
                edges = lo + DEG * np.arange(n + 1)
                v = ds.createVariable(dim, "f8", (dim,))
                v[:] = 0.5 * (edges[:-1] + edges[1:])
                v.bounds = f"{dim}_bnds"
                v.units = "degrees_north" if dim == "lat" else "degrees_east"
                ds.createVariable(f"{dim}_bnds", "f8", (dim, "nv"))[:] = np.stack(
                    [edges[:-1], edges[1:]], axis=1
                )
            for name in FIELDS:
                values = np.asarray(group[name][r0:r1, c0:c1])
                values = values.astype(values.dtype.newbyteorder("="))
                v = ds.createVariable(name, values.dtype, ("lat", "lon"), zlib=True, complevel=1)
                v[:] = values
                v.units = UNITS.get(name, "1")
                if name == "land_fraction":
                    mask = ds.createVariable("landmask", "u1", ("lat", "lon"), zlib=True)
                    mask[:] = (values >= 0.5).astype(np.uint8)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
