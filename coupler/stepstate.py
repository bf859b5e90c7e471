"""Step state: arrays a step declares and the component allocates, initialises and restarts.

A step declares each state array with a `StateVar` (per-cell shape, dtype, how it starts);
it lives where the step runs — on the step's fine tiles, or on this rank's host columns.
The component owns the arrays, hands them to `Step.run` and carries them in restarts
(coupler/persistence.py), so a step with a new kind of state needs no coupler code.

How a state array starts (`init`, also written in YAML under a step's `state:` key):
  a number          every cell holds it (the default is 0)
  {static: VAR}     a variable of the static fine-grid file (fine steps only)
  {file: PATH, variable: VAR}
                    a netCDF variable: (..., lat, lon) on the fine grid for fine steps,
                    (..., host_cell) by global id for host steps; each rank reads only its
                    own tiles or cells
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np

from coupler.errors import ConfigError, DataFileError, ModelError

DTYPES = ("float64", "float32", "int64", "int32", "int16", "int8", "uint8")


@dataclass(frozen=True)
class StateVar:
    """A state array of a step: per-cell shape, dtype and initialisation."""

    shape: tuple[int, ...] = ()
    dtype: str = "float64"
    init: Any = 0.0  # a number, {"static": VAR} or {"file": PATH, "variable": VAR}

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ConfigError(f"state dtype '{self.dtype}' is not one of {', '.join(DTYPES)}")
        check_init("state init", self.init)


def as_state_var(value: float | StateVar) -> StateVar:
    """Steps may declare state as a plain initial value (a float64 scalar per cell)."""
    return value if isinstance(value, StateVar) else StateVar(init=float(value))


def check_init(where: str, init: Any) -> None:
    """ConfigError unless `init` is a number, {static: VAR} or {file: PATH, variable: VAR}."""
    if isinstance(init, int | float) and not isinstance(init, bool):
        return
    if isinstance(init, dict) and set(init) == {"static"} and isinstance(init["static"], str):
        return
    if (
        isinstance(init, dict)
        and set(init) == {"file", "variable"}
        and all(isinstance(v, str | Path) for v in init.values())
    ):
        return
    raise ConfigError(
        f"{where}: {init!r} is not a number, {{static: VAR}} or {{file: PATH, variable: VAR}}"
    )


def resolve_init(init: Any, base: Path) -> Any:
    """Make a file init's path absolute (relative to the config file's folder)."""
    if isinstance(init, dict) and "file" in init:
        return {**init, "file": (base / Path(str(init["file"])).expanduser()).resolve()}
    return init


def static_vars_needed(var: StateVar) -> set[str]:
    init = var.init
    return {init["static"]} if isinstance(init, dict) and "static" in init else set()


# --- allocation ------------------------------------------------------------------------


def allocate_fine(where: str, var: StateVar, fine) -> list[np.ndarray]:
    """One (*shape, ny, nx) array per owned tile, initialised as declared."""
    init = var.init
    if isinstance(init, dict) and "static" in init:
        name = init["static"]
        return [_cast(where, var, fine.interior(td.static[name])) for td in fine.tiles]
    if isinstance(init, dict):
        want = (*var.shape, *fine.grid.shape)
        windows = [
            (Ellipsis, slice(td.tile.j0, td.tile.j1), slice(td.tile.i0, td.tile.i1))
            for td in fine.tiles
        ]
        parts = _read_init_file(where, init, want, "the fine grid (..., lat, lon)", windows)
        return [_cast(where, var, p) for p in parts]
    return [np.full((*var.shape, *td.tile.shape), init, var.dtype) for td in fine.tiles]


def allocate_host(where: str, var: StateVar, ids0: np.ndarray, n_host: int) -> np.ndarray:
    """A (*shape, n_local) array on this rank's host columns, initialised as declared."""
    init = var.init
    if isinstance(init, dict) and "static" in init:
        raise ConfigError(f"{where}: static fields exist on the fine grid only")
    if isinstance(init, dict):
        want = (*var.shape, n_host)
        (values,) = _read_init_file(where, init, want, "the host cells (..., host_cell)", [...])
        return _cast(where, var, values[..., ids0])
    return np.full((*var.shape, ids0.size), init, var.dtype)


def _cast(where: str, var: StateVar, values) -> np.ndarray:
    a = np.ma.filled(values, np.nan) if np.ma.isMaskedArray(values) else np.asarray(values)
    integer = np.issubdtype(np.dtype(var.dtype), np.integer)
    if integer and a.dtype.kind == "f" and not np.all(np.isfinite(a)):
        raise DataFileError(f"{where}: the initial values hold missing/NaN cells")
    return np.ascontiguousarray(a, var.dtype)


def _read_init_file(
    where: str, init: dict, want: tuple[int, ...], what: str, windows: list
) -> list[np.ndarray]:
    """Read `windows` (index tuples) of a file variable whose shape must be `want`."""
    path, name = Path(init["file"]), init["variable"]
    if not path.is_file():
        raise DataFileError(f"{where}: initial-value file '{path}' does not exist")
    try:
        with netCDF4.Dataset(path, "r") as ds:
            if name not in ds.variables:
                raise DataFileError(
                    f"{where}: '{path}' has no variable {name} (it has: {', '.join(ds.variables)})"
                )
            v = ds[name]
            if tuple(v.shape) != want:
                raise DataFileError(
                    f"{where}: variable {name} of '{path}' has shape {tuple(v.shape)}, "
                    f"expected {want} on {what}"
                )
            return [v[w] for w in windows]
    except OSError as exc:
        raise DataFileError(f"{where}: cannot read '{path}': {exc}") from None


def checked_update(where: str, new: Any, old: np.ndarray) -> np.ndarray:
    """A step's replacement of a state array, checked against the declaration."""
    a = np.asarray(new)
    if a.shape != old.shape:
        raise ModelError(f"{where}: the step set shape {a.shape}, declared {old.shape}")
    return a if a.dtype == old.dtype else a.astype(old.dtype)
