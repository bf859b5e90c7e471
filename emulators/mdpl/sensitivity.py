"""One-factor-at-a-time sensitivity of the host physics (the paper's Fig. 2 for this host).

Each parameter at four uniformly spaced levels across its Table 2 range, all others at the
PFT defaults, one year (after a one-year spin-up) at one site per PFT group; sensitivity =
RMSE of the perturbed run against the default run, averaged over levels and sites, for
sensible and latent heat. Forcing is the ERA5-climatology generator's (no observations used).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from emulators.landmodel import PARAM_NAMES, oat_samples
from emulators.mdpl import twin
from emulators.mdpl.sites import site

REPRESENTATIVE = ("PT-Esp", "DE-Meh", "DK-Lva", "DE-Seh")
LEVELS = 4


def oat_rmse(names: tuple[str, ...] = REPRESENTATIVE, nyears: int = 1) -> np.ndarray:
    """RMSE vs the default run, (n_sites, 12 params, 2 fluxes), averaged over the levels."""
    sites = tuple(site(n) for n in names)
    forcing = twin.site_forcing(sites, nyears=nyears, seed=11, first_id=500)
    out = np.zeros((len(sites), len(PARAM_NAMES), 2))
    for i, s in enumerate(sites):
        base = twin.default_set(s)
        rows, _ = oat_samples(base, LEVELS)
        f = {k: v[:, i] for k, v in forcing.items()}
        sim = twin.simulate(s, np.concatenate([base[None], rows]), f)
        for j, flux in enumerate(twin.FLUXES):
            err = sim[flux][:, 1:] - sim[flux][:, :1]
            rmse = np.sqrt(np.mean(err**2, axis=0)).reshape(len(PARAM_NAMES), LEVELS)
            out[i, :, j] = rmse.mean(axis=1)
    return out


def ranking(rmse: np.ndarray) -> list[tuple[str, float, float]]:
    """(parameter, RMSE H, RMSE LE) averaged over sites, most influential (H + LE) first."""
    m = rmse.mean(axis=0)
    order = np.argsort(-(m[:, 0] + m[:, 1]))
    return [(PARAM_NAMES[k], float(m[k, 0]), float(m[k, 1])) for k in order]


def influential(rank: list[tuple[str, float, float]], share: float = 0.25) -> list[str]:
    """Parameters whose one-at-a-time RMSE is at least `share` of the top parameter's for
    sensible OR latent heat (the rule the recovery acceptance uses, fixed before any result)."""
    top_h = max(h for _, h, _ in rank)
    top_le = max(le for _, _, le in rank)
    return [name for name, h, le in rank if h >= share * top_h or le >= share * top_le]


SHIPPED_RANKING = Path(__file__).resolve().parent / "evaluation" / "sensitivity.csv"


def read_influential(path: Path = SHIPPED_RANKING) -> list[str]:
    """The influential parameters by the fixed rule, from a ranking written by `write`."""
    rows = list(csv.reader(path.open()))[1:]
    return influential([(n, float(h), float(le)) for n, h, le in rows])


def write(rank: list[tuple[str, float, float]], csv_path: Path, png_path: Path) -> None:
    """The ranking as a CSV table and a horizontal bar plot (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(csv_path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["parameter", "rmse_H_Wm2", "rmse_LE_Wm2"])
        w.writerows((n, f"{h:.3f}", f"{le:.3f}") for n, h, le in rank)
    names = [r[0] for r in rank][::-1]
    y = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.barh(y + 0.2, [r[1] for r in rank][::-1], 0.4, label="sensible heat")
    ax.barh(y - 0.2, [r[2] for r in rank][::-1], 0.4, label="latent heat")
    ax.set_yticks(y, names)
    ax.set_xlabel("RMSE vs default run (W m$^{-2}$)")
    ax.set_title(
        "OAT sensitivity of the host physics\n(4 levels, 4 sites, 1 year; ERA5-clim forcing)"
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
