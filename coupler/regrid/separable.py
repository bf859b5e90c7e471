"""Separable maps between whole regular lat-lon grids, kept as their two 1-D factors.

Every unmasked lat-lon weight — conservative overlap, bilinear or nearest stencil — is a
latitude factor times a longitude factor over a per-destination normaliser:
S[(r, c), (R, C)] = P[r, R]·Q[c, C] / den[(r, c)]. Storing P, Q and den costs O(n_lat + n_lon
+ n_dst) instead of O(nnz) (1.44 M nonzeros for a 1/120° 10°×10° tile → 0.5°), so building
a serial regridder is a few 1-D sweeps; the C kernel forms each weight on the fly with the
operations the materialised map uses and sums in the same order, so results are bit for bit
those of `SparseRemap.local` on `nonzeros()`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from coupler.errors import FieldError, RegridError
from coupler.kernels import ffi, lib
from coupler.regrid.overlaps import Part, outer


def csr_pointers(index: np.ndarray, n: int) -> np.ndarray:
    """Start of each of the n groups of a sorted index array, and the end: (n + 1,) int64."""
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(index, minlength=n), out=ptr[1:])
    return ptr


def factor_sums(part: Part, n: int, by: int = 0) -> np.ndarray:
    """Σ value per destination (by=0) or source (by=1) index 0..n-1, summed in stored order."""
    return np.bincount(part[by], part[2], n)


def covered_areas(p: Part, q: Part, rows: tuple[int, int], ncol: int) -> np.ndarray:
    """Area of each destination cell of rows [j0, j1) covered by source cells, (rows·ncol,).

    (Σ P)(Σ Q): two 1-D sums and one product per cell instead of a sum of n_P·n_Q products,
    so its rounding bound is (n_P + n_Q)·ε rather than n_P·n_Q·ε.
    """
    j0, j1 = rows
    lat = np.bincount(p[0] - j0, p[2], j1 - j0)
    return np.outer(lat, factor_sums(q, ncol)).ravel()


@dataclass(frozen=True, eq=False)
class SeparableMap:
    """A whole-grid map dst = S·src with S = P ⊗ Q / den, applied without materialising S.

    p : (dst_row, src_row, value) sorted by dst_row then src_row; q likewise by columns.
    src_shape, dst_shape : (nlat, nlon) of the two grids. den : (n_dst,) normaliser.
    Quacks like a local `SparseRemap` (n_src_local, n_dst_local, apply) for `Regridder`.
    """

    p: Part
    q: Part
    src_shape: tuple[int, int]
    dst_shape: tuple[int, int]
    den: np.ndarray

    def __post_init__(self) -> None:
        (nr, nc), n_src_lon = self.dst_shape, self.src_shape[1]
        pr, ps, pv = (np.ascontiguousarray(a, t) for a, t in zip(self.p, _TYPES, strict=True))
        qc, qs, qv = (np.ascontiguousarray(a, t) for a, t in zip(self.q, _TYPES, strict=True))
        den = np.ascontiguousarray(self.den, np.float64)
        if den.shape != (nr * nc,):
            raise RegridError(f"den has shape {den.shape}, expected ({nr * nc},)")
        keep = (csr_pointers(pr, nr), ps, pv, csr_pointers(qc, nc), qs, qv, den)
        object.__setattr__(self, "_arrays", keep)
        object.__setattr__(self, "_n_src_lon", n_src_lon)

    @property
    def n_src_local(self) -> int:
        return int(np.prod(self.src_shape))

    @property
    def n_dst_local(self) -> int:
        return int(np.prod(self.dst_shape))

    @property
    def local_nnz(self) -> int:
        """Products per field: the materialised map's nonzeros (never stored), len(P)·len(Q)."""
        return int(self.p[0].size) * int(self.q[0].size)

    @property
    def nbytes(self) -> int:
        """Memory the map holds (its factors, pointers and normaliser)."""
        held = {id(a): a for a in (*self.p, *self.q, *self._arrays)}
        return sum(a.nbytes for a in held.values())

    def reached(self) -> np.ndarray:
        """True for each destination cell at least one source cell contributes to."""
        pptr, qptr = self._arrays[0], self._arrays[3]
        return np.outer(np.diff(pptr) > 0, np.diff(qptr) > 0).ravel()

    def nonzeros(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, cols, S) of the materialised map, destination-major, S = P·Q / den."""
        (nr, nc), nsl = self.dst_shape, self.src_shape[1]
        rows, cols, area = outer(self.p, self.q, (0, nr), (0, nc), nc, nsl)
        return rows, cols, area / self.den[rows]

    def apply(self, src: np.ndarray) -> np.ndarray:
        """src (nvar, n_src) or (n_src,) → (nvar, n_dst) or (n_dst,): `SparseRemap.apply`'s
        contract and bits; destinations without any contribution get 0."""
        x = np.asarray(src, dtype=np.float64)
        n_src, n_dst = self.n_src_local, self.n_dst_local
        if x.ndim not in (1, 2) or x.shape[-1] != n_src:
            raise FieldError(
                f"remap source has shape {x.shape}, expected (nvar, {n_src}) or ({n_src},)"
            )
        single = x.ndim == 1
        nvar = 1 if single else x.shape[0]
        x = np.ascontiguousarray(x.reshape(nvar, n_src))
        y = np.empty((nvar, n_dst))
        pptr, ps, pv, qptr, qs, qv, den = self._arrays
        buf = ffi.from_buffer
        lib.separable_apply(
            self.dst_shape[0],
            buf("int64_t[]", pptr),
            buf("int64_t[]", ps),
            buf("double[]", pv),
            self.dst_shape[1],
            buf("int64_t[]", qptr),
            buf("int64_t[]", qs),
            buf("double[]", qv),
            self._n_src_lon,
            buf("double[]", den),
            nvar,
            buf("double[]", x),
            n_src,
            buf("double[]", y, require_writable=True),
            n_dst,
        )
        return y[0] if single else y


_TYPES = (np.int64, np.int64, np.float64)
