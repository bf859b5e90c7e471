"""Summarise a demo run: where its outputs are, monthly host means from landemu's history,
and a PNG with LAI maps and the seasonal cycle.

usage: python run/demo/summary.py RUN_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import netCDF4  # noqa: E402
import numpy as np  # noqa: E402

MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def host_means(ds, name: str, weights: np.ndarray) -> np.ndarray:
    """Area-weighted mean over the active host cells, one value per history record."""
    v = np.ma.filled(ds[name][:].astype(float), np.nan)
    w = np.where(np.isnan(v), 0.0, weights)
    return np.nansum(np.nan_to_num(v) * w, axis=(1, 2)) / w.sum(axis=(1, 2))


def main(run_dir: Path) -> int:
    history = sorted(run_dir.glob("*.landemu.h.*.nc"))
    if not history:
        print(f"no landemu history file in {run_dir}", file=sys.stderr)
        return 1
    with netCDF4.Dataset(history[0]) as ds:
        lat, lon = ds["lat"][:], ds["lon"][:]
        weights = np.cos(np.deg2rad(lat))[:, None] * np.ones(lon.size)[None, :]
        lai = host_means(ds, "LAI", weights)
        tbot = host_means(ds, "TBOT", weights) - 273.15
        prec = host_means(ds, "PRECTmms", weights) * 86400.0
        maps = np.ma.filled(ds["LAI"][:].astype(float), np.nan)
    print("\nlandemu demo: monthly host means over land (from landemu's history)")
    print(f"{'month':>6} {'LAI m2/m2':>10} {'T2m degC':>9} {'precip mm/d':>12}")
    for k in range(lai.size):
        print(f"{MONTHS[k % 12]:>6} {lai[k]:>10.3f} {tbot[k]:>9.2f} {prec[k]:>12.2f}")
    png = run_dir / "demo_summary.png"
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    extent = [float(lon[0]) - 0.25, float(lon[-1]) + 0.25, float(lat[0]) - 0.25, float(lat[-1]) + 0.25]
    vmax = np.nanmax(maps)
    for ax, k, title in ((axes[0], 0, "LAI, January mean"), (axes[1], min(6, len(maps) - 1), "LAI, July mean")):
        im = ax.imshow(maps[k], origin="lower", extent=extent, vmin=0, vmax=vmax, cmap="YlGn")
        ax.set_title(title)
        ax.set_xlabel("longitude (°E)")
        ax.set_ylabel("latitude (°N)")
    fig.colorbar(im, ax=axes[:2], label="m² m⁻²", shrink=0.85)
    ax = axes[2]
    ax.plot(range(1, lai.size + 1), lai, "g-o", label="LAI (m² m⁻²)")
    ax.set_xlabel("month")
    ax.set_ylabel("host-mean LAI", color="g")
    ax2 = ax.twinx()
    ax2.plot(range(1, tbot.size + 1), tbot, "r--", label="T2m (°C)")
    ax2.set_ylabel("host-mean T2m (°C)", color="r")
    ax.set_title("seasonal cycle received by the host")
    fig.savefig(png, dpi=110, bbox_inches="tight")
    print("\noutputs:")
    for path in sorted(run_dir.iterdir()):
        if path.is_file() and path.suffix in (".nc", ".png", ".txt"):
            print(f"  {path.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else ".")))
