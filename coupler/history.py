"""History output: time means of host-grid fields, as CF netCDF written by the root rank.

Imports are averaged over the puts of each history period (their own accumulator), step
outputs over the advances. At each history boundary the root gathers the (small) host
fields — the only global gather landemu does, allowed for diagnostics — and appends a
record. The file is written as `<name>.partial` and renamed when the run finalizes, so a
file without that suffix is always complete.
"""

from __future__ import annotations

import os
from pathlib import Path

import netCDF4
import numpy as np

from coupler import __version__
from coupler.clock import ModelTime, cf_calendar_name
from coupler.errors import DataFileError
from coupler.persistence import Persistent, time_scalar
from coupler.state import SEP, Accumulator

FILL = 1.0e36


class History:
    """Accumulates and writes the history fields of one run segment."""

    def __init__(self, comp, fields: list[str], cfg: dict) -> None:
        self.comp = comp
        self.fields = list(fields)
        self.schedule = cfg["frequency"]
        self.acc = {
            name: Accumulator(comp.registry[name].levels, comp.n_local)
            for name in self.fields
            if name not in comp.imports
        }
        self.period_start: ModelTime | None = None
        self.path: Path | None = None
        self._file_name = cfg["file"]
        self._all_ids = comp.comm.gather(comp.ids0, root=0) if self.fields else None

    @property
    def calendar(self) -> str:
        return self.comp.calendar

    def persistent(self) -> list[Persistent]:
        """The means of the current history period and when it began."""
        out = [time_scalar("history_period_start", self, "period_start")]
        for name, acc in self.acc.items():
            out += acc.persistent(f"history{SEP}{name}")
        return out

    # -- accumulate -----------------------------------------------------------------------
    def after_advance(self, previous: ModelTime, now: ModelTime) -> None:
        if not self.fields:
            return
        if self.period_start is None:
            self.period_start = previous
        for name, acc in self.acc.items():
            values = self.comp.host_values.get(name)
            if values is not None:
                acc.add(values)
        if self.schedule.is_due(previous, now, self.comp.start):
            self._write(now)
            self.period_start = now

    def _mean(self, name: str) -> np.ndarray:
        if name in self.comp.imports:
            field = self.comp.imports[name]
            acc = field.means["history"]
            values = acc.mean() if acc.count else np.full_like(acc.sum, np.nan)
            field.consumed("history")
            return values
        acc = self.acc[name]
        values = acc.mean() if acc.count else np.full_like(acc.sum, np.nan)
        acc.reset()
        return values

    # -- write ----------------------------------------------------------------------------
    def _write(self, now: ModelTime) -> None:
        comm = self.comp.comm
        means = {name: self._mean(name) for name in self.fields}
        gathered = comm.gather(means, root=0)
        with self.comp.agreement.phase("advance"):  # the root's write may fail: say so to all
            self.comp.faults.hit("history")
            if comm.rank == 0:
                self._write_root(now, gathered)

    def _write_root(self, now: ModelTime, gathered: list[dict[str, np.ndarray]]) -> None:
        n = self.comp.host.n
        global_values = {}
        for name in self.fields:
            nlev = self.comp.registry[name].levels
            g = np.full((nlev, n), FILL)
            for ids, part in zip(self._all_ids, gathered, strict=True):
                g[:, ids] = np.where(np.isnan(part[name]), FILL, part[name])
            g[:, self.comp.host.mask == 0] = FILL  # inactive host cells
            global_values[name] = g
        try:
            if self.path is None:
                self._create(now)
            self._append(now, global_values)
        except (OSError, RuntimeError) as exc:
            where = _partial(self.path) if self.path else self.comp.output_dir
            raise DataFileError(f"history file '{where}' cannot be written: {exc}") from None

    def _create(self, now: ModelTime) -> None:
        comp = self.comp
        name = (
            self._file_name or f"{comp.config.run['name']}.landemu.h.{self.period_start.stamp()}.nc"
        )
        self.path = comp.output_dir / name
        partial = _partial(self.path)
        try:
            self._define(partial)
        except BaseException:
            if partial.is_file():
                partial.unlink()  # nothing half-made is left behind
            self.path = None
            raise

    def _define(self, partial: Path) -> None:
        comp = self.comp
        host = comp.host
        with netCDF4.Dataset(partial, "w", format="NETCDF4") as ds:
            ds.Conventions = "CF-1.8"
            ds.title = f"landemu history of run '{comp.config.run['name']}'"
            ds.source = f"landemu {__version__}"
            ds.host_grid = host.source
            ds.createDimension("time", None)
            ds.createDimension("nbnd", 2)
            t = ds.createVariable("time", "f8", ("time",))
            t.units = f"days since {self.period_start.isoformat()}"
            t.calendar = cf_calendar_name(comp.calendar)
            t.standard_name = "time"
            t.bounds = "time_bounds"
            ds.createVariable("time_bounds", "f8", ("time", "nbnd"))
            spatial = self._define_grid(ds)
            for fname in self.fields:
                spec = comp.registry[fname]
                dims = ("time", *_level_dims(ds, spec), *spatial)
                v = ds.createVariable(fname, "f8", dims, fill_value=FILL, zlib=True, complevel=1)
                v.units = spec.units
                if spec.standard_name:
                    v.standard_name = spec.standard_name
                v.long_name = spec.long_name or fname
                v.cell_methods = "time: mean"
                if len(spatial) == 1 and host.latlon is None:
                    v.coordinates = "lat lon"

    def _define_grid(self, ds) -> tuple[str, ...]:
        host = self.comp.host
        if host.latlon is not None:
            ny, nx = host.latlon.shape
            ds.createDimension("lat", ny)
            ds.createDimension("lon", nx)
            lat = ds.createVariable("lat", "f8", ("lat",))
            lat[:] = host.latlon.lat_centres()
            lat.units, lat.standard_name = "degrees_north", "latitude"
            lon = ds.createVariable("lon", "f8", ("lon",))
            lon[:] = host.latlon.lon_centres()
            lon.units, lon.standard_name = "degrees_east", "longitude"
            return ("lat", "lon")
        ds.createDimension("ncol", host.n)
        lat = ds.createVariable("lat", "f8", ("ncol",))
        lat[:] = host.center_lat
        lat.units, lat.standard_name = "degrees_north", "latitude"
        lon = ds.createVariable("lon", "f8", ("ncol",))
        lon[:] = host.center_lon
        lon.units, lon.standard_name = "degrees_east", "longitude"
        return ("ncol",)

    def _append(self, now: ModelTime, values: dict[str, np.ndarray]) -> None:
        host = self.comp.host
        with netCDF4.Dataset(_partial(self.path), "a") as ds:
            k = len(ds.dimensions["time"])
            t0 = ModelTime.parse(ds["time"].units.removeprefix("days since "), self.comp.calendar)
            lo = (self.period_start - t0) / 86400.0
            hi = (now - t0) / 86400.0
            ds["time"][k] = hi
            ds["time_bounds"][k, :] = [lo, hi]
            for name, g in values.items():
                if host.latlon is not None:
                    g = g.reshape(g.shape[0], *host.latlon.shape)
                levels = _level_shape(self.comp.registry[name])
                ds[name][k] = g.reshape(*levels, *g.shape[1:])

    def close(self) -> None:
        """Finish the file: rename `.partial` to its final name (root)."""
        if self.comp.comm.rank == 0 and publish_partial(self.path, "history file"):
            self.comp.log.info("history written to %s", self.path)


