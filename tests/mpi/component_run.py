"""Run the component for a number of daily steps on however many ranks mpirun gives, and
save every export at every step, gathered by host id (for bit-for-bit comparisons).

usage: component_run.py CONFIG FIRST_DAY LAST_DAY OUT.npz [--write-restart PATH]
                        [--empty-rank R] [--steps-per-day N]
                        [--start-hour H] [--stop-hour H]

--empty-rank R gives rank R no host cells; --steps-per-day N couples N times a day (the
puts are the daily analytic forcing shifted by a small amount per step); --start-hour H
starts at hour H of FIRST_DAY (1 = the first step), --stop-hour H runs on into the day
after LAST_DAY up to hour H (a restart mid-day, with N = 24). The rank count
is written to OUT.npz.nranks, so a test can check what it ran on.
"""

import argparse

import numpy as np
from gathered import append_exports, save_exports
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
p.add_argument("--empty-rank", type=int)
p.add_argument("--steps-per-day", type=int, default=1)
p.add_argument("--start-hour", type=int, default=1)
p.add_argument("--stop-hour", type=int, default=0)
args = p.parse_args()

comm = MPI.COMM_WORLD
comp = Component(comm, args.config)
if args.empty_rank is None or comm.size == 1:
    ids = host_cells(comp.host.mask, comm.rank, comm.size, "round_robin")
else:
    others = [r for r in range(comm.size) if r != args.empty_rank]
    ids = (
        host_cells(comp.host.mask, others.index(comm.rank), len(others), "round_robin")
        if comm.rank in others
        else np.zeros(0, np.int64)
    )
comp.set_decomposition(ids)
lat, lon = comp.host.center_lat[ids - 1], comp.host.center_lon[ids - 1]
t0 = ModelTime.from_date(2001, 1, 1, 0, comp.calendar)
series = {name: [] for name in comp.pipeline.exports}
dt = 86400 // args.steps_per_day
n = args.steps_per_day
for step in range(args.first * n + args.start_hour - 1, (args.last + 1) * n + args.stop_hour):
    t = t0 + dt * (step - args.steps_per_day + 1)
    for name in comp.pipeline.imports:
        values = analytic_forcing(name, lat, lon, t, comp.registry[name].levels)
        if args.steps_per_day > 1:
            values = values * (1.0 + 1e-3 * np.sin(step))
        comp.put(name, values)
    comp.advance(t)
    append_exports(comp, ids, series)
if args.write_restart:
    comp.write_restart(args.write_restart)
comp.finalize()
save_exports(comm, comp, ids, series, args.out)
if comm.rank == 0:
    with open(args.out + ".nranks", "w") as f:
        f.write(str(comm.size))
