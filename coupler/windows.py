"""Windowed inputs: the last N values of a host import at the coupling frequency.

A host-column step that asks for `aggregation: {TBOT: {window: 48}}` gets TBOT as the
means of the last 48 coupling intervals, oldest first — what a 48-step LSTM on half-hourly
forcing needs. Each interval's mean (the puts since the previous advance) enters the
window at every advance, whether or not the step is due. Until N intervals have passed,
the oldest interval mean fills the missing places (a cold start repeats the first value).
The window is persistent state, so a restart taken mid-window goes on bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from coupler.persistence import Persistent, attr_array, attr_int


@dataclass(frozen=True)
class WindowOf:
    """The aggregation 'a window of the last `length` interval means'."""

    length: int

    def __str__(self) -> str:
        return f"window of {self.length}"


class ImportWindow:
    """A ring of the last `length` interval means, (length, nlev, n_local)."""

    def __init__(self, length: int, nlev: int, n_local: int) -> None:
        from coupler.state import Accumulator  # state.py builds windows: import late

        self.length = int(length)
        self.acc = Accumulator(nlev, n_local)  # the puts of the current interval
        self.ring = np.zeros((self.length, nlev, n_local))
        self.count = 0  # interval means pushed since the run began

    def push(self) -> None:
        """Close the current interval: its mean replaces the oldest entry."""
        self.ring[self.count % self.length] = self.acc.mean()
        self.count += 1
        self.acc.reset()

    def values(self) -> np.ndarray:
        """(length, nlev, n_local), oldest first; a window not yet full repeats its oldest."""
        return self.ring[ring_order(self.count, self.length)]

    def persistent(self, key: str) -> list[Persistent]:
        return [attr_array(key, "host", self, "ring"), attr_int(f"{key}__count", self, "count")]


def ring_order(count: int, length: int) -> np.ndarray:
    """Ring indices of a window, oldest first, after `count` pushes (count ≥ 1)."""
    if count >= length:
        return (np.arange(length) + count) % length
    return np.concatenate([np.zeros(length - count, np.int64), np.arange(count)])
