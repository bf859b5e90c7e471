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
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from coupler.errors import ConfigError

BLOCK_STEPS = 1440  # 30 days: the longest block with >= 20 blocks per site in 2 years


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

    @property
    def lam(self) -> float:
        return self.misfit_var / self.n_eff

    def to_dict(self) -> dict[str, float]:
        return asdict(self) | {"lam": self.lam}

    @classmethod
    def from_dict(cls, d: dict) -> PriorWeight:
        return cls(d["sigma_p"], d["misfit_var"], d["n_eff"], d["tau_steps"])


def weight_from_misfit(sigma_p: float, misfits: list[np.ndarray]) -> PriorWeight:
    """PriorWeight from each site's calibration-year misfit series (nstep, 2) (obs − model,
    standardised, NaN in gaps): σ_e² pooled, τ and N_eff per site and flux, medians."""
    check_sigma(sigma_p)
    sq = np.concatenate([m[np.isfinite(m)] ** 2 for m in misfits])
    taus, n_effs = [], []
    for m in misfits:
        tau = [autocorrelation_time(m[:, j]) for j in range(m.shape[1])]
        taus += tau
        n_effs.append(sum(np.isfinite(m[:, j]).sum() / t for j, t in enumerate(tau)))
    return PriorWeight(sigma_p, float(sq.mean()), float(np.median(n_effs)), float(np.median(taus)))


def posterior_cost(
    sim: np.ndarray,
    obs: np.ndarray,
    y_std: np.ndarray,
    unit: np.ndarray,
    unit_default: np.ndarray,
    weight: PriorWeight,
) -> float:
    """The same negative log posterior for a physics run (nstep, 2) against obs (NaN gaps):
    what the physics check and line search minimise for a MAP g_z."""
    ok = np.isfinite(obs)
    mse = float(np.mean(((sim[ok] - obs[ok]) / np.broadcast_to(y_std, obs.shape)[ok]) ** 2))
    return mse + weight.lam * float(penalty(unit, unit_default, weight.sigma_p))
