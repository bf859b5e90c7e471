"""The LAI U-Net's input channels (pure numpy), built one way for training, evaluation and the
online step. Channel order (43 channels, C × H × W, float32):

  0–7    land use, one-hot (truth in training, phase-one prediction at evaluation/online)
  8–18   land cover, one-hot
  19     monthly mean 2 m temperature / 20 °C
  20     log1p(monthly precipitation in mm) / 7
  21     shortwave proxy: daily-mean top-of-atmosphere insolation at mid-month / 500 W m⁻²
  22     soil-moisture proxy: log1p(precipitation memory in mm/day) / 3, the memory being
         0.5·P(m) + 0.3·P(m−1) + 0.2·P(m−2) (online: the host's soil moisture mapped to the
         same scale is the contract's job; in training no soil moisture grid installs)
  23     CO2: (ppm − 390) / 100 (one climatology: the channel is constant 0 in training)
  24     previous month's LAI / 8, 0 where masked
  25     prior mask: 1 where the prior is hidden (32×32 patches)
  26–37  the phase-one static channels (emulators/lulc/features.py static_channels)
  38–40  static real vegetation (v3): NDVI maximum, NDVI minimum (bess-jpl, MODIS
         climatology, 0.05°) and fAPAR maximum (ptjpl), 0 where missing — like ELM's
         satellite-phenology inputs, a static file online (`landemu lai static`). The
         SEMI-EMPIRICAL target's amplitude is computed from the same NDVI (target.py)
  41     day length at mid-month / 24 h (the photoperiod of the target's GSI timing)
  42     the month's growing-season index iTmin·iPhoto·iWater from its T, P and day length
         (target.py `gsi_of_month`; the target's timing divides it by the year's maximum)

The list only grows at its end: a model exported with fewer channels (v2: 38) reads the
leading ones (infer.OnnxLai), so older models are scored on the same inputs.
"""

from __future__ import annotations

import math

import numpy as np

from coupler.errors import FieldError
from emulators.lai.target import gsi_of_month, mid_month_day_length
from emulators.lulc.classes import LAND_COVER, LAND_USE
from emulators.lulc.features import CHANNELS as LULC_CHANNELS
from emulators.lulc.features import N_LC, N_LU, STATIC, one_hot

VEGETATION = ("ndvi_max", "ndvi_min", "fapar_max")  # static fields of `landemu lai static`
CLIMATE = ("t_month", "log_precip_month", "toa_shortwave", "soil_moisture_proxy", "co2")
CHANNELS: tuple[str, ...] = (
    *(f"lu_{n}" for n in LAND_USE),
    *(f"lc_{n}" for n in LAND_COVER),
    *CLIMATE,
    "prior_lai",
    "prior_mask",
    *LULC_CHANNELS[STATIC],
    *VEGETATION,
    "day_length",
    "gsi_month",
)
N_CHANNELS = len(CHANNELS)
LU, LC = slice(0, N_LU), slice(N_LU, N_LU + N_LC)
T, P, SW, SM, CO2 = range(N_LU + N_LC, N_LU + N_LC + 5)
PRIOR, MASK = CO2 + 1, CO2 + 2
N_CHANNELS_V2 = 38  # the channels of the models before the vegetation ones (v1, v2, joint)
VEG = slice(N_CHANNELS_V2, N_CHANNELS_V2 + len(VEGETATION))
DAY_LENGTH, GSI = VEG.stop, VEG.stop + 1
LAI_SCALE = 8.0
LAI_RANGE = (0.0, 12.0)  # m² m⁻²: a prior outside is an error
CO2_REFERENCE = 390.0
SOLAR_CONSTANT = 1361.0
MID_MONTH_DOY = (15, 46, 74, 105, 135, 166, 196, 227, 258, 288, 319, 349)
MEMORY_WEIGHTS = (0.5, 0.3, 0.2)
DAYS_PER_MONTH = 30.4


def toa_shortwave(lat_deg: np.ndarray, month: int) -> np.ndarray:
    """Daily-mean top-of-atmosphere insolation (W m⁻²) at mid-month (month 0–11), (H,)."""
    doy = MID_MONTH_DOY[month]
    decl = math.radians(23.44) * math.sin(2 * math.pi * (284 + doy) / 365.0)
    ecc = 1.0 + 0.033 * math.cos(2 * math.pi * doy / 365.0)
    phi = np.deg2rad(np.asarray(lat_deg, np.float64))
    h0 = np.arccos(np.clip(-np.tan(phi) * math.tan(decl), -1.0, 1.0))
    q = (
        SOLAR_CONSTANT
        / math.pi
        * ecc
        * (h0 * np.sin(phi) * math.sin(decl) + np.cos(phi) * math.cos(decl) * np.sin(h0))
    )
    return np.maximum(q, 0.0)


def precipitation_memory(p_mm_month: np.ndarray, month: int) -> np.ndarray:
    """0.5·P(m) + 0.3·P(m−1) + 0.2·P(m−2) in mm/day from 12 months of P (12, H, W)."""
    return sum(w * p_mm_month[(month - k) % 12] for k, w in enumerate(MEMORY_WEIGHTS)) / (
        DAYS_PER_MONTH
    )


