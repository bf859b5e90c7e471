"""Inference with the shipped land-use ONNX model: tiled, blended, consistent with the coarse input.

The runtime path (no torch): the model runs over overlapping windows blended with Gaussian
weights (coupler/blending.py, the path the coupler's tiled CNN step uses), giving class
probabilities; then

* land use is *allocated* to the coarse fractions: in every coarse cell, the pixel counts
  per class are the cell's fractions (largest-remainder rounding), given to the pixels
  whose predicted probability for a class is highest first (greedy). The fine map then
  agrees with the coarse input by construction — what a host's scenario needs (raise the
  coarse cropland share, get that much more fine cropland) — and the network decides
  *where*;
* land cover is the most probable class compatible with the pixel's land use under the
  IGBP tables (e.g. no "crop" land cover on "forest" land use);
* visible prior pixels come first in both (the prior persists unless the coarse fractions
  demand a change).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from coupler.blending import blend_windows
from coupler.errors import FieldError, ModelError
from emulators.lulc.architecture import RECEPTIVE_FIELD
from emulators.lulc.classes import compatible_lc_given_lu
from emulators.lulc.features import (
    MASK,
    N_CHANNELS,
    N_LC,
    N_LU,
    PRIOR_LC,
    PRIOR_LU,
    check_inputs,
)

MODEL_PATH = Path(__file__).with_name("lulc.onnx")
WINDOW, MARGIN, OVERLAP = 256, 32, 64


class OnnxLulc:
    """The ONNX model as a callable (B, 40, h, w) float32 → (B, 19, h, w) probabilities
    (8 land-use, then 11 land-cover), on a fixed number of threads."""

    def __init__(self, path: str | Path = MODEL_PATH, threads: int = 1) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError(f"land-use model '{path}' cannot be loaded ({exc})") from exc
        inputs = self.session.get_inputs()
        outputs = [o.name for o in self.session.get_outputs()]
        if (
            len(inputs) != 1
            or inputs[0].shape[1] != N_CHANNELS
            or outputs != ["lu_logits", "lc_logits"]
        ):
            raise ModelError(
                f"land-use model '{path}' has inputs {[(i.name, i.shape) for i in inputs]} and "
                f"outputs {outputs}; expected one (B, {N_CHANNELS}, H, W) input and outputs "
                "['lu_logits', 'lc_logits']"
            )
        self.input_name = inputs[0].name

    def logits(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lu, lc = self.session.run(
            None, {self.input_name: np.ascontiguousarray(batch, dtype=np.float32)}
        )
        return lu, lc

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return np.concatenate([softmax(z) for z in self.logits(batch)], axis=1)


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def predict_probabilities(
    model,
    x: np.ndarray,
    origin: tuple[int, int] = (0, 0),
    window: int = WINDOW,
    halo: int = 0,
    cache: dict | None = None,
    batch_size: int = 4,
) -> np.ndarray:
    """(19, H − 2·halo, W − 2·halo) blended probabilities for a checked (40, H, W) input
    tile whose outer `halo` pixels are context only (coupler.blending.blend_windows)."""
    check_inputs(x)
    if min(x.shape[1:]) < RECEPTIVE_FIELD:
        raise FieldError(
            f"input tile {x.shape[1]}×{x.shape[2]} is smaller than the U-Net's receptive field "
            f"({RECEPTIVE_FIELD} px): add a halo of context around the region"
        )
    overlap = OVERLAP * window // WINDOW
    return blend_windows(
        model,
        x,
        window=window,
        margin=MARGIN,
        overlap=overlap,
        origin=origin,
        halo=halo,
        cache=cache,
        batch_size=batch_size,
    )


def allocate(prob: np.ndarray, coarse: np.ndarray, factor: int) -> np.ndarray:
    """Land-use labels (H, W) whose class counts in every factor×factor cell match `coarse`
    (K, H/f, W/f), pixels taken by descending probability `prob` (K, H, W)."""
    k, h, w = prob.shape
    if coarse.shape != (k, h // factor, w // factor) or h % factor or w % factor:
        raise FieldError(
            f"coarse fractions {coarse.shape} do not tile probabilities {prob.shape} by {factor}"
        )
    labels = np.empty((h, w), dtype=np.uint8)
    n = factor * factor
    for i in range(h // factor):
        for j in range(w // factor):
            cell = prob[:, i * factor : (i + 1) * factor, j * factor : (j + 1) * factor].reshape(
                k, n
            )
            labels[i * factor : (i + 1) * factor, j * factor : (j + 1) * factor] = _allocate_cell(
                cell, coarse[:, i, j], n
            ).reshape(factor, factor)
    return labels


def quotas(fractions: np.ndarray, n: int) -> np.ndarray:
    """Integer counts summing to n, proportional to `fractions` (largest remainder)."""
    f = np.maximum(fractions, 0.0)
    f = f / f.sum() if f.sum() > 0 else np.full_like(f, 1.0 / f.size)
    exact = f * n
    q = np.floor(exact).astype(np.int64)
    q[np.argsort(-(exact - q), kind="stable")[: n - q.sum()]] += 1
    return q


def _allocate_cell(p: np.ndarray, fractions: np.ndarray, n: int) -> np.ndarray:
    left = quotas(fractions, n)
    out = np.full(n, -1, dtype=np.int64)
    order = np.argsort(-p.ravel(), kind="stable")  # (class, pixel) pairs, most probable first
    unassigned = n
    for flat in order:
        c, px = divmod(int(flat), n)
        if out[px] < 0 and left[c] > 0:
            out[px] = c
            left[c] -= 1
            unassigned -= 1
            if unassigned == 0:
                break
    return out.astype(np.uint8)


def decode_land_cover(prob_lc: np.ndarray, land_use: np.ndarray) -> np.ndarray:
    """Most probable land-cover class allowed on each pixel's land use."""
    allowed = compatible_lc_given_lu()[land_use].transpose(2, 0, 1)  # (11, H, W)
    return np.where(allowed, prob_lc, -1.0).argmax(axis=0).astype(np.uint8)


@dataclass
class Prediction:
    lu: np.ndarray  # allocated land use (H, W)
    lc: np.ndarray  # land cover decoded under the land use (H, W)
    lu_raw: np.ndarray  # argmax of the network's land-use probabilities
    lc_raw: np.ndarray
    prob: np.ndarray  # (19, H, W)


def predict_maps(
    model,
    x: np.ndarray,
    coarse: np.ndarray,
    factor: int,
    origin: tuple[int, int] = (0, 0),
    keep_prior: bool = True,
) -> Prediction:
    """Land-use and land-cover maps for an input tile whose edges lie on the coarse lattice.

    keep_prior: visible prior pixels go first in the allocation and the land-cover decoding
    (their class gets +1 probability), so the prior persists where the coarse fractions
    leave room for it and changes only where they demand it.
    """
    prob = predict_probabilities(model, x, origin)
    p_lu, p_lc = prob[:N_LU], prob[N_LU : N_LU + N_LC]
    if keep_prior:
        visible = x[MASK] < 0.5
        p_lu = p_lu + x[PRIOR_LU] * visible
        p_lc = p_lc + x[PRIOR_LC] * visible
    lu = allocate(p_lu, coarse, factor)
    lc = decode_land_cover(p_lc, lu)
    return Prediction(
        lu, lc, prob[:N_LU].argmax(0).astype(np.uint8), prob[N_LU:].argmax(0).astype(np.uint8), prob
    )
