"""The online MdPL step: calibrated PFT parameters for every host column, from g_z on the last
48 half-hourly steps of the host's own forcing.

Why a host-column transform: g_z maps one column's window of forcing and its site attributes
to the 12 parameters, so it runs where the forcing lives (this rank's host columns), never
on fine tiles. Online there are no flux observations: g_z gets its observation mask at 0
(it was trained with observations dropped for 30 % of the sites for exactly this).

What the step keeps (declared state, carried in restarts with the coupler's windows):
  sand, clay (%), elevation (m), pft (ELM PFT index 1..16): the column's static attributes,
      uniform from their declared initial values or per column from a file by global id
      (`state: {sand: {init: {file: soil.nc, variable: PCT_SAND}}}`);
  unit_sum, n_windows: the running sum of g_z's unit-scaled parameters over the full
      windows seen so far and their count — the exported set is their mean (offline, a
      site's set is the mean over many windows too);
  elapsed_s: seconds of forcing seen since the run began (a window is full after 48 steps).
Until the first full window the step exports the PFT defaults of MdPL Table 2.
"""

from __future__ import annotations

from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from coupler.clock import ModelTime
from coupler.errors import ConfigError, FieldError
from coupler.fields import FieldRegistry
from coupler.steps.base import StepContext, Transform, Var
from coupler.stepstate import StateVar
from emulators.landmodel import FORCING_NAMES, PARAM_NAMES, parameter_table
from emulators.mdpl.dataset import WINDOW
from emulators.mdpl.runtime import PACKAGE_DIR, MdplModels
from emulators.mdpl.sites import attribute_matrix

STEP_SECONDS = 1800  # g_z's windows are half-hourly
STATIC = ("sand", "clay", "elevation", "pft")
_UNITS = FieldRegistry.default()  # the units the host exchanges (coupler/field_dictionary.yaml)


def window_first_step(end: ModelTime) -> int:
    """Half-hour index within its year of the first step of the 48-step window ending at
    `end`: the position the DOY encoding needs."""
    first = end + (-WINDOW * STEP_SECONDS)
    return (first.day_of_year - 1) * (86400 // STEP_SECONDS) + first.tod // STEP_SECONDS


@lru_cache(maxsize=1)
def shipped_models() -> MdplModels:
    """The shipped g_z (loaded once per process)."""
    return MdplModels(surrogate_path=None)


def column_groups(pft: np.ndarray) -> np.ndarray:
    """0-based MdPL PFT group of each column's ELM PFT (FieldError for bare soil or junk)."""
    table = parameter_table()
    p = np.asarray(pft)
    bad = ~((p >= 1) & (p < len(table.pft_group)) & (p == np.round(p)))
    if bad.any():
        raise FieldError(
            f"mdpl_params: pft {float(p[bad][0]):g} is not a vegetated ELM PFT (1..16)"
        )
    return table.pft_group[p.astype(int)] - 1


def calibrate_columns(
    forcing: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    statics: dict[str, np.ndarray],
    first_step: int,
    models: MdplModels | None = None,
) -> np.ndarray:
    """The online core (pure): g_z's parameters (n, 12) in physical units, clamped into the
    MdPL Table 2 ranges, for n columns.

    forcing: (n, 48, 7) half-hourly means in FORCING_NAMES order and units, oldest first;
    lat, lon: (n,) degrees; statics: sand, clay (%), elevation (m), pft (ELM PFT index) as
    (n,) arrays; first_step: half-hour index in the year of the window's first step
    (`window_first_step`); models: the loaded g_z (default: the shipped gz.onnx).
    """
    missing = [k for k in STATIC if k not in statics]
    if missing:
        raise FieldError(f"mdpl_params: site attributes {missing} are missing")
    groups = column_groups(statics["pft"])
    attrs = attribute_matrix(
        lat, lon, statics["sand"], statics["clay"], statics["elevation"], groups
    )
    return (models or shipped_models()).column_parameters(forcing, attrs, first_step)


class MdplParams(Transform):
    """Host columns: forcing windows → the 12 MdPL parameters (mean of g_z over full windows)."""

    transform_name: ClassVar[str] = "mdpl_params"
    input_vars: ClassVar[dict[str, Var]] = {
        n: Var(_UNITS[n].units, long_name=f"{n}, a window of the last 48 half-hourly means")
        for n in FORCING_NAMES
    }
    output_vars: ClassVar[dict[str, Var]] = {
        n: Var(_UNITS[n].units, long_name=f"MdPL-calibrated {n} (g_z, TWIN-trained)")
        for n in PARAM_NAMES
    }
    state_vars: ClassVar[dict[str, float | StateVar]] = {
        "sand": 40.0,
        "clay": 20.0,
        "elevation": 0.0,
        "pft": 13.0,
        "unit_sum": StateVar(shape=(len(PARAM_NAMES),)),
        "n_windows": 0.0,
        "elapsed_s": 0.0,
    }
    default_params: ClassVar[dict[str, Any]] = {"model": str(PACKAGE_DIR / "gz.onnx"), "threads": 1}
    default_grid: ClassVar[str] = "host"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.grid != "host":
            raise ConfigError(f"steps.{self.name}.grid: mdpl_params runs on host columns only")

    @cached_property
    def models(self) -> MdplModels:
        return MdplModels(Path(self.params["model"]), None, int(self.params["threads"]))

    def compute(
        self, inputs: dict[str, np.ndarray], state: dict[str, np.ndarray], ctx: StepContext
    ) -> dict[str, np.ndarray]:
        not_windows = [n for n in FORCING_NAMES if np.ndim(inputs[n]) != 2]
        if not_windows:
            raise FieldError(
                f"step '{self.name}': {', '.join(not_windows)} must be windows of the last "
                f"{WINDOW} half-hourly means (aggregation: {{FSDS: {{window: {WINDOW}}}, ...}})"
            )
        first_run = state["elapsed_s"].size and not state["elapsed_s"].any()
        if first_run and ctx.seconds_since_last_run != STEP_SECONDS:  # one interval
            raise FieldError(
                f"step '{self.name}': g_z needs half-hourly coupling "
                f"(run.coupling_interval: {STEP_SECONDS}); the first interval was "
                f"{ctx.seconds_since_last_run} s"
            )
        state["elapsed_s"] += ctx.seconds_since_last_run
        table = parameter_table()
        n = state["n_windows"].size
        if n and state["elapsed_s"][0] >= WINDOW * STEP_SECONDS:
            forcing = np.stack([inputs[v] for v in FORCING_NAMES], axis=2).transpose(1, 0, 2)
            statics = {k: state[k] for k in STATIC}
            first = window_first_step(ctx.time)
            params = calibrate_columns(forcing, ctx.lat, ctx.lon, statics, first, self.models)
            state["unit_sum"] += ((params - table.lo) / (table.hi - table.lo)).T
            state["n_windows"] += 1
        column_groups(state["pft"])  # the defaults below need vegetated PFTs
        defaults = table.pft_defaults[state["pft"].astype(int)].T  # (12, n)
        count = np.maximum(state["n_windows"], 1.0)
        mean = table.lo[:, None] + (table.hi - table.lo)[:, None] * (state["unit_sum"] / count)
        values = np.where(state["n_windows"] > 0, mean, defaults)
        return {name: values[k] for k, name in enumerate(PARAM_NAMES)}
