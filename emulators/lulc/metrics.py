"""Segmentation metrics (pixel accuracy, per-class IoU, mean IoU) and fraction consistency."""

from __future__ import annotations

import numpy as np

from emulators.lulc.classes import IGNORE


def confusion(truth: np.ndarray, pred: np.ndarray, n: int) -> np.ndarray:
    """(n, n) int64 counts [truth, prediction] over pixels whose truth is not IGNORE."""
    t = np.asarray(truth).ravel().astype(np.int64)
    p = np.asarray(pred).ravel().astype(np.int64)
    keep = t != IGNORE
    return np.bincount(t[keep] * n + p[keep], minlength=n * n).reshape(n, n)


def miou_oa(conf: np.ndarray) -> tuple[float, float, list[float | None]]:
    """(mean IoU over classes present in truth or prediction, overall accuracy, per-class IoU).

    A class absent from both truth and prediction has no IoU (None) and is left out of the
    mean, as usual for mIoU on a region.
    """
    tp = np.diag(conf).astype(float)
    union = conf.sum(0) + conf.sum(1) - tp
    per = [float(tp[k] / union[k]) if union[k] > 0 else None for k in range(len(tp))]
    present = [v for v in per if v is not None]
    total = conf.sum()
    return (
        float(np.mean(present)) if present else float("nan"),
        float(tp.sum() / total) if total else float("nan"),
        per,
    )


def fraction_consistency(fine_fractions: np.ndarray, coarse: np.ndarray) -> float:
    """Mean over coarse cells of ½ Σ_k |fine_k − coarse_k|: the share of each cell's area that
    the fine map puts in a different class than the coarse input says (0 = consistent)."""
    return float(0.5 * np.abs(fine_fractions - coarse).sum(axis=0).mean())


def miou_common(conf: np.ndarray, min_pixels: int = 1000) -> float:
    """Mean IoU over the classes with at least `min_pixels` truth pixels: plain mIoU counts a
    class of a handful of pixels (or one only predicted) as much as a biome, so one pixel
    can move it by 0.02; this one shows what the common classes do."""
    tp = np.diag(conf).astype(float)
    union = conf.sum(0) + conf.sum(1) - tp
    common = conf.sum(1) >= min_pixels
    return float(np.mean(tp[common] / union[common])) if common.any() else float("nan")
