"""ONNX export of the soil-moisture forest (skl2onnx), parity, and the size/speed/accuracy
trade-off that picks the shipped forest.

Why a trade-off: an unrestricted forest on ~10⁵ rows per tree has ~10⁴ nodes per tree and
each ONNX node costs ~90 bytes (10 leaf values per leaf), so a 40-tree forest would be
tens to hundreds of MB per rank. Trees × depth are varied on the year-to-year split (train on
all but the last two years, score on a 100,000-row sample of them) and the most accurate
forest under `SIZE_BUDGET_MB` ships. Each tree is grown on a bootstrap of 5 % of the training
rows (~28,000; a depth-12 tree with leaves of ≥ 20 rows cannot use more), which keeps the grid
within minutes of one loaded core. The shipped forest is trained on the training years only,
so `landemu evaluate soilmoisture` on the last two years stays an honest score.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import onnx
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType

from emulators.soilmoisture.dataset import atomic_write, load_cube
from emulators.soilmoisture.features import (
    FEATURE_NAMES,
    FEATURE_UNITS,
    NFEATURE,
    NLAYER,
    OUTPUT_NAME,
)
from emulators.soilmoisture.metrics import layer_scores
from emulators.soilmoisture.model import random_forest
from emulators.soilmoisture.predict import FEATURES_METADATA_KEY, ForestModel, predict
from emulators.soilmoisture.train import (
    SMOKE,
    Sizes,
    experiment_table,
    split_masks,
    subsample,
)

SIZE_BUDGET_MB = 12.0
TREES_GRID = (5, 10, 20)
DEPTH_GRID = (6, 9, 12)
EXPORT_MAX_SAMPLES = 0.05  # bootstrap rows per tree (~28k): a depth-12 tree needs no more
SCORE_ROWS = 100_000  # test rows scored per forest (a seeded subsample)
PARITY_TOL = 1e-5


def to_onnx_model(forest, description: str = "") -> onnx.ModelProto:
    """The forest as an ONNX TreeEnsembleRegressor: input 'predictors' (N, 32) float32,
    output H2OSOI_FINE (N, 10) m3 m-3; the feature list is stored in the metadata."""
    model = convert_sklearn(
        forest,
        initial_types=[("predictors", FloatTensorType([None, NFEATURE]))],
        final_types=[(OUTPUT_NAME, FloatTensorType([None, NLAYER]))],
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    meta = {
        FEATURES_METADATA_KEY: ",".join(FEATURE_NAMES),
        "landemu_feature_units": json.dumps(FEATURE_UNITS),
        "landemu_output": "soil moisture (m3 m-3) at 10,20,...,100 cm",
        "landemu_data": "TWIN data from the landemu host physics (not observations)",
        "description": description,
    }
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    return model


def write_onnx(model: onnx.ModelProto, path: str | Path) -> Path:
    """Write atomically (temp file + rename) so no half-written model is left behind."""
    return atomic_write(path, lambda fh: fh.write(model.SerializeToString()))


def parity(forest, path: str | Path, X: np.ndarray) -> float:
    """Max |ONNX − scikit-learn| over the rows of X."""
    onnx_pred = predict(ForestModel(path), X)
    return float(np.abs(onnx_pred - forest.predict(X)).max())


def cells_per_second(path: str | Path, X: np.ndarray, threads: int = 1, repeats: int = 3) -> float:
    """Best-of-`repeats` throughput of the ONNX forest on X (rows per second)."""
    model = ForestModel(path, threads=threads)
    Xc = np.ascontiguousarray(X, np.float32)
    model.run(Xc[:1000])  # warm-up
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        model.run(Xc)
        best = min(best, time.perf_counter() - t0)
    return X.shape[0] / best


def run_export(
    cube_path: Path, out_dir: Path, model_path: Path, tables_dir: Path, smoke: bool = False
) -> dict:
    """Trade-off grid on the year split, ship the best forest under the size budget."""
    sizes = SMOKE if smoke else Sizes()
    trees_grid = (2, 4) if smoke else TREES_GRID
    depth_grid = (3, 5) if smoke else DEPTH_GRID
    out_dir, tables_dir = Path(out_dir), Path(tables_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables_dir.mkdir(parents=True, exist_ok=True)
    params = json.loads((out_dir / "cv.json").read_text())["best_forest"]
    cube = load_cube(cube_path)
    table = experiment_table(cube, "years", sizes)
    train, test = split_masks(cube, table, "years", sizes)
    tr, te = table.rows(train), table.rows(test)
    te = te.rows(np.isin(np.arange(te.y.shape[0]), subsample(te.y.shape[0], SCORE_ROWS, 5)))
    speed_rows = te.X[: min(te.X.shape[0], 50_000)]
    rows, best = [], None
    for trees in trees_grid:
        for depth in depth_grid:
            forest = random_forest(
                params["max_features"],
                params["min_samples_leaf"],
                trees,
                max_depth=depth,
                max_samples=sizes.exp_max_samples if smoke else EXPORT_MAX_SAMPLES,
                seed=sizes.seed,
            ).fit(tr.X, tr.y)
            path = write_onnx(to_onnx_model(forest), out_dir / f"forest_t{trees}_d{depth}.onnx")
            pred = predict(ForestModel(path), te.X)
            row = {
                "trees": trees,
                "max_depth": depth,
                "nodes": int(sum(t.tree_.node_count for t in forest.estimators_)),
                "file_mb": path.stat().st_size / 1e6,
                "cells_per_s_1t": cells_per_second(path, speed_rows),
                "ubrmse": float(layer_scores(pred, te.y)["ubrmse"].mean()),
                "r": float(layer_scores(pred, te.y)["r"].mean()),
                "parity_max_abs": parity(forest, path, te.X[:20_000]),
            }
            rows.append(row)
            if row["file_mb"] <= SIZE_BUDGET_MB and (best is None or row["ubrmse"] < best[0]):
                best = (row["ubrmse"], forest, row)
    base = layer_scores(te.baseline, te.y)
    _write_tradeoff(rows, float(base["ubrmse"].mean()), tables_dir / "tradeoff.csv")
    _, forest, chosen = best
    desc = (
        f"SMCI-style random forest, {chosen['trees']} trees, max_depth {chosen['max_depth']}, "
        f"max_features {params['max_features']}, min_samples_leaf {params['min_samples_leaf']}; "
        f"trained on TWIN years {sorted(set(tr.year.tolist()))}"
    )
    write_onnx(to_onnx_model(forest, desc), model_path)
    summary = {
        "chosen": chosen,
        "model": str(model_path),
        "reanalysis_ubrmse": float(base["ubrmse"].mean()),
    }
    (tables_dir / "shipped_model.json").write_text(json.dumps(summary, indent=1))
    return summary


def _write_tradeoff(rows: list[dict], base_ubrmse: float, path: Path) -> None:
    keys = list(rows[0])
    lines = [",".join(keys)]
    lines += [
        ",".join(f"{r[k]:.6g}" if isinstance(r[k], float) else str(r[k]) for k in keys)
        for r in rows
    ]
    lines.append(f"# reanalysis ubRMSE on the same test years: {base_ubrmse:.6g}")
    path.write_text("\n".join(lines) + "\n")
