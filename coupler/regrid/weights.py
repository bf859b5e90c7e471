"""Weight generators for regular lat-lon grids: first-order conservative (exact overlaps), and
bilinear / nearest for smooth host → fine fields. All return destination-major nonzeros.

`Weights` is a whole map as ESMF stores it (S, row, col, frac_a/b, area_a/b, masks); it is what
map files are written from and read into. The runtime, which never holds a global matrix, uses
the per-block functions (`latlon_overlaps`, `bilinear_nonzeros`, `nearest_nonzeros`) directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from coupler.errors import RegridError
from coupler.grids.latlon import LatLonGrid
from coupler.regrid.overlaps import Part, lat_overlaps, lon_overlaps, outer
from coupler.regrid.separable import SeparableMap, covered_areas, factor_sums

NORMALIZATIONS = ("fracarea", "dstarea", "none")
METHODS = ("conservative", "bilinear", "nearest")


@dataclass(eq=False)
class Weights:
    """A sparse map dst = S·src with ESMF semantics (ids 0-based here, 1-based in files).

    rows, cols : int64 (n_s,) destination / source ids; S : float64 (n_s,).
    area_a, frac_a, mask_a : (n_a,) source cell area (sr), participating fraction, mask.
    area_b, frac_b, mask_b : (n_b,) likewise for the destination.
    src_dims, dst_dims : logical grid shapes in C order (e.g. (nlat, nlon)).
    """

    n_a: int
    n_b: int
    rows: np.ndarray
    cols: np.ndarray
    S: np.ndarray
    area_a: np.ndarray
    area_b: np.ndarray
    frac_a: np.ndarray
    frac_b: np.ndarray
    mask_a: np.ndarray
    mask_b: np.ndarray
    src_dims: tuple[int, ...] = ()
    dst_dims: tuple[int, ...] = ()
    method: str = "conservative"
    normalization: str = "fracarea"
    attrs: dict = field(default_factory=dict)

    @property
    def n_s(self) -> int:
        return int(self.S.size)

    def apply(self, src: np.ndarray) -> np.ndarray:
        """Serial dst = S·src for src (..., n_a) → (..., n_b) (reference, not the hot path)."""
        src = np.asarray(src, np.float64)
        flat = src.reshape(-1, self.n_a)
        out = np.zeros((flat.shape[0], self.n_b))
        for k in range(flat.shape[0]):
            out[k] = np.bincount(self.rows, self.S * flat[k, self.cols], self.n_b)
        return out.reshape(*src.shape[:-1], self.n_b)

    def dense(self) -> np.ndarray:
        """Dense (n_b, n_a) matrix, for tests on small grids only."""
        m = np.zeros((self.n_b, self.n_a))
        np.add.at(m, (self.rows, self.cols), self.S)
        return m


def _check_norm(normalization: str) -> None:
    if normalization not in NORMALIZATIONS:
        raise RegridError(
            f"normalization '{normalization}' is not one of {', '.join(NORMALIZATIONS)}"
        )


def _mask(mask: np.ndarray | None, grid: LatLonGrid, what: str) -> np.ndarray:
    if mask is None:
        return np.ones(grid.size, np.int32)
    m = np.asarray(mask)
    if m.size != grid.size:
        raise RegridError(f"{what} has {m.size} values, expected {grid.size} ({grid.shape})")
    return (m.reshape(grid.size) != 0).astype(np.int32)


def normalize(
    rows: np.ndarray, area: np.ndarray, area_b: np.ndarray, frac_b: np.ndarray, normalization: str
) -> np.ndarray:
    """Weights from overlap areas (sr).

    none → the areas; dstarea → area / area_b; fracarea → area / (area_b·frac_b).
    """
    _check_norm(normalization)
    if normalization == "none":
        return area.copy()
    if normalization == "dstarea":
        return area / area_b[rows]
    return area / (area_b * frac_b)[rows]  # the same products, formed once per row


def conservative_parts(src: LatLonGrid, dst: LatLonGrid) -> tuple[Part, Part]:
    """The 1-D factors of the exact overlaps: latitude (sin φ widths), longitude (radians)."""
    return lat_overlaps(src, dst), lon_overlaps(src, dst)


def source_fractions(p: Part, q: Part, src: LatLonGrid, area_a: np.ndarray) -> np.ndarray:
    """frac_a of an unmasked separable map: (Σ P per source row)(Σ Q per source column)/area."""
    covered = np.outer(factor_sums(p, src.nlat, by=1), factor_sums(q, src.nlon, by=1))
    return covered.ravel() / area_a


def conservative_weights(
    src: LatLonGrid,
    dst: LatLonGrid,
    *,
    src_mask: np.ndarray | None = None,
    dst_mask: np.ndarray | None = None,
    normalization: str = "fracarea",
) -> Weights:
    """First-order conservative map between lat-lon grids with ESMF frac_a/frac_b semantics.

    Masked cells (mask 0) take no part: their nonzeros are dropped; frac_b is the fraction of a
    destination cell covered by unmasked source cells, frac_a the fraction of a source cell
    covered by unmasked destination cells. src_mask (src.shape or (n_a,)), dst_mask likewise.
    Without masks the fractions come from the 1-D factors (`covered_areas`), as the
    `SeparableMap` of `separable_map` has them, so both give the same S bit for bit.
    """
    _check_norm(normalization)
    ma, mb = _mask(src_mask, src, "src_mask"), _mask(dst_mask, dst, "dst_mask")
    p, q = conservative_parts(src, dst)
    rows, cols, area = outer(p, q, (0, dst.nlat), (0, dst.nlon), dst.nlon, src.nlon)
    area_a, area_b = src.areas().ravel(), dst.areas().ravel()
    if src_mask is not None or dst_mask is not None:
        keep = (ma[cols] != 0) & (mb[rows] != 0)
        rows, cols, area = rows[keep], cols[keep], area[keep]
        frac_b = np.bincount(rows, area, dst.size) / area_b
        frac_a = np.bincount(cols, area, src.size) / area_a
    else:
        frac_b = covered_areas(p, q, (0, dst.nlat), dst.nlon) / area_b
        frac_a = source_fractions(p, q, src, area_a)
    S = normalize(rows, area, area_b, frac_b, normalization)
    return Weights(
        src.size,
        dst.size,
        rows,
        cols,
        S,
        area_a,
        area_b,
        frac_a,
        frac_b,
        ma,
        mb,
        src.shape,
        dst.shape,
        "conservative",
        normalization,
    )


# -- host → fine interpolation (lat-lon source) -------------------------------------------------


def _linear_1d(
    src_centres: np.ndarray, x: np.ndarray, period: float | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Linear interpolation stencil on 1-D centres: (point index, source index, weight).

    Periodic when `period` is given (global longitudes); otherwise clamped at the ends (the
    nearest centre gets weight 1). Output sorted by point then source index.
    """
    n = src_centres.size
    npt = x.size
    pts = np.arange(npt, dtype=np.int64)
    if n == 1:
        return pts, np.zeros(npt, np.int64), np.ones(npt)
    if period is not None:
        c0 = src_centres[0]
        xr = c0 + (x - c0) % period
        k = np.searchsorted(src_centres, xr, side="right") - 1  # 0..n-1
        nxt = (k + 1) % n
        x1 = np.where(k + 1 < n, src_centres[np.minimum(k + 1, n - 1)], c0 + period)
        t = (xr - src_centres[k]) / (x1 - src_centres[k])
    else:
        k = np.clip(np.searchsorted(src_centres, x, side="right") - 1, 0, n - 2)
        nxt = k + 1
        t = np.clip((x - src_centres[k]) / (src_centres[nxt] - src_centres[k]), 0.0, 1.0)
    i = np.concatenate([pts, pts])
    s = np.concatenate([k, nxt])
    w = np.concatenate([1.0 - t, t])
    keep = w > 0.0
    i, s, w = i[keep], s[keep], w[keep]
    order = np.lexsort((s, i))
    return i[order], s[order], w[order]


