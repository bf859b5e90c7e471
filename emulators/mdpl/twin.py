"""Twin experiment: hidden true parameters per site, the Fortran physics run with them, and
realistic observation error on the simulated fluxes.

Why a twin: real PLUMBER2 fluxes are not installable offline, and a twin lets landemu report
what the paper could not — how close recovered parameters come to the truth. Everything made
here is TWIN DATA (simulated by landemu's own host physics), labelled so wherever it appears.

Observation model (per site, seeded): obs = closure × flux + ε, with
* energy-balance non-closure: turbulent fluxes scaled by a site factor in [0.85, 1.0] (eddy
  covariance typically misses 10-20 % of the available energy);
* heteroscedastic noise: ε ~ N(0, (5 W m-2 + 0.15 |flux|)^2), AR(1) in time (lag-1 0.5);
* gaps: ~15 % of the steps missing (NaN) in blocks of 1-96 steps (instrument outages).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from coupler.errors import FieldError
from emulators.data.forcing import generate_forcing
from emulators.landmodel import HostModel, default_params, parameter_table
from emulators.landmodel.params import NPARAM, NPFT
from emulators.mdpl.sites import SITES, Site

STEPS_PER_DAY = 48
STEPS_PER_YEAR = 365 * STEPS_PER_DAY
NYEARS = 3  # years 1-2: calibration / training, year 3: held-out evaluation
CAL_STEPS = 2 * STEPS_PER_YEAR
FLUXES = ("FSH", "EFLX_LH_TOT")  # sensible, latent heat (W m-2)
# plausible vegetation height (m) per group: a hidden truth must be consistent with the PFT
VEGH_RANGE = {
    "evergreen_forest": (10.0, 40.0),
    "woodland": (5.0, 30.0),
    "grassland": (0.5, 2.0),
    "cultivation": (0.5, 3.0),
}


def site_forcing(
    sites: tuple[Site, ...] = SITES, nyears: int = NYEARS, seed: int = 11, first_id: int = 0
) -> dict[str, np.ndarray]:
    """Half-hourly ERA5-climatology forcing {var: (nyears*17520, nsite)} for `sites`
    (weather streams seeded by (seed, first_id + site position))."""
    lat = np.array([s.lat for s in sites])
    lon = np.array([s.lon for s in sites])
    elev = np.array([s.elevation for s in sites])
    ids = first_id + np.arange(len(sites))
    return generate_forcing(lat, lon, 2001, nyears, seed=seed, cell_ids=ids, elevation=elev)


def default_set(s: Site) -> np.ndarray:
    """The MdPL Table 2 default parameters (12,) of the site's PFT."""
    return parameter_table().pft_defaults[s.pft].copy()


def to_unit(p: np.ndarray) -> np.ndarray:
    """Parameters → [0, 1] within their ranges (the scale the networks work in)."""
    t = parameter_table()
    return (np.asarray(p) - t.lo) / (t.hi - t.lo)


def from_unit(u: np.ndarray) -> np.ndarray:
    """[0, 1] → parameters within their ranges."""
    t = parameter_table()
    return t.lo + np.asarray(u) * (t.hi - t.lo)


# steps along the line from the PFT defaults (0) through g_z's set (1) that the physics
# line search tries (beyond 1: g_z moved the right way but not far enough)
LINE_STEPS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5)


def along_line(default: np.ndarray, p: np.ndarray, step: float) -> np.ndarray:
    """The set `step` of the way from `default` to `p` in the unit cube, kept in the ranges."""
    u0 = to_unit(default)
    return from_unit(np.clip(u0 + step * (to_unit(p) - u0), 0.0, 1.0))


def hidden_truth(s: Site, seed: int) -> np.ndarray:
    """A hidden true parameter set (12,) for a site: the PFT default perturbed in the unit
    cube (σ = 0.25), kept inside the range, vegetation height inside its group's band."""
    rng = np.random.default_rng([seed, s.pft, int(abs(s.lat) * 100)])
    u = np.clip(to_unit(default_set(s)) + rng.normal(0.0, 0.25, NPARAM), 0.02, 0.98)
    p = from_unit(u)
    lo, hi = VEGH_RANGE[s.group]
    p[0] = rng.uniform(lo, hi)
    return p


def simulate(
    s: Site,
    params: np.ndarray,
    forcing: Mapping[str, np.ndarray],
    spinup_steps: int = STEPS_PER_YEAR,
    outputs: tuple[str, ...] = FLUXES,
) -> dict[str, np.ndarray]:
    """Run the Fortran physics at site `s` for each parameter set (n, 12) → {out: (nstep, n)}.

    The first `spinup_steps` of the forcing are run once first (from a cold start) to
    equilibrate soil water and temperature; then the whole record is run from day 1.
    """
    params = np.atleast_2d(np.asarray(params, dtype=float))
    if params.shape[1] != NPARAM:
        raise FieldError(f"parameters have shape {params.shape}; expected (n, {NPARAM})")
    n = params.shape[0]
    pct = np.zeros((n, NPFT))
    pct[:, s.pft] = 100.0
    rec = default_params(n).copy()  # a writable record even for one column
    rec[:, s.pft, :] = params
    model = HostModel(pct, s.sand, s.clay, s.lat, s.lon, params=rec)
    f = {k: np.asarray(v, dtype=float) for k, v in forcing.items()}
    model.init_state(tinit=float(np.clip(f["TBOT"].mean(), 250.0, 310.0)))
    if spinup_steps:
        model.run({k: v[:spinup_steps] for k, v in f.items()}, outputs=["TSKIN"])
    return model.run(f, outputs=list(outputs))


def simulate_fluxes(
    s: Site,
    params: np.ndarray,
    forcing: Mapping[str, np.ndarray],
    spinup_steps: int = STEPS_PER_YEAR,
) -> np.ndarray:
    """`simulate`'s sensible and latent heat as one array (nstep, n, 2), column i = set i."""
    sim = simulate(s, params, forcing, spinup_steps)
    return np.stack([sim[f] for f in FLUXES], axis=2)


def observe(flux: np.ndarray, seed: int) -> tuple[np.ndarray, float]:
    """Twin observations of a (nstep, 2) flux record: non-closure, AR(1) heteroscedastic
    noise, gaps (NaN). Returns (obs, closure factor)."""
    rng = np.random.default_rng(seed)
    closure = float(rng.uniform(0.85, 1.0))
    nstep = flux.shape[0]
    white = rng.normal(size=flux.shape)
    eps = np.empty_like(white)
    eps[0] = white[0]
    for k in range(1, nstep):
        eps[k] = 0.5 * eps[k - 1] + np.sqrt(1 - 0.25) * white[k]
    obs = closure * flux + (5.0 + 0.15 * np.abs(flux)) * eps
    gap = np.zeros(nstep, dtype=bool)
    while gap.mean() < 0.15:
        k = rng.integers(0, nstep)
        gap[k : k + rng.integers(1, 97)] = True
    obs[gap] = np.nan
    return obs, closure
