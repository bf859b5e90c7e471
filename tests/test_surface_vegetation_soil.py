"""SAI recursion over a year (hand-checked), canopy heights, soil layers and fill."""

import numpy as np
import pytest

from coupler.errors import DataFileError, FieldError
from emulators.surface.soil import (
    ELM_NODE_DEPTH_M,
    check_soil,
    fill_nearest,
    nearest_source_layer,
    synthetic_soil,
    to_elm_layers,
)
from emulators.surface.vegetation import SaiState, canopy_heights, sai_step, sai_year

GREEN_UP = np.array([1, 1, 2, 3, 4, 5, 5, 4, 3, 2, 1, 1], float)
LATE_DROP = np.array([0, 0, 0, 1, 2, 3, 4, 5, 6, 6, 6, 0], float)


def test_sai_recursion_over_a_year_by_hand():
    lai = np.stack([GREEN_UP, GREEN_UP, GREEN_UP], axis=1)  # temperate tree, crop, bare soil
    sai, state = sai_year(lai, np.array([7, 15, 0]))
    # natural: 0.5·SAI_prev + leaf loss, at least 1.0
    np.testing.assert_allclose(sai[:, 0], [1, 1, 1, 1, 1, 1, 1, 1.5, 1.75, 1.875, 1.9375, 1.0])
    # crop: no memory (α = 0), at least 0.1
    np.testing.assert_allclose(sai[:, 1], [0.1] * 7 + [1, 1, 1, 1, 0.1])
    assert np.all(sai[:, 2] == 0.0)
    np.testing.assert_allclose(state.sai, sai[11])
    np.testing.assert_allclose(state.lai, GREEN_UP[11])


def test_sai_state_carries_december_into_january():
    sai, state = sai_year(LATE_DROP[:, None], np.array([7]))
    # December loses 6 → 0.5·1 + 6 = 6.5; January keeps half of it, February a quarter
    assert sai[11, 0] == pytest.approx(6.5)
    np.testing.assert_allclose(sai[:3, 0], [3.25, 1.625, 1.0])
    # the next year from the carried state equals the spun-up year; a fresh state does not
    again, _ = sai_year(LATE_DROP[:, None], np.array([7]), state)
    np.testing.assert_allclose(again, sai)
    fresh = sai_step(LATE_DROP[0:1], np.array([7]), SaiState(np.zeros(1), np.ones(1)))
    assert fresh[0] == pytest.approx(1.0)


def test_canopy_heights_defaults_and_height_field():
    top, bot = canopy_heights(np.array([0, 2, 4, 10, 13, 15]))
    np.testing.assert_allclose(top, [0, 17, 35, 0.5, 0.5, 0.5])
    np.testing.assert_allclose(bot, [0, 8.5, 1, 0.1, 0.01, 0.01])
    top, bot = canopy_heights(np.array([7, 7, 0]), np.array([30.0, np.nan, 5.0]))
    np.testing.assert_allclose(top, [30.0, 20.0, 0.0])  # NaN → default, bare soil → 0
    np.testing.assert_allclose(bot, [30.0 * 11.5 / 20.0, 11.5, 0.0])
    with pytest.raises(FieldError, match="PFT indices must be 0..16"):
        canopy_heights(np.array([17]))


def test_soil_layers_by_nearest_depth():
    np.testing.assert_allclose(ELM_NODE_DEPTH_M[[0, 9]], [0.0071, 2.8647], atol=1e-4)
    assert nearest_source_layer().tolist() == [0, 0, 0, 1, 2, 3, 3, 4, 5, 5]
    src = np.arange(6.0)[:, None] * np.ones((6, 3))
    assert to_elm_layers(src)[:, 1].tolist() == [0, 0, 0, 1, 2, 3, 3, 4, 5, 5]
    with pytest.raises(FieldError, match="must have 6 layers"):
        to_elm_layers(np.zeros((5, 3)))


def test_soil_fill_over_water_takes_the_nearest_cell():
    field = np.array([[10.0, np.nan, np.nan, 40.0], [10.0, np.nan, np.nan, np.nan]])
    filled = fill_nearest(field)
    # row 1, col 2 is two steps from both 10 and 40: the first ring order (south) gives 40
    assert filled.tolist() == [[10, 10, 40, 40], [10, 10, 40, 40]]
    assert np.isnan(fill_nearest(np.full((2, 2), np.nan))).all()
    # only the needed cells (a lake, not the ocean beyond) must be filled
    row = np.array([[5.0, np.nan, np.nan, np.nan, np.nan]])
    part = fill_nearest(row, needed=np.array([[True, True, False, False, False]]))
    assert part[0, 1] == 5.0 and np.isnan(part[0, 4])


def test_soil_checks_name_the_culprit():
    soil = synthetic_soil((2, 2))
    check_soil(soil, "synthetic")
    assert soil["ORGANIC"][:, 0, 0].tolist() == [30, 20, 12, 6, 3, 1]
    wrong = dict(soil, PCT_CLAY=np.zeros((10, 2, 2)))
    with pytest.raises(DataFileError, match="'PCT_CLAY' has 10 layers"):
        check_soil(wrong, "soil file 'x.nc'")
    over = dict(soil, PCT_CLAY=np.full((6, 2, 2), 60.0))
    with pytest.raises(DataFileError, match="PCT_SAND \\+ PCT_CLAY exceeds 100"):
        check_soil(over, "soil file 'x.nc'")
