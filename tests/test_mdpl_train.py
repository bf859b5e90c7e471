"""MdPL smoke runs end to end on one tiny site cache: ensembles of the Fortran physics, a few
surrogate and g_z steps (resumed from checkpoints), evaluation in the physics with tables and
plots, and the OAT sensitivity ranking (CI never trains beyond this)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from coupler.errors import ConfigError
from emulators.landmodel import PARAM_NAMES, parameter_table
from emulators.mdpl import sensitivity, twin
from emulators.mdpl.dataset import build_site, load_site
from emulators.mdpl.diagnose import diagnose, sign_agreement
from emulators.mdpl.evaluate import evaluate_all, refine_longer
from emulators.mdpl.sites import site
from emulators.mdpl.train import (
    load_generator,
    load_prior,
    load_surrogate,
    site_parameters,
    surrogate_validation,
    train_generator,
    train_surrogate,
)
from emulators.mdpl.train import main as train_main

pytestmark = pytest.mark.slow
SITE = "DK-Lva"
CHEAP = {"gz_name": "gru1x64", "distill": 1.0, "warmup": 1}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    d = tmp_path_factory.mktemp("mdpl_cache")
    s = site(SITE)
    f = twin.site_forcing((s,), first_id=13)
    build_site(s, {k: v[:, 0] for k, v in f.items()}, n_members=6, out_dir=d)
    return d


def test_site_cache_holds_truth_default_ensemble_and_twin_obs(cache):
    d = load_site(site(SITE), cache)
    assert d.forcing.shape == (3 * twin.STEPS_PER_YEAR, 7)
    assert d.member_flux.shape == (7, twin.CAL_STEPS, 2)
    np.testing.assert_allclose(d.members[-1], d.default)
    assert np.isnan(d.obs).any() and np.isfinite(d.sim_true).all()
    assert np.abs(d.sim_true - d.sim_default).mean() > 1.0  # the hidden truth matters


def test_smoke_training_resumes_and_evaluates_in_the_physics(cache, tmp_path):
    rec = train_surrogate(
        "multitask", steps=2, minutes=5, batch=4, every=1, data_dir=cache, names=[SITE]
    )
    assert rec["step"] == 2 and np.isfinite(rec["val_rmse_LE"])
    rec = train_surrogate(
        "multitask", steps=3, minutes=5, batch=4, every=1, data_dir=cache, names=[SITE]
    )
    assert rec["step"] == 3  # resumed, one more step
    # ... on the schedule of an uninterrupted 3-step run (last step at progress 2/3), not on
    # the first run's annealed rate
    opt = torch.load(cache / "surrogate_multitask.pt", weights_only=False)["opt"]
    lrs = sorted(g["lr"] for g in opt["param_groups"])
    np.testing.assert_allclose(
        lrs, np.array([0.005 / 3, 0.005]) * 0.5 * (1 + np.cos(np.pi * 2 / 3))
    )
    val = surrogate_validation("multitask", cache, n=256, names=[SITE])  # held-out members
    assert 0 < val["val_rmse_H"] < 1e3 and 0 < val["val_rmse_LE"] < 1e3
    rec = train_generator(
        "multitask", steps=2, minutes=5, n_sites=1, k=2, every=1, data_dir=cache, names=[SITE]
    )
    assert rec["step"] == 2 and np.isfinite(rec["train_mse"])
    rec = train_generator(  # resumed with the loss through the default run's bias correction
        "multitask", 3, 5, n_sites=1, k=2, every=1, data_dir=cache, names=[SITE], bias_correct=True
    )
    assert rec["step"] == 3 and np.isfinite(rec["train_mse"])
    rec = train_generator(  # the cheap online g_z, distilled from the paper-sized one
        "multitask", 2, 5, n_sites=1, k=2, every=1, data_dir=cache, names=[SITE], **CHEAP
    )
    assert rec["step"] == 2 and np.isfinite(rec["train_mse"])
    assert load_generator("multitask", cache, "gru1x64").config["cell"] == "gru"
    rec = train_generator(  # MAP: warm start from it, prior weight from its misfit
        "multitask", 2, 5, n_sites=1, k=2, every=1, data_dir=cache, names=[SITE],
        gz_name="gru1x64", init_from="gru1x64", prior_sigma=0.25, tag="map",
    )  # fmt: skip
    prior = load_prior("multitask", cache, "gru1x64_map")
    assert rec["step"] == 2 and prior.sigma_p == 0.25 and 0 < prior.lam < prior.misfit_var
    train_main(  # another seed of the same fine-tune: same prior, other batches → other g_z
        ["generator", "--gz", "gru1x64", "--init-from", "gru1x64", "--prior-sigma", "0.25",
         "--tag", "map_s1", "--seed", "1", "--steps", "2", "--minutes", "5",
         "--data-dir", str(cache), "--sites", SITE]
    )  # fmt: skip
    assert load_prior("multitask", cache, "gru1x64_map_s1").lam == pytest.approx(prior.lam)
    seeds = [load_generator("multitask", cache, f"gru1x64_{t}") for t in ("map", "map_s1")]
    assert not torch.equal(*(g.state_dict()["head.weight"] for g in seeds))
    train_main(  # closure-aware MAP fine-tune: the range travels with the prior
        ["generator", "--gz", "gru1x64", "--init-from", "gru1x64", "--prior-sigma", "0.25",
         "--closure", "--tag", "map_cl", "--steps", "2", "--minutes", "5",
         "--data-dir", str(cache), "--sites", SITE]
    )  # fmt: skip
    assert load_prior("multitask", cache, "gru1x64_map_cl").closure == (0.7, 1.05)
    with pytest.raises(ConfigError, match="--warmup 1 distils only, so it needs --distill"):
        train_generator("multitask", 3, 5, data_dir=cache, names=[SITE], **CHEAP | {"distill": 0})
    _, norm = load_surrogate("multitask", cache)
    p = site_parameters(load_generator("multitask", cache), load_site(site(SITE), cache), norm)
    tab = parameter_table()
    assert ((p >= tab.lo) & (p <= tab.hi)).all()
    archs = ("multitask", "multitask_gru1x64", "multitask_gru1x64_map")
    summary = evaluate_all(tmp_path, archs=archs, data_dir=cache, names=[SITE], refine_runs=2)
    assert summary["all"]["default"]["reduction_H_pct"] == 0.0
    assert summary["all"]["truth"]["rmse_LE"] < summary["all"]["default"]["rmse_LE"]
    rows = list(csv.DictReader((tmp_path / "per_site.csv").read_text().splitlines()))
    assert {r["method"] for r in rows} >= {"default", "truth", "mdpl_multitask"}
    rmse = {(r["method"], r["flux"]): r["rmse"] for r in rows}
    checked = [rmse[("checked_multitask", f)] for f in ("H", "LE")]  # g_z's set or defaults
    assert checked in ([rmse[(m, f)] for f in ("H", "LE")] for m in ("mdpl_multitask", "default"))
    line = json.loads((tmp_path / "line_search.json").read_text())  # defaults or a line step
    steps = {f"{a}@{x:g}" for a in archs for x in twin.LINE_STEPS} | {"default"}
    assert set(line) == {f"{SITE} {a}" for a in archs} and set(line.values()) <= steps
    assert rmse[("mdpl_multitask_gru1x64", "LE")] != rmse[("mdpl_multitask", "LE")]
    assert (tmp_path / "taylor.png").stat().st_size > 1000
    rows, change = diagnose("multitask", "gru1x64", cache, [SITE])  # why sites get worse
    assert [r["flux"] for r in rows] == ["H", "LE"] and rows[0]["surrogate_error_at_default"] > 0
    want = rmse[("mdpl_multitask_gru1x64", "H")], rmse[("default", "H")]
    assert change["gz_H"] == pytest.approx(100 * (float(want[0]) / float(want[1]) - 1), abs=0.1)
    assert sign_agreement(rows)["cases"] == 2
    assert json.loads((tmp_path / "summary.json").read_text())["grassland"]
    searched = json.loads((tmp_path / "refinement.json").read_text())  # physics coordinate search
    run = searched[f"{SITE} multitask_gru1x64_map"]  # 2 runs of <= 1 + 2 × 5 sets each
    assert set(searched) == {f"{SITE} multitask_gru1x64_map"} and run["host_runs"] == 2
    assert 11 < run["physics_sets"] <= 22
    cost = json.loads((tmp_path / "calibration_costs.json").read_text())  # its own posterior
    refined, line = (
        cost[f"{k}_multitask_gru1x64_map"]["posterior"] for k in ("refined", "linesearch")
    )
    assert refined <= line and "refined_multitask_gru1x64_map" in summary["all"]
    longer = refine_longer(tmp_path, "multitask_gru1x64_map", 2, 0.02, cache, [SITE])
    assert longer["per_site"][SITE]["host_runs"] <= 2 and longer["physics_sets_per_site"] > 5
    assert set(longer["recovery_influential"]["refined2_multitask_gru1x64_map"]) >= {"binter"}
    assert (tmp_path / "refinement_multitask_gru1x64_map_2.json").exists()
    verdict = json.loads((tmp_path / "recovery_influential.json").read_text())
    assert set(verdict["linesearch_multitask_gru1x64_map"]) == {
        "vgcov", "vegh", "gradm", "chl", "binter", "all_below_default"
    }  # fmt: skip
    assert (
        verdict["truth"]["all_below_default"]
        and "all below defaults" in (tmp_path / "tables.md").read_text()
    )


def test_oat_sensitivity_ranks_all_twelve_parameters(tmp_path):
    rmse = sensitivity.oat_rmse(("DK-Lva",))
    assert rmse.shape == (1, 12, 2)
    rank = sensitivity.ranking(rmse)
    assert sorted(r[0] for r in rank) == sorted(PARAM_NAMES)
    totals = [h + le for _, h, le in rank]
    assert totals == sorted(totals, reverse=True) and totals[0] > 1.0
    sensitivity.write(rank, tmp_path / "s.csv", tmp_path / "s.png")
    assert (tmp_path / "s.png").stat().st_size > 1000