def _lon_relative(src: LatLonGrid, x: np.ndarray) -> np.ndarray:
    """Destination longitudes shifted by multiples of 360° into [west, west + 360)."""
    return src.west + (x - src.west) % 360.0


def bilinear_parts(src: LatLonGrid, dst: LatLonGrid, j0: int = 0, j1: int | None = None):
    """1-D factors of the bilinear stencil for destination rows j0..j1-1 (see outer)."""
    j1 = dst.nlat if j1 is None else j1
    p = _linear_1d(src.lat_centres(), dst.lat_centres(j0, j1), None)
    period = 360.0 if src.is_global_lon else None
    x = dst.lon_centres()
    x = _lon_relative(src, x) if period else _nearest_branch(src, x)
    q = _linear_1d(src.lon_centres(), x, period)
    return (p[0] + j0, p[1], p[2]), q


def bilinear_nonzeros(
    src: LatLonGrid, dst: LatLonGrid, dst_rows: tuple[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear (in lat, lon) weights from src cell centres to dst cell centres.

    Returns (dst_ids, src_ids, w): ≤ 4 nonzeros per destination, rows summing to 1, sorted by
    destination then source; points outside the source centres are clamped (or wrap for a
    global source). dst_rows limits to destination rows j0..j1-1.
    """
    j0, j1 = dst_rows if dst_rows is not None else (0, dst.nlat)
    p, q = bilinear_parts(src, dst, j0, j1)
    return outer(p, q, (j0, j1), (0, dst.nlon), dst.nlon, src.nlon)


def _nearest_branch(src: LatLonGrid, x: np.ndarray) -> np.ndarray:
    """Shift longitudes by ±360° to the branch closest to a regional source's span."""
    mid = 0.5 * (src.west + src.east)
    return mid + (x - mid + 180.0) % 360.0 - 180.0


def nearest_parts(src: LatLonGrid, dst: LatLonGrid, j0: int = 0, j1: int | None = None):
    """1-D factors of the nearest-neighbour stencil for destination rows j0..j1-1."""
    j1 = dst.nlat if j1 is None else j1
    y = dst.lat_centres(j0, j1)
    js = np.clip(np.searchsorted(src.lat_edges(), y, side="right") - 1, 0, src.nlat - 1)
    x = dst.lon_centres()
    x = _lon_relative(src, x) if src.is_global_lon else _nearest_branch(src, x)
    is_ = np.clip(np.searchsorted(src.lon_edges(), x, side="right") - 1, 0, src.nlon - 1)
    p = (np.arange(j0, j1, dtype=np.int64), js.astype(np.int64), np.ones(j1 - j0))
    q = (np.arange(dst.nlon, dtype=np.int64), is_.astype(np.int64), np.ones(dst.nlon))
    return p, q


def nearest_nonzeros(
    src: LatLonGrid, dst: LatLonGrid, dst_rows: tuple[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest-neighbour weights: each dst centre takes the src cell containing it (clamped to
    the nearest edge cell outside a regional source). Returns (dst_ids, src_ids, ones)."""
    j0, j1 = dst_rows if dst_rows is not None else (0, dst.nlat)
    p, q = nearest_parts(src, dst, j0, j1)
    return outer(p, q, (j0, j1), (0, dst.nlon), dst.nlon, src.nlon)


def interpolation_parts(src: LatLonGrid, dst: LatLonGrid, method: str) -> tuple[Part, Part]:
    """The 1-D factors of a whole bilinear or nearest map."""
    if method == "bilinear":
        return bilinear_parts(src, dst)
    if method == "nearest":
        return nearest_parts(src, dst)
    raise RegridError(f"interpolation method '{method}' is not one of bilinear, nearest")


def interpolation_weights(src: LatLonGrid, dst: LatLonGrid, method: str) -> Weights:
    """A bilinear or nearest map as `Weights` (frac_b = 1 everywhere, areas from the grids)."""
    p, q = interpolation_parts(src, dst, method)
    rows, cols, S = outer(p, q, (0, dst.nlat), (0, dst.nlon), dst.nlon, src.nlon)
    area_a, area_b = src.areas().ravel(), dst.areas().ravel()
    frac_b = covered_areas(p, q, (0, dst.nlat), dst.nlon)
    frac_a = np.minimum(source_fractions(p, q, src, np.ones(src.size)), 1.0)
    ones_a, ones_b = np.ones(src.size, np.int32), np.ones(dst.size, np.int32)
    return Weights(
        src.size,
        dst.size,
        rows,
        cols,
        S,
        area_a,
        area_b,
        frac_a,
        frac_b,
        ones_a,
        ones_b,
        src.shape,
        dst.shape,
        method,
        "none",
    )


def _check_method(method: str, dst_mask: np.ndarray | None) -> None:
    if method not in METHODS:
        raise RegridError(f"method '{method}' is not one of {', '.join(METHODS)}")
    if method != "conservative" and dst_mask is not None:
        raise RegridError(f"dst_mask applies to conservative weights, not '{method}'")


def latlon_weights(
    src: LatLonGrid,
    dst: LatLonGrid,
    method: str = "conservative",
    *,
    normalization: str = "fracarea",
    src_mask: np.ndarray | None = None,
    dst_mask: np.ndarray | None = None,
) -> Weights:
    """A whole map between lat-lon grids by `method` (one of METHODS); masks as in
    conservative_weights (dst_mask: conservative only)."""
    _check_method(method, dst_mask)
    if method == "conservative":
        return conservative_weights(
            src, dst, src_mask=src_mask, dst_mask=dst_mask, normalization=normalization
        )
    return interpolation_weights(src, dst, method)


def separable_map(
    src: LatLonGrid,
    dst: LatLonGrid,
    method: str = "conservative",
    normalization: str = "fracarea",
) -> tuple[SeparableMap, np.ndarray]:
    """The unmasked map of `latlon_weights` kept as its 1-D factors, and its frac_b.

    Same weights bit for bit (`SeparableMap.nonzeros()` equals latlon_weights' rows, cols,
    S), in O(nlat + nlon) work and memory instead of O(nnz).
    """
    _check_method(method, None)
    if method != "conservative":
        p, q = interpolation_parts(src, dst, method)
        frac_b = covered_areas(p, q, (0, dst.nlat), dst.nlon)
        return SeparableMap(p, q, src.shape, dst.shape, np.ones(dst.size)), frac_b
    _check_norm(normalization)
    p, q = conservative_parts(src, dst)
    area_b = dst.areas().ravel()
    frac_b = covered_areas(p, q, (0, dst.nlat), dst.nlon) / area_b
    if normalization == "fracarea":
        den = area_b * frac_b
    else:
        den = area_b if normalization == "dstarea" else np.ones(dst.size)
    return SeparableMap(p, q, src.shape, dst.shape, den), frac_b
