"""Run the component for a number of daily steps on however many ranks mpirun gives, and
save every export at every step, gathered by host id (for bit-for-bit comparisons).

usage: component_run.py CONFIG FIRST_DAY LAST_DAY OUT.npz [--write-restart PATH]
"""

import argparse

import numpy as np
from gathered import save_exports
from mpi4py import MPI

from coupler.clock import ModelTime
from coupler.component import Component
from coupler.driver import analytic_forcing, host_cells

p = argparse.ArgumentParser()
p.add_argument("config")
p.add_argument("first", type=int)
p.add_argument("last", type=int)
p.add_argument("out")
p.add_argument("--write-restart")
args = p.parse_args()

comm = MPI.COMM_WORLD
comp = Component(comm, args.config)
ids = host_cells(comp.host.mask, comm.rank, comm.size, "round_robin")
comp.set_decomposition(ids)
lat, lon = comp.host.center_lat[ids - 1], comp.host.center_lon[ids - 1]
t0 = ModelTime.from_date(2001, 1, 1, 0, comp.calendar)
series = {name: [] for name in comp.pipeline.exports}
for day in range(args.first, args.last + 1):
    t = t0 + 86400 * day
    for name in comp.pipeline.imports:
        comp.put(name, analytic_forcing(name, lat, lon, t, comp.registry[name].levels))
    comp.advance(t)
    for name in series:
        buf = np.empty((comp.registry[name].levels, ids.size))
        comp.get(name, buf)
        series[name].append(buf)
if args.write_restart:
    comp.write_restart(args.write_restart)
comp.finalize()
save_exports(comm, comp, ids, series, args.out)
