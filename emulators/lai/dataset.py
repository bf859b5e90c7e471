"""Samples for the LAI U-Net: phase one's cube and geographic split, plus the real NDVI and the
ERA5 monthly climatology from which the SEMI-EMPIRICAL target (target.py) is made per window.

Nothing new is written to disk: a sample reads a 200 × 200 window (10°) of the phase-one
windows of one split (emulators/lulc/dataset.py `training_windows`), draws a month, makes the
semi-empirical LAI of that month and the previous one (target.py) on the window, hides random
32×32 patches of the previous month (ratio drawn from [0.25, 0.95]), crops and mirrors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from coupler.errors import DataFileError
from emulators.data import era5_climate
from emulators.lai import target
from emulators.lai.features import assemble
from emulators.lulc import split
from emulators.lulc.dataset import (
    DEFAULT_CUBE,
    DEG,
    MASK_RATIOS,
    WINDOW,
    Cube,
    lat_of_rows,
    training_windows,
)
from emulators.lulc.features import patch_mask, static_channels

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

    def valid(self) -> np.ndarray:
        """Pixels scored: a target exists and the pixel is not water or permanent ice."""
        return np.isfinite(self.lai[0]) & ~np.isin(self.igbp, target.NO_LEAVES_IGBP)

    def inputs(
        self,
        month: int,
        hidden: np.ndarray,
        lu: np.ndarray | None = None,
        lc: np.ndarray | None = None,
    ) -> np.ndarray:
        """(38, H, W) input for `month`; land use/cover default to the truth."""
        return assemble(
            self.lu if lu is None else lu,
            self.lc if lc is None else lc,
            self.t,
            self.p,
            month,
            self.lat,
            self.lai[(month - 1) % 12],
            hidden,
            self.static,
        )


class LaiSource:
    """The phase-one cube, the NDVI climatology and the ERA5 monthly climatology in memory."""

    def __init__(self, cube_path=DEFAULT_CUBE) -> None:
        self.cube = Cube.open(cube_path, CUBE_FIELDS)
        self.ndvi_max = target.read_ndvi("maximum")
        self.ndvi_min = target.read_ndvi("minimum")
        climate = era5_climate.monthly_climate_coarse()
        self.t_coarse, self.p_coarse = climate["t"], climate["p"]

    def window(self, r0: int, r1: int, c0: int, c1: int) -> Window:
        w = self.cube.window(r0, r1, c0, c1)
        lat = lat_of_rows(r0, r1)
        lon = -180.0 + (np.arange(c0, c1) + 0.5) * DEG
        t = era5_climate.bilinear(self.t_coarse, lat, lon)
        p = np.maximum(era5_climate.bilinear(self.p_coarse, lat, lon), 0.0)
        lai = target.monthly_lai(
            self.ndvi_max[r0:r1, c0:c1], self.ndvi_min[r0:r1, c0:c1], w["land_cover"], t, p, lat
        )
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
        )


class Sampler:
    """Random (x (38, crop, crop), lai, valid) samples from the windows of one split."""

    def __init__(self, source: LaiSource, which: int, crop: int, min_land: float = 0.1) -> None:
        self.source, self.crop = source, crop
        self.origins = training_windows(source.cube, which, min_land)
        if not self.origins:
            raise DataFileError(f"no {split.NAMES[which]} windows with land in the cube")

    def sample(
        self, rng: np.random.Generator, month: int | None = None, ratio: float | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r0, c0 = self.origins[rng.integers(len(self.origins))]
        month = int(rng.integers(12)) if month is None else month
        ratio = float(rng.uniform(*MASK_RATIOS)) if ratio is None else ratio
        i, j = rng.integers(0, WINDOW - self.crop + 1, size=2)
        w = self.source.window(r0 + i, r0 + i + self.crop, c0 + j, c0 + j + self.crop)
        x = w.inputs(month, patch_mask(self.crop, self.crop, ratio, rng))
        y, valid = np.nan_to_num(w.lai[month]), w.valid()
        if rng.random() < 0.5:  # east-west mirror keeps latitude meaningful
            x, y, valid = x[..., ::-1], y[:, ::-1], valid[:, ::-1]
        return (np.ascontiguousarray(x), np.ascontiguousarray(y), np.ascontiguousarray(valid))
