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

`Decoding` names how probabilities become maps. `EXACT` (the default, and what the online
step does) allocates exactly as above. `PRODUCT` (the evaluated product, chosen on validation
blocks by `python -m emulators.lulc.evaluate validation`) keeps the network's own land use
and moves only as many pixels per coarse cell as bring it within `tolerance` of the coarse
fractions (the least confident first), and ranks a hidden pixel's land-cover classes by
network probability × (floor + the class's share among visible prior pixels within
`radius` px): tree types and shrub vs grass follow the neighbourhood the network under-uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

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


def repair_to_tolerance(
    prob: np.ndarray, labels: np.ndarray, coarse: np.ndarray, factor: int, tolerance: float
) -> np.ndarray:
    """`labels` changed as little as needed for every factor×factor cell to lie within
    `tolerance` (½ Σ_k |count_k/n − quota_k/n|) of its coarse fractions: pixels move from
    classes over their quota to classes under it, the smallest probability loss first."""
    k, h, w = prob.shape
    if coarse.shape != (k, h // factor, w // factor) or h % factor or w % factor:
        raise FieldError(
            f"coarse fractions {coarse.shape} do not tile probabilities {prob.shape} by {factor}"
        )
    out = labels.astype(np.uint8)
    n = factor * factor
    allowed = int(np.floor(tolerance * n + 1e-9))
    for i in range(h // factor):
        for j in range(w // factor):
            rows, cols = slice(i * factor, (i + 1) * factor), slice(j * factor, (j + 1) * factor)
            cell = out[rows, cols].reshape(n).astype(np.int64)
            surplus = np.bincount(cell, minlength=k) - quotas(coarse[:, i, j], n)
            moves = int(np.abs(surplus).sum()) // 2 - allowed
            if moves > 0:
                p = prob[:, rows, cols].reshape(k, n)
                out[rows, cols] = _move_pixels(p, cell, surplus, moves).reshape(factor, factor)
    return out


def _move_pixels(p: np.ndarray, cell: np.ndarray, surplus: np.ndarray, moves: int) -> np.ndarray:
    loss = p[cell, np.arange(cell.size)][None, :] - p  # (class, pixel): cost of moving there
    moved = np.zeros(cell.size, dtype=bool)
    for flat in np.argsort(loss.ravel(), kind="stable"):
        c, px = divmod(int(flat), cell.size)
        here = cell[px]
        if moved[px] or surplus[here] <= 0 or surplus[c] >= 0:
            continue
        cell[px], moved[px] = c, True
        surplus[here] -= 1
        surplus[c] += 1
        moves -= 1
        if moves == 0:
            break
    return cell.astype(np.uint8)


def box_mean(field: np.ndarray, radius: int) -> np.ndarray:
    """Mean of (..., H, W) over (2·radius + 1)² boxes, clipped at the edges (summed-area table)."""
    h, w = field.shape[-2:]
    table = np.zeros((*field.shape[:-2], h + 1, w + 1))
    table[..., 1:, 1:] = field.cumsum(-2).cumsum(-1)
    r0 = np.clip(np.arange(h) - radius, 0, h)
    r1 = np.clip(np.arange(h) + radius + 1, 0, h)
    c0 = np.clip(np.arange(w) - radius, 0, w)
    c1 = np.clip(np.arange(w) + radius + 1, 0, w)
    total = (
        table[..., r1[:, None], c1[None, :]]
        - table[..., r0[:, None], c1[None, :]]
        - table[..., r1[:, None], c0[None, :]]
        + table[..., r0[:, None], c0[None, :]]
    )
    return total / ((r1 - r0)[:, None] * (c1 - c0)[None, :])


def neighbourhood_share(prior_onehot: np.ndarray, visible: np.ndarray, radius: int) -> np.ndarray:
    """(K, H, W) share of each class among the visible prior pixels within `radius` px
    (0 where none is visible)."""
    seen = box_mean(visible.astype(np.float64), radius)
    counts = box_mean(prior_onehot * visible, radius)
    return np.where(seen > 0, counts / np.maximum(seen, 1e-12), 0.0)


def decode_land_cover(prob_lc: np.ndarray, land_use: np.ndarray) -> np.ndarray:
    """Most probable land-cover class allowed on each pixel's land use."""
    allowed = compatible_lc_given_lu()[land_use].transpose(2, 0, 1)  # (11, H, W)
    return np.where(allowed, prob_lc, -1.0).argmax(axis=0).astype(np.uint8)


@dataclass(frozen=True)
class Decoding:
    """How probabilities become maps (see the module docstring)."""

    tolerance: float = 0.0  # per coarse cell, share of area allowed off the coarse fractions
    radius: int = 0  # land cover: neighbourhood of visible prior pixels (0 = not used)
    floor: float = 0.01  # land cover: weight of a class absent from that neighbourhood


EXACT: Final = Decoding()
PRODUCT: Final = Decoding(tolerance=0.04, radius=32, floor=0.01)


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
    decoding: Decoding = EXACT,
) -> Prediction:
    """Land-use and land-cover maps for an input tile whose edges lie on the coarse lattice.

    keep_prior: visible prior pixels go first in the allocation and the land-cover decoding
    (their class gets +1 probability), so the prior persists where the coarse fractions
    leave room for it and changes only where they demand it.
    """
    prob = predict_probabilities(model, x, origin)
    return decode_maps(prob, x, coarse, factor, keep_prior, decoding)


def decode_maps(
    prob: np.ndarray,
    x: np.ndarray,
    coarse: np.ndarray,
    factor: int,
    keep_prior: bool = True,
    decoding: Decoding = EXACT,
    land_use: np.ndarray | None = None,
) -> Prediction:
    """Maps from the blended probabilities (19, H, W) of the input tile x (40, H, W).

    `land_use`, if given, replaces the decoded land use under the land cover: a diagnostic
    (with the true land use it measures how much land-cover error is land use's)."""
    p_lu, p_lc = prob[:N_LU], prob[N_LU : N_LU + N_LC]
    visible = (x[MASK] < 0.5) if keep_prior else np.zeros(x.shape[1:], dtype=bool)
    p_lu = p_lu + x[PRIOR_LU] * visible
    scores_lc = p_lc + x[PRIOR_LC] * visible
    if land_use is not None:
        lu = land_use
    elif decoding.tolerance > 0:
        lu = repair_to_tolerance(p_lu, p_lu.argmax(0), coarse, factor, decoding.tolerance)
    else:
        lu = allocate(p_lu, coarse, factor)
    if decoding.radius > 0:
        share = neighbourhood_share(x[PRIOR_LC], visible, decoding.radius)
        scores_lc = np.where(visible, scores_lc, p_lc * (decoding.floor + share))
    lc = decode_land_cover(scores_lc, lu)
    return Prediction(
        lu, lc, prob[:N_LU].argmax(0).astype(np.uint8), prob[N_LU:].argmax(0).astype(np.uint8), prob
    )
