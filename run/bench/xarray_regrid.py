"""Benchmark: coupler.Regridder against xarray-regrid (PyPI) on the same DataArray, in one run.

1/120° over a 10°×10° window (1200 × 1200 = 1.44 M cells) → the 0.5° grid of the same window
(20 × 20), first-order conservative, NFIELD time steps of a random field (float64, in memory).

  landemu_build_s   coupler.Regridder(source Dataset, target Dataset): grids read from the
                    Datasets, exact weights kept as their 1-D factors (a latitude and a
                    longitude overlap sweep), the serial engine regridder
  landemu_weights_s the same map materialised as ESMF nonzeros (`reg.weights`, what
                    `to_netcdf` writes; not needed to apply)
  landemu_apply_s   regridder(da).values
  peer_build_s      xarray-regrid's weights (its per-axis overlap matrices and the latitude
                    correction, as every `.regrid.conservative` call computes them)
  peer_apply_s      a whole `da.regrid.conservative(target).values` call minus peer_build_s
                    (xarray-regrid has no separate apply: each call rebuilds its weights;
                    the whole call is `peer_call_s`)
  landemu_global_build_s  the engine regridder (`Regridder.latlon`, what coupler.Regridder
                    builds on) of the global 1/120° grid (21600 × 43200) → 0.5°: 933 M
                    weights, kept as their 1-D factors (`landemu_global_bytes` held)
  *_conservation_err  |Σ_dst y·area − Σ_src x·area·frac_a| / Σ_src x·area·frac_a over all
                    time steps, with exact spherical cell areas and frac_a the part of each
                    source cell inside the target (the targets are wholly covered)
  *_conservation_err_offset  the same for the 0.9° × 1.25° target OFFSET, whose cell edges
                    do not fall on fine-cell edges
Times are medians of REPEAT runs after one warm-up (BUILD_REPEAT for the millisecond builds,
whose medians a loaded machine otherwise scatters). Prints one JSON line last.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
# this file shares its name with the peer package: import the package, not this script
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != HERE]

FINE = "latlon:1200,1200:42,52,0,10"
COARSE = "latlon:20,20:42,52,0,10"
GLOBAL_KM = "latlon:21600,43200:-90,90,-180,180"
GLOBAL_HALF = "latlon:360,720:-90,90,-180,180"
OFFSET = "latlon:11,8:42,51.9,0,10"  # 0.9° × 1.25° cells whose edges cut fine cells
NFIELD = int(os.environ.get("BENCH_NFIELD", "12"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
BUILD_REPEAT = int(os.environ.get("BENCH_BUILD_REPEAT", "21"))


def median_time(fn: Callable[[], object], repeat: int = REPEAT) -> tuple[float, object]:
    """(median seconds over `repeat` runs after a warm-up, last result)."""
    out = fn()
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts)), out


def conservation_error(x: np.ndarray, y: np.ndarray, reg) -> float:
    """Relative error of the area integral, with the exact areas and fractions of `reg`."""
    w = reg.weights
    before = float((x.reshape(len(x), -1) * (w.area_a * w.frac_a)).sum())
    after = float((y.reshape(len(y), -1) * w.area_b).sum())
    return abs(after - before) / abs(before)


def peer_target(spec: str):
    import xarray as xr

    from coupler.xgrid import grid_dataset

    g = grid_dataset(spec)
    return xr.Dataset(coords={"lat": g.lat, "lon": g.lon})


def peer_weights(da, target) -> None:
    """What xarray-regrid computes for its weights in every conservative call."""
    from xarray_regrid import utils
    from xarray_regrid.methods import conservative as c

    for name in ("lat", "lon"):
        w = c.get_weights(da[name].to_numpy(), target[name].to_numpy())
        dot = utils.create_dot_dataarray(w, name, target[name].to_numpy(), da[name].to_numpy())
        if name == "lat":
            c.apply_spherical_correction(dot, "lat")


def main() -> None:
    import xarray as xr
    import xarray_regrid  # noqa: F401  (registers the .regrid accessor)

    import coupler
    from coupler.grids import LatLonGrid
    from coupler.regrid import Regridder as EngineRegridder
    from coupler.xgrid import grid_dataset

    fine, coarse = LatLonGrid.parse(FINE), LatLonGrid.parse(COARSE)
    source, target = grid_dataset(fine), grid_dataset(coarse)
    rng = np.random.default_rng(0)
    da = xr.DataArray(
        rng.random((NFIELD, *fine.shape)) + 1.0,
        dims=("time", "lat", "lon"),
        coords={"time": np.arange(NFIELD), "lat": source.lat, "lon": source.lon},
        name="f",
    )
    coarse_peer = peer_target(COARSE)

    t_build, reg = median_time(lambda: coupler.Regridder(source, target), BUILD_REPEAT)
    t_apply, ours = median_time(lambda: reg(da).values)
    t_weights, _ = median_time(lambda: coupler.Regridder(source, target).weights)
    t_peer_build, _ = median_time(lambda: peer_weights(da, coarse_peer), BUILD_REPEAT)
    km, half = LatLonGrid.parse(GLOBAL_KM), LatLonGrid.parse(GLOBAL_HALF)
    t_global, global_reg = median_time(lambda: EngineRegridder.latlon(km, half))
    t_peer_call, peer = median_time(
        lambda: da.regrid.conservative(coarse_peer, skipna=False).values
    )
    x = da.values
    offset = coupler.Regridder(source, OFFSET)
    ours_offset = offset(da).values
    peer_offset = da.regrid.conservative(peer_target(OFFSET), skipna=False).values
    res = {
        "source_cells": fine.size,
        "target_cells": coarse.size,
        "fields": NFIELD,
        "landemu_build_s": round(t_build, 4),
        "peer_build_s": round(t_peer_build, 4),
        "landemu_apply_s": round(t_apply, 4),
        "landemu_weights_s": round(t_weights, 4),
        "landemu_global_build_s": round(t_global, 4),
        "landemu_global_weights": global_reg.remap.local_nnz,
        "landemu_global_bytes": global_reg.remap.nbytes,
        "peer_apply_s": round(t_peer_call - t_peer_build, 4),
        "peer_call_s": round(t_peer_call, 4),
        "landemu_conservation_err": conservation_error(x, ours, reg),
        "peer_conservation_err": conservation_error(x, peer, reg),
        "landemu_conservation_err_offset": conservation_error(x, ours_offset, offset),
        "peer_conservation_err_offset": conservation_error(x, peer_offset, offset),
        "max_abs_diff_landemu_vs_peer": float(np.abs(ours - peer).max()),
    }
    print(json.dumps(res))


if __name__ == "__main__":
    main()
