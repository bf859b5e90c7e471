"""The interface every pipeline step implements, whether an ONNX model or a Python transform.

A step declares what it reads and writes (`Var`s by field name), the grid it runs on and
when it is due; the runtime gathers its inputs (regridded, time-aggregated), calls `run`
once per fine tile (grid 'fine') or once per rank on its host columns (grid 'host'), and
checks what comes back. Steps never see MPI, files or other tiles: that keeps them pure,
testable on one rank, and bit-for-bit independent of the decomposition.

Array shapes handed to `run` (float64, C order):
  grid 'fine' (or any named fine grid of `grids:`): single-level (ny, nx), multi-level
               (nlev, ny, nx); j runs south → north; inputs include `ctx.halo` extra
               cells on every side, outputs do not.
  grid 'host': single-level (n,), multi-level (nlev, n) for this rank's host cells;
               a windowed import (T, n) or (T, nlev, n), oldest first.
State arrays (`state`, declared as `StateVar`s or plain initial values) have the declared
per-cell shape in front: (*shape, ny, nx) per tile, or (*shape, n) on host columns.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from coupler.clock import ModelTime, Schedule
from coupler.errors import ConfigError
from coupler.stepstate import StateVar

GRIDS = ("fine", "host")  # the built-in grids; `grids:` in the config adds named fine grids


@dataclass(frozen=True)
class Var:
    """A field a step reads or writes."""

    units: str
    levels: int = 1
    kind: str = "continuous"  # "categorical": class codes 0..levels-1, remapped as class fractions
    long_name: str = ""
    axes: tuple[tuple[str, int], ...] = ()  # named level axes (coupler.fields), Π = levels


@dataclass
class StepContext:
    """What a step may know besides its input arrays."""

    time: ModelTime  # the model time being advanced to
    previous_run: ModelTime  # when this step last ran (the run start on its first call)
    lat: np.ndarray  # cell-centre latitude (degrees), shaped like one level of the inputs
    lon: np.ndarray  # cell-centre longitude (degrees)
    tile_id: int | None = None  # fine grid only
    halo: int = 0
    origin: tuple[int, int] = (0, 0)  # fine only: global (row, column) of the inputs' [0, 0]

    @property
    def seconds_since_last_run(self) -> int:
        return self.time - self.previous_run


@dataclass
class Step(ABC):
    """One entry of the pipeline."""

    name: str
    grid: str
    schedule: Schedule
    inputs: dict[str, Var]
    outputs: dict[str, Var]
    state: dict[str, float | StateVar] = field(default_factory=dict)  # persistent arrays
    halo: int = 0
    previous: dict[str, StateVar] = field(default_factory=dict)  # `from: previous` inputs

    def __post_init__(self) -> None:
        if not isinstance(self.grid, str) or not self.grid:
            raise ConfigError(
                f"steps.{self.name}.grid: '{self.grid}' is not one of {', '.join(GRIDS)} "
                "or a grid named under grids:"
            )

    @property
    def on_fine_grid(self) -> bool:
        """True for steps on fine tiles ('fine' or a named grid), False on host columns."""
        return self.grid != "host"

    @abstractmethod
    def run(
        self, inputs: dict[str, np.ndarray], state: dict[str, np.ndarray], ctx: StepContext
    ) -> dict[str, np.ndarray]:
        """Compute outputs from inputs; may update `state` arrays in place."""

    def run_tiles(
        self,
        inputs: list[dict[str, np.ndarray]],
        states: list[dict[str, np.ndarray]],
        ctxs: list[StepContext],
    ) -> list[dict[str, np.ndarray]]:
        """`run` on each of this rank's fine tiles, in tile order. A step may override it to
        share work between tiles (blended ONNX steps batch the windows of all tiles into
        the same model calls); a tile's result must not depend on the other tiles."""
        return [self.run(i, s, c) for i, s, c in zip(inputs, states, ctxs, strict=True)]


class Transform(Step):
    """A deterministic Python step. Subclasses declare their fields and parameters as class
    attributes and implement `compute`; the YAML entry names the transform and may override
    `params`, `schedule` and `grid`.
    """

    transform_name: ClassVar[str]
    input_vars: ClassVar[dict[str, Var]] = {}
    output_vars: ClassVar[dict[str, Var]] = {}
    state_vars: ClassVar[dict[str, float | StateVar]] = {}
    default_params: ClassVar[dict[str, Any]] = {}
    default_grid: ClassVar[str] = "fine"

    def __init__(
        self,
        name: str,
        schedule: Schedule,
        params: dict[str, Any] | None = None,
        grid: str | None = None,
        halo: int = 0,
    ) -> None:
        super().__init__(
            name=name,
            grid=grid or self.default_grid,
            schedule=schedule,
            inputs=dict(self.input_vars),
            outputs=dict(self.output_vars),
            state=dict(self.state_vars),
            halo=halo,
        )
        params = dict(params or {})
        unknown = sorted(set(params) - set(self.default_params))
        if unknown:
            raise ConfigError(
                f"steps.{name}.params: unknown key(s) {', '.join(unknown)} for transform "
                f"'{self.transform_name}'; allowed: "
                f"{', '.join(sorted(self.default_params)) or 'none'}"
            )
        self.params = {**self.default_params, **params}

    def run(self, inputs, state, ctx):
        return self.compute(inputs, state, ctx)

    @abstractmethod
    def compute(
        self, inputs: dict[str, np.ndarray], state: dict[str, np.ndarray], ctx: StepContext
    ) -> dict[str, np.ndarray]:
        """The transform itself (pure numpy, no MPI, no I/O)."""
