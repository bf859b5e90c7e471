"""ETOPO5 surface elevation (5′, real) resampled to any regular global lat-lon grid, and slope.

Why: the land-use U-Net and the LAI and surface emulators need real terrain; the only global
DEM that installs offline without a large wheel is ETOPO5 from Debian's `ferret-datasets`
(`/usr/share/ferret-vis/data/etopo5.cdf`: 'ROSE' float32 (2161, 4320), metres, ice surface,
ocean negative). Its points lie on the 5′ lattice, lat −90..90 and lon 0..359.92 °E; the
stored longitudes drift by up to 0.003°, so they are rebuilt as i/12 (REFERENCES.md).

Resampling is bilinear between lattice points, periodic in longitude; the slope is the
magnitude of the centred-difference gradient on the target grid (metres per metre, in
degrees), with cell sizes from a spherical Earth (radius 6 371 km).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from coupler.errors import DataFileError

ETOPO5_PATH = Path("/usr/share/ferret-vis/data/etopo5.cdf")
EARTH_RADIUS_M = 6.371e6
POINTS_PER_DEGREE = 12


def read_etopo5(path: str | Path | None = None) -> np.ndarray:
    """The ETOPO5 lattice (2161, 4320) float32 m: row j at lat −90 + j/12, column i at lon i/12."""
    import netCDF4

    p = Path(path) if path else ETOPO5_PATH
    if not p.is_file():
        raise DataFileError(
            f"ETOPO5 elevation file '{p}' is missing; install the Debian package "
            "ferret-datasets (run/setup/system_packages.sh does)"
        )
    try:
        with netCDF4.Dataset(str(p)) as ds:
            z = np.asarray(ds["ROSE"][:], dtype=np.float32)
    except (OSError, KeyError, IndexError) as exc:
        raise DataFileError(f"ETOPO5 file '{p}': cannot read variable 'ROSE' ({exc})") from exc
    if z.shape != (180 * POINTS_PER_DEGREE + 1, 360 * POINTS_PER_DEGREE):
        raise DataFileError(f"ETOPO5 file '{p}': 'ROSE' has shape {z.shape}, expected (2161, 4320)")
    return z


def elevation_on_grid(
    lat: np.ndarray, lon: np.ndarray, lattice: np.ndarray | None = None
) -> np.ndarray:
    """Elevation (m, float32 (lat.size, lon.size)) at cell centres lat (°N) × lon (°E, any)."""
    z = read_etopo5() if lattice is None else lattice
    fj = np.clip((np.asarray(lat, float) + 90.0) * POINTS_PER_DEGREE, 0.0, z.shape[0] - 1.000001)
    j0 = np.floor(fj).astype(np.int64)
    wj = (fj - j0)[:, None]
    fi = np.mod(np.asarray(lon, float), 360.0) * POINTS_PER_DEGREE
    i0 = np.floor(fi).astype(np.int64) % z.shape[1]
    wi = (fi - np.floor(fi))[None, :]
    i1 = (i0 + 1) % z.shape[1]
    south = (1 - wi) * z[j0][:, i0] + wi * z[j0][:, i1]
    north = (1 - wi) * z[j0 + 1][:, i0] + wi * z[j0 + 1][:, i1]
    return ((1 - wj) * south + wj * north).astype(np.float32)


def slope_degrees(elevation: np.ndarray, lat: np.ndarray, dlat: float, dlon: float) -> np.ndarray:
    """Slope (degrees) of a (nlat, nlon) elevation field on a regular grid, rows along `lat`.

    Centred differences inside, one-sided at the first/last row and column (no wrap: the
    field may be a window).
    """
    z = np.asarray(elevation, dtype=np.float64)
    dy = EARTH_RADIUS_M * np.deg2rad(dlat)
    dx = EARTH_RADIUS_M * np.deg2rad(dlon) * np.maximum(np.cos(np.deg2rad(lat)), 1e-3)[:, None]
    gy = np.gradient(z, axis=0) / dy
    gx = np.gradient(z, axis=1) / dx
    return np.degrees(np.arctan(np.hypot(gx, gy))).astype(np.float32)
