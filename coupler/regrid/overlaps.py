"""Exact cell overlaps of regular lat-lon grids: a longitude interval × a sin(latitude)
interval per cell pair, so first-order conservative weights are exact up to rounding.

Everything is separable: 1-D overlaps in latitude (P) and longitude (Q) are computed by a
merge of the edge lists (O(n_src_1d + n_dst_1d)), and the 2-D nonzeros are their outer product,
written by a C kernel in destination-major order. A tile window or a block of destination rows
costs only its own size — no global structure is ever built.
"""

from __future__ import annotations

import math

import numpy as np

from coupler.grids.latlon import LatLonGrid, sin_diff
from coupler.kernels import ffi, lib


def interval_overlaps(
    dst_edges: np.ndarray, src_edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Overlapping pairs of two increasing edge lists.

    Returns (dst_idx, src_idx, lo, hi): int64 cell indices and the overlap [lo, hi] of each
    pair with hi > lo, sorted by dst_idx then src_idx.
    """
    nd, ns = dst_edges.size - 1, src_edges.size - 1
    first = np.searchsorted(src_edges, dst_edges[:-1], side="right") - 1
    last = np.searchsorted(src_edges, dst_edges[1:], side="left") - 1
    first = np.clip(first, 0, ns - 1)
    last = np.clip(last, -1, ns - 1)
    count = np.maximum(last - first + 1, 0)
    d = np.repeat(np.arange(nd, dtype=np.int64), count)
    offs = np.arange(d.size, dtype=np.int64) - np.repeat(np.cumsum(count) - count, count)
    s = np.repeat(first, count) + offs
    lo = np.maximum(dst_edges[d], src_edges[s])
    hi = np.minimum(dst_edges[d + 1], src_edges[s + 1])
    keep = hi > lo
    return d[keep], s[keep], lo[keep], hi[keep]


def lat_overlaps(
    src: LatLonGrid, dst: LatLonGrid, j0: int = 0, j1: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Latitude part for destination rows j0..j1-1: (dst_row, src_row, sin φ_hi − sin φ_lo)."""
    d, s, lo, hi = interval_overlaps(dst.lat_edges(j0, j1), src.lat_edges())
    return d + j0, s, sin_diff(np.deg2rad(lo), np.deg2rad(hi))


def lon_overlaps(
    src: LatLonGrid, dst: LatLonGrid, i0: int = 0, i1: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Longitude part for destination columns i0..i1-1: (dst_col, src_col, width in radians).

    Longitudes are periodic: the source edges are tried shifted by every multiple of 360°
    that can meet the destination range, and pairs met twice (a global one-cell grid) summed.
    """
    de = dst.lon_edges(i0, i1)
    se = src.lon_edges()
    kmin = math.floor((de[0] - se[-1]) / 360.0)
    kmax = math.ceil((de[-1] - se[0]) / 360.0)
    parts = []
    for k in range(kmin, kmax + 1):
        shifted = se + 360.0 * k if k else se
        d, s, lo, hi = interval_overlaps(de, shifted)
        if d.size:
            parts.append((d, s, np.deg2rad(hi - lo)))
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    d = np.concatenate([p[0] for p in parts])
    s = np.concatenate([p[1] for p in parts])
    w = np.concatenate([p[2] for p in parts])
    order = np.lexsort((s, d))
    d, s, w = d[order], s[order], w[order]
    if d.size > 1:
        dup = (d[1:] == d[:-1]) & (s[1:] == s[:-1])
        if dup.any():
            start = np.flatnonzero(np.concatenate([[True], ~dup]))
            w = np.add.reduceat(w, start)
            d, s = d[start], s[start]
    return d + i0, s, w


Part = tuple[np.ndarray, np.ndarray, np.ndarray]


def outer(
    p: Part, q: Part, rows: tuple[int, int], cols: tuple[int, int], nlon_dst: int, nlon_src: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """2-D nonzeros (dst_id, src_id, value) of separable parts p (by dst row) and q (by dst col).

    p = (dst_row, src_row, value) sorted by dst_row; q likewise by dst_col; rows/cols: the
    destination row and column ranges [start, stop) covered. Output sorted by dst then src.
    """
    (pr, ps, pv), (qc, qs, qv) = p, q
    r0, r1 = rows
    c0, c1 = cols
    pptr = np.zeros(r1 - r0 + 1, np.int64)
    np.cumsum(np.bincount(pr - r0, minlength=r1 - r0), out=pptr[1:])
    qptr = np.zeros(c1 - c0 + 1, np.int64)
    np.cumsum(np.bincount(qc - c0, minlength=c1 - c0), out=qptr[1:])
    n = int(pr.size) * int(qc.size)
    out_d = np.empty(n, np.int64)
    out_s = np.empty(n, np.int64)
    out_v = np.empty(n, np.float64)
    ps = np.ascontiguousarray(ps, np.int64)
    qs = np.ascontiguousarray(qs, np.int64)
    pv = np.ascontiguousarray(pv, np.float64)
    qv = np.ascontiguousarray(qv, np.float64)

    def ptr(a: np.ndarray, t: str):
        return ffi.from_buffer(t, a)

    got = lib.remap_outer(
        r1 - r0,
        ptr(pptr, "int64_t[]"),
        ptr(ps, "int64_t[]"),
        ptr(pv, "double[]"),
        c1 - c0,
        ptr(qptr, "int64_t[]"),
        ptr(qs, "int64_t[]"),
        ptr(qv, "double[]"),
        r0,
        c0,
        nlon_dst,
        nlon_src,
        ptr(out_d, "int64_t[]"),
        ptr(out_s, "int64_t[]"),
        ptr(out_v, "double[]"),
    )
    assert got == n
    return out_d, out_s, out_v


def latlon_overlaps(
    src: LatLonGrid, dst: LatLonGrid, dst_rows: tuple[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact overlap areas of two lat-lon grids.

    Parameters
    ----------
    src, dst : the grids (ids 0-based within each: j*nlon + i, j from the south).
    dst_rows : optional (j0, j1): only destination rows j0..j1-1 (a row block).

    Returns
    -------
    dst_ids, src_ids : int64 (nnz,), sorted by dst id then src id.
    area_sr : float64 (nnz,) overlap areas in steradians (> 0).
    """
    j0, j1 = dst_rows if dst_rows is not None else (0, dst.nlat)
    p = lat_overlaps(src, dst, j0, j1)
    q = lon_overlaps(src, dst)
    return outer(p, q, (j0, j1), (0, dst.nlon), dst.nlon, src.nlon)


def window_ids(ids: np.ndarray, window_nlon: int, j0: int, i0: int, parent_nlon: int) -> np.ndarray:
    """Map ids of a window grid (rows from j0, columns from i0) to ids of its parent grid."""
    ids = np.asarray(ids, np.int64)
    return (ids // window_nlon + j0) * parent_nlon + (ids % window_nlon + i0)
