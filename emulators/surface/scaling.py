"""Spatial scaling diagnostics: how much fine-scale information a coarse host loses.

Seed 000 §3.2 (after Vergopolan et al. 2022): average a fine field to coarser scales of
``s`` fine cells (1, 2, 3, 4, 5, 6, 12 at 1/120° = 1 km ... 12 km), take the spatial
standard deviation σ_s of the upscaled field inside each analysis box (0.5° = 60 fine
cells), fit ``log(σ_s/σ_1) = β log(s)`` (through the origin, as the seed's "∝" says) and
report the information loss ``γ_s = (1 − σ_s/σ_1)·100 %``.

Pure numpy on arrays shaped ``(..., ny, nx)``: any leading axes (time, month, PFT) are
carried through. NaN marks cells without data (ocean); a coarse cell is the mean of its
valid fine cells, and σ is the population (area-weighted, ddof=0) standard deviation of
the valid coarse cells in a box — for white noise that is 1/s·sqrt(1 − (s/box)²) of σ_1,
i.e. within 2 % of 1/s for s ≤ 12 in a 60-cell box. The xarray layer (issue 14) wraps these
functions; keep their signatures stable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from coupler.errors import FieldError

#: The seed's scales in fine cells (1/120° → 1/60°, 1/40°, 1/30°, 1/24°, 1/20°, 1/10°).
SEED_SCALES: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 12)
#: The seed's analysis box: 0.5° of 1/120° cells.
SEED_BOX_CELLS = 60


@dataclass(frozen=True)
class ScalingResult:
    """σ per scale and box, β per box and γ per scale and box.

    ``sigma`` has shape ``(n_scales, ..., n_box_y, n_box_x)``; ``beta`` drops the scale
    axis; ``gamma`` (percent) has the shape of ``sigma``, 0 at scale 1.
    """

    scales: tuple[int, ...]
    sigma: np.ndarray
    beta: np.ndarray
    gamma: np.ndarray

    def gamma_at(self, scale: int) -> np.ndarray:
        """γ (percent) at one of the computed scales, e.g. ``gamma_at(12)`` = γ_12km."""
        if scale not in self.scales:
            raise FieldError(f"scale {scale} was not computed; scales are {self.scales}")
        return self.gamma[self.scales.index(scale)]


def check_scales(scales: Sequence[int], box_cells: int) -> tuple[int, ...]:
    """Scales as a tuple, starting at 1, increasing, each dividing the box."""
    scales = tuple(int(s) for s in scales)
    if not scales or scales[0] != 1:
        raise FieldError(f"scales must start with 1 (the reference scale); got {scales}")
    if any(b <= a for a, b in pairwise(scales)):
        raise FieldError(f"scales must be strictly increasing; got {scales}")
    bad = [s for s in scales if box_cells % s]
    if bad:
        raise FieldError(f"scales {bad} do not divide the box of {box_cells} fine cells")
    if box_cells // scales[-1] < 2:
        raise FieldError(
            f"the largest scale {scales[-1]} leaves fewer than 2×2 coarse cells in a box of "
            f"{box_cells}; σ is undefined"
        )
    return scales


def _blocks(field: np.ndarray, factor: int) -> np.ndarray:
    """View ``(..., ny, nx)`` as ``(..., ny/f, f, nx/f, f)``; shape must divide."""
    ny, nx = field.shape[-2:]
    if ny % factor or nx % factor:
        raise FieldError(
            f"field of shape {field.shape} is not a whole number of {factor}×{factor} blocks"
        )
    return field.reshape(*field.shape[:-2], ny // factor, factor, nx // factor, factor)


def coarsen_mean(field: np.ndarray, factor: int) -> np.ndarray:
    """Mean of the valid (non-NaN) cells in each ``factor×factor`` block; NaN if none."""
    blocks = _blocks(np.asarray(field, dtype=np.float64), factor)
    valid = ~np.isnan(blocks)
    count = valid.sum(axis=(-3, -1))
    total = np.where(valid, blocks, 0.0).sum(axis=(-3, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def box_std(field: np.ndarray, cells_per_box: int) -> np.ndarray:
    """Population std of the valid cells inside each ``cells_per_box`` square box.

    NaN where a box has fewer than two valid cells.
    """
    blocks = _blocks(np.asarray(field, dtype=np.float64), cells_per_box)
    valid = ~np.isnan(blocks)
    count = valid.sum(axis=(-3, -1))
    safe = np.maximum(count, 1)
    filled = np.where(valid, blocks, 0.0)
    mean = filled.sum(axis=(-3, -1)) / safe
    anomaly = np.where(valid, blocks - mean[..., :, None, :, None], 0.0)
    variance = (anomaly * anomaly).sum(axis=(-3, -1)) / safe
    return np.where(count >= 2, np.sqrt(variance), np.nan)


def box_sigma(
    field: np.ndarray, box_cells: int = SEED_BOX_CELLS, scales: Sequence[int] = SEED_SCALES
) -> np.ndarray:
    """σ_s within each box of ``box_cells`` fine cells, for each scale ``s`` (fine cells).

    ``field``: ``(..., ny, nx)`` fine field, ny and nx multiples of ``box_cells``.
    Returns ``(n_scales, ..., ny/box_cells, nx/box_cells)``.
    """
    field = np.asarray(field, dtype=np.float64)
    if field.ndim < 2:
        raise FieldError(f"scaling needs a 2-D (…, ny, nx) field; got shape {field.shape}")
    scales = check_scales(scales, box_cells)
    return np.stack([box_std(coarsen_mean(field, s), box_cells // s) for s in scales])


def scaling_beta(scales: Sequence[int], sigma: np.ndarray) -> np.ndarray:
    """β of ``log(σ_s/σ_1) = β·log(s)``, least squares through the origin, per box.

    ``sigma``: ``(n_scales, ...)`` with scale 1 first. Scales whose σ is NaN or 0 are left
    out of that box's fit; β is NaN where σ_1 is 0/NaN or no other scale remains.
    """
    scales = tuple(scales)
    sigma = np.asarray(sigma, dtype=np.float64)
    if sigma.shape[0] != len(scales) or scales[0] != 1:
        raise FieldError(
            f"sigma's first axis ({sigma.shape[0]}) must match scales {scales} starting at 1"
        )
    log_scale = np.log(np.asarray(scales, dtype=np.float64)).reshape(-1, *[1] * (sigma.ndim - 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        log_ratio = np.log(sigma / sigma[0])
    usable = np.isfinite(log_ratio)
    sxy = np.where(usable, log_scale * log_ratio, 0.0).sum(axis=0)
    sxx = np.where(usable, log_scale * log_scale, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sxx > 0, sxy / np.where(sxx > 0, sxx, 1.0), np.nan)


def information_loss(sigma: np.ndarray) -> np.ndarray:
    """γ_s = (1 − σ_s/σ_1)·100 % for every scale (first axis, scale 1 first)."""
    sigma = np.asarray(sigma, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (1.0 - sigma / sigma[0]) * 100.0


def scaling_diagnostics(
    field: np.ndarray, box_cells: int = SEED_BOX_CELLS, scales: Sequence[int] = SEED_SCALES
) -> ScalingResult:
    """σ, β and γ of a fine field in one call (see the module docstring)."""
    scales = check_scales(scales, box_cells)
    sigma = box_sigma(field, box_cells, scales)
    return ScalingResult(scales, sigma, scaling_beta(scales, sigma), information_loss(sigma))
