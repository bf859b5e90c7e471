"""Seed 000's scaling experiment in miniature: the host physics on the 1-km columns of a
1° × 1° window for one season, forcing uniform within each 0.5° cell.

As in seed 000 §3.1, forcing is constant inside each 0.5° cell, so all fine-scale variability
of the simulated fields comes from the surface parameters — here landemu's translation of real
MODIS 2019 land cover (PFTs) and the GSI phenology LAI/SAI on the 30″ cells. Soil is the
synthetic uniform loam (no soil grid installs offline), so the texture-driven variability that
dominates soil moisture in seed 000 is absent here: the γ below come from vegetation alone.
Lakes, glaciers and urban cells are not run (the host physics has no such land units) and are
missing values in the maps. The installed land cover is MODIS at 0.05° (6 × 6 fine cells), so
PFTs, climate and LAI are constant within 0.05° cells and the 30″ land mask is the only finer
detail: γ here measures what is lost above the 0.05° scale (seed 000 used 500 m MODIS). Cells
with identical inputs are therefore run once (`distinct_columns`).

The host (emulators/landmodel, ctypes batches over the Fortran physics) runs from 1 April
(spin-up, two months) through 31 August; June–August means are analysed: latent heat
(EFLX_LH_TOT), absorbed shortwave (FSA), emitted longwave (FIRA + FLDS: net longwave plus the
incoming longwave, which is uniform within a box, so its within-box variability is that of
FIRA) and surface soil moisture (the top soil layer's water content at the end of each day,
volumetric). γ at 12 cells (≈ 12 km) per 0.5° box is compared with seed 000's 31–54 %.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from coupler.grids.latlon import LatLonGrid
from emulators.data.forcing import generate_forcing
from emulators.landmodel import FORCING_NAMES, HostModel
from emulators.landmodel.model import STATE_H2OSOI
from emulators.surface.pft import N_PFT
from emulators.surface.scaling import scaling_diagnostics
from emulators.surface.sources import fine_inputs
from emulators.surface.translate import translate_block

WINDOW = "latlon:120,120:45,46,5,6"  # Isère: Chartreuse and Vercors forests, valley crops, Grenoble
SPINUP_START_DOY = 91  # 1 April
SEASON_DOYS = (152, 243)  # 1 June .. 31 August (inclusive), noleap
STEPS_PER_DAY = 48
FIELDS = ("LH", "SM", "ASR", "ELR", "LAI")
SEED_GAMMA_RANGE = "31-54 %"


def column_surface(window: LatLonGrid) -> dict[str, np.ndarray]:
    """Translated fine cells of the window and which of them the host can run (PFT cells)."""
    inputs = fine_inputs(window)
    cells, _ = translate_block(
        inputs.land_cover, inputs.t_monthly_c, inputs.p_monthly_mm, inputs.lai, inputs.soil
    )
    run = (cells.surface_class >= 0) & (cells.surface_class < N_PFT)
    return {"cells": cells, "run": run}


PARENT_DEG = 0.05  # the land-cover (MCD12C1) cell: LC, climate and LAI are constant inside


def distinct_columns(
    window: LatLonGrid, cells, run: np.ndarray, box: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Columns with identical inputs are run once: (representative fine-cell index, the
    column of every run cell, the solar-geometry latitude/longitude of each column).

    Inputs are the forcing box, PFT, monthly LAI/SAI and soil; the position enters the
    physics only through solar geometry, taken at the centre of the 0.05° land-cover cell
    (≤ 3 km from the fine cell), so cells sharing a 0.05° cell and a PFT share a column.
    """
    idx = np.flatnonzero(run)
    lat, lon = window.centres()
    pj = np.floor(lat[idx] / PARENT_DEG)
    pi = np.floor(lon[idx] / PARENT_DEG)
    signature = np.column_stack(
        [
            box,
            cells.surface_class[idx],
            pj,
            pi,
            cells.lai[:, idx].T,
            cells.sai[:, idx].T,
            cells.soil["PCT_SAND"][0, idx],
            cells.soil["PCT_CLAY"][0, idx],
        ]
    )
    _, first, inverse = np.unique(signature, axis=0, return_index=True, return_inverse=True)
    rep = idx[first]
    centre = np.column_stack([(pj[first] + 0.5) * PARENT_DEG, (pi[first] + 0.5) * PARENT_DEG])
    return rep, inverse.reshape(-1), centre


def host_columns(cells, rep: np.ndarray, centre: np.ndarray) -> HostModel:
    """One host column per representative cell: 100 % its PFT, its monthly LAI/SAI, its soil."""
    pft = cells.surface_class[rep].astype(np.int64)
    n = rep.size
    pct = np.zeros((n, N_PFT))
    pct[np.arange(n), pft] = 100.0
    lai = np.zeros((n, 12, N_PFT))
    sai = np.zeros((n, 12, N_PFT))
    lai[np.arange(n), :, pft] = cells.lai[:, rep].T
    sai[np.arange(n), :, pft] = cells.sai[:, rep].T
    return HostModel(
        pct,
        cells.soil["PCT_SAND"][0, rep],
        cells.soil["PCT_CLAY"][0, rep],
        centre[:, 0],
        centre[:, 1],
        monthly_lai=lai,
        monthly_sai=sai,
    )


def box_of_cells(window: LatLonGrid, box_deg: float = 0.5) -> np.ndarray:
    """Index of the 0.5° forcing cell of every fine cell (row-major over the boxes)."""
    lat, lon = window.centres()
    nbx = round((window.east - window.west) / box_deg)
    bj = np.floor((lat - window.south) / box_deg).astype(np.int64)
    bi = np.floor((lon - window.west) / box_deg).astype(np.int64)
    return bj * nbx + bi


