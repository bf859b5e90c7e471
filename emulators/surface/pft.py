"""Land cover → ELM land units and PFTs by the climate rules of seed 000 §2.1.

Input classes are the land-cover scheme the issue-9 U-Net predicts (emulators/lulc/classes.py,
MODIS LC_Type5-like, 11 classes): water, evergreen/deciduous × needleleaf/broadleaf trees,
shrub, grass, crop, urban, snow/ice, barren; 255 = no data (treated as not land). The rules
below are keyed by class *name*, so they follow that table; real MODIS IGBP (MCD12C1, the
static file's ``land_cover``) goes through the same table (`igbp_to_land_cover`).

Every fine cell gets one *surface class* (100 % of the cell, as seed 000 does at 1 km):
0..16 are ELM PFTs in pftvarcon order (0 bare soil and 1..14 in the natural-vegetation land
unit, 15/16 in the crop land unit), then lake, wetland, glacier and the three urban classes.

Climate rules (after Bonan et al. 2002, as summarised by seed 000 / Ke et al. 2012), from the
monthly mean temperature T_m (°C) and precipitation P_m (mm/month) of the cell:

* Tc = coldest-month mean, GDD5 = Σ_m max(T_m − 5, 0)·days_m (growing degree-days above 5 °C);
* needleleaf evergreen tree: boreal (2) if Tc ≤ −19 °C or GDD5 ≤ 1200, else temperate (1);
* needleleaf deciduous tree: boreal (3) — ELM has no other;
* broadleaf evergreen tree: tropical (4) if Tc > 15.5 °C, else temperate (5);
* broadleaf deciduous tree: tropical (6) if Tc > 15.5 °C, boreal (8) if Tc ≤ −15 °C or
  GDD5 ≤ 1200, else temperate (7);
* shrub: boreal (11) if Tc ≤ −19 °C or GDD5 ≤ 1200, else temperate (10). the scheme does not
  separate evergreen shrubs, so ELM's broadleaf evergreen shrub (9) is not produced;
* grass: arctic C3 (12) if GDD5 < 1000; otherwise C4 (14) by the Still et al. (2003) criterion
  — the C4 share is the fraction of growing-season months (weighted by monthly LAI when given,
  else months with T_m > 5 °C) that are warm and wet enough for C4 (T_m ≥ 22 °C and
  P_m ≥ 25 mm); the cell is C4 when that share is ≥ 0.5, else C3 non-arctic (13);
* crop → C3 crop (15), or irrigated C3 crop (16) where an optional irrigation mask says so
  (the scheme has one crop class: IGBP cannot split cereal from broadleaf crops);
* water → lake; snow/ice → glacier; barren → bare soil (PFT 0);
* urban → tall-building district / high density / medium density from an optional density
  map (1 TBD, 2 HD, 3 MD, Jackson et al. 2010 codes); without one every urban cell is medium
  density — J2010's most extensive class (a documented default, not a measured split).
Wetland is never produced from this scheme (as in seed 000); the class exists for user maps.
"""

from __future__ import annotations

import numpy as np

from coupler.errors import FieldError
from emulators.landmodel.params import CROP_PFTS as CROP_PFTS  # re-exported
from emulators.landmodel.params import PFT_NAMES as PFT_NAMES  # re-exported
from emulators.lulc.classes import IGNORE, LAND_COVER, LC_FROM_IGBP

# ELM PFTs in pftvarcon.F90 order: the host model's table (one list for host and translation)
N_PFT = len(PFT_NAMES)  # 17 = natpft = lsmpft
NATVEG_PFTS = tuple(range(15))  # bare soil + 14 natural PFTs

# surface classes beyond the PFTs
LAKE, WETLAND, GLACIER = 17, 18, 19
URBAN_TBD, URBAN_HD, URBAN_MD = 20, 21, 22
URBAN_CLASSES = (URBAN_TBD, URBAN_HD, URBAN_MD)
N_SURFACE_CLASSES = 23
NOT_LAND = -1

# the input scheme: code = index in the lulc engineer's LAND_COVER table
LAND_COVER_CODE: dict[str, int] = {name: k for k, name in enumerate(LAND_COVER)}
NODATA = IGNORE  # 255
# the classes whose PFT depends on climate
TREES_SHRUB_GRASS = tuple(n for n in LAND_COVER if n.endswith("_trees") or n in ("shrub", "grass"))

DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.float64)

