"""Training and evaluation data of MdPL: per site forcing, TWIN observations, default run and a
perturbed-parameter ensemble of the Fortran physics; 48-step windows for the networks.

Why one cache file per site: the physics runs are the expensive part (minutes in all), the
networks are trained several times from them; `build_site` is resumable (skips sites whose
file exists) and writes each file atomically.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from coupler.errors import DataFileError, FieldError
from emulators.landmodel import FORCING_NAMES, lhs_samples
from emulators.mdpl import twin
from emulators.mdpl.sites import SITES, Site, attributes

WINDOW = 48
N_DOY = 4  # DOY encoding frequencies 2^0 .. 2^3 (sin and cos each)
DATA_DIR = Path(__file__).resolve().parents[2] / "run" / "data" / "mdpl"


def doy_encoding(nstep: int, start_step: int = 0, n_freq: int = N_DOY) -> np.ndarray:
    """Seed 003 eq. (3)-(4): [sin(2^l·DOY·2π/365), cos(...)] for l < n_freq, (nstep, 2n_freq),
    with a fractional day of year (noleap) for half-hourly steps."""
    k = start_step + np.arange(nstep)
    doy = 1.0 + (k % twin.STEPS_PER_YEAR) / twin.STEPS_PER_DAY
    ang = doy[:, None] * (2.0 * np.pi / 365.0) * (2.0 ** np.arange(n_freq))[None, :]
    return np.concatenate([np.sin(ang), np.cos(ang)], axis=1).astype(np.float32)


def forcing_matrix(forcing: dict[str, np.ndarray]) -> np.ndarray:
    """Forcing mapping → (nstep, 7) float32 in FORCING_NAMES order (FieldError if missing)."""
    missing = [n for n in FORCING_NAMES if n not in forcing]
    if missing:
        raise FieldError(f"forcing is missing {missing}; expected {list(FORCING_NAMES)}")
    f = np.stack([np.asarray(forcing[n], dtype=np.float32) for n in FORCING_NAMES], axis=1)
    if not np.isfinite(f).all():
        k, v = np.argwhere(~np.isfinite(f))[0]
        raise FieldError(f"forcing {FORCING_NAMES[v]} is not finite at step {k}")
    return f


def _atomic_savez(path: Path, **arrays: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp.npz")
    os.close(fd)
    try:
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def build_site(
    s: Site,
    forcing: dict[str, np.ndarray],
    n_members: int = 64,
    seed: int = 0,
    out_dir: Path = DATA_DIR,
) -> Path:
    """Run and cache one site: truth and default over all years, the LHS ensemble over the
    calibration years; returns the cache file (kept if it already exists)."""
    path = out_dir / f"{s.name}.npz"
    if path.exists():
        return path
    idx = [k for k, x in enumerate(SITES) if x.name == s.name]
    site_seed = seed * 1000 + (idx[0] if idx else 999)
    truth = twin.hidden_truth(s, seed)
    default = twin.default_set(s)
    full = twin.simulate(s, np.stack([truth, default]), forcing)
    sim_true = np.stack([full[n][:, 0] for n in twin.FLUXES], axis=1)
    sim_default = np.stack([full[n][:, 1] for n in twin.FLUXES], axis=1)
    obs, closure = twin.observe(sim_true, site_seed)
    members = lhs_samples(n_members, seed=site_seed)
    cal = {k: np.asarray(v)[: twin.CAL_STEPS] for k, v in forcing.items()}
    ens = twin.simulate(s, members, cal)
    ens_flux = np.stack([ens[n] for n in twin.FLUXES], axis=2).transpose(1, 0, 2)
    _atomic_savez(
        path,
        forcing=forcing_matrix(forcing),
        truth=truth,
        default=default,
        closure=np.float64(closure),
        sim_true=sim_true.astype(np.float32),
        sim_default=sim_default.astype(np.float32),
        obs=obs.astype(np.float32),
        members=np.concatenate([members, default[None]]),
        member_flux=np.concatenate([ens_flux, sim_default[None, : twin.CAL_STEPS]]).astype(
            np.float32
        ),
    )
    return path


@dataclass
class SiteData:
    """One site's cached arrays (see build_site); all fluxes are TWIN data."""

    site: Site
    forcing: np.ndarray  # (nstep, 7)
    truth: np.ndarray  # (12,)
    default: np.ndarray  # (12,)
    closure: float
    sim_true: np.ndarray  # (nstep, 2) physics with the hidden truth
    sim_default: np.ndarray  # (nstep, 2) physics with the PFT defaults
    obs: np.ndarray  # (nstep, 2) twin observations, NaN in gaps
    members: np.ndarray  # (m, 12) ensemble parameters (last = defaults)
    member_flux: np.ndarray  # (m, cal_steps, 2)
    attrs: np.ndarray  # (N_ATTR,)


