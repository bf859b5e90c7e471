"""Perturbed-parameter ensembles of the host model: the training data of the MdPL surrogate.

Why here: MdPL pretrains its surrogate on runs of the land model with the 12 PFT parameters
perturbed within their Table 2 ranges (one-at-a-time at four uniformly spaced levels for the
sensitivity analysis, and random designs for pretraining). Each ensemble member is one
column of a `HostModel` batch, so a whole ensemble runs in one Fortran time loop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from coupler.errors import FieldError
from emulators.landmodel.model import HostModel
from emulators.landmodel.params import NPARAM, NPFT, PARAM_NAMES, default_params, parameter_table


def scale_to_ranges(u: np.ndarray) -> np.ndarray:
    """Map unit-cube samples (n, 12) in [0, 1] linearly onto the parameter ranges."""
    u = np.asarray(u, dtype=float)
    if u.ndim != 2 or u.shape[1] != NPARAM:
        raise FieldError(f"unit samples have shape {u.shape}; expected (n, {NPARAM})")
    if (u < 0).any() or (u > 1).any():
        raise FieldError("unit samples must lie in [0, 1]")
    tab = parameter_table()
    return tab.lo + u * (tab.hi - tab.lo)


def lhs_samples(n: int, seed: int = 0) -> np.ndarray:
    """Latin-hypercube design of `n` parameter sets (n, 12) within the MdPL ranges.

    Each parameter's range is cut into n equal strata, one sample per stratum, strata
    permuted independently per parameter (McKay et al. 1979); seeded, so reproducible.
    """
    if n < 1:
        raise FieldError(f"ensemble size must be >= 1, got {n}")
    rng = np.random.default_rng(seed)
    u = (np.arange(n)[:, None] + rng.random((n, NPARAM))) / n
    for k in range(NPARAM):
        u[:, k] = u[rng.permutation(n), k]
    return scale_to_ranges(u)


def oat_samples(base: np.ndarray, levels: int = 4) -> tuple[np.ndarray, list[tuple[str, float]]]:
    """One-at-a-time design: each parameter at `levels` uniformly spaced values across its
    range (ends included), all others at `base` (MdPL section 2.4.1 sensitivity analysis).

    Returns the (12 * levels, 12) parameter sets and a (parameter, value) label per row.
    """
    base = np.asarray(base, dtype=float)
    if base.shape != (NPARAM,):
        raise FieldError(f"base parameters have shape {base.shape}; expected ({NPARAM},)")
    tab = parameter_table()
    rows, labels = [], []
    for k, name in enumerate(PARAM_NAMES):
        for v in np.linspace(tab.lo[k], tab.hi[k], levels):
            row = base.copy()
            row[k] = v
            rows.append(row)
            labels.append((name, float(v)))
    return np.array(rows), labels


def run_ensemble(
    samples: np.ndarray,
    pft: int,
    forcing: Mapping[str, np.ndarray],
    lat: float,
    lon: float,
    sand: float = 40.0,
    clay: float = 20.0,
    start_doy: int = 1,
    dt: float = 1800.0,
    outputs: Sequence[str] = ("FSH", "EFLX_LH_TOT"),
    spinup_cycles: int = 0,
    monthly_lai: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Run one site with `len(samples)` parameter sets for PFT `pft` (one column each).

    forcing: FORCING_NAMES → (nstep,) site series (shared by all members). Each member is a
    column covered 100 % by `pft` whose parameter record is the sample. With
    `spinup_cycles` > 0 the forcing is first run that many times to equilibrate soil water
    and temperature. Returns {output: (nstep, n_members)}.
    """
    samples = np.atleast_2d(np.asarray(samples, dtype=float))
    if samples.shape[1] != NPARAM:
        raise FieldError(f"samples have shape {samples.shape}; expected (n, {NPARAM})")
    if not 1 <= pft < NPFT:
        raise FieldError(f"pft must be a vegetated ELM PFT 1..{NPFT - 1}, got {pft}")
    n = samples.shape[0]
    pct = np.zeros((n, NPFT))
    pct[:, pft] = 100.0
    params = default_params(n)
    params[:, pft, :] = samples
    lai = None if monthly_lai is None else np.broadcast_to(monthly_lai, (n, 12, NPFT))
    model = HostModel(pct, sand, clay, lat, lon, params=params, monthly_lai=lai)
    tbot = np.asarray(forcing["TBOT"], dtype=float)
    model.init_state(tinit=float(np.clip(tbot.mean(), 250.0, 310.0)))
    for _ in range(spinup_cycles):
        model.run(forcing, start_doy=start_doy, dt=dt, outputs=["TSKIN"])
    return model.run(forcing, start_doy=start_doy, dt=dt, outputs=list(outputs))
