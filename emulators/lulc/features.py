"""The U-Net's input channels: coarse fractions, masked prior, static maps (pure numpy).

Used by training, evaluation and the online step alike, so the model always sees inputs
built one way. Channel order (40 channels, C × H × W, float32):

  0–7    coarse land-use fractions (LAND_USE order), each coarse cell's value repeated
         over its fine pixels; sum to 1 in every pixel
  8–15   prior land use, one-hot, 0 where masked
  16–26  prior land cover, one-hot, 0 where masked
  27     prior mask: 1 where the prior is hidden
  28     elevation / 1000 m, clipped to [-0.5, 9]  (ETOPO5; ocean depths clipped)
  29     log1p(slope in degrees)
  30     land fraction (GLOBE 30″ mask aggregated to the pixel)
  31–35  Köppen–Geiger main group one-hot (A B C D E); all 0 where no data
  36     annual mean 2 m temperature / 20 °C (ERA5 2000–2025)
  37     annual range of monthly 2 m temperature / 20 K
  38     log1p(annual precipitation in mm) / 7
  39     latitude / 90°
"""

from __future__ import annotations

import numpy as np

from coupler.errors import FieldError
from emulators.lulc.classes import IGNORE, LAND_COVER, LAND_USE

N_LU, N_LC = len(LAND_USE), len(LAND_COVER)
STATIC_FIELDS = ("elevation", "slope", "land_fraction", "koppen", "t_mean", "t_range", "precip")
CHANNELS: tuple[str, ...] = (
    *(f"coarse_{n}" for n in LAND_USE),
    *(f"prior_lu_{n}" for n in LAND_USE),
    *(f"prior_lc_{n}" for n in LAND_COVER),
    "prior_mask",
    "elevation",
    "log_slope",
    "land_fraction",
    *(f"koppen_{g}" for g in "ABCDE"),
    "t_mean",
    "t_range",
    "log_precip",
    "latitude",
)
N_CHANNELS = len(CHANNELS)
COARSE = slice(0, N_LU)
PRIOR_LU = slice(N_LU, 2 * N_LU)
PRIOR_LC = slice(2 * N_LU, 2 * N_LU + N_LC)
MASK = 2 * N_LU + N_LC
STATIC = slice(MASK + 1, N_CHANNELS)
PATCH = 32
FRACTION_TOLERANCE = 1e-3


def row_area_weights(lat_south: float, nrows: int, deg: float = 0.05) -> np.ndarray:
    """Relative area (sin φ_n − sin φ_s) of each pixel row of a regular grid, rows south → north."""
    edges = np.deg2rad(lat_south + deg * np.arange(nrows + 1))
    return np.diff(np.sin(edges))


