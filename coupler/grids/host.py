"""The host model's grid: cells with centres, corners, area, mask and fraction, as read from an
E3SM domain file or a SCRIP grid file (or built from a regular lat-lon grid).

When the cells turn out to form a uniform regular lat-lon grid in id order j*ni + i (south to
north), `HostGrid.latlon` is set and exact lat-lon overlap weights can be used; otherwise
weights come from a map file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from coupler.errors import GridError
from coupler.grids.latlon import LatLonGrid
from coupler.grids.ncio import angle_to_degrees, atomic_dataset, open_dataset, read_var

DOMAIN_VARS = ("xc", "yc", "xv", "yv", "mask", "area")
SCRIP_VARS = ("grid_center_lat", "grid_center_lon", "grid_corner_lat", "grid_corner_lon")
_TOL_DEG = 1e-7


@dataclass(eq=False)
class HostGrid:
    """Host cells. Arrays: center_lat/lon (n,) deg, corner_lat/lon (n, nv) deg, area (n,) sr,
    mask (n,) int (1 = active), frac (n,) land fraction or None, dims: logical shape (C order,
    e.g. (nj, ni)); latlon: the equivalent LatLonGrid when the cells form one, else None."""

    center_lat: np.ndarray
    center_lon: np.ndarray
    corner_lat: np.ndarray
    corner_lon: np.ndarray
    area: np.ndarray
    mask: np.ndarray
    frac: np.ndarray | None = None
    dims: tuple[int, ...] = ()
    latlon: LatLonGrid | None = None
    source: str = field(default="")

    def __post_init__(self) -> None:
        n = self.center_lat.shape[0]
        if not self.dims:
            self.dims = (n,)
        if int(np.prod(self.dims)) != n:
            raise GridError(f"{self._name()}: dims {self.dims} do not multiply to {n} cells")
        for name in ("center_lon", "area", "mask"):
            got = getattr(self, name).shape
            if got != (n,):
                raise GridError(f"{self._name()}: {name} has shape {got}, expected ({n},)")
        if self.corner_lat.shape != self.corner_lon.shape or self.corner_lat.shape[0] != n:
            raise GridError(
                f"{self._name()}: corner arrays have shapes {self.corner_lat.shape} and "
                f"{self.corner_lon.shape}, expected ({n}, nv)"
            )

    def _name(self) -> str:
        return f"grid '{self.source}'" if self.source else "host grid"

    @property
    def n(self) -> int:
        return int(self.center_lat.shape[0])

    @property
    def nv(self) -> int:
        return int(self.corner_lat.shape[1])

    # -- construction --------------------------------------------------------------------
    @classmethod
    def from_latlon(
        cls, grid: LatLonGrid, mask: np.ndarray | None = None, frac: np.ndarray | None = None
    ) -> HostGrid:
        """Host grid with the cells of a regular lat-lon grid (mask/frac: (nlat, nlon) or (n,))."""
        clat, clon = grid.corners()
        yc, xc = grid.centres()
        n = grid.size
        m = np.ones(n, np.int32) if mask is None else np.asarray(mask).reshape(n).astype(np.int32)
        f = None if frac is None else np.asarray(frac, np.float64).reshape(n)
        return cls(yc, xc, clat, clon, grid.areas().ravel(), m, f, grid.shape, grid, grid.spec)

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> HostGrid:
        """Read an E3SM domain file (xc, yc, xv, yv, mask, area[, frac]) or a SCRIP grid file
        (grid_center_lat/lon, grid_corner_lat/lon[, grid_imask, grid_area, grid_dims])."""
        ds = open_dataset(path, GridError, "grid file")
        try:
            names = set(ds.variables)
            if "grid_center_lat" in names or "grid_corner_lat" in names:
                return cls._read_scrip(ds, str(path), names)
            if "xc" in names or "xv" in names:
                return cls._read_domain(ds, str(path), names)
            raise GridError(
                f"grid file '{path}' is neither an E3SM domain file "
                f"(needs {', '.join(DOMAIN_VARS)})"
                f" nor a SCRIP grid file (needs {', '.join(SCRIP_VARS)})"
            )
        finally:
            ds.close()

    @classmethod
    def _read_scrip(cls, ds, path: str, names: set[str]) -> HostGrid:
        missing = [v for v in SCRIP_VARS if v not in names]
        if missing:
            raise GridError(
                f"SCRIP grid file '{path}' lacks {', '.join(missing)}"
                + (
                    " (cell corners are needed for conservative weights)"
                    if any("corner" in v for v in missing)
                    else ""
                )
            )

        def deg(name: str) -> np.ndarray:
            return angle_to_degrees(
                read_var(ds, name, GridError, "SCRIP grid file"),
                getattr(ds.variables[name], "units", "degrees"),
            )

        yc, xc = deg("grid_center_lat"), deg("grid_center_lon")
        yv, xv = deg("grid_corner_lat"), deg("grid_corner_lon")
        n = yc.shape[0]
        mask = (
            read_var(ds, "grid_imask", GridError, "SCRIP grid file", dtype=np.int32)
            if "grid_imask" in names
            else np.ones(n, np.int32)
        )
        dims = (
            tuple(
                int(d)
                for d in read_var(ds, "grid_dims", GridError, "SCRIP grid file", dtype=np.int64)[
                    ::-1
                ]
            )
            if "grid_dims" in names
            else (n,)
        )
        if "grid_area" in names:
            area = read_var(ds, "grid_area", GridError, "SCRIP grid file")
        else:
            area = polygon_area_sr(yv, xv)
        return cls._finish(yc, xc, yv, xv, area, mask, None, dims, path)

    @classmethod
    def _read_domain(cls, ds, path: str, names: set[str]) -> HostGrid:
        missing = [v for v in DOMAIN_VARS if v not in names]
        if missing:
            raise GridError(
                f"domain file '{path}' lacks {', '.join(missing)}"
                + (
                    " (cell corners are needed for conservative weights)"
                    if "xv" in missing or "yv" in missing
                    else ""
                )
            )

        def rd(name: str, dtype: type = np.float64) -> np.ndarray:
            return read_var(ds, name, GridError, "domain file", dtype=dtype)

        xc, yc = rd("xc"), rd("yc")
        dims = tuple(int(d) for d in xc.shape) if xc.ndim == 2 else (xc.size,)
        n = xc.size
        xv, yv = rd("xv"), rd("yv")
        if xv.ndim < 2 or yv.ndim < 2:
            raise GridError(
                f"domain file '{path}': xv/yv have shapes {xv.shape}/{yv.shape}, expected "
                f"{(*dims, 4)} (cell corners: a last dimension nv)"
            )
        nv = xv.shape[-1]
        if xv.size != n * nv or yv.shape != xv.shape:
            raise GridError(
                f"domain file '{path}': xv/yv have shapes {xv.shape}/{yv.shape}, expected "
                f"{(*dims, nv)}"
            )
        if xv.ndim == 3 and ds["xv"].dimensions[0] in ("nv", "nvertices", "corners"):
            # (nv, nj, ni) layout, told by the dimension names (shapes are ambiguous when
            # nj == ni == nv)
            xv, yv = np.moveaxis(xv, 0, -1), np.moveaxis(yv, 0, -1)
        frac = rd("frac").ravel() if "frac" in names else None
        return cls._finish(
            yc.ravel(),
            xc.ravel(),
            yv.reshape(n, nv),
            xv.reshape(n, nv),
            rd("area").ravel(),
            rd("mask", np.int32).ravel(),
            frac,
            dims,
            path,
        )

    @classmethod
    def _finish(cls, yc, xc, yv, xv, area, mask, frac, dims, path) -> HostGrid:
        if yv.ndim != 2 or yv.shape[0] != yc.shape[0]:
            raise GridError(
                f"grid file '{path}': corner arrays have shape {yv.shape}, expected "
                f"({yc.shape[0]}, nv)"
            )
        g = cls(yc, xc, yv, xv, area, mask, frac, dims, None, path)
        g.latlon = detect_latlon(g)
        return g

    # -- writing ----------------------------------------------------------------------------
    def _dims2(self) -> tuple[int, int]:
        return (self.dims[0], self.dims[1]) if len(self.dims) == 2 else (1, self.n)

    def write_domain(self, path: str | os.PathLike) -> Path:
        """Write an E3SM domain file (dims nj, ni, nv; xc, yc, xv, yv, mask, area, frac)."""
        nj, ni = self._dims2()
        with atomic_dataset(path, "NETCDF3_64BIT_OFFSET") as ds:
            ds.createDimension("nj", nj)
            ds.createDimension("ni", ni)
            ds.createDimension("nv", self.nv)
            ds.title = "landemu host grid (E3SM domain format)"
            ds.Conventions = "CF-1.0"
            for name, arr, units, long in (
                ("xc", self.center_lon, "degrees_east", "longitude of grid cell center"),
                ("yc", self.center_lat, "degrees_north", "latitude of grid cell center"),
                ("area", self.area, "radian^2", "area of grid cell in radians squared"),
                (
                    "frac",
                    self.frac if self.frac is not None else self.mask.astype(float),
                    "unitless",
                    "fraction of grid cell that is active",
                ),
            ):
                v = ds.createVariable(name, "f8", ("nj", "ni"))
                v.units, v.long_name = units, long
                v[:] = arr.reshape(nj, ni)
            v = ds.createVariable("mask", "i4", ("nj", "ni"))
            v.units, v.long_name = "unitless", "domain mask (1 = active)"
            v[:] = self.mask.reshape(nj, ni)
            for name, arr, units in (
                ("xv", self.corner_lon, "degrees_east"),
                ("yv", self.corner_lat, "degrees_north"),
            ):
                v = ds.createVariable(name, "f8", ("nj", "ni", "nv"))
                v.units = units
                v[:] = arr.reshape(nj, ni, self.nv)
        return Path(path)

    def write_scrip(self, path: str | os.PathLike) -> Path:
        """Write a SCRIP grid file (degrees; grid_dims in Fortran order; grid_area in sr)."""
        with atomic_dataset(path, "NETCDF3_64BIT_OFFSET") as ds:
            ds.createDimension("grid_size", self.n)
            ds.createDimension("grid_corners", self.nv)
            ds.createDimension("grid_rank", len(self.dims))
            ds.title = "landemu host grid"
            ds.Conventions = "SCRIP"
            v = ds.createVariable("grid_dims", "i4", ("grid_rank",))
            v[:] = np.asarray(self.dims[::-1], np.int32)
            for name, arr, units, dims in (
                ("grid_center_lat", self.center_lat, "degrees", ("grid_size",)),
                ("grid_center_lon", self.center_lon, "degrees", ("grid_size",)),
                ("grid_corner_lat", self.corner_lat, "degrees", ("grid_size", "grid_corners")),
                ("grid_corner_lon", self.corner_lon, "degrees", ("grid_size", "grid_corners")),
                ("grid_area", self.area, "steradian", ("grid_size",)),
            ):
                v = ds.createVariable(name, "f8", dims)
                v.units = units
                v[:] = arr
            v = ds.createVariable("grid_imask", "i4", ("grid_size",))
            v.units = "unitless"
            v[:] = self.mask
        return Path(path)


def detect_latlon(g: HostGrid) -> LatLonGrid | None:
    """The uniform LatLonGrid whose cells are g's cells in order j*ni + i, or None."""
    if len(g.dims) != 2 or g.nv != 4:
        return None
    nj, ni = g.dims
    yv = g.corner_lat.reshape(nj, ni, 4)
    xc = g.center_lon.reshape(nj, ni)
    xv = g.corner_lon.reshape(nj, ni, 4)
    xv = xc[..., None] + ((xv - xc[..., None] + 180.0) % 360.0 - 180.0)  # unwrap around centre
    lat_lo, lat_hi = yv.min(-1), yv.max(-1)
    lon_lo, lon_hi = xv.min(-1), xv.max(-1)
    # each cell a box: two corners on each bounding latitude/longitude
    if not (
        np.all(np.sum(np.abs(yv - lat_lo[..., None]) < _TOL_DEG, -1) == 2)
        and np.all(np.sum(np.abs(xv - lon_lo[..., None]) < _TOL_DEG, -1) == 2)
    ):
        return None
    lat_e = np.append(lat_lo[:, 0], lat_hi[-1, 0])
    lon_w = lon_lo[0, :]
    dlon = lon_hi[0, :] - lon_w
    lon_e = np.append(lon_w, lon_w[-1] + dlon[-1])
    lon_e = lon_e[0] + np.concatenate([[0.0], np.cumsum(np.diff(lon_e) % 360.0)])
    try:
        grid = LatLonGrid(
            nj, ni, float(lat_e[0]), float(lat_e[-1]), float(lon_e[0]), float(lon_e[-1])
        )
    except GridError:
        return None
    la, lo = grid.lat_edges(), grid.lon_edges()
    ok = (
        np.allclose(lat_lo, la[:-1, None], atol=_TOL_DEG, rtol=0)
        and np.allclose(lat_hi, la[1:, None], atol=_TOL_DEG, rtol=0)
        and np.allclose((lon_lo - lo[None, :-1] + 180.0) % 360.0 - 180.0, 0.0, atol=_TOL_DEG)
        and np.allclose(lon_hi - lon_lo, grid.dlon, atol=_TOL_DEG, rtol=0)
    )
    return grid if ok else None


def polygon_area_sr(corner_lat: np.ndarray, corner_lon: np.ndarray) -> np.ndarray:
    """Area (sr) of spherical polygons with great-circle edges, shape (n,), from (n, nv) corners.

    Used only when a SCRIP file omits grid_area: sum of signed triangle areas from the first
    vertex (L'Huilier-free formula of Van Oosterom & Strackee via atan2).
    """
    lat, lon = np.deg2rad(corner_lat), np.deg2rad(corner_lon)
    p = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], -1)
    a = p[:, 0, :]
    total = np.zeros(p.shape[0])
    for k in range(1, p.shape[1] - 1):
        b, c = p[:, k, :], p[:, k + 1, :]
        num = np.einsum("ij,ij->i", a, np.cross(b, c))
        den = (
            1.0
            + np.einsum("ij,ij->i", a, b)
            + np.einsum("ij,ij->i", b, c)
            + np.einsum("ij,ij->i", c, a)
        )
        total += 2.0 * np.arctan2(num, den)
    return np.abs(total)
