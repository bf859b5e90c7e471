"""MdPL's closure-aware calibration: a per-site energy-balance factor c* profiled out in closed
form (least squares over the observed H and LE, clipped to a plausible range), used in g_z's
MAP loss, the physics check's posterior and the coordinate search in the physics."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from coupler.errors import ConfigError, FieldError
from emulators.mdpl import coordinate
from emulators.mdpl.dataset import Norm
from emulators.mdpl.evaluate import LONGER_ARCHS, seed_comparison
from emulators.mdpl.model import GENERATOR_IN, GENERATORS, ParameterGenerator
from emulators.mdpl.prior import (
    CLOSURE_RANGE,
    PriorWeight,
    check_closure,
    posterior_cost,
    site_closure,
)
from emulators.mdpl.train import closure_scaled, generator_loss, train_generator

WEIGHT = PriorWeight(sigma_p=0.25, misfit_var=0.25, n_eff=100.0, tau_steps=3.0)
CLOSED = dataclasses.replace(WEIGHT, closure=CLOSURE_RANGE)


def _fluxes(n: int = 2000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.abs(rng.normal(80.0, 60.0, size=(n, 2))) + 5.0


def test_closure_factor_recovers_a_known_factor_and_is_the_least_squares_one():
    sim = _fluxes()
    assert site_closure(sim, 0.88 * sim) == pytest.approx(0.88, abs=1e-9)
    rng = np.random.default_rng(1)
    obs = 0.9 * sim + rng.normal(0.0, 10.0, size=sim.shape)
    c = site_closure(sim, obs)
    grid = np.linspace(0.8, 1.0, 2001)  # the c minimising Σ (obs − c·sim)² by brute force
    brute = grid[np.argmin([((obs - g * sim) ** 2).sum() for g in grid])]
    assert c == pytest.approx(brute, abs=1e-4) and c == pytest.approx(0.9, abs=0.01)


def test_closure_factor_is_clipped_to_its_range():
    sim = _fluxes()
    assert site_closure(sim, 0.5 * sim) == 0.7
    assert site_closure(sim, 1.3 * sim) == 1.05
    assert site_closure(sim, 0.5 * sim, (0.4, 1.0)) == pytest.approx(0.5)


def test_closure_factor_skips_gaps_and_needs_an_observation():
    sim = _fluxes()
    obs = 0.92 * sim
    obs[::3] = np.nan
    obs[5:400, 1] = 1e6  # garbage where the simulation is NaN: must not count
    sim_gappy = sim.copy()
    sim_gappy[5:400, 1] = np.nan
    assert site_closure(sim_gappy, obs) == pytest.approx(0.92, abs=1e-9)
    with pytest.raises(FieldError, match="closure factor: no step with both"):
        site_closure(sim, np.full_like(sim, np.nan))


@pytest.mark.parametrize("bad", [(0.0, 1.0), (1.1, 0.9), ("a", 1), (0.7,), (np.nan, 1.0)])
def test_closure_range_is_validated_with_a_clear_error(bad):
    with pytest.raises(ConfigError, match="closure range"):
        check_closure(bad)


def test_posterior_with_closure_scores_the_scaled_simulation():
    sim = _fluxes()
    obs = 0.9 * sim
    obs[::7] = np.nan
    u0 = np.full(12, 0.5)
    y_std = np.array([50.0, 40.0])
    assert posterior_cost(sim, obs, y_std, u0, u0, CLOSED) == pytest.approx(0.0, abs=1e-12)
    plain = posterior_cost(sim, obs, y_std, u0, u0, WEIGHT)
    ok = np.isfinite(obs)
    want = np.mean(((0.1 * sim)[ok] / np.broadcast_to(y_std, sim.shape)[ok]) ** 2)
    assert plain == pytest.approx(want)
    assert PriorWeight.from_dict(CLOSED.to_dict()) == CLOSED  # travels in checkpoints/ONNX


class _Fixed(torch.nn.Module):
    """A 'surrogate' returning given standardised fluxes whatever the parameters."""

    def __init__(self, y: torch.Tensor) -> None:
        super().__init__()
        self.y = y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.y.reshape(x.shape[0], x.shape[1], 2)


def test_map_loss_with_closure_profiles_out_each_sites_factor_in_physical_units():
    s, k, t = 2, 3, 48
    norm = Norm(np.zeros(7), np.ones(7), np.array([30.0, 40.0]), np.array([60.0, 50.0]))
    norm = Norm(*(np.asarray(v, dtype=np.float32) for v in dataclasses.astuple(norm)))
    phys = torch.from_numpy(_fluxes(s * k * t).reshape(s, k, t, 2).astype(np.float32))
    factors = torch.tensor([0.86, 0.97])  # one per site
    mean, std = torch.from_numpy(norm.y_mean), torch.from_numpy(norm.y_std)
    y = (phys - mean) / std
    obs = (factors[:, None, None, None] * phys - mean) / std
    ok = torch.ones_like(obs)
    ok[0, 0, :10] = 0.0
    obs = obs * ok  # gaps are 0 in the batch
    scaled = closure_scaled(y, obs, ok, norm, CLOSURE_RANGE)
    torch.testing.assert_close(scaled * ok, obs, atol=1e-4, rtol=1e-4)
    gx, sx = torch.zeros(s, k, t, GENERATOR_IN), torch.zeros(s, k, t, 15)
    gz = ParameterGenerator(**GENERATORS["gru1x64"])
    with torch.no_grad():  # the prior centred on g_z's own sets: no penalty
        unit0 = gz(gx.reshape(s * k, t, -1)).reshape(s, k, -1).mean(dim=1)
    surrogate = _Fixed(y.reshape(s * k, t, 2))
    with_c = generator_loss(gz, surrogate, gx, sx, obs, ok, prior=(CLOSED, unit0), norm=norm)
    without = generator_loss(gz, surrogate, gx, sx, obs, ok, prior=(WEIGHT, unit0))
    assert with_c.item() == pytest.approx(0.0, abs=1e-8) and without.item() > 1e-3
    with pytest.raises(ValueError, match="needs the flux normalisation"):
        generator_loss(gz, surrogate, gx, sx, obs, ok, prior=(CLOSED, unit0))


def test_closure_without_a_prior_is_a_config_error_before_any_data_is_read():
    with pytest.raises(ConfigError, match="--closure is part of the MAP loss"):
        train_generator("multitask", 1, 1, data_dir=Path("/nonexistent"), closure=(0.7, 1.05))


def test_coordinate_search_finds_a_quadratic_minimum_and_counts_its_physics_sets():
    target = np.full(12, 0.5)
    target[[1, 4]] = (0.72, 0.31)
    calls = []

    def cost_of(units: np.ndarray) -> np.ndarray:
        calls.append(len(units))
        return ((units - target) ** 2).sum(axis=1)

    start = np.full(12, 0.5)
    res = coordinate.search(cost_of, start, [1, 4, 7], delta=0.1, runs=6)
    assert res.n_runs == 6 == len(calls) and res.n_sets == sum(calls)
    assert calls[0] == 7  # the start + ±δ in each of three coordinates
    assert abs(res.unit[1] - 0.72) <= 0.025 and abs(res.unit[4] - 0.31) <= 0.025
    assert res.unit[7] == 0.5 and res.cost == pytest.approx(cost_of(res.unit[None])[0])
    untouched = [j for j in range(12) if j not in (1, 4, 7)]
    np.testing.assert_array_equal(res.unit[untouched], start[untouched])


def test_coordinate_search_never_returns_worse_than_its_start():
    res = coordinate.search(lambda u: np.abs(u - 0.5).sum(axis=1) + 1.0, np.full(12, 0.5), [0, 3])
    assert res.cost == 1.0 and np.all(res.unit == 0.5)


def test_seed_comparison_gives_mean_se_and_a_verdict():
    def rec(h: float, le: float) -> dict:
        return {"reduction_H_pct": h, "reduction_LE_pct": le}

    values = {"multitask": (20.0, 21.0, 22.0), "singletask": (10.0, 10.5, 11.0)}
    summary, labels = {}, []
    for arch, reductions in values.items():
        for seed, v in enumerate(reductions):
            lab = f"{arch}_g_r" + (f"_s{seed}" if seed else "")
            labels.append(lab)
            summary |= {f"{kind}_{lab}": rec(v, v) for kind in ("mdpl", "checked", "linesearch")}
    # the paper's comparison set (evergreen forest): here single-task is better
    evergreen = {
        k: rec(25 - v, 25 - v) for k, v in ((k, r["reduction_H_pct"]) for k, r in summary.items())
    }
    rows = seed_comparison(
        {"all": summary, "evergreen_forest": evergreen, "woodland": summary},
        (*labels, "multitask"),
    )
    assert len(rows) == 12 and {r["recipe"] for r in rows} == {"g_r"}
    assert [r["sites"] for r in rows] == ["all"] * 6 + ["evergreen_forest"] * 6
    le = rows[0]
    assert le["multitask"]["mean"] == pytest.approx(-21.0)
    assert le["multitask"]["se"] == pytest.approx(1.0 / np.sqrt(3))
    assert le["multi_minus_single"] == pytest.approx(-10.5) and le["verdict"] == "met"
    assert rows[6]["multi_minus_single"] == pytest.approx(10.5)
    assert rows[6]["verdict"] == "not met"


def test_equal_start_comparison_pairs_each_multitask_start_with_the_same_singletask_one():
    """The swapped-start experiment: `xmap` g_z start from the other arm's flux-only g_z,
    so multi xmap pairs with single map (both from the single-task arm's g_z) and the other
    way round. Here the start decides everything and the surrogate nothing."""
    from emulators.mdpl.evaluate import EQUAL_STARTS, SWAPPED_ARCHS

    start_of = {
        ("multitask", "map"): "m",
        ("multitask", "xmap"): "s",
        ("singletask", "map"): "s",
        ("singletask", "xmap"): "m",
    }
    summary = {}
    for i, lab in enumerate(SWAPPED_ARCHS):
        arch, _, rest = lab.partition("_gru1x64_")
        good = start_of[(arch, rest.split("_s")[0])] == "s"
        rec = {"reduction_H_pct": 20.0, "reduction_LE_pct": (24.0 if good else 18.0) + i % 3}
        summary |= {f"{kind}_{lab}": rec for kind in ("mdpl", "checked", "linesearch")}
    rows = seed_comparison({"all": summary}, SWAPPED_ARCHS, EQUAL_STARTS)
    assert {r["recipe"] for r in rows} == set(EQUAL_STARTS) and len(rows) == 12
    le = [r for r in rows if r["set"] == "mdpl" and r["flux"] == "LE"]
    assert all(len(r[a]["seeds"]) == 4 for r in le for a in ("multitask", "singletask"))
    assert all(abs(r["multi_minus_single"]) < 3 for r in le)  # same start: no 6-point gap
    same_recipe = seed_comparison({"all": summary}, SWAPPED_ARCHS)
    le_as_it_comes = [r for r in same_recipe if r["set"] == "mdpl" and r["flux"] == "LE"]
    gaps = {r["recipe"]: r["multi_minus_single"] for r in le_as_it_comes}
    assert gaps["gru1x64_map"] > 3 and gaps["gru1x64_xmap"] < -3


def test_compare_rewrites_the_seed_comparison_from_summary_json(tmp_path):
    from emulators.mdpl.evaluate import main

    block = {
        f"{kind}_{arch}_g_r{suffix}": {"reduction_H_pct": 10.0 + i, "reduction_LE_pct": 12.0}
        for i, suffix in enumerate(("", "_s1"))
        for arch in ("multitask", "singletask")
        for kind in ("mdpl", "checked", "linesearch")
    }
    (tmp_path / "summary.json").write_text(json.dumps({"all": block}))
    main(["compare", "-o", str(tmp_path)])
    rows = json.loads((tmp_path / "multi_vs_single.json").read_text())
    assert len(rows) == 6 and all(r["verdict"] == "within seed spread" for r in rows)
    assert (tmp_path / "multi_vs_single.md").read_text().count("| g_r | all |") == 6


def test_longer_experiment_compares_eight_seeds_each_without_its_baseline():
    """`landemu evaluate mdpl --longer`: the previous g_z (map600, one seed) is evaluated but
    kept out of the multi- vs single-task comparison, which gets eight seeds of each."""
    summary = {
        f"{kind}_{lab}": {"reduction_H_pct": 20.0, "reduction_LE_pct": 18.0 + i % 2}
        for i, lab in enumerate(LONGER_ARCHS)
        for kind in ("mdpl", "checked", "linesearch")
    }
    rows = seed_comparison({"all": summary}, LONGER_ARCHS)
    assert {r["recipe"] for r in rows} == {"gru1x64_map"} and len(rows) == 6
    assert all(len(r[a]["seeds"]) == 8 for r in rows for a in ("multitask", "singletask"))
    le = next(r for r in rows if r["set"] == "mdpl" and r["flux"] == "LE")
    assert le["multi_minus_single"] == pytest.approx(-1.0) and le["verdict"] == "met"


def test_coordinate_search_stops_when_its_step_falls_below_min_delta():
    calls = []

    def cost_of(units: np.ndarray) -> np.ndarray:  # flat: nothing ever helps, δ halves each run
        calls.append(len(units))
        return np.ones(len(units))

    res = coordinate.search(cost_of, np.full(12, 0.5), [0, 1], delta=0.1, runs=12, min_delta=0.02)
    assert res.n_runs == 3 == len(calls)  # δ 0.1, 0.05, 0.025 run; 0.0125 < 0.02 stops
    assert res.n_sets == 5 + 4 + 4 and res.cost == 1.0
