"""Per-phase wall-clock timers, reported once at finalize (min/mean/max over ranks).

Timing must cost next to nothing on the coupling hot path: a timer is a perf_counter_ns
pair and two integer additions; nothing is gathered until the report.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass
class _Entry:
    calls: int = 0
    ns: int = 0


class Timers:
    """Named accumulating timers: `with timers("advance/remap"): ...`."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    @contextmanager
    def __call__(self, name: str):
        t0 = time.perf_counter_ns()
        try:
            yield
        finally:
            entry = self._entries.get(name)
            if entry is None:
                entry = self._entries[name] = _Entry()
            entry.calls += 1
            entry.ns += time.perf_counter_ns() - t0

    def add(self, name: str, ns: int) -> None:
        entry = self._entries.setdefault(name, _Entry())
        entry.calls += 1
        entry.ns += ns

    def snapshot(self) -> dict[str, tuple[int, float]]:
        """name → (calls, seconds) on this rank."""
        return {k: (e.calls, e.ns * 1e-9) for k, e in self._entries.items()}

    def report(self, comm: Any) -> str:
        """A table of calls and seconds (min/mean/max over ranks); collective, text on root."""
        mine = self.snapshot()
        everyone = comm.gather(mine, root=0)
        if comm.rank != 0:
            return ""
        names = sorted({n for d in everyone for n in d})
        lines = [f"{'timer':<36}{'calls':>9}{'min s':>11}{'mean s':>11}{'max s':>11}"]
        for n in names:
            secs = [d.get(n, (0, 0.0))[1] for d in everyone]
            calls = max(d.get(n, (0, 0.0))[0] for d in everyone)
            lines.append(
                f"{n:<36}{calls:>9d}{min(secs):>11.4f}"
                f"{sum(secs) / len(secs):>11.4f}{max(secs):>11.4f}"
            )
        return "\n".join(lines)
