"""Inference with an exported LAI ONNX model (runtime path: onnxruntime, no torch).

`OnnxLai` wraps either design: the separate model (one output `lai`) or the joint model
(`lu_logits`, `lc_logits`, `lai`); calling it returns LAI (B, 1, h, w) for
coupler/blending.py, which runs it over overlapping, Gaussian-blended windows so a region of
any size (and any tiling of it) gets the same answer as one whole-region pass.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from coupler.blending import blend_windows
from coupler.errors import FieldError, ModelError
from emulators.lai.features import N_CHANNELS, N_CHANNELS_V2

MODEL_PATH = Path(__file__).with_name("lai.onnx")
WINDOW, MARGIN, OVERLAP = 256, 32, 64


class OnnxLai:
    """The ONNX model as a callable (B, C, h, w) float32 → LAI (B, 1, h, w)."""

    def __init__(self, path: str | Path = MODEL_PATH, threads: int = 1) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        if not Path(path).is_file():
            raise ModelError(f"LAI model '{path}' not found (make models-lai)")
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError(f"LAI model '{path}' cannot be loaded ({exc})") from exc
        outputs = [o.name for o in self.session.get_outputs()]
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or "lai" not in outputs:
            raise ModelError(
                f"LAI model '{path}' has inputs {[i.name for i in inputs]} and outputs "
                f"{outputs}; expected one input and an output named 'lai'"
            )
        self.input_name = inputs[0].name
        self.channels = int(inputs[0].shape[1])
        self.outputs = outputs
        self.joint = outputs != ["lai"]

    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """Outputs by name. A separate model exported before the vegetation channels (38)
        reads the leading channels of a 43-channel input: features.CHANNELS only grows at
        its end, so v2 and v3 are scored on the same inputs."""
        legacy = not self.joint and self.channels == N_CHANNELS_V2
        if legacy and batch.ndim == 4 and batch.shape[1] == N_CHANNELS:
            batch = batch[:, :N_CHANNELS_V2]
        if batch.ndim != 4 or batch.shape[1] != self.channels:
            raise FieldError(
                f"LAI model input must be (B, {self.channels}, H, W), got {batch.shape}"
            )
        out = self.session.run(None, {self.input_name: np.ascontiguousarray(batch, np.float32)})
        return dict(zip(self.outputs, out, strict=True))

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.run(batch)["lai"][:, None]


def predict_lai(model: OnnxLai, x: np.ndarray, origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """LAI (H, W) float32 of a (C, H, W) input tile, blended windows of 256 px."""
    if not np.isfinite(x).all():
        raise FieldError("LAI model input holds NaN/inf values")
    out = blend_windows(model, x, window=WINDOW, margin=MARGIN, overlap=OVERLAP, origin=origin)
    return out[0].astype(np.float32)
