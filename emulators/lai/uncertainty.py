"""Is the LAI U-Net's spread informative? MC dropout against the actual error on held-out blocks.

    python -m emulators.lai.uncertainty --checkpoint run/data/lai/separate_res_seed0/best.pt
                                        [--regions 4] [--samples 16] [--months 1,4,7,10]
                                        [--members 3]

The separate design drops feature elements before its 1×1 head (p = `dropout` of the
checkpoint); keeping that dropout on at inference gives `samples` predictions per pixel
(the encoder–decoder runs once, only the head is resampled, so this is cheap). Their
standard deviation is the spread; their mean is scored against the SEMI-EMPIRICAL target on
the held-out regions of `evaluate table` (true land cover, 75 % of the prior hidden). This
spread covers the head's dropout only — not the encoder's weights, the data, or land-cover
errors — so it is a lower bound on the uncertainty; the numbers say how well it ranks errors.
v3's hidden pixels take their LAI from the per-pixel path, which no dropout reaches: with
`--members N` that path is refit N more times from fresh random starts on other training
crops (body kept) and draw i uses path i mod (N + 1), an ensemble of the hidden branch.

Written: emulators/lai/evaluation/uncertainty.json (correlation of spread and |error|
(Pearson and Spearman), error by spread quintile, coverage of mean ± 1.96·spread, hidden vs
visible prior pixels) and a calibration: one factor k fitted on as many VALIDATION blocks so
that mean ± 1.96·k·spread covers 95 % there, and the coverage it gives on the test blocks.
Offline only (torch).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from emulators.lai.evaluate import CONTEXT, LATTICE, TABLE_DIR
from emulators.lai.export import load_checkpoint
from emulators.lai.model import LaiUNet
from emulators.lulc.evaluate import held_out_regions, region_window
from emulators.lulc.features import global_patch_mask


@torch.no_grad()
def mc_dropout(
    model: LaiUNet, x: np.ndarray, samples: int, seed: int = 0, pixel_paths: list | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) LAI (H, W) of `samples` dropout masks on the head's input features; with
    `pixel_paths` (refit_pixel_members) draw i also uses pixel path i mod their number."""
    p = model.dropout.p
    if p <= 0:
        raise ValueError("the checkpoint was trained without dropout: no MC-dropout spread")
    xt = torch.from_numpy(x[None, : model.inc[0].in_channels])  # v2 reads the leading 38
    h = model.features(xt)
    g = torch.Generator().manual_seed(seed)
    preds = []
    own = getattr(model.head_lai, "pixel", None)
    try:
        for i in range(samples):
            if pixel_paths:
                model.head_lai.pixel = pixel_paths[i % len(pixel_paths)]
            keep = (torch.rand(h.shape, generator=g) >= p).float() / (1 - p)
            hd = h * keep
            out = model.head_lai(hd, xt) if model.residual else model.head_lai(hd)
            preds.append(out[0].numpy())
    finally:
        if pixel_paths:
            model.head_lai.pixel = own
    stack = np.stack(preds).astype(np.float64)
    return stack.mean(0), stack.std(0)


def refit_pixel_members(
    model: LaiUNet, sampler, members: int, steps: int = 6000, crops: int = 500
) -> list[torch.nn.Module]:
    """The model's own per-pixel path and `members` more, each refit from a fresh random
    start (seed k) on other crops with the body kept (train.pretrain_pixel): an ensemble of
    the hidden branch. Why: v3's hidden pixels bypass the dropout (their LAI is the pixel
    path's), so MC dropout alone gives them no spread at all."""
    import copy

    from emulators.lai.model import PixelPhenologyHead
    from emulators.lai.train import pretrain_pixel

    if not isinstance(model.head_lai, PixelPhenologyHead):
        raise ValueError("pixel-path members need a model with a per-pixel path (residual 4)")
    paths = [model.head_lai.pixel]
    for k in range(1, members + 1):
        member = copy.deepcopy(model)
        torch.manual_seed(k)
        fresh = PixelPhenologyHead(model.head_lai.conv.in_channels, model.inc[0].in_channels)
        member.head_lai.pixel = fresh.pixel
        pretrain_pixel(member, sampler, steps, crops, seed=k, keep_body=True)
        paths.append(member.head_lai.pixel.eval())
    return paths


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra = np.argsort(np.argsort(a)).astype(np.float64)
    rb = np.argsort(np.argsort(b)).astype(np.float64)
    return float(np.corrcoef(ra, rb)[0, 1])


def spread_skill(spread: np.ndarray, err: np.ndarray, hidden: np.ndarray) -> dict:
    """Spread vs error statistics of flat arrays (err = mean prediction − truth)."""
    a = np.abs(err)
    edges = np.quantile(spread, np.linspace(0, 1, 6))
    which = np.clip(np.searchsorted(edges, spread, side="right") - 1, 0, 4)
    bins = [
        {
            "spread_mean": float(spread[which == k].mean()),
            "rmse": float(np.sqrt((err[which == k] ** 2).mean())),
            "pixels": int((which == k).sum()),
        }
        for k in range(5)
        if (which == k).any()
    ]
    return {
        "pearson_spread_abs_error": float(np.corrcoef(spread, a)[0, 1]),
        "spearman_spread_abs_error": spearman(spread, a),
        "mean_spread": float(spread.mean()),
        "rmse": float(np.sqrt((err**2).mean())),
        "coverage_1.96_spread": float((a <= 1.96 * spread).mean()),
        "by_spread_quintile": bins,
        "hidden_prior": {
            "mean_spread": float(spread[hidden].mean()),
            "rmse": float(np.sqrt((err[hidden] ** 2).mean())),
        },
        "visible_prior": {
            "mean_spread": float(spread[~hidden].mean()),
            "rmse": float(np.sqrt((err[~hidden] ** 2).mean())),
        },
    }


