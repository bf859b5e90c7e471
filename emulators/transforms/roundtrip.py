"""Diagnostic transform 'roundtrip': hands a host import, regridded to the fine grid, straight
back as an export, so interface tests can check that host → fine → host remapping reproduces
what the host put (exactly, up to rounding, when the fine grid nests in the host cells).

It computes nothing physical and belongs in test and demo pipelines only.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from coupler.steps.base import StepContext, Transform, Var


class RoundTrip(Transform):
    """TBOT (host import on the fine grid) → TBOT_FINE_CHECK (copied, halo removed)."""

    transform_name: ClassVar[str] = "roundtrip"
    input_vars: ClassVar[dict[str, Var]] = {
        "TBOT": Var("K", long_name="air temperature regridded host -> fine"),
    }
    output_vars: ClassVar[dict[str, Var]] = {
        "TBOT_FINE_CHECK": Var("K", long_name="TBOT after host -> fine -> host (diagnostic)"),
    }
    default_params: ClassVar[dict[str, Any]] = {}
    default_grid: ClassVar[str] = "fine"

    def compute(
        self, inputs: dict[str, np.ndarray], state: dict[str, np.ndarray], ctx: StepContext
    ) -> dict[str, np.ndarray]:
        h = int(ctx.halo)
        values = inputs["TBOT"]
        if h:
            values = values[..., h:-h, h:-h]
        return {"TBOT_FINE_CHECK": np.array(values, dtype=np.float64, copy=True)}
