"""Plot the LAI demo: the GSI transform (reference) and the LAI U-Net (emulator) as the host
received them, from the monthly history of `landemu run run/demo/lai.yaml`.

    python run/demo/lai_plot.py RUN_DIR        → RUN_DIR/lai_demo.png, one JSON line last

Left: the monthly mean over the domain's active host cells of both; right: July maps of both
on the host's 0.5° grid. The U-Net's target is SEMI-EMPIRICAL (emulators/lai/MODEL_CARD.md):
its level and seasonal amplitude follow NDVI, the GSI transform's follow the Noah table, so
they differ by design; the plot shows the timing and the spatial pattern side by side.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import netCDF4
import numpy as np

FIELDS = {"LAI": "GSI transform (reference)", "LAI_UNET": "LAI U-Net (emulator)"}
JULY = 6


def main(run_dir: Path) -> dict:
    (history,) = sorted(run_dir.glob("*.landemu.h.*.nc"))
    with netCDF4.Dataset(history) as ds:
        data = {k: np.ma.filled(ds[k][:], np.nan) for k in FIELDS}
        lat, lon = ds["lat"][:], ds["lon"][:]
    cycle = {k: np.nanmean(v.reshape(v.shape[0], -1), axis=1) for k, v in data.items()}
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    months = np.arange(1, len(cycle["LAI"]) + 1)
    for k, label in FIELDS.items():
        axes[0].plot(months, cycle[k], "o-", label=label)
    axes[0].set(xlabel="month of 2001", ylabel="LAI (m2 m-2), host-cell mean", xticks=months)
    axes[0].legend(fontsize=8)
    vmax = max(np.nanmax(v[JULY]) for v in data.values())
    extent = (lon[0] - 0.25, lon[-1] + 0.25, lat[0] - 0.25, lat[-1] + 0.25)
    for ax, (k, label) in zip(axes[1:], FIELDS.items(), strict=True):
        im = ax.imshow(data[k][JULY], origin="lower", extent=extent, vmin=0, vmax=vmax)
        ax.set(title=f"{label}, July", xlabel="lon", ylabel="lat")
    fig.colorbar(im, ax=axes[1:], shrink=0.8, label="LAI (m2 m-2)")
    out = run_dir / "lai_demo.png"
    fig.savefig(out, dpi=90, bbox_inches="tight")
    ok = np.isfinite(data["LAI"][JULY]) & np.isfinite(data["LAI_UNET"][JULY])
    return {
        "plot": str(out),
        "annual_mean_gsi": round(float(np.mean(cycle["LAI"])), 3),
        "annual_mean_unet": round(float(np.mean(cycle["LAI_UNET"])), 3),
        "seasonal_cycle_correlation": round(float(np.corrcoef(*cycle.values())[0, 1]), 3),
        "july_spatial_correlation": round(
            float(np.corrcoef(data["LAI"][JULY][ok], data["LAI_UNET"][JULY][ok])[0, 1]), 3
        ),
    }


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
