"""Benchmark: fine cells per second through the surface translation and aggregation.

One rank, real inputs: the 30″ cells of a 2° × 2° window over the Rhône valley and the Alps
(MODIS 2019 land cover, ERA5 climatology, GSI LAI, synthetic soil) are read once (not
timed); then `translate_block` (land cover → PFTs, LAI/SAI with the Zeng recursion,
heights, soil layers and fill) and the conservative aggregation to a 0.5° host
(`SurfaceSums.add` + `fields`) are timed, best of `REPEATS` runs.

Prints one JSON line last: cells_per_s (translation + aggregation), translate_s,
aggregate_s, fine_cells, host_cells.

Usage: OMP_NUM_THREADS=1 .venv/bin/python run/bench/surface_translate.py
"""

from __future__ import annotations

import json
import time

from coupler.grids.latlon import LatLonGrid
from emulators.surface.aggregate import SurfaceSums, overlap_integrator
from emulators.surface.sources import fine_inputs
from emulators.surface.translate import translate_block

HOST = LatLonGrid.parse("latlon:4,4:44,46,5,7")
REPEATS = 3


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
    print(f"{n} fine cells -> {HOST.size} host cells, best of {REPEATS}")
    print(
        json.dumps(
            {
                "cells_per_s": round(n / (best_t + best_a)),
                "translate_s": round(best_t, 4),
                "aggregate_s": round(best_a, 4),
                "fine_cells": n,
                "host_cells": HOST.size,
            }
        )
    )


if __name__ == "__main__":
    main()
