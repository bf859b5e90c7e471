"""MdPL commands: `landemu calibrate` (bring your own flux site) and `landemu evaluate mdpl`.

  landemu calibrate --forcing F.nc --fluxes OBS.nc --pft GROUP --site-attrs lat=..,lon=..
                    [--name SITE] [-o OUTDIR] [--generations N] [--closure [LO,HI]]
                    [--refine-runs N]

Forcing and fluxes use PLUMBER2/ALMA names and units (SWdown, LWdown, Tair, Qair, Wind,
PSurf, Rainf [+ Snowf]; Qh, Qle in W m-2), half-hourly, one site. GROUP is one of
evergreen_forest, woodland, grassland, cultivation. Writes parameters.json, report.md and
fluxes.png to OUTDIR, with the written set's energy-balance closure factor c*. --closure
scores each candidate's c*·sim in the choice (for fluxes not corrected for non-closure;
default range 0.7,1.05); a g_z trained closure-aware does this by itself. The best
candidate is then refined in the physics (a coordinate search over the influential
parameters, --refine-runs host runs, default 4, 0 turns it off) and the refined set is
written when its calibration cost is lower.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from coupler.errors import ConfigError
from emulators.landmodel import GROUP_NAMES


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `landemu calibrate`."""
    p = subparsers.add_parser(
        "calibrate",
        help="calibrate the host physics' PFT parameters for a flux site (MdPL)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--forcing", required=True, type=Path, help="PLUMBER2/ALMA forcing netCDF")
    p.add_argument("--fluxes", required=True, type=Path, help="netCDF with Qh, Qle (W m-2)")
    p.add_argument("--pft", required=True, choices=GROUP_NAMES, help="MdPL PFT group")
    p.add_argument(
        "--site-attrs", default="", help="lat=..,lon=..[,sand=%%,clay=%%,elevation=m,pft=ELM]"
    )
    p.add_argument("--name", default="site")
    p.add_argument("-o", "--output", type=Path, default=Path("mdpl_calibration"))
    p.add_argument("--generations", type=int, default=20, help="surrogate-search generations")
    p.add_argument(
        "--refine-runs",
        type=int,
        default=4,
        help="host runs of the physics refinement of the best set (0: off)",
    )
    p.add_argument(
        "--closure",
        nargs="?",
        const="0.7,1.05",
        default=None,
        help="closure-aware choice: c* clipped to LO,HI (default 0.7,1.05)",
    )
    p.set_defaults(func=run_calibrate)


def run_calibrate(args: argparse.Namespace) -> int:
    from emulators.mdpl.calibrate import (
        calibrate,
        make_site,
        parse_attrs,
        read_fluxes,
        read_forcing,
        write_outputs,
    )
    from emulators.mdpl.prior import check_closure

    site = make_site(args.name, args.pft, parse_attrs(args.site_attrs))
    forcing = read_forcing(args.forcing)
    obs = read_fluxes(args.fluxes, len(forcing["TBOT"]))
    closure = getattr(args, "closure", None)
    closure = closure and check_closure(closure.split(","))
    if args.refine_runs < 0:
        raise ConfigError(f"--refine-runs {args.refine_runs}: needs 0 (off) or more host runs")
    runs, gens = args.refine_runs, args.generations
    cal = calibrate(forcing, obs, site, generations=gens, closure=closure, refine_runs=runs)
    for path in write_outputs(cal, args.output):
        print(path)
    d, c = cal.skill["default"], cal.skill[cal.chosen]
    print(
        f"RMSE H {d['H']['rmse']:.2f} -> {c['H']['rmse']:.2f} W m-2, "
        f"LE {d['LE']['rmse']:.2f} -> {c['LE']['rmse']:.2f} W m-2 ({cal.chosen}); "
        f"closure factor c* {cal.closure:.3f}"
    )
    return 0


def register_evaluate(subparsers: argparse._SubParsersAction) -> None:
    """Add `landemu evaluate mdpl` (needs the training caches and checkpoints)."""
    p = subparsers.add_parser(
        "mdpl",
        help="sensitivity and calibrated-parameter evaluation in the Fortran physics (twin)",
    )
    p.add_argument("-o", "--output", type=Path, default=None)
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--longer",
        action="store_true",
        help="the longer-surrogate experiment (run/data/mdpl_long → evaluation/longer/)",
    )
    which.add_argument(
        "--swapped-start",
        action="store_true",
        help="warm starts swapped between the arms (run/data/mdpl_long → "
        "evaluation/swapped_start/)",
    )
    p.set_defaults(func=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    import json

    from emulators.mdpl import sensitivity
    from emulators.mdpl.evaluate import (
        LONGER_ARCHS,
        LONGER_DIR,
        OUT_DIR,
        SWAPPED_ARCHS,
        evaluate_all,
    )

    experiment = {"longer": LONGER_ARCHS, "swapped_start": SWAPPED_ARCHS}
    name = "longer" if args.longer else "swapped_start" if args.swapped_start else None
    out = args.output or (OUT_DIR / name if name else OUT_DIR)
    out.mkdir(parents=True, exist_ok=True)
    if name:  # the shipped OAT ranking decides the influential parameters
        summary = evaluate_all(out, experiment[name], LONGER_DIR)
    else:
        rank = sensitivity.ranking(sensitivity.oat_rmse())
        sensitivity.write(rank, out / "sensitivity.csv", out / "sensitivity.png")
        summary = evaluate_all(out)
    print(json.dumps(summary["all"]))
    return 0
