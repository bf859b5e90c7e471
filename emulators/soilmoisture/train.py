"""Training of the soil-moisture forest on TWIN data: the CV search, the forest-vs-boosting
comparison and the three experiments (random split, unseen years, unseen stations).

Sizing (one core, shared machine): the 10-fold CV of all 150 (max_features, min_samples_leaf)
pairs runs on a random subsample of rows (`Sizes.cv_rows`) with few trees (`cv_trees`), folds
grouped by station so that a station's days never sit on both sides (random row folds would
reward memorising stations). The gradient-boosting learner is scored on the same folds. The
experiments then train the chosen forest with more trees, each tree on a bootstrap sample of
`exp_max_samples` of the training rows. Every stage writes its JSON to the work directory
and is skipped when that file exists (resumable); `--smoke` shrinks everything for tests.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from sklearn.inspection import permutation_importance
from sklearn.model_selection import GroupKFold

from emulators.soilmoisture.dataset import Table, build_table, held_out_stations, load_cube
from emulators.soilmoisture.features import FEATURE_NAMES
from emulators.soilmoisture.metrics import layer_scores, rmse
from emulators.soilmoisture.model import (
    MAX_FEATURES_GRID,
    MIN_SAMPLES_LEAF_GRID,
    gradient_boosting,
    random_forest,
)

SPLITS = ("random", "years", "stations")


@dataclass(frozen=True)
class Sizes:
    """How big each stage is (defaults: the shipped run; `SMOKE`: tests)."""

    cv_rows: int = 4_000
    cv_trees: int = 4
    cv_folds: int = 10
    max_features: tuple[int, ...] = MAX_FEATURES_GRID
    min_samples_leaf: tuple[int, ...] = MIN_SAMPLES_LEAF_GRID
    exp_trees: int = 40
    exp_max_samples: float = 0.25
    hgb_iter: int = 100
    hgb_rows: int = 100_000
    importance_rows: int = 4_000
    importance_repeats: int = 3
    test_years: int = 2
    seed: int = 0


SMOKE = Sizes(
    cv_rows=600,
    cv_trees=2,
    cv_folds=3,
    max_features=(2, 8),
    min_samples_leaf=(5, 30),
    exp_trees=3,
    exp_max_samples=0.5,
    hgb_iter=5,
    hgb_rows=2_000,
    importance_rows=200,
    importance_repeats=1,
    test_years=1,
)


def _log(msg: str) -> None:
    print(f"soilmoisture train: {msg}", file=sys.stderr, flush=True)


def _write_json(path: Path, obj: object) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)


def subsample(n: int, k: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=min(k, n), replace=False))


# --------------------------------------------------------------------------------------------
# stage 1: CV search and the forest-vs-boosting comparison
# --------------------------------------------------------------------------------------------
def cv_data(table: Table, sizes: Sizes) -> tuple[np.ndarray, np.ndarray, list]:
    """(X, y, folds) of the CV: `cv_rows` random rows, folds grouped by station."""
    rows = subsample(table.y.shape[0], sizes.cv_rows, sizes.seed)
    X, y, groups = table.X[rows], table.y[rows], table.station[rows]
    return X, y, list(GroupKFold(n_splits=sizes.cv_folds).split(X, y, groups))


def cv_rmse(make, X: np.ndarray, y: np.ndarray, folds: list) -> dict[str, float]:
    """Mean and std over the folds of the RMSE of a fresh estimator `make()` per fold."""
    errs = [rmse(make().fit(X[tr], y[tr]).predict(X[te]), y[te]) for tr, te in folds]
    return {"rmse": float(np.mean(errs)), "rmse_std": float(np.std(errs))}


def cv_search(table: Table, sizes: Sizes) -> dict:
    """Mean CV RMSE (all layers) of every grid pair and of gradient boosting, same folds."""
    X, y, folds = cv_data(table, sizes)
    grid = []
    t0 = time.perf_counter()
    for mf in sizes.max_features:
        for leaf in sizes.min_samples_leaf:
            score = cv_rmse(
                lambda mf=mf, leaf=leaf: random_forest(mf, leaf, sizes.cv_trees, seed=sizes.seed),
                X,
                y,
                folds,
            )
            grid.append({"max_features": mf, "min_samples_leaf": leaf, **score})
        _log(f"CV max_features={mf} done ({time.perf_counter() - t0:.0f} s)")
    best = min(grid, key=lambda g: g["rmse"])
    hgb_score = cv_rmse(lambda: gradient_boosting(sizes.hgb_iter, sizes.seed), X, y, folds)
    return {
        "rows": int(X.shape[0]),
        "folds": sizes.cv_folds,
        "grouped_by": "station",
        "cv_trees": sizes.cv_trees,
        "grid": grid,
        "best_forest": best,
        "gradient_boosting": {**hgb_score, "max_iter": sizes.hgb_iter},
        "winner": "forest" if best["rmse"] <= hgb_score["rmse"] else "gradient_boosting",
        "seconds": time.perf_counter() - t0,
    }


# --------------------------------------------------------------------------------------------
# stage 2: experiments
# --------------------------------------------------------------------------------------------
def split_masks(cube: dict, table: Table, split: str, sizes: Sizes) -> tuple[np.ndarray, ...]:
    """(train rows, test rows) of one experiment (table rows are (day, station), day-major)."""
    n = table.y.shape[0]
    if split == "random":
        test = np.zeros(n, bool)
        test[subsample(n, n // 5, sizes.seed + 1)] = True
    elif split == "years":
        last = np.unique(cube["year"])[-sizes.test_years :]
        test = np.isin(table.year, last)
    elif split == "stations":
        held = held_out_stations(cube["sm_station"].shape[1], 1 / 3, sizes.seed)
        test = np.isin(table.station, held)
    else:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    return ~test, test


def experiment_table(cube: dict, split: str, sizes: Sizes) -> Table:
    """The table of one experiment: in 'years' the station correction uses training years."""
    if split == "years":
        last = np.unique(cube["year"])[-sizes.test_years :]
        return build_table(cube, ~np.isin(cube["year"], last))
    return build_table(cube)


def _scores(pred: np.ndarray, obs: np.ndarray) -> dict[str, list[float]]:
    return {k: [float(x) for x in v] for k, v in layer_scores(pred, obs).items()}


def run_experiment(cube: dict, split: str, params: dict, sizes: Sizes) -> tuple[dict, dict]:
    """Train forest (and boosting) on one split; per-layer scores of forest, boosting and the
    reanalysis against corrected stations (and the forest against the noise-free truth).
    Returns (scores, arrays for plots and importance)."""
    table = experiment_table(cube, split, sizes)
    train, test = split_masks(cube, table, split, sizes)
    tr, te = table.rows(train), table.rows(test)
    t0 = time.perf_counter()
    forest = random_forest(
        params["max_features"],
        params["min_samples_leaf"],
        sizes.exp_trees,
        max_samples=sizes.exp_max_samples,
        seed=sizes.seed,
    ).fit(tr.X, tr.y)
    t_forest = time.perf_counter() - t0
    pred = forest.predict(te.X)
    sub = subsample(tr.y.shape[0], sizes.hgb_rows, sizes.seed + 2)
    hgb = gradient_boosting(sizes.hgb_iter, sizes.seed).fit(tr.X[sub], tr.y[sub])
    out = {
        "n_train": int(train.sum()),
        "n_test": int(test.sum()),
        "forest_fit_s": t_forest,
        "forest": _scores(pred, te.y),
        "gradient_boosting": _scores(hgb.predict(te.X), te.y),
        "reanalysis": _scores(te.baseline, te.y),
        "forest_vs_truth": _scores(pred, te.truth),
        "reanalysis_vs_truth": _scores(te.baseline, te.truth),
    }
    return out, {"forest": forest, "test": te, "pred": pred}


def importance(forest, test: Table, sizes: Sizes) -> dict[str, dict[str, float]]:
    """Permutation importance (drop in R², all layers) on a subsample of test rows."""
    rows = subsample(test.y.shape[0], sizes.importance_rows, sizes.seed + 3)
    res = permutation_importance(
        forest,
        test.X[rows],
        test.y[rows],
        n_repeats=sizes.importance_repeats,
        random_state=sizes.seed,
        n_jobs=1,
    )
    return {
        name: {"mean": float(m), "std": float(s)}
        for name, m, s in zip(FEATURE_NAMES, res.importances_mean, res.importances_std, strict=True)
    }


def run_training(
    cube_path: Path, out_dir: Path, smoke: bool = False, tables_dir: Path | None = None
) -> dict:
    """All stages; JSON results in `out_dir`, tables and plots in `tables_dir`."""
    from emulators.soilmoisture.evaluate import write_training_report

    sizes = SMOKE if smoke else Sizes()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cube = load_cube(cube_path)
    cv_path = out_dir / "cv.json"
    if not cv_path.is_file():
        _log(f"CV search on {sizes.cv_rows} rows, {sizes.cv_folds} folds")
        _write_json(cv_path, {**cv_search(build_table(cube), sizes), "sizes": asdict(sizes)})
    cv = json.loads(cv_path.read_text())
    params = cv["best_forest"]
    exp_path = out_dir / "experiments.json"
    results = json.loads(exp_path.read_text()) if exp_path.is_file() else {}
    plots = {}
    for split in SPLITS:
        if split in results and not (split == "years" and "importance" not in results):
            continue
        _log(f"experiment {split}")
        scores, arrays = run_experiment(cube, split, params, sizes)
        results[split] = scores
        plots[split] = arrays
        if split == "years":
            results["importance"] = importance(arrays["forest"], arrays["test"], sizes)
        _write_json(exp_path, results)
        np.savez(
            out_dir / f"pred_{split}.npz",
            pred=arrays["pred"],
            y=arrays["test"].y,
            baseline=arrays["test"].baseline,
            station=arrays["test"].station,
            year=arrays["test"].year,
        )
    summary = {
        "best_forest": params,
        "cv_gradient_boosting_rmse": cv["gradient_boosting"]["rmse"],
        "winner": cv["winner"],
        **{
            f"{s}_ubrmse_forest_vs_reanalysis": [
                round(float(np.mean(results[s]["forest"]["ubrmse"])), 4),
                round(float(np.mean(results[s]["reanalysis"]["ubrmse"])), 4),
            ]
            for s in SPLITS
        },
    }
    if tables_dir is not None:
        write_training_report(cv, results, out_dir, Path(tables_dir))
    return summary
