"""Check the SEMI-EMPIRICAL target against exoplasim's T42 monthly LAI climatology.

    python -m emulators.lai.t42 [--out emulators/lai/evaluation/t42_check.json]

The target is made for the whole globe in bands of rows, averaged (area-weighted, water as
0 LAI) onto the T42 Gaussian grid by nearest T42 cell, and compared on T42 cells that are at
least half land: per latitude band, the correlation of the band-mean seasonal cycles, their
amplitudes (max − min month), annual means, and the median per-cell seasonal correlation.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from emulators.data import era5_climate
from emulators.lai import target
from emulators.lulc.dataset import DEFAULT_CUBE, DEG, Cube, lat_of_rows

BANDS = ((-60, -30), (-30, -10), (-10, 10), (10, 30), (30, 50), (50, 70), (70, 90))
OUT = Path(__file__).with_name("evaluation") / "t42_check.json"


def target_on_t42(cube_path=DEFAULT_CUBE, rows_per_band: int = 200):
    """(target (12, 64, 128), land share (64, 128), t42 lai, t42 lat) on the T42 grid."""
    t42, t42_lat, _ = target.read_t42_lai()
    igbp = Cube.open(cube_path, ("land_cover",)).arrays["land_cover"]
    ndvi_max, ndvi_min = target.read_ndvi("maximum"), target.read_ndvi("minimum")
    climate = era5_climate.monthly_climate_coarse()
    nlat, nlon = igbp.shape
    lon = -180.0 + (np.arange(nlon) + 0.5) * DEG
    col = np.round(np.mod(lon, 360.0) / (360.0 / 128)).astype(np.int64) % 128
    sums = np.zeros((12, 64 * 128))
    area = np.zeros(64 * 128)
    land = np.zeros(64 * 128)
    for r0 in range(0, nlat, rows_per_band):
        r1 = min(r0 + rows_per_band, nlat)
        lat = lat_of_rows(r0, r1)
        row = np.abs(lat[:, None] - t42_lat[None]).argmin(axis=1)
        cell = (row[:, None] * 128 + col[None]).ravel()
        t = era5_climate.bilinear(climate["t"], lat, lon)
        p = np.maximum(era5_climate.bilinear(climate["p"], lat, lon), 0.0)
        g = igbp[r0:r1]
        lai = target.monthly_lai(ndvi_max[r0:r1], ndvi_min[r0:r1], g, t, p, lat)
        ok = np.isfinite(lai[0]).ravel()
        w = np.broadcast_to(np.cos(np.deg2rad(lat))[:, None], g.shape).ravel()
        area += np.bincount(cell[ok], w[ok], 64 * 128)
        land += np.bincount(cell, w * ~np.isin(g.ravel(), (0, 255)), 64 * 128)
        for m in range(12):
            sums[m] += np.bincount(cell[ok], (lai[m].ravel() * w)[ok], 64 * 128)
        del t, p, lai
    total = np.bincount(
        (
            np.abs(lat_of_rows(0, nlat)[:, None] - t42_lat[None]).argmin(axis=1)[:, None] * 128
            + col[None]
        ).ravel(),
        np.broadcast_to(np.cos(np.deg2rad(lat_of_rows(0, nlat)))[:, None], (nlat, nlon)).ravel(),
        64 * 128,
    )
    mean = np.divide(sums, area, out=np.full_like(sums, np.nan), where=area > 0)
    share = np.divide(land, total, out=np.zeros_like(land), where=total > 0)
    return mean.reshape(12, 64, 128), share.reshape(64, 128), t42, t42_lat


def compare(mean, share, t42, t42_lat) -> list[dict]:
    rows = []
    for s, n in BANDS:
        sel = (share >= 0.5) & (t42_lat[:, None] >= s) & (t42_lat[:, None] < n)
        sel &= np.isfinite(mean[0]) & (t42.max(axis=0) > 0)
        if not sel.any():
            continue
        w = np.broadcast_to(np.cos(np.deg2rad(t42_lat))[:, None], sel.shape)[sel]
        a = (mean[:, sel] * w).sum(axis=1) / w.sum()
        b = (t42[:, sel] * w).sum(axis=1) / w.sum()
        cells = [
            np.corrcoef(mean[:, i, j], t42[:, i, j])[0, 1]
            for i, j in zip(*np.nonzero(sel), strict=True)
            if mean[:, i, j].std() > 1e-3 and t42[:, i, j].std() > 1e-3
        ]
        rows.append(
            {
                "band": f"{s}..{n}",
                "t42_cells": int(sel.sum()),
                "cycle_correlation": round(float(np.corrcoef(a, b)[0, 1]), 3),
                "amplitude_target": round(float(a.max() - a.min()), 2),
                "amplitude_t42": round(float(b.max() - b.min()), 2),
                "mean_target": round(float(a.mean()), 2),
                "mean_t42": round(float(b.mean()), 2),
                "median_cell_correlation": round(float(np.median(cells)), 3) if cells else None,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m emulators.lai.t42", description=__doc__)
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    rows = compare(*target_on_t42())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(json.dumps(rows, indent=1))
    tmp.replace(args.out)
    for r in rows:
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
