"""Summarise the demo: where its outputs are, the monthly LAI the host ran on (from
landemu's PFTs and per-PFT LAI) and the latent heat it produced — next to the same host year
without landemu — the host's PFT composition and July LAI per PFT, the scaling diagnostics
landemu wrote, and two PNGs (maps and seasonal cycles; PFTs).

usage: python run/demo/summary.py RUN_DIR DOMAIN_FILE
"""

from __future__ import annotations

import itertools
import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import netCDF4
import numpy as np

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def read(path: Path, names: list[str]) -> dict[str, np.ndarray]:
    """Daily fields (time, nj, ni) with NaN where the host has no land."""
    with netCDF4.Dataset(path) as ds:
        return {n: np.ma.filled(ds[n][:].astype(float), np.nan) for n in names}


def monthly(daily: np.ndarray) -> np.ndarray:
    """Daily fields (365, nj, ni) → monthly means (12, nj, ni)."""
    edges = np.concatenate([[0], np.cumsum(DAYS)])
    with warnings.catch_warnings():  # cells without land are NaN all year
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.stack([np.nanmean(daily[a:b], axis=0) for a, b in itertools.pairwise(edges)])


def land_mean(fields: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Area-weighted mean over land cells of each leading-axis slice."""
    w = np.where(np.isnan(fields), 0.0, weights)
    return np.nansum(np.nan_to_num(fields) * w, axis=(-2, -1)) / w.sum(axis=(-2, -1))


def main(run_dir: Path, domain: Path) -> int:
    coupled = read(run_dir / "landmodel_coupled.nc", ["LAI", "EFLX_LH_TOT"])
    alone = read(run_dir / "landmodel_alone.nc", ["LAI", "EFLX_LH_TOT"])
    with netCDF4.Dataset(domain) as ds:
        lat, lon, weights = (np.asarray(ds[v][:], float) for v in ("yc", "xc", "area"))
    lai_c, le_c = monthly(coupled["LAI"]), monthly(coupled["EFLX_LH_TOT"])
    lai_a, le_a = monthly(alone["LAI"]), monthly(alone["EFLX_LH_TOT"])
    m_lai_c, m_le_c = land_mean(lai_c, weights), land_mean(le_c, weights)
    m_lai_a, m_le_a = land_mean(lai_a, weights), land_mean(le_a, weights)
    print("\nlandemu demo: monthly means over the host's land cells")
    print(
        f"{'':>6} {'LAI from landemu':>17} {'LE coupled':>11} {'| LAI alone':>12} {'LE alone':>9}"
    )
    print(f"{'month':>6} {'m2/m2':>17} {'W/m2':>11} {'| m2/m2':>12} {'W/m2':>9}")
    rows = [(MONTHS[k], m_lai_c[k], m_le_c[k], m_lai_a[k], m_le_a[k]) for k in range(12)]
    rows.append(("year", m_lai_c.mean(), m_le_c.mean(), m_lai_a.mean(), m_le_a.mean()))
    for label, lai_in, le_in, lai_ref, le_ref in rows:
        print(f"{label:>6} {lai_in:>17.3f} {le_in:>11.2f} {'| ':>4}{lai_ref:>8.3f} {le_ref:>9.2f}")
    change, july = m_le_c.mean() - m_le_a.mean(), m_le_c[6] - m_le_a[6]
    print(
        f"landemu's LAI changed the host's annual-mean latent heat by {change:+.2f} W m-2 "
        f"(July: {july:+.2f} W m-2)."
    )

    png = run_dir / "demo_summary.png"
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.3))
    extent = [lon.min() - 0.25, lon.max() + 0.25, lat.min() - 0.25, lat.max() + 0.25]
    im = axes[0].imshow(lai_c[6], origin="lower", extent=extent, cmap="YlGn", vmin=0)
    axes[0].set_title("July LAI the host ran on (landemu PFTs × LAI)")
    fig.colorbar(im, ax=axes[0], label="m² m⁻²", shrink=0.85)
    diff = le_c[6] - le_a[6]
    lim = np.nanmax(np.abs(diff))
    im = axes[1].imshow(diff, origin="lower", extent=extent, cmap="RdBu", vmin=-lim, vmax=lim)
    axes[1].set_title("July latent heat: coupled − alone")
    fig.colorbar(im, ax=axes[1], label="W m⁻²", shrink=0.85)
    for ax in axes[:2]:
        ax.set_xlabel("longitude (°E)")
        ax.set_ylabel("latitude (°N)")
    months = np.arange(1, 13)
    ax = axes[2]
    ax.plot(months, m_le_c, "b-o", label="LE, coupled to landemu")
    ax.plot(months, m_le_a, "b--", label="LE, host alone")
    ax.set_ylabel("latent heat (W m⁻²)")
    ax.set_xlabel("month")
    ax2 = ax.twinx()
    ax2.plot(months, m_lai_c, "g-o", label="LAI from landemu")
    ax2.plot(months, m_lai_a, "g--", label="LAI, host default")
    ax2.set_ylabel("LAI (m² m⁻²)")
    lines = ax.get_lines() + ax2.get_lines()
    ax.legend(lines, [ln.get_label() for ln in lines], fontsize=8, loc="upper left")
    ax.set_title("land means, 2001")
    fig.savefig(png, dpi=110, bbox_inches="tight")
    plt.close(fig)

    pfts(run_dir, lat, lon, weights)
    scaling(run_dir)

    print("\noutputs:")
    for path in sorted(run_dir.iterdir()):
        if path.is_file() and path.suffix in (".nc", ".png", ".txt"):
            print(f"  {path.resolve()}")
    return 0


PFT_NAMES = [
    "bare soil", "NET temperate", "NET boreal", "NDT boreal", "BET tropical", "BET temperate",
    "BDT tropical", "BDT temperate", "BDT boreal", "BES temperate", "BDS temperate",
    "BDS boreal", "C3 arctic grass", "C3 grass", "C4 grass", "C3 crop", "C3 irrigated",
]  # fmt: skip


def pfts(run_dir: Path, lat: np.ndarray, lon: np.ndarray, weights: np.ndarray) -> None:
    """The host's PCT_NAT_PFT (annual mean of what it used) and July LAI per PFT (what it
    received from landemu): a table of land means and demo_pfts.png."""
    with netCDF4.Dataset(run_dir / "landmodel_coupled.nc") as ds:
        pct = np.ma.filled(ds["PCT_NAT_PFT"][:].astype(float), np.nan).mean(axis=0)
        lai = np.ma.filled(ds["landemu_MONTHLY_LAI"][:].astype(float), np.nan)
    july = lai[181:212].mean(axis=0)  # (17, nj, ni), days 182–212
    share = land_mean(pct, weights)
    present = [p for p in np.argsort(-share) if share[p] >= 1.0][:8]
    present = [p for p in present if p > 0]
    print("\nthe host's PFTs (from landemu): land-mean cover and July LAI where present")
    print(f"{'PFT':>18} {'cover %':>8} {'July LAI':>9}")
    print(f"{'bare soil':>18} {share[0]:>8.1f} {0.0:>9.2f}")
    for p in present:
        w = np.where(pct[p] > 0, weights * pct[p], 0.0)
        lai_p = np.nansum(np.nan_to_num(july[p]) * w) / w.sum()
        print(f"{PFT_NAMES[p]:>18} {share[p]:>8.1f} {lai_p:>9.2f}")
    extent = [lon.min() - 0.25, lon.max() + 0.25, lat.min() - 0.25, lat.max() + 0.25]
    fig, axes = plt.subplots(2, len(present), figsize=(2.6 * len(present), 5.4), squeeze=False)
    for k, p in enumerate(present):
        im = axes[0, k].imshow(pct[p], origin="lower", extent=extent, cmap="YlOrBr", vmin=0,
                               vmax=100)  # fmt: skip
        axes[0, k].set_title(f"{PFT_NAMES[p]} (%)", fontsize=9)
        lai_map = np.where(pct[p] > 0, july[p], np.nan)
        im2 = axes[1, k].imshow(lai_map, origin="lower", extent=extent, cmap="YlGn", vmin=0)
        axes[1, k].set_title(f"July LAI, {PFT_NAMES[p]}", fontsize=9)
        fig.colorbar(im2, ax=axes[1, k], shrink=0.7)
        for ax in axes[:, k]:
            ax.tick_params(labelsize=7)
    fig.colorbar(im, ax=axes[0, -1], shrink=0.7)
    fig.suptitle(
        "The host's PFT composition (its PCT_NAT_PFT: landemu's PCT_PFT, natural + crop land "
        "units; annual mean) and the July LAI per PFT it received from landemu"
    )
    fig.savefig(run_dir / "demo_pfts.png", dpi=100, bbox_inches="tight")
    plt.close(fig)


def scaling(run_dir: Path) -> None:
    """July σ1, β and γ12 of the fine LAI and SAI behind the exports (landemu's history)."""
    files = sorted(run_dir.glob("demo.landemu.h.*.nc"))
    if not files:
        return
    with netCDF4.Dataset(files[0]) as ds:
        if "GAMMA12_LAI" not in ds.variables:
            return
        print("\nfine-scale information the 0.5° host loses (July, mean over host land cells)")
        print(f"{'field':>6} {'sigma1':>8} {'beta':>7} {'gamma12 %':>10}")
        for f in ("LAI", "SAI"):
            vals = [np.ma.filled(ds[f"{k}_{f}"][6].astype(float), np.nan) for k in
                    ("SIGMA1", "BETA", "GAMMA12")]  # fmt: skip
            land = np.isfinite(vals[0]) & (vals[0] > 0)
            print(f"{f:>6} " + " ".join(f"{np.mean(v[land]):>8.3f}" for v in vals))


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
