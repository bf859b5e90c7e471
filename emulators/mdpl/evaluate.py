"""Evaluation of calibrated parameters in the REAL Fortran physics (held-out year 3).

Methods per site: PFT defaults; g_z through the multi-task and through the single-task
surrogate (and g_z variants, e.g. "multitask_gru1x64"); each checked in the physics on the
calibration years (`checked_*`: g_z's set or the defaults) and line-searched there
(`linesearch_*`: the best of the defaults and the sets along the line from them through
g_z's set, `twin.LINE_STEPS`) and, for the g_z variants in `REFINED`, refined there by a
coordinate search over the influential parameters (`refined_*`, `coordinate.py`);
leave-one-site-out transfer within the PFT group (mean of
the other sites' multi-task parameters, vegh and vgcov at defaults, as seed 003 does);
differential evolution on the physics at each budget; and the hidden truth (the floor set
by observation error).
Every observation here is TWIN data. Writes CSV/JSON tables and PNG plots to `out_dir`.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import re
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import numpy as np

from emulators.landmodel import FORCING_NAMES, GROUP_NAMES, PARAM_NAMES
from emulators.mdpl import coordinate, twin
from emulators.mdpl.dataset import DATA_DIR, SiteData
from emulators.mdpl.metrics import METRICS, scores
from emulators.mdpl.prior import CLOSURE_RANGE, PriorWeight, posterior_cost

FLUX_LABELS = ("H", "LE")
EVAL = slice(twin.CAL_STEPS, None)  # year 3, never seen in training or calibration
CAL = slice(0, twin.CAL_STEPS)  # years 1-2: what g_z was trained against


def loocv_sets(cal: dict[str, np.ndarray], data: list[SiteData]) -> dict[str, np.ndarray]:
    """Per site: mean calibrated parameters of the OTHER sites of its group; vegh, vgcov at
    the site's defaults (they vary too much between sites to transfer)."""
    out = {}
    for d in data:
        others = [cal[o.site.name] for o in data if o.site.group == d.site.group and o is not d]
        if not others:
            continue
        p = np.mean(others, axis=0)
        for name in ("vegh", "vgcov"):
            k = PARAM_NAMES.index(name)
            p[k] = d.default[k]
        out[d.site.name] = p
    return out


def checked_choice(
    d: SiteData,
    sims: dict[str, np.ndarray],
    candidates: list[str],
    cost: Callable[[str], float] | None = None,
) -> str:
    """The candidate whose physics run fits the calibration years' observations best (sum of
    the H and LE RMSEs, or `cost`; the first on a tie): the check `landemu calibrate` makes,
    using nothing of the held-out year."""

    def cal_rmse(name: str) -> float:
        return sum(scores(sims[name][CAL, j], d.obs[CAL, j])["rmse"] for j in range(2))

    return min(candidates, key=cost or cal_rmse)


def map_cost(
    d: SiteData,
    sims: dict[str, np.ndarray],
    sets: dict[str, np.ndarray],
    y_std: np.ndarray,
    weight: PriorWeight,
) -> Callable[[str], float]:
    """A MAP g_z's physics check: the same negative log posterior as its training loss
    (standardised flux misfit on the calibration years + λ × prior penalty)."""
    u0 = twin.to_unit(d.default)

    def cost(name: str) -> float:
        u = twin.to_unit(sets[name])
        return posterior_cost(sims[name][CAL], d.obs[CAL], y_std, u, u0, weight)

    return cost


def refine_in_physics(
    d: SiteData,
    start: np.ndarray,
    y_std: np.ndarray,
    weight: PriorWeight,
    coords: list[int],
    runs: int = coordinate.RUNS,
    min_delta: float = 0.0,
) -> coordinate.SearchResult:
    """The coordinate search from `start` over `coords`, each host run on the calibration
    years only, minimising the same posterior as the physics check (closure-aware if the
    weight is)."""
    forcing = {n: d.forcing[CAL, k].astype(float) for k, n in enumerate(FORCING_NAMES)}
    u0 = twin.to_unit(d.default)

    def cost_of(units: np.ndarray) -> np.ndarray:
        y = twin.simulate_fluxes(d.site, twin.from_unit(units), forcing)
        return np.array(
            [posterior_cost(y[:, i], d.obs[CAL], y_std, u, u0, weight) for i, u in enumerate(units)]
        )

    return coordinate.search(cost_of, twin.to_unit(start), coords, runs=runs, min_delta=min_delta)


