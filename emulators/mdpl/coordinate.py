"""Physics refinement of a calibrated set: a cheap coordinate search in the real physics.

Why: g_z (and the line search along its direction) leaves each influential parameter where
the surrogate put it; the host physics is cheap enough to try a few levels of each around
the current value as columns of one host run. Each run holds the best set so far moved by
±δ in one influential parameter at a time (and the combination of the moves that helped in
the previous run); the best column becomes the centre, δ halves when nothing helped. The
cost is whatever the caller minimises on the calibration years (the posterior, closure-aware
or not), so nothing of the held-out year is used.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

DELTA = 0.1  # first step in the unit cube
RUNS = 4  # host runs; each has at most 1 + 2 × len(coords) columns


@dataclass(frozen=True)
class SearchResult:
    unit: np.ndarray  # (12,) the best set found, unit cube
    cost: float
    n_sets: int  # parameter sets run through the physics (what DE's budget counts)
    n_runs: int  # host runs (each a batch of columns)


def _moves(centre: np.ndarray, coords: Sequence[int], delta: float) -> list[tuple[int, np.ndarray]]:
    """(coordinate, set) for centre ± δ along each coordinate, inside [0, 1], no repeats."""
    out = []
    for j in coords:
        for sign in (-1.0, 1.0):
            u = centre.copy()
            u[j] = np.clip(u[j] + sign * delta, 0.0, 1.0)
            if u[j] != centre[j]:
                out.append((j, u))
    return out


def search(
    cost_of: Callable[[np.ndarray], np.ndarray],
    start: np.ndarray,
    coords: Sequence[int],
    delta: float = DELTA,
    runs: int = RUNS,
    min_delta: float = 0.0,
) -> SearchResult:
    """Minimise `cost_of` (sets (n, 12) in the unit cube → costs (n,), one host run per call)
    from `start` over the parameters `coords`: at most `runs` host runs, fewer if δ falls
    below `min_delta` (converged on the calibration cost)."""
    best = np.asarray(start, dtype=float).copy()
    best_cost, combined, n_sets, run = np.inf, None, 0, 0
    for run in range(runs):
        if delta < min_delta:
            break
        moves = _moves(best, coords, delta)
        extra = [best] if run == 0 else ([combined] if combined is not None else [])
        sets = np.stack(extra + [u for _, u in moves])
        costs = np.asarray(cost_of(sets), dtype=float)
        n_sets += len(sets)
        if run == 0:
            best_cost = float(costs[0])
        helped: dict[int, tuple[float, float]] = {}  # coordinate → (cost, value) of its best
        for (j, u), c in zip(moves, costs[len(extra) :], strict=True):
            if c < best_cost and c < helped.get(j, (np.inf, 0.0))[0]:
                helped[j] = (float(c), float(u[j]))
        combined = best.copy()
        for j, (_, v) in helped.items():
            combined[j] = v
        combined = combined if len(helped) > 1 else None  # one move: already a column here
        k = int(np.argmin(costs))
        if costs[k] < best_cost:
            best, best_cost = sets[k].copy(), float(costs[k])
        else:
            delta /= 2
    else:
        run = runs
    return SearchResult(best, best_cost, n_sets, run)
