"""`landemu evaluate lai`: the shipped LAI model on any region against the SEMI-EMPIRICAL target.

  landemu evaluate lai --region S,N,W,E [--mask-ratio R] [--seed N] [--model lai.onnx]

Needs phase one's data cube (python -m emulators.lulc.dataset build). The separate model is
fed phase one's predicted land cover (emulators/lulc/lulc.onnx), as online. Prints one JSON
line last: r2, rmse, bias, rmse_climatology_baseline, rmse_prior_baseline,
overlaps_training (plus design, pixels, mask_ratio, region).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


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
