"""`landemu evaluate lai`: the shipped LAI model on any region against the SEMI-EMPIRICAL target;
`landemu lai static`: the online LAI step's static file.

  landemu evaluate lai --region S,N,W,E [--mask-ratio R] [--seed N] [--model lai.onnx]
  landemu lai static --region S,N,W,E -o lai_static.nc   (phase one's statics + vegetation)
  landemu lai static --add-to lc_static.nc               (adds NDVI max/min, fAPAR max)

Needs phase one's data cube (python -m emulators.lulc.dataset build). The separate model is
fed phase one's predicted land cover (emulators/lulc/lulc.onnx), as online. Prints one JSON
line last: r2, rmse, bias, rmse_climatology_baseline, rmse_prior_baseline,
overlaps_training (plus design, pixels, mask_ratio, region).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `landemu lai static`."""
    lai = subparsers.add_parser("lai", help="the monthly LAI emulator's files")
    sub = lai.add_subparsers(dest="lai_command", required=True)
    p = sub.add_parser(
        "static",
        help="static file of the online LAI step's 0.05° grid (land use/cover, statics, "
        "NDVI max/min, fAPAR max)",
    )
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--region", metavar="S,N,W,E", help="cut a new file from the cube")
    what.add_argument("--add-to", type=Path, metavar="FILE", help="add the vegetation to FILE")
    p.add_argument("-o", "--output", type=Path, help="netCDF file to write (with --region)")
    p.add_argument("--cube", type=Path, default=None, help="data cube (run/data/lulc/cube.zarr)")
    p.set_defaults(func=run_static)


def run_static(args: argparse.Namespace) -> int:
    from coupler.errors import ConfigError
    from emulators.lai.staticfile import add_vegetation, write_static_file

    if args.add_to is not None:
        print(json.dumps({"static": str(add_vegetation(args.add_to))}))
        return 0
    from emulators.lulc.dataset import DEFAULT_CUBE, Cube
    from emulators.lulc.evaluate import parse_region
    from emulators.lulc.staticfile import grid_string

    if args.output is None:
        raise ConfigError("landemu lai static --region needs -o FILE")
    region = parse_region(args.region)
    path = write_static_file(Cube.open(args.cube or DEFAULT_CUBE), region, args.output)
    print(json.dumps({"static": str(path), "grid": grid_string(region)}))
    return 0


def register_evaluate(subparsers: argparse._SubParsersAction) -> None:
    """Add `landemu evaluate lai`."""
    p = subparsers.add_parser(
        "lai",
        help="monthly LAI U-Net vs climatology and prior-month baselines on a region",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--region", required=True, metavar="S,N,W,E", help="degrees on the 0.05° grid")
    p.add_argument("--mask-ratio", type=float, default=0.75, help="share of prior hidden (0.75)")
    p.add_argument("--seed", type=int, default=0, help="seed of the hidden patches")
    p.add_argument("--model", type=Path, default=None, help="ONNX model (default: the shipped one)")
    p.set_defaults(func=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    from emulators.lai.evaluate import Evaluator
    from emulators.lai.infer import MODEL_PATH, OnnxLai
    from emulators.lulc.evaluate import parse_region

    region = parse_region(args.region)
    model = OnnxLai(args.model or MODEL_PATH)
    print(json.dumps(Evaluator().region(model, region, args.mask_ratio, args.seed)))
    return 0
