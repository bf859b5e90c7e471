"""Benchmark: the ONNX soil-moisture forest (emulators/soilmoisture/soilmoisture.onnx).

  cells_per_s_1t / _2t  fine cells per second through the forest with 1 and 2 ONNX Runtime
                        intra-op threads (200,000 cells, best of 3)
  model_mb              size of the shipped ONNX file
  daily_step_s          one run of the online step (transform 'soil_moisture',
                        emulators/soilmoisture/online.py) on a 1000 × 1000 all-land fine tile,
                        1 thread: host imports as the coupler hands them (a 0.5° host under
                        1/120°: 60 × 60 fine cells per host cell), the twin's predictors built,
                        10 layers predicted (the coupler's remaps are not included)

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

from coupler.clock import ModelTime, Schedule  # noqa: E402
from coupler.steps.base import StepContext  # noqa: E402
from emulators.soilmoisture.features import FEATURE_NAMES, OUTPUT_NAME  # noqa: E402
from emulators.soilmoisture.online import FINE_PREDICTORS, SoilMoistureForest  # noqa: E402
from emulators.soilmoisture.predict import ForestModel  # noqa: E402

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
# (low, high) of the host imports, (nlev, ny, nx) on the host cells
HOST_RANGES = {
    "H2OSOI": (10, 0.15, 0.4),
    "TSOI": (10, 272.0, 295.0),
    "TBOT": (1, 265.0, 300.0),
    "PRECTmms": (1, 0.0, 2.3e-4),
    "QFLX_EVAP": (1, 0.0, 4.6e-5),
    "RNET": (1, -50.0, 250.0),
}


def cells_per_s(model: ForestModel, X: np.ndarray) -> float:
    model.run(X[:1000])
    best = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        model.run(X)
        best = min(best, time.perf_counter() - t0)
    return X.shape[0] / best


def daily_step(model_path: Path, host: dict, static: dict) -> tuple[np.ndarray, float]:
    """One compute of the online step on the tile (timed; the model loads before)."""
    step = SoilMoistureForest("soil", Schedule.parse("daily"), {"model": str(model_path)})
    t1 = ModelTime.from_date(2001, 7, 2)
    lat = np.full((TILE, 1), 45.0)
    ctx = StepContext(t1, t1 + (-86400), lat, np.zeros((1, TILE)), 0)
    inputs = {"landmask": np.ones((TILE, TILE)), **static}
    for name, coarse in host.items():
        inputs[name] = np.repeat(np.repeat(coarse, RATIO, axis=-2), RATIO, axis=-1)[
            ..., :TILE, :TILE
        ]
    t0 = time.perf_counter()
    sm = step.compute(inputs, {}, ctx)[OUTPUT_NAME]
    return sm, time.perf_counter() - t0


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
    host = {}
    for name, (nlev, lo, hi) in HOST_RANGES.items():
        values = rng.uniform(lo, hi, (nlev, nhost, nhost))
        host[name] = values[0] if nlev == 1 else values
    static = {n: rng.uniform(*RANGES[f], (TILE, TILE)) for n, f in FINE_PREDICTORS.items()}
    static["land_cover"] = np.rint(static["land_cover"])
    sm, step_s = daily_step(model_path, host, static)
    model_mb = model_path.stat().st_size / 1e6
    print(f"forest: {model_mb:.2f} MB; {rate1:,.0f} cells/s (1 thread), {rate2:,.0f} (2 threads)")
    print(f"online daily step, {TILE}x{TILE} tile, 1 thread: {step_s:.2f} s -> {sm.shape}")
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
