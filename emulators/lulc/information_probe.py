"""Is the held-out gap information or training? A probe with extra inputs, not a model.

    python -m emulators.lulc.information_probe [--out emulators/lulc/evaluation]

The U-Net's inputs (issue 9's list: coarse land-use fractions, masked prior, elevation,
slope, land mask, Köppen, ERA5 climate) hold no observation of a hidden pixel itself, and
nothing below the coarse cell that tells tree types or shrub from grass apart. This
measures, on the **validation** blocks (never the test blocks), the same per-pixel random
forest as the held-out table's baseline (60 trees, 60 000 training pixels) trained on the
same pixels with three input sets:

* `inputs`: the 40 channels;
* `+ndvi`: those + the real MODIS NDVI maximum and minimum climatology (bess-jpl, 0.05°,
  years unknown; the same satellite record the land-cover truth was classified from, so an
  upper guide rather than a fair input);
* `+coarse_lc`: those + the coarse **land-cover** fractions (11, aggregated from the truth
  like the land-use ones), what an ELM/CTSM host's land-use time series carries per cell
  and year (PCT_NAT_PFT, PCT_CROP) besides land use.

Land-cover mIoU and OA over the blocks, and over hidden pixels only. Writes
information_probe.json / .md. The U-Net half (a network fine-tuned with the NDVI channels
against the same fine-tune without them, scored as the product) is `unet_probe`; `EXTRA` and
`extra_source` give its training (`train run --extra-inputs ndvi`) the channels.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np

from emulators.lulc import split
from emulators.lulc.dataset import (
    COARSE_FACTORS,
    DEFAULT_CUBE,
    DEG,
    MASK_RATIOS,
    WINDOW,
    Cube,
    Sampler,
    window_inputs,
)
from emulators.lulc.features import (
    MASK,
    N_CHANNELS,
    N_LC,
    N_LU,
    coarse_fractions,
    row_area_weights,
    upsample,
)
from emulators.lulc.metrics import confusion, miou_oa

SETTINGS = ((1.25, 0.75), (1.25, 0.5), (0.25, 0.75))
OUT_DIR = Path(__file__).with_name("evaluation")
# columns of the probe's feature table: the 40 inputs, NDVI max/min, coarse land cover
NDVI = slice(N_CHANNELS, N_CHANNELS + 2)
COARSE_LC = slice(N_CHANNELS + 2, N_CHANNELS + 2 + N_LC)
INPUT_SETS = {
    "inputs": np.r_[0:N_CHANNELS],
    "+ndvi": np.r_[0:N_CHANNELS, NDVI],
    "+coarse_lc": np.r_[0:N_CHANNELS, COARSE_LC],
}


@cache
def ndvi_pair() -> np.ndarray:
    """(2, 3600, 7200) NDVI maximum and minimum on the cube's grid, 0 where no data (ocean)."""
    from emulators.lai.target import read_ndvi

    return np.nan_to_num(np.stack([read_ndvi("maximum"), read_ndvi("minimum")]), nan=0.0)


EXTRA = {"ndvi": 2}  # extra input sets a probe U-Net can be trained with (`train --extra-inputs`)


def extra_source(name: str) -> tuple[Callable[[int, int, np.ndarray], np.ndarray], int]:
    """(channels of the window at global (r0, c0) shaped like its land cover, their count)
    for a probe U-Net's extra input set (`dataset.Sampler`'s `extra`)."""
    if name not in EXTRA:
        raise ValueError(f"unknown extra inputs '{name}', choose one of {sorted(EXTRA)}")
    ndvi = ndvi_pair()
    return (lambda r0, c0, lc: ndvi_window(ndvi, r0, c0, lc.shape)), EXTRA[name]


def ndvi_window(ndvi: np.ndarray, r0: int, c0: int, shape: tuple[int, int]) -> np.ndarray:
    """(2, h, w): the NDVI pair of the window of `shape` at global (r0, c0)."""
    return ndvi[:, r0 : r0 + shape[0], c0 : c0 + shape[1]]


def extra_channels(ndvi: np.ndarray, lc: np.ndarray, r0: int, c0: int, factor: int) -> np.ndarray:
    """(2 + 11, H, W): NDVI max/min of the window at global (r0, c0), then its coarse
    land-cover fractions (the window's edges lie on the `factor` lattice)."""
    weights = row_area_weights(-90.0 + r0 * DEG, lc.shape[0], DEG)
    coarse_lc = upsample(coarse_fractions(lc, factor, N_LC, weights), factor)
    return np.concatenate([ndvi_window(ndvi, r0, c0, lc.shape), coarse_lc])


