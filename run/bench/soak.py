"""Benchmark: a long run leaks neither memory nor file descriptors.

10,000 hourly coupling steps (417 days) on 2 ranks: every hour the host puts its forcing,
advances and gets the exports; a daily phenology runs on the real coast window (1/120°,
240 × 240 cells in 70 × 50 tiles under a 0.5° host grid), history is written monthly and a
restart every 30 days, so files are opened and closed all along. Each rank samples its
resident memory (/proc/self/statm) and its open file descriptors (/proc/self/fd).

Prints a few context lines, then one JSON line:
  steps             coupling steps run
  rss_growth_mb     resident-memory growth from the end of warm-up (the first 30 days) to
                    the end, largest over ranks                          (goal: < 1 MB)
  fds_start, fds_end  open descriptors after warm-up and at the end, summed over ranks
  seconds           wall time of the run
  us_per_step       mean wall time per coupling step (phenology included)

Usage: run/mpirun.sh -n 2 .venv/bin/python run/bench/soak.py [--steps N]
(run without mpirun, it starts itself on 2 ranks)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[2]
FINE = "latlon:240,240:47,49,-5,-3"
HOST = "latlon:4,4:47,49,-5,-3"
WARMUP_STEPS = 30 * 24
PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE_MB


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def prepare(folder: Path) -> Path:
    """Static data, domain and configuration for the coast window (rank 0)."""
    from coupler.domain import make_domain
    from coupler.grids.latlon import LatLonGrid
    from emulators.data.static_fine import prepare_static

    static, domain = folder / "static.nc", folder / "domain.nc"
    prepare_static(LatLonGrid.parse(FINE), static, progress=False)
    make_domain(LatLonGrid.parse(HOST), static, domain)
    config = {
        "run": {
            "name": "soak",
            "start": "2001-01-01",
            "coupling_interval": 3600,
            "output_dir": str(folder / "out"),
            "log_level": "warning",
        },
        "host": {"grid": str(domain), "imports": ["TBOT", "PRECTmms"], "exports": ["LAI"]},
        "fine": {"grid": FINE, "tile": [70, 50], "static": str(static)},
        "steps": [{"name": "phenology", "transform": "phenology_gsi", "schedule": "daily"}],
        "history": {"fields": ["LAI", "TBOT"], "frequency": "monthly"},
        "restart": {"frequency": "every 30 days"},
    }
    path = folder / "soak.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def soak(folder: Path, steps: int) -> dict | None:
    from mpi4py import MPI

    from coupler.clock import ModelTime
    from coupler.component import Component
    from coupler.driver import analytic_forcing, host_cells

    comm = MPI.COMM_WORLD
    config = prepare(folder) if comm.rank == 0 else None
    config = comm.bcast(config, root=0)
    comp = Component(comm, config)
    ids = host_cells(comp.host.mask, comm.rank, comm.size, "round_robin")
    comp.set_decomposition(ids)
    lat, lon = comp.host.center_lat[ids - 1], comp.host.center_lon[ids - 1]
    t0 = ModelTime.from_date(2001, 1, 1)
    lai = np.empty((1, ids.size))
    start = time.perf_counter()
    for step in range(1, steps + 1):
        t = t0 + 3600 * step
        for name in ("TBOT", "PRECTmms"):
            comp.put(name, analytic_forcing(name, lat, lon, t))
        comp.advance(t)
        comp.get("LAI", lai)
        if step == WARMUP_STEPS:
            rss0, fds0 = rss_mb(), open_fds()
    seconds = time.perf_counter() - start
    comp.finalize()
    growth = comm.gather(rss_mb() - rss0, root=0)
    fds = comm.gather((fds0, open_fds()), root=0)
    if comm.rank != 0:
        return None
    return {
        "ranks": comm.size,
        "steps": steps,
        "rss_growth_mb": round(max(growth), 3),
        "fds_start": sum(f[0] for f in fds),
        "fds_end": sum(f[1] for f in fds),
        "seconds": round(seconds, 1),
        "us_per_step": round(seconds / steps * 1e6, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000)
    args = parser.parse_args()
    if args.steps <= WARMUP_STEPS:
        sys.exit(f"soak: --steps must exceed the warm-up of {WARMUP_STEPS} steps")
    if "OMPI_COMM_WORLD_SIZE" not in os.environ:  # start ourselves under mpirun
        cmd = [str(REPO / "run" / "mpirun.sh"), "-n", "2", sys.executable, __file__]
        return subprocess.call([*cmd, "--steps", str(args.steps)])
    with tempfile.TemporaryDirectory(prefix="landemu_soak_") as tmp:
        from mpi4py import MPI

        folder = Path(MPI.COMM_WORLD.bcast(tmp, root=0))
        result = soak(folder, args.steps)
    if result is not None:
        print(
            f"{result['steps']} hourly coupling steps on {result['ranks']} ranks, daily "
            f"phenology on {FINE}, monthly history, a restart every 30 days"
        )
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
