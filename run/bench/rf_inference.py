"""Benchmark: the ONNX soil-moisture forest (emulators/soilmoisture/soilmoisture.onnx).

  cells_per_s_1t / _2t  fine cells per second through the forest with 1 and 2 ONNX Runtime
                        intra-op threads (200,000 cells, best of 3)
  model_mb              size of the shipped ONNX file
  daily_step_s          one daily step on a 1000 × 1000 fine tile: host fields (a 0.5° host
                        under 1/120°: 60 × 60 fine cells per host cell) spread to the tile,
                        stacked with the tile's static predictors, 10 layers predicted, and
                        the 10-layer result averaged back to the 17 × 17 host cells

Predictor values are drawn in the twin's ranges (this measures speed, not accuracy; tree
depth, not values, sets the cost). Prints one JSON line last.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from emulators.soilmoisture.features import FEATURE_NAMES, NLAYER  # noqa: E402
from emulators.soilmoisture.predict import ForestModel, predict_tile  # noqa: E402

MODEL = ROOT / "emulators" / "soilmoisture" / "soilmoisture.onnx"
TILE = 1000
RATIO = 60  # fine cells per host cell side
NROWS = 200_000

# (low, high) of each predictor, roughly the twin's ranges
RANGES = {
    **{n: (0.2, 0.4) for n in FEATURE_NAMES if n.startswith("sm_ra")},
    **{n: (272.0, 295.0) for n in FEATURE_NAMES if n.startswith("st_ra")},
    "ta": (265.0, 300.0),
    "pre": (0.0, 20.0),
    "eva": (0.0, 4.0),
    "pet": (0.0, 6.0),
    "lai": (0.3, 5.0),
    "land_cover": (1.0, 16.0),
    "elevation": (0.0, 3000.0),
    "sand": (5.0, 85.0),
    "silt": (5.0, 60.0),
    "clay": (3.0, 50.0),
    "organic": (0.0, 130.0),
    "porosity": (0.38, 0.48),
}
HOST_FIELDS = [
    n
    for n in FEATURE_NAMES
    if n.startswith(("sm_ra", "st_ra")) or (n in RANGES and n in ("ta", "pre", "eva", "pet"))
]


def cells_per_s(model: ForestModel, X: np.ndarray) -> float:
    model.run(X[:1000])
    best = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        model.run(X)
        best = min(best, time.perf_counter() - t0)
    return X.shape[0] / best


def daily_step(model: ForestModel, host: dict, static: dict) -> tuple[np.ndarray, float]:
    """Host fields → tile, predict 10 layers, block means back to host cells (timed)."""
    t0 = time.perf_counter()
    fields = dict(static)
    for name, coarse in host.items():
        fields[name] = np.repeat(np.repeat(coarse, RATIO, axis=0), RATIO, axis=1)[:TILE, :TILE]
    sm = predict_tile(model, fields)
    nh = TILE // RATIO  # whole host cells in the tile
    agg = sm[:, : nh * RATIO, : nh * RATIO].reshape(NLAYER, nh, RATIO, nh, RATIO).mean(axis=(2, 4))
    return agg, time.perf_counter() - t0


def main() -> None:
    model_path = Path(sys.argv[1]) if len(sys.argv) > 1 else MODEL  # default: the shipped one
    if not model_path.is_file():
        sys.exit(f"rf_inference: {model_path} is missing; run `make models-soilmoisture`")
    rng = np.random.default_rng(0)
    X = np.stack([rng.uniform(*RANGES[n], NROWS) for n in FEATURE_NAMES], axis=1).astype(np.float32)
    X[:, FEATURE_NAMES.index("land_cover")] = np.rint(X[:, FEATURE_NAMES.index("land_cover")])
    rate1 = cells_per_s(ForestModel(model_path, threads=1), X)
    rate2 = cells_per_s(ForestModel(model_path, threads=2), X)
    nhost = -(-TILE // RATIO)
    host = {n: rng.uniform(*RANGES[n], (nhost, nhost)) for n in HOST_FIELDS}
    static = {
        n: rng.uniform(*RANGES[n], (TILE, TILE)) for n in FEATURE_NAMES if n not in HOST_FIELDS
    }
    model = ForestModel(model_path, threads=1)
    agg, step_s = daily_step(model, host, static)
    model_mb = model_path.stat().st_size / 1e6
    print(f"forest: {model_mb:.2f} MB; {rate1:,.0f} cells/s (1 thread), {rate2:,.0f} (2 threads)")
    print(f"daily step, {TILE}x{TILE} tile, 1 thread: {step_s:.2f} s -> host cells {agg.shape}")
    print(
        json.dumps(
            {
                "benchmark": "rf_inference",
                "cells_per_s_1t": round(rate1),
                "cells_per_s_2t": round(rate2),
                "model_mb": round(model_mb, 3),
                "daily_step_s": round(step_s, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
