"""The `landemu` command: one entry point, one subcommand per job.

Each subcommand lives next to the code it drives and exposes `register(subparsers)`, which
adds its parser and sets `func` (args -> exit status). Errors a user can fix are printed as
one line naming the culprit, with exit status 2; nothing prints a traceback unless
`--traceback` is given.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from coupler.errors import LandemuError

# Modules providing subcommands, in the order `landemu --help` lists them.
SUBCOMMAND_MODULES: list[str] = [
    "coupler.driver",  # landemu run
    "coupler.domain",  # landemu domain
    "emulators.data.static_fine",  # landemu prepare-static
    "coupler.regrid.cli",  # landemu regrid
    "emulators.data.forcing",  # landemu forcing
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="landemu",
        description="Land-surface emulators coupled online to Fortran land models.",
    )
    parser.add_argument("--traceback", action="store_true", help="show Python tracebacks")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in SUBCOMMAND_MODULES:
        importlib.import_module(module).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except LandemuError as exc:
        if args.traceback:
            raise
        print(f"landemu {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
