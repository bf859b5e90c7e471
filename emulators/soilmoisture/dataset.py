"""The TWIN training table of the soil-moisture forest: cube file, the SMCI station correction,
predictors (seed 002 Table 1) and the splits.

Why separate from twin.py: the physics run is minutes, everything here is seconds, and tests
build tiny cubes. The cube is one .npz under run/data/soilmoisture/ (git-ignored), written
atomically; rows of the table are (day, station) pairs, day-major.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from coupler.errors import DataFileError, FieldError
from emulators.soilmoisture.features import FEATURE_NAMES, NLAYER

DEFAULT_CUBE = Path("run/data/soilmoisture/twin.npz")
CUBE_KEYS = (
    "sm_station",
    "sm_station_true",
    "sm_host",
    "st_host",
    "ta",
    "pre",
    "eva",
    "pet",
    "lai_station",
    "station_host",
    "station_land_cover",
    "station_elevation",
    "station_sand",
    "station_silt",
    "station_clay",
    "station_organic",
    "station_porosity",
    "year",
)


def atomic_write(path: str | Path, write: Callable[[BinaryIO], object]) -> Path:
    """Call `write(file)` on a temp file next to `path` and rename it into place, so no
    half-written file is ever left at `path` (normal permissions, not mkstemp's 0600)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def save_cube(path: str | Path, cube: dict[str, np.ndarray]) -> Path:
    """Write the cube as .npz atomically."""
    return atomic_write(path, lambda fh: np.savez(fh, **cube))


def load_cube(path: str | Path) -> dict[str, np.ndarray]:
    """Read a twin cube (DataFileError naming the file and any missing array)."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(
            f"twin cube '{path}' does not exist; build it with "
            f"`landemu soilmoisture twin -o {path}`"
        )
    try:
        with np.load(path) as z:
            cube = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise DataFileError(f"twin cube '{path}' is not a readable .npz ({exc})") from exc
    missing = [k for k in CUBE_KEYS if k not in cube]
    if missing:
        raise DataFileError(f"twin cube '{path}' lacks arrays {missing}")
    return cube


def correct_to_reference(obs: np.ndarray, ref: np.ndarray, use_days: np.ndarray) -> np.ndarray:
    """SMCI1.0 / Sungmin & Orth (2020) correction of station series to the reanalysis.

    obs, ref: (day, station, layer); use_days: (day,) bool — the days whose statistics define
    the correction (training years only in the year-to-year experiment). Per station and
    layer: x' = x·σ_ref/σ_obs, then x'' = x' − (mean(x') − mean(ref)). The result has the
    reanalysis mean and std over `use_days` and keeps the station's daily variations.
    """
    if obs.shape != ref.shape:
        raise FieldError(f"station series {obs.shape} and reanalysis {ref.shape} differ in shape")
    if not np.any(use_days):
        raise FieldError("station correction: no days selected to compute its statistics")
    o = obs[use_days].astype(np.float64)
    r = ref[use_days].astype(np.float64)
    so = o.std(axis=0)
    weight = np.where(so > 1e-9, r.std(axis=0) / np.where(so > 1e-9, so, 1.0), 1.0)
    shift = o.mean(axis=0) * weight - r.mean(axis=0)
    return (obs * weight - shift).astype(np.float32)


@dataclass
class Table:
    """Samples (day, station): predictors X (N, F), corrected target y (N, 10), the reanalysis
    baseline (N, 10), noise-free truth (N, 10), and each row's station and year."""

    X: np.ndarray
    y: np.ndarray
    baseline: np.ndarray
    truth: np.ndarray
    station: np.ndarray
    year: np.ndarray

    def rows(self, mask: np.ndarray) -> Table:
        """The sub-table of the rows where `mask` holds."""
        return Table(*(getattr(self, f)[mask] for f in self.__dataclass_fields__))


def station_reference(cube: dict[str, np.ndarray]) -> np.ndarray:
    """Reanalysis soil moisture at each station's host cell, (day, station, layer)."""
    return cube["sm_host"][:, cube["station_host"]]


def build_table(cube: dict[str, np.ndarray], correction_days: np.ndarray | None = None) -> Table:
    """The training table of a cube; station series corrected over `correction_days`
    (default: every day)."""
    nd, ns, _ = cube["sm_station"].shape
    use = np.ones(nd, bool) if correction_days is None else np.asarray(correction_days, bool)
    ref = station_reference(cube)
    target = correct_to_reference(cube["sm_station"], ref, use)
    h = cube["station_host"]
    cols: dict[str, np.ndarray] = {}
    for k in range(NLAYER):
        cols[FEATURE_NAMES[k]] = ref[:, :, k]
        cols[FEATURE_NAMES[NLAYER + k]] = cube["st_host"][:, h, k]
    for name in ("ta", "pre", "eva", "pet"):
        cols[name] = cube[name][:, h]
    cols["lai"] = cube["lai_station"]
    for name in ("land_cover", "elevation", "sand", "silt", "clay", "organic", "porosity"):
        cols[name] = np.broadcast_to(cube[f"station_{name}"][None, :], (nd, ns))
    X = np.stack([np.asarray(cols[n], np.float32).reshape(-1) for n in FEATURE_NAMES], axis=1)
    return Table(
        X=X,
        y=target.reshape(nd * ns, NLAYER),
        baseline=ref.reshape(nd * ns, NLAYER).astype(np.float32),
        truth=cube["sm_station_true"].reshape(nd * ns, NLAYER),
        station=np.tile(np.arange(ns), nd),
        year=np.repeat(cube["year"], ns),
    )


def held_out_stations(n_stations: int, fraction: float = 1 / 3, seed: int = 0) -> np.ndarray:
    """Sorted indices of the stations held out in the station-to-station experiment."""
    rng = np.random.default_rng([seed, 23])
    k = max(1, round(n_stations * fraction))
    return np.sort(rng.choice(n_stations, size=k, replace=False))
