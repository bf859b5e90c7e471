"""The factored (separable) lat-lon map behind `coupler.Regridder` and `Regridder.latlon`:
the materialised map's weights and sums bit for bit, O(nlat + nlon) storage, covered areas
from the 1-D factors that are more exact than summing the nonzeros."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from test_regrid_reference import CASES, case_mask

import coupler
from coupler.errors import FieldError, RegridError
from coupler.grids import LatLonGrid
from coupler.regrid import Regridder, SparseRemap
from coupler.regrid.overlaps import outer
from coupler.regrid.separable import SeparableMap, covered_areas
from coupler.regrid.weights import conservative_parts, latlon_weights, separable_map
from coupler.xgrid import grid_dataset

# 0.37° × 0.71° cells whose edges cut fine cells, the first row and column uncovered
OFFSET = ("latlon:240,240:30,32,10,12", "latlon:7,5:29.3,31.89,9.2,12.75")
PAIRS = [CASES[k][:2] for k in ("nested", "global", "dateline")] + [OFFSET]
METHODS = [
    ("conservative", "fracarea"),
    ("conservative", "dstarea"),
    ("conservative", "none"),
    ("bilinear", "fracarea"),
    ("nearest", "fracarea"),
]


@pytest.mark.parametrize("pair", PAIRS, ids=["nested", "global", "dateline", "offset"])
@pytest.mark.parametrize("method,normalization", METHODS)
def test_separable_map_is_the_materialised_map_bit_for_bit(
    pair: tuple[str, str], method: str, normalization: str
) -> None:
    src, dst = (LatLonGrid.parse(s) for s in pair)
    sep, frac_b = separable_map(src, dst, method, normalization)
    w = latlon_weights(src, dst, method, normalization=normalization)
    rows, cols, S = sep.nonzeros()
    assert np.array_equal(rows, w.rows) and np.array_equal(cols, w.cols)
    assert np.array_equal(S, w.S) and np.array_equal(frac_b, w.frac_b)
    assert sep.local_nnz == w.n_s
    stored = SparseRemap.local(w.rows, w.cols, w.S, w.n_a, w.n_b)
    x = np.random.default_rng(0).random((20, src.size)) - 0.3  # 20 fields: two groups of 16
    for fields in (x[0], x[:1], x[:2], x[:3], x):
        assert np.array_equal(sep.apply(fields), stored.apply(fields))


def test_unmasked_regridder_holds_only_the_1d_factors() -> None:
    src = LatLonGrid.parse("latlon:1200,1200:42,52,0,10")  # the benchmark's 1/120° tile
    dst = LatLonGrid.parse("latlon:20,20:42,52,0,10")
    reg = Regridder.latlon(src, dst)
    assert isinstance(reg.remap, SeparableMap)
    stored = reg.remap.local_nnz * (8 + 4 + 8)  # weight, int32 column, and more, per nonzero
    assert reg.remap.local_nnz == 1_440_000 and reg.remap.nbytes < stored / 400, reg.remap.nbytes
    masked = Regridder.latlon(src, dst, src_mask=np.ones(src.shape))
    assert isinstance(masked.remap, SparseRemap)  # masks drop nonzeros: materialised


@pytest.mark.parametrize("method", ["conservative", "bilinear"])
def test_factored_regridder_equals_the_materialised_one_in_every_mode(method: str) -> None:
    src, dst = (LatLonGrid.parse(s) for s in OFFSET)
    fast = Regridder.latlon(src, dst, method)
    slow = Regridder.from_whole_weights(latlon_weights(src, dst, method))
    x = np.random.default_rng(1).random((3, *src.shape))
    x[0, :7, :5] = np.nan
    assert np.array_equal(fast.covered, slow.covered)
    assert fast.covered.all() == (method == "bilinear")  # bilinear clamps at the edges
    np.testing.assert_array_equal(fast(x), slow(x))
    np.testing.assert_array_equal(fast(x, skipna=True), slow(x, skipna=True))
    np.testing.assert_array_equal(fast.coverage, slow.coverage)
    classes = np.arange(src.size).reshape(src.shape) % 3
    np.testing.assert_array_equal(
        fast.class_fractions(classes, range(3)), slow.class_fractions(classes, range(3))
    )


def test_xarray_regridder_materialises_weights_only_when_asked() -> None:
    src, dst = (LatLonGrid.parse(s) for s in CASES["nested"][:2])
    reg = coupler.Regridder(grid_dataset(src), grid_dataset(dst))
    assert reg._weights is None and "57600 weights" in repr(reg)
    w = reg.weights
    ref = latlon_weights(src, dst)
    assert np.array_equal(w.S, ref.S) and np.array_equal(w.frac_a, ref.frac_a)
    masked = coupler.Regridder(grid_dataset(src), grid_dataset(dst), src_mask=case_mask(src))
    assert masked.weights.n_s < ref.n_s


def test_covered_area_from_factors_is_more_exact_than_summed_nonzeros() -> None:
    """Against exact rational sums of the same double 1-D overlaps: (Σ P)(Σ Q) carries
    n_P + n_Q roundings, the sum of the n_P·n_Q products as many as it has terms."""
    src = LatLonGrid.parse("latlon:1200,1200:42,52,0,10")
    dst = LatLonGrid.parse("latlon:11,8:42,51.9,0,10")  # 0.9° × 1.25°: edges cut fine cells
    p, q = conservative_parts(src, dst)
    rows, _, area = outer(p, q, (0, dst.nlat), (0, dst.nlon), dst.nlon, src.nlon)
    summed = np.bincount(rows, area, dst.size)
    factored = covered_areas(p, q, (0, dst.nlat), dst.nlon)
    lat, lon = [Fraction(0)] * dst.nlat, [Fraction(0)] * dst.nlon
    for r, v in zip(p[0], p[2], strict=True):
        lat[r] += Fraction(float(v))
    for c, v in zip(q[0], q[2], strict=True):
        lon[c] += Fraction(float(v))
    exact = np.array([float(lat[k // dst.nlon] * lon[k % dst.nlon]) for k in range(dst.size)])
    err_summed = np.abs(summed / exact - 1).max()
    err_factored = np.abs(factored / exact - 1).max()
    n_p, n_q = np.bincount(p[0]).max(), np.bincount(q[0]).max()
    assert err_factored <= (n_p + n_q + 1) * np.finfo(float).eps / 2
    assert err_factored < err_summed / 10, (err_factored, err_summed)


def test_separable_apply_and_map_refuse_bad_input_naming_it() -> None:
    src, dst = (LatLonGrid.parse(s) for s in OFFSET)
    sep, _ = separable_map(src, dst)
    with pytest.raises(FieldError, match=r"remap source has shape \(3, 5\), expected"):
        sep.apply(np.zeros((3, 5)))
    with pytest.raises(RegridError, match="method 'cubic' is not one of"):
        separable_map(src, dst, "cubic")
    with pytest.raises(RegridError, match="normalization 'area' is not one of"):
        separable_map(src, dst, normalization="area")
    with pytest.raises(RegridError, match="dst_mask applies to conservative weights"):
        latlon_weights(src, dst, "bilinear", dst_mask=np.ones(dst.shape))
