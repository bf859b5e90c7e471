"""Samples for the LAI U-Net: phase one's cube and geographic split, plus the real NDVI and the
ERA5 monthly climatology from which the SEMI-EMPIRICAL target (target.py) is made per window.

Nothing new is written to disk: a sample reads a 200 × 200 window (10°) of the phase-one
windows of one split (emulators/lulc/dataset.py `training_windows`), draws a month, makes the
semi-empirical LAI of that month and the previous one (target.py) on the window, hides random
32×32 patches of the previous month (ratio drawn from [0.25, 0.95], or the sampler's
`ratios`), crops and mirrors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from coupler.errors import DataFileError
from emulators.data import era5_climate
from emulators.lai import target
from emulators.lai.features import CO2, MASK, PRIOR, SM, SW, P, T, assemble, vegetation_channels
from emulators.lai.phase_one import mixed_land_cover
from emulators.lulc import split
from emulators.lulc.dataset import (
    COARSE_FACTORS,
    DEFAULT_CUBE,
    DEG,
    MASK_RATIOS,
    WINDOW,
    Cube,
    lat_of_rows,
    training_windows,
)
from emulators.lulc.features import N_CHANNELS as N_LULC_CHANNELS
from emulators.lulc.features import (
    N_LU,
    coarse_fractions,
    patch_mask,
    row_area_weights,
    static_channels,
    upsample,
)
from emulators.lulc.features import assemble as lulc_assemble

CUBE_FIELDS = (
    "lu",
    "lc",
    "land_cover",
    "elevation",
    "slope",
    "land_fraction",
    "koppen",
    "t_mean",
    "t_range",
    "precip",
)

JOINT_EXTRA = [T, P, SW, SM, CO2, PRIOR, MASK]
N_JOINT_CHANNELS = N_LULC_CHANNELS + len(JOINT_EXTRA)


@dataclass
class Window:
    """Everything about one window: labels, monthly climate, the 12-month target, statics."""

    rows: slice
    cols: slice
    lu: np.ndarray
    lc: np.ndarray
    igbp: np.ndarray
    t: np.ndarray  # (12, H, W) °C
    p: np.ndarray  # (12, H, W) mm / month
    lai: np.ndarray  # (12, H, W) semi-empirical target, NaN = no data
    static: np.ndarray  # (12, H, W)
    lat: np.ndarray  # (H,)
    veg: np.ndarray  # (3, H, W) NDVI max, NDVI min, fAPAR max (features.vegetation_channels)

    def valid(self) -> np.ndarray:
        """Pixels scored: a target exists and the pixel is not water or permanent ice."""
        return np.isfinite(self.lai[0]) & ~np.isin(self.igbp, target.NO_LEAVES_IGBP)

    def inputs(
        self,
        month: int,
        hidden: np.ndarray,
        lu: np.ndarray | None = None,
        lc: np.ndarray | None = None,
        prior: np.ndarray | None = None,
    ) -> np.ndarray:
        """(43, H, W) input for `month`; land use/cover and the prior (last month's LAI)
        default to the truth."""
        return assemble(
            self.lu if lu is None else lu,
            self.lc if lc is None else lc,
            self.t,
            self.p,
            month,
            self.lat,
            self.lai[(month - 1) % 12] if prior is None else prior,
            hidden,
            self.static,
            self.veg,
        )


class LaiSource:
    """The phase-one cube, the NDVI and fAPAR climatologies and the ERA5 monthly climatology
    in memory."""

    def __init__(self, cube_path=DEFAULT_CUBE) -> None:
        self.cube = Cube.open(cube_path, CUBE_FIELDS)
        self.ndvi_max = target.read_ndvi("maximum")
        self.ndvi_min = target.read_ndvi("minimum")
        self.fapar_max = target.read_fapar_max()
        climate = era5_climate.monthly_climate_coarse()
        self.t_coarse, self.p_coarse = climate["t"], climate["p"]

    def window(self, r0: int, r1: int, c0: int, c1: int) -> Window:
        w = self.cube.window(r0, r1, c0, c1)
        lat = lat_of_rows(r0, r1)
        lon = -180.0 + (np.arange(c0, c1) + 0.5) * DEG
        t = era5_climate.bilinear(self.t_coarse, lat, lon)
        p = np.maximum(era5_climate.bilinear(self.p_coarse, lat, lon), 0.0)
        veg = {
            "ndvi_max": self.ndvi_max[r0:r1, c0:c1],
            "ndvi_min": self.ndvi_min[r0:r1, c0:c1],
            "fapar_max": self.fapar_max[r0:r1, c0:c1],
        }
        lai = target.monthly_lai(veg["ndvi_max"], veg["ndvi_min"], w["land_cover"], t, p, lat)
        return Window(
            slice(r0, r1),
            slice(c0, c1),
            w["lu"],
            w["lc"],
            w["land_cover"],
            t,
            p,
            lai,
            static_channels(w, lat),
            lat,
            vegetation_channels(veg),
        )


class Sampler:
    """Random samples from the windows of one split."""

    def __init__(
        self,
        source: LaiSource,
        which: int,
        crop: int,
        min_land: float = 0.1,
        joint: bool = False,
        ratios: tuple[float, float] = MASK_RATIOS,
        phase_one=None,
        predicted_share: float = 0.0,
    ) -> None:
        """`phase_one` (phase_one.PhaseOneMaps) and `predicted_share`: that share of the
        samples gets phase one's predicted land use/cover where its prior is hidden (the
        land cover the model gets at evaluation); the target stays the true one's."""
        self.source, self.crop, self.joint, self.ratios = source, crop, joint, ratios
        self.origins = training_windows(source.cube, which, min_land)
        if not self.origins:
            raise DataFileError(f"no {split.NAMES[which]} windows with land in the cube")
        if predicted_share and phase_one is None:
            raise DataFileError("a predicted land-cover share needs phase one's cached maps")
        self.phase_one, self.predicted_share = phase_one, predicted_share

    def sample(
        self, rng: np.random.Generator, month: int | None = None, ratio: float | None = None
    ) -> tuple[np.ndarray, ...]:
        """(x, lai, valid, lu, lc); x is (43, crop, crop), or (47, …) for the joint model."""
        r0, c0 = self.origins[rng.integers(len(self.origins))]
        month = int(rng.integers(12)) if month is None else month
        ratio = float(rng.uniform(*self.ratios)) if ratio is None else ratio
        i, j = rng.integers(0, WINDOW - self.crop + 1, size=2)
        w = self.source.window(r0 + i, r0 + i + self.crop, c0 + j, c0 + j + self.crop)
        hidden = patch_mask(self.crop, self.crop, ratio, rng)
        lu, lc = w.lu, w.lc
        if self.predicted_share and rng.random() < self.predicted_share:
            crop = (slice(i, i + self.crop), slice(j, j + self.crop))
            lu_p, lc_p = (a[crop] for a in self.phase_one.window(int(r0), int(c0)))
            lu, lc = mixed_land_cover(lu, lu_p, hidden), mixed_land_cover(lc, lc_p, hidden)
        x = w.inputs(month, hidden, lu, lc)
        if self.joint:
            factor = int(rng.choice([f for f in COARSE_FACTORS if self.crop % f == 0]))
            x = joint_inputs(w, x, hidden, factor)
        out = [x, np.nan_to_num(w.lai[month]), w.valid(), w.lu, w.lc]
        if rng.random() < 0.5:  # east-west mirror keeps latitude meaningful
            out = [a[..., ::-1] for a in out]
        return tuple(np.ascontiguousarray(a) for a in out)


def joint_inputs(w: Window, x_lai: np.ndarray, hidden: np.ndarray, factor: int) -> np.ndarray:
    """The joint model's input: phase one's 40 channels (coarse land-use fractions at
    `factor`, masked land-use/land-cover prior, statics) + the LAI-only channels (climate,
    CO2, masked LAI prior and its mask) = 47 channels."""
    weights = row_area_weights(-90.0 + w.rows.start * DEG, w.lu.shape[0], DEG)
    coarse = coarse_fractions(w.lu, factor, N_LU, weights)
    x_lulc = lulc_assemble(upsample(coarse, factor), w.lu, w.lc, hidden, w.static)
    return np.concatenate([x_lulc, x_lai[JOINT_EXTRA]])
