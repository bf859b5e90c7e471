"""Run a convolutional model over overlapping windows and blend them, independent of tiling.

A CNN (the land-use U-Net, the LAI U-Net) sees a window of fixed size; a fine tile or a
region is larger. `blend_windows` cuts the (C, H, W) input into windows placed on a lattice
anchored at the *global* grid origin, runs the model on batches of windows, drops a margin
of `margin` pixels at each window edge (where the model lacks context), and blends the
overlapping window cores with Gaussian weights (so seams between windows do not show).

Why the lattice is global: a rank that holds a tile plus a halo of at least `window`
pixels computes exactly the windows, with exactly the inputs, that a single process
holding the whole domain computes for the pixels of that tile, and adds them in the same
order — so the result does not depend on how the domain is split into tiles or ranks.
Pure numpy: no MPI, no I/O; the model is any callable on (B, C, h, w) float32 arrays.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from coupler.errors import FieldError

Model = Callable[[np.ndarray], np.ndarray]


def gaussian_weights(core: int, sigma_fraction: float = 0.25) -> np.ndarray:
    """(core, core) weights, 1 at the centre, falling as a Gaussian of sigma = core·fraction.

    The floor (1e-3 of the peak) keeps every pixel of a core weighted, so a pixel covered
    by one core only is still defined.
    """
    x = np.arange(core, dtype=np.float64) - (core - 1) / 2.0
    g = np.exp(-0.5 * (x / (sigma_fraction * core)) ** 2)
    w = np.outer(g, g)
    return np.maximum(w / w.max(), 1e-3)


def window_starts(length: int, origin: int, core: int, stride: int) -> list[int]:
    """Local starts of the cores that touch pixels 0..length-1 of an array at global `origin`.

    Cores start at global positions k·stride for every integer k; local = global - origin.
    """
    first = (origin - core) // stride + 1
    last = (origin + length - 1) // stride
    return [k * stride - origin for k in range(first, last + 1)]


def required_halo(window: int, margin: int) -> int:
    """Halo a tile needs so that every window touching its interior lies inside tile + halo."""
    return window - margin - 1


def lattice_halo(length: int, tile: int, window: int, margin: int, overlap: int) -> int:
    """The halo tiles of `tile` cells along an axis of `length` cells need so that every
    window touching a tile lies inside tile + halo (≤ required_halo; `margin` when the
    cores line up with the tiles)."""
    core = window - 2 * margin
    stride = core - overlap
    need = 0
    for t0 in range(0, length, tile):
        n = min(tile, length - t0)
        starts = window_starts(n, t0, core, stride)
        need = max(need, margin - starts[0], starts[-1] + core + margin - n)
    return need


def blend_windows(
    model: Model,
    field: np.ndarray,
    *,
    window: int,
    margin: int,
    overlap: int,
    batch_size: int = 4,
    origin: tuple[int, int] = (0, 0),
    pad_mode: str = "reflect",
    sigma_fraction: float = 0.25,
    halo: int = 0,
    cache: dict | None = None,
) -> np.ndarray:
    """Apply `model` to `field` (C, H, W) through overlapping windows; return (K, H, W) float64.

    window:   side of the square window the model sees (e.g. 256; a U-Net needs a
              multiple of 2**levels).
    margin:   pixels dropped at each window edge; at least the model's receptive radius
              for results equal to a whole-domain run (they are then exact up to rounding).
    overlap:  pixels by which neighbouring cores (window - 2·margin) overlap and blend.
    origin:   global (row, column) of field[:, 0, 0]; windows sit on a lattice anchored
              at global (0, 0), so tiles of one domain agree where they overlap.
    pad_mode: numpy.pad mode for context beyond the array edge (the domain edge).
    halo:     the outer `halo` pixels of `field` are context only: the result is the interior
              (K, H - 2·halo, W - 2·halo), and only cores touching it run. With
              halo ≥ window - margin - 1 no padding is needed (`required_halo`), which is how
              a fine tile reproduces the whole-domain run.
    cache:    a dict shared by the tiles of one rank for one run of the model: windows
              already predicted (keyed by the global position of their core) are reused,
              so a window two tiles touch runs once. Only for fields holding the same
              global data (the tiles of one domain at one time).
    The model maps (B, C, window, window) float32 to (B, K, window, window).
    """
    if field.ndim != 3:
        raise FieldError(f"blend_windows expects a (C, H, W) array, got shape {field.shape}")
    core = window - 2 * margin
    if margin < 0 or core < 1:
        raise FieldError(
            f"window {window} leaves no core after dropping margin {margin} on each side"
        )
    stride = core - overlap
    if overlap < 0 or stride < 1:
        raise FieldError(f"overlap {overlap} must be in [0, {core - 1}] for a core of {core}")
    if batch_size < 1:
        raise FieldError(f"batch_size must be ≥ 1, got {batch_size}")
    _, full_height, full_width = field.shape
    if halo < 0 or 2 * halo >= min(full_height, full_width):
        raise FieldError(f"halo {halo} leaves no interior in a field of shape {field.shape}")
    # Below, rows/cols and the output are relative to the interior; `field` is read with
    # the halo offset folded into the padding.
    height, width = full_height - 2 * halo, full_width - 2 * halo
    rows = window_starts(height, origin[0] + halo, core, stride)
    cols = window_starts(width, origin[1] + halo, core, stride)
    # Pad so every window (core start - margin .. + window) lies inside the padded array.
    pad_top = max(0, margin - rows[0] - halo)
    pad_left = max(0, margin - cols[0] - halo)
    pad_bottom = max(0, rows[-1] + core + margin - height - halo)
    pad_right = max(0, cols[-1] + core + margin - width - halo)
    padded = np.pad(
        np.asarray(field, dtype=np.float32),
        ((0, 0), (pad_top, pad_bottom), (pad_left, pad_right)),
        mode=pad_mode,
    )
    pad_top, pad_left = pad_top + halo, pad_left + halo  # interior row 0 → padded row
    weights = gaussian_weights(core, sigma_fraction)
    placements = [(r, c) for r in rows for c in cols]
    cores = {} if cache is None else cache  # global core start → core prediction (K, core²)
    at = (origin[0] + halo, origin[1] + halo)  # global (row, column) of interior (0, 0)
    todo = [(r, c) for r, c in placements if (r + at[0], c + at[1]) not in cores]
    for b in range(0, len(todo), batch_size):
        chunk = todo[b : b + batch_size]
        batch = np.stack(
            [
                padded[:, r - margin + pad_top : r - margin + pad_top + window,
                       c - margin + pad_left : c - margin + pad_left + window]
                for r, c in chunk
            ]
        )  # fmt: skip
        result = np.asarray(model(batch))
        if (
            result.ndim != 4
            or result.shape[0] != len(chunk)
            or result.shape[2:] != (window, window)
        ):
            raise FieldError(
                f"model returned shape {result.shape} for windows {batch.shape};"
                f" expected ({len(chunk)}, K, {window}, {window})"
            )
        for (r, c), pred in zip(chunk, result, strict=True):
            cores[r + at[0], c + at[1]] = pred[:, margin : margin + core, margin : margin + core]
    first = cores[rows[0] + at[0], cols[0] + at[1]]
    out = np.zeros((first.shape[0], height, width))
    weight_sum = np.zeros((height, width))
    for r, c in placements:  # always in lattice order: the same sums on any tiling
        _accumulate(out, weight_sum, cores[r + at[0], c + at[1]], weights, r, c)
    return out / weight_sum


def _accumulate(
    out: np.ndarray,
    weight_sum: np.ndarray,
    core_pred: np.ndarray,
    weights: np.ndarray,
    r: int,
    c: int,
) -> None:
    """Add one core's weighted prediction where it overlaps the output array."""
    height, width = weight_sum.shape
    core = weights.shape[0]
    r0, r1 = max(r, 0), min(r + core, height)
    c0, c1 = max(c, 0), min(c + core, width)
    w = weights[r0 - r : r1 - r, c0 - c : c1 - c]
    out[:, r0:r1, c0:c1] += w * core_pred[:, r0 - r : r1 - r, c0 - c : c1 - c]
    weight_sum[r0:r1, c0:c1] += w
