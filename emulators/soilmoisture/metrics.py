"""Scores of seed 002 per layer: ubRMSE, MAE, R, R², bias (pure numpy).

All are pooled over every (day, station) sample of a layer, as the paper's Fig. 2 tables.
R² is the coefficient of determination 1 − SS_res/SS_tot (the "explained variation"), so it
can be negative for a poor predictor; bias = mean(prediction − observation).
"""

from __future__ import annotations

import numpy as np

METRICS = ("ubrmse", "mae", "r", "r2", "bias")


def layer_scores(pred: np.ndarray, obs: np.ndarray) -> dict[str, np.ndarray]:
    """{metric: (layer,)} for predictions and observations of shape (N, layer)."""
    p = np.asarray(pred, np.float64)
    o = np.asarray(obs, np.float64)
    if p.shape != o.shape or p.ndim != 2:
        raise ValueError(f"predictions {p.shape} and observations {o.shape} must be equal (N, L)")
    dp = p - p.mean(axis=0)
    do = o - o.mean(axis=0)
    ss_tot = (do**2).sum(axis=0)
    return {
        "ubrmse": np.sqrt(((dp - do) ** 2).mean(axis=0)),
        "mae": np.abs(p - o).mean(axis=0),
        "r": (dp * do).sum(axis=0) / np.sqrt((dp**2).sum(axis=0) * ss_tot),
        "r2": 1.0 - ((p - o) ** 2).sum(axis=0) / ss_tot,
        "bias": (p - o).mean(axis=0),
    }


def rmse(pred: np.ndarray, obs: np.ndarray) -> float:
    """Root-mean-square error over every element (the CV criterion)."""
    d = np.asarray(pred, np.float64) - np.asarray(obs, np.float64)
    return float(np.sqrt((d**2).mean()))
