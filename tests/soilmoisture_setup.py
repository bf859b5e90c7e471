"""The soil-moisture online step's test configuration: the coast window (0.5° host, 1/120°
fine grid) with 70 × 50 tiles that straddle the host cells, the GSI phenology giving the
fine LAI, the forest step, and host imports that vary by cell, layer and day."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import base_config, write_config

IMPORTS = ["TBOT", "PRECTmms", "H2OSOI", "TSOI", "QFLX_EVAP", "RNET"]
REGION = [47.6, 48.4, -4.6, -3.3]  # straddles tiles and host cells, coast included
STEPS = [
    {"name": "phenology", "transform": "phenology_gsi", "schedule": "daily"},
    {
        "name": "soil",
        "transform": "soil_moisture",
        "schedule": "daily",
        "aggregation": {"H2OSOI": "last", "TSOI": "last"},
    },
]


def config(folder: Path, static: Path, domain: Path, params=None, **more) -> Path:
    """`folder`/cfg.yaml: phenology → soil_moisture, exporting the host aggregate."""
    folder.mkdir(parents=True, exist_ok=True)
    steps = [dict(s) for s in STEPS]
    if params:
        steps[1]["params"] = params
    cfg = base_config(
        static,
        domain,
        folder / "out",
        host={"imports": IMPORTS, "exports": ["H2OSOI_FINE", "LAI"]},
        fine={"tile": [70, 50]},
        steps=steps,
        history={
            "fields": ["H2OSOI_FINE"],
            "frequency": "daily",
            "fine_fields": ["H2OSOI_FINE", "LAI"],
            "fine_region": REGION,
            **more.pop("history", {}),
        },
        **more,
    )
    return write_config(folder / "cfg.yaml", cfg)


def host_fields(ids: np.ndarray, day: int) -> dict[str, np.ndarray]:
    """Daily host imports (nlev, n) of the 1-based host cells `ids` on `day` (1-based),
    in the twin's ranges, different per cell, layer and day."""
    ids = np.asarray(ids, np.float64)
    phase = 0.37 * ids + 0.21 * day
    layer = np.arange(10, dtype=np.float64)[:, None]
    return {
        "TBOT": (278.0 + 6.0 * np.sin(phase))[None],
        "PRECTmms": (2.0e-5 * (1.0 + np.cos(1.3 * phase)))[None],
        "H2OSOI": 0.22 + 0.08 * np.sin(phase + 0.1 * layer) + 0.01 * layer,
        "TSOI": 280.0 + 3.0 * np.cos(phase - 0.2 * layer),
        "QFLX_EVAP": (1.5e-5 * (1.1 + np.sin(0.7 * phase)))[None],
        "RNET": (90.0 + 60.0 * np.sin(0.5 * phase))[None],
    }
