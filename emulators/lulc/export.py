"""Export the trained U-Net to ONNX (dynamic batch, height, width) and check it against torch.

    python -m emulators.lulc.export [--checkpoint run/data/lulc/train/best.pt]
                                    [--out emulators/lulc/lulc.onnx]
    python -m emulators.lulc.export --checkpoint A.pt --checkpoint B.pt [--mirror] [--out …]

Several checkpoints (or --mirror) export one `Ensemble` graph with the same contract: its
logits are the log of the members' averaged probabilities.

The file carries the channel order and the class names as metadata. Parity: ONNX Runtime
and torch logits agree to ≤ 1e-4 on random and on real tiles (tests/test_lulc_model.py).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import torch

from coupler.errors import ModelError
from emulators.lulc.classes import LAND_COVER, LAND_USE
from emulators.lulc.features import CHANNELS, N_CHANNELS, N_LC, N_LU
from emulators.lulc.infer import MODEL_PATH
from emulators.lulc.model import Ensemble, UNet

DEFAULT_CHECKPOINT = Path("run/data/lulc/train/best.pt")


def load_checkpoint(path: Path) -> tuple[UNet, dict]:
    """The U-Net of a training checkpoint, in eval mode, and its training metrics."""
    if not Path(path).is_file():
        raise ModelError(
            f"checkpoint '{path}' not found; train first (python -m emulators.lulc.train run)"
        )
    saved = torch.load(path, weights_only=False)
    if saved["config"].get("extra_inputs"):
        raise ModelError(
            f"checkpoint '{path}' is a probe trained with extra inputs "
            f"({saved['config']['extra_inputs']}); only 40-channel U-Nets are exported"
        )
    model = UNet(N_CHANNELS, N_LU, N_LC, saved["config"]["base"])
    model.load_state_dict(saved["model"])
    return model.eval(), saved.get("metrics", {})


def export_onnx(model: UNet | Ensemble, out: Path, metadata: dict[str, str] | None = None) -> Path:
    """Write `model` as ONNX (opset 17, dynamic B/H/W) atomically, with metadata."""
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    x = torch.zeros(1, N_CHANNELS, 64, 64)
    dyn = {0: "batch", 2: "height", 3: "width"}
    with torch.no_grad():
        torch.onnx.export(
            model,
            (x,),
            str(tmp),
            input_names=["x"],
            output_names=["lu_logits", "lc_logits"],
            dynamic_axes={"x": dyn, "lu_logits": dyn, "lc_logits": dyn},
            opset_version=17,
            dynamo=False,
        )
    meta = {
        "channels": json.dumps(list(CHANNELS)),
        "land_use_classes": json.dumps(list(LAND_USE)),
        "land_cover_classes": json.dumps(list(LAND_COVER)),
        "grid": "0.05 deg regular lat-lon; H and W multiples of 16",
        **(metadata or {}),
    }
    return stamp_and_publish(tmp, out, meta)


def stamp_and_publish(tmp: Path, out: Path, meta: dict[str, str]) -> Path:
    """Write metadata into the exported ONNX file at tmp, then move it to out in one step."""
    import onnx

    proto = onnx.load(str(tmp))
    for k, v in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.save(proto, str(tmp))
    os.replace(tmp, out)
    return out


def parity(model: UNet | Ensemble, onnx_path: Path, x: np.ndarray) -> float:
    """Max |torch − ONNX Runtime| over both heads' logits for the batch x."""
    from emulators.lulc.infer import OnnxLulc

    with torch.no_grad():
        ref = [t.numpy() for t in model(torch.from_numpy(x))]
    got = OnnxLulc(onnx_path).logits(x)
    return max(float(np.abs(a - b).max()) for a, b in zip(ref, got, strict=True))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m emulators.lulc.export", description=__doc__)
    p.add_argument(
        "--checkpoint",
        type=Path,
        action="append",
        help=f"repeat for an ensemble; default {DEFAULT_CHECKPOINT}",
    )
    p.add_argument(
        "--mirror",
        action="store_true",
        help="ensemble: also run each member on the east–west mirror",
    )
    p.add_argument("--out", type=Path, default=MODEL_PATH)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    checkpoints = args.checkpoint or [DEFAULT_CHECKPOINT]
    members, metrics = zip(*(load_checkpoint(c) for c in checkpoints), strict=True)
    if len(members) == 1 and not args.mirror:
        model, meta = members[0], {"training_metrics": json.dumps(metrics[0])}
    else:
        model = Ensemble(list(members), mirror=args.mirror).eval()
        meta = {
            "ensemble": json.dumps(
                {"members": [str(c) for c in checkpoints], "mirror": args.mirror}
            ),
            "training_metrics": json.dumps(list(metrics)),
        }
    export_onnx(model, args.out, meta)
    x = np.random.default_rng(0).normal(size=(2, N_CHANNELS, 96, 160)).astype(np.float32)
    diff = parity(model, args.out, x)
    print(
        json.dumps(
            {"onnx": str(args.out), "bytes": args.out.stat().st_size, "max_abs_logit_diff": diff}
        )
    )
    if diff > 1e-4:
        raise ModelError(f"ONNX Runtime and torch differ by {diff:.3g} > 1e-4 on logits")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except ModelError as exc:  # a clear message, not a traceback
        raise SystemExit(f"error: {exc}") from None
