"""`landemu evaluate lc` and `landemu plot lc`: the shipped land-use model on any region.

  landemu evaluate lc --region S,N,W,E [--mask-ratio R] [--coarse DEG] [--json-only]
  landemu plot lc --region S,N,W,E [--mask-ratio R] [--coarse DEG] -o map.png
  landemu lulc-static --region S,N,W,E -o lc_static.nc   (the online step's 0.05° grid file)

Needs the data cube (python -m emulators.lulc.dataset build, ~1 min). Prints one JSON line
last: oa, miou, per_class_iou (land cover), miou_copy_baseline, miou_rf_baseline,
fraction_consistency, overlaps_training, and the same for land use under "lu".
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--region", required=True, metavar="S,N,W,E", help="degrees on the 0.05° grid")
    p.add_argument("--mask-ratio", type=float, default=0.75, help="share of prior hidden (0.75)")
    p.add_argument("--coarse", type=float, default=1.25, metavar="DEG", help="coarse grid (1.25°)")
    p.add_argument("--seed", type=int, default=0, help="seed of the hidden patches")
    p.add_argument("--model", type=Path, default=None, help="ONNX model (default: the shipped one)")
    p.add_argument("--cube", type=Path, default=None, help="data cube (run/data/lulc/cube.zarr)")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `landemu lulc-static`."""
    p = subparsers.add_parser(
        "lulc-static",
        help="static file of the online land-use step's 0.05° grid, cut from the cube",
    )
    p.add_argument("--region", required=True, metavar="S,N,W,E", help="degrees on the 0.05° grid")
    p.add_argument("-o", "--output", type=Path, required=True, help="netCDF file to write")
    p.add_argument("--cube", type=Path, default=None, help="data cube (run/data/lulc/cube.zarr)")
    p.set_defaults(func=run_static)


def run_static(args: argparse.Namespace) -> int:
    from emulators.lulc.dataset import DEFAULT_CUBE, Cube
    from emulators.lulc.evaluate import parse_region
    from emulators.lulc.staticfile import grid_string, write_static_file

    region = parse_region(args.region)
    path = write_static_file(Cube.open(args.cube or DEFAULT_CUBE), region, args.output)
    print(json.dumps({"static": str(path), "grid": grid_string(region)}))
    return 0


def register_evaluate(subparsers: argparse._SubParsersAction) -> None:
    """Add `landemu evaluate lc`."""
    p = subparsers.add_parser(
        "lc",
        help="land-use/land-cover U-Net vs baselines on a region",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(p)
    p.set_defaults(func=run_evaluate)


def register_plot(subparsers: argparse._SubParsersAction) -> None:
    """Add `landemu plot lc`."""
    p = subparsers.add_parser("lc", help="truth / prediction / error maps of a region (PNG)")
    _common(p)
    p.add_argument("-o", "--output", type=Path, default=Path("lulc_region.png"))
    p.set_defaults(func=run_plot)


def _evaluate(args: argparse.Namespace) -> dict:
    from emulators.lulc.dataset import DEFAULT_CUBE
    from emulators.lulc.evaluate import Evaluator, parse_region
    from emulators.lulc.infer import MODEL_PATH

    region = parse_region(args.region)
    ev = Evaluator(args.model or MODEL_PATH, args.cube or DEFAULT_CUBE)
    return ev.region(region, args.coarse, args.mask_ratio, args.seed)


def run_evaluate(args: argparse.Namespace) -> int:
    from emulators.lulc.evaluate import public

    print(json.dumps(public(_evaluate(args))))
    return 0


def run_plot(args: argparse.Namespace) -> int:
    from emulators.lulc.evaluate import plot_region, public

    result = _evaluate(args)
    print(f"wrote {plot_region(result, args.output)}")
    print(json.dumps(public(result)))
    return 0
