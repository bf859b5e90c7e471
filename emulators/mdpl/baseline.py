"""Direct-calibration baseline: scipy differential evolution on the Fortran physics itself.

Why: dPL's claim is "as good as calibrating the model directly, far cheaper". Here each DE
generation (13 parameter sets) is one batch of host columns, the objective is the same as
g_z's (mean over H and LE of the RMSE against the TWIN observations, each divided by the
observed STD, calibration years only), and the best set is recorded when the number of
physics runs reaches each budget — the first budget being what the surrogate's training set
cost per site (64 ensemble members + the default run).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
from scipy.optimize import differential_evolution

from emulators.landmodel import FORCING_NAMES
from emulators.mdpl import twin
from emulators.mdpl.dataset import DATA_DIR, SiteData, load_site
from emulators.mdpl.sites import SITES

POP = 13
BUDGETS = (65, 130)


def objective(sim: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """sim (nstep, n, 2), obs (nstep, 2) with NaN gaps → (n,) mean normalised RMSE."""
    ok = np.isfinite(obs)
    out = np.zeros(sim.shape[1])
    for j in range(2):
        o = obs[ok[:, j], j]
        err = sim[ok[:, j], :, j] - o[:, None]
        out += np.sqrt(np.mean(err**2, axis=0)) / np.std(o)
    return out / 2


def calibrate_site(d: SiteData, budgets: tuple[int, ...] = BUDGETS, seed: int = 0) -> dict:
    """DE on the physics for one site; {budget: best parameters (12,)} plus cost figures."""
    forcing = {
        name: d.forcing[: twin.CAL_STEPS, k].astype(float) for k, name in enumerate(FORCING_NAMES)
    }
    obs = d.obs[: twin.CAL_STEPS].astype(float)
    runs, best_f, best_u, found = 0, np.inf, None, {}
    t0 = time.perf_counter()

    def f(u: np.ndarray) -> np.ndarray:  # u (12, pop) in the unit cube (vectorized DE)
        nonlocal runs, best_f, best_u
        sim = twin.simulate(d.site, twin.from_unit(u.T), forcing)
        vals = objective(np.stack([sim[n] for n in twin.FLUXES], axis=2), obs)
        for k, v in enumerate(vals):
            runs += 1
            if v < best_f:
                best_f, best_u = float(v), u[:, k].copy()
            if runs in budgets:
                found[runs] = (twin.from_unit(best_u), best_f, time.perf_counter() - t0)
        return vals

    maxiter = max(budgets) // POP - 1
    differential_evolution(
        f,
        [(0.0, 1.0)] * 12,
        popsize=POP,  # scipy multiplies by the dimension unless init is an array
        init=np.random.default_rng(seed).random((POP, 12)),
        maxiter=maxiter,
        polish=False,
        vectorized=True,
        updating="deferred",
        tol=0.0,
        seed=seed,
    )
    return {
        "params": {b: found[b][0] for b in budgets if b in found},
        "objective": {b: found[b][1] for b in budgets if b in found},
        "seconds": {b: found[b][2] for b in budgets if b in found},
    }


def result_path(name: str, data_dir: Path = DATA_DIR) -> Path:
    return data_dir / "de" / f"{name}.json"


def run_all(
    data_dir: Path = DATA_DIR, budgets: tuple[int, ...] = BUDGETS, names: list[str] | None = None
) -> None:
    """DE for every cached site (or `names`) whose result is missing (resumable, atomic)."""
    for s in SITES:
        if names and s.name not in names:
            continue
        path = result_path(s.name, data_dir)
        if path.exists():
            continue
        r = calibrate_site(load_site(s, data_dir), budgets)
        rec = {
            "site": s.name,
            "params": {str(b): p.tolist() for b, p in r["params"].items()},
            "objective": {str(b): v for b, v in r["objective"].items()},
            "seconds": {str(b): v for b, v in r["seconds"].items()},
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(rec))
        os.replace(tmp, path)
        print(json.dumps({k: rec[k] for k in ("site", "objective", "seconds")}), flush=True)


def load_results(data_dir: Path = DATA_DIR) -> dict[str, dict]:
    """{site: result record} of the sites calibrated so far."""
    out = {}
    for s in SITES:
        path = result_path(s.name, data_dir)
        if path.exists():
            out[s.name] = json.loads(path.read_text())
    return out


if __name__ == "__main__":
    import sys

    run_all(names=sys.argv[1].split(",") if len(sys.argv) > 1 else None)
