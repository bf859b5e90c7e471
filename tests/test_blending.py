"""Windowed CNN inference (coupler/blending.py): results independent of windows and tiles."""

import numpy as np
import pytest
from scipy.ndimage import uniform_filter

from coupler.blending import (
    Lattice,
    TileWindows,
    blend_windows,
    gaussian_weights,
    lattice_halo,
    predict_windows,
    required_halo,
    window_starts,
)
from coupler.errors import FieldError

RADIUS = 3


def box_filter(batch: np.ndarray) -> np.ndarray:
    """A local model of receptive radius RADIUS: mean over a (2R+1)² box, per channel."""
    return uniform_filter(
        batch.astype(np.float64), size=(1, 1, 2 * RADIUS + 1, 2 * RADIUS + 1), mode="mirror"
    )


def position_dependent(batch: np.ndarray) -> np.ndarray:
    """A model whose output depends on where a pixel sits in its window (not shift-invariant)."""
    ramp = np.linspace(0.0, 1.0, batch.shape[-1])
    return (
        batch[:, :1] * ramp[None, None, None, :] + batch.mean(axis=(1, 2, 3))[:, None, None, None]
    )


@pytest.fixture
def field() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(2, 70, 53)).astype(np.float32)


@pytest.mark.parametrize("window,overlap", [(16, 2), (32, 8), (48, 20)])
def test_windowed_box_filter_equals_whole_domain(field, window, overlap):
    whole = box_filter(field[None])[0]
    tiled = blend_windows(box_filter, field, window=window, margin=RADIUS, overlap=overlap)
    assert tiled.shape == (2, 70, 53)
    np.testing.assert_allclose(tiled, whole, atol=1e-6)


def test_too_small_margin_shows_edge_effects(field):
    """The test above can fail: a margin below the receptive radius gives wrong values."""
    whole = box_filter(field[None])[0]
    tiled = blend_windows(box_filter, field, window=16, margin=0, overlap=2, pad_mode="constant")
    assert np.abs(tiled - whole).max() > 0.05


def test_tile_with_halo_equals_whole_domain_bit_for_bit():
    """A tile plus a halo of one window, told its global origin, reproduces the whole run."""
    field = np.random.default_rng(1).normal(size=(2, 100, 90)).astype(np.float32)
    kw = dict(window=24, margin=4, overlap=6, batch_size=3)
    whole = blend_windows(position_dependent, field, **kw)
    halo = 24
    r0, r1, c0, c1 = 30, 50, 40, 61
    sub = field[:, r0 - halo : r1 + halo, c0 - halo : c1 + halo]
    tile = blend_windows(position_dependent, sub, origin=(r0 - halo, c0 - halo), **kw)
    np.testing.assert_array_equal(tile[:, halo:-halo, halo:-halo], whole[:, r0:r1, c0:c1])


def test_batch_size_does_not_change_result(field):
    a = blend_windows(box_filter, field, window=32, margin=4, overlap=8, batch_size=1)
    b = blend_windows(box_filter, field, window=32, margin=4, overlap=8, batch_size=7)
    np.testing.assert_array_equal(a, b)


def test_domain_smaller_than_window_is_padded():
    small = np.arange(2 * 5 * 7, dtype=np.float32).reshape(2, 5, 7)
    out = blend_windows(box_filter, small, window=32, margin=RADIUS, overlap=4)
    np.testing.assert_allclose(out, box_filter(small[None])[0], atol=1e-5)


def test_cores_cover_every_pixel_and_weights_peak_at_centre():
    starts = window_starts(100, origin=37, core=20, stride=14)
    covered = np.zeros(100, bool)
    for s in starts:
        covered[max(s, 0) : max(s + 20, 0)] = True
    assert covered.all()
    assert all((s + 37) % 14 == 0 for s in starts)
    w = gaussian_weights(9)
    assert w[4, 4] == 1.0 and w.min() > 0


def test_bad_inputs_name_the_problem(field):
    with pytest.raises(FieldError, match=r"\(C, H, W\)"):
        blend_windows(box_filter, field[0], window=16, margin=2, overlap=2)
    with pytest.raises(FieldError, match="no core"):
        blend_windows(box_filter, field, window=8, margin=4, overlap=0)
    with pytest.raises(FieldError, match="overlap 12"):
        blend_windows(box_filter, field, window=16, margin=2, overlap=12)
    with pytest.raises(FieldError, match="model returned shape"):
        blend_windows(lambda b: b[:, :, :-1], field, window=16, margin=2, overlap=2)


