"""Static fine-grid fields (land mask, IGBP land cover, Köppen zone, elevation) for the tiles a
rank owns, read from the file `landemu prepare-static` writes.

Every rank calls `StaticFineData.read` for its own tiles at init, so a read touches only the
window asked for (netCDF hyperslabs of the chunked file, at most two for a window that
wraps round a globe-spanning file), never the whole grid: no rank holds a global fine field.

File layout: dims (lat, lon) of a regular lat-lon grid,
lat ascending (south → north), 1-D `lat`/`lon` cell centres with `lat_bnds`/`lon_bnds`.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

import netCDF4
import numpy as np

from coupler.errors import DataFileError, GridError
from coupler.grids.latlon import LatLonGrid

_COORDS = ("lat", "lon", "lat_bnds", "lon_bnds")
_ALIGN_TOL = 1e-6  # in cells: a window edge this close to a file cell edge is on it


class StaticFineData:
    """Read-only access to a static fine-grid file.

    `grid` is the file's LatLonGrid; `variables` the names of its (lat, lon) fields;
    `read(var, window)` the window's cells, shape (window.nlat, window.nlon), south → north,
    in the file's dtype (uint8 classes/mask, float32 elevation), fill values as stored.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise DataFileError(f"static fine-data file '{self.path}' does not exist")
        try:
            self._ds = netCDF4.Dataset(str(self.path), "r")
        except OSError as exc:
            raise DataFileError(
                f"static fine-data file '{self.path}' is not a readable netCDF file ({exc})"
            ) from exc
        try:
            self.grid = self._read_grid()
        except Exception:
            self._ds.close()
            raise
        self.variables: tuple[str, ...] = tuple(
            name
            for name, v in self._ds.variables.items()
            if v.dimensions == ("lat", "lon") and name not in _COORDS
        )
        per_turn = 360.0 / self.grid.dlon
        # cells per 360° of longitude, when whole: lets a window name the same longitudes
        # another way round (e.g. −179 vs 181); None disables the wrap
        self._cells_360 = round(per_turn) if abs(per_turn - round(per_turn)) < 1e-6 else None

    # -- metadata --------------------------------------------------------------------------
    def _read_grid(self) -> LatLonGrid:
        """The file's grid from its coordinate bounds (or centres, when bounds are absent)."""
        ds = self._ds
        for dim in ("lat", "lon"):
            if dim not in ds.dimensions or dim not in ds.variables:
                raise DataFileError(
                    f"static fine-data file '{self.path}' has no '{dim}' dimension/coordinate "
                    "(expected dims (lat, lon) as written by landemu prepare-static)"
                )
        edges = {}
        for dim in ("lat", "lon"):
            centres = np.asarray(ds.variables[dim][:], dtype=np.float64)
            bname = getattr(ds.variables[dim], "bounds", f"{dim}_bnds")
            if bname in ds.variables:
                b = np.asarray(ds.variables[bname][:], dtype=np.float64)
                lo, hi = float(b[0, 0]), float(b[-1, 1])
            elif centres.size > 1:
                d = (centres[-1] - centres[0]) / (centres.size - 1)
                lo, hi = centres[0] - d / 2, centres[-1] + d / 2
            else:
                raise DataFileError(
                    f"static fine-data file '{self.path}': '{dim}' has one cell and no bounds"
                )
            if centres.size > 1 and not np.all(np.diff(centres) > 0):
                raise DataFileError(
                    f"static fine-data file '{self.path}': '{dim}' must increase "
                    f"(got {centres[0]} ... {centres[-1]}); rows must run south → north"
                )
            edges[dim] = (lo, hi, centres.size)
        try:
            return LatLonGrid(
                edges["lat"][2],
                edges["lon"][2],
                edges["lat"][0],
                edges["lat"][1],
                edges["lon"][0],
                edges["lon"][1],
            )
        except GridError as exc:
            raise DataFileError(f"static fine-data file '{self.path}': {exc}") from exc

    def attrs(self, var: str) -> dict[str, object]:
        """The netCDF attributes of `var` (units, flag_values, flag_meanings, source, ...)."""
        self._check_var(var)
        v = self._ds.variables[var]
        return {k: v.getncattr(k) for k in v.ncattrs()}

    def _check_var(self, var: str) -> None:
        if var not in self.variables:
            raise DataFileError(
                f"static fine-data file '{self.path}' has no variable '{var}'; it has "
                f"{', '.join(self.variables) or 'no (lat, lon) variables'}"
            )

    # -- windows ---------------------------------------------------------------------------
    def locate(self, window: LatLonGrid) -> tuple[int, list[tuple[int, int]]]:
        """Where `window` lies in the file: (first row, [(first col, n cols), ...]) — one column
        run, or two when the window wraps round the seam of a globe-spanning file.

        DataFileError if the window's cells are not the file's cells or fall outside it.
        """
        g = self.grid
        what = f"window {window.spec} vs static file '{self.path}' ({g.spec})"
        for name, mine, theirs in (("dlat", window.dlat, g.dlat), ("dlon", window.dlon, g.dlon)):
            if abs(mine - theirs) > _ALIGN_TOL * theirs:
                raise DataFileError(
                    f"{what}: cell size differs ({name} {mine!r} vs the file's {theirs!r})"
                )
        fj = (window.south - g.south) / g.dlat
        fi = (window.west - g.west) / g.dlon
        j0, i0 = round(fj), round(fi)
        if abs(fj - j0) > _ALIGN_TOL or abs(fi - i0) > _ALIGN_TOL:
            raise DataFileError(
                f"{what}: not aligned to the file's cells (window edges fall {fj - j0:+.3g} rows "
                f"and {fi - i0:+.3g} columns off a cell edge)"
            )
        ny, nx = window.nlat, window.nlon
        if j0 < 0 or j0 + ny > g.nlat:
            raise DataFileError(
                f"{what}: latitudes [{window.south}, {window.north}] are outside the file's "
                f"[{g.south}, {g.north}]"
            )
        if self._cells_360:
            i0 %= self._cells_360
        if g.is_global_lon:
            first = min(nx, g.nlon - i0)
            runs = [(i0, first)] + ([(0, nx - first)] if nx > first else [])
            return j0, runs
        if i0 + nx > g.nlon:
            raise DataFileError(
                f"{what}: longitudes [{window.west}, {window.east}] are outside the file's "
                f"[{g.west}, {g.east}]"
            )
        return j0, [(i0, nx)]

    def read(self, var: str, window: LatLonGrid) -> np.ndarray:
        """The cells of `window` of variable `var`, shape (window.nlat, window.nlon)."""
        self._check_var(var)
        j0, runs = self.locate(window)
        v = self._ds.variables[var]
        v.set_auto_maskandscale(False)
        try:
            parts = [np.asarray(v[j0 : j0 + window.nlat, i : i + n]) for i, n in runs]
        except (OSError, RuntimeError, IndexError) as exc:
            raise DataFileError(
                f"static fine-data file '{self.path}': reading '{var}' failed ({exc}); the file "
                "may be truncated or corrupt"
            ) from exc
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)

    # -- lifetime --------------------------------------------------------------------------
    def close(self) -> None:
        if self._ds.isopen():
            self._ds.close()

    def __enter__(self) -> StaticFineData:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:  # a forgotten close must not leak the HDF5 handle
        ds = getattr(self, "_ds", None)
        if ds is not None and ds.isopen():
            ds.close()