def refine_longer(
    out_dir: Path,
    label: str,
    runs: int,
    min_delta: float,
    data_dir: Path | None = None,
    names: list[str] | None = None,
) -> dict:
    """The coordinate search run to convergence (at most `runs` host runs, until δ <
    `min_delta`) from the line-search sets of an evaluation in `out_dir` (parameters.csv),
    scored like `evaluate_all`; writes refinement_<label>_<runs>.json and returns it."""
    from emulators.mdpl.train import load_all, load_prior, load_surrogate

    arch, gz_name = variant(label)
    data_dir = data_dir or DATA_DIR
    weight, (_, norm) = load_prior(arch, data_dir, gz_name), load_surrogate(arch, data_dir)
    rows = csv.DictReader((out_dir / "parameters.csv").open())
    start = {
        r["site"]: np.array([float(r[n]) for n in PARAM_NAMES])
        for r in rows
        if r["method"] == f"linesearch_{label}"
    }
    coords = [PARAM_NAMES.index(n) for n in influential_names(out_dir)]
    method, per_site, rec, counts = f"refined{runs}_{label}", {}, {}, {}
    for d in load_all(data_dir or DATA_DIR, names):
        n = d.site.name
        res = refine_in_physics(d, start[n], norm.y_std, weight, coords, runs, min_delta)
        sets = {"default": d.default, method: twin.from_unit(res.unit)}
        per_site[n] = site_scores(d, run_sets(d, sets))
        rec[n] = recovery(sets, d.truth)
        counts[n] = {"physics_sets": res.n_sets, "host_runs": res.n_runs}
        print(n, counts[n], flush=True)
    methods = ["default", method]
    out = {
        "summary": summarise(per_site, methods)["all"],
        "recovery_influential": influential_recovery(rec, methods, influential_names(out_dir)),
        "recovery_default": {
            k: float(np.mean([r["default"][PARAM_NAMES.index(k)] for r in rec.values()]))
            for k in influential_names(out_dir)
        },
        "physics_sets_per_site": float(np.mean([c["physics_sets"] for c in counts.values()])),
        "per_site": counts,
    }
    (out_dir / f"refinement_{label}_{runs}.json").write_text(json.dumps(out, indent=1))
    return out


def line_sets(default: np.ndarray, p: np.ndarray, method: str) -> dict[str, np.ndarray]:
    """The physics line search's candidates from the defaults through `method`'s set."""
    return {f"{method}@{a:g}": twin.along_line(default, p, a) for a in twin.LINE_STEPS}


def variant(label: str) -> tuple[str, str]:
    """(surrogate arch, g_z variant) of a label: multitask → the paper-sized g_z,
    multitask_gru1x64 → the GRU one."""
    arch, _, gz = label.partition("_")
    return arch, gz or "lstm4x128"


