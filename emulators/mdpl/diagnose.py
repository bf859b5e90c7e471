"""Why g_z's sets make some sites worse: per site, the surrogate's own error, its predicted
gain against the physics' gain, and how g_z's set depends on windows and observations.

    python -m emulators.mdpl.diagnose [--arch multitask] [--gz lstm4x128] [--data-dir D]

Writes `evaluation/diagnosis_<arch>_<gz>.csv` (one row per site and flux) and prints the
mean per-site RMSE change of g_z's set, of the set from 1024 windows, without observations,
and with a fallback to the defaults where the surrogate predicts no gain. W m-2; TWIN data.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
from pathlib import Path

import numpy as np
import torch

from emulators.mdpl import twin
from emulators.mdpl.dataset import DATA_DIR, WINDOW, SiteData, surrogate_inputs
from emulators.mdpl.evaluate import CAL, EVAL, FLUX_LABELS, OUT_DIR, run_sets
from emulators.mdpl.metrics import scores
from emulators.mdpl.train import load_all, load_generator, load_surrogate, site_parameters


def surrogate_check(surrogate, norm, d: SiteData, sets: dict[str, np.ndarray]) -> dict:
    """On 256 calibration windows: the surrogate's RMSE against the observations for each set,
    and its RMSE and mean bias against the physics' default run at the site's defaults."""
    start = np.linspace(0, twin.CAL_STEPS - WINDOW, 256).astype(int)
    idx = start[:, None] + np.arange(WINDOW)
    fn, obs = norm.forcing(d.forcing), d.obs[idx]
    ok = np.isfinite(obs)
    out = {}
    for name, p in sets.items():
        unit = np.repeat(twin.to_unit(p)[None].astype(np.float32), len(start), axis=0)
        with torch.no_grad():
            y = surrogate(torch.from_numpy(surrogate_inputs(fn, start, unit))).numpy()
        y = y * norm.y_std + norm.y_mean
        out[name] = [float(np.sqrt(np.mean((y - obs)[..., j][ok[..., j]] ** 2))) for j in (0, 1)]
        if name == "default":
            err = y - d.sim_default[idx]
            out["error_at_default"] = [float(np.sqrt(np.mean(err[..., j] ** 2))) for j in (0, 1)]
            out["bias_at_default"] = [float(err[..., j].mean()) for j in (0, 1)]
    return out


def diagnose(
    arch: str = "multitask",
    gz_name: str = "lstm4x128",
    data_dir: Path = DATA_DIR,
    names: list[str] | None = None,
) -> tuple[list[dict], dict]:
    """Rows per site and flux, and the mean per-site RMSE change (%) of each variant."""
    data = load_all(data_dir, names)
    surrogate, norm = load_surrogate(arch, data_dir)
    gz = load_generator(arch, data_dir, gz_name)
    rows, change = [], {}
    for d in data:
        sets = {
            "default": d.default,
            "truth": d.truth,
            "gz": site_parameters(gz, d, norm),
            "gz_1024_windows": site_parameters(gz, d, norm, n_windows=1024),
            "gz_no_obs": site_parameters(gz, d, norm, use_obs=False),
        }
        sims = run_sets(d, sets)
        rmse = {
            (m, part, j): scores(y[sl, j], d.obs[sl, j])["rmse"]
            for m, y in sims.items()
            for part, sl in (("cal", CAL), ("eval", EVAL))
            for j in (0, 1)
        }
        sur = surrogate_check(surrogate, norm, d, {"default": d.default, "gz": sets["gz"]})
        predicts_gain = sum(sur["gz"]) < sum(sur["default"])
        at_bound = np.abs(twin.to_unit(sets["gz"]) - 0.5) > 0.47
        for j, flux in enumerate(FLUX_LABELS):
            rows.append(
                {
                    "site": d.site.name,
                    "flux": flux,
                    "default_minus_truth": rmse["default", "eval", j] - rmse["truth", "eval", j],
                    "surrogate_error_at_default": sur["error_at_default"][j],
                    "surrogate_bias_at_default": sur["bias_at_default"][j],
                    "surrogate_predicted_gain": sur["default"][j] - sur["gz"][j],
                    "physics_gain_cal": rmse["default", "cal", j] - rmse["gz", "cal", j],
                    "physics_gain_eval": rmse["default", "eval", j] - rmse["gz", "eval", j],
                    "params_at_bound": int(at_bound.sum()),
                }
            )
        for m in ("gz", "gz_1024_windows", "gz_no_obs", "gz_if_surrogate_predicts_gain"):
            src = m if m in sets else ("gz" if predicts_gain else "default")
            for j, flux in enumerate(FLUX_LABELS):
                rel = rmse[src, "eval", j] / rmse["default", "eval", j] - 1
                change.setdefault(f"{m}_{flux}", []).append(100 * rel)
    return rows, {k: round(float(np.mean(v)), 1) for k, v in change.items()}


def main(argv: list[str] | None = None) -> None:
    torch.set_num_threads(1)
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--arch", default="multitask")
    ap.add_argument("--gz", default="lstm4x128")
    ap.add_argument("-o", "--output", type=Path, default=OUT_DIR)
    ap.add_argument("--data-dir", type=Path, default=DATA_DIR, help="checkpoints and site data")
    a = ap.parse_args(argv)
    rows, change = diagnose(a.arch, a.gz, a.data_dir)
    path = a.output / f"diagnosis_{a.arch}_{a.gz}.csv"
    write_rows(path, rows)
    print(path)
    print(json.dumps({**change, **sign_agreement(rows)}))


def sign_agreement(rows: list[dict]) -> dict[str, int]:
    """Site×flux cases where the physics' gain on years 1–2, and the surrogate's predicted
    gain, have the sign of the physics' gain on the held-out year."""
    held_out = [r["physics_gain_eval"] > 0 for r in rows]
    return {
        f"sign_agree_{k}": sum((r[k] > 0) == h for r, h in zip(rows, held_out, strict=True))
        for k in ("physics_gain_cal", "surrogate_predicted_gain")
    } | {"cases": len(rows)}


def write_rows(path: Path, rows: list[dict]) -> None:
    """The rows as CSV (written to a temp file, then renamed)."""
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(
            {k: f"{v:.2f}" if isinstance(v, float) else v for k, v in r.items()} for r in rows
        )
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
