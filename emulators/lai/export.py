"""Export a trained LAI model (either design) to ONNX and check it against torch.

    python -m emulators.lai.export --checkpoint run/data/lai/separate_seed0/best.pt
                                   [--out emulators/lai/lai.onnx]

Dynamic batch/height/width, opset 17, channel order and design as metadata, written
atomically. Parity: max |torch − ONNX Runtime| LAI ≤ 1e-4 (tests/test_lai_model.py).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from coupler.errors import ModelError
from emulators.lai.features import CHANNELS
from emulators.lai.infer import MODEL_PATH, OnnxLai
from emulators.lai.train import model_of_config
from emulators.lulc.export import stamp_and_publish


def load_checkpoint(path: Path) -> tuple[torch.nn.Module, dict]:
    """(model in eval mode, checkpoint config) of a training checkpoint."""
    if not Path(path).is_file():
        raise ModelError(
            f"checkpoint '{path}' not found; train first (python -m emulators.lai.train)"
        )
    saved = torch.load(path, weights_only=False)
    model = model_of_config(saved["config"])
    model.load_state_dict(saved["model"])
    return model.eval(), saved


def in_channels(model: torch.nn.Module) -> int:
    return model.inc[0].in_channels


def export_onnx(model: torch.nn.Module, out: Path, metadata: dict[str, str] | None = None) -> Path:

    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    x = torch.zeros(1, in_channels(model), 64, 64)
    joint = isinstance(model(x), tuple)
    names = ["lu_logits", "lc_logits", "lai"] if joint else ["lai"]
    dyn = {0: "batch", 2: "height", 3: "width"}
    axes = {
        "x": dyn,
        **{n: ({0: "batch", 1: "height", 2: "width"} if n == "lai" else dyn) for n in names},
    }
    with torch.no_grad():
        torch.onnx.export(
            model,
            (x,),
            str(tmp),
            input_names=["x"],
            output_names=names,
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    meta = {
        "design": "joint" if joint else "separate",
        "lai_channels": json.dumps(list(CHANNELS)),
        "target": "SEMI-EMPIRICAL monthly LAI (emulators/lai/target.py)",
        "grid": "0.05 deg regular lat-lon; H and W multiples of 16",
        **(metadata or {}),
    }
    return stamp_and_publish(tmp, out, meta)


def parity(model: torch.nn.Module, onnx_path: Path, x: np.ndarray) -> float:
    """Max |torch − ONNX Runtime| of the LAI output for the batch x."""
    with torch.no_grad():
        ref = model(torch.from_numpy(x))
    ref = ref[2] if isinstance(ref, tuple) else ref
    return float(np.abs(ref.numpy() - OnnxLai(onnx_path).run(x)["lai"]).max())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m emulators.lai.export", description=__doc__)
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--out", type=Path, default=MODEL_PATH)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    model, saved = load_checkpoint(args.checkpoint)
    export_onnx(model, args.out, {"training_metrics": json.dumps(saved.get("metrics", {}))})
    x = np.random.default_rng(0).normal(size=(2, in_channels(model), 96, 160)).astype(np.float32)
    diff = parity(model, args.out, x)
    print(
        json.dumps({"onnx": str(args.out), "bytes": args.out.stat().st_size, "max_abs_diff": diff})
    )
    if diff > 1e-4:
        raise ModelError(f"ONNX Runtime and torch LAI differ by {diff:.3g} > 1e-4")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
