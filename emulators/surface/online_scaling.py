"""Scaling diagnostics in a coupled run (seed 000 §3.2, issue 12 item 8): σ₁, β and the
information loss γ at the largest scale of every fine field behind an export, per analysis
box, as host-grid diagnostics the run's history netCDF can hold.

Transform ``scaling_boxes`` (fine tiles). ``params.fields`` maps each fine field (an output
of an earlier step, or a static variable) to its units; ``box`` is the analysis box in fine
cells — the host cell for a lat-lon host nested in the fine grid (60 for 0.5° over 1/120°),
so that each box is exactly one host cell. Boxes are anchored at the fine grid's origin and
must tile the fine tiles: every box lies inside one tile, its σ is computed there alone (no
global fine field, no communication) and the result does not depend on the rank count. The
value of a box is written to each of its fine cells, so the coupler's conservative fine →
host remap (the mean over the land under the host cell) hands the host that value.

Outputs per field F: ``SIGMA1_F`` (σ at the fine scale, F's units), ``BETA_F`` (1) and
``GAMMA<s>_F`` (%, s the largest scale; 12 by default). Ocean cells are left out of σ. Where
σ₁ = 0 (a uniform box) or fewer than two valid coarse cells exist, β and γ are 0: no
fine-scale information to lose (the offline `landemu scaling` writes NaN there instead).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from coupler.errors import ConfigError, FieldError
from coupler.steps.base import StepContext, Transform, Var
from emulators.surface.scaling import SEED_BOX_CELLS, SEED_SCALES, check_scales, scaling_diagnostics


def diagnostic_names(field: str, largest_scale: int) -> tuple[str, str, str]:
    """(σ₁, β, γ) output names of a field."""
    return f"SIGMA1_{field}", f"BETA_{field}", f"GAMMA{largest_scale}_{field}"


class ScalingBoxes(Transform):
    """σ₁, β, γ per analysis box of each configured fine field (see the module docstring)."""

    transform_name: ClassVar[str] = "scaling_boxes"
    input_vars: ClassVar[dict[str, Var]] = {"landmask": Var("1", long_name="land mask (static)")}
    default_params: ClassVar[dict[str, Any]] = {
        "fields": {"LAI": "m2 m-2"},
        "box": SEED_BOX_CELLS,
        "scales": list(SEED_SCALES),
    }
    default_grid: ClassVar[str] = "fine"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        where = f"steps.{self.name}.params"
        fields = self.params["fields"]
        if not isinstance(fields, dict) or not fields:
            raise ConfigError(f"{where}.fields: expected a mapping FIELD: units, got {fields!r}")
        try:
            self.box = int(self.params["box"])
            self.scales = check_scales(self.params["scales"], self.box)
        except (TypeError, ValueError, FieldError) as exc:
            raise ConfigError(f"{where}: {exc}") from None
        for name, units in fields.items():
            self.inputs[name] = Var(str(units), long_name=f"fine field {name}")
            sigma, beta, gamma = diagnostic_names(name, self.scales[-1])
            self.outputs[sigma] = Var(str(units), long_name=f"std of fine {name} in a box")
            self.outputs[beta] = Var("1", long_name=f"scaling exponent of {name}")
            self.outputs[gamma] = Var("%", long_name=f"information loss of {name}")

    def compute(
        self, inputs: dict[str, np.ndarray], state: dict[str, np.ndarray], ctx: StepContext
    ) -> dict[str, np.ndarray]:
        h = int(ctx.halo)
        inner = (Ellipsis, slice(h, -h or None), slice(h, -h or None))
        land = np.asarray(inputs["landmask"])[inner] >= 0.5
        ny, nx = land.shape
        j0, i0 = ctx.origin[0] + h, ctx.origin[1] + h
        if ny % self.box or nx % self.box or j0 % self.box or i0 % self.box:
            raise FieldError(
                f"step '{self.name}': a tile of {ny} × {nx} fine cells at ({j0}, {i0}) is not "
                f"made of whole {self.box}-cell boxes; choose fine.tile as multiples of "
                f"params.box ({self.box})"
            )
        out: dict[str, np.ndarray] = {}
        for name in self.params["fields"]:
            field = np.where(land, np.asarray(inputs[name], np.float64)[inner], np.nan)
            result = scaling_diagnostics(field, self.box, self.scales)
            values = (result.sigma[0], result.beta, result.gamma[-1])
            for key, v in zip(diagnostic_names(name, self.scales[-1]), values, strict=True):
                per_box = np.where(np.isfinite(v), v, 0.0)
                out[key] = np.repeat(np.repeat(per_box, self.box, axis=0), self.box, axis=1)
        return out
