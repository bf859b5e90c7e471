"""Benchmark: the online monthly LAI step (transform `lai_unet`) per fine cell on 1 and 2 ranks
vs the host's cost for the same model month.

A component runs the step on a 512 × 512 fine grid (0.05°, 262,144 cells, tiles of 128 × 128,
blended 256-px windows with margin 32 and overlap 64 as in the card) under a 0.5° host; step_s
is the first advance's wall time on the slowest rank (the step runs there: remap of the
imports, features, the shipped emulators/lai/lai.onnx, halo exchange of its state). The static
file is SYNTHETIC (classes in stripes; cost does not depend on the values). The host
(emulators.landmodel HostModel) runs the same area on a 0.5° grid (51 × 51 columns) for one
simulated day, scaled to a 30.4-day month. Last line: JSON with step_s, step_s_2ranks, cells,
host_month_s, ratio = step_s / host_month_s.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
N = 512
DEG = 0.05
SOUTH, WEST = 30.0, 0.0
DAYS_PER_MONTH = 30.4


def write_inputs(folder: Path) -> Path:
    """A synthetic static file on the 0.05° grid and the YAML config; returns the config."""
    import netCDF4
    import yaml

    from emulators.lulc.classes import LC_FROM_IGBP, LU_FROM_IGBP

    j, i = np.meshgrid(np.arange(N), np.arange(N), indexing="ij")
    igbp = np.array([4, 10, 12, 5, 1, 14, 9], np.uint8)[(i // 37) % 7]
    fields = {
        "land_use": LU_FROM_IGBP[igbp],
        "land_cover": LC_FROM_IGBP[igbp],
        "landmask": np.ones((N, N), np.uint8),
        "elevation": (200.0 + j).astype(np.float32),
        "slope": np.ones((N, N), np.float32),
        "land_fraction": np.ones((N, N), np.float32),
        "koppen": np.full((N, N), 3, np.uint8),
        "t_mean": np.full((N, N), 12.0, np.float32),
        "t_range": np.full((N, N), 18.0, np.float32),
        "precip": np.full((N, N), 700.0, np.float32),
        "ndvi_max": (0.6 + 0.2 * np.sin(i / 23.0)).astype(np.float32),
        "ndvi_min": (0.3 + 0.1 * np.cos(j / 31.0)).astype(np.float32),
        "fapar_max": np.full((N, N), 0.5, np.float32),
    }
    static = folder / "static.nc"
    with netCDF4.Dataset(static, "w") as ds:
        ds.title = "SYNTHETIC static fields (benchmark)"
        ds.createDimension("nv", 2)
        for dim, lo in (("lat", SOUTH), ("lon", WEST)):
            edges = lo + DEG * np.arange(N + 1)
            ds.createDimension(dim, N)
            ds.createVariable(dim, "f8", (dim,))[:] = 0.5 * (edges[:-1] + edges[1:])
            ds.createVariable(f"{dim}_bnds", "f8", (dim, "nv"))[:] = np.stack(
                [edges[:-1], edges[1:]], axis=1
            )
        for name, values in fields.items():
            ds.createVariable(name, values.dtype, ("lat", "lon"))[:] = values
    box = f"{SOUTH},{SOUTH + N * DEG},{WEST},{WEST + N * DEG}"
    side = round(N * DEG / 0.5)
    cfg = {
        "run": {
            "name": "bench",
            "calendar": "noleap",
            "start": "2001-07-01",
            "coupling_interval": 86400,
            "output_dir": str(folder / "out"),
            "log_level": "warning",
        },
        "host": {"grid": f"latlon:{side},{side}:{box}", "imports": ["TBOT", "PRECTmms"],
                 "exports": ["LAI_UNET"]},
        "fine": {"grid": f"latlon:{N},{N}:{box}", "tile": [128, 128], "static": str(static)},
        "steps": [{"name": "lai", "transform": "lai_unet", "schedule": "monthly"}],
    }  # fmt: skip
    path = folder / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def monthly_step(config: Path) -> tuple[float, int]:
    """(seconds of the advance that runs the step on this rank's tiles, this rank's cells)."""
    from mpi4py import MPI

    from coupler.clock import ModelTime
    from coupler.component import Component
    from coupler.driver import host_cells

    comm = MPI.COMM_WORLD
    comp = Component(comm, config)
    ids = host_cells(comp.host.mask, comm.rank, comm.size, "blocks")
    comp.set_decomposition(ids)
    comp.put("TBOT", 290.0 + (ids % 7).reshape(1, -1))
    comp.put("PRECTmms", 3e-5 * (1 + ids % 3).reshape(1, -1))
    comm.Barrier()
    t0 = time.perf_counter()
    comp.advance(ModelTime.from_date(2001, 7, 2, 0, comp.calendar))
    seconds = time.perf_counter() - t0
    cells = sum(td.tile.shape[0] * td.tile.shape[1] for td in comp.fines["fine"].tiles)
    comp.finalize()
    return seconds, cells


def worker(config: Path) -> None:
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    seconds, cells = monthly_step(config)
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
    folder = Path(tempfile.mkdtemp(prefix="lai_bench_"))
    config = write_inputs(folder)
    runs = {}
    for n in (1, 2):  # both under mpirun: one MPI start-up per run
        cmd = [str(REPO / "run/mpirun.sh"), "-n", str(n), sys.executable, __file__]
        out = subprocess.run(
            [*cmd, "--worker", str(config)],
            capture_output=True,
            text=True,
            check=True,
        )
        runs[n] = json.loads(out.stdout.strip().splitlines()[-1])
    one, two, cells = runs[1]["step_s"], runs[2]["step_s"], runs[1]["cells"]
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
        worker(Path(sys.argv[-1]))
    else:
        main()
