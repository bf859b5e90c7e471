"""Run a convolutional model over overlapping windows and blend them, independent of tiling.

A CNN (the land-use U-Net, the LAI U-Net) sees a window of fixed size; a fine tile or a
region is larger. The (C, H, W) input is cut into windows placed on a lattice anchored at
the *global* grid origin; the model runs on batches of windows, a margin of `margin` pixels
at each window edge is dropped (where the model lacks context), and the overlapping window
cores are blended with Gaussian weights (so seams between windows do not show).

Why the lattice is global: a rank that holds a tile plus a halo of at least `window`
pixels computes exactly the windows, with exactly the inputs, that a single process
holding the whole domain computes for the pixels of that tile, and adds them in the same
order — so the result does not depend on how the domain is split into tiles or ranks.

Three pieces, so the tiles of a rank can share model calls:
  `TileWindows`     the windows one tile (+ halo) needs, keyed by their global core position;
  `predict_windows` the model on every window several tiles need, once each, in global
                    lattice order, `batch_size` windows per call;
  `TileWindows.blend` a tile's result from the predicted cores (always in lattice order).
`blend_windows` is the three for one array. Pure numpy: no MPI, no I/O; the model is any
callable on (B, C, h, w) float32 arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from coupler.errors import FieldError

Model = Callable[[np.ndarray], np.ndarray]
Key = tuple[int, int]  # global (row, column) of a window's core


@lru_cache(maxsize=16)
def _gaussian(core: int, sigma_fraction: float) -> np.ndarray:
    x = np.arange(core, dtype=np.float64) - (core - 1) / 2.0
    g = np.exp(-0.5 * (x / (sigma_fraction * core)) ** 2)
    w = np.outer(g, g)
    w = np.maximum(w / w.max(), 1e-3)
    w.flags.writeable = False  # shared by every caller
    return w


def gaussian_weights(core: int, sigma_fraction: float = 0.25) -> np.ndarray:
    """(core, core) weights, 1 at the centre, falling as a Gaussian of sigma = core·fraction.

    The floor (1e-3 of the peak) keeps every pixel of a core weighted, so a pixel covered
    by one core only is still defined. Computed once per (core, fraction): read-only.
    """
    return _gaussian(int(core), float(sigma_fraction))


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


@dataclass(frozen=True)
class Lattice:
    """The windows a model sees: side `window`, `margin` dropped at each edge, cores
    (window − 2·margin) overlapping by `overlap`, blended with Gaussian weights."""

    window: int
    margin: int
    overlap: int
    sigma_fraction: float = 0.25

    def __post_init__(self) -> None:
        if self.margin < 0 or self.core < 1:
            raise FieldError(
                f"window {self.window} leaves no core after dropping margin {self.margin} "
                "on each side"
            )
        if self.overlap < 0 or self.stride < 1:
            raise FieldError(
                f"overlap {self.overlap} must be in [0, {self.core - 1}] for a core of {self.core}"
            )

    @property
    def core(self) -> int:
        return self.window - 2 * self.margin

    @property
    def stride(self) -> int:
        return self.core - self.overlap

    @property
    def weights(self) -> np.ndarray:
        return gaussian_weights(self.core, self.sigma_fraction)


class TileWindows:
    """The windows one (C, H, W) array needs: its `halo` outer pixels are context only, the
    result covers the interior (H − 2·halo, W − 2·halo); `origin` is the global (row,
    column) of field[:, 0, 0]; beyond the array, context is padded by numpy.pad `pad_mode`."""

    def __init__(
        self,
        field: np.ndarray,
        lattice: Lattice,
        *,
        origin: tuple[int, int] = (0, 0),
        halo: int = 0,
        pad_mode: str = "reflect",
    ) -> None:
        if field.ndim != 3:
            raise FieldError(f"blend_windows expects a (C, H, W) array, got shape {field.shape}")
        _, full_height, full_width = field.shape
        if halo < 0 or 2 * halo >= min(full_height, full_width):
            raise FieldError(f"halo {halo} leaves no interior in a field of shape {field.shape}")
        self.lattice = lattice
        core, margin = lattice.core, lattice.margin
        # rows/cols and the result are relative to the interior
        self.height, self.width = full_height - 2 * halo, full_width - 2 * halo
        self.at = (origin[0] + halo, origin[1] + halo)  # global position of interior (0, 0)
        self.rows = window_starts(self.height, self.at[0], core, lattice.stride)
        self.cols = window_starts(self.width, self.at[1], core, lattice.stride)
        # Pad so every window (core start − margin .. + window) lies inside the array.
        top = max(0, margin - self.rows[0] - halo)
        left = max(0, margin - self.cols[0] - halo)
        bottom = max(0, self.rows[-1] + core + margin - self.height - halo)
        right = max(0, self.cols[-1] + core + margin - self.width - halo)
        field = np.asarray(field, dtype=np.float32)
        if top or bottom or left or right:
            field = np.pad(field, ((0, 0), (top, bottom), (left, right)), mode=pad_mode)
        self.padded = field
        self.shift = (top + halo - margin, left + halo - margin)  # interior row → window start

    @cached_property
    def keys(self) -> list[Key]:
        """Global core positions of the windows touching the interior, in lattice order."""
        return [(r + self.at[0], c + self.at[1]) for r in self.rows for c in self.cols]

    def window(self, key: Key) -> np.ndarray:
        """The (C, window, window) input of the window whose core sits at global `key`."""
        r = key[0] - self.at[0] + self.shift[0]
        c = key[1] - self.at[1] + self.shift[1]
        n = self.lattice.window
        return self.padded[:, r : r + n, c : c + n]

    def blend(self, cores: dict[Key, np.ndarray]) -> np.ndarray:
        """(K, H, W) float64: the Gaussian-weighted mean of the cores over the interior,
        added in lattice order (the same sums on any tiling)."""
        weights = self.lattice.weights
        first = cores[self.keys[0]]
        out = np.zeros((first.shape[0], self.height, self.width))
        weight_sum = np.zeros((self.height, self.width))
        scratch = np.empty((first.shape[0], *weights.shape))
        for key in self.keys:
            r, c = key[0] - self.at[0], key[1] - self.at[1]
            _accumulate(out, weight_sum, cores[key], weights, r, c, scratch)
        return np.divide(out, weight_sum, out=out)


def predict_windows(
    model: Model,
    tiles: list[TileWindows],
    batch_size: int,
    cores: dict[Key, np.ndarray] | None = None,
) -> dict[Key, np.ndarray]:
    """Run `model` once on every window any of `tiles` needs and `cores` lacks; add the
    cores of the predictions (K, core, core) to `cores` by global key and return it.

    Windows go in global lattice order, `batch_size` per call (the last call may be
    shorter): which windows share a call depends on which ones the rank needs, so results
    are independent of the rank count only for models whose output for a window does not
    depend on the other windows of its batch (true of CNNs: tests/test_tiled_steps.py).
    A window is read from the first tile that needs it: the tiles must hold the same
    global data (the tiles of one domain at one time).
    """
    if batch_size < 1:
        raise FieldError(f"batch_size must be ≥ 1, got {batch_size}")
    cores = {} if cores is None else cores
    source: dict[Key, TileWindows] = {}
    for tile in tiles:
        for key in tile.keys:
            if key not in cores:
                source.setdefault(key, tile)
    todo = sorted(source)
    for b in range(0, len(todo), batch_size):
        chunk = todo[b : b + batch_size]
        batch = np.stack([source[key].window(key) for key in chunk])
        result = np.asarray(model(batch))
        n = tiles[0].lattice.window
        if result.ndim != 4 or result.shape[0] != len(chunk) or result.shape[2:] != (n, n):
            raise FieldError(
                f"model returned shape {result.shape} for windows {batch.shape};"
                f" expected ({len(chunk)}, K, {n}, {n})"
            )
        m, core = tiles[0].lattice.margin, tiles[0].lattice.core
        for key, pred in zip(chunk, result, strict=True):
            cores[key] = pred[:, m : m + core, m : m + core]
    return cores


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
              global data (the tiles of one domain at one time). To batch the windows of
              several tiles together, use TileWindows and predict_windows.
    The model maps (B, C, window, window) float32 to (B, K, window, window).
    """
    lattice = Lattice(window, margin, overlap, sigma_fraction)
    tile = TileWindows(field, lattice, origin=origin, halo=halo, pad_mode=pad_mode)
    return tile.blend(predict_windows(model, [tile], batch_size, cache))


def _accumulate(
    out: np.ndarray,
    weight_sum: np.ndarray,
    core_pred: np.ndarray,
    weights: np.ndarray,
    r: int,
    c: int,
    scratch: np.ndarray,
) -> None:
    """Add one core's weighted prediction where it overlaps the output array, in place
    (`scratch`: a (K, core, core) float64 buffer)."""
    height, width = weight_sum.shape
    core = weights.shape[0]
    r0, r1 = max(r, 0), min(r + core, height)
    c0, c1 = max(c, 0), min(c + core, width)
    w = weights[r0 - r : r1 - r, c0 - c : c1 - c]
    product = scratch[:, : r1 - r0, : c1 - c0]
    np.multiply(w, core_pred[:, r0 - r : r1 - r, c0 - c : c1 - c], out=product)
    out[:, r0:r1, c0:c1] += product
    weight_sum[r0:r1, c0:c1] += w
