"""Parallel sparse remapping dst(row) += S·src(col) with a router built once (MCT/ESMF pattern).

Build (collective) finds, through rendezvous directories spread cyclically over the ranks
(so no rank ever holds a global array), which rank owns each source cell and which ranks want each
destination cell. Nonzeros are moved to the owner of their source cell. Apply then does

  1. on each source owner, one sparse product per *send slot* (C kernel):
     with `src_block` (e.g. fine tiles) a slot is a partial sum over one block for one
     destination row; without, a slot is a single source value;
  2. one MPI alltoallv carrying all fields at once (term-major message buffers);
  3. on each requesting rank, a second sparse product summing, per destination, its
     contributions in a fixed order (by block id, or by source id), starting from 0.

Every destination value is therefore the same sequence of floating-point operations whatever
the number of ranks or the distribution of nonzeros: results are bit-for-bit reproducible.
"""

from __future__ import annotations

import numpy as np
from mpi4py import MPI

from coupler.errors import FieldError, RegridError
from coupler.kernels import ffi, lib

_MPI_TYPE = {
    np.dtype(np.int64): MPI.INT64_T,
    np.dtype(np.float64): MPI.DOUBLE,
    np.dtype(np.int32): MPI.INT32_T,
}


# -- small collective helpers ---------------------------------------------------------------


def _counts_displs(counts: np.ndarray) -> tuple[list[int], list[int]]:
    displs = np.zeros_like(counts)
    np.cumsum(counts[:-1], out=displs[1:])
    return counts.tolist(), displs.tolist()


def exchange(comm: MPI.Comm, dest: np.ndarray, *arrays: np.ndarray) -> list[np.ndarray]:
    """Send element k of every array to rank dest[k]; return the received arrays.

    Received elements come ordered by sender rank, then in each sender's original order.
    """
    P = comm.size
    dest = np.asarray(dest, np.int64)
    order = np.argsort(dest, kind="stable")
    scounts = np.bincount(dest, minlength=P).astype(np.int64)
    if P == 1:
        return [np.ascontiguousarray(np.asarray(a)[order]) for a in arrays]
    rcounts = np.empty(P, np.int64)
    comm.Alltoall([scounts, MPI.INT64_T], [rcounts, MPI.INT64_T])
    sc, sd = _counts_displs(scounts)
    rc, rd = _counts_displs(rcounts)
    out = []
    for a in arrays:
        a = np.asarray(a)
        send = np.ascontiguousarray(a[order])
        recv = np.empty(int(rcounts.sum()), a.dtype)
        t = _MPI_TYPE[a.dtype]
        comm.Alltoallv([send, (sc, sd), t], [recv, (rc, rd), t])
        out.append(recv)
    return out


def dir_rank(ids: np.ndarray, n: int, P: int) -> np.ndarray:
    """Rendezvous rank of each id: id mod P.

    Cyclic rather than by id range, so any contiguous set of cells (a regional run on part
    of a global grid) spreads evenly: a rank's directory share depends on how many cells are
    in use, never on the global grid size n (kept in the signature for the record).
    """
    del n
    return np.mod(np.asarray(ids, np.int64), P)