def run_experiment(
    window_spec: str = WINDOW,
    seed: int = 0,
    log=print,
    start_doy: int = SPINUP_START_DOY,
    season: tuple[int, int] = SEASON_DOYS,
) -> dict:
    """Season means on the window's fine cells (NaN where not run) and their scaling."""
    window = LatLonGrid.parse(window_spec)
    t0 = time.perf_counter()
    surf = column_surface(window)
    cells, run = surf["cells"], surf["run"]
    box_all = box_of_cells(window)
    rep, column_of_cell, centre = distinct_columns(window, cells, run, box_all[run])
    model = host_columns(cells, rep, centre)
    box = box_all[rep]
    nbx = round((window.east - window.west) / 0.5)
    nb = nbx * round((window.north - window.south) / 0.5)
    blat = window.south + 0.25 + 0.5 * (np.arange(nb) // nbx)
    blon = window.west + 0.25 + 0.5 * (np.arange(nb) % nbx)
    forcing = generate_forcing(blat, blon, start_year=2001, nyears=1, seed=seed)
    sums = {k: np.zeros(model.ncol) for k in ("LH", "SM", "ASR", "ELR")}
    ndays = 0
    log(
        f"{int(run.sum())} fine cells run ({run.mean():.0%} of the window) as {model.ncol} "
        f"distinct host columns, {nb} forcing cells"
    )
    for doy in range(start_doy, season[1] + 1):
        s0 = (doy - 1) * STEPS_PER_DAY
        day = np.stack([forcing[n][s0 : s0 + STEPS_PER_DAY][:, box] for n in FORCING_NAMES], -1)
        out = model.run(day, start_doy=doy, outputs=("EFLX_LH_TOT", "FSA", "FIRA"))
        if doy >= season[0]:
            ndays += 1
            flds = day[:, :, FORCING_NAMES.index("FLDS")]
            sums["LH"] += out["EFLX_LH_TOT"].mean(axis=0)
            sums["ASR"] += out["FSA"].mean(axis=0)
            sums["ELR"] += (out["FIRA"] + flds).mean(axis=0)
            sums["SM"] += model.state[:, STATE_H2OSOI][:, 0]  # volumetric, m3 m-3
        if doy % 30 == 0:
            log(f"  day {doy}: {time.perf_counter() - t0:.0f} s")
    maps = {}
    for name, total in sums.items():
        m = np.full(window.size, np.nan)
        m[run] = (total / ndays)[column_of_cell]
        maps[name] = m.reshape(window.shape)
    jja = cells.lai[5:8].mean(axis=0)  # June-August
    maps["LAI"] = np.where(run, jja, np.nan).reshape(window.shape)
    results = {}
    for name in FIELDS:
        r = scaling_diagnostics(maps[name])
        results[name] = {
            "gamma_12_mean_pct": float(np.nanmean(r.gamma_at(12))),
            "gamma_12_per_box_pct": [round(float(g), 2) for g in r.gamma_at(12).ravel()],
            "beta_mean": float(np.nanmean(r.beta)),
            "sigma_1_mean": float(np.nanmean(r.sigma[0])),
            "season_mean": float(np.nanmean(maps[name])),
        }
    return {
        "window": window_spec,
        "season": "JJA 2001 (synthetic weather from the ERA5 climatology), spin-up from 1 April",
        "fine_cells_run": int(run.sum()),
        "host_columns": int(model.ncol),
        "fraction_run": float(run.mean()),
        "seconds": round(time.perf_counter() - t0, 1),
        "seed_000_gamma_12km": SEED_GAMMA_RANGE,
        "fields": results,
        "maps": maps,
    }


def write_results(results: dict, folder: Path) -> None:
    """JSON (without maps) and a markdown table next to each other; maps as a PNG."""
    folder.mkdir(parents=True, exist_ok=True)
    summary = {k: v for k, v in results.items() if k != "maps"}
    (folder / "scaling_experiment.json").write_text(json.dumps(summary, indent=1) + "\n")
    lines = [
        "| field | γ at 12 km, mean over 0.5° boxes (%) | per box (%) | β mean | season mean |",
        "|---|---|---|---|---|",
    ]
    for name, r in summary["fields"].items():
        lines.append(
            f"| {name} | {r['gamma_12_mean_pct']:.1f} | {r['gamma_12_per_box_pct']} | "
            f"{r['beta_mean']:.3f} | {r['season_mean']:.3g} |"
        )
    lines.append(f"| seed 000 (ELM2, CONUS, annual means) | {SEED_GAMMA_RANGE} | | | |")
    (folder / "scaling_experiment.md").write_text("\n".join(lines) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(FIELDS), figsize=(4 * len(FIELDS), 3.6))
    for ax, name in zip(axes, FIELDS, strict=True):
        im = ax.imshow(results["maps"][name], origin="lower", extent=[5, 6, 45, 46])
        g = summary["fields"][name]["gamma_12_mean_pct"]
        ax.set_title(f"{name} (JJA), γ12 = {g:.0f} %")
        fig.colorbar(im, ax=ax, shrink=0.8)
    fig.tight_layout()
    fig.savefig(folder / "scaling_experiment.png", dpi=80)
    plt.close(fig)


if __name__ == "__main__":
    import sys

    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("run/data/surface_scaling")
    res = run_experiment(log=lambda m: print(m, flush=True))
    write_results(res, out)
    print(json.dumps({k: v for k, v in res.items() if k != "maps"}))
