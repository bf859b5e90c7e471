"""Land cover → ELM land units and PFTs: one hand-checked case per climate rule."""

import numpy as np
import pytest

from coupler.errors import FieldError
from emulators.surface.pft import (
    GLACIER,
    LAKE,
    LAND_COVER,
    LAND_COVER_CODE,
    NOT_LAND,
    URBAN_HD,
    URBAN_MD,
    URBAN_TBD,
    c4_share,
    growing_degree_days,
    igbp_to_land_cover,
    landcover_to_surface_class,
)

C = LAND_COVER_CODE

# monthly climates (°C, mm/month), January first
BOREAL_T = np.array([-25, -22, -14, -3, 6, 13, 16, 14, 7, -2, -13, -21], float)
TEMPERATE_T = np.array([2, 3, 7, 11, 15, 19, 21, 21, 17, 12, 7, 3], float)
TROPICAL_WET_T = np.full(12, 27.0)
SAVANNA_T = np.array([24, 25, 26, 27, 28, 27, 25, 24, 24, 25, 25, 24], float)
TUNDRA_T = np.array([-28, -28, -25, -17, -6, 3, 8, 6, 0, -10, -20, -25], float)
WET_P = np.full(12, 120.0)


def classify(codes, temps, precs=None, **kw):
    codes = np.asarray(codes)
    temps = np.asarray(temps, float).T.reshape(12, *codes.shape)
    precs = (
        np.broadcast_to(WET_P.reshape(12, *[1] * codes.ndim), temps.shape)
        if precs is None
        else precs
    )
    return landcover_to_surface_class(codes, temps, np.array(precs, float), **kw)


def test_degree_days_of_the_temperate_climate_by_hand():
    # Mar 2·31 + Apr 6·30 + May 10·31 + Jun 14·30 + Jul 16·31 + Aug 16·31 + Sep 12·30
    # + Oct 7·31 + Nov 2·30 = 2601 degree-days above 5 °C
    assert growing_degree_days(TEMPERATE_T) == pytest.approx(2601.0)


def test_trees_split_by_climate():
    # needleleaf evergreen: boreal (Tc -25 °C) → 2, temperate → 1; broadleaf evergreen tropical → 4
    got = classify(
        [1, 1, 2, 2, 4, 4, 4, 3],
        [
            BOREAL_T,
            TEMPERATE_T,
            TROPICAL_WET_T,
            TEMPERATE_T,
            TROPICAL_WET_T,
            TEMPERATE_T,
            BOREAL_T,
            BOREAL_T,
        ],
    )
    assert got.tolist() == [2, 1, 4, 5, 6, 7, 8, 3]


def test_shrubs_and_grasses_split_by_climate():
    got = classify([5, 5, 6, 6, 6], [BOREAL_T, TEMPERATE_T, TUNDRA_T, TEMPERATE_T, TROPICAL_WET_T])
    # boreal shrub, temperate shrub, arctic C3 grass, C3 grass, C4 grass in a hot wet climate
    assert got.tolist() == [11, 10, 12, 13, 14]


def test_c4_share_still_criterion_dry_season_and_lai_weights():
    # 6 wet and 6 dry months (< 25 mm) at 26 °C: half the months favour C4
    p = np.array([150.0] * 6 + [5.0] * 6)
    assert c4_share(SAVANNA_T, p) == pytest.approx(0.5)
    # LAI concentrated in the wet months: share 0.75 / 1.0 → C4; in dry months → C3
    lai_wet = np.array([3.0] * 6 + [1.0] * 6)
    assert c4_share(SAVANNA_T, p, lai_wet) == pytest.approx(18 / 24)
    got = classify(
        [6, 6],
        [SAVANNA_T, SAVANNA_T],
        np.stack([p, p], axis=1),
        lai_monthly=np.stack([lai_wet, lai_wet[::-1]], axis=1),
    )
    assert got.tolist() == [14, 13]


def test_non_vegetated_classes_and_crops():
    names = ["water", "snow_ice", "barren", "crop", "crop", None, "crop"]
    codes = [C[n] if n else 255 for n in names]
    got = classify(codes, [TEMPERATE_T] * 7, irrigated=np.array([0, 0, 0, 0, 1, 0, 0], bool))
    assert got.tolist() == [LAKE, GLACIER, 0, 15, 16, NOT_LAND, 15]


def test_urban_split_from_density_map_and_default():
    codes = [C["urban"]] * 4
    got = classify(codes, [TEMPERATE_T] * 4, urban_density=np.array([1, 2, 3, 0]))
    assert got.tolist() == [URBAN_TBD, URBAN_HD, URBAN_MD, URBAN_MD]
    assert classify(codes, [TEMPERATE_T] * 4).tolist() == [URBAN_MD] * 4


def test_igbp_goes_through_the_lulc_table():
    got = [LAND_COVER[k] for k in igbp_to_land_cover(np.arange(17))]
    assert got[5] == got[8] == "deciduous_broadleaf_trees"  # mixed forest, woody savanna
    assert got[11] == "grass" and got[14] == "crop" and got[16] == "barren"
    with pytest.raises(FieldError, match=r"codes \[17\]"):
        igbp_to_land_cover(np.array([3, 17]))


def test_bad_class_codes_and_missing_climate_are_named():
    with pytest.raises(FieldError, match=r"class codes \[11, 40\] outside the scheme \(0..10 ="):
        classify([1, 11, 40], [TEMPERATE_T] * 3)
    temps = np.stack([TEMPERATE_T, TEMPERATE_T], axis=1)
    temps[3, 1] = np.nan
    with pytest.raises(FieldError, match="missing at 1 vegetated cells"):
        landcover_to_surface_class(
            np.array([C["barren"], C["grass"]]), temps, np.full((12, 2), 50.0)
        )
    # a lake does not need climate
    ok = landcover_to_surface_class(
        np.array([0]), np.full((12, 1), np.nan), np.full((12, 1), np.nan)
    )
    assert ok.tolist() == [LAKE]
    with pytest.raises(FieldError, match=r"shape \(12, 2\)"):
        landcover_to_surface_class(np.array([1, 1]), np.zeros((11, 2)), np.zeros((12, 2)))
