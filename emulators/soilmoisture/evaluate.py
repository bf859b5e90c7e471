"""Tables and plots of the soil-moisture experiments, and `landemu evaluate soilmoisture`.

Everything here is scored on TWIN data (host physics + synthetic sensor errors, corrected to
the reanalysis as SMCI1.0 does); the reanalysis itself is the baseline in every table.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from coupler.errors import DataFileError
from emulators.soilmoisture.dataset import build_table, load_cube
from emulators.soilmoisture.features import DEPTHS_CM
from emulators.soilmoisture.metrics import METRICS, layer_scores
from emulators.soilmoisture.predict import ForestModel, predict

MODELS = ("forest", "gradient_boosting", "reanalysis")
SPLIT_TITLES = {
    "random": "random split (20 % of rows)",
    "years": "year-to-year (last two years unseen)",
    "stations": "station-to-station (1/3 of stations unseen)",
}


def _csv(path: Path, header: list[str], rows: list[list]) -> None:
    fmt = [",".join(str(h) for h in header)]
    fmt += [",".join(f"{v:.5g}" if isinstance(v, float) else str(v) for v in r) for r in rows]
    path.write_text("\n".join(fmt) + "\n")


def experiment_rows(results: dict) -> list[list]:
    """One row per (split, model, depth) with the five metrics."""
    rows = []
    for split in SPLIT_TITLES:
        if split not in results:
            continue
        for model in (*MODELS, "forest_vs_truth", "reanalysis_vs_truth"):
            s = results[split][model]
            for k, d in enumerate(DEPTHS_CM):
                rows.append([split, model, d, *(float(s[m][k]) for m in METRICS)])
    return rows


def markdown_tables(results: dict) -> str:
    """Per-layer ubRMSE and R of forest / boosting / reanalysis for each split (Markdown)."""
    out = []
    for split, title in SPLIT_TITLES.items():
        if split not in results:
            continue
        r = results[split]
        out.append(f"**{title}** — {r['n_train']} training rows, {r['n_test']} test rows\n")
        out.append(
            "| depth | ubRMSE forest | ubRMSE boosting | ubRMSE reanalysis | R forest | "
            "R boosting | R reanalysis | MAE forest | R² forest | bias forest |"
        )
        out.append("|---|---|---|---|---|---|---|---|---|---|")
        for k, d in enumerate(DEPTHS_CM):
            f, g, b = r["forest"], r["gradient_boosting"], r["reanalysis"]
            out.append(
                f"| {d} cm | {f['ubrmse'][k]:.4f} | {g['ubrmse'][k]:.4f} | {b['ubrmse'][k]:.4f} | "
                f"{f['r'][k]:.3f} | {g['r'][k]:.3f} | {b['r'][k]:.3f} | {f['mae'][k]:.4f} | "
                f"{f['r2'][k]:.3f} | {f['bias'][k]:+.4f} |"
            )
        out.append("")
    return "\n".join(out)


def write_training_report(cv: dict, results: dict, work_dir: Path, tables_dir: Path) -> None:
    """CSV/JSON tables and PNG plots of the CV search and the experiments."""
    tables_dir.mkdir(parents=True, exist_ok=True)
    _csv(
        tables_dir / "cv_grid.csv",
        ["max_features", "min_samples_leaf", "cv_rmse", "cv_rmse_std"],
        [[g["max_features"], g["min_samples_leaf"], g["rmse"], g["rmse_std"]] for g in cv["grid"]],
    )
    summary = {k: v for k, v in cv.items() if k != "grid"}
    (tables_dir / "cv_summary.json").write_text(json.dumps(summary, indent=1))
    _csv(
        tables_dir / "experiments.csv",
        ["split", "model", "depth_cm", *METRICS],
        experiment_rows(results),
    )
    (tables_dir / "experiments.md").write_text(markdown_tables(results))
    if "importance" in results:
        imp = sorted(results["importance"].items(), key=lambda kv: -kv[1]["mean"])
        _csv(
            tables_dir / "importance.csv",
            ["predictor", "r2_drop_mean", "r2_drop_std"],
            [[n, v["mean"], v["std"]] for n, v in imp],
        )
    _plots(results, work_dir, tables_dir)


def _plots(results: dict, work_dir: Path, tables_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    splits = [s for s in SPLIT_TITLES if s in results]
    fig, axes = plt.subplots(2, len(splits), figsize=(4.2 * len(splits), 6.5), squeeze=False)
    for j, split in enumerate(splits):
        for i, metric in enumerate(("ubrmse", "r")):
            ax = axes[i, j]
            for model, style in zip(MODELS, ("o-", "s--", "k^:"), strict=True):
                ax.plot(results[split][model][metric], DEPTHS_CM, style, label=model, ms=4)
            ax.invert_yaxis()
            ax.set_xlabel("ubRMSE (m³ m⁻³)" if metric == "ubrmse" else "R")
            ax.set_ylabel("depth (cm)")
            if i == 0:
                ax.set_title(SPLIT_TITLES[split], fontsize=9)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("TWIN data: forest vs gradient boosting vs reanalysis, per layer", fontsize=10)
    fig.tight_layout()
    fig.savefig(tables_dir / "scores_per_layer.png", dpi=90)
    plt.close(fig)
    if "importance" in results:
        imp = sorted(results["importance"].items(), key=lambda kv: kv[1]["mean"])
        fig, ax = plt.subplots(figsize=(6, 7))
        ax.barh([n for n, _ in imp], [v["mean"] for _, v in imp], xerr=[v["std"] for _, v in imp])
        ax.set_xlabel("drop in R² when permuted (year-to-year test rows)")
        ax.set_title("TWIN data: permutation importance", fontsize=10)
        fig.tight_layout()
        fig.savefig(tables_dir / "importance.png", dpi=90)
        plt.close(fig)
    pred_file = work_dir / "pred_years.npz"
    if pred_file.is_file():
        with np.load(pred_file) as z:
            pred, y, base, station = z["pred"], z["y"], z["baseline"], z["station"]
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), gridspec_kw={"width_ratios": [1, 2]})
        k = np.random.default_rng(0).choice(y.shape[0], min(5000, y.shape[0]), replace=False)
        axes[0].plot(y[k, 0], base[k, 0], ".", ms=2, alpha=0.4, label="reanalysis")
        axes[0].plot(y[k, 0], pred[k, 0], ".", ms=2, alpha=0.4, label="forest")
        lo, hi = float(y[:, 0].min()), float(y[:, 0].max())
        axes[0].plot([lo, hi], [lo, hi], "k-", lw=0.8)
        axes[0].set_xlabel("corrected station SM, 10 cm")
        axes[0].set_ylabel("predicted SM")
        axes[0].legend(fontsize=8, markerscale=4)
        s0 = station[0]
        rows = station == s0
        axes[1].plot(y[rows, 0], "k-", lw=1, label="station (corrected)")
        axes[1].plot(base[rows, 0], ":", label="reanalysis")
        axes[1].plot(pred[rows, 0], "-", lw=1, label="forest")
        axes[1].set_xlabel(f"day of the unseen years (station {s0})")
        axes[1].legend(fontsize=8)
        fig.suptitle("TWIN data, year-to-year test, 10 cm", fontsize=10)
        fig.tight_layout()
        fig.savefig(tables_dir / "years_10cm.png", dpi=90)
        plt.close(fig)


def evaluate_shipped(model_path: Path, cube_path: Path, test_years: int = 2) -> dict:
    """Shipped ONNX forest vs reanalysis on the cube's last `test_years` years (per layer)."""
    cube = load_cube(cube_path)
    years = np.unique(cube["year"])
    if years.size <= test_years:
        raise DataFileError(
            f"twin cube '{cube_path}' has {years.size} year(s); evaluating {test_years} unseen "
            "year(s) needs at least one more for the station correction"
        )
    last = years[-test_years:]
    table = build_table(cube, ~np.isin(cube["year"], last))
    test = table.rows(np.isin(table.year, last))
    pred = predict(ForestModel(model_path), test.X)
    return {
        "data": "TWIN",
        "test_years": [int(v) for v in last],
        "rows": int(test.y.shape[0]),
        "forest": {k: v.tolist() for k, v in layer_scores(pred, test.y).items()},
        "reanalysis": {k: v.tolist() for k, v in layer_scores(test.baseline, test.y).items()},
    }


def format_table(scores: dict) -> str:
    """Plain-text per-layer table of `evaluate_shipped` results."""
    lines = [
        f"soil-moisture forest on TWIN data, unseen years {scores['test_years']} "
        f"({scores['rows']} station-days); reanalysis in brackets",
        "depth   ubRMSE            R                 MAE               bias",
    ]
    f, b = scores["forest"], scores["reanalysis"]
    for k, d in enumerate(DEPTHS_CM):
        lines.append(
            f"{d:>3} cm  {f['ubrmse'][k]:.4f} ({b['ubrmse'][k]:.4f})  "
            f"{f['r'][k]:.3f} ({b['r'][k]:.3f})    {f['mae'][k]:.4f} ({b['mae'][k]:.4f})  "
            f"{f['bias'][k]:+.4f} ({b['bias'][k]:+.4f})"
        )
    return "\n".join(lines)
