"""The land-use scenario demo: a host whose coarse cropland fraction grows every year drives
the online land-use U-Net (transform `lulc_yearly`), which redraws the 0.05° maps and hands
the host their class fractions.

    run/mpirun.sh -n 2 .venv/bin/python run/demo/landuse.py run/demo/landuse.yaml OUT_DIR

The host here is this script (Python, one process per rank, 1° cells dealt round robin):
each model year it puts LANDUSE_FRAC = the MODIS 2019 map aggregated to its cells with
cropland raised by PER_YEAR × year (taken from pasture, forest and shrub in proportion),
and gets LANDUSE_FINE back. Writes OUT_DIR/landuse_maps.png (the fine map of every year)
and OUT_DIR/landuse_fractions.png (cropland put vs received), and prints one JSON line.
Gathering the fine map on rank 0 is for the plot of this small demo region only.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import netCDF4
import numpy as np
from mpi4py import MPI

from coupler.clock import ModelTime
from coupler.component import Component
from coupler.driver import host_cells
from emulators.lulc.scenario import CROP, cropland_growth, host_fractions

YEARS, PER_YEAR, STEPS_PER_YEAR = 5, 0.08, 5  # 73-day coupling steps


def fine_map(comp: Component, comm) -> np.ndarray | None:
    """The step's current fine land-use map, gathered on rank 0 (None elsewhere)."""
    fine = comp.fines["lc"]
    mine = [
        (td.tile.j0, td.tile.i0, comp.previous["lulc"]["LANDUSE_FINE"][t])
        for t, td in enumerate(fine.tiles)
    ]
    parts = comm.gather(mine, root=0)
    if comm.rank != 0:
        return None
    out = np.zeros(fine.grid.shape, np.uint8)
    for part in parts:
        for j0, i0, values in part:
            out[j0 : j0 + values.shape[0], i0 : i0 + values.shape[1]] = values
    return out


def plot(maps: list[np.ndarray], put: np.ndarray, got: np.ndarray, extent, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    from emulators.lulc.classes import LAND_USE

    colours = ["#d7191c", "#ffd92f", "#a6d96a", "#1a9641", "#b2abd2", "#e0d8c0", "#2b83ba", "#fff"]
    cmap = ListedColormap(colours)
    fig, axes = plt.subplots(1, len(maps), figsize=(3.2 * len(maps), 3.6))
    for k, (ax, m) in enumerate(zip(np.atleast_1d(axes), maps, strict=True)):
        ax.imshow(m, origin="lower", cmap=cmap, vmin=-0.5, vmax=7.5, extent=extent)
        ax.set_title(f"year {2001 + k}: cropland {np.mean(m == CROP):.2f}")
        ax.set_xticks([])
        ax.set_yticks([])
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colours[:6]]
    fig.legend(handles, LAND_USE[:6], loc="lower center", ncol=6, fontsize=8)
    fig.suptitle("online land-use U-Net: fine (0.05°) maps as the host's cropland grows")
    fig.savefig(out / "landuse_maps.png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    years = 2001 + np.arange(len(put))
    ax.plot(years, put, "o-", label="host puts (LANDUSE_FRAC)")
    ax.plot(years, got, "s--", label="host gets (LANDUSE_FINE)")
    ax.set_xlabel("model year")
    ax.set_ylabel("mean cropland fraction of the host cells")
    ax.legend()
    fig.savefig(out / "landuse_fractions.png", dpi=90, bbox_inches="tight")
    plt.close(fig)


def main(config: str, out: str) -> int:
    comm = MPI.COMM_WORLD
    out_dir = Path(out)
    t_start = time.perf_counter()
    comp = Component(comm, config)
    ids = host_cells(comp.host.mask, comm.rank, comm.size, "round_robin")
    comp.set_decomposition(ids)
    grid = comp.fines["lc"].grid
    cell = comp.pipeline.steps[0].params["cell"]
    with netCDF4.Dataset(comp.config.grids["lc"]["static"]) as ds:  # the MODIS 2019 map
        modis = np.asarray(ds["land_use"][:])
    scenario = cropland_growth(host_fractions(modis, grid.south, cell), YEARS, PER_YEAR)
    t0 = ModelTime.from_date(2001, 1, 1, 0, comp.calendar)
    maps, put, got = [], [], []
    received = np.empty((8, ids.size))
    for step in range(1, YEARS * STEPS_PER_YEAR):
        year = step // STEPS_PER_YEAR
        comp.put("LANDUSE_FRAC", np.ascontiguousarray(scenario[year][:, ids - 1]))
        comp.advance(t0 + 73 * 86400 * step)
        if step == 1 or step % STEPS_PER_YEAR == 0:  # the yearly step ran (2001-01-01, …)
            comp.get("LANDUSE_FINE", received)
            put.append(comm.allreduce(float(scenario[year][CROP, ids - 1].sum())) / comp.host.n)
            got.append(comm.allreduce(float(received[CROP].sum())) / comp.host.n)
            maps.append(fine_map(comp, comm))
    comp.finalize()
    if comm.rank == 0:
        out_dir.mkdir(parents=True, exist_ok=True)
        extent = (grid.west, grid.east, grid.south, grid.north)
        plot(maps, np.array(put), np.array(got), extent, out_dir)
        summary = {
            "years": YEARS,
            "ranks": comm.size,
            "cropland_put": [round(v, 4) for v in put],
            "cropland_received": [round(v, 4) for v in got],
            "max_abs_difference": round(float(np.max(np.abs(np.subtract(put, got)))), 4),
            "seconds": round(time.perf_counter() - t_start, 1),
            "plots": [str(out_dir / "landuse_maps.png"), str(out_dir / "landuse_fractions.png")],
        }
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:3]))
