"""Forest vs an ONNX-exportable boosting learner: scikit-learn's GradientBoostingRegressor
(one per layer) on the very CV folds of the forest search and in the year-to-year and
station-to-station experiments, then converted with skl2onnx (parity, size, speed).

Why: HistGradientBoostingRegressor scored marginally better than the forest but cannot be
exported here (MODEL_CARD.md), and the runtime takes ONNX only; the classic learner can.
`python -m emulators.soilmoisture.boosting [--smoke]` writes boosting.json next to the card.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType

from emulators.soilmoisture.dataset import DEFAULT_CUBE, build_table, load_cube
from emulators.soilmoisture.export import cells_per_second
from emulators.soilmoisture.features import NFEATURE
from emulators.soilmoisture.metrics import layer_scores
from emulators.soilmoisture.model import exportable_boosting
from emulators.soilmoisture.predict import ForestModel, predict
from emulators.soilmoisture.train import (
    SMOKE,
    Sizes,
    _write_json,
    cv_data,
    cv_rmse,
    experiment_table,
    split_masks,
    subsample,
)

CARD_DIR = Path(__file__).resolve().parent


def compare(
    cube: dict, sizes: Sizes, n_estimators: int, rows: int, save: Path | None = None
) -> dict:
    """CV RMSE on the forest's folds, per-layer experiment scores (trained on `rows` random
    training rows), ONNX parity/size/speed; written to `save` after each stage."""
    t0 = time.perf_counter()
    X, y, folds = cv_data(build_table(cube), sizes)
    out = {
        "learner": f"GradientBoostingRegressor per layer, {n_estimators} trees of depth 3, lr 0.1",
        "cv": cv_rmse(lambda: exportable_boosting(n_estimators, sizes.seed), X, y, folds),
        "cv_rows": int(X.shape[0]),
        "cv_folds": len(folds),
        "experiment_rows": rows,
    }
    print(f"boosting: CV done ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    if save:
        _write_json(save, out)
    for split in ("years", "stations"):
        table = experiment_table(cube, split, sizes)
        train, test = split_masks(cube, table, split, sizes)
        tr, te = table.rows(train), table.rows(test)
        sub = subsample(tr.y.shape[0], rows, sizes.seed + 2)  # HistGB's first `rows` rows
        model = exportable_boosting(n_estimators, sizes.seed).fit(tr.X[sub], tr.y[sub])
        scores = layer_scores(model.predict(te.X), te.y)
        out[split] = {k: [float(x) for x in v] for k, v in scores.items()}
        print(f"boosting: {split} done ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
        if save:
            _write_json(save, out)
    out["onnx"] = onnx_figures(model, te.X[:20_000])
    out["seconds"] = time.perf_counter() - t0
    return out


def onnx_figures(model, X: np.ndarray) -> dict:
    """Convert with skl2onnx; parity with scikit-learn, file size and cells/s (1 thread)."""
    onnx_model = convert_sklearn(
        model,
        initial_types=[("predictors", FloatTensorType([None, NFEATURE]))],
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "boosting.onnx"
        path.write_bytes(onnx_model.SerializeToString())
        X = X.astype(np.float32)
        parity = float(np.abs(predict(ForestModel(path), X) - model.predict(X)).max())
        return {
            "parity_max_abs": parity,
            "model_mb": path.stat().st_size / 1e6,
            "cells_per_s_1t": cells_per_second(path, X, threads=1),
        }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--cube", type=Path, default=DEFAULT_CUBE)
    p.add_argument("--out", type=Path, default=CARD_DIR / "boosting.json")
    p.add_argument("--trees", type=int, default=100)
    p.add_argument("--rows", type=int, default=20_000, help="training rows per experiment")
    p.add_argument("--smoke", action="store_true", help="tiny sizes (tests)")
    args = p.parse_args(argv)
    sizes = SMOKE if args.smoke else Sizes()
    result = compare(load_cube(args.cube), sizes, args.trees, args.rows, save=args.out)
    _write_json(args.out, result)
    print(json.dumps({k: result[k] for k in ("cv", "onnx")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
