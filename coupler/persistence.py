"""Persistent state: what the next step needs, declared by whoever owns it.

Every owner of state (the clock, import accumulators and windows, exports, history, step
state, autoregressive priors, time interpolation) describes its arrays as `Persistent`
entries: a unique key, where the array lives (a scalar, host columns, or fine tiles), its
per-cell shape and dtype, and how to read and replace it. The restart file writes and
reads entries without knowing what they mean, so a new kind of state needs no change to
`coupler/restart.py`.

Array conventions (C order):
  scalar  an int (times are whole seconds; −1 means "none")
  host    (*cell_shape, n_local) on this rank's host columns
  fine    a list over this rank's tiles of (*cell_shape, ny, nx), on the fine grid
          `grid` ('fine', or a grid named under `grids:`)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

WHERE = ("scalar", "host", "fine")


@dataclass(frozen=True)
class Persistent:
    """One piece of state the restart file carries."""

    key: str
    where: str  # 'scalar' | 'host' | 'fine'
    get: Callable[[], Any]
    set: Callable[[Any], None]
    cell_shape: tuple[int, ...] = ()
    dtype: str = "float64"
    grid: str = "fine"  # where == 'fine': which fine grid's tiles


def scalar(key: str, get: Callable[[], int], set: Callable[[int], None]) -> Persistent:
    return Persistent(key, "scalar", get, set, (), "int64")


def time_scalar(key: str, owner: Any, attr: str) -> Persistent:
    """A ModelTime attribute (or None) of `owner`, stored as seconds (−1 for None)."""
    from coupler.clock import ModelTime

    def get() -> int:
        t = getattr(owner, attr)
        return t.seconds if t is not None else -1

    def set_(v: int) -> None:
        setattr(owner, attr, ModelTime(int(v), owner.calendar) if v >= 0 else None)

    return scalar(key, get, set_)


def attr_array(key: str, where: str, owner: Any, attr: str) -> Persistent:
    """An ndarray attribute of `owner`, replaced on restore by a copy in its dtype.

    The getter reads the attribute at call time, so owners that swap buffers (the
    double-buffered accumulators) are saved correctly.
    """
    a = getattr(owner, attr)
    cell_shape = tuple(a.shape[:-1])

    def set_(v: np.ndarray) -> None:
        getattr(owner, attr)[...] = np.asarray(v).reshape(getattr(owner, attr).shape)

    return Persistent(key, where, lambda: getattr(owner, attr), set_, cell_shape, a.dtype.name)


def attr_int(key: str, owner: Any, attr: str) -> Persistent:
    """An int (or bool) attribute of `owner`."""
    kind = type(getattr(owner, attr))
    return scalar(key, lambda: int(getattr(owner, attr)), lambda v: setattr(owner, attr, kind(v)))


def item(
    key: str,
    where: str,
    mapping: dict,
    name: str,
    cell_shape: tuple[int, ...],
    dtype: str,
    grid: str = "fine",
) -> Persistent:
    """`mapping[name]`: a host array, or for 'fine' a list of tile arrays (replaced whole:
    steps may replace their state arrays rather than update them)."""

    def set_(v) -> None:
        if where == "fine":
            mapping[name] = [np.array(a, dtype) for a in v]
        else:
            mapping[name] = np.array(v, dtype)

    return Persistent(key, where, lambda: mapping[name], set_, cell_shape, dtype, grid)


def optional_item(
    key: str,
    where: str,
    mapping: dict,
    name: str,
    cell_shape: tuple[int, ...],
    blank,
    grid: str = "fine",
) -> list[Persistent]:
    """`mapping[name]` that may not exist yet (an output before its step first ran):
    stored as `blank()` plus a ready flag, and absent again after a restore if it was."""
    entry = item(key, where, mapping, name, cell_shape, "float64", grid)
    ready = scalar(
        f"{key}__ready",
        lambda: int(name in mapping),
        lambda v: None if v else mapping.pop(name, None),
    )
    get = entry.get

    def get_or_blank():
        return get() if name in mapping else blank()

    return [Persistent(key, where, get_or_blank, entry.set, cell_shape, "float64", grid), ready]


def mapping_time(key: str, mapping: dict, name: str, calendar: str) -> Persistent:
    """A ModelTime held as `mapping[name]` (absent: −1)."""
    from coupler.clock import ModelTime

    def set_(v: int) -> None:
        if v >= 0:
            mapping[name] = ModelTime(int(v), calendar)
        else:
            mapping.pop(name, None)

    return scalar(key, lambda: mapping[name].seconds if name in mapping else -1, set_)


def check_unique(entries: list[Persistent]) -> None:
    """Keys must be unique: a clash would make a restart silently lose state."""
    seen: set[str] = set()
    for e in entries:
        if e.key in seen:
            raise ValueError(f"persistent state key '{e.key}' is declared twice")
        if e.where not in WHERE:
            raise ValueError(f"persistent state '{e.key}': where='{e.where}' not in {WHERE}")
        seen.add(e.key)
