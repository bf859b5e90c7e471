"""Land-use data: class tables, conservative coarse fractions, masking, split, input checks."""

import numpy as np
import pytest

from coupler.errors import FieldError
from emulators.lulc import classes, split
from emulators.lulc.features import (
    CHANNELS,
    N_CHANNELS,
    assemble,
    check_inputs,
    coarse_fractions,
    global_patch_mask,
    patch_mask,
    row_area_weights,
    static_channels,
    upsample,
)


def test_every_igbp_class_maps_to_one_land_use_and_one_land_cover_class():
    igbp = np.arange(17, dtype=np.uint8)
    assert classes.LU_FROM_IGBP[igbp].max() < len(classes.LAND_USE)
    assert classes.LC_FROM_IGBP[igbp].max() < len(classes.LAND_COVER)
    assert classes.LU_FROM_IGBP[255] == classes.IGNORE == classes.LC_FROM_IGBP[255]
    assert classes.LAND_USE[classes.LU_FROM_IGBP[12]] == "cropland"
    assert classes.LAND_COVER[classes.LC_FROM_IGBP[1]] == "evergreen_needleleaf_trees"
    ok = classes.compatible_lc_given_lu()
    assert ok.shape == (8, 11) and ok.any(axis=1).all() and ok.any(axis=0).all()


def test_coarse_fractions_conserve_class_area():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 8, size=(50, 75)).astype(np.uint8)
    labels[:3, :4] = classes.IGNORE
    w = row_area_weights(40.0, 50)
    frac = coarse_fractions(labels, 25, 8, w)
    assert frac.shape == (8, 2, 3)
    np.testing.assert_allclose(frac.sum(axis=0), 1.0, atol=1e-12)
    # area of class 3 in the first cell, from the fractions and directly
    cell = labels[:25, :25]
    area = (w[:25, None] * (cell != classes.IGNORE)).sum()
    direct = (w[:25, None] * (cell == 3)).sum() / area
    assert frac[3, 0, 0] == pytest.approx(direct, rel=1e-12)
    assert upsample(frac, 25).shape == (8, 50, 75)


def test_patch_mask_hides_the_requested_share_of_32px_patches():
    m = patch_mask(160, 160, 0.75, np.random.default_rng(1))
    assert m.mean() == pytest.approx(0.76, abs=1e-9)  # 19 of 25 patches
    assert np.all(m[:32, :32] == m[0, 0])


def test_split_tells_regions_that_overlap_training():
    assert split.overlaps_training(40, 50, 0, 10)  # a training block
    s, w = 0, -180 + 10 * 5  # block (9, 5): (9 + 10) % 5 == 4 -> training
    assert split.block_map()[(s + 90) // 10, (w + 180) // 10] == split.TRAIN
    test_block = next(
        (i, j) for i in range(18) for j in range(36) if split.block_map()[i, j] == split.TEST
    )
    south, west = -90 + 10 * test_block[0], -180 + 10 * test_block[1]
    assert not split.overlaps_training(south, south + 10, west, west + 10)
    assert split.overlaps_training(south, south + 10.05, west, west + 10)
    assert (split.block_map() == split.TEST).mean() == pytest.approx(0.2, abs=0.01)


def valid_input(h: int = 64, w: int = 64) -> np.ndarray:
    rng = np.random.default_rng(2)
    lu = rng.integers(0, 8, (h, w)).astype(np.uint8)
    lc = rng.integers(0, 11, (h, w)).astype(np.uint8)
    coarse = coarse_fractions(lu, 16, 8, row_area_weights(10.0, h))
    static = {
        "elevation": rng.uniform(0, 3000, (h, w)),
        "slope": rng.uniform(0, 10, (h, w)),
        "land_fraction": rng.uniform(0, 1, (h, w)),
        "koppen": rng.integers(0, 6, (h, w)).astype(np.uint8),
        "t_mean": rng.normal(10, 5, (h, w)),
        "t_range": rng.uniform(5, 40, (h, w)),
        "precip": rng.uniform(0, 3000, (h, w)),
    }
    hidden = patch_mask(h, w, 0.5, rng)
    return assemble(upsample(coarse, 16), lu, lc, hidden, static_channels(static, np.zeros(h)))


def test_valid_input_passes_and_has_the_documented_channels():
    x = valid_input()
    assert x.shape == (N_CHANNELS, 64, 64) == (len(CHANNELS), 64, 64)
    check_inputs(x)


def test_bad_inputs_are_named():
    x = valid_input()
    with pytest.raises(FieldError, match="must be \\(40, H, W\\)"):
        check_inputs(x[:39])
    y = x.copy()
    y[30, 5, 5] = np.nan
    with pytest.raises(FieldError, match="channel 30 \\(land_fraction\\) holds 1 NaN"):
        check_inputs(y)
    y = x.copy()
    y[1] += 0.1
    with pytest.raises(FieldError, match="must sum to 1.*off by 0.1"):
        check_inputs(y)
    with pytest.raises(FieldError, match="wrong channel order"):
        check_inputs(x[::-1].copy())
    y = x.copy()
    y[[27, 28]] = y[[28, 27]]
    with pytest.raises(FieldError, match="prior mask .* must be 0 or 1"):
        check_inputs(y)


def test_global_patch_mask_is_the_same_on_any_tile():
    whole = global_patch_mask(slice(0, 320), slice(0, 480), 0.5, seed=2030)
    tile = global_patch_mask(slice(70, 250), slice(100, 333), 0.5, seed=2030)
    np.testing.assert_array_equal(tile, whole[70:250, 100:333])
    assert 0.4 < whole.mean() < 0.6
    assert not np.array_equal(whole, global_patch_mask(slice(0, 320), slice(0, 480), 0.5, 2031))
