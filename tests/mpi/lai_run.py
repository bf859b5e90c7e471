"""Run the online LAI configuration (tests/lai_online_setup.py) for days FIRST..LAST on
however many ranks mpirun gives (host cells dealt round robin) and save the LAI_UNET export
of every day, gathered by host id, for bit-for-bit comparisons.

usage: lai_run.py CONFIG FIRST LAST OUT.npz [--write-restart PATH]
"""

import argparse
import sys
from pathlib import Path

from mpi4py import MPI

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gathered import append_exports, save_exports
from lai_online_setup import DAY, START, forcing

from coupler.clock import ModelTime
from coupler.component import Component
from coupler.driver import host_cells

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
t0 = ModelTime.from_date(*START, 0, comp.calendar)
series = {name: [] for name in comp.pipeline.exports}
for day in range(args.first, args.last + 1):
    t, precip = forcing(ids, day)
    comp.put("TBOT", t)
    comp.put("PRECTmms", precip)
    comp.advance(t0 + DAY * day)
    append_exports(comp, ids, series)
if args.write_restart:
    comp.write_restart(args.write_restart)
comp.finalize()
save_exports(comm, comp, ids, series, args.out)
