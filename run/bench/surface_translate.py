"""Benchmark: fine cells per second through the surface translation and aggregation.

One rank, real inputs: the 30″ cells of a 2° × 2° window over the Rhône valley and the Alps
(MODIS 2019 land cover, ERA5 climatology, GSI LAI, synthetic soil) are read once (not
timed); then `translate_block` (land cover → PFTs, LAI/SAI with the Zeng recursion,
heights, soil layers and fill) and the conservative aggregation to a 0.5° host
(`SurfaceSums.add` + `fields`) are timed, best of `REPEATS` runs.

Also timed: the online step's fine part (`surface_pft` on 120 × 120-cell tiles of the same
window, July LAI, no remap: the coupler's remaps are timed by the demo's timers).

Prints one JSON line last: cells_per_s (translation + aggregation), translate_s,
aggregate_s, online_tile_cells_per_s, fine_cells, host_cells.

Usage: OMP_NUM_THREADS=1 .venv/bin/python run/bench/surface_translate.py
"""

from __future__ import annotations

import json
import time

import numpy as np

from coupler.clock import ModelTime, Schedule
from coupler.grids.latlon import LatLonGrid
from coupler.steps.base import StepContext
from emulators.surface.aggregate import SurfaceSums, overlap_integrator
from emulators.surface.online import SurfacePft
from emulators.surface.pft import DAYS_IN_MONTH, NODATA
from emulators.surface.sources import fine_inputs
from emulators.surface.translate import translate_block

HOST = LatLonGrid.parse("latlon:4,4:44,46,5,7")
REPEATS = 3
T0 = ModelTime.from_date(2001, 7, 31)


def main() -> None:
    inputs = fine_inputs(HOST)
    integrate = overlap_integrator(inputs.grid, HOST)
    best_t, best_a = float("inf"), float("inf")
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        cells, _ = translate_block(
            inputs.land_cover, inputs.t_monthly_c, inputs.p_monthly_mm, inputs.lai, inputs.soil
        )
        t1 = time.perf_counter()
        sums = SurfaceSums(HOST.size)
        sums.add(integrate, cells)
        sums.fields(HOST.areas().ravel())
        t2 = time.perf_counter()
        best_t, best_a = min(best_t, t1 - t0), min(best_a, t2 - t1)
    n = inputs.grid.size
    online_s = time_online_tiles(inputs)
    print(f"{n} fine cells -> {HOST.size} host cells, best of {REPEATS}")
    print(
        json.dumps(
            {
                "cells_per_s": round(n / (best_t + best_a)),
                "translate_s": round(best_t, 4),
                "aggregate_s": round(best_a, 4),
                "online_tile_cells_per_s": round(n / online_s),
                "fine_cells": n,
                "host_cells": HOST.size,
            }
        )
    )


def time_online_tiles(inputs, tile: int = 120) -> float:
    """Best of REPEATS seconds of `surface_pft` over the window cut into tiles."""
    step = SurfacePft("pft", Schedule.parse("monthly"), params={"land_cover_scheme": "lulc"})
    days = DAYS_IN_MONTH[:, None, None] * 86400.0
    whole = {
        "land_cover": inputs.land_cover.astype(np.float64),
        "landmask": (inputs.land_cover != NODATA).astype(np.float64),
        "LAI": inputs.lai[6],
        "CLIM_TBOT": inputs.t_monthly_c + 273.15,
        "CLIM_PRECTmms": inputs.p_monthly_mm / days,
    }
    ny, nx = inputs.land_cover.shape
    best = float("inf")
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        for j in range(0, ny, tile):
            for i in range(0, nx, tile):
                part = {k: v[..., j : j + tile, i : i + tile] for k, v in whole.items()}
                shape = part["LAI"].shape
                state = {k: np.full(shape, -1.0) for k in step.state}
                ctx = StepContext(T0, T0, np.zeros(shape), np.zeros(shape))
                step.compute(part, state, ctx)
        best = min(best, time.perf_counter() - t0)
    return best


if __name__ == "__main__":
    main()