def load_site(s: Site, data_dir: Path = DATA_DIR) -> SiteData:
    """Load a cached site (DataFileError naming the file and the command if absent)."""
    path = data_dir / f"{s.name}.npz"
    if not path.exists():
        raise DataFileError(
            f"{path} is missing; build it with `python -m emulators.mdpl.build_data`"
        )
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    return SiteData(
        site=s,
        forcing=arrays["forcing"],
        truth=arrays["truth"],
        default=arrays["default"],
        closure=float(arrays["closure"]),
        sim_true=arrays["sim_true"],
        sim_default=arrays["sim_default"],
        obs=arrays["obs"],
        members=arrays["members"],
        member_flux=arrays["member_flux"],
        attrs=attributes(s),
    )


@dataclass(frozen=True)
class Norm:
    """Standardisation of forcing and fluxes (means/STDs over the training sites)."""

    f_mean: np.ndarray  # (7,)
    f_std: np.ndarray
    y_mean: np.ndarray  # (2,)
    y_std: np.ndarray

    @classmethod
    def fit(cls, data: list[SiteData]) -> Norm:
        f = np.concatenate([d.forcing[: twin.CAL_STEPS] for d in data])
        y = np.concatenate([d.member_flux.reshape(-1, 2) for d in data])
        return cls(f.mean(0), f.std(0) + 1e-6, y.mean(0), y.std(0) + 1e-6)

    def to_dict(self) -> dict[str, list[float]]:
        return {
            k: [float(v) for v in getattr(self, k)] for k in ("f_mean", "f_std", "y_mean", "y_std")
        }

    @classmethod
    def from_dict(cls, d: dict) -> Norm:
        return cls(
            *(np.asarray(d[k], dtype=np.float32) for k in ("f_mean", "f_std", "y_mean", "y_std"))
        )

    def forcing(self, f: np.ndarray) -> np.ndarray:
        return ((f - self.f_mean) / self.f_std).astype(np.float32)

    def flux(self, y: np.ndarray) -> np.ndarray:
        return ((y - self.y_mean) / self.y_std).astype(np.float32)


def surrogate_inputs(fn: np.ndarray, start: np.ndarray, unit_params: np.ndarray) -> np.ndarray:
    """[forcing, DOY encoding, parameters] windows (B, WINDOW, 7 + 2N_DOY + 12).

    fn: normalised forcing (nstep, 7) of one site; start: (B,) first steps; unit_params (B, 12).
    """
    idx = start[:, None] + np.arange(WINDOW)[None, :]
    enc = doy_encoding(fn.shape[0])
    p = np.broadcast_to(unit_params[:, None, :], (len(start), WINDOW, unit_params.shape[1]))
    return np.concatenate([fn[idx], enc[idx], p], axis=2).astype(np.float32)


def generator_inputs(
    fn: np.ndarray, start: np.ndarray, attrs: np.ndarray, obs_n: np.ndarray | None
) -> np.ndarray:
    """[forcing, DOY encoding, attributes, observed fluxes (0 in gaps), observed mask] windows
    (B, WINDOW, 7 + 2N_DOY + N_ATTR + 3) for g_z; obs_n None = no observations (mask 0)."""
    idx = start[:, None] + np.arange(WINDOW)[None, :]
    enc = doy_encoding(fn.shape[0])
    b = len(start)
    a = np.broadcast_to(attrs[None, None, :], (b, WINDOW, attrs.shape[0]))
    if obs_n is None:
        o = np.zeros((b, WINDOW, 3), dtype=np.float32)
    else:
        win = obs_n[idx]
        ok = np.isfinite(win).all(axis=2, keepdims=True)
        o = np.concatenate([np.where(ok, win, 0.0), ok.astype(np.float32)], axis=2)
    return np.concatenate([fn[idx], enc[idx], a, o], axis=2).astype(np.float32)


def column_window_inputs(
    norm: Norm, windows: np.ndarray, attrs: np.ndarray, first_step: int
) -> np.ndarray:
    """g_z inputs (n, WINDOW, GENERATOR_IN) for one window per column, without observations
    (mask 0): what the online step sees. windows: (n, WINDOW, 7) physical forcing, oldest
    first; attrs: (n, N_ATTR); first_step: half-hour index in the year of the first step."""
    n = windows.shape[0]
    enc = np.broadcast_to(doy_encoding(WINDOW, first_step)[None], (n, WINDOW, 2 * N_DOY))
    a = np.broadcast_to(attrs[:, None, :], (n, WINDOW, attrs.shape[1]))
    none = np.zeros((n, WINDOW, 3), dtype=np.float32)
    return np.concatenate([norm.forcing(windows), enc, a, none], axis=2).astype(np.float32)
