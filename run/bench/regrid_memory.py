"""Benchmark: peak memory per rank when the global grid grows 16× at fixed cells per rank.

Four MPI ranks (run/mpirun.sh) each own the same number of 1/120° fine tiles (4 tiles of
240×240 = 230 400 cells) and the 0.5° host cells over them; the global fine and host grids are
either 10°×10° (small) or 40°×40° (large: 16× the cells, the rest owned by no rank, as all-ocean
tiles are in the runtime). Each rank builds both runtime regridders (tiles → host,
conservative with tile blocks; host → tiles with a one-cell halo, bilinear), applies them to
10 fields 5 times, and reports its peak RSS (ru_maxrss). Nothing in landemu may grow with the
global grid, so growth (max over ranks, large / small) must stay ≤ 1.05.
  rss_small_mb, rss_large_mb  peak RSS of the largest rank
  delta_small_mb, ...        the part above the RSS after imports (landemu's own memory)
Prints one JSON line last.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RANKS = 4


def worker(extent_deg: int) -> None:
    import resource

    import numpy as np
    from mpi4py import MPI

    sys.path.insert(0, str(ROOT))
    from coupler.grids import LatLonGrid
    from coupler.regrid import Regridder

    def rss() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

    comm = MPI.COMM_WORLD
    base = rss()
    n = extent_deg * 120
    fine = LatLonGrid(n, n, 20.0, 20.0 + extent_deg, 0.0, float(extent_deg))
    host = LatLonGrid(
        extent_deg * 2, extent_deg * 2, 20.0, 20.0 + extent_deg, 0.0, float(extent_deg)
    )
    # the same 4×4 block of tiles, 1° in from the south-west corner, 4 per rank, whatever the
    # extent (so halo windows stay inside the grid in both cases)
    tiles = [(j, j + 240, i, i + 240) for j in range(120, 1080, 240) for i in range(120, 1080, 240)]
    mine = tiles[comm.rank :: comm.size]
    hj = np.arange(2, 18)
    host_all = (hj[:, None] * host.nlon + hj[None, :]).ravel()  # 0.5° cells over the block
    host_mine = host_all[comm.rank :: comm.size]
    up = Regridder.tiles_to_host(comm, fine, mine, host, host_mine)
    halo = [(max(j0 - 1, 0), j1 + 1, max(i0 - 1, 0), i1 + 1) for j0, j1, i0, i1 in mine]
    down = Regridder.host_to_tiles(comm, host, host_mine, fine, halo)
    x = np.random.default_rng(comm.rank).random((10, sum(240 * 240 for _ in mine)))
    h = np.random.default_rng(comm.rank).random((10, host_mine.size))
    for _ in range(5):
        up(x)
        down(h)
    peak = comm.gather((rss(), base), root=0)
    if comm.rank == 0:
        print(
            json.dumps(
                {"peak_mb": max(p for p, _ in peak), "delta_mb": max(p - b for p, b in peak)}
            )
        )


def run(extent: int) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OMPI_", "PMIX_", "OPAL_", "PRTE_"))
    }
    res = subprocess.run(
        [
            str(ROOT / "run" / "mpirun.sh"),
            "-n",
            str(RANKS),
            sys.executable,
            __file__,
            "--worker",
            str(extent),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )
    if res.returncode:
        raise SystemExit(res.stdout[-2000:] + res.stderr[-3000:])
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    small, large = run(10), run(40)
    print(
        json.dumps(
            {
                "ranks": RANKS,
                "cells_per_rank": 4 * 240 * 240,
                "global_small_cells": (10 * 120) ** 2,
                "global_large_cells": (40 * 120) ** 2,
                "rss_small_mb": round(small["peak_mb"], 1),
                "rss_large_mb": round(large["peak_mb"], 1),
                "growth": round(large["peak_mb"] / small["peak_mb"], 4),
                "delta_small_mb": round(small["delta_mb"], 1),
                "delta_large_mb": round(large["delta_mb"], 1),
            }
        )
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        worker(int(sys.argv[2]))
    else:
        main()
