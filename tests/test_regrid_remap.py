"""SparseRemap, the C kernel and Regridder semantics on one rank (MPI runs: test_regrid_mpi)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from mpi4py import MPI

from coupler.errors import FieldError, RegridError
from coupler.grids import LatLonGrid
from coupler.kernels import ffi, lib
from coupler.regrid import (
    Regridder,
    SparseRemap,
    conservative_weights,
    interpolation_weights,
    lapse_rate_adjust,
    latlon_overlaps,
    window_ids,
)
from coupler.regrid.check import analytic_field

FINE = LatLonGrid.parse("latlon:120,120:30,32,10,12")
HOST = LatLonGrid.parse("latlon:5,4:29.5,32.5,9.5,12.5")
TILES = [(j, j + 40, i, i + 60) for j in range(0, 120, 40) for i in range(0, 120, 60)]


def test_smm_kernel_sums_rows_in_stored_order() -> None:
    ptr = np.array([0, 3, 3, 5], np.int64)
    idx = np.array([2, 0, 1, 1, 2], np.int32)
    w = np.array([1e16, 1.0, -1e16, 0.5, 0.25])
    x = np.array([[1.0, 1.0, 1.0], [2.0, 4.0, 8.0]])  # (nvar, n)
    y = np.empty((2, 3))
    lib.smm_apply(
        3,
        ffi.from_buffer("int64_t[]", ptr),
        ffi.from_buffer("int32_t[]", idx),
        ffi.from_buffer("double[]", w),
        2,
        ffi.from_buffer("double[]", x),
        1,
        3,
        ffi.from_buffer("double[]", y, require_writable=True),
        1,
        3,
    )
    # ((0 + 1e16) + 1) - 1e16 == 0 in this order (a different order would give 1)
    assert y[:, 0].tolist() == [0.0, ((8e16 + 2.0) - 4e16)]
    assert y[:, 1].tolist() == [0.0, 0.0]
    assert y[:, 2].tolist() == [0.75, 0.5 * 4 + 0.25 * 8]


@pytest.mark.parametrize("blocks", [False, True])
def test_sparse_remap_equals_scipy_product(blocks: bool) -> None:
    w = conservative_weights(FINE, HOST, normalization="dstarea")
    rng = np.random.default_rng(3)
    x = rng.random((4, FINE.size))
    ref = (sp.csr_matrix((w.S, (w.rows, w.cols)), shape=(HOST.size, FINE.size)) @ x.T).T
    src_ids = np.arange(FINE.size)
    blk = (src_ids // FINE.nlon) // 30 if blocks else None
    remap = SparseRemap.build(
        MPI.COMM_SELF, w.rows, w.cols, w.S, src_ids, np.arange(HOST.size), FINE.size, HOST.size, blk
    )
    y = remap.apply(x)
    assert y.shape == (4, HOST.size)
    assert np.abs(y / ref - 1.0).max() < 1e-14  # same products, another summation order
    assert remap.apply(x[0]).shape == (HOST.size,)


def test_remap_result_ignores_order_of_nonzeros_and_cells() -> None:
    w = conservative_weights(FINE, HOST)
    x = np.random.default_rng(4).random(FINE.size)
    a = SparseRemap.build(
        MPI.COMM_SELF,
        w.rows,
        w.cols,
        w.S,
        np.arange(FINE.size),
        np.arange(HOST.size),
        FINE.size,
        HOST.size,
    ).apply(x)
    p = np.random.default_rng(5).permutation(w.n_s)
    q = np.random.default_rng(6).permutation(FINE.size)
    b = SparseRemap.build(
        MPI.COMM_SELF, w.rows[p], w.cols[p], w.S[p], q, np.arange(HOST.size), FINE.size, HOST.size
    ).apply(x[q])
    assert np.array_equal(a, b)


def test_apply_with_wrong_shape_quotes_both_shapes() -> None:
    remap = SparseRemap.build(MPI.COMM_SELF, [0], [0], [1.0], [0, 1], [0], 2, 1)
    with pytest.raises(FieldError, match=r"shape \(3,\), expected \(nvar, 2\)"):
        remap.apply(np.zeros(3))


def test_build_rejects_out_of_range_ids_and_doubly_owned_cells() -> None:
    with pytest.raises(RegridError, match="cols contains id 5 outside"):
        SparseRemap.build(MPI.COMM_SELF, [0], [5], [1.0], [0], [0], 2, 1)
    with pytest.raises(RegridError, match="src id 1 is owned by ranks 0 and 0"):
        SparseRemap.build(MPI.COMM_SELF, [0], [1], [1.0], [1, 1], [0], 2, 1)


def test_tile_window_overlaps_equal_the_whole_grid_ones() -> None:
    rows, cols, area = latlon_overlaps(FINE, HOST)
    whole = sp.csr_matrix((area, (rows, cols)), shape=(HOST.size, FINE.size))
    parts = []
    for j0, j1, i0, i1 in TILES:
        win = FINE.window(j0, j1, i0, i1)
        r, c, a = latlon_overlaps(win, HOST)
        parts.append(
            sp.csr_matrix((a, (r, window_ids(c, win.nlon, j0, i0, FINE.nlon))), shape=whole.shape)
        )
    assert abs(sum(parts) - whole).max() == 0.0


def fine_field(k: int) -> np.ndarray:
    y, x = FINE.centres()
    return analytic_field(y, x, k)


def tiles_concat(field: np.ndarray) -> np.ndarray:
    f = field.reshape(FINE.shape)
    return np.concatenate([f[j0:j1, i0:i1].ravel() for j0, j1, i0, i1 in TILES])


@pytest.mark.parametrize("normalization", ["fracarea", "dstarea", "none"])
def test_tiles_to_host_matches_whole_grid_weights(normalization: str) -> None:
    reg = Regridder.tiles_to_host(
        MPI.COMM_SELF,
        FINE,
        TILES,
        HOST,
        np.arange(HOST.size),
        normalization=normalization,
        fill_value=-1.0,
    )
    w = conservative_weights(FINE, HOST, normalization=normalization)
    f = fine_field(8)
    got = reg(tiles_concat(f))
    expect = w.apply(f)
    live = w.frac_b > 0
    assert np.allclose(got[live], expect[live], rtol=1e-14, atol=0)
    assert np.all(got[~live] == -1.0)
    assert np.allclose(reg.frac_b, w.frac_b, rtol=1e-14, atol=1e-16)


def test_fracarea_keeps_constants_and_dstarea_scales_by_frac_b() -> None:
    c = np.full(FINE.size, 2.0)
    fr = Regridder.tiles_to_host(MPI.COMM_SELF, FINE, TILES, HOST, np.arange(HOST.size))
    da = Regridder.tiles_to_host(
        MPI.COMM_SELF, FINE, TILES, HOST, np.arange(HOST.size), normalization="dstarea"
    )
    yf, yd = fr(c), da(c)
    live = fr.covered
    assert np.abs(yf[live] - 2.0).max() < 1e-13
    assert np.abs(yd[live] - 2.0 * fr.frac_b[live]).max() < 1e-13
    assert np.isnan(yf[~live]).all()


def test_missing_values_are_renormalised_over_the_valid_part() -> None:
    reg = Regridder.latlon(FINE, HOST)
    f = np.full(FINE.shape, 3.0)
    f[:60, :] = -999.0  # southern half missing
    y = reg(f, missing_value=-999.0)
    assert y.shape == HOST.shape
    rows_south = HOST.lat_edges()[1:] <= 31.0
    assert np.all(y[rows_south] == -999.0)
    north = ~rows_south[:, None] & reg.covered.reshape(HOST.shape)
    assert north.sum() == 12
    assert np.abs(y[north] - 3.0).max() < 1e-13
    g = f.copy()
    g[g == -999.0] = np.nan
    assert np.allclose(reg(g, skipna=True)[~rows_south], y[~rows_south], equal_nan=True)


def test_source_mask_excludes_cells_and_sets_frac_b() -> None:
    mask = np.zeros(FINE.shape, int)
    mask[:, :60] = 1  # western half valid
    w = conservative_weights(FINE, HOST, src_mask=mask)
    reg = Regridder.latlon(FINE, HOST, src_mask=mask)
    f = np.where(mask == 1, 5.0, 1e30)
    y = reg(f).ravel()
    live = w.frac_b > 0
    assert np.abs(y[live] - 5.0).max() < 1e-13
    assert np.isnan(y[~live]).all()
    assert np.allclose(reg.coverage, 1.0 * live)


def test_categorical_field_maps_to_class_area_fractions() -> None:
    classes = np.zeros(FINE.shape, np.int32)
    classes[:, 60:] = 7
    classes[:30, :] = 255  # missing
    reg = Regridder.latlon(FINE, LatLonGrid.parse("latlon:1,1:30,32,10,12"))
    frac = reg.class_fractions(classes, [0, 7], missing=255)
    assert frac.shape == (2, 1, 1)
    assert abs(frac[:, 0, 0].sum() - 1.0) < 1e-13
    assert abs(frac[0, 0, 0] - 0.5) < 1e-14


def test_host_to_tiles_bilinear_reproduces_linear_fields_and_halos() -> None:
    host = LatLonGrid.parse("latlon:20,20:25,37,5,17")
    hy, hx = host.centres()
    f_host = 1.0 + 0.1 * hy - 0.05 * hx
    windows = [(0, 61, 0, 120), (59, 120, 0, 120)]  # overlapping halos
    reg = Regridder.host_to_tiles(MPI.COMM_SELF, host, np.arange(host.size), FINE, windows)
    y = reg(f_host)
    fy, fx = FINE.centres()
    expect = np.concatenate(
        [
            (1.0 + 0.1 * fy - 0.05 * fx).reshape(FINE.shape)[j0:j1, i0:i1].ravel()
            for j0, j1, i0, i1 in windows
        ]
    )
    assert y.shape == expect.shape
    assert np.abs(y - expect).max() < 1e-12


def test_nearest_takes_the_containing_cell() -> None:
    w = interpolation_weights(HOST, FINE, "nearest")
    fy, fx = FINE.centres()
    j = np.searchsorted(HOST.lat_edges(), fy) - 1
    i = np.searchsorted(HOST.lon_edges(), fx) - 1
    assert np.array_equal(w.cols, j * HOST.nlon + i)
    assert np.all(w.S == 1.0)


def test_global_bilinear_wraps_across_the_dateline() -> None:
    src = LatLonGrid.parse("latlon:18,36:-90,90,0,360")
    dst = LatLonGrid.parse("latlon:4,8:-10,10,175,-175")
    w = interpolation_weights(src, dst, "bilinear")
    _sy, sx = src.centres()
    _dy, dx = dst.centres()
    y = w.apply(np.cos(np.deg2rad(sx)))
    assert np.abs(y - np.cos(np.deg2rad(dx))).max() < 4e-3  # h²/8 for 10° spacing


def test_lapse_rate_adjust_moves_temperature_with_height() -> None:
    t = lapse_rate_adjust(np.array([288.0]), np.array([1000.0]), np.array([0.0]))
    assert t.tolist() == [281.5]


@pytest.mark.parametrize("masked", [False, True])
def test_class_fractions_kernel_gives_the_one_hot_remaps_bits(masked: bool) -> None:
    """The one-pass class kernel (fine → host PFT/land-unit fractions) equals the remap of
    the one-hot matrix bit for bit, with invalid codes (NaN, -1, 2.5, out of range)."""
    rng = np.random.default_rng(7)
    codes = rng.integers(0, 24, FINE.size).astype(np.float64)
    codes[rng.random(FINE.size) < 0.05] = rng.choice([np.nan, -1.0, 2.5, 24.0, 255.0])
    mask = (rng.random(FINE.size) < 0.8).astype(np.float64) if masked else None
    reg = Regridder.tiles_to_host(
        MPI.COMM_SELF, FINE, TILES, HOST, np.arange(HOST.size), src_mask=mask, fill_value=0.0
    )
    x = tiles_concat(codes)
    m = None if mask is None else tiles_concat(mask)
    onehot = (x[None, :] == np.arange(24)[:, None]).astype(np.float64)
    v = onehot.any(axis=0) * (1.0 if m is None else m)
    want = reg.remap.apply(np.concatenate([onehot * v, v[None, :]]))
    got = reg.remap.apply_class_sums(x, m, 24)
    assert got.shape == (25, HOST.size) and want[-1].max() > 0
    np.testing.assert_array_equal(got, want)
    frac = reg.class_fractions(x, range(24))
    assert np.abs(frac.sum(axis=0)[want[-1] > 0] - 1.0).max() < 1e-13


def test_tile_parts_are_remapped_where_they_lie_with_the_joined_arrays_bits() -> None:
    """Fine → host from per-tile arrays (no joined or masked copy) equals the remap of the
    joined array bit for bit; parts that split a tile fall back to joining them."""
    rng = np.random.default_rng(3)
    mask = (rng.random(FINE.size) < 0.7).astype(np.float64)
    reg = Regridder.tiles_to_host(
        MPI.COMM_SELF, FINE, TILES, HOST, np.arange(HOST.size), src_mask=tiles_concat(mask)
    )
    x = np.stack([tiles_concat(fine_field(k)) for k in range(19)])  # 19 fields: two groups
    want = reg(x)
    size = 40 * 60
    parts = [x[:, k * size : (k + 1) * size].copy() for k in range(len(TILES))]
    assert reg.plan_parts(np.arange(len(TILES) + 1) * size)
    got = reg.apply_parts(parts, 19)
    assert got.shape == (19, HOST.size) and np.isfinite(want).sum() > 19 * 10
    np.testing.assert_array_equal(got, want)
    halves = [p for a in parts for p in np.split(a, 2, axis=1)]
    assert not reg.plan_parts(np.arange(2 * len(TILES) + 1) * (size // 2))
    np.testing.assert_array_equal(reg.apply_parts(halves, 19), want)
