"""A Gaussian prior around the PFT defaults for g_z (MAP calibration) and its weight.

Why: the fluxes alone do not identify 12 parameters (equifinality), and g_z trained on the
flux misfit alone fits surrogate error with parameters, moving them further from the truth
than the defaults. A prior N(u_default, σ_p²) per parameter in the unit cube turns the loss
into a negative log posterior. Divided by the likelihood's scale it reads

    loss = MSE + λ · Σ_j ((u_j − u_default,j) / σ_p)²,   λ = σ_e² / N_eff,

with MSE the mean squared flux misfit (standardised fluxes), σ_e² the misfit variance that
remains after calibration and N_eff the number of *independent* observations per site: the
observed H and LE values of the calibration years divided by the integrated autocorrelation
time τ of the misfit (AR(1) observation error and the surrogate's day-to-day error make
neighbouring half hours far from independent). σ_e² and τ are measured on the calibration
years' flux misfit only — never on the hidden truth.

Closure-aware misfit (optional, `PriorWeight.closure`): eddy-covariance H and LE miss part of
the available energy by a site factor that keeps the Bowen ratio (the twin's `observe`:
obs = c × flux + noise, c in [0.85, 1]). Fitting flux(θ) to obs directly makes θ absorb that
low bias. With a nuisance factor per site the misfit is obs − c*·sim(θ), c* the closed-form
least-squares factor over the observed H and LE (`closure_factor`), clipped to a plausible
range; c* is profiled out, so it carries no prior and adds no free network output.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from coupler.errors import ConfigError, FieldError

BLOCK_STEPS = 1440  # 30 days: the longest block with >= 20 blocks per site in 2 years
# plausible energy-balance closure of eddy-covariance H + LE (sites report 0.7-1.0; a little
# above 1 allowed for noise)
CLOSURE_RANGE = (0.7, 1.05)


def check_sigma(sigma_p: float) -> float:
    """σ_p must be a positive width in the unit cube (ConfigError naming it otherwise)."""
    if not (isinstance(sigma_p, int | float) and math.isfinite(sigma_p) and 0 < sigma_p <= 1):
        raise ConfigError(
            f"prior width sigma_p={sigma_p!r} is not in (0, 1] (a width in the unit cube of "
            "the parameter ranges, e.g. 0.25)"
        )
    return float(sigma_p)


def penalty(unit, unit_default, sigma_p: float):
    """Σ_j ((u_j − u_default,j) / σ_p)² over the last axis (numpy arrays or torch tensors)."""
    return (((unit - unit_default) / sigma_p) ** 2).sum(-1)


def check_closure(bounds) -> tuple[float, float]:
    """A closure range (lo, hi) with 0 < lo <= hi (ConfigError naming it otherwise)."""
    try:
        lo, hi = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise ConfigError(f"closure range {bounds!r} is not two numbers lo,hi") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo <= hi):
        raise ConfigError(f"closure range {bounds!r} needs 0 < lo <= hi (e.g. 0.7,1.05)")
    return lo, hi


def closure_factor(sim, obs, ok, bounds: tuple[float, float] = CLOSURE_RANGE, axis=None):
    """Least-squares closure factor c* = Σ ok·obs·sim / Σ ok·sim² (the c minimising
    Σ ok·(obs − c·sim)²), clipped to `bounds`; physical units, obs finite (0) where ok is 0.
    numpy arrays or torch tensors; `axis` = the axes summed (None: all → one factor)."""
    num = (ok * obs * sim).sum(axis)
    den = (ok * sim * sim).sum(axis)
    return (num / (den + 1e-12)).clip(*bounds)


def site_closure(
    sim: np.ndarray, obs: np.ndarray, bounds: tuple[float, float] = CLOSURE_RANGE
) -> float:
    """c* of a physics run (nstep, 2) against observations with NaN gaps (FieldError if
    nothing is observed)."""
    ok = np.isfinite(obs) & np.isfinite(sim)
    if not ok.any():
        raise FieldError("closure factor: no step with both an observed and a simulated flux")
    return float(closure_factor(np.where(ok, sim, 0.0), np.where(ok, obs, 0.0), ok, bounds))


def autocorrelation_time(resid: np.ndarray, block: int = BLOCK_STEPS) -> float:
    """τ ≈ mean over blocks of n_b · (block mean)² / mean(r²) for a misfit series with NaN
    gaps (n_b observed values in a block; blocks less than half observed are skipped). Not
    centred: a persistent bias counts as correlated error, as it should. τ = 1 for white
    noise, = block for a constant error."""
    n = resid.shape[0] // block
    r = resid[: n * block].reshape(n, block)
    count = np.isfinite(r).sum(axis=1)
    keep = count >= block / 2
    if not keep.any():
        raise ValueError("misfit series has no block at least half observed")
    means = np.nanmean(r[keep], axis=1)
    ms = float(np.nanmean(r[keep] ** 2))
    return float(np.clip(np.mean(count[keep] * means**2) / ms, 1.0, block))


@dataclass(frozen=True)
class PriorWeight:
    """The prior's width and its weight against the flux misfit (see the module docstring)."""

    sigma_p: float
    misfit_var: float  # σ_e², standardised fluxes
    n_eff: float  # independent observations per site (median over sites)
    tau_steps: float  # integrated autocorrelation time of the misfit (median over sites)
    closure: tuple[float, float] | None = None  # closure-aware misfit with c* in this range

    @property
    def lam(self) -> float:
        return self.misfit_var / self.n_eff

    def to_dict(self) -> dict:
        return asdict(self) | {"lam": self.lam}

    @classmethod
    def from_dict(cls, d: dict) -> PriorWeight:
        closure = d.get("closure")
        closure = tuple(check_closure(closure)) if closure is not None else None
        return cls(d["sigma_p"], d["misfit_var"], d["n_eff"], d["tau_steps"], closure)


def weight_from_misfit(
    sigma_p: float, misfits: list[np.ndarray], closure: tuple[float, float] | None = None
) -> PriorWeight:
    """PriorWeight from each site's calibration-year misfit series (nstep, 2) (obs − model,
    standardised, NaN in gaps): σ_e² pooled, τ and N_eff per site and flux, medians."""
    check_sigma(sigma_p)
    sq = np.concatenate([m[np.isfinite(m)] ** 2 for m in misfits])
    taus, n_effs = [], []
    for m in misfits:
        tau = [autocorrelation_time(m[:, j]) for j in range(m.shape[1])]
        taus += tau
        n_effs.append(sum(np.isfinite(m[:, j]).sum() / t for j, t in enumerate(tau)))
    return PriorWeight(
        sigma_p, float(sq.mean()), float(np.median(n_effs)), float(np.median(taus)), closure
    )


def posterior_cost(
    sim: np.ndarray,
    obs: np.ndarray,
    y_std: np.ndarray,
    unit: np.ndarray,
    unit_default: np.ndarray,
    weight: PriorWeight,
) -> float:
    """The same negative log posterior for a physics run (nstep, 2) against obs (NaN gaps):
    what the physics check and line search minimise for a MAP g_z (with `weight.closure`:
    the misfit of c*·sim, c* the run's own closure factor)."""
    ok = np.isfinite(obs)
    if weight.closure is not None:
        sim = site_closure(sim, obs, weight.closure) * sim
    mse = float(np.mean(((sim[ok] - obs[ok]) / np.broadcast_to(y_std, obs.shape)[ok]) ** 2))
    return mse + weight.lam * float(penalty(unit, unit_default, weight.sigma_p))
