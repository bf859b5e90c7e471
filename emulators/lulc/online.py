"""The yearly online land-use step: the host's coarse land-use fractions → fine 0.05° maps.

Every model year (schedule `yearly on MM-DD`) the step turns the host's coarse land-use
fractions (a scenario the host or its driver supplies), the static geography and last
year's fine map (its own previous output; the MODIS map before the first year) into this
year's fine land-use and land-cover maps. The host receives them as class fractions per
host cell (the coupler aggregates a categorical fine output that way).

How it stays seamless and consistent:

* the U-Net runs through the same blended windows as offline inference
  (emulators/lulc/infer.py) on a lattice anchored at the grid origin, and each tile carries
  a halo of `ONLINE_HALO` pixels, so a tile sees exactly the windows a whole-region run sees
  (bit for bit on any tiling and rank count);
* the allocation to the coarse fractions needs all pixels of a host cell together, so a
  tile's interior must consist of whole host cells: `cell` = fine pixels per host cell, tile
  edges (and the grid's) on the host-cell lattice. Misaligned tiles or host cells are
  refused with an error naming the numbers;
* the network predicts every pixel without seeing last year's class there: two passes with
  complementary masks (32-px patches, a share `mask_ratio` hidden in the first, chosen by a
  hash of model year and patch position, as in training), each pixel taken from the pass
  that hid it — so the probabilities have no patch pattern. Last year's class then goes
  first in the allocation: the map persists where the host's fractions leave room for it,
  and changes where they demand it, at the pixels the network finds most likely.

`downscale_year` is the pure core (numpy in, maps out; no MPI, no I/O): the Transform below
and `emulators.xapi.landcover` call it, so a notebook reproduces the online step.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from coupler.blending import required_halo
from coupler.errors import ConfigError, FieldError
from coupler.steps.base import StepContext, Transform, Var
from coupler.stepstate import StateVar
from emulators.lulc.architecture import RECEPTIVE_FIELD
from emulators.lulc.classes import LAND_USE
from emulators.lulc.features import (
    N_LC,
    N_LU,
    STATIC_FIELDS,
    assemble,
    global_patch_mask,
    one_hot,
    static_channels,
)
from emulators.lulc.infer import (
    MARGIN,
    MODEL_PATH,
    WINDOW,
    OnnxLulc,
    Prediction,
    allocate,
    decode_land_cover,
    predict_probabilities,
)

ONLINE_HALO = required_halo(WINDOW, MARGIN)  # every window touching a tile lies in tile + halo
PATCH_OFFSET = 1 << 20  # added to grid rows/columns so halo rows left of the grid stay ≥ 0
FRACTIONS, LU_FINE, LC_FINE = "LANDUSE_FRAC", "LANDUSE_FINE", "LANDCOVER_FINE"
NEIGHBOUR_FLOOR = 0.05  # growth propensity of a class with none of it nearby (× probability)
CELL_TOLERANCE = 1e-6  # fractions may differ this much inside one host cell (remap rounding)


def downscale_year(
    model,
    fractions: np.ndarray,
    prior_lu: np.ndarray,
    prior_lc: np.ndarray,
    static: dict[str, np.ndarray],
    lat: np.ndarray,
    *,
    cell: int,
    year: int,
    origin: tuple[int, int] = (0, 0),
    halo: int = ONLINE_HALO,
    mask_ratio: float = 0.5,
    radius: int = 5,
    cache: dict | None = None,
) -> Prediction:
    """This year's fine maps for the interior of a tile given with a `halo` of context.

    model:      a callable (B, 40, h, w) → (B, 19, h, w) probabilities (`OnnxLulc`).
    fractions:  (8, H, W) the host's land-use fractions on the fine grid (LAND_USE order),
                constant over the `cell`×`cell` pixels of each host cell.
    prior_lu, prior_lc: (H, W) last year's land-use / land-cover class codes.
    static:     the physical fields of `features.STATIC_FIELDS`, each (H, W).
    lat:        (H,) latitude of the rows (degrees), south → north.
    cell:       fine pixels per host cell; the interior must be whole host cells.
    year:       model year: chooses the masks of the two passes (the same on any tiling).
    origin:     grid (row, column) of the inputs' [0, 0] (halo included); windows and
                patches sit on lattices anchored at the grid's (0, 0).
    mask_ratio: share of the 32-px patches hidden in the first pass (the rest in the second).
    radius:     pixels of the neighbourhood whose share of a class makes it likelier to grow.
    cache:      a dict shared by one rank's tiles of one year (windows computed once).
    Returns the interior's `Prediction` (land use allocated to the host fractions).
    """
    h, w = prior_lu.shape
    if halo < ONLINE_HALO:
        raise FieldError(
            f"halo {halo} px is too small: the land-use U-Net (receptive field "
            f"{RECEPTIVE_FIELD} px) runs on {WINDOW}-px windows that need a halo of "
            f"{ONLINE_HALO} px for tiles to equal a whole-region run"
        )
    if fractions.shape != (N_LU, h, w):
        raise FieldError(
            f"{FRACTIONS} must be ({N_LU}, {h}, {w}) — one level per land-use class in the "
            f"order {', '.join(LAND_USE)} — got {fractions.shape}"
        )
    lu = class_codes(LU_FINE, prior_lu, N_LU)
    lc = class_codes(LC_FINE, prior_lc, N_LC)
    fractions = fill_unforced_halo(fractions, lu, halo)
    coarse = host_cell_fractions(fractions[:, halo : h - halo, halo : w - halo], cell, origin, halo)
    rows = slice(origin[0] + PATCH_OFFSET, origin[0] + PATCH_OFFSET + h)
    cols = slice(origin[1] + PATCH_OFFSET, origin[1] + PATCH_OFFSET + w)
    hidden = global_patch_mask(rows, cols, mask_ratio, seed=year)
    static_ch = static_channels(static, np.asarray(lat))
    inner = (slice(halo, h - halo), slice(halo, w - halo))
    prob = None
    for k, part in enumerate((hidden, ~hidden)):  # every pixel predicted once while hidden
        x = assemble(fractions, lu, lc, part, static_ch)
        shared = None if cache is None else cache.setdefault(k, {})
        p = predict_probabilities(model, x, origin, halo=halo, cache=shared, batch_size=1)
        prob = p if prob is None else np.where(part[inner], p, prob)
    # where a class may grow: the network's probability × how much of the class last year's
    # map holds nearby (expansion at the edges of existing patches); last year's class first
    # (+1): it persists unless the host's fractions demand a change
    near = neighbourhood_share(lu, N_LU, radius)[(slice(None), *inner)]
    p_lu = prob[:N_LU] * (NEIGHBOUR_FLOOR + near) + one_hot(lu[inner], N_LU)
    p_lc = prob[N_LU:] + one_hot(lc[inner], N_LC)
    land_use = allocate(p_lu, coarse, cell)
    return Prediction(
        land_use,
        decode_land_cover(p_lc, land_use),
        prob[:N_LU].argmax(0).astype(np.uint8),
        prob[N_LU:].argmax(0).astype(np.uint8),
        prob,
    )


def fill_unforced_halo(fractions: np.ndarray, lu: np.ndarray, halo: int) -> np.ndarray:
    """Halo pixels under host cells that put nothing (inactive cells: NaN after the remap)
    take last year's class there as their fractions; NaN inside the tile stays an error."""
    missing = ~np.isfinite(fractions).all(axis=0)
    missing[halo : missing.shape[0] - halo, halo : missing.shape[1] - halo] = False
    if not missing.any():
        return fractions
    return np.where(missing, one_hot(lu, N_LU), fractions)


