"""Smooth exports between monthly updates, the way ELM's interpMonthlyVeg interpolates LAI.

ELM holds one value per month, valid at the middle of the month, and at a time that is the
fraction f of the way through month k it uses (ELM: `t = (day − 0.5)/ndaypm`)

    f < 0.5:   months k−1, k   with weights 0.5 − f, 0.5 + f
    f ≥ 0.5:   months k, k+1   with weights 1.5 − f, f − 0.5

so each month's value is reached exactly at its middle and the host sees a continuous,
piecewise-linear field. Online, a value is only known once its step has run; to stay
causal and continuous, the value produced by the update in month j is treated as month
j+1's value (it is reached in the middle of the month after its update). Before two
updates exist, the oldest available value stands in for the missing one. landemu uses the
exact model time for f (ELM the middle of the current day).
"""

from __future__ import annotations

import numpy as np

from coupler.clock import ModelTime, days_in_month
from coupler.persistence import Persistent, attr_array, scalar

SLOTS = 3  # updates kept: at any time, the two before the current month and its own


def month_index(t: ModelTime) -> int:
    """Months since January of year 1 (0-based)."""
    y, m, _ = t.ymd()
    return (y - 1) * 12 + m - 1


def mid_month_weights(t: ModelTime) -> tuple[int, int, float, float]:
    """(month a, month b, weight a, weight b) of ELM's interpolation at t (month indices)."""
    y, m, _ = t.ymd()
    start = ModelTime.from_date(y, m, 1, 0, t.calendar)
    f = (t - start) / (days_in_month(y, m, t.calendar) * 86400)
    k = month_index(t)
    if f < 0.5:
        return k - 1, k, 0.5 - f, 0.5 + f
    return k, k + 1, 1.5 - f, f - 0.5


class MonthlyInterpolation:
    """The last monthly updates of one export, and its interpolated value at any time."""

    def __init__(self, nlev: int, n_local: int) -> None:
        self.values = np.zeros((SLOTS, nlev, n_local))
        self.labels = [-1] * SLOTS  # month index of the update held in each slot

    def update(self, values: np.ndarray, when: ModelTime) -> None:
        """A new value from the producing step, run at `when`."""
        label = month_index(when)
        self.values[label % SLOTS] = values
        self.labels[label % SLOTS] = label

    def value(self, t: ModelTime) -> np.ndarray:
        """(nlev, n_local) at t: the ELM weights applied to the months' values."""
        a, b, wa, wb = mid_month_weights(t)
        # month m's value is the one of the update in month m − 1
        return wa * self._of_update(a - 1) + wb * self._of_update(b - 1)

    def _of_update(self, label: int) -> np.ndarray:
        held = [x for x in self.labels if x >= 0]
        if not held:
            raise ValueError("no monthly update yet")  # the producer runs at the first advance
        older = [x for x in held if x <= label]
        use = max(older) if older else min(held)
        return self.values[use % SLOTS]

    def persistent(self, key: str) -> list[Persistent]:
        out = [attr_array(key, "host", self, "values")]
        for slot in range(SLOTS):
            out.append(
                scalar(
                    f"{key}__label{slot}",
                    lambda slot=slot: self.labels[slot],
                    lambda v, slot=slot: self.labels.__setitem__(slot, int(v)),
                )
            )
        return out
