"""Run the online land-use configuration for coupling steps FIRST..LAST (73-day intervals,
five a year) on however many ranks mpirun gives, putting each year's LANDUSE_FRAC of the
scenario (years, 8, n_host); save every export at every step gathered by host id, and the
final fine maps gathered by tile (a test diagnostic: the product never gathers them).

usage: lulc_online_run.py CONFIG SCENARIO.npy FIRST LAST OUT.npz [--write-restart PATH]
"""

import argparse
import sys
from pathlib import Path

import numpy as np
from mpi4py import MPI

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gathered import append_exports, save_exports

from coupler.clock import ModelTime
from coupler.component import Component
from coupler.driver import host_cells

INTERVAL = 73 * 86400
p = argparse.ArgumentParser()
p.add_argument("config")
p.add_argument("scenario")
p.add_argument("first", type=int)
p.add_argument("last", type=int)
p.add_argument("out")
p.add_argument("--write-restart")
args = p.parse_args()

comm = MPI.COMM_WORLD
comp = Component(comm, args.config)
ids = host_cells(comp.host.mask, comm.rank, comm.size, "round_robin")
comp.set_decomposition(ids)
scenario = np.load(args.scenario)
t0 = ModelTime.from_date(2001, 1, 1, 0, comp.calendar)
series = {name: [] for name in comp.pipeline.exports}
for step in range(args.first, args.last + 1):
    comp.put("LANDUSE_FRAC", np.ascontiguousarray(scenario[step // 5][:, ids - 1]))
    comp.advance(t0 + INTERVAL * step)
    append_exports(comp, ids, series)
if args.write_restart:
    comp.write_restart(args.write_restart)
fine = comp.fines["lc"]
tiles = [
    (td.tile.j0, td.tile.i0, comp.previous["lulc"]["LANDUSE_FINE"][t])
    for t, td in enumerate(fine.tiles)
]
gathered = comm.gather(tiles, root=0)
comp.finalize()
save_exports(comm, comp, ids, series, args.out)
if comm.rank == 0:
    lu = np.full(fine.grid.shape, -1.0)
    for part in gathered:
        for j0, i0, values in part:
            lu[j0 : j0 + values.shape[-2], i0 : i0 + values.shape[-1]] = values
    np.save(args.out + ".fine.npy", lu)