def _level_shape(spec) -> tuple[int, ...]:
    """The level dimensions of a field in a netCDF variable (slowest first: the reverse
    of the Fortran order of its axes), () for a single-level field."""
    if spec.axes:
        return tuple(n for _, n in reversed(spec.axes))
    return () if spec.levels == 1 else (spec.levels,)


def _level_dims(ds, spec) -> tuple[str, ...]:
    """Create (once) and name the level dimensions of a field: its axes, or levN."""
    names = (
        [a for a, _ in reversed(spec.axes)]
        if spec.axes
        else ([] if spec.levels == 1 else [f"lev{spec.levels}"])
    )
    for dim, size in zip(names, _level_shape(spec), strict=True):
        if dim not in ds.dimensions:
            ds.createDimension(dim, size)
        elif len(ds.dimensions[dim]) != size:
            raise DataFileError(
                f"history: level axis '{dim}' of {spec.name} has {size} values, another "
                f"field's has {len(ds.dimensions[dim])}"
            )
    return tuple(names)


def _partial(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


def publish_partial(path: Path | None, what: str) -> bool:
    """Rename `path.partial` to `path` if it exists (a file is only ever seen whole)."""
    if path is None or not _partial(path).exists():
        return False
    try:
        os.replace(_partial(path), path)
    except OSError as exc:
        raise DataFileError(
            f"{what} '{_partial(path)}' cannot be renamed to its final name: {exc.strerror or exc}"
        ) from None
    return True
