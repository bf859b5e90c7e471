"""The real static maps on the global 0.05° MODIS grid (3600 × 7200, rows south → north).

Why: the land-use U-Net trains on MODIS IGBP land cover at its native 0.05° (the only real
land-cover year offline), so the other static maps are brought to that grid:

* land_cover — MCD12C1 2019 IGBP class (0 water … 16 barren, 255 no data), as stored;
* koppen — Köppen–Geiger main group (1–5, 0 no data) of the 30″ cell at the centre of each
  0.05° cell (its row 3 and column 3 of 6), i.e. nearest neighbour;
* land_fraction — share of the 36 30″ cells of each 0.05° cell that global-land-mask
  calls land, streamed from the 1 GB mask in blocks of 240 rows.

Readers and source checks come from emulators/data/static_fine.py.
"""

from __future__ import annotations

import numpy as np

from emulators.data.static_fine import (
    GLOBAL_NLAT,
    GLOBAL_NLON,
    MODIS_RATIO,
    LandMaskStream,
    StripGeoTiff,
    source_paths,
)

NLAT = GLOBAL_NLAT // MODIS_RATIO  # 3600
NLON = GLOBAL_NLON // MODIS_RATIO  # 7200
DEG = 0.05


def latitudes() -> np.ndarray:
    """Cell-centre latitudes (°N), south → north."""
    return -90.0 + (np.arange(NLAT) + 0.5) * DEG


def longitudes() -> np.ndarray:
    """Cell-centre longitudes (°E), from 180°W."""
    return -180.0 + (np.arange(NLON) + 0.5) * DEG


def modis_land_cover() -> np.ndarray:
    """IGBP class uint8 (3600, 7200), rows south → north."""
    lc = StripGeoTiff(source_paths()["land_cover"], DEG)
    try:
        return np.ascontiguousarray(lc.rows(0, NLAT)[::-1])
    finally:
        lc.close()


def koppen_centres() -> np.ndarray:
    """Köppen–Geiger group uint8 (3600, 7200) of the 30″ cell at each 0.05° cell's centre."""
    kg = StripGeoTiff(source_paths()["koppen"], 1.0 / 120)
    try:
        rows = np.stack(
            [
                kg.rows(r, r + 1)[0, MODIS_RATIO // 2 :: MODIS_RATIO]
                for r in range(MODIS_RATIO // 2, GLOBAL_NLAT, MODIS_RATIO)
            ]
        )
    finally:
        kg.close()
    return np.ascontiguousarray(rows[::-1])


def land_fraction(block_rows: int = 240) -> np.ndarray:
    """Land share float32 (3600, 7200) of each 0.05° cell from the 30″ GLOBE land mask."""
    mask = LandMaskStream(source_paths()["landmask"])
    out = np.empty((NLAT, NLON), dtype=np.float32)
    try:
        for r0 in range(0, GLOBAL_NLAT, block_rows):
            ocean = mask.read(r0, r0 + block_rows)
            land = (~ocean).reshape(block_rows // MODIS_RATIO, MODIS_RATIO, NLON, MODIS_RATIO)
            out[r0 // MODIS_RATIO : (r0 + block_rows) // MODIS_RATIO] = land.mean(
                axis=(1, 3), dtype=np.float32
            )
    finally:
        mask.close()
    return np.ascontiguousarray(out[::-1])