TROPICAL_TC = 15.5  # °C, coldest month warmer than this: tropical
NEEDLELEAF_BOREAL_TC = -19.0  # °C
BROADLEAF_BOREAL_TC = -15.0  # °C
BOREAL_GDD = 1200.0  # degree-days above 5 °C
ARCTIC_GDD = 1000.0
C4_MIN_T = 22.0  # °C  (Still et al. 2003)
C4_MIN_P = 25.0  # mm/month
C4_SHARE = 0.5


def igbp_to_land_cover(igbp: np.ndarray) -> np.ndarray:
    """Translate IGBP class codes to the land-cover scheme (emulators/lulc's table)."""
    igbp = np.asarray(igbp)
    if _codes_in(igbp, _IGBP_CODES):
        return LC_FROM_IGBP[igbp]
    bad = np.setdiff1d(np.unique(igbp), [*range(17), NODATA])
    if bad.size:
        raise FieldError(f"IGBP land cover has codes {bad.tolist()} outside 0..16 and 255")
    return LC_FROM_IGBP[igbp.astype(np.int64)]


def _code_table(codes) -> np.ndarray:
    """[code] → whether code (0..255) is one of `codes`."""
    table = np.zeros(256, bool)
    table[list(codes)] = True
    return table


_IGBP_CODES = _code_table([*range(17), NODATA])
_SCHEME_CODES = _code_table([*LAND_COVER_CODE.values(), NODATA])
_VEGETATED_CODES = _code_table(LAND_COVER_CODE[n] for n in TREES_SHRUB_GRASS)


def _codes_in(codes: np.ndarray, table: np.ndarray) -> bool:
    """Whether every value is an integer code the table allows (the fast check by lookup;
    False sends the caller to the slow path, which names the bad codes)."""
    if codes.dtype.kind not in "iu" or codes.size == 0:
        return False
    return bool(codes.min() >= 0 and codes.max() < table.size and table[codes].all())


def growing_degree_days(t_monthly: np.ndarray, base: float = 5.0) -> np.ndarray:
    """GDD above `base` °C from monthly means (12, ...) in °C."""
    days = DAYS_IN_MONTH.reshape(12, *[1] * (np.ndim(t_monthly) - 1))
    return (np.maximum(np.asarray(t_monthly) - base, 0.0) * days).sum(axis=0)


def c4_share(
    t_monthly: np.ndarray, p_monthly: np.ndarray, lai_monthly: np.ndarray | None = None
) -> np.ndarray:
    """Still et al. (2003) C4 share of grass: weighted fraction of C4-favourable months.

    Weights are the monthly LAI when given, else 1 for months warmer than 5 °C. 0 where the
    weights are all zero.
    """
    t, p = np.asarray(t_monthly), np.asarray(p_monthly)
    weight = (t > 5.0).astype(np.float64) if lai_monthly is None else np.asarray(lai_monthly)
    favourable = (t >= C4_MIN_T) & (p >= C4_MIN_P)
    total = weight.sum(axis=0)
    share = np.where(favourable, weight, 0.0).sum(axis=0)
    return np.where(total > 0, share / np.where(total > 0, total, 1.0), 0.0)


def _check_inputs(land_cover: np.ndarray, t: np.ndarray, p: np.ndarray) -> None:
    codes_ok = _codes_in(land_cover, _SCHEME_CODES)
    bad = [] if codes_ok else np.setdiff1d(np.unique(land_cover), [*_SCHEME_CODES.nonzero()[0]])
    if len(bad):
        raise FieldError(
            f"land cover has class codes {bad.tolist()} outside the scheme "
            f"(0..{len(LAND_COVER) - 1} = {', '.join(LAND_COVER)}; 255 = no data)"
        )
    for name, arr in (("temperature", t), ("precipitation", p)):
        if arr.shape != (12, *land_cover.shape):
            raise FieldError(
                f"monthly {name} must have shape (12, {', '.join(map(str, land_cover.shape))}); "
                f"got {arr.shape}"
            )
    if codes_ok:
        vegetated = _VEGETATED_CODES[land_cover]
    else:
        vegetated = np.isin(land_cover, [LAND_COVER_CODE[n] for n in TREES_SHRUB_GRASS])
    missing = vegetated & ~(np.isfinite(t).all(axis=0) & np.isfinite(p).all(axis=0))
    if missing.any():
        where = np.argwhere(missing)[0].tolist()
        raise FieldError(
            f"the PFT climate rules need monthly temperature and precipitation, missing at "
            f"{int(missing.sum())} vegetated cells (first at index {where})"
        )