def coarse_fractions(
    labels: np.ndarray, factor: int, n_classes: int, row_weights: np.ndarray
) -> np.ndarray:
    """Area-weighted class fractions (n_classes, H/f, W/f) of `labels` (H, W) per f×f block.

    Conservative aggregation: pixel areas from `row_weights` (H,); IGNORE pixels carry no
    weight (a block without valid pixels gets the fraction 0 everywhere).
    """
    h, w = labels.shape
    if h % factor or w % factor:
        raise FieldError(f"a {h}×{w} label map does not tile into {factor}×{factor} coarse cells")
    valid = labels != IGNORE
    area = np.broadcast_to(row_weights[:, None], (h, w)) * valid
    onehot = (labels[None] == np.arange(n_classes)[:, None, None]) * area[None]
    sums = onehot.reshape(n_classes, h // factor, factor, w // factor, factor).sum(axis=(2, 4))
    total = area.reshape(h // factor, factor, w // factor, factor).sum(axis=(1, 3))
    return np.divide(sums, total, out=np.zeros_like(sums), where=total > 0)


def upsample(coarse: np.ndarray, factor: int) -> np.ndarray:
    """Repeat each coarse cell over its factor × factor fine pixels."""
    return np.repeat(np.repeat(coarse, factor, axis=-2), factor, axis=-1)


def patch_mask(height: int, width: int, ratio: float, rng: np.random.Generator) -> np.ndarray:
    """Bool (H, W): True on round(ratio·n) randomly chosen 32×32 patches of the window."""
    ph, pw = -(-height // PATCH), -(-width // PATCH)
    n = ph * pw
    hidden = np.zeros(n, dtype=bool)
    hidden[rng.permutation(n)[: round(ratio * n)]] = True
    return upsample(hidden.reshape(ph, pw), PATCH)[:height, :width]


def global_patch_mask(rows: slice, cols: slice, ratio: float, seed: int) -> np.ndarray:
    """Bool (H, W) for global rows/cols: 32×32 patches of the global grid hidden with
    probability `ratio`, decided by a hash of (seed, patch row, patch column) — the same
    pixels whatever the tiling or rank count (for the online prior, seed = model year)."""
    pr = np.arange(rows.start // PATCH, (rows.stop - 1) // PATCH + 1, dtype=np.uint64)
    pc = np.arange(cols.start // PATCH, (cols.stop - 1) // PATCH + 1, dtype=np.uint64)
    h = (pr[:, None] * np.uint64(0x9E3779B97F4A7C15)) ^ (
        pc[None, :] * np.uint64(0xC2B2AE3D27D4EB4F)
    )
    h ^= np.uint64(seed * 0x165667B19E3779F9 % (1 << 64))
    h ^= h >> np.uint64(29)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(32)
    hidden = (h >> np.uint64(11)).astype(np.float64) / float(1 << 53) < ratio
    r0, c0 = rows.start - int(pr[0]) * PATCH, cols.start - int(pc[0]) * PATCH
    return upsample(hidden, PATCH)[
        r0 : r0 + rows.stop - rows.start, c0 : c0 + cols.stop - cols.start
    ]


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes, H, W) float32; IGNORE pixels are all 0."""
    return (labels[None] == np.arange(n_classes, dtype=labels.dtype)[:, None, None]).astype(
        np.float32
    )


def static_channels(static: dict[str, np.ndarray], lat: np.ndarray) -> np.ndarray:
    """The 12 normalised static channels (12, H, W) from physical fields (H, W) and lat (H,)."""
    missing = [k for k in STATIC_FIELDS if k not in static]
    if missing:
        raise FieldError(f"static fields missing: {missing} (need {list(STATIC_FIELDS)})")
    h, w = static["elevation"].shape
    out = np.empty((N_CHANNELS - STATIC.start, h, w), dtype=np.float32)
    out[0] = np.clip(static["elevation"] / 1000.0, -0.5, 9.0)
    out[1] = np.log1p(np.maximum(static["slope"], 0.0))
    out[2] = static["land_fraction"]
    out[3:8] = (
        static["koppen"][None] == np.arange(1, 6, dtype=static["koppen"].dtype)[:, None, None]
    )
    out[8] = static["t_mean"] / 20.0
    out[9] = static["t_range"] / 20.0
    out[10] = np.log1p(np.maximum(static["precip"], 0.0)) / 7.0
    out[11] = (np.asarray(lat, np.float32) / 90.0)[:, None]
    return out


def assemble(
    coarse_up: np.ndarray,
    prior_lu: np.ndarray,
    prior_lc: np.ndarray,
    hidden: np.ndarray,
    static: np.ndarray,
) -> np.ndarray:
    """The (40, H, W) float32 input from upsampled fractions (8, H, W), prior label maps
    (H, W), the hidden-patch mask (H, W) and the static channels (12, H, W)."""
    keep = (~hidden).astype(np.float32)
    return np.concatenate(
        [
            coarse_up.astype(np.float32),
            one_hot(prior_lu, N_LU) * keep,
            one_hot(prior_lc, N_LC) * keep,
            hidden[None].astype(np.float32),
            static,
        ]
    )


def check_inputs(x: np.ndarray) -> None:
    """Raise FieldError naming the culprit if x is not a valid (C, H, W) input stack.

    Catches a wrong channel count, NaN/inf, coarse fractions that do not sum to 1, and
    channels out of order (each group has a signature: fractions in [0, 1] summing to 1,
    one-hot priors that sum to 1 − mask, a 0/1 mask).
    """
    if x.ndim != 3 or x.shape[0] != N_CHANNELS:
        raise FieldError(
            f"land-use U-Net input must be ({N_CHANNELS}, H, W) in the order "
            f"{CHANNELS[:3]}…, got shape {x.shape}"
        )
    bad = ~np.isfinite(x)
    if bad.any():
        c = int(np.nonzero(bad.any(axis=(1, 2)))[0][0])
        raise FieldError(
            f"land-use U-Net input channel {c} ({CHANNELS[c]}) holds "
            f"{int(bad[c].sum())} NaN/inf values"
        )
    coarse = x[COARSE]
    if coarse.min() < -FRACTION_TOLERANCE or coarse.max() > 1 + FRACTION_TOLERANCE:
        raise FieldError(
            "coarse land-use fractions (channels 0–7) must lie in [0, 1]; found "
            f"[{coarse.min():.3g}, {coarse.max():.3g}] — wrong channel order?"
        )
    err = np.abs(coarse.sum(axis=0) - 1.0).max()
    if err > FRACTION_TOLERANCE:
        raise FieldError(
            "coarse land-use fractions (channels 0–7) must sum to 1 in every cell; "
            f"worst sum is off by {err:.3g}"
        )
    mask = x[MASK]
    if not np.all((mask == 0) | (mask == 1)):
        raise FieldError(f"prior mask (channel {MASK}) must be 0 or 1 — wrong channel order?")
    for name, group in (("land-use", x[PRIOR_LU]), ("land-cover", x[PRIOR_LC])):
        if not np.all((group == 0) | (group == 1)) or np.any(group.sum(axis=0) > 1 - mask):
            raise FieldError(
                f"prior {name} channels must be one-hot where the mask is 0 and 0 where it "
                "is 1 — wrong channel order?"
            )
    lf = x[STATIC.start + 2]
    if lf.min() < 0 or lf.max() > 1:
        raise FieldError(
            f"land fraction (channel {STATIC.start + 2}) must lie in [0, 1] — wrong channel order?"
        )
