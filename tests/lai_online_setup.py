"""A small configuration for the online LAI step: a 0.6° host (4 × 4 cells) over a 0.05°
fine grid (48 × 48) with a SYNTHETIC static file in the layout of `landemu lulc-static`
(IGBP classes in stripes and a lake corner, turned into land use/cover codes by phase one's
tables; smooth statics and vegetation, as `landemu lai static` writes), daily coupling, the shipped
LAI U-Net on 32-px windows (small, so tests stay fast), exports interpolated monthly."""

from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np
import yaml

from emulators.lulc.classes import LC_FROM_IGBP, LU_FROM_IGBP

HOST = "latlon:4,4:44,46.4,2,4.4"
FINE = "latlon:48,48:44,46.4,2,4.4"
NY = NX = 48
DAY = 86400
PARAMS = {"window": 32, "margin": 8, "overlap": 0, "batch": 3}
START = (2001, 6, 1)  # runs begin in June: leaves are out (in winter the model gives ~0)
FIRST_DOY = 152
STRIPES = (4, 10, 12, 5, 1, 14, 9)  # IGBP classes across columns


def synthetic_vegetation(j: np.ndarray, i: np.ndarray, land: np.ndarray) -> dict:
    """Smooth SYNTHETIC NDVI max/min and fAPAR max, NaN off land (as the real files)."""
    ndvi_max = 0.55 + 0.25 * np.sin(i / 7.0) * np.cos(j / 9.0)
    veg = {"ndvi_max": ndvi_max, "ndvi_min": ndvi_max - 0.3, "fapar_max": 0.8 * ndvi_max}
    return {k: np.where(land, v, np.nan).astype(np.float32) for k, v in veg.items()}


def write_static(path: Path) -> Path:
    """The synthetic static file (stated so in its title)."""
    j, i = np.meshgrid(np.arange(NY), np.arange(NX), indexing="ij")
    igbp = np.array(STRIPES, np.uint8)[(i * len(STRIPES)) // NX]
    igbp[(j < 6) & (i < 8)] = 0  # a lake
    fields = {
        "land_use": LU_FROM_IGBP[igbp],
        "land_cover": LC_FROM_IGBP[igbp],
        "landmask": (igbp != 0).astype(np.uint8),
        "elevation": (200.0 + 15.0 * j + 5.0 * i).astype(np.float32),
        "slope": (1.0 + 0.05 * i).astype(np.float32),
        "land_fraction": (igbp != 0).astype(np.float32),
        "koppen": np.full((NY, NX), 3, np.uint8),
        "t_mean": (12.0 - 0.05 * j).astype(np.float32),
        "t_range": np.full((NY, NX), 18.0, np.float32),
        "precip": (600.0 + 4.0 * i).astype(np.float32),
        **synthetic_vegetation(j, i, igbp != 0),
    }
    with netCDF4.Dataset(path, "w") as ds:
        ds.title = "SYNTHETIC static fields for the LAI step tests"
        ds.createDimension("nv", 2)
        for dim, lo, n in (("lat", 44.0, NY), ("lon", 2.0, NX)):
            edges = lo + 0.05 * np.arange(n + 1)
            ds.createDimension(dim, n)
            ds.createVariable(dim, "f8", (dim,))[:] = 0.5 * (edges[:-1] + edges[1:])
            ds.createVariable(f"{dim}_bnds", "f8", (dim, "nv"))[:] = np.stack(
                [edges[:-1], edges[1:]], axis=1
            )
        for name, values in fields.items():
            ds.createVariable(name, values.dtype, ("lat", "lon"))[:] = values
    return path


def config(folder: Path, tile=(20, 28), params=None, **more) -> Path:
    """Write `folder`/cfg.yaml (and its static file) and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    static = write_static(folder / "static.nc")
    cfg = {
        "run": {
            "name": "lai",
            "calendar": "noleap",
            "start": "2001-06-01",
            "coupling_interval": DAY,
            "output_dir": str(folder / "out"),
            "log_level": "warning",
        },
        "host": {
            "grid": HOST,
            "imports": ["TBOT", "PRECTmms"],
            "exports": {"LAI_UNET": {"interpolate": "monthly"}},
        },
        "fine": {"grid": FINE, "tile": list(tile), "static": str(static)},
        "steps": [
            {
                "name": "lai",
                "transform": "lai_unet",
                "schedule": "monthly",
                "params": dict(PARAMS if params is None else params),
            }
        ],
        **more,
    }
    path = folder / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def forcing(ids: np.ndarray, day: int) -> tuple[np.ndarray, np.ndarray]:
    """(TBOT K, PRECTmms mm/s) of host cells `ids` (1-based) on day `day` (1-based) of the
    run: a seasonal cycle with a west-east and day-to-day texture."""
    season = -np.cos(2 * np.pi * (day + FIRST_DOY - 1 - 15) / 365.0)
    t = 283.0 + 12.0 * season + 0.7 * (ids % 4) + 0.3 * ((day * 7 + ids) % 5)
    p = (1.0 + 0.5 * (ids % 3) + 0.4 * ((day * 3 + ids) % 4)) / DAY
    return t.reshape(1, -1), p.reshape(1, -1)