def check_climate(t_c: np.ndarray, p_mm_month: np.ndarray) -> None:
    """12 months of finite T (°C) and P (mm/month ≥ 0), else FieldError naming the month."""
    for name, v in (("temperature", t_c), ("precipitation", p_mm_month)):
        if v.ndim != 3 or v.shape[0] != 12:
            raise FieldError(
                f"monthly {name} must hold 12 months (12, H, W), got shape {v.shape} — "
                "a missing month of climate?"
            )
        bad = ~np.isfinite(v).reshape(12, -1).all(axis=1)
        if bad.any():
            raise FieldError(f"monthly {name} of month {int(np.argmax(bad)) + 1} holds NaN/inf")
    if np.nanmin(p_mm_month) < 0:
        raise FieldError("monthly precipitation must be >= 0 mm/month")
    if np.abs(t_c).max() > 80:
        raise FieldError(
            f"monthly temperature must be in °C; found |T| up to {np.abs(t_c).max():.1f} "
            "(Kelvin passed?)"
        )


def check_prior(prior: np.ndarray) -> None:
    """The previous month's LAI must be finite and within LAI_RANGE (m² m⁻²)."""
    if not np.isfinite(prior).all():
        raise FieldError(f"prior LAI holds {int((~np.isfinite(prior)).sum())} NaN/inf values")
    lo, hi = float(prior.min()), float(prior.max())
    if lo < LAI_RANGE[0] or hi > LAI_RANGE[1]:
        raise FieldError(
            f"prior LAI must lie in {list(LAI_RANGE)} m2 m-2, found [{lo:.3g}, {hi:.3g}]"
        )


def assemble(
    lu: np.ndarray,
    lc: np.ndarray,
    t_c: np.ndarray,
    p_mm_month: np.ndarray,
    month: int,
    lat: np.ndarray,
    prior: np.ndarray,
    hidden: np.ndarray,
    static: np.ndarray,
    vegetation: np.ndarray,
    co2_ppm: float = CO2_REFERENCE,
) -> np.ndarray:
    """The (43, H, W) float32 input for month `month` (0–11) from land use/cover labels (H, W),
    12 months of climate (12, H, W), row latitudes (H,), the previous month's LAI (H, W; NaN
    where unknown, treated as hidden), the hidden-patch mask (H, W), the 12 static channels
    and the 3 vegetation channels (`vegetation_channels`)."""
    check_climate(t_c, p_mm_month)
    return assemble_month(
        lu,
        lc,
        t_c[month],
        p_mm_month[month],
        precipitation_memory(p_mm_month, month),
        toa_shortwave(lat, month)[:, None],
        mid_month_day_length(lat, month)[:, None],
        prior,
        hidden,
        static,
        vegetation,
        co2_ppm,
    )


def assemble_month(
    lu: np.ndarray,
    lc: np.ndarray,
    t_c: np.ndarray,
    p_mm: np.ndarray,
    memory_mm_day: np.ndarray,
    toa_w_m2: np.ndarray,
    day_length_h: np.ndarray,
    prior: np.ndarray,
    hidden: np.ndarray,
    static: np.ndarray,
    vegetation: np.ndarray,
    co2_ppm: float = CO2_REFERENCE,
) -> np.ndarray:
    """The (43, H, W) input of one month from that month's fields (H, W): temperature (°C),
    precipitation (mm/month), precipitation memory (mm/day), insolation (W m⁻²) and day
    length (h) (both broadcast to (H, W)); the prior, hidden mask, statics and vegetation as
    in `assemble` (used online, where only the months the step has seen exist)."""
    unknown = ~np.isfinite(prior)
    prior = np.where(unknown, 0.0, prior)
    check_prior(prior)
    hidden = hidden | unknown
    h, w = lu.shape
    climate = np.empty((5, h, w), np.float32)
    climate[0] = t_c / 20.0
    climate[1] = np.log1p(p_mm) / 7.0
    climate[2] = toa_w_m2 / 500.0
    climate[3] = np.log1p(memory_mm_day) / 3.0
    climate[4] = (co2_ppm - CO2_REFERENCE) / 100.0
    keep = (~hidden).astype(np.float32)
    timing = np.empty((2, h, w), np.float32)
    timing[0] = day_length_h / 24.0
    timing[1] = gsi_of_month(t_c, p_mm, day_length_h)
    return np.concatenate(
        [
            one_hot(lu, N_LU),
            one_hot(lc, N_LC),
            climate,
            (prior / LAI_SCALE * keep)[None].astype(np.float32),
            hidden[None].astype(np.float32),
            static.astype(np.float32),
            vegetation.astype(np.float32),
            timing,
        ]
    )


def vegetation_channels(fields: dict[str, np.ndarray]) -> np.ndarray:
    """The 3 static vegetation channels (3, H, W) from NDVI maximum/minimum and fAPAR maximum
    (fractions, NaN = no data → 0); FieldError naming a missing or out-of-range field (e.g.
    fAPAR still as the file's int16 × 1e-4)."""
    missing = [k for k in VEGETATION if k not in fields]
    if missing:
        raise FieldError(
            f"static vegetation fields missing: {missing} (need {list(VEGETATION)}; "
            "write the static file with `landemu lai static`)"
        )
    out = np.stack([np.asarray(fields[k], np.float32) for k in VEGETATION])
    for name, v in zip(VEGETATION, out, strict=True):
        finite = v[np.isfinite(v)]
        if finite.size and (finite.min() < -1.0 or finite.max() > 1.0):
            raise FieldError(
                f"static field '{name}' must lie in [-1, 1], found "
                f"[{finite.min():.3g}, {finite.max():.3g}]"
            )
    return np.nan_to_num(out, nan=0.0)
