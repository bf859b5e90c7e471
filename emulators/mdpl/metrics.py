"""Seed 003 §2.3 metrics of a simulated series against observations with gaps (NaN).

Pure numpy: RMSE, STD (of the simulation), R, KGE (Gupta et al. 2009), NSE.
"""

from __future__ import annotations

import numpy as np

from coupler.errors import FieldError

METRICS = ("rmse", "std", "r", "kge", "nse")


def scores(sim: np.ndarray, obs: np.ndarray) -> dict[str, float]:
    """All metrics of `sim` vs `obs` over the steps where both are finite."""
    sim, obs = np.asarray(sim, dtype=float), np.asarray(obs, dtype=float)
    if sim.shape != obs.shape:
        raise FieldError(f"simulation has shape {sim.shape} but observations {obs.shape}")
    ok = np.isfinite(sim) & np.isfinite(obs)
    if ok.sum() < 2:
        raise FieldError("fewer than 2 observed steps to score against")
    s, o = sim[ok], obs[ok]
    so, ss = o.std(), s.std()
    r = float(np.corrcoef(s, o)[0, 1]) if so > 0 and ss > 0 else 0.0
    beta = s.mean() / o.mean() if o.mean() != 0 else np.nan
    gamma = ss / so if so > 0 else np.nan
    return {
        "rmse": float(np.sqrt(np.mean((s - o) ** 2))),
        "std": float(ss),
        "r": r,
        "kge": float(1 - np.sqrt((r - 1) ** 2 + (beta - 1) ** 2 + (gamma - 1) ** 2)),
        "nse": float(1 - np.sum((s - o) ** 2) / np.sum((o - o.mean()) ** 2)),
    }
