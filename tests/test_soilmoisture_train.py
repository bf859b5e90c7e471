"""Smoke run of the soil-moisture pipeline on a tiny twin: CV search, forest vs boosting,
the three experiments with the reanalysis baseline, ONNX export with parity, the shipped-model
evaluation and its CLI. Sizes are tiny (a few trees); the scores are not asserted to be good,
only to be computed on the right rows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_soilmoisture_twin import tiny_cube  # noqa: F401  (session fixture)

from coupler.cli import main as landemu_main
from emulators.soilmoisture.dataset import held_out_stations, load_cube
from emulators.soilmoisture.evaluate import evaluate_shipped
from emulators.soilmoisture.export import PARITY_TOL, run_export
from emulators.soilmoisture.train import SMOKE, experiment_table, run_training, split_masks

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tiny_cube: Path, tmp_path_factory) -> dict:  # noqa: F811
    work = tmp_path_factory.mktemp("sm_work")
    summary = run_training(tiny_cube, work, smoke=True, tables_dir=work / "tables")
    return {"work": work, "summary": summary, "cube": tiny_cube}


def test_unseen_years_and_unseen_stations_never_reach_training(tiny_cube: Path) -> None:  # noqa: F811
    cube = load_cube(tiny_cube)
    for split in ("years", "stations"):
        table = experiment_table(cube, split, SMOKE)
        train, test = split_masks(cube, table, split, SMOKE)
        assert not (train & test).any() and (train | test).all()
        if split == "years":
            assert set(table.year[test]) == {2002} and set(table.year[train]) == {2001}
        else:
            held = held_out_stations(24)
            assert held.size == 8
            assert set(table.station[test]) == set(held.tolist())
            assert not set(table.station[train]) & set(held.tolist())


def test_cv_search_scores_every_grid_pair_and_the_boosting_learner(trained: dict) -> None:
    cv = json.loads((trained["work"] / "cv.json").read_text())
    pairs = {(g["max_features"], g["min_samples_leaf"]) for g in cv["grid"]}
    assert pairs == {(2, 5), (2, 30), (8, 5), (8, 30)}
    assert cv["folds"] == 3 and cv["grouped_by"] == "station"
    assert cv["best_forest"]["rmse"] == min(g["rmse"] for g in cv["grid"])
    assert 0.0 < cv["gradient_boosting"]["rmse"] < 0.2
    assert cv["winner"] in ("forest", "gradient_boosting")


def test_experiments_report_all_metrics_per_layer_with_the_reanalysis_baseline(
    trained: dict,
) -> None:
    res = json.loads((trained["work"] / "experiments.json").read_text())
    for split in ("random", "years", "stations"):
        for model in ("forest", "gradient_boosting", "reanalysis", "forest_vs_truth"):
            for metric in ("ubrmse", "mae", "r", "r2", "bias"):
                assert len(res[split][model][metric]) == 10
        assert 0.0 < np.mean(res[split]["forest"]["ubrmse"]) < 0.1
    assert res["years"]["n_test"] == 365 * 24 and res["stations"]["n_test"] == 730 * 8
    assert len(res["importance"]) == 32
    tables = trained["work"] / "tables"
    rows = (tables / "experiments.csv").read_text().splitlines()
    assert len(rows) == 1 + 3 * 5 * 10
    assert (tables / "scores_per_layer.png").stat().st_size > 1000


def test_exported_forest_has_parity_and_a_tradeoff_row_per_size(trained: dict) -> None:
    work = trained["work"]
    model = work / "soilmoisture.onnx"
    summary = run_export(trained["cube"], work, model, work / "tables", smoke=True)
    rows = (work / "tables" / "tradeoff.csv").read_text().splitlines()
    assert rows[0].startswith("trees,max_depth,nodes,file_mb,cells_per_s_1t,ubrmse")
    assert len([r for r in rows if not r.startswith("#")]) == 1 + 4
    assert summary["chosen"]["parity_max_abs"] <= PARITY_TOL
    assert model.is_file() and model.stat().st_size < 20e6
    scores = evaluate_shipped(model, trained["cube"], test_years=1)
    assert scores["test_years"] == [2002] and scores["rows"] == 365 * 24
    assert len(scores["forest"]["ubrmse"]) == len(scores["reanalysis"]["r"]) == 10


def test_evaluate_cli_prints_one_json_line(trained: dict, capsys) -> None:
    work = trained["work"]
    model = work / "soilmoisture.onnx"
    if not model.is_file():
        run_export(trained["cube"], work, model, work / "tables", smoke=True)
    args = ["evaluate", "soilmoisture", "--model", str(model), "--cube", str(trained["cube"])]
    assert landemu_main([*args, "--test-years", "2"]) == 2
    assert "has 2 year(s); evaluating 2 unseen" in capsys.readouterr().err
    rc = landemu_main([*args, "--test-years", "1", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["data"] == "TWIN" and len(out["forest"]["r"]) == 10


def test_evaluate_cli_names_a_missing_cube(tmp_path, capsys) -> None:
    rc = landemu_main(["evaluate", "soilmoisture", "--cube", str(tmp_path / "none.npz")])
    assert rc == 2
    assert "none.npz' does not exist; build it with `landemu soilmoisture twin" in (
        capsys.readouterr().err
    )


def test_exportable_boosting_compares_on_the_forest_folds_and_converts(tiny_cube: Path) -> None:  # noqa: F811
    from emulators.soilmoisture.boosting import compare

    result = compare(load_cube(tiny_cube), SMOKE, n_estimators=5, rows=SMOKE.hgb_rows)
    assert result["cv_folds"] == SMOKE.cv_folds and result["cv"]["rmse"] > 0
    for split in ("years", "stations"):
        assert len(result[split]["ubrmse"]) == 10
    assert result["onnx"]["parity_max_abs"] <= PARITY_TOL and result["onnx"]["model_mb"] > 0