def test_interior_of_a_halo_field_equals_the_whole_domain_bit_for_bit():
    """halo=: only the tile's interior is computed, and it equals the whole-domain run
    (domain edges padded the way fine tiles pad them: edge cells repeated)."""
    field = np.random.default_rng(2).normal(size=(2, 60, 45)).astype(np.float32)
    kw = dict(window=20, margin=3, overlap=4, batch_size=2, pad_mode="edge")
    whole = blend_windows(position_dependent, field, **kw)
    halo = required_halo(20, 3)
    padded = np.pad(field, ((0, 0), (halo, halo), (halo, halo)), mode="edge")
    for r0, r1, c0, c1 in [(0, 23, 0, 17), (23, 60, 17, 45), (10, 31, 30, 45)]:
        sub = padded[:, r0 : r1 + 2 * halo, c0 : c1 + 2 * halo]
        tile = blend_windows(
            position_dependent, sub, origin=(r0 - halo, c0 - halo), halo=halo, **kw
        )
        assert tile.shape == (1, r1 - r0, c1 - c0)
        np.testing.assert_array_equal(tile, whole[:, r0:r1, c0:c1])
    with pytest.raises(FieldError, match="halo 30 leaves no interior"):
        blend_windows(position_dependent, field, halo=30, **kw)


def test_lattice_halo_is_the_margin_when_cores_line_up_with_tiles():
    assert lattice_halo(512, 256, 138, 5, 0) == 5
    assert lattice_halo(512, 256, 138, 5, 16) <= required_halo(138, 5)
    # brute force: the farthest window pixel from any tile of 50 on a 240 axis
    window, margin, overlap = 24, 2, 4
    core, stride = window - 2 * margin, window - 2 * margin - overlap
    worst = 0
    for t0 in range(0, 240, 50):
        n = min(50, 240 - t0)
        for s in window_starts(n, t0, core, stride):
            worst = max(worst, margin - s, s + core + margin - n)
    assert lattice_halo(240, 50, window, margin, overlap) == worst > margin


def test_a_window_two_tiles_touch_runs_once_with_a_shared_cache():
    field = np.random.default_rng(3).normal(size=(1, 64, 64)).astype(np.float32)
    kw = dict(window=16, margin=2, overlap=4, batch_size=3, pad_mode="edge")
    seen = []

    def counting(batch):
        seen.append(batch.shape[0])
        return position_dependent(batch)

    whole = blend_windows(counting, field, **kw)
    n_whole, seen[:] = sum(seen), []
    halo = lattice_halo(64, 32, 16, 2, 4)
    padded = np.pad(field, ((0, 0), (halo, halo), (halo, halo)), mode="edge")
    cache: dict = {}
    for r0 in (0, 32):
        for c0 in (0, 32):
            sub = padded[:, r0 : r0 + 32 + 2 * halo, c0 : c0 + 32 + 2 * halo]
            tile = blend_windows(
                counting, sub, origin=(r0 - halo, c0 - halo), halo=halo, cache=cache, **kw
            )
            np.testing.assert_array_equal(tile, whole[:, r0 : r0 + 32, c0 : c0 + 32])
    assert sum(seen) == n_whole == len(cache)


def test_tiles_predicted_together_equal_the_whole_domain_in_full_batches():
    field = np.random.default_rng(4).normal(size=(1, 64, 64)).astype(np.float32)
    kw = dict(window=16, margin=2, overlap=4)
    lattice = Lattice(**kw)
    whole = blend_windows(position_dependent, field, batch_size=3, pad_mode="edge", **kw)
    halo = lattice_halo(64, 32, 16, 2, 4)
    padded = np.pad(field, ((0, 0), (halo, halo), (halo, halo)), mode="edge")
    tiles = [
        TileWindows(
            padded[:, r0 : r0 + 32 + 2 * halo, c0 : c0 + 32 + 2 * halo],
            lattice,
            origin=(r0 - halo, c0 - halo),
            halo=halo,
            pad_mode="edge",
        )
        for r0 in (0, 32)
        for c0 in (0, 32)
    ]
    seen = []

    def counting(batch):
        seen.append(batch.shape[0])
        return position_dependent(batch)

    cores = predict_windows(counting, tiles, batch_size=3)
    assert len(cores) == 9 * 9  # cores of 12 every 8 px touching 0..63: k = -1..7 per axis
    assert seen == [3] * 27  # every window once, in calls of exactly batch_size
    assert list(cores) == sorted(cores)  # run in global lattice order
    for tile, (r0, c0) in zip(tiles, [(0, 0), (0, 32), (32, 0), (32, 32)], strict=True):
        np.testing.assert_array_equal(tile.blend(cores), whole[:, r0 : r0 + 32, c0 : c0 + 32])
