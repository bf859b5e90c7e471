"""A small coupled configuration for the online surface step: a 0.5° host (4 × 4 cells) over a
1/120° fine grid (240 × 240, 60 × 60 tiles) with a synthetic static file — IGBP classes in
patches (trees, grass, crops, urban, water, snow, barren, a few land cells without a class)
and a strip of ocean — the GSI phenology for fine LAI, and a climate record that starts
from a file. Daily coupling; TBOT and PRECTmms are put as smooth functions of cell and day."""

from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np
import yaml

from coupler.grids.latlon import LatLonGrid

HOST = "latlon:4,4:47,49,-5,-3"
FINE = "latlon:240,240:47,49,-5,-3"
DAY = 86400
EXPORTS = [
    "PCT_NAT_PFT",
    "PCT_NATVEG",
    "PCT_CROP",
    "PCT_LAKE",
    "PCT_WETLAND",
    "PCT_GLACIER",
    "PCT_URBAN",
    "PCT_CFT",
    "PCT_PFT",
    "MONTHLY_LAI",
    "MONTHLY_SAI",
    "MONTHLY_HEIGHT_TOP",
    "MONTHLY_HEIGHT_BOT",
]


def static_file(path: Path) -> Path:
    """landmask and IGBP land_cover in 6 × 6-cell patches, seeded; ocean in the west."""
    grid = LatLonGrid.parse(FINE)
    rng = np.random.default_rng(12)
    classes = np.array([1, 1, 4, 4, 5, 7, 10, 10, 10, 12, 12, 13, 0, 15, 16, 255])
    patches = rng.choice(classes, size=(40, 40))
    cover = np.kron(patches, np.ones((6, 6), dtype=np.int64)).astype(np.uint8)
    land = np.ones(grid.shape, dtype=np.uint8)
    land[:, :17] = 0  # ocean: not aligned with host cells or tiles
    cover[land == 0] = 255
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("nv", 2)
        for name, centres, edges in (
            ("lat", grid.lat_centres(), grid.lat_edges()),
            ("lon", grid.lon_centres(), grid.lon_edges()),
        ):
            ds.createDimension(name, centres.size)
            v = ds.createVariable(name, "f8", (name,))
            v[:] = centres
            v.bounds = f"{name}_bnds"
            bounds = ds.createVariable(f"{name}_bnds", "f8", (name, "nv"))
            bounds[:] = np.stack([edges[:-1], edges[1:]], axis=1)
        ds.createVariable("landmask", "u1", ("lat", "lon"))[:] = land
        ds.createVariable("land_cover", "u1", ("lat", "lon"), fill_value=np.uint8(255))[:] = cover
    return path


def climate_file(path: Path) -> Path:
    """A 12-month climate record per host cell: TBOT (K) and PRECTmms (kg m-2 s-1); the
    southern cells warm and wet enough in summer for C4 grass, the northern ones boreal."""
    n = LatLonGrid.parse(HOST).size
    ids = np.arange(n)
    month = np.arange(12)[:, None]
    row = (ids // 4)[None]
    tbot = 273.15 + 12.0 - 5.0 * row + 14.0 * np.sin(np.pi * (month - 3) / 6.0)
    tbot = tbot + 14.0 * (row == 0)  # a hot southern row: C4 grass
    prect = (40.0 + 10.0 * (ids % 4)[None] + 0.0 * month) / (30.0 * DAY)
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("month", 12)
        ds.createDimension("host_cell", n)
        ds.createVariable("tbot", "f8", ("month", "host_cell"))[:] = tbot
        ds.createVariable("prect", "f8", ("month", "host_cell"))[:] = prect
    return path


def config(folder: Path, static: Path, climate: Path | None, scaling: bool = False, **more) -> Path:
    """`folder`/cfg.yaml for the four steps (plus the scaling diagnostics if asked); the
    climate record starts from `climate` (None: unknown)."""
    folder.mkdir(parents=True, exist_ok=True)
    clim_init = {}
    if climate is not None:
        clim_init = {k: {"init": {"file": str(climate), "variable": k}} for k in ("tbot", "prect")}
    steps = [
        {"name": "phenology", "transform": "phenology_gsi", "schedule": "daily"},
        {"name": "climate", "transform": "surface_climate", "schedule": "monthly",
         "state": clim_init},
        {"name": "pft", "transform": "surface_pft", "schedule": "monthly"},
        {"name": "elm", "transform": "surface_elm", "schedule": "monthly"},
    ]  # fmt: skip
    history = []
    if scaling:
        steps.append(
            {"name": "scaling", "transform": "scaling_boxes", "schedule": "monthly",
             "params": {"fields": {"LAI": "m2 m-2", "SAI": "m2 m-2"}}}
        )  # fmt: skip
        history = ["GAMMA12_LAI", "BETA_LAI", "SIGMA1_LAI", "GAMMA12_SAI"]
    cfg = {
        "run": {
            "name": "surf",
            "calendar": "noleap",
            "start": "2001-01-01",
            "coupling_interval": DAY,
            "output_dir": str(folder / "out"),
            "log_level": "warning",
        },
        "host": {"grid": HOST, "imports": ["TBOT", "PRECTmms"], "exports": EXPORTS},
        "fine": {"grid": FINE, "tile": [60, 60], "static": str(static)},
        "steps": steps,
        **more,
    }
    if history:
        cfg["history"] = {"fields": history, "frequency": "monthly"}
    path = folder / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def forcing(ids: np.ndarray, day: int) -> dict[str, np.ndarray]:
    """(1, n) daily TBOT and PRECTmms for 1-based host ids on day `day` (1-based)."""
    season = np.sin(2 * np.pi * (day - 100) / 365.0)
    row = (ids - 1) // 4
    tbot = 275.0 + 12.0 * season - 3.0 * row + 0.1 * (ids % 3)
    prect = (1.0 + 0.5 * np.cos(day + ids)) / DAY
    return {"TBOT": tbot.reshape(1, -1), "PRECTmms": prect.reshape(1, -1)}
