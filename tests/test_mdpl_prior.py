"""MdPL's MAP prior: Gaussian around the PFT defaults in the unit cube, weighted against the
flux misfit as a likelihood with N_eff independent observations would be."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from coupler.errors import ConfigError
from emulators.mdpl import sensitivity
from emulators.mdpl.model import GENERATOR_IN, GENERATORS, ParameterGenerator
from emulators.mdpl.prior import (
    PriorWeight,
    autocorrelation_time,
    check_sigma,
    penalty,
    posterior_cost,
    weight_from_misfit,
)
from emulators.mdpl.train import generator_loss, train_generator

EVAL_DIR = Path(__file__).resolve().parents[1] / "emulators" / "mdpl" / "evaluation"
WEIGHT = PriorWeight(sigma_p=0.25, misfit_var=0.25, n_eff=100.0, tau_steps=3.0)


class _FluxBlind(torch.nn.Module):
    """A 'surrogate' whose fluxes do not depend on the parameters: equal flux misfit."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros(x.shape[0], x.shape[1], 2)


def _gz_giving(unit: np.ndarray) -> ParameterGenerator:
    """A g_z that outputs `unit` for any input (zero head weights, bias = logit(unit))."""
    gz = ParameterGenerator(**GENERATORS["gru1x64"])
    with torch.no_grad():
        gz.head.weight.zero_()
        gz.head.bias.copy_(torch.logit(torch.tensor(unit, dtype=torch.float32)))
    return gz


def test_map_loss_is_lower_at_the_defaults_than_at_a_far_set_when_flux_misfit_is_equal():
    s, k, t = 2, 3, 48
    rng = np.random.default_rng(0)
    gx = torch.zeros(s, k, t, GENERATOR_IN)
    sx = torch.zeros(s, k, t, 15)
    obs = torch.from_numpy(rng.normal(size=(s, k, t, 2)).astype(np.float32))
    ok = torch.ones_like(obs)
    default = np.full(12, 0.4)
    far = np.full(12, 0.9)
    unit_default = torch.from_numpy(np.tile(default, (s, 1)).astype(np.float32))
    prior = (WEIGHT, unit_default)
    at_default = generator_loss(_gz_giving(default), _FluxBlind(), gx, sx, obs, ok, prior=prior)
    at_far = generator_loss(_gz_giving(far), _FluxBlind(), gx, sx, obs, ok, prior=prior)
    flux_only = generator_loss(_gz_giving(far), _FluxBlind(), gx, sx, obs, ok)
    assert at_default.item() == pytest.approx(flux_only.item(), rel=1e-5)  # no penalty
    want = WEIGHT.lam * 12 * (0.5 / 0.25) ** 2  # λ Σ ((0.9 - 0.4) / 0.25)^2
    assert at_far.item() - at_default.item() == pytest.approx(want, rel=1e-3)


@pytest.mark.parametrize("bad", [0.0, -0.25, 1.5, math.nan, math.inf, "0.25"])
def test_prior_width_is_validated_with_a_clear_error(bad):
    with pytest.raises(ConfigError, match=r"prior width sigma_p=.* is not in \(0, 1\]"):
        check_sigma(bad)
    with pytest.raises(ConfigError, match="prior width sigma_p"):  # before any data is read
        train_generator("multitask", 1, 1, data_dir=Path("/nonexistent"), prior_sigma=bad)


def test_penalty_is_the_squared_distance_in_prior_widths_for_numpy_and_torch():
    u0 = np.full(12, 0.5)
    u = u0.copy()
    u[3] += 0.5
    assert penalty(u, u0, 0.25) == pytest.approx(4.0)
    assert penalty(torch.tensor(u), torch.tensor(u0), 0.5).item() == pytest.approx(1.0)


def test_autocorrelation_time_is_one_for_white_noise_three_for_ar1_half_block_for_bias():
    rng = np.random.default_rng(1)
    n = 200 * 1440
    white = rng.normal(size=n)
    assert autocorrelation_time(white) == pytest.approx(1.0, abs=0.35)
    ar = np.empty(n)
    ar[0] = white[0]
    for i in range(1, n):  # lag-1 0.5: τ = (1 + ρ) / (1 − ρ) = 3
        ar[i] = 0.5 * ar[i - 1] + math.sqrt(0.75) * white[i]
    assert autocorrelation_time(ar) == pytest.approx(3.0, rel=0.2)
    assert autocorrelation_time(np.full(n, 2.0)) == 1440.0  # a constant error: one per block
    gappy = white.copy()
    gappy[::3] = np.nan
    assert autocorrelation_time(gappy) == pytest.approx(1.0, abs=0.35)


def test_weight_from_misfit_is_misfit_variance_over_effective_observations():
    rng = np.random.default_rng(2)
    misfits = [rng.normal(0.0, 0.5, size=(40 * 1440, 2)) for _ in range(3)]
    w = weight_from_misfit(0.25, misfits)
    assert w.misfit_var == pytest.approx(0.25, rel=0.02)
    assert w.n_eff == pytest.approx(2 * 40 * 1440, rel=0.35)  # white: every value counts
    assert w.lam == pytest.approx(w.misfit_var / w.n_eff)
    assert PriorWeight.from_dict(w.to_dict()) == w
    with pytest.raises(ConfigError, match="sigma_p"):
        weight_from_misfit(0.0, misfits)


def test_physics_check_cost_prefers_the_defaults_when_the_fluxes_fit_equally():
    rng = np.random.default_rng(3)
    obs = rng.normal(100.0, 30.0, size=(960, 2))
    obs[::7] = np.nan
    sim = np.nan_to_num(obs, nan=0.0) + 5.0
    y_std = np.array([50.0, 40.0])
    u0 = np.full(12, 0.5)
    c0 = posterior_cost(sim, obs, y_std, u0, u0, WEIGHT)
    c1 = posterior_cost(sim, obs, y_std, u0 + 0.25, u0, WEIGHT)
    mse = np.mean([(5.0 / 50.0) ** 2, (5.0 / 40.0) ** 2])
    assert c0 == pytest.approx(mse)
    assert c1 - c0 == pytest.approx(WEIGHT.lam * 12)


def test_influential_rule_is_a_quarter_of_the_top_for_h_or_le():
    rank = [("a", 40.0, 10.0), ("b", 20.0, 30.0), ("c", 9.9, 7.4), ("d", 10.0, 1.0)]
    assert sensitivity.influential(rank) == ["a", "b", "d"]  # c: 9.9 < 10 (H), 7.4 < 7.5 (LE)
    shipped = sensitivity.read_influential(EVAL_DIR / "sensitivity.csv")
    assert sorted(shipped) == ["binter", "chl", "gradm", "vegh", "vgcov"]


def test_shipped_gz_is_map_and_calibrate_chooses_by_its_posterior():
    from emulators.mdpl.calibrate import set_cost
    from emulators.mdpl.runtime import MdplModels

    models = MdplModels(surrogate_path=None)
    assert models.prior is not None and models.prior.sigma_p == 0.25
    default = models.lo + 0.5 * (models.hi - models.lo)
    far = models.lo + 0.9 * (models.hi - models.lo)
    obs = np.random.default_rng(4).normal(50.0, 20.0, size=(480, 2))
    sims = {"default": obs + 3.0, "far": obs + 3.0}  # equal flux misfit
    cost = set_cost(models, obs, default)
    assert cost(far, sims["far"]) - cost(default, sims["default"]) == pytest.approx(
        models.prior.lam * 12 * (0.4 / 0.25) ** 2, rel=1e-6
    )