def expand_ranges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Concatenation of arange(lo[k], hi[k]) for all k (vectorised)."""
    counts = np.maximum(hi - lo, 0)
    total = int(counts.sum())
    starts = np.cumsum(counts) - counts
    return np.arange(total, dtype=np.int64) - np.repeat(starts - lo, counts)


class _Csr:
    """A local sparse operator for the smm kernel: ptr (nrow+1,), idx int32 (nnz,), w (nnz,)."""

    def __init__(self, counts: np.ndarray, idx: np.ndarray, w: np.ndarray) -> None:
        self.nrow = int(counts.size)
        self.ptr = np.zeros(self.nrow + 1, np.int64)
        np.cumsum(counts, out=self.ptr[1:])
        if idx.size and int(idx.max()) >= 2**31:
            raise RegridError("a local remap operand exceeds 2^31 values; use more ranks")
        self.idx = np.ascontiguousarray(idx, np.int32)
        self.w = np.ascontiguousarray(w, np.float64)
        self._p = (
            ffi.from_buffer("int64_t[]", self.ptr),
            ffi.from_buffer("int32_t[]", self.idx),
            ffi.from_buffer("double[]", self.w),
        )

    @property
    def nnz(self) -> int:
        return int(self.idx.size)

    def run(
        self, nvar: int, x: np.ndarray, xs: int, xv: int, y: np.ndarray, ys: int, yv: int
    ) -> None:
        """y[i*ys + v*yv] = Σ_p w[p]·x[idx[p]*xs + v*xv] in stored order (C kernel)."""
        lib.smm_apply(
            self.nrow,
            self._p[0],
            self._p[1],
            self._p[2],
            nvar,
            ffi.from_buffer("double[]", x),
            xs,
            xv,
            ffi.from_buffer("double[]", y, require_writable=True),
            ys,
            yv,
        )


class _Scatter:
    """Column-wise block partial sums: entries (idx, term, w) in canonical per-term order."""

    def __init__(self, nterm: int, idx: np.ndarray, term: np.ndarray, w: np.ndarray) -> None:
        if idx.size and (int(idx.max()) >= 2**31 or nterm >= 2**31):
            raise RegridError("a local remap operand exceeds 2^31 values; use more ranks")
        self.nterm = int(nterm)
        self.idx = np.ascontiguousarray(idx, np.int32)
        self.term = np.ascontiguousarray(term, np.int32)
        self.w = np.ascontiguousarray(w, np.float64)
        self._p = (
            ffi.from_buffer("int32_t[]", self.idx),
            ffi.from_buffer("int32_t[]", self.term),
            ffi.from_buffer("double[]", self.w),
        )

    @property
    def nnz(self) -> int:
        return int(self.idx.size)

    def run(self, nvar: int, x: np.ndarray, xv: int) -> np.ndarray:
        """Term sums (nterm, nvar) of field-major x (nvar, n) (C kernel)."""
        acc = np.zeros((self.nterm, nvar))
        lib.smm_scatter(
            self.nnz,
            self._p[0],
            self._p[1],
            self._p[2],
            nvar,
            ffi.from_buffer("double[]", x),
            xv,
            ffi.from_buffer("double[]", acc, require_writable=True),
        )
        return acc

    def part_plan(self, offsets: np.ndarray) -> list[_Scatter] | None:
        """The entries split by part of the source (part k = local sources offsets[k] to
        offsets[k+1], e.g. one fine tile each), in stored order and indexed inside their
        part; None when some term's entries lie in two parts (the order would change)."""
        part = np.searchsorted(offsets, self.idx, "right") - 1
        term_part = np.full(self.nterm, -1, np.int64)
        term_part[self.term] = part
        if not np.array_equal(term_part[self.term], part):
            return None
        plan = []
        for k in range(offsets.size - 1):
            sel = np.flatnonzero(part == k)  # stored order kept
            local = self.idx[sel] - offsets[k]
            plan.append(_Scatter(self.nterm, local, self.term[sel], self.w[sel]))
        return plan

    def run_masked(
        self, nvar: int, x: np.ndarray, xv: int, mask: np.ndarray | None, acc: np.ndarray
    ) -> None:
        """acc (nterm, nvar) += term sums of x·mask (x field-major (nvar, n), mask (n,) or
        None): the bits of `run` on numpy's x * mask, without forming it (C kernel)."""
        lib.smm_scatter_masked(
            self.nnz,
            self._p[0],
            self._p[1],
            self._p[2],
            nvar,
            ffi.from_buffer("double[]", x),
            xv,
            ffi.NULL if mask is None else ffi.from_buffer("double[]", mask),
            ffi.from_buffer("double[]", acc, require_writable=True),
        )

    def run_classes(self, codes: np.ndarray, mask: np.ndarray | None, nclass: int) -> np.ndarray:
        """Term sums (nterm, nclass + 1) of the one-hot classes of `codes` (n,) times `mask`,
        and of the mask over valid codes (last column), without forming the one-hot matrix:
        the bits of `run` on [onehot·mask; valid·mask] (C kernel)."""
        acc = np.zeros((self.nterm, nclass + 1))
        lib.smm_scatter_classes(
            self.nnz,
            self._p[0],
            self._p[1],
            self._p[2],
            ffi.from_buffer("double[]", codes),
            ffi.NULL if mask is None else ffi.from_buffer("double[]", mask),
            nclass,
            ffi.from_buffer("double[]", acc, require_writable=True),
        )
        return acc


