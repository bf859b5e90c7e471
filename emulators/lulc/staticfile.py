"""The static file of the online land-use step's 0.05° grid, cut from the cube.

    landemu lulc-static --region S,N,W,E -o lc_static.nc [--cube run/data/lulc/cube.zarr]

A grid entry `grids: {lc: {grid: "latlon:NLAT,NLON:S,N,W,E", static: lc_static.nc, ...}}`
needs, on the same cells: the physical static fields the U-Net reads
(features.STATIC_FIELDS), the MODIS land-use and land-cover codes (the prior of the first
model year: `land_use`, `land_cover`), and a `landmask` that is 1 everywhere — water is a
land-use class of the map, so every pixel is computed, and the host receives fractions
over all of the cell. Written to a temporary file and renamed (never half-written).
"""

from __future__ import annotations

import os
from pathlib import Path

import netCDF4
import numpy as np

from emulators.lulc.classes import IGNORE, LAND_COVER, LAND_USE
from emulators.lulc.dataset import DEG, Cube, lat_of_rows
from emulators.lulc.features import (
    N_LU,
    STATIC_FIELDS,
    coarse_fractions,
    row_area_weights,
    upsample,
)

UNITS = {
    "elevation": "m",
    "slope": "degree",
    "land_fraction": "1",
    "koppen": "1",
    "t_mean": "degC",
    "t_range": "K",
    "precip": "mm year-1",
}


def grid_string(region: tuple[float, float, float, float]) -> str:
    """The `latlon:NLAT,NLON:S,N,W,E` spec of the 0.05° grid over a region."""
    s, n, w, e = region
    return f"latlon:{round((n - s) / DEG)},{round((e - w) / DEG)}:{s:g},{n:g},{w:g},{e:g}"


def prior_maps(win: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The MODIS land-use and land-cover codes of a cube window, no-data pixels as water."""
    return (
        np.where(win["lu"] == IGNORE, LAND_USE.index("water"), win["lu"]),
        np.where(win["lc"] == IGNORE, LAND_COVER.index("water"), win["lc"]),
    )


def write_static_file(cube: Cube, region: tuple[float, float, float, float], path: Path) -> Path:
    """Cut `region` (S, N, W, E on the 0.05° grid) of the cube into a static file at `path`."""
    s, n, w, e = region
    r0, r1 = round((s + 90) / DEG), round((n + 90) / DEG)
    c0, c1 = round((w + 180) / DEG), round((e + 180) / DEG)
    win = cube.window(r0, r1, c0, c1)
    lat = s + (np.arange(r1 - r0) + 0.5) * DEG
    lon = w + (np.arange(c1 - c0) + 0.5) * DEG
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with netCDF4.Dataset(tmp, "w") as ds:
        ds.title = "static fields of the online land-use step's 0.05 deg grid (landemu)"
        ds.source = "emulators/lulc cube: MODIS MCD12C1 2019, ETOPO5, GLOBE, Koppen-Geiger, ERA5"
        ds.createDimension("lat", lat.size)
        ds.createDimension("lon", lon.size)
        ds.createDimension("nv", 2)
        for name, centres in (("lat", lat), ("lon", lon)):
            v = ds.createVariable(name, "f8", (name,))
            v[:] = centres
            v.bounds = f"{name}_bnds"
            v.units = "degrees_north" if name == "lat" else "degrees_east"
            b = ds.createVariable(f"{name}_bnds", "f8", (name, "nv"))
            b[:] = np.stack([centres - DEG / 2, centres + DEG / 2], axis=1)
        ds.createVariable("landmask", "u1", ("lat", "lon"))[:] = 1
        for name, codes, classes in zip(
            ("land_use", "land_cover"), prior_maps(win), (LAND_USE, LAND_COVER), strict=True
        ):
            v = ds.createVariable(name, "u1", ("lat", "lon"))
            v[:] = codes
            v.flag_meanings = " ".join(classes)
        for name in STATIC_FIELDS:
            v = ds.createVariable(name, "f4", ("lat", "lon"))
            v[:] = win[name].astype(np.float32)
            v.units = UNITS[name]
    os.replace(tmp, path)
    return path


def cube_inputs(cube: Cube, rows: slice, cols: slice, cell: int) -> dict:
    """`downscale_year`'s inputs for global cube rows/columns (a tile with its halo): the
    MODIS 2019 maps as the prior, the fractions of `cell`-pixel host cells on the global
    lattice (a host aggregated from the truth) over the fine pixels, static fields, lat."""
    r0, c0 = rows.start // cell * cell, cols.start // cell * cell
    r1, c1 = -(-rows.stop // cell) * cell, -(-cols.stop // cell) * cell
    big = cube.window(r0, r1, c0, c1)
    weights = row_area_weights(-90.0 + r0 * DEG, r1 - r0, DEG)
    fractions = upsample(coarse_fractions(big["lu"], cell, N_LU, weights), cell)
    inner = (slice(rows.start - r0, rows.stop - r0), slice(cols.start - c0, cols.stop - c0))
    return {
        "fractions": fractions[(slice(None), *inner)],
        "prior_lu": prior_maps(big)[0][inner],
        "prior_lc": prior_maps(big)[1][inner],
        "static": {name: big[name][inner] for name in STATIC_FIELDS},
        "lat": lat_of_rows(rows.start, rows.stop),
    }
