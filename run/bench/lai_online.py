"""Benchmark: the monthly LAI step's computation per fine cell on 1 and 2 ranks vs the host.

The online step itself is not wired yet (it needs issue 8's step contract: named grids, step
state `from: previous`, monthly interpolation of exports). What this times is the computation
that step will run each model month on a 512 × 512 fine domain (0.05°, 262,144 cells): build
the 38 input channels (features.assemble) and run the shipped emulators/lai/lai.onnx through
blended 256-px windows. On 2 ranks each rank takes a band of rows plus a halo of one window
(the tile-with-halo layout that equals the whole domain); step_s is the slowest rank. The
host (emulators.landmodel HostModel) runs the same area on a 0.5° grid (51 × 51 columns) for
one simulated day, scaled to a 30.4-day month. Input values are synthetic but valid (cost
does not depend on them). Last line: JSON with step_s, step_s_2ranks, cells, host_month_s,
ratio = step_s / host_month_s.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
N = 512
HALO = 256
DAYS_PER_MONTH = 30.4


def monthly_step(rows: slice) -> tuple[float, int]:
    """Seconds for one monthly LAI computation of fine rows `rows` (with halo), and cells."""
    from emulators.lai.features import assemble
    from emulators.lai.infer import OnnxLai, predict_lai

    rng = np.random.default_rng(0)
    r0, r1 = max(0, rows.start - HALO), min(N, rows.stop + HALO)
    h = r1 - r0
    lu = rng.integers(0, 8, (h, N)).astype(np.uint8)
    lc = rng.integers(0, 11, (h, N)).astype(np.uint8)
    t = rng.normal(15, 8, (12, h, N)).astype(np.float32)
    p = rng.uniform(0, 200, (12, h, N)).astype(np.float32)
    prior = rng.uniform(0, 6, (h, N)).astype(np.float32)
    hidden = np.zeros((h, N), bool)
    static = rng.normal(0, 1, (12, h, N)).astype(np.float32)
    model = OnnxLai()
    t0 = time.perf_counter()
    x = assemble(lu, lc, t, p, 6, np.linspace(30, 55.6, h), prior, hidden, static)
    lai = predict_lai(model, x, origin=(r0, 0))
    seconds = time.perf_counter() - t0
    assert lai.shape == (h, N)
    return seconds, (rows.stop - rows.start) * N


def worker() -> None:
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    band = N // comm.size
    rows = slice(comm.rank * band, N if comm.rank == comm.size - 1 else (comm.rank + 1) * band)
    seconds, cells = monthly_step(rows)
    slowest = comm.allreduce(seconds, op=MPI.MAX)
    total = comm.allreduce(cells, op=MPI.SUM)
    if comm.rank == 0:
        print(json.dumps({"ranks": comm.size, "step_s": slowest, "cells": total}))


def host_month_s() -> float:
    from emulators.data.forcing import generate_forcing
    from emulators.landmodel import FORCING_NAMES, HostModel

    side = round(N * 0.05 / 0.5)
    lat = np.repeat(30 + 0.5 * np.arange(side) + 0.25, side)
    lon = np.tile(0.5 * np.arange(side) + 0.25, side)
    f = generate_forcing(lat, lon, 2001, 1, seed=1)
    pct = np.zeros((lat.size, 17))
    pct[np.arange(lat.size), np.random.default_rng(0).integers(1, 17, lat.size)] = 100.0
    day = slice(180 * 48, 181 * 48)
    host = HostModel(pct, 40.0, 20.0, lat, lon)
    t0 = time.perf_counter()
    host.run({n: f[n][day] for n in FORCING_NAMES}, start_doy=181, outputs=["FSH"])
    return (time.perf_counter() - t0) * DAYS_PER_MONTH


def main() -> None:
    one, cells = monthly_step(slice(0, N))
    out = subprocess.run(
        [str(REPO / "run/mpirun.sh"), "-n", "2", sys.executable, __file__, "--worker"],
        capture_output=True,
        text=True,
        check=True,
    )
    two = json.loads(out.stdout.strip().splitlines()[-1])["step_s"]
    host = host_month_s()
    print(f"monthly LAI step, {cells} fine cells: {one:.2f} s (1 rank), {two:.2f} s (2 ranks)")
    print(f"host physics, same area at 0.5 deg: {host:.1f} s per month")
    fig = {
        "step_s": round(one, 3),
        "step_s_2ranks": round(two, 3),
        "cells": cells,
        "step_us_per_cell": round(one / cells * 1e6, 3),
        "host_month_s": round(host, 2),
        "ratio": round(one / host, 5),
    }
    print(json.dumps(fig))


if __name__ == "__main__":
    if "--worker" in sys.argv:
        worker()
    else:
        main()