def _check_ids(ids: np.ndarray, n: int, what: str) -> None:
    if ids.size and (int(ids.min()) < 0 or int(ids.max()) >= n):
        bad = ids[(ids < 0) | (ids >= n)][0]
        raise RegridError(f"{what} contains id {int(bad)} outside [0, {n})")


def _checked_nonzeros(
    rows: np.ndarray,
    cols: np.ndarray,
    weights: np.ndarray,
    n_src: int,
    n_dst: int,
    duplicates: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flat int64 rows/cols and float64 weights, checked (RegridError naming the problem)."""
    if duplicates not in ("sum", "same"):
        raise RegridError(f"duplicates must be 'sum' or 'same', got '{duplicates}'")
    r = np.ascontiguousarray(rows, np.int64).ravel()
    c = np.ascontiguousarray(cols, np.int64).ravel()
    w = np.ascontiguousarray(weights, np.float64).ravel()
    if not (r.size == c.size == w.size):
        raise RegridError(
            f"rows, cols, weights must have equal lengths, got {r.size}, {c.size}, {w.size}"
        )
    _check_ids(r, int(n_dst), "rows")
    _check_ids(c, int(n_src), "cols")
    if not np.all(np.isfinite(w)):
        raise RegridError("weights contain NaN or infinity")
    return r, c, w


class SparseRemap:
    """A distributed sparse map, applied collectively with bit-for-bit reproducible sums.

    Use `SparseRemap.build(...)`; then `apply(src)` on every rank of the communicator.
    """

    def __init__(self) -> None:  # filled by build()
        self.comm: MPI.Comm
        self.n_src_local = 0
        self.n_dst_local = 0
        self.n_src = 0
        self.n_dst = 0
        self._send: _Csr | None = None
        self._scatter: _Scatter | None = None
        self._slot_term: np.ndarray | None = None
        self._parts_plan: list[_Scatter] | None = None  # see plan_parts
        self._parts_offsets: np.ndarray | None = None
        self._recv: _Csr
        self._scounts = np.zeros(0, np.int64)
        self._rcounts = np.zeros(0, np.int64)
        self.dropped_nonzeros = 0

    # -- construction --------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        comm: MPI.Comm,
        rows: np.ndarray,
        cols: np.ndarray,
        weights: np.ndarray,
        src_ids: np.ndarray,
        dst_ids: np.ndarray,
        n_src: int,
        n_dst: int,
        src_block: np.ndarray | None = None,
        duplicates: str = "sum",
    ) -> SparseRemap:
        """Route a sparse map (collective over `comm`).

        Parameters
        ----------
        rows, cols, weights : (nnz_local,) this rank's share of the nonzeros, global 0-based
            destination / source ids (any distribution; duplicates (row, col) are summed).
        src_ids : (n_src_local,) global ids of the source values this rank passes to apply,
            in local order; each id owned by exactly one rank.
        dst_ids : (n_dst_local,) global ids this rank wants back, in local order (may repeat
            across ranks, e.g. halo cells).
        n_src, n_dst : global sizes.
        src_block : optional (n_src_local,) int64 block id per owned source cell: partial
            sums are formed inside a block (which must be owned wholly by one rank) and the
            destination sums them in block order. Give it on all ranks or none.
        duplicates : 'sum' (repeated (row, col) pairs add up, as in a map file) or 'same'
            (they describe one weight given by several ranks, e.g. overlapping halo windows
            generating their own nonzeros; one copy is kept).

        Nonzeros whose source no rank owns, or whose destination no rank wants, are dropped
        (counted in `dropped_nonzeros`, summed over ranks).
        """
        rows, cols, weights = _checked_nonzeros(rows, cols, weights, n_src, n_dst, duplicates)
        self = cls()
        P, me = comm.size, comm.rank
        self.comm, self.n_src, self.n_dst = comm, int(n_src), int(n_dst)
        src_ids = np.ascontiguousarray(src_ids, np.int64).ravel()
        dst_ids = np.ascontiguousarray(dst_ids, np.int64).ravel()
        _check_ids(src_ids, self.n_src, "src_ids")
        _check_ids(dst_ids, self.n_dst, "dst_ids")
        has_block = comm.allreduce(src_block is not None, op=MPI.LOR)
        if has_block and src_block is None:
            if src_ids.size:
                raise RegridError("src_block given on some ranks but not on this one")
            src_block = np.zeros(0, np.int64)
        blocks = (
            np.ascontiguousarray(src_block, np.int64).ravel()
            if has_block
            else np.zeros(src_ids.size, np.int64)
        )
        if blocks.size != src_ids.size:
            raise RegridError(f"src_block has {blocks.size} values, expected {src_ids.size}")
        self.n_src_local, self.n_dst_local = src_ids.size, dst_ids.size

        # 1. source directory: id -> (owner, block)
        d_id, d_owner, d_blk = exchange(
            comm, dir_rank(src_ids, n_src, P), src_ids, np.full(src_ids.size, me, np.int64), blocks
        )
        o = np.argsort(d_id, kind="stable")
        d_id, d_owner, d_blk = d_id[o], d_owner[o], d_blk[o]
        dup = np.flatnonzero(d_id[1:] == d_id[:-1])
        err = (
            (
                f"src id {int(d_id[dup[0]])} is owned by ranks {int(d_owner[dup[0]])} and "
                f"{int(d_owner[dup[0] + 1])}"
            )
            if dup.size
            else ""
        )
        if has_block:  # each block must be owned by a single rank
            b_id, b_own = exchange(
                comm, np.mod(blocks, P), blocks, np.full(blocks.size, me, np.int64)
            )
            o2 = np.lexsort((b_own, b_id))
            b_id, b_own = b_id[o2], b_own[o2]
            split = np.flatnonzero((b_id[1:] == b_id[:-1]) & (b_own[1:] != b_own[:-1]))
            if split.size and not err:
                err = (
                    f"src_block {int(b_id[split[0]])} is split between ranks "
                    f"{int(b_own[split[0]])} and {int(b_own[split[0] + 1])}"
                )
        _raise_any(comm, err)

        # 2. nonzeros -> directory of their column -> owner of the column
        r, c, w = exchange(comm, dir_rank(cols, n_src, P), rows, cols, weights)
        pos = np.minimum(np.searchsorted(d_id, c), max(d_id.size - 1, 0))
        found = (d_id[pos] == c) if d_id.size else np.zeros(c.size, bool)
        dropped = int((~found).sum())
        r, c, w, pos = r[found], c[found], w[found], pos[found]
        r, c, w, b = exchange(comm, d_owner[pos], r, c, w, d_blk[pos])

        # 3. destination directory: id -> requesting ranks
        ud = np.unique(dst_ids)
        q_id, q_rank = exchange(comm, dir_rank(ud, n_dst, P), ud, np.full(ud.size, me, np.int64))
        o = np.lexsort((q_rank, q_id))
        q_id, q_rank = q_id[o], q_rank[o]

        # 4. owners ask who wants their rows; the directory answers with (row, requester)
        ur = np.unique(r)
        a_id, a_from = exchange(comm, dir_rank(ur, n_dst, P), ur, np.full(ur.size, me, np.int64))
        lo = np.searchsorted(q_id, a_id, "left")
        hi = np.searchsorted(q_id, a_id, "right")
        sel = expand_ranges(lo, hi)
        cnt = hi - lo
        rr, rq = exchange(comm, np.repeat(a_from, cnt), np.repeat(a_id, cnt), q_rank[sel])
        o = np.lexsort((rq, rr))
        rr, rq = rr[o], rq[o]  # requesters of each of my rows, sorted

        # 5. combine duplicate nonzeros, then the send plan
        o = np.lexsort((w, c, b, r)) if has_block else np.lexsort((w, c, r))
        r, c, w, b = r[o], c[o], w[o], b[o]
        if duplicates == "same" and r.size > 1:
            first = np.ones(r.size, bool)
            first[1:] = (r[1:] != r[:-1]) | (c[1:] != c[:-1])
            r, c, w, b = r[first], c[first], w[first], b[first]
        src_order = np.argsort(src_ids, kind="stable")
        lidx = src_order[np.searchsorted(src_ids, c, sorter=src_order)] if c.size else c
        req_lo = np.searchsorted(rr, r, "left")
        req_hi = np.searchsorted(rr, r, "right")
        if has_block:
            new = np.ones(r.size, bool)
            if r.size > 1:
                new[1:] = (r[1:] != r[:-1]) | (b[1:] != b[:-1])
            tstart = np.flatnonzero(new)
            tsize = np.diff(np.append(tstart, r.size))
            t_lo, t_hi = req_lo[tstart], req_hi[tstart]
            slot_term = np.repeat(np.arange(tstart.size), t_hi - t_lo)
            slot_q = rq[expand_ranges(t_lo, t_hi)]
            o = np.lexsort((slot_term, slot_q))
            slot_term, slot_q = slot_term[o], slot_q[o]
            # partial sums column-wise: entries by (block, source id, weight); within a term
            # that is its canonical order (source id, weight), and a tile is read in memory
            # order
            term_of = np.repeat(np.arange(tstart.size), tsize)
            o = np.lexsort((w, c, b))
            self._scatter = _Scatter(tstart.size, lidx[o], term_of[o], w[o])
            identity = slot_term.size == tstart.size and np.array_equal(
                slot_term, np.arange(tstart.size)
            )
            self._slot_term = None if identity else slot_term
            meta_r, meta_k = exchange(comm, slot_q, r[tstart][slot_term], b[tstart][slot_term])
            recv_r, recv_key, recv_w = meta_r, meta_k, np.ones(meta_r.size)
            recv_pos = np.arange(meta_r.size, dtype=np.int64)
            scounts = np.bincount(slot_q, minlength=P)
        else:
            if np.all(req_hi - req_lo == 1):  # one requester per row: no expansion copies
                nz_q = rq[req_lo]
                er, ec, ew, el = r, c, w, lidx
            else:
                nz_rep = expand_ranges(req_lo, req_hi)  # (nonzero, requester) pairs
                nz_idx = np.repeat(np.arange(r.size), req_hi - req_lo)
                nz_q = rq[nz_rep]
                er, ec, ew, el = r[nz_idx], c[nz_idx], w[nz_idx], lidx[nz_idx]
                del nz_rep, nz_idx
            del r, w, b, req_lo, req_hi
            recv_r, recv_key, recv_w = exchange(comm, nz_q, er, ec, ew)
            del er, ew
            # slots: unique (requester, column)
            o = np.lexsort((ec, nz_q))
            sq, sc_, sl = nz_q[o], ec[o], el[o]
            del o, ec, el, nz_q
            keep = np.ones(sq.size, bool)
            if sq.size > 1:
                keep[1:] = (sq[1:] != sq[:-1]) | (sc_[1:] != sc_[:-1])
            sq, sc_, sl = sq[keep], sc_[keep], sl[keep]
            self._send = _Csr(np.ones(sq.size, np.int64), sl, np.ones(sq.size))
            self._scatter = None
            (slot_cols,) = exchange(comm, sq, sc_)
            so = np.argsort(slot_cols, kind="stable")
            recv_pos = (
                so[np.searchsorted(slot_cols, recv_key, sorter=so)] if recv_key.size else recv_key
            )
            scounts = np.bincount(sq, minlength=P)

        # 6. the receive operator: per local destination, contributions sorted by (key, w)
        o = np.lexsort((recv_w, recv_key, recv_r))
        recv_r, recv_pos, recv_w = recv_r[o], recv_pos[o], recv_w[o]
        lo = np.searchsorted(recv_r, dst_ids, "left")
        hi = np.searchsorted(recv_r, dst_ids, "right")
        ent = expand_ranges(lo, hi)
        self._recv = _Csr(hi - lo, recv_pos[ent], recv_w[ent])
        self._scounts = scounts.astype(np.int64)
        rcounts = np.empty(P, np.int64)
        comm.Alltoall([self._scounts, MPI.INT64_T], [rcounts, MPI.INT64_T])
        self._rcounts = rcounts
        self.dropped_nonzeros = comm.allreduce(dropped)
        return self

    @classmethod
    def local(
        cls,
        rows: np.ndarray,
        cols: np.ndarray,
        weights: np.ndarray,
        n_src: int,
        n_dst: int,
        duplicates: str = "sum",
    ) -> SparseRemap:
        """A whole map on one process (src = all n_src cells, dst = all n_dst, in id order).

        Bit for bit what `build` on MPI.COMM_SELF without blocks gives — per destination,
        its nonzeros summed by (source id, weight) — without the routing directories, and
        applied by one sparse product straight from the field-major source.
        """
        r, c, w = _checked_nonzeros(rows, cols, weights, n_src, n_dst, duplicates)
        sorted_already = r.size < 2 or bool(
            np.all((r[1:] > r[:-1]) | ((r[1:] == r[:-1]) & (c[1:] > c[:-1])))
        )
        if not sorted_already:  # unique (row, col) in order need no weight key
            o = np.lexsort((w, c, r))
            r, c, w = r[o], c[o], w[o]
            if duplicates == "same" and r.size > 1:
                first = np.ones(r.size, bool)
                first[1:] = (r[1:] != r[:-1]) | (c[1:] != c[:-1])
                r, c, w = r[first], c[first], w[first]
        self = cls()
        self.comm = MPI.COMM_SELF
        self.n_src = self.n_src_local = int(n_src)
        self.n_dst = self.n_dst_local = int(n_dst)
        self._recv = _Csr(np.bincount(r, minlength=self.n_dst), c, w)
        self._send = None
        return self

    # -- application -----------------------------------------------------------------------
    def apply(self, src: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Remap src (nvar, n_src_local) or (n_src_local,) → (nvar, n_dst_local) or (n_dst_local,).

        Collective: every rank calls it with the same nvar. Destinations without any
        contribution get 0. `out`: a C-contiguous float64 (nvar, n_dst_local) array to write
        the result to (every value is written), e.g. a buffer reused to spare fresh memory.
        """
        x = np.asarray(src, dtype=np.float64)
        single = x.ndim == 1
        if x.ndim not in (1, 2) or x.shape[-1] != self.n_src_local:
            raise FieldError(
                f"remap source has shape {x.shape}, expected (nvar, {self.n_src_local}) or "
                f"({self.n_src_local},)"
            )
        nvar = 1 if single else x.shape[0]  # (reshape(-1, 0) fails on a rank without sources)
        x = np.ascontiguousarray(x.reshape(nvar, self.n_src_local))
        y = np.empty((nvar, self.n_dst_local)) if out is None else out
        if out is not None and not (
            y.shape == (nvar, self.n_dst_local) and y.dtype == np.float64 and y.flags.c_contiguous
        ):
            raise RegridError(
                f"remap output buffer: {y.dtype} {y.shape}, expected C-contiguous float64 "
                f"({nvar}, {self.n_dst_local})"
            )
        if self._send is None and self._scatter is None:  # local(): one product
            self._recv.run(nvar, x, 1, self.n_src_local, y, 1, self.n_dst_local)
            return y[0] if single else y
        if self._scatter is not None:
            send = self._scatter.run(nvar, x, self.n_src_local)
        else:
            send = np.empty((self._send.nrow, nvar))
            self._send.run(nvar, x, 1, self.n_src_local, send, nvar, 1)
        self._exchange_and_sum(send, y)
        return y[0] if single else y

    @property
    def has_block_sums(self) -> bool:
        """Whether partial sums are formed per source block (what `apply_class_sums` needs)."""
        return self._scatter is not None

    def apply_class_sums(
        self, codes: np.ndarray, mask: np.ndarray | None, nclass: int
    ) -> np.ndarray:
        """apply() of [onehot(codes)·mask; valid·mask] → (nclass + 1, n_dst_local), bit for
        bit, without the (nclass + 1, n_src_local) one-hot matrix (collective; block sums
        only). codes (n_src_local,) float class codes; valid = a class in 0..nclass-1."""
        if self._scatter is None:
            raise RegridError("apply_class_sums needs a remap built with src_block")
        codes = np.ascontiguousarray(codes, np.float64).reshape(self.n_src_local)
        if mask is not None:
            mask = np.ascontiguousarray(mask, np.float64).reshape(self.n_src_local)
        y = np.empty((nclass + 1, self.n_dst_local))
        self._exchange_and_sum(self._scatter.run_classes(codes, mask, nclass), y)
        return y

    def plan_parts(self, offsets: np.ndarray) -> bool:
        """Prepare `apply_parts` for sources given in parts (part k = local sources
        offsets[k] to offsets[k+1], e.g. one fine tile each). Collective; True on every rank
        if every rank's parts are whole blocks (each term's entries in one part)."""
        offsets = np.asarray(offsets, np.int64)
        plan = None
        if self._scatter is not None and offsets[-1] == self.n_src_local:
            plan = self._scatter.part_plan(offsets)
        ok = plan is not None
        if self.comm.size > 1:
            ok = bool(self.comm.allreduce(ok, op=MPI.LAND))
        self._parts_plan, self._parts_offsets = (plan, offsets) if ok else (None, None)
        return ok

    def apply_parts(self, parts: list[np.ndarray], nvar: int, mask: np.ndarray | None = None):
        """apply() of the parts (nvar, n_k) joined along sources and times `mask`
        (n_src_local,) (numpy's x * mask), bit for bit, reading each part where it lies: no
        joined copy, no masked copy. Collective; needs `plan_parts` first."""
        if self._parts_plan is None:
            raise RegridError("apply_parts needs a successful plan_parts first")
        off = self._parts_offsets
        acc = np.zeros((self._scatter.nterm, nvar))
        for k, (plan, x) in enumerate(zip(self._parts_plan, parts, strict=True)):
            x = np.ascontiguousarray(x, np.float64).reshape(nvar, off[k + 1] - off[k])
            m = None if mask is None else mask[off[k] : off[k + 1]]
            plan.run_masked(nvar, x, x.shape[1], m, acc)
        y = np.empty((nvar, self.n_dst_local))
        self._exchange_and_sum(acc, y)
        return y

    def _exchange_and_sum(self, send: np.ndarray, y: np.ndarray) -> None:
        """Send slots (nterm, nvar) to their requesters; y (nvar, n_dst_local) = the sums of
        what arrives, per destination in the fixed order (collective)."""
        nvar = y.shape[0]
        if self._slot_term is not None:
            send = send[self._slot_term]
        if self.comm.size == 1:
            recv = send
        else:
            recv = np.empty((int(self._rcounts.sum()), nvar))
            sc, sd = _counts_displs(self._scounts * nvar)
            rc, rd = _counts_displs(self._rcounts * nvar)
            self.comm.Alltoallv([send, (sc, sd), MPI.DOUBLE], [recv, (rc, rd), MPI.DOUBLE])
        self._recv.run(nvar, recv, nvar, 1, y, 1, self.n_dst_local)

    @property
    def local_nnz(self) -> int:
        """Products per field on this rank (send + receive operators)."""
        send = self._scatter.nnz if self._scatter is not None else 0
        send = self._send.nnz if self._send is not None else send
        return send + self._recv.nnz

    def message_sizes(self) -> tuple[int, int]:
        """(values sent, values received) per field per apply on this rank."""
        return int(self._scounts.sum()), int(self._rcounts.sum())


def _raise_any(comm: MPI.Comm, err: str) -> None:
    """Raise RegridError on every rank if any rank found a problem (keeps ranks in step)."""
    errs = comm.allgather(err) if comm.size > 1 else [err]
    first = next((e for e in errs if e), "")
    if first:
        raise RegridError(first)
