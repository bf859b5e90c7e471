"""The estimators: one multi-output random forest (10 layers at once) and, for comparison, one
histogram gradient-boosting learner per layer (scikit-learn).

Why multi-output: one forest shares its splits across the 10 depths, so one ONNX file maps
(N, 32) predictors to (N, 10) soil moisture — one call per tile in the online step.
Hyper-parameter grid as seed 002: max_features 1..25, min_samples_leaf 5..30 (step 5).
"""

from __future__ import annotations

from sklearn.ensemble import (
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
    RandomForestRegressor,
)
from sklearn.multioutput import MultiOutputRegressor

MAX_FEATURES_GRID = tuple(range(1, 26))
MIN_SAMPLES_LEAF_GRID = tuple(range(5, 31, 5))


def random_forest(
    max_features: int,
    min_samples_leaf: int,
    n_estimators: int = 30,
    max_depth: int | None = None,
    max_samples: float | None = None,
    seed: int = 0,
) -> RandomForestRegressor:
    """A single-threaded regression forest (bootstrap; `max_samples` rows per tree)."""
    return RandomForestRegressor(
        n_estimators=n_estimators,
        max_features=max_features,
        min_samples_leaf=min_samples_leaf,
        max_depth=max_depth,
        max_samples=max_samples,
        bootstrap=True,
        n_jobs=1,
        random_state=seed,
    )


def gradient_boosting(max_iter: int = 200, seed: int = 0) -> MultiOutputRegressor:
    """One HistGradientBoostingRegressor per layer (it has no multi-output mode)."""
    return MultiOutputRegressor(
        HistGradientBoostingRegressor(
            max_iter=max_iter,
            learning_rate=0.1,
            max_leaf_nodes=31,
            min_samples_leaf=20,
            early_stopping=False,
            random_state=seed,
        ),
        n_jobs=1,
    )


def exportable_boosting(n_estimators: int = 100, seed: int = 0) -> MultiOutputRegressor:
    """One classic GradientBoostingRegressor per layer (depth-3 trees): the boosting learner
    skl2onnx can convert, unlike HistGradientBoostingRegressor here."""
    return MultiOutputRegressor(
        GradientBoostingRegressor(
            n_estimators=n_estimators, learning_rate=0.1, max_depth=3, random_state=seed
        ),
        n_jobs=1,
    )