def run_sets(d: SiteData, sets: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each parameter set through the Fortran physics over the whole record → (nstep, 2)."""
    names = list(sets)
    forcing = {n: d.forcing[:, k].astype(float) for k, n in enumerate(FORCING_NAMES)}
    sim = twin.simulate_fluxes(d.site, np.stack([sets[n] for n in names]), forcing)
    return {n: sim[:, i] for i, n in enumerate(names)}


def site_scores(d: SiteData, sims: dict[str, np.ndarray]) -> dict[str, dict[str, dict]]:
    """{method: {H|LE: metrics}} over the held-out year (\"observed\": the obs' own STD)."""
    obs = d.obs[EVAL]
    out = {"observed": {lab: scores(obs[:, j], obs[:, j]) for j, lab in enumerate(FLUX_LABELS)}}
    for m, y in sims.items():
        out[m] = {lab: scores(y[EVAL, j], obs[:, j]) for j, lab in enumerate(FLUX_LABELS)}
    return out


def monthly_scores(d: SiteData, y: np.ndarray, metric: str) -> np.ndarray:
    """(12, 2) metric per month of the held-out year (for the CDF plots)."""
    ends = np.cumsum([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]) * twin.STEPS_PER_DAY
    o, s = d.obs[EVAL], y[EVAL]
    return np.array(
        [[scores(s[a:b, j], o[a:b, j])[metric] for j in range(2)] for a, b in pairwise(ends)]
    )


def recovery(sets: dict[str, np.ndarray], truth: np.ndarray) -> dict[str, np.ndarray]:
    """Normalised absolute error |unit(estimate) − unit(truth)| per parameter (12,)."""
    return {m: np.abs(twin.to_unit(p) - twin.to_unit(truth)) for m, p in sets.items()}


def influential_recovery(
    rec: dict[str, dict[str, np.ndarray]], methods: list[str], influential: list[str]
) -> dict[str, dict]:
    """Per method: mean normalised error of each influential parameter and whether every one
    is below the PFT defaults' (the recovery acceptance)."""
    idx = [PARAM_NAMES.index(n) for n in influential]
    mean = {m: np.mean([r[m] for r in rec.values()], axis=0) for m in methods}
    return {
        m: {n: round(float(mean[m][k]), 4) for n, k in zip(influential, idx, strict=True)}
        | {"all_below_default": bool(all(mean[m][k] < mean["default"][k] for k in idx))}
        for m in methods
        if m != "default"
    }


def influential_names(out_dir: Path) -> list[str]:
    """The influential parameters by the fixed rule, from the OAT ranking in `out_dir` (or
    the shipped one)."""
    from emulators.mdpl import sensitivity

    path = out_dir / "sensitivity.csv"
    return sensitivity.read_influential(path if path.exists() else OUT_DIR / "sensitivity.csv")


def write_influential(
    out_dir: Path, rec: dict[str, dict[str, np.ndarray]], methods: list[str]
) -> dict[str, dict]:
    """recovery_influential.json and its Markdown table appended to tables.md."""
    names = influential_names(out_dir)
    res = influential_recovery(rec, methods, names)
    (out_dir / "recovery_influential.json").write_text(json.dumps(res, indent=1))
    base = np.mean([r["default"] for r in rec.values()], axis=0)
    lines = ["", "| method | " + " | ".join(names) + " | all below defaults |"]
    lines += ["|---" * (len(names) + 2) + "|"]
    lines.append(
        "| default | " + " | ".join(f"{base[PARAM_NAMES.index(n)]:.3f}" for n in names) + " | – |"
    )
    for m, r in res.items():
        cells = " | ".join(f"{r[n]:.3f}" for n in names)
        lines.append(f"| {m} | {cells} | {'yes' if r['all_below_default'] else 'no'} |")
    with open(out_dir / "tables.md", "a") as fh:
        fh.write("\n".join(lines) + "\n")
    return res


def summarise(per_site: dict[str, dict], methods: list[str]) -> dict:
    """Mean RMSE and mean per-site RMSE reduction vs defaults, overall and per PFT group."""
    from emulators.mdpl.sites import site

    def block(names: list[str]) -> dict:
        out = {}
        for m in methods:
            rec = {}
            for lab in FLUX_LABELS:
                r = np.array([per_site[n][m][lab]["rmse"] for n in names])
                r0 = np.array([per_site[n]["default"][lab]["rmse"] for n in names])
                rec[f"rmse_{lab}"] = float(r.mean())
                rec[f"reduction_{lab}_pct"] = float(100 * np.mean(1 - r / r0))
                rec[f"kge_{lab}"] = float(np.mean([per_site[n][m][lab]["kge"] for n in names]))
                rec[f"nse_{lab}"] = float(np.mean([per_site[n][m][lab]["nse"] for n in names]))
            out[m] = rec
        return out

    names = list(per_site)
    res = {"all": block(names)}
    for g in GROUP_NAMES:
        members = [n for n in names if site(n).group == g]
        if members:
            res[g] = block(members)
    return res


def write_tables(
    out_dir: Path,
    per_site: dict[str, dict],
    summary: dict,
    rec: dict[str, dict[str, np.ndarray]],
    methods: list[str],
) -> None:
    """per_site.csv, per_pft.csv, recovery.csv, summary.json (numbers as measured)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "per_site.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["site", "method", "flux", *METRICS])
        for n, by_m in per_site.items():
            for m in (m for m in by_m if m != "observed"):
                for lab in FLUX_LABELS:
                    w.writerow([n, m, lab, *(f"{by_m[m][lab][k]:.4f}" for k in METRICS)])
    with open(out_dir / "per_pft.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        keys = list(next(iter(summary["all"].values())))
        w.writerow(["group", "method", *keys])
        for g, by_m in summary.items():
            for m in methods:
                w.writerow([g, m, *(f"{by_m[m][k]:.4f}" for k in keys)])
    with open(out_dir / "recovery.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["method", *PARAM_NAMES])
        for m in methods:
            if m in next(iter(rec.values())):
                errs = np.mean([r[m] for r in rec.values()], axis=0)
                w.writerow([m, *(f"{e:.4f}" for e in errs)])
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    (out_dir / "tables.md").write_text(markdown_tables(per_site, summary, rec, methods))


def markdown_tables(
    per_site: dict[str, dict],
    summary: dict,
    rec: dict[str, dict[str, np.ndarray]],
    methods: list[str],
) -> str:
    """Per-site RMSE, per-group summary and recovery tables in Markdown (for the model card)."""
    shown = [m for m in methods if m != "observed"]
    head = " | ".join(f"{m} H / LE" for m in shown)
    lines = ["| site | " + head + " |", "|---" * (len(shown) + 1) + "|"]
    for n, by_m in per_site.items():
        cells = [f"{by_m[m]['H']['rmse']:.1f} / {by_m[m]['LE']['rmse']:.1f}" for m in shown]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| group | method | RMSE H | RMSE LE | ΔRMSE H % | ΔRMSE LE % | KGE H | KGE LE"
        " | NSE H | NSE LE |",
        "|---" * 10 + "|",
    ]
    for g, by_m in summary.items():
        for m in shown:
            r = by_m[m]
            lines.append(
                f"| {g} | {m} | {r['rmse_H']:.1f} | {r['rmse_LE']:.1f} | "
                f"{-r['reduction_H_pct']:+.1f} | {-r['reduction_LE_pct']:+.1f} | {r['kge_H']:.2f}"
                f" | {r['kge_LE']:.2f} | {r['nse_H']:.2f} | {r['nse_LE']:.2f} |"
            )
    have = [m for m in shown if all(m in r for r in rec.values())]
    lines += ["", "| parameter | " + " | ".join(have) + " |", "|---" * (len(have) + 1) + "|"]
    for k, name in enumerate(PARAM_NAMES):
        errs = [np.mean([r[m][k] for r in rec.values()]) for m in have]
        lines.append(f"| {name} | " + " | ".join(f"{e:.3f}" for e in errs) + " |")
    return "\n".join(lines) + "\n"


def calibration_costs(
    d: SiteData,
    sims: dict[str, np.ndarray],
    sets: dict[str, np.ndarray],
    y_std: np.ndarray,
    weight: PriorWeight | None,
) -> dict[str, dict[str, float]]:
    """Per method: the calibration-year posterior of its set in the physics, plain and
    closure-aware (one weight for all methods, so the numbers compare; what decides whether a
    new g_z is better — the held-out year is not used)."""
    if weight is None:
        return {}
    plain = dataclasses.replace(weight, closure=None)
    closure = dataclasses.replace(weight, closure=CLOSURE_RANGE)
    u0 = twin.to_unit(d.default)
    return {
        m: {
            k: posterior_cost(sims[m][CAL], d.obs[CAL], y_std, twin.to_unit(sets[m]), u0, w)
            for k, w in (("posterior", plain), ("posterior_closure", closure))
        }
        for m in sims
        if m in sets
    }


def write_calibration_costs(
    out_dir: Path, costs: dict[str, dict[str, dict[str, float]]], methods: list[str]
) -> None:
    """calibration_costs.json: mean over sites of each method's calibration-year posterior."""
    if not all(costs.values()):
        return
    res = {
        m: {
            k: float(np.mean([c[m][k] for c in costs.values()]))
            for k in next(iter(costs.values()))[m]
        }
        for m in methods
        if all(m in c for c in costs.values())
    }
    (out_dir / "calibration_costs.json").write_text(json.dumps(res, indent=1))


SEEDED = re.compile(r"^(multitask|singletask)_(.+?)(?:_s(\d+))?$")


# where multi- and single-task are compared: all 20 sites, and the paper's own comparison
# set (seed 003 §3.2, Table 3: its four evergreen forest sites, our evergreen_forest group)
COMPARISON_SCOPES = ("all", "evergreen_forest")


# multi- vs single-task with the same warm start (evaluation/swapped_start_rule.md): name →
# (multi-task recipe, single-task recipe); `xmap` starts from the other arm's flux-only g_z
EQUAL_STARTS = {
    "equal start: single-task arm's g_z": ("gru1x64_xmap", "gru1x64_map"),
    "equal start: multi-task arm's g_z": ("gru1x64_map", "gru1x64_xmap"),
}


def seed_comparison(
    summary: dict[str, dict],
    archs: tuple[str, ...],
    pairs: dict[str, tuple[str, str]] | None = None,
) -> list[dict]:
    """Multi- vs single-task: for each pair of g_z recipes (default: each recipe trained
    through both surrogates; `pairs`: name → (multi-task recipe, single-task recipe)) with at
    least 2 seeds each, each scope (COMPARISON_SCOPES), each of g_z's set as it comes,
    checked and line-searched, per flux: the seeds' mean ΔRMSE % over the scope's sites,
    mean ± standard error over seeds per surrogate, multi − single (negative = multi better)
    and a verdict: within the seed spread if |multi − single| <= 2 standard errors, else met
    (multi better) or not met."""
    labels: dict[tuple[str, str], list[str]] = {}
    for label in archs:
        match = SEEDED.match(label)
        if match is None:  # the paper-sized g_z: one seed
            continue
        arch, recipe, _ = match.groups()
        labels.setdefault((arch, recipe), []).append(label)
    if pairs is None:
        pairs = {r: (r, r) for a, r in labels if a == "multitask"}
    rows = []
    for name, (multi, single) in pairs.items():
        arms = {"multitask": labels.get(("multitask", multi), [])}
        arms["singletask"] = labels.get(("singletask", single), [])
        if min(len(v) for v in arms.values()) < 2:
            continue
        for scope in (s for s in COMPARISON_SCOPES if s in summary):
            for kind in ("mdpl", "checked", "linesearch"):
                for flux in ("LE", "H"):
                    change = {  # ΔRMSE % per seed, negative = better
                        arch: [
                            -summary[scope][f"{kind}_{lab}"][f"reduction_{flux}_pct"]
                            for lab in labs
                        ]
                        for arch, labs in arms.items()
                    }
                    row = {"recipe": name, "sites": scope, "set": kind, "flux": flux}
                    rows.append(row | arm_difference(change["multitask"], change["singletask"]))
    return rows


def arm_difference(multi: list[float], single: list[float]) -> dict:
    """Seeds, mean ± standard error of each arm, multi − single and the verdict."""

    def stats(v: list[float]) -> dict:
        se = float(np.std(v, ddof=1) / np.sqrt(len(v)))
        return {"seeds": [round(x, 2) for x in v], "mean": float(np.mean(v)), "se": se}

    m, s = stats(multi), stats(single)
    diff, se = m["mean"] - s["mean"], float(np.hypot(m["se"], s["se"]))
    verdict = "within seed spread" if abs(diff) <= 2 * se else "met" if diff < 0 else "not met"
    return {
        "multitask": m,
        "singletask": s,
        "multi_minus_single": diff,
        "se": se,
        "verdict": verdict,
    }


def write_seed_comparison(out_dir: Path, summary: dict[str, dict], archs: tuple[str, ...]):
    """multi_vs_single.json and multi_vs_single.md: per recipe, then at equal warm start."""
    rows = seed_comparison(summary, archs) + seed_comparison(summary, archs, EQUAL_STARTS)
    if not rows:
        return rows
    (out_dir / "multi_vs_single.json").write_text(json.dumps(rows, indent=1))
    lines = [
        "| recipe | sites | set | flux | multi ΔRMSE % (seeds) | single ΔRMSE % (seeds) |"
        " multi − single | verdict |",
        "|---" * 8 + "|",
    ]
    for r in rows:
        m, s = r["multitask"], r["singletask"]
        lines.append(
            f"| {r['recipe']} | {r['sites']} | {r['set']} | {r['flux']} | {m['mean']:+.1f} ± "
            f"{m['se']:.1f} ({len(m['seeds'])}) | {s['mean']:+.1f} ± {s['se']:.1f} "
            f"({len(s['seeds'])}) | {r['multi_minus_single']:+.1f} ± {r['se']:.1f} | "
            f"{r['verdict']} |"
        )
    (out_dir / "multi_vs_single.md").write_text("\n".join(lines) + "\n")
    return rows


def compare_seeds(out_dir: Path) -> list[dict]:
    """The seed comparison again from an evaluation's summary.json (no physics run)."""
    summary = json.loads((out_dir / "summary.json").read_text())
    archs = tuple(m.removeprefix("mdpl_") for m in summary["all"] if m.startswith("mdpl_"))
    return write_seed_comparison(out_dir, summary, archs)


def write_de_comparison(
    out_dir: Path, per_site: dict[str, dict], de: dict[str, dict], archs: tuple[str, ...]
) -> dict:
    """RMSE vs compute on the sites DE was run for: defaults, g_z, DE at each budget."""
    names = [n for n in per_site if n in de]
    budgets = sorted({int(b) for n in names for b in de[n]["params"]})
    methods = ["default", *(f"mdpl_{a}" for a in archs), *(f"de_{b}" for b in budgets)]
    res = {"sites": names, **summarise({n: per_site[n] for n in names}, methods)["all"]}
    res["de_seconds_per_site"] = {
        str(b): float(np.mean([de[n]["seconds"][str(b)] for n in names])) for b in budgets
    }
    (out_dir / "de_comparison.json").write_text(json.dumps(res, indent=1))
    return res


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_taylor(path: Path, per_site: dict[str, dict], methods: list[str]) -> None:
    """Taylor diagram: per site and flux, STD normalised by the observed STD vs correlation."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, subplot_kw={"projection": "polar"}, figsize=(11, 5))
    for ax, lab in zip(axes, FLUX_LABELS, strict=True):
        ax.set_thetamin(0)
        ax.set_thetamax(90)
        so = np.array([per_site[n]["observed"][lab]["std"] for n in per_site])
        for k, m in enumerate(methods):
            r = np.array([per_site[n][m][lab]["r"] for n in per_site])
            s = np.array([per_site[n][m][lab]["std"] for n in per_site])
            ax.scatter(np.arccos(np.clip(r, 0, 1)), s / so, s=14, label=m, color=f"C{k}")
        ax.scatter([0], [1], marker="*", s=150, color="k", label="observed")
        ax.set_title(f"{lab}: held-out year vs TWIN obs\n(radius = STD/STD_obs, angle = arccos R)")
    axes[1].legend(loc="upper left", bbox_to_anchor=(1.05, 1), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_cdf(path: Path, monthly: dict[str, dict[str, np.ndarray]], methods: list[str]) -> None:
    """CDFs over sites × months of monthly NSE and KGE for H and LE (right = better)."""
    plt = _plt()
    fig, axes = plt.subplots(2, 2, figsize=(10, 8))
    for row, metric in enumerate(("nse", "kge")):
        for col, lab in enumerate(FLUX_LABELS):
            ax = axes[row, col]
            for k, m in enumerate(methods):
                v = np.sort(monthly[metric][m][:, col])
                ax.plot(v, np.arange(1, v.size + 1) / v.size, label=m, color=f"C{k}")
            ax.set_xlim(-1, 1)
            ax.set_xlabel(f"monthly {metric.upper()} of {lab}")
            ax.set_ylabel("CDF (sites × months)")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("Held-out year, TWIN observations")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


OUT_DIR = Path(__file__).resolve().parent / "evaluation"
# the shipped g_z (GRU 1x64, MAP with sigma_p 0.25) first: leave-one-site-out transfer uses
# the first; its control (the same 500 further steps without the prior), the flux-only GRU,
# the single-task surrogate's GRU, the paper-sized g_z, and the MAP g_z with a mis-specified
# prior width (0.15, 0.4); multi vs single at equal budget: the single-task surrogate's MAP g_z
# (same recipe) and a second fine-tuning seed of each
ARCHS = (
    "multitask_gru1x64_map",
    "multitask_gru1x64_cont",
    "multitask_gru1x64",
    "singletask_gru1x64",
    "multitask",
    "singletask",
    "multitask_gru1x64_map15",
    "multitask_gru1x64_map40",
    "singletask_gru1x64_map",
    "multitask_gru1x64_map_s1",
    "singletask_gru1x64_map_s1",
    "multitask_gru1x64_map_s2",
    "singletask_gru1x64_map_s2",
    "multitask_gru1x64_map_s3",
    "singletask_gru1x64_map_s3",
    "multitask_gru1x64_map_cl",
    "singletask_gru1x64_map_cl",
    "multitask_gru1x64_map_cl_s1",
    "singletask_gru1x64_map_cl_s1",
)
# the longer-surrogate experiment (evaluation/longer_surrogates_rule.md), its own data
# directory: first the MAP g_z trained through the 600-step surrogate (a copy of the shipped
# checkpoint, `map600`), then the same MAP recipe through the longer surrogates, seeds 0-7
LONGER_DIR = DATA_DIR.parent / "mdpl_long"
LONGER_ARCHS = (
    "multitask_gru1x64_map600",
    *(
        f"{arch}_gru1x64_map{f'_s{s}' if s else ''}"
        for s in range(8)
        for arch in ("multitask", "singletask")
    ),
)
# the swapped-warm-start experiment (evaluation/swapped_start_rule.md), same data directory:
# seeds 0-3 of the MAP recipe through each longer surrogate from its own arm's flux-only g_z
# (`map`) and from the other arm's (`xmap`)
SWAPPED_ARCHS = tuple(
    f"{arch}_gru1x64_{recipe}{f'_s{s}' if s else ''}"
    for recipe in ("map", "xmap")
    for s in range(4)
    for arch in ("multitask", "singletask")
)
# g_z variants whose line-search set is refined by the coordinate search in the physics: the
# shipped MAP g_z and its closure-aware counterpart
REFINED = ("multitask_gru1x64_map", "multitask_gru1x64_map_cl")


def evaluate_all(
    out_dir: Path = OUT_DIR,
    archs: tuple[str, ...] = ARCHS,
    data_dir: Path | None = None,
    names: list[str] | None = None,
    refine_runs: int = coordinate.RUNS,
) -> dict:
    """The whole evaluation from the trained checkpoints and the DE results; returns summary."""
    from emulators.mdpl import baseline
    from emulators.mdpl.train import (
        load_all,
        load_generator,
        load_prior,
        load_surrogate,
        site_parameters,
    )

    data_dir = DATA_DIR if data_dir is None else data_dir
    data = load_all(data_dir, names)
    cal: dict[str, dict[str, np.ndarray]] = {}
    priors, y_std = {}, {}
    for label in archs:
        arch, gz_name = variant(label)
        gz, (_, norm) = load_generator(arch, data_dir, gz_name), load_surrogate(arch, data_dir)
        cal[label] = {d.site.name: site_parameters(gz, d, norm) for d in data}
        priors[label], y_std[label] = load_prior(arch, data_dir, gz_name), norm.y_std
    loo = loocv_sets(cal[archs[0]], data)
    de = baseline.load_results(data_dir)
    per_site, rec, params, steps, searched, cal_cost = {}, {}, {}, {}, {}, {}
    coords = [PARAM_NAMES.index(n) for n in influential_names(out_dir)]
    shipped_prior = next((priors[a] for a in archs if priors[a]), None)
    monthly: dict[str, dict[str, list]] = {"nse": {}, "kge": {}}
    for d in data:
        n = d.site.name
        sets = {"default": d.default, "truth": d.truth}
        sets |= {f"mdpl_{a}": cal[a][n] for a in archs}
        if n in loo:
            sets[f"loocv_{archs[0]}"] = loo[n]
        for b, p in de.get(n, {}).get("params", {}).items():
            sets[f"de_{b}"] = np.asarray(p)
        line = {k: v for a in archs for k, v in line_sets(d.default, cal[a][n], a).items()}
        sims = run_sets(d, sets | line)
        cost = {  # a MAP g_z is checked with its own posterior, the others with the RMSEs
            a: priors[a] and map_cost(d, sims, sets | line, y_std[a], priors[a]) for a in archs
        }
        for a in archs:  # MdPL + the physics check on the calibration years
            chosen = checked_choice(d, sims, ["default", f"mdpl_{a}"], cost[a])
            sets[f"checked_{a}"], sims[f"checked_{a}"] = sets[chosen], sims[chosen]
        for a in archs:  # ... and the physics line search through g_z's set
            on_line = [k for k in line if k.startswith(f"{a}@")]
            chosen = checked_choice(d, sims, ["default", *on_line], cost[a])
            sets[f"linesearch_{a}"], sims[f"linesearch_{a}"] = (sets | line)[chosen], sims[chosen]
            steps[f"{n} {a}"] = chosen
        for a in (a for a in REFINED if a in archs and priors[a]):  # ... and refined there
            res = refine_in_physics(
                d, sets[f"linesearch_{a}"], y_std[a], priors[a], coords, refine_runs
            )
            sets[f"refined_{a}"] = twin.from_unit(res.unit)
            searched[f"{n} {a}"] = {"physics_sets": res.n_sets, "host_runs": res.n_runs}
        sims |= run_sets(d, {k: v for k, v in sets.items() if k.startswith("refined_")})
        sims = {k: v for k, v in sims.items() if k not in line}
        cal_cost[n] = calibration_costs(d, sims, sets, y_std[archs[0]], shipped_prior)
        per_site[n] = site_scores(d, sims)
        rec[n] = recovery(sets, d.truth)
        params[n] = sets
        for metric in monthly:
            for m, y in sims.items():
                monthly[metric].setdefault(m, []).append(monthly_scores(d, y, metric))
        print(n, {m: round(v["LE"]["rmse"], 1) for m, v in per_site[n].items()}, flush=True)
    methods = [m for m in params[data[0].site.name] if all(m in per_site[n] for n in per_site)]
    summary = summarise(per_site, methods)
    write_tables(out_dir, per_site, summary, rec, methods)
    write_influential(out_dir, rec, [m for m in methods if all(m in r for r in rec.values())])
    (out_dir / "line_search.json").write_text(json.dumps(steps, indent=1))
    if searched:
        (out_dir / "refinement.json").write_text(json.dumps(searched, indent=1))
    write_calibration_costs(out_dir, cal_cost, methods)
    write_seed_comparison(out_dir, summary, archs)
    if de:
        write_de_comparison(out_dir, per_site, de, archs)
    with open(out_dir / "parameters.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["site", "method", *PARAM_NAMES])
        for n, sets in params.items():
            for m, p in sets.items():
                w.writerow([n, m, *(f"{v:.6g}" for v in p)])
    # plots: the defaults, the shipped g_z with its physics check and line search, the others
    # as they come (ten colours at most)
    key = ["default", *(f"{k}_{archs[0]}" for k in ("mdpl", "checked", "linesearch"))]
    show = [m for m in [*key, *(f"mdpl_{a}" for a in archs[1:])] if m in methods][:10]
    plot_taylor(out_dir / "taylor.png", per_site, show)
    stacked = {k: {m: np.concatenate(v[m]) for m in show} for k, v in monthly.items()}
    plot_cdf(out_dir / "cdf_monthly_nse_kge.png", stacked, show)
    return summary


def main(argv: list[str] | None = None) -> None:
    """`python -m emulators.mdpl.evaluate refine LABEL [--runs N --min-delta D]`: the
    coordinate search to convergence from an evaluation's line-search sets.
    `python -m emulators.mdpl.evaluate compare -o DIR`: the multi- vs single-task seed
    comparison again from DIR/summary.json."""
    import argparse

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("what", choices=["refine", "compare"])
    ap.add_argument("label", nargs="?", help="g_z variant to refine, e.g. multitask_gru1x64_map")
    ap.add_argument("--runs", type=int, default=12)
    ap.add_argument("--min-delta", type=float, default=0.02)
    ap.add_argument("-o", "--output", type=Path, default=OUT_DIR)
    ap.add_argument(
        "--data-dir", type=Path, default=None, help="checkpoints (default: run/data/mdpl)"
    )
    a = ap.parse_args(argv)
    if a.what == "compare":
        rows = compare_seeds(a.output)
        print(json.dumps([{k: r[k] for k in ("sites", "set", "flux", "verdict")} for r in rows]))
        return
    if a.label is None:
        ap.error("refine needs the LABEL of a g_z variant")
    res = refine_longer(a.output, a.label, a.runs, a.min_delta, a.data_dir)
    print(json.dumps({k: v for k, v in res.items() if k != "per_site"}))


if __name__ == "__main__":
    main()
