"""`landemu soilmoisture {twin,train,export}` and `landemu evaluate soilmoisture`.

  landemu soilmoisture twin  [-o run/data/soilmoisture/twin.npz] [--stations 320] [--years N]
  landemu soilmoisture train [--cube FILE] [--out DIR] [--smoke]
  landemu soilmoisture export [--out DIR] [--model emulators/soilmoisture/soilmoisture.onnx]
  landemu soilmoisture static STATIC.nc -o OUT.nc   (adds the twin's synthetic soil)
  landemu evaluate soilmoisture [--model FILE] [--cube FILE]

All data are TWIN data from the host physics (see emulators/soilmoisture/twin.py);
`make models-soilmoisture` runs the three steps in order.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from emulators.soilmoisture.dataset import DEFAULT_CUBE

DEFAULT_WORK = Path("run/data/soilmoisture")
SHIPPED_MODEL = Path(__file__).resolve().parent / "soilmoisture.onnx"
CARD_DIR = Path(__file__).resolve().parent


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `landemu soilmoisture` with its twin / train / export steps."""
    p = subparsers.add_parser(
        "soilmoisture",
        help="twin data, training and ONNX export of the 1-km soil-moisture forest",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    steps = p.add_subparsers(dest="step", metavar="STEP", required=True)
    t = steps.add_parser("twin", help="run the host physics at stations and host cells (TWIN)")
    t.add_argument("-o", "--output", type=Path, default=DEFAULT_CUBE)
    t.add_argument("--fine-grid", default="latlon:1200,1200:42,52,0,10")
    t.add_argument("--host-ratio", type=int, default=60, help="fine cells per host cell side")
    t.add_argument("--stations", type=int, default=320)
    t.add_argument("--years", type=int, default=6)
    t.add_argument("--spinup-years", type=int, default=1)
    t.add_argument("--seed", type=int, default=0)
    t.set_defaults(func=_twin)
    r = steps.add_parser("train", help="CV search, RF vs gradient boosting, experiments")
    r.add_argument("--cube", type=Path, default=DEFAULT_CUBE)
    r.add_argument("--out", type=Path, default=DEFAULT_WORK, help="checkpoints and tables")
    r.add_argument("--tables", type=Path, default=CARD_DIR, help="where CSV/JSON/PNG go")
    r.add_argument("--smoke", action="store_true", help="tiny sizes (tests, CI)")
    r.set_defaults(func=_train)
    e = steps.add_parser("export", help="ONNX export, parity, size/speed/accuracy table")
    e.add_argument("--cube", type=Path, default=DEFAULT_CUBE)
    e.add_argument("--out", type=Path, default=DEFAULT_WORK)
    e.add_argument("--model", type=Path, default=SHIPPED_MODEL)
    e.add_argument("--tables", type=Path, default=CARD_DIR, help="where CSV/JSON/PNG go")
    e.add_argument("--smoke", action="store_true")
    e.set_defaults(func=_export)
    s = steps.add_parser(
        "static", help="add the soil predictors (SYNTHETIC, the twin's) to a static file"
    )
    s.add_argument("static", type=Path, help="a `landemu prepare-static` file")
    s.add_argument("-o", "--output", type=Path, required=True)
    s.set_defaults(func=_static)


def register_evaluate(subparsers: argparse._SubParsersAction) -> None:
    """Add `landemu evaluate soilmoisture`."""
    p = subparsers.add_parser(
        "soilmoisture", help="score the shipped ONNX forest on the twin's held-out years"
    )
    p.add_argument("--model", type=Path, default=SHIPPED_MODEL)
    p.add_argument("--cube", type=Path, default=DEFAULT_CUBE)
    p.add_argument("--test-years", type=int, default=2, help="the last N years are scored")
    p.add_argument("--json", action="store_true", help="one JSON line instead of a table")
    p.set_defaults(func=_evaluate)


def _twin(args: argparse.Namespace) -> int:
    from emulators.soilmoisture.dataset import save_cube
    from emulators.soilmoisture.twin import TwinSpec, run_twin

    spec = TwinSpec(
        fine_grid=args.fine_grid,
        host_ratio=args.host_ratio,
        n_stations=args.stations,
        n_years=args.years,
        spinup_years=args.spinup_years,
        seed=args.seed,
    )
    path = save_cube(args.output, run_twin(spec))
    print(f"landemu soilmoisture twin: wrote {path} (TWIN data)")
    return 0


def _train(args: argparse.Namespace) -> int:
    from emulators.soilmoisture.train import run_training

    summary = run_training(args.cube, args.out, smoke=args.smoke, tables_dir=args.tables)
    print(json.dumps(summary))
    return 0


def _export(args: argparse.Namespace) -> int:
    from emulators.soilmoisture.export import run_export

    summary = run_export(args.cube, args.out, args.model, args.tables, smoke=args.smoke)
    print(json.dumps(summary))
    return 0


def _static(args: argparse.Namespace) -> int:
    from emulators.soilmoisture.static import add_soil

    print(f"landemu soilmoisture static: wrote {add_soil(args.static, args.output)}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from emulators.soilmoisture.evaluate import evaluate_shipped, format_table

    scores = evaluate_shipped(args.model, args.cube, args.test_years)
    print(json.dumps(scores) if args.json else format_table(scores))
    return 0
