"""Phase one's land use/cover predictions on the training and validation windows, cached, so
the LAI model can be trained with the land cover it will get at evaluation (error propagation).

    python -m emulators.lai.phase_one [--ratio 1.0] [--factor 25] [--out CACHE]

Why: the separate design is fed phase one's *predictions* at evaluation; trained only on the
true land cover, v3's per-pixel path trusts the class completely (held-out R² 0.965 with true,
0.826 with predicted land cover). Phase one's predictions on its own training blocks are
in-sample and too good, so they are made here with the whole land-use/land-cover prior hidden
(`ratio` 1.0) and coarse fractions at 1.25° (`factor` 25), harder than the evaluation's 75 %
hidden at 1°; the printed accuracy / mIoU say how close their error comes to the held-out one
(land cover mIoU 0.476, OA 0.820 at 1.25°/75 %; 72 % pixel accuracy on the LAI test blocks).
Validation windows are out-of-sample for phase one too, so their predictions are honest.

A sample uses the prediction only where its LAI prior is hidden and the truth elsewhere
(`mixed_land_cover`): at evaluation phase one sees the same hidden patches and reproduces
the visible truth.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from coupler.errors import DataFileError
from emulators.lai.target import NO_LEAVES_IGBP
from emulators.lulc import split
from emulators.lulc.dataset import DEG, WINDOW, training_windows
from emulators.lulc.features import (
    N_LC,
    N_LU,
    coarse_fractions,
    global_patch_mask,
    row_area_weights,
    upsample,
)
from emulators.lulc.features import assemble as lulc_assemble
from emulators.lulc.metrics import confusion, miou_oa

CACHE = Path("run/data/lai/phase_one_lc.npz")
FACTOR = 25  # coarse land-use fractions at 1.25° (harder than the evaluation's 1°)
RATIO = 1.0  # the whole land-use/land-cover prior hidden (harder than the evaluation's 75 %)
MIN_LAND = 0.1  # the LAI Sampler's windows


@dataclass
class PhaseOneMaps:
    """Predicted land use/cover (N, WINDOW, WINDOW) of the windows at `origins` (N, 2)."""

    origins: np.ndarray
    lu: np.ndarray
    lc: np.ndarray

    def __post_init__(self) -> None:
        self.index = {(int(r), int(c)): i for i, (r, c) in enumerate(self.origins)}

    @classmethod
    def load(cls, path: Path = CACHE) -> PhaseOneMaps:
        if not Path(path).is_file():
            raise DataFileError(
                f"phase-one land-cover cache '{path}' is missing: build it with "
                "`python -m emulators.lai.phase_one`"
            )
        with np.load(path) as f:
            return cls(f["origins"], f["lu"], f["lc"])

    def window(self, r0: int, c0: int) -> tuple[np.ndarray, np.ndarray]:
        """The predicted (lu, lc) of the window with origin (r0, c0)."""
        try:
            i = self.index[(r0, c0)]
        except KeyError:
            raise DataFileError(
                f"phase-one land-cover cache has no window at row {r0}, column {c0}: rebuild "
                "it with `python -m emulators.lai.phase_one`"
            ) from None
        return self.lu[i], self.lc[i]


def mixed_land_cover(truth: np.ndarray, predicted: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """Phase one's prediction where the prior is hidden, the truth where it is visible."""
    return np.where(hidden, predicted, truth)


def context_window(r0: int, c0: int, shape: tuple[int, int], factor: int) -> tuple[int, ...]:
    """Rows/columns (r0, r1, c0, c1) of a WINDOW plus ≥ 2 coarse cells of context on the
    `factor` lattice, clipped to the grid."""
    ctx = 2 * factor
    lo_r, lo_c = max(0, (r0 - ctx) // factor * factor), max(0, (c0 - ctx) // factor * factor)
    hi_r = min(shape[0] // factor * factor, -(-(r0 + WINDOW + ctx) // factor) * factor)
    hi_c = min(shape[1] // factor * factor, -(-(c0 + WINDOW + ctx) // factor) * factor)
    return lo_r, hi_r, lo_c, hi_c


def predict_window(
    cube, lulc, r0: int, c0: int, ratio: float = RATIO, factor: int = FACTOR, seed: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Phase one's (lu, lc) for the WINDOW at (r0, c0), predicted with context."""
    from emulators.lulc.dataset import lat_of_rows
    from emulators.lulc.features import static_channels
    from emulators.lulc.infer import predict_maps

    a, b, c, d = context_window(r0, c0, cube.shape, factor)
    w = cube.window(a, b, c, d)
    hidden = global_patch_mask(slice(a, b), slice(c, d), ratio, seed)
    weights = row_area_weights(-90.0 + a * DEG, b - a, DEG)
    coarse = coarse_fractions(w["lu"], factor, N_LU, weights)
    static = static_channels(w, lat_of_rows(a, b))
    x = lulc_assemble(upsample(coarse, factor), w["lu"], w["lc"], hidden, static)
    pred = predict_maps(lulc, x, coarse, factor, origin=(a, c))
    inner = (slice(r0 - a, r0 - a + WINDOW), slice(c0 - c, c0 - c + WINDOW))
    return pred.lu[inner], pred.lc[inner]


def build(out: Path = CACHE, ratio: float = RATIO, factor: int = FACTOR, cube_path=None) -> dict:
    """Predict every training and validation window, write the cache atomically and return
    phase one's land-cover mIoU / accuracy on each split (in-sample on training windows)."""
    from emulators.lai.dataset import CUBE_FIELDS
    from emulators.lulc.dataset import DEFAULT_CUBE, Cube
    from emulators.lulc.infer import OnnxLulc

    t0 = time.perf_counter()
    cube = Cube.open(cube_path or DEFAULT_CUBE, CUBE_FIELDS)
    lulc = OnnxLulc()
    origins, lus, lcs, report = [], [], [], {"ratio": ratio, "coarse_deg": factor * DEG}
    for which in (split.TRAIN, split.VALIDATION):
        conf, vegetated = np.zeros((N_LC, N_LC), np.int64), np.zeros((N_LC, N_LC), np.int64)
        windows = training_windows(cube, which, MIN_LAND)
        for r0, c0 in windows:
            lu, lc = predict_window(cube, lulc, r0, c0, ratio, factor)
            truth = cube.window(r0, r0 + WINDOW, c0, c0 + WINDOW)
            conf += confusion(truth["lc"], lc, N_LC)
            leaves = ~np.isin(truth["land_cover"], NO_LEAVES_IGBP)
            vegetated += confusion(truth["lc"][leaves], lc[leaves], N_LC)
            origins.append((r0, c0))
            lus.append(lu)
            lcs.append(lc)
        miou, oa, _ = miou_oa(conf)
        report[split.NAMES[which]] = {
            "windows": len(windows),
            "lc_miou": round(miou, 4),
            "lc_oa": round(oa, 4),
            "lc_accuracy_vegetated": round(miou_oa(vegetated)[1], 4),
        }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.npz")
    np.savez(tmp, origins=np.array(origins, np.int32), lu=np.stack(lus), lc=np.stack(lcs))
    os.replace(tmp, out)
    report["seconds"] = round(time.perf_counter() - t0, 1)
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m emulators.lai.phase_one", description=__doc__)
    p.add_argument("--out", type=Path, default=CACHE)
    p.add_argument("--ratio", type=float, default=RATIO)
    p.add_argument("--factor", type=int, default=FACTOR)
    args = p.parse_args(argv)
    print(json.dumps(build(args.out, args.ratio, args.factor)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
