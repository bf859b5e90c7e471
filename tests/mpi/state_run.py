"""Run a configuration for coupling steps FIRST..LAST on however many ranks mpirun gives
(host cells dealt round robin) and save every export at every step, gathered by host id,
for bit-for-bit comparisons. Each step puts TBOT (step_state_setup.tbot), or every field
of `--puts MODULE:FUNCTION`, a function (ids, step) -> {field: (nlev, n) values} of tests/.

usage: state_run.py CONFIG INTERVAL FIRST LAST OUT.npz [--write-restart PATH] [--puts M:F]
"""

import argparse
import importlib
import sys
from pathlib import Path

from mpi4py import MPI

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gathered import append_exports, save_exports
from step_state_setup import tbot

from coupler.clock import ModelTime
from coupler.component import Component
from coupler.driver import host_cells

p = argparse.ArgumentParser()
p.add_argument("config")
p.add_argument("interval", type=int)
p.add_argument("first", type=int)
p.add_argument("last", type=int)
p.add_argument("out")
p.add_argument("--write-restart")
p.add_argument("--puts", help="MODULE:FUNCTION giving the fields to put (default: TBOT)")
args = p.parse_args()
if args.puts:
    module, function = args.puts.split(":")
    puts = getattr(importlib.import_module(module), function)
else:
    puts = lambda ids, step: {"TBOT": tbot(ids, step)}  # noqa: E731

comm = MPI.COMM_WORLD
comp = Component(comm, args.config)
ids = host_cells(comp.host.mask, comm.rank, comm.size, "round_robin")
comp.set_decomposition(ids)
t0 = ModelTime.from_date(2001, 1, 1, 0, comp.calendar)
series = {name: [] for name in comp.pipeline.exports}
for step in range(args.first, args.last + 1):
    for name, values in puts(ids, step).items():
        comp.put(name, values)
    comp.advance(t0 + args.interval * step)
    append_exports(comp, ids, series)
if args.write_restart:
    comp.write_restart(args.write_restart)
comp.finalize()
save_exports(comm, comp, ids, series, args.out)