def landcover_to_surface_class(
    land_cover: np.ndarray,
    t_monthly_c: np.ndarray,
    p_monthly_mm: np.ndarray,
    *,
    lai_monthly: np.ndarray | None = None,
    urban_density: np.ndarray | None = None,
    irrigated: np.ndarray | None = None,
) -> np.ndarray:
    """Surface class (int16, NOT_LAND where no data) of every cell, by the module's rules.

    land_cover : (...) codes of the scheme; t_monthly_c (12, ...) °C; p_monthly_mm (12, ...)
    mm/month; lai_monthly (12, ...) optional Still weights; urban_density (...) 1 TBD / 2 HD /
    3 MD (other values: the default MD); irrigated (...) optional bool for crops.
    """
    land_cover = np.asarray(land_cover)
    t = np.asarray(t_monthly_c, dtype=np.float64)
    p = np.asarray(p_monthly_mm, dtype=np.float64)
    _check_inputs(land_cover, t, p)
    with np.errstate(invalid="ignore"):
        tc = t.min(axis=0)
        gdd = growing_degree_days(t)
        tropical = tc > TROPICAL_TC
        needle_boreal = (tc <= NEEDLELEAF_BOREAL_TC) | (gdd <= BOREAL_GDD)
        broad_boreal = (tc <= BROADLEAF_BOREAL_TC) | (gdd <= BOREAL_GDD)
        c4 = c4_share(t, p, lai_monthly) >= C4_SHARE
    bits = (needle_boreal, tropical, broad_boreal, gdd < ARCTIC_GDD, c4)
    flags = np.zeros(np.shape(tc), np.uint8)
    for k, bit in enumerate(bits):
        flags |= np.asarray(bit, np.uint8) << k
    urban = _urban_class(urban_density, land_cover.shape)
    if _codes_in(land_cover, _SCHEME_CODES):  # a lookup per cell: (code, climate) → class
        out = np.asarray(_CLASS_BY_CODE_AND_CLIMATE[land_cover, flags])
    else:  # the same classes for codes given as floats
        out = np.asarray(_CLASS_BY_CODE_AND_CLIMATE[land_cover.astype(np.intp), flags])
    overrides = {"urban": urban}
    if irrigated is not None:
        overrides["crop"] = np.where(np.asarray(irrigated), 16, 15)
    for name, value in overrides.items():
        sel = land_cover == LAND_COVER_CODE[name]
        out[sel] = np.broadcast_to(value, land_cover.shape)[sel]
    return out


def _class_table() -> np.ndarray:
    """[code, climate flags] → surface class by the module's rules, the flags being the bits
    needleleaf boreal (1), tropical (2), broadleaf boreal (4), arctic grass (8), C4 (16);
    NOT_LAND for codes outside the scheme (no data). Crops are 15, urban cells medium
    density (the optional maps override them)."""
    flags = np.arange(32)
    needle_boreal, tropical, broad_boreal = flags & 1 > 0, flags & 2 > 0, flags & 4 > 0
    arctic, c4 = flags & 8 > 0, flags & 16 > 0
    rules = {
        "water": LAKE,
        "evergreen_needleleaf_trees": np.where(needle_boreal, 2, 1),
        "evergreen_broadleaf_trees": np.where(tropical, 4, 5),
        "deciduous_needleleaf_trees": 3,
        "deciduous_broadleaf_trees": np.where(tropical, 6, np.where(broad_boreal, 8, 7)),
        "shrub": np.where(needle_boreal, 11, 10),
        "grass": np.where(arctic, 12, np.where(c4, 14, 13)),
        "crop": 15,
        "urban": URBAN_MD,
        "snow_ice": GLACIER,
        "barren": 0,
    }
    table = np.full((256, 32), NOT_LAND, np.int16)
    for name, value in rules.items():
        table[LAND_COVER_CODE[name]] = value
    return table


_CLASS_BY_CODE_AND_CLIMATE = _class_table()


def _urban_class(urban_density: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray | int:
    if urban_density is None:
        return URBAN_MD
    d = np.asarray(urban_density)
    if d.shape != shape:
        raise FieldError(f"urban density map has shape {d.shape}, land cover {shape}")
    return np.select([d == 1, d == 2], [URBAN_TBD, URBAN_HD], URBAN_MD)
