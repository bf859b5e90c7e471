"""`landemu regrid`: write an ESMF map file between two grids, or check an existing map.

  landemu regrid SRC DST -o MAP.nc [--method M] [--normalization N]
  landemu regrid --check MAP.nc [--json]

SRC/DST: `latlon:NLAT,NLON:S,N,W,E` (cell edges, degrees; W > E crosses the dateline) or a
SCRIP grid / E3SM domain file. Run under MPI (run/mpirun.sh -n K landemu regrid ...) to
generate in parallel.
"""

from __future__ import annotations

import argparse
import json

from mpi4py import MPI

from coupler.errors import RegridError
from coupler.regrid.check import check_map, format_report
from coupler.regrid.generate import generate_map
from coupler.regrid.weights import METHODS, NORMALIZATIONS


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `regrid` subcommand."""
    p = subparsers.add_parser(
        "regrid",
        help="make an ESMF map file between two grids, or check one",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("grids", nargs="*", metavar="GRID", help="SRC and DST grid (spec or file)")
    p.add_argument("-o", "--output", help="map file to write (ESMF format)")
    p.add_argument("--method", default="conservative", choices=METHODS)
    p.add_argument("--normalization", default="fracarea", choices=NORMALIZATIONS)
    p.add_argument("--check", metavar="MAP", help="report conservation and analytic errors")
    p.add_argument("--json", action="store_true", help="with --check: print one JSON line")
    p.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    comm = MPI.COMM_WORLD
    if args.check:
        if args.grids or args.output:
            raise RegridError("--check takes only the map file (no grids, no -o)")
        if comm.rank == 0:
            res = check_map(args.check)
            print(json.dumps(res) if args.json else format_report(res, args.check))
        return 0
    if len(args.grids) != 2 or not args.output:
        raise RegridError(
            f"expected `landemu regrid SRC DST -o MAP.nc`, got {len(args.grids)} grid(s)"
            + ("" if args.output else " and no -o")
        )
    path = generate_map(
        args.grids[0],
        args.grids[1],
        args.output,
        args.method,
        args.normalization,
        comm,
        False if args.no_progress else None,
    )
    if comm.rank == 0 and path is not None:
        print(f"wrote {path}")
    return 0