def training_pixels(
    cube: Cube, ndvi: np.ndarray, pixels: int = 60000, seed: int = 0, per: int = 400
) -> tuple[np.ndarray, np.ndarray]:
    """(features (n, 53): the 40 inputs, NDVI max/min, coarse land cover; land-cover labels
    (n,)) at random pixels of training windows, coarse and masking drawn as in training."""
    rng = np.random.default_rng(seed)
    sampler = Sampler(cube, split.TRAIN, WINDOW)
    xs, ys = [], []
    for _ in range(pixels // per):
        r0, c0 = sampler.window(rng)
        factor = int(rng.choice(COARSE_FACTORS))
        ratio = float(rng.uniform(*MASK_RATIOS))
        x, lu, lc, _ = window_inputs(cube, r0, r0 + WINDOW, c0, c0 + WINDOW, factor, ratio, rng)
        feats = np.concatenate([x, extra_channels(ndvi, lc, r0, c0, factor)])
        idx = rng.choice(lu.size, per, replace=False)
        xs.append(feats.reshape(feats.shape[0], -1)[:, idx].T)
        ys.append(np.where(lu.ravel()[idx] < N_LU, lc.ravel()[idx], 255))
    features, labels = np.concatenate(xs), np.concatenate(ys)
    keep = labels < N_LC
    return features[keep], labels[keep]


def probe(cube_path: Path = DEFAULT_CUBE, n_regions: int = 8) -> list[dict]:
    """One row per setting: each input set's land-cover scores on the validation blocks."""
    from emulators.lulc.evaluate import Evaluator, baseline_forest, held_out_regions

    ev = Evaluator(cube_path=cube_path, baselines=False)
    ndvi = ndvi_pair()
    features, labels = training_pixels(ev.cube, ndvi)
    forests = {
        name: baseline_forest(n_jobs=2).fit(features[:, cols], labels)
        for name, cols in INPUT_SETS.items()
    }
    regions = held_out_regions(ev.cube, n_regions, which="validation")
    rows = []
    for coarse_deg, mask in SETTINGS:
        conf = {(name, part): 0 for name in forests for part in ("all", "hidden")}
        for k, reg in enumerate(regions):
            inp = ev.inputs(reg, coarse_deg, mask, seed=k)  # seeded as `evaluate validation`
            (r0, c0), (rr, cc) = inp.origin, inp.region
            feats = np.concatenate([inp.x, extra_channels(ndvi, inp.lc, r0, c0, inp.factor)])
            feats = feats[:, rr, cc]
            truth, hidden = inp.lc[rr, cc], feats[MASK] > 0.5
            table = feats.reshape(feats.shape[0], -1).T
            for name, forest in forests.items():
                pred = forest.predict(table[:, INPUT_SETS[name]]).reshape(truth.shape)
                conf[name, "all"] += confusion(truth, pred, N_LC)
                conf[name, "hidden"] += confusion(truth[hidden], pred[hidden], N_LC)
        row: dict = {"coarse_deg": coarse_deg, "mask_ratio": mask}
        for (name, part), c in conf.items():
            miou, oa, _ = miou_oa(c)
            row[f"{name} {part}"] = [round(miou, 4), round(oa, 4)]
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def markdown(rows: list[dict]) -> str:
    names = list(INPUT_SETS)
    lines = [
        "Per-pixel random forest on the 8 validation blocks, land cover (`python -m "
        "emulators.lulc.information_probe`): LC mIoU / OA with the 40 U-Net inputs, + MODIS "
        "NDVI max/min climatology, + coarse land-cover fractions; over all block pixels, then "
        "over the hidden pixels only.",
        "",
        "| coarse ° | mask | "
        + " | ".join(f"{n}: {p}" for p in ("all", "hidden") for n in names)
        + " |",
        "|---|---|" + "---|" * (2 * len(names)),
    ]
    for r in rows:
        cells = ["{:.3f} / {:.3f}".format(*r[f"{n} {p}"]) for p in ("all", "hidden") for n in names]
        lines.append(f"| {r['coarse_deg']} | {r['mask_ratio']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_tables(out: Path, stem: str, rows: list[dict], md: str) -> None:
    """`stem`.json (the rows) and `stem`.md (their table) in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(rows, indent=1) + "\n")
    (out / f"{stem}.md").write_text(md)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m emulators.lulc.information_probe", description=__doc__
    )
    p.add_argument("--out", type=Path, default=OUT_DIR)
    p.add_argument("--cube", type=Path, default=DEFAULT_CUBE)
    args = p.parse_args(argv)
    rows = probe(args.cube)
    write_tables(args.out, "information_probe", rows, markdown(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
