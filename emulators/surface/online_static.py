"""The online static surface step: soil and topography on the host cells each rank owns.

``surface_static`` (host columns, schedule ``once``) exports what `landemu surfdata` writes
for soil and topography, computed in fixed blocks of one host row × 16 columns (those
holding the rank's cells) by the very functions surfdata uses:

* TOPO, STD_ELEV, SLOPE, SKY_VIEW, TERRAIN_CONFIG, SINSL_COSAS, SINSL_SINAS from the DEM
  (ETOPO5 by default — each rank reads only the rows under its host cells plus the horizon
  halo — or the file ``params.dem``, read whole) by topography.host_topography on the DEM
  window (plus its horizon halo) under the block;
* PCT_SAND, PCT_CLAY, ORGANIC on ELM's ten levels (levsoi axis): the 30″ cells under those
  host cells take the soil of ``params.soil`` (SoilGrids layout, nearest cell) or the
  documented synthetic loam, are filled over lakes (translate.fine_soil) and averaged over
  the land of MODIS 2019 (the land mask surfdata uses), as aggregate.SurfaceSums does.

The host grid must be the lat-lon grid of ``params.host_grid`` (a step sees only its cells'
centres); a cell centre off that grid is a GridError. A host cell's values depend on its
block only, so exports are bit-for-bit the same on any rank count; they equal surfdata's
(whole-width bands) to 1e-12, except soil over lakes farther from land soil than the block
reaches (the nearest-cell fill sees the block's 30″ cells).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from coupler.errors import ConfigError, GridError
from coupler.grids.latlon import LatLonGrid
from coupler.steps.base import StepContext, Transform, Var
from emulators.surface.aggregate import overlap_integrator, soil_means
from emulators.surface.pft import NODATA
from emulators.surface.soil import N_ELM_LAYERS, SOIL_FIELDS, check_soil, synthetic_soil
from emulators.surface.sources import (
    CELLS_PER_DEGREE,
    fine_window,
    read_land_cover,
    sample_regular,
)
from emulators.surface.topography import (
    DEFAULT_MAX_STEPS,
    Dem,
    host_topography,
    read_etopo5,
    read_user_dem,
)
from emulators.surface.translate import fine_soil

LEVSOI = (("levsoi", N_ELM_LAYERS),)
CHUNK = 16  # host columns per block of computation
TOPO_EXPORTS = (
    "TOPO",
    "STD_ELEV",
    "SLOPE",
    "SKY_VIEW",
    "TERRAIN_CONFIG",
    "SINSL_COSAS",
    "SINSL_SINAS",
)


def host_indices(host: LatLonGrid, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, ...]:
    """(row, column) on `host` of cell centres (lat, lon); GridError if one is off the grid."""
    fj = (np.asarray(lat, np.float64) - host.south) / host.dlat - 0.5
    fi = ((np.asarray(lon, np.float64) - host.west) % 360.0) / host.dlon - 0.5
    j, i = np.rint(fj).astype(np.int64), np.rint(fi).astype(np.int64)
    off = (np.abs(fj - j) > 1e-6) | (np.abs(fi - i) > 1e-6)
    off |= (j < 0) | (j >= host.nlat) | (i < 0) | (i >= host.nlon)
    if np.any(off):
        k = int(np.argmax(off))
        raise GridError(
            f"host cell centre ({float(lat[k]):.5f}, {float(lon[k]):.5f}) is not a cell "
            f"centre of {host.spec}"
        )
    return j, i


def host_soil(
    band: LatLonGrid, soil_file: Path | None, land: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """PCT_SAND, PCT_CLAY, ORGANIC (10, band.size) on a window of host cells, from the 30″
    cells under it: land-area means of the filled soil, as surfdata computes them. `land`:
    the MODIS land of those 30″ cells when already read (else read here)."""
    window, grid = fine_window(band)
    if land is None:
        land = read_land_cover(window)[0] != NODATA
    if soil_file is None:
        source = synthetic_soil(grid.shape)
    else:
        source = sample_regular(soil_file, SOIL_FIELDS, grid, "soil")
        check_soil(source, f"soil file '{soil_file}'")
    soil = fine_soil(source, land)
    integrate = overlap_integrator(grid, band)
    flat = land.reshape(-1)
    land_area = integrate(flat.astype(np.float64))[0]
    sums = {k: integrate(np.where(flat, v, 0.0)) for k, v in soil.items()}
    return soil_means(sums, land_area)


def static_fields(
    host: LatLonGrid, rows: np.ndarray, cols: np.ndarray, dem: Dem, soil_file: Path | None
) -> dict[str, np.ndarray]:
    """Topography (n,) and soil (10, n) of host cells (rows, cols), computed in fixed blocks
    of one host row × CHUNK columns: the blocks holding these cells, never the whole grid.
    A cell's block does not depend on the decomposition, so neither do its values (to the
    bit: the overlap areas of a window depend on its edges in the last ulp). The MODIS land
    mask is read once per host row, over the span of its blocks."""
    n = rows.size
    out = {k: np.zeros(n) for k in TOPO_EXPORTS}
    out.update({k: np.zeros((N_ELM_LAYERS, n)) for k in SOIL_FIELDS})
    starts = cols // CHUNK * CHUNK
    for j in np.unique(rows):
        in_row = rows == j
        first, last = int(starts[in_row].min()), int(starts[in_row].max())
        span = host.window(int(j), int(j) + 1, first, min(last + CHUNK, host.nlon))
        row_window, row_grid = fine_window(span)
        row_land = read_land_cover(row_window)[0] != NODATA
        for i0 in np.unique(starts[in_row]):
            mine = np.flatnonzero(in_row & (starts == i0))
            block = host.window(int(j), int(j) + 1, int(i0), min(int(i0) + CHUNK, host.nlon))
            fine = fine_window(block)[1]
            c0 = round((fine.west - row_grid.west) * CELLS_PER_DEGREE)
            land = row_land[:, c0 : c0 + fine.nlon]
            at = cols[mine] - i0
            topo = host_topography(dem, block)
            for k in TOPO_EXPORTS:
                out[k][mine] = topo[k].reshape(-1)[at]
            for k, v in host_soil(block, soil_file, land).items():
                out[k][:, mine] = v[:, at]
    return out


class SurfaceStatic(Transform):
    """Host columns: ELM soil texture and topography (see the module docstring)."""

    transform_name: ClassVar[str] = "surface_static"
    output_vars: ClassVar[dict[str, Var]] = {
        "TOPO": Var("m", long_name="mean elevation on land"),
        "STD_ELEV": Var("m", long_name="standard deviation of elevation within the cell"),
        "SLOPE": Var("degrees", long_name="mean topographic slope"),
        "SKY_VIEW": Var("1", long_name="mean sky view factor normalised by cos(slope)"),
        "TERRAIN_CONFIG": Var("1", long_name="mean terrain configuration factor / cos(slope)"),
        "SINSL_COSAS": Var("1", long_name="sin(slope)*cos(aspect)"),
        "SINSL_SINAS": Var("1", long_name="sin(slope)*sin(aspect)"),
        "PCT_SAND": Var("%", N_ELM_LAYERS, long_name="percent sand", axes=LEVSOI),
        "PCT_CLAY": Var("%", N_ELM_LAYERS, long_name="percent clay", axes=LEVSOI),
        "ORGANIC": Var("kg m-3", N_ELM_LAYERS, long_name="organic matter density", axes=LEVSOI),
    }
    default_params: ClassVar[dict[str, Any]] = {"host_grid": None, "dem": None, "soil": None}
    default_grid: ClassVar[str] = "host"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        spec = self.params["host_grid"]
        if not isinstance(spec, str) or not spec.startswith("latlon:"):
            raise ConfigError(
                f"steps.{self.name}.params.host_grid: expected the lat-lon host grid spec "
                f"(e.g. latlon:4,4:47,49,-5,-3), got {spec!r}"
            )
        self.host = LatLonGrid.parse(spec)

    def compute(
        self, inputs: dict[str, np.ndarray], state: dict[str, np.ndarray], ctx: StepContext
    ) -> dict[str, np.ndarray]:
        dem_file, soil_file = self.params["dem"], self.params["soil"]
        rows, cols = host_indices(self.host, ctx.lat, ctx.lon)
        if dem_file:
            dem = read_user_dem(dem_file)
        else:  # only the ETOPO5 rows of this rank's host rows and their horizon halo
            edges = self.host.lat_edges()
            pad = (DEFAULT_MAX_STEPS + 2) / 12.0
            south = edges[rows.min()] - pad if rows.size else 0.0
            north = edges[rows.max() + 1] + pad if rows.size else 0.1  # a rank without cells
            dem = read_etopo5(lat_range=(south, north))
        return static_fields(self.host, rows, cols, dem, Path(soil_file) if soil_file else None)
