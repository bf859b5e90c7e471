"""Topography for ELM from a real DEM: TOPO, STD_ELEV, SLOPE, aspect, SKY_VIEW, TERRAIN_CONFIG,
SINSL_COSAS, SINSL_SINAS (seed 000 §2.4; Hao et al.'s TOP sub-grid radiation factors).

The DEM is ETOPO5 by default (Debian `ferret-datasets`, 5′, ice surface, ocean negative) or a
user DEM (netCDF with regular 1-D lat/lon cell centres, or a GeoTIFF with a lat-lon geokey
tie point and pixel scale). Factors are computed on the DEM's own cells, over a window with a
halo so that horizons see the terrain beyond the host cells, then averaged over the DEM cells
inside each host cell with the exact lat-lon overlaps of the conservative remap (land cells
only: DEM > 0 m). STD_ELEV is the area-weighted standard deviation of the DEM cells inside the
host cell (two-pass), never an average of finer standard deviations (seed 000 §2.4).

ETOPO5 stores 2161 × 4320 *points* at lat −90 + j/12, lon i/12 (the stored longitudes drift by
up to 0.003°, so they are rebuilt as i/12). Here they become 2160 × 4320 equal-angle cells:
cell (j, i) spans lat [−90 + j/12, −90 + (j+1)/12] and lon i/12 ± 1/24 and holds the mean of
the two points on its lat edges — a half-cell smoothing in latitude that keeps the poles.

Horizon-angle method (Dozier & Frew 1990): for N azimuths φ (clockwise from north) the horizon
elevation h(φ) is the largest atan(Δz/d) over `max_steps` steps along the ray (at least the
local slope plane's own horizon); with slope S and aspect A,
    V_d = (1/N) Σ_φ [cos S · sin²H + sin S · cos(φ − A) · (H − sin H cos H)],  H = π/2 − h,
SKY_VIEW = V_d / cos S and TERRAIN_CONFIG = max((1 + cos S)/2 − V_d, 0) / cos S (seed 000:
normalised by cos(slope), i.e. per unit horizontal area; Dozier's (1 + cos S)/2 − V_d
assumes level surroundings and would go negative on a long uniform slope, which sees its
whole hemisphere, V_d = 1). On flat open terrain SKY_VIEW = 1
and TERRAIN_CONFIG = 0; at the bottom of a symmetric V valley with walls at angle α,
SKY_VIEW = cos α. Ray steps have the DEM's north–south cell length on the ground (the
east–west component scaled by 1/cos(latitude)), the DEM interpolated bilinearly along them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from coupler.errors import DataFileError, GridError
from coupler.grids.latlon import LatLonGrid
from coupler.regrid.overlaps import latlon_overlaps

EARTH_RADIUS_M = 6.37122e6  # ELM's SHR_CONST_REARTH
ETOPO5_PATH = Path("/usr/share/ferret-vis/data/etopo5.cdf")
TOPO_FIELDS = (
    "TOPO",
    "STD_ELEV",
    "SLOPE",
    "ASPECT",
    "SKY_VIEW",
    "TERRAIN_CONFIG",
    "SINSL_COSAS",
    "SINSL_SINAS",
)
DEFAULT_AZIMUTHS = 16
DEFAULT_MAX_STEPS = 12


@dataclass(frozen=True)
class Dem:
    """Elevation (m) on the cells of a regular lat-lon grid (rows south → north)."""

    z: np.ndarray
    grid: LatLonGrid
    source: str

    def window(self, j0: int, j1: int, i0: int, i1: int) -> Dem:
        """Rows j0..j1-1, columns i0..i1-1; columns may run past the dateline of a global DEM."""
        if j0 < 0 or j1 > self.grid.nlat:
            raise GridError(f"DEM rows {j0}:{j1} outside 0:{self.grid.nlat} ({self.source})")
        if self.grid.is_global_lon:
            z = self.z[j0:j1][:, np.arange(i0, i1) % self.grid.nlon]
        elif i0 < 0 or i1 > self.grid.nlon:
            raise GridError(f"DEM columns {i0}:{i1} outside 0:{self.grid.nlon} ({self.source})")
        else:
            z = self.z[j0:j1, i0:i1]
        lat = self.grid.lat_edges(j0, j1)
        west = self.grid.west + i0 * self.grid.dlon
        east = self.grid.west + i1 * self.grid.dlon
        sub = LatLonGrid(j1 - j0, i1 - i0, float(lat[0]), float(lat[-1]), west, east)
        return Dem(np.ascontiguousarray(z, dtype=np.float64), sub, self.source)

    def covering(
        self, host: LatLonGrid, halo: int, halo_lon: int | None = None
    ) -> tuple[Dem, Dem, tuple[slice, slice]]:
        """The DEM cells covering `host` (at most one turn of longitude), the same with `halo`
        more rows and `halo_lon` (default `halo`) more columns on each side (clipped at the
        poles and at a regional DEM's edge), and the slices of the first inside the second.
        Raises GridError if the DEM does not cover."""
        g = self.grid
        eps = 1e-9
        if host.south < g.south - eps or host.north > g.north + eps:
            raise GridError(
                f"the DEM ({self.source}) covers latitudes {g.south:.4f}..{g.north:.4f}; the "
                f"host grid needs {host.south:.4f}..{host.north:.4f}"
            )
        x0 = (host.west - g.west) % 360.0
        if not g.is_global_lon and x0 + (host.east - host.west) > g.east - g.west + eps:
            raise GridError(
                f"the DEM ({self.source}) covers longitudes {g.west:.4f}..{g.east:.4f}; "
                f"the host grid needs {host.west:.4f}..{host.east:.4f}"
            )
        j0 = int(np.floor((host.south - g.south) / g.dlat + eps))
        j1 = int(np.ceil((host.north - g.south) / g.dlat - eps))
        i0 = int(np.floor(x0 / g.dlon + eps))
        i1 = min(int(np.ceil((x0 + host.east - host.west) / g.dlon - eps)), i0 + g.nlon)
        hl = halo if halo_lon is None else halo_lon
        hs, hn = min(halo, j0), min(halo, g.nlat - j1)
        hw = hl if g.is_global_lon else min(hl, i0)
        he = hl if g.is_global_lon else min(hl, g.nlon - i1)
        inner = (slice(hs, hs + j1 - j0), slice(hw, hw + i1 - i0))
        return self.window(j0, j1, i0, i1), self.window(j0 - hs, j1 + hn, i0 - hw, i1 + he), inner


def read_etopo5(
    path: str | Path = ETOPO5_PATH, lat_range: tuple[float, float] | None = None
) -> Dem:
    """ETOPO5 as 2160 × 4320 cells (see the module docstring); with `lat_range` (south,
    north) only the rows of cells touching it are read (all longitudes), same values."""
    import netCDF4

    p = Path(path)
    if not p.is_file():
        raise DataFileError(
            f"ETOPO5 file '{p}' is missing: install the Debian package ferret-datasets "
            "(run/setup) or give --dem"
        )
    j0, j1 = 0, 2160
    if lat_range is not None:
        j0 = max(0, int(np.floor((lat_range[0] + 90.0) * 12)))
        j1 = min(2160, int(np.ceil((lat_range[1] + 90.0) * 12)))
    with netCDF4.Dataset(str(p)) as ds:
        if "ROSE" not in ds.variables:
            raise DataFileError(f"'{p}' has no variable ROSE (ETOPO5 relief)")
        v = ds["ROSE"]
        v.set_auto_mask(False)
        if v.shape != (2161, 4320):
            raise DataFileError(f"'{p}': ROSE has shape {v.shape}, expected (2161, 4320)")
        points = np.asarray(v[j0 : j1 + 1], dtype=np.float64)
    cells = 0.5 * (points[:-1] + points[1:])
    south, north = -90.0 + j0 / 12.0, -90.0 + j1 / 12.0
    grid = LatLonGrid(j1 - j0, 4320, south, north, -1.0 / 24.0, 360.0 - 1.0 / 24.0)
    return Dem(cells, grid, "ETOPO5 5-arcmin (ferret-datasets)")


def read_user_dem(path: str | Path, var: str | None = None) -> Dem:
    """A user DEM: netCDF (1-D regular lat/lon centres) or GeoTIFF (lat-lon tie point/scale)."""
    p = Path(path)
    if not p.is_file():
        raise DataFileError(f"DEM file '{p}' does not exist")
    if p.suffix.lower() in (".tif", ".tiff"):
        return _read_geotiff(p)
    import netCDF4

    try:
        ds = netCDF4.Dataset(str(p))
    except OSError as exc:
        raise DataFileError(f"DEM file '{p}' is not a readable netCDF file ({exc})") from exc
    with ds:
        names = ds.variables
        lat_name = next((n for n in ("lat", "latitude", "y") if n in names), None)
        lon_name = next((n for n in ("lon", "longitude", "x") if n in names), None)
        var = var or next(
            (n for n in ("elevation", "z", "topo", "height", "Band1", "ROSE") if n in names), None
        )
        if lat_name is None or lon_name is None or var is None or var not in names:
            raise DataFileError(
                f"DEM file '{p}': needs lat/lon coordinates and an elevation variable "
                f"(elevation, z, topo, height, Band1); variables are {sorted(names)}"
            )
        lat = np.asarray(ds[lat_name][:], dtype=np.float64)
        lon = np.asarray(ds[lon_name][:], dtype=np.float64)
        z = np.ma.filled(np.ma.asarray(ds[var][:], dtype=np.float64), np.nan)
    return _regular_dem(z, lat, lon, f"user DEM '{p}' variable '{var}'")


def _read_geotiff(p: Path) -> Dem:
    import tifffile

    with tifffile.TiffFile(str(p)) as tif:
        page = tif.pages[0]
        tags = page.tags
        if "ModelPixelScaleTag" not in tags or "ModelTiepointTag" not in tags:
            raise DataFileError(f"GeoTIFF DEM '{p}' has no ModelPixelScale/ModelTiepoint tags")
        sx, sy = tags["ModelPixelScaleTag"].value[:2]
        _, _, _, x0, y0, _ = tags["ModelTiepointTag"].value[:6]
        z = page.asarray().astype(np.float64)
    ny, nx = z.shape
    lat = y0 - (np.arange(ny) + 0.5) * sy
    lon = x0 + (np.arange(nx) + 0.5) * sx
    return _regular_dem(z, lat, lon, f"user DEM '{p}' (GeoTIFF)")


def _regular_dem(z: np.ndarray, lat: np.ndarray, lon: np.ndarray, source: str) -> Dem:
    if z.shape != (lat.size, lon.size):
        raise DataFileError(f"{source}: shape {z.shape} does not match lat/lon sizes")
    for name, c in (("latitude", lat), ("longitude", lon)):
        d = np.diff(c)
        if c.size < 2 or np.any(np.abs(d - d[0]) > 1e-6 * abs(d[0])):
            raise DataFileError(f"{source}: {name} coordinate is not regular")
    if lat[1] < lat[0]:
        lat, z = lat[::-1], z[::-1]
    if lon[1] < lon[0]:
        raise DataFileError(f"{source}: longitudes must increase")
    dlat, dlon = lat[1] - lat[0], lon[1] - lon[0]
    grid = LatLonGrid(
        lat.size,
        lon.size,
        max(-90.0, lat[0] - dlat / 2),
        min(90.0, lat[-1] + dlat / 2),
        lon[0] - dlon / 2,
        lon[-1] + dlon / 2,
    )
    z = np.where(np.isfinite(z), z, 0.0)
    return Dem(np.ascontiguousarray(z), grid, source)


# -- terrain factors on the DEM's cells -------------------------------------------------------
def cell_lengths_m(grid: LatLonGrid) -> tuple[float, np.ndarray]:
    """North–south cell length (m) and east–west length per row (m, ≥ 1 % of it)."""
    dy = EARTH_RADIUS_M * np.deg2rad(grid.dlat)
    coslat = np.maximum(np.cos(np.deg2rad(grid.lat_centres())), 0.01)
    return dy, EARTH_RADIUS_M * np.deg2rad(grid.dlon) * coslat


def slope_aspect(z: np.ndarray, dy: float, dx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Slope (rad) and aspect (rad clockwise from north, the downslope direction) from
    central differences (one-sided at the window edge); z (ny, nx), dx (ny,)."""
    dz_dn = np.gradient(z, axis=0) / dy
    dz_de = np.gradient(z, axis=1) / dx[:, None]
    slope = np.arctan(np.hypot(dz_dn, dz_de))
    aspect = np.mod(np.arctan2(-dz_de, -dz_dn), 2 * np.pi)
    return slope, aspect


def horizon_angles(
    z: np.ndarray, dy: float, dx: np.ndarray, azimuths: np.ndarray, max_steps: int
) -> np.ndarray:
    """Horizon elevation angle (rad, ≥ −π/2) per azimuth: (n_az, ny, nx). Step s of a ray is
    s·dy metres from the cell, where z is interpolated bilinearly; rays leaving the window
    stop at its edge (give the window a halo)."""
    ny, nx = z.shape
    rows = np.arange(ny, dtype=np.float64)[:, None]
    cols = np.arange(nx, dtype=np.float64)[None, :]
    out = np.full((azimuths.size, ny, nx), -np.pi / 2)
    for k, phi in enumerate(azimuths):
        east_cells = (np.sin(phi) * dy / dx)[:, None]  # (ny, 1) columns per step
        for s in range(1, max_steps + 1):
            fj = rows + s * np.cos(phi)
            fi = cols + s * east_cells
            inside = (fj >= 0) & (fj <= ny - 1) & (fi >= 0) & (fi <= nx - 1)
            if not inside.any():
                break
            zn = _bilinear(z, np.clip(fj, 0, ny - 1), np.clip(fi, 0, nx - 1))
            angle = np.where(inside, np.arctan2(zn - z, s * dy), -np.pi / 2)
            np.maximum(out[k], angle, out=out[k])
    return out


def _bilinear(z: np.ndarray, fj: np.ndarray, fi: np.ndarray) -> np.ndarray:
    ny, nx = z.shape
    fj, fi = np.broadcast_arrays(fj, fi)
    j0 = np.minimum(np.floor(fj).astype(np.int64), ny - 2) if ny > 1 else np.zeros(fj.shape, int)
    i0 = np.minimum(np.floor(fi).astype(np.int64), nx - 2) if nx > 1 else np.zeros(fi.shape, int)
    wj, wi = fj - j0, fi - i0
    j1, i1 = np.minimum(j0 + 1, ny - 1), np.minimum(i0 + 1, nx - 1)
    return (1 - wj) * ((1 - wi) * z[j0, i0] + wi * z[j0, i1]) + wj * (
        (1 - wi) * z[j1, i0] + wi * z[j1, i1]
    )


def terrain_factors(
    dem: Dem, n_azimuth: int = DEFAULT_AZIMUTHS, max_steps: int = DEFAULT_MAX_STEPS
) -> dict[str, np.ndarray]:
    """SLOPE (deg), ASPECT (deg), SKY_VIEW, TERRAIN_CONFIG, SINSL_COSAS, SINSL_SINAS on every
    cell of `dem` (cells within `max_steps` of the window edge see a truncated horizon)."""
    dy, dx = cell_lengths_m(dem.grid)
    slope, aspect = slope_aspect(dem.z, dy, dx)
    azimuths = 2 * np.pi * np.arange(n_azimuth) / n_azimuth
    h = horizon_angles(dem.z, dy, dx, azimuths, max_steps)
    cos_rel = np.cos(azimuths[:, None, None] - aspect[None])
    h_plane = -np.arctan(np.tan(slope)[None] * cos_rel)  # the surface's own horizon
    zen = np.pi / 2 - np.maximum(h, h_plane)
    vd = (
        np.cos(slope) * np.sin(zen) ** 2
        + np.sin(slope) * cos_rel * (zen - np.sin(zen) * np.cos(zen))
    ).mean(axis=0)
    cos_s = np.cos(slope)
    return {
        "SLOPE": np.rad2deg(slope),
        "ASPECT": np.rad2deg(aspect),
        "SKY_VIEW": vd / cos_s,
        "TERRAIN_CONFIG": np.maximum((1 + cos_s) / 2 - vd, 0.0) / cos_s,
        "SINSL_COSAS": np.sin(slope) * np.cos(aspect),
        "SINSL_SINAS": np.sin(slope) * np.sin(aspect),
    }


def horizon_halo_lon(dem: Dem, host: LatLonGrid, max_steps: int) -> int:
    """DEM columns a ray of `max_steps` north–south cell lengths can cross east or west from
    the host's cells (more than `max_steps` away from the equator), so that a host cell's
    horizons — and hence its values — do not depend on the window it is computed in."""
    lat = min(90.0, max(abs(host.south), abs(host.north)) + max_steps * dem.grid.dlat)
    dy, _ = cell_lengths_m(dem.grid)
    dx = EARTH_RADIUS_M * np.deg2rad(dem.grid.dlon) * max(np.cos(np.deg2rad(lat)), 0.01)
    return int(np.ceil(max_steps * dy / dx)) + 1


# -- aggregation to host cells ----------------------------------------------------------------
def host_topography(
    dem: Dem,
    host: LatLonGrid,
    n_azimuth: int = DEFAULT_AZIMUTHS,
    max_steps: int = DEFAULT_MAX_STEPS,
) -> dict[str, np.ndarray]:
    """TOPO_FIELDS on `host` (nlat, nlon) from the DEM land cells (z > 0) inside each cell.

    Host cells without DEM land get flat sea level: TOPO = STD_ELEV = SLOPE = 0, SKY_VIEW 1.
    """
    inner, outer, (rs, cs) = dem.covering(host, max_steps, horizon_halo_lon(dem, host, max_steps))
    factors = {k: v[rs, cs] for k, v in terrain_factors(outer, n_azimuth, max_steps).items()}
    rows, cols, area = latlon_overlaps(inner.grid, host)
    z = inner.z.ravel()[cols]
    weight = area * (z > 0)
    n = host.size
    wsum = np.bincount(rows, weight, n)
    ok = wsum > 0
    safe = np.where(ok, wsum, 1.0)

    def mean(values: np.ndarray) -> np.ndarray:
        return np.bincount(rows, weight * values, n) / safe

    topo = mean(z)
    std = np.sqrt(mean((z - topo[rows]) ** 2))
    out = {"TOPO": topo, "STD_ELEV": std}
    for name in ("SLOPE", "SKY_VIEW", "TERRAIN_CONFIG", "SINSL_COSAS", "SINSL_SINAS"):
        out[name] = mean(factors[name].ravel()[cols])
    out["ASPECT"] = np.mod(np.rad2deg(np.arctan2(out["SINSL_SINAS"], out["SINSL_COSAS"])), 360.0)
    flat = {"SKY_VIEW": 1.0}
    for name in TOPO_FIELDS:
        out[name] = np.where(ok, out[name], flat.get(name, 0.0)).reshape(host.shape)
    return out