def neighbourhood_share(codes: np.ndarray, n_classes: int, radius: int) -> np.ndarray:
    """(n_classes, H, W) share of each class in the (2r+1)² box around every pixel (the box
    clipped at the array edge): a box filter by cumulative sums, exact in integers."""
    h, w = codes.shape
    counts = np.zeros((n_classes, h + 1, w + 1), np.int64)
    counts[:, 1:, 1:] = one_hot(codes, n_classes).astype(np.int64).cumsum(1).cumsum(2)
    r0, r1 = np.clip(np.arange(h) - radius, 0, h), np.clip(np.arange(h) + radius + 1, 0, h)
    c0, c1 = np.clip(np.arange(w) - radius, 0, w), np.clip(np.arange(w) + radius + 1, 0, w)
    box = (
        counts[:, r1][:, :, c1] - counts[:, r0][:, :, c1]
        - counts[:, r1][:, :, c0] + counts[:, r0][:, :, c0]
    )  # fmt: skip
    return box / ((r1 - r0)[:, None] * (c1 - c0)[None, :])


def host_cell_fractions(
    interior: np.ndarray, cell: int, origin: tuple[int, int], halo: int
) -> np.ndarray:
    """(8, h/cell, w/cell) fractions per host cell of a tile interior made of whole cells."""
    _, h, w = interior.shape
    r0, c0 = origin[0] + halo, origin[1] + halo
    if cell < 1 or r0 % cell or c0 % cell or h % cell or w % cell:
        raise FieldError(
            f"a tile of {h}×{w} fine pixels at grid row {r0}, column {c0} is not made of whole "
            f"host cells of {cell}×{cell} pixels: the allocation to the host's fractions needs "
            f"every host cell inside one tile — choose tile sizes that are multiples of {cell} "
            "and a fine grid whose edges lie on host-cell edges"
        )
    blocks = interior.reshape(N_LU, h // cell, cell, w // cell, cell)
    first = blocks[:, :, :1, :, :1]
    spread = float(np.abs(blocks - first).max()) if blocks.size else 0.0
    if spread > CELL_TOLERANCE:
        raise FieldError(
            f"{FRACTIONS} varies by {spread:.3g} inside blocks of {cell}×{cell} fine pixels: "
            f"the host cells are not {cell} fine pixels wide or not aligned with the fine grid "
            "(params.cell must be the host cell size in fine pixels)"
        )
    return np.ascontiguousarray(first[:, :, 0, :, 0])


def class_codes(name: str, values: np.ndarray, n_classes: int) -> np.ndarray:
    """uint8 class codes from a float map, or FieldError naming the bad values."""
    v = np.asarray(values)
    bad = ~np.isfinite(v) | (v < 0) | (v > n_classes - 1) | (v != np.round(v))
    if bad.any():
        raise FieldError(
            f"{name}: {int(bad.sum())} pixel(s) are not class codes 0..{n_classes - 1} "
            f"(e.g. {v[bad].ravel()[0]!r})"
        )
    return v.astype(np.uint8)


class LandUseYearly(Transform):
    """Yearly fine land-use/land-cover maps from the host's coarse land-use fractions."""

    transform_name: ClassVar[str] = "lulc_yearly"
    input_vars: ClassVar[dict[str, Var]] = {
        FRACTIONS: Var("1", N_LU, axes=(("landuse", N_LU),)),
        **{name: Var("1") for name in STATIC_FIELDS},  # static fields of the grid's file
        LU_FINE: Var("1", N_LU, "categorical"),
        LC_FINE: Var("1", N_LC, "categorical"),
    }
    output_vars: ClassVar[dict[str, Var]] = {
        LU_FINE: Var("1", N_LU, "categorical", "land-use class (emulators/lulc/classes.py)"),
        LC_FINE: Var("1", N_LC, "categorical", "land-cover class (emulators/lulc/classes.py)"),
    }
    default_params: ClassVar[dict[str, Any]] = {
        "cell": 0,
        "mask_ratio": 0.5,
        "model": str(MODEL_PATH),
        "threads": 1,
    }
    default_grid: ClassVar[str] = "lc"

    def __init__(self, name, schedule, params=None, grid=None, halo: int = 0) -> None:
        super().__init__(name, schedule, params, grid, halo or ONLINE_HALO)
        if self.halo < ONLINE_HALO:
            raise ConfigError(
                f"steps.{name}.halo: {self.halo} is smaller than the {ONLINE_HALO} px the "
                f"land-use U-Net's windows need (receptive field {RECEPTIVE_FIELD} px); "
                "omit halo to get it"
            )
        cell = self.params["cell"]
        if not isinstance(cell, int) or cell < 1:
            raise ConfigError(
                f"steps.{name}.params.cell: give the host cell size in fine pixels (e.g. 20 "
                f"for a 1° host over a 0.05° grid), got {cell!r}"
            )
        if not 0.0 <= float(self.params["mask_ratio"]) <= 1.0:
            raise ConfigError(f"steps.{name}.params.mask_ratio: must lie in [0, 1]")
        # the MODIS map of the grid's static file is the prior of the first year
        self.previous = {
            LU_FINE: StateVar(init={"static": "land_use"}),
            LC_FINE: StateVar(init={"static": "land_cover"}),
        }
        self._model: OnnxLulc | None = None
        self._cache: tuple[Any, dict] = (None, {})

    def compute(
        self, inputs: dict[str, np.ndarray], state: dict[str, np.ndarray], ctx: StepContext
    ) -> dict[str, np.ndarray]:
        if self._model is None:
            self._model = OnnxLulc(self.params["model"], int(self.params["threads"]))
        if self._cache[0] != ctx.time:  # windows are shared by this rank's tiles of one run
            self._cache = (ctx.time, {})
        pred = downscale_year(
            self._model,
            inputs[FRACTIONS],
            inputs[LU_FINE],
            inputs[LC_FINE],
            {name: inputs[name] for name in STATIC_FIELDS},
            np.asarray(ctx.lat)[:, 0],
            cell=self.params["cell"],
            year=ctx.time.ymd()[0],
            origin=ctx.origin,
            halo=ctx.halo,
            mask_ratio=float(self.params["mask_ratio"]),
            cache=self._cache[1],
        )
        return {LU_FINE: pred.lu.astype(np.float64), LC_FINE: pred.lc.astype(np.float64)}
