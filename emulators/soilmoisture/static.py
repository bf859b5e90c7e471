"""`landemu soilmoisture static`: a static fine-grid file with the soil predictors the online
forest reads (sand, silt, clay, organic, porosity) added to a `landemu prepare-static` file.

Why the twin's soil: no soil map installs offline, and the forest was trained on the twin's
synthetic texture (twin.synthetic_soil, hashed from global 30″ indices), so the online step
sees fields of the same construction. They are SYNTHETIC (the variables say so); a user
with a real soil map writes variables of these names and units into the static file instead.
The file is processed in row blocks (no whole-grid arrays beyond one block) and written to a
temporary name, then renamed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import netCDF4
import numpy as np

from coupler.errors import DataFileError
from coupler.static import StaticFineData
from emulators.data.static_fine import FineWindow
from emulators.soilmoisture.features import FEATURE_DESCRIPTIONS, FEATURE_UNITS

SOIL_FIELDS = ("sand", "silt", "clay", "organic", "porosity")
UNITS = {name: FEATURE_UNITS[name] for name in SOIL_FIELDS}
BLOCK_ROWS = 240


def add_soil(static: str | Path, out: str | Path) -> Path:
    """Copy `static` to `out` with the five soil predictors added (DataFileError naming a
    file without land_cover, or whose soil variables already exist)."""
    from emulators.soilmoisture.twin import synthetic_soil

    static, out = Path(static), Path(out)
    with StaticFineData(static) as src:
        grid = src.grid
        if "land_cover" not in src.variables:
            raise DataFileError(f"static file '{static}' has no land_cover (lat, lon) variable")
        present = [n for n in SOIL_FIELDS if n in src.variables]
        if present:
            raise DataFileError(f"static file '{static}' already holds {present}")
    window = FineWindow.from_grid(grid)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    try:
        shutil.copyfile(static, tmp)
        with netCDF4.Dataset(tmp, "a") as ds:
            for name in SOIL_FIELDS:
                v = ds.createVariable(name, "f4", ("lat", "lon"), zlib=True, complevel=1)
                v.units = UNITS[name]
                v.long_name = FEATURE_DESCRIPTIONS[name].replace(" (fine cell)", "")
                v.comment = "SYNTHETIC (landemu soilmoisture twin's texture, not a soil map)"
            cols = window.columns()
            for j0 in range(0, grid.nlat, BLOCK_ROWS):
                j1 = min(j0 + BLOCK_ROWS, grid.nlat)
                rows = window.j0 + np.arange(j0, j1, dtype=np.int64)
                cover = np.asarray(ds.variables["land_cover"][j0:j1, :])
                soil = synthetic_soil(rows, cols, cover)
                for name in SOIL_FIELDS:
                    ds.variables[name][j0:j1, :] = soil[name].astype(np.float32)
            ds.setncattr("soil_source", "synthetic (landemu soilmoisture static)")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
