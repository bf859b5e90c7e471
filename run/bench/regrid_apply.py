"""Benchmark: applying a 1/120° → 0.5° conservative map (10°×10° tile, 1.44 M source cells,
nested, so 1.44 M nonzeros) to 10 fields at once, on one rank, against scipy.sparse CSR on the
same weights and against the machine's memory bandwidth measured in the same run.

  nnz_per_s          nonzero × field products per second of SparseRemap.apply (fine cells
                     grouped in 240×240 tile blocks, as the runtime does; median of repeats)
  scipy_nnz_per_s    the same for scipy's CSR @ X with X already (n_src, 10) C-ordered
  bandwidth_fraction (bytes apply must move: weights 8 B + index 4 B per nonzero, 10 fields of
                     source read and destination written) / apply time / copy bandwidth
  copy bandwidth     2 × bytes / time of np.copyto between two 256 MiB arrays (read + write)
Prints one JSON line last.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

NFIELD = 10
REPEAT = 7


def median_time(fn: Callable[[], object], repeat: int = REPEAT) -> float:
    fn()
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def copy_bandwidth() -> float:
    a = np.ones(32 * 1024 * 1024)  # 256 MiB
    b = np.empty_like(a)
    t = median_time(lambda: np.copyto(b, a), 5)
    return 2 * a.nbytes / t


def main() -> None:
    import scipy.sparse as sp
    from mpi4py import MPI

    from coupler.grids import LatLonGrid
    from coupler.regrid import SparseRemap, conservative_weights

    fine = LatLonGrid.parse("latlon:1200,1200:30,40,10,20")
    host = LatLonGrid.parse("latlon:20,20:30,40,10,20")
    w = conservative_weights(fine, host, normalization="dstarea")
    tiles = [(j, j + 240, i, i + 240) for j in range(0, 1200, 240) for i in range(0, 1200, 240)]
    src_ids = np.concatenate([fine.ids(*t) for t in tiles])
    blocks = np.repeat(np.arange(len(tiles)), 240 * 240)
    rng = np.random.default_rng(0)
    x = rng.random((NFIELD, fine.size))
    x_local = np.ascontiguousarray(x[:, src_ids])
    remap = SparseRemap.build(
        MPI.COMM_SELF,
        w.rows,
        w.cols,
        w.S,
        src_ids,
        np.arange(host.size),
        fine.size,
        host.size,
        blocks,
    )
    plain = SparseRemap.build(
        MPI.COMM_SELF, w.rows, w.cols, w.S, src_ids, np.arange(host.size), fine.size, host.size
    )
    t_ours = median_time(lambda: remap.apply(x_local))
    t_plain = median_time(lambda: plain.apply(x_local))
    csr = sp.csr_matrix((w.S, (w.rows, w.cols)), shape=(host.size, fine.size))
    xt = np.ascontiguousarray(x.T)  # scipy's preferred layout, transposition not timed
    t_scipy = median_time(lambda: csr @ xt)
    ref = csr @ xt
    err = float(np.abs(remap.apply(x_local) - ref.T).max())
    bw = copy_bandwidth()
    nnz = w.n_s
    bytes_needed = nnz * (8 + 4) + NFIELD * 8 * (fine.size + host.size)
    res = {
        "nnz": nnz,
        "fields": NFIELD,
        "apply_s": round(t_ours, 5),
        "nnz_per_s": round(nnz * NFIELD / t_ours),
        "scipy_nnz_per_s": round(nnz * NFIELD / t_scipy),
        "vs_scipy": round(t_scipy / t_ours, 2),
        "no_block_nnz_per_s": round(nnz * NFIELD / t_plain),
        "no_block_vs_scipy": round(t_scipy / t_plain, 2),
        "copy_bandwidth_gb_s": round(bw / 1e9, 2),
        "apply_gb_s": round(bytes_needed / t_ours / 1e9, 2),
        "bandwidth_fraction": round(bytes_needed / t_ours / bw, 3),
        "max_abs_diff_vs_scipy": err,
    }
    print(json.dumps(res))


if __name__ == "__main__":
    main()