def collect(
    model: LaiUNet, source, regions, samples: int, months, pixel_paths=None
) -> tuple[np.ndarray, ...]:
    """(spread, error of the mean, hidden) of the scored pixels of `regions`, flat."""
    spread, err, hidden_px = [], [], []
    for region in regions:
        (r0, r1, c0, c1), (rr, cc) = region_window(region, LATTICE, CONTEXT)
        w = source.window(r0, r1, c0, c1)
        hidden = global_patch_mask(slice(r0, r1), slice(c0, c1), 0.75, 0)
        ok = w.valid()[rr, cc]
        for m in months:
            mean, std = mc_dropout(model, w.inputs(m, hidden), samples, m, pixel_paths)
            spread.append(std[rr, cc][ok])
            err.append((mean - w.lai[m])[rr, cc][ok])
            hidden_px.append(hidden[rr, cc][ok])
    return np.concatenate(spread), np.concatenate(err), np.concatenate(hidden_px)


def training_sampler(source, config: dict):
    """The training crops a checkpoint was trained on (with its share of phase one's land
    cover), for refitting pixel-path members."""
    from emulators.lai.dataset import Sampler
    from emulators.lai.phase_one import PhaseOneMaps
    from emulators.lulc import split

    share = config.get("predicted_share", 0.0)
    maps = PhaseOneMaps.load() if share else None
    return Sampler(source, split.TRAIN, config["crop"], phase_one=maps, predicted_share=share)


def calibration_factor(spread: np.ndarray, err: np.ndarray, coverage: float = 0.95) -> float:
    """k such that |error| ≤ 1.96·k·spread on `coverage` of the pixels with a spread (of the
    validation blocks): the spread is under-dispersed, this scales it without changing its
    ranking. Pixels without spread (v3's hidden ones: their LAI does not pass the dropout)
    cannot be calibrated and are left out (their share is reported)."""
    some = spread > 0
    return float(np.quantile(np.abs(err[some]) / spread[some], coverage) / 1.96)


def coverage(spread: np.ndarray, err: np.ndarray, k: float) -> float:
    return float((np.abs(err) <= 1.96 * k * spread).mean())


def evaluate(
    checkpoint: Path, n_regions: int, samples: int, months, out_dir: Path, members: int = 0
) -> dict:
    from emulators.lai.dataset import LaiSource

    torch.set_num_threads(1)
    model, saved = load_checkpoint(checkpoint)
    source = LaiSource()
    paths = None
    if members:
        paths = refit_pixel_members(model, training_sampler(source, saved["config"]), members)
    regions = held_out_regions(source.cube, n_regions)
    val_regions = held_out_regions(source.cube, n_regions, which="validation")
    k = calibration_factor(*collect(model, source, val_regions, samples, months, paths)[:2])
    spread, err, hidden = collect(model, source, regions, samples, months, paths)
    result = spread_skill(spread, err, hidden)
    result["calibrated"] = {
        "factor": k,
        "share_without_spread": float((spread == 0).mean()),
        "coverage_where_spread": coverage(spread[spread > 0], err[spread > 0], k),
        "fitted_on": [list(r) for r in val_regions],
        "coverage_1.96_spread": coverage(spread, err, k),
        "hidden_prior": coverage(spread[hidden], err[hidden], k),
        "visible_prior": coverage(spread[~hidden], err[~hidden], k),
    }
    result.update(
        checkpoint=str(checkpoint),
        dropout=model.dropout.p,
        pixel_path_members=len(paths) if paths else 0,
        samples=samples,
        regions=[list(r) for r in regions],
        months=[m + 1 for m in months],
        target="semi-empirical (NDVI amplitude, GSI timing)",
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / "uncertainty.json.tmp"
    tmp.write_text(json.dumps(result, indent=1))
    tmp.replace(out_dir / "uncertainty.json")
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m emulators.lai.uncertainty", description=__doc__)
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--regions", type=int, default=4)
    p.add_argument("--samples", type=int, default=16)
    p.add_argument("--months", default="1,4,7,10")
    p.add_argument("--out", type=Path, default=TABLE_DIR)
    p.add_argument("--members", type=int, default=0, help="refit pixel paths (refit_pixel_members)")
    args = p.parse_args(argv)
    months = tuple(int(m) - 1 for m in args.months.split(","))
    result = evaluate(args.checkpoint, args.regions, args.samples, months, args.out, args.members)
    print(json.dumps({k: v for k, v in result.items() if k != "by_spread_quintile"}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
