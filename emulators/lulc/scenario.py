"""Land-use scenarios for the online step: the host's coarse fractions, year by year.

A host (or its driver) supplies LANDUSE_FRAC every model year; for demos and tests the
starting point is the MODIS map aggregated to the host cells, and the scenario moves a
share of every cell to cropland, taken from the other classes in proportion to their area
(water and snow/ice stay: cropland does not expand into lakes or glaciers).
"""

from __future__ import annotations

import numpy as np

from emulators.lulc.classes import LAND_USE
from emulators.lulc.features import N_LU, coarse_fractions, row_area_weights

CROP = LAND_USE.index("cropland")
FIXED = (LAND_USE.index("water"), LAND_USE.index("snow_ice"))


def host_fractions(land_use: np.ndarray, south: float, cell: int, deg: float = 0.05) -> np.ndarray:
    """(8, n_host) area-weighted class fractions of `cell`×`cell` host cells over a fine map
    (rows south → north from latitude `south`), host cells numbered row-major from the
    south-west (the lat-lon host grid's ids)."""
    weights = row_area_weights(south, land_use.shape[0], deg)
    return coarse_fractions(land_use, cell, N_LU, weights).reshape(N_LU, -1)


def raise_cropland(fractions: np.ndarray, delta: float) -> np.ndarray:
    """Fractions (8, ...) with cropland raised by `delta` (at most what the convertible
    classes hold), the convertible classes scaled down in proportion; sums stay 1."""
    out = np.array(fractions, dtype=np.float64, copy=True)
    convertible = [k for k in range(N_LU) if k != CROP and k not in FIXED]
    pool = out[convertible].sum(axis=0)
    add = np.minimum(delta, pool)
    out[convertible] *= np.where(pool > 0, (pool - add) / np.maximum(pool, 1e-300), 1.0)
    out[CROP] += add
    return out


def cropland_growth(base: np.ndarray, years: int, per_year: float) -> np.ndarray:
    """(years, 8, n) the scenario: year k raises cropland by k·per_year over `base`."""
    return np.stack([raise_cropland(base, k * per_year) for k in range(years)])
