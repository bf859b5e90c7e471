"""The `landemu` command: one entry point, one subcommand per job.

Each subcommand lives next to the code it drives and exposes `register(subparsers)`, which
adds its parser and sets `func` (args -> exit status). Errors a user can fix are printed as
one line naming the culprit, with exit status 2; nothing prints a traceback unless
`--traceback` is given.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
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

# Emulator families: each `emulators/<family>/cli.py`, where it exists, may define any of
# `register(subparsers)` (its own top-level commands, e.g. `landemu calibrate`),
# `register_evaluate(subparsers)` (`landemu evaluate <family>`) and
# `register_plot(subparsers)` (`landemu plot <family>`). A family without a cli.py adds
# nothing, so families land independently of each other.
FAMILY_MODULES: list[str] = [
    "emulators.lulc.cli",
    "emulators.lai.cli",
    "emulators.mdpl.cli",
    "emulators.soilmoisture.cli",
    "emulators.surface.cli",
]


def _family_modules() -> list:
    return [
        importlib.import_module(name)
        for name in FAMILY_MODULES
        if importlib.util.find_spec(name.rsplit(".", 1)[0]) is not None
        and importlib.util.find_spec(name) is not None
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
    families = _family_modules()
    for module in families:
        if hasattr(module, "register"):
            module.register(subparsers)
    for verb, hook, text in (
        ("evaluate", "register_evaluate", "evaluate a shipped emulator on real data"),
        ("plot", "register_plot", "draw an emulator's truth / prediction / error maps"),
    ):
        hooked = [m for m in families if hasattr(m, hook)]
        if hooked:
            verb_parser = subparsers.add_parser(verb, help=text, description=text)
            family_parsers = verb_parser.add_subparsers(dest="family", metavar="FAMILY")
            for module in hooked:
                getattr(module, hook)(family_parsers)
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
