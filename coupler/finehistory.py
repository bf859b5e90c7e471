"""History of fine-grid step outputs on a lat-lon subregion:
`history: {fine_fields: [H2OSOI_FINE], fine_region: [south, north, west, east]}`.

Why a subregion: a fine field of the whole domain is what no rank may hold. Each time a
step producing a listed field has run, every rank sends the cells of its tiles inside the
region (cell centres within the bounds) to the root, which appends one record — the value
of that run (cell_methods time: point), fill over fine ocean and tiles nobody owns. The
region is capped at MAX_CELLS cells. The file `<run.name>.landemu.hfine.<first time>.nc`
is written as `.partial` and renamed at finalize, like the host history; it holds no state,
so a restarted run starts a new file.
"""

from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np

from coupler import __version__
from coupler.clock import ModelTime, cf_calendar_name
from coupler.errors import ConfigError, DataFileError
from coupler.grids.latlon import LatLonGrid
from coupler.history import FILL, _level_dims, _level_shape, _partial, publish_partial

MAX_CELLS = 4_000_000


class FineHistory:
    """Snapshots of fine step outputs on one fine grid's cells inside a region."""

    def __init__(self, comp, fields: list[str], region: list | None) -> None:
        self.comp = comp
        self.fields: list[str] = []
        self.path: Path | None = None
        if not fields:
            return
        grids = set()
        for name in fields:
            canonical = comp.registry.canonical(name)
            producer = comp.pipeline.producer.get(canonical)
            if producer is None or not producer[0].on_fine_grid:
                raise ConfigError(
                    f"history.fine_fields: {name} is not an output of a fine-grid step"
                )
            self.fields.append(canonical)
            grids.add(producer[0].grid)
        if len(grids) > 1:
            raise ConfigError(f"history.fine_fields: fields of one fine grid, not {sorted(grids)}")
        self.grid_name = grids.pop()
        grid = LatLonGrid.parse(comp.config.grids[self.grid_name]["grid"])
        self.j0, self.j1, self.i0, self.i1 = _window(grid, region)
        self.lat = grid.lat_centres(self.j0, self.j1)
        self.lon = grid.lon_centres(self.i0, self.i1)
        self.levels = {
            name: 1 if comp.pipeline.producer[name][1].kind == "categorical" else spec.levels
            for name in self.fields
            for spec in [comp.registry[name]]
        }

    def after_advance(self, due: list, now: ModelTime) -> None:
        """Gather and append a record if a producer of a listed field ran (collective)."""
        if not any(name in step.outputs for step in due for name in self.fields):
            return
        comp = self.comp
        gathered = comp.comm.gather(self._local_pieces(), root=0)
        with comp.agreement.phase("advance"):  # the root's write may fail: say so to all
            comp.faults.hit("history")
            if comp.comm.rank == 0:
                self._write_root(now, [p for pieces in gathered for p in pieces])

    def _local_pieces(self) -> list[tuple[tuple[int, int, int, int], dict[str, np.ndarray]]]:
        """The region's cells of this rank's tiles: ((j0, j1, i0, i1), {field: values})."""
        fine = self.comp.fines[self.grid_name]
        out = []
        for t, td in enumerate(fine.tiles):
            tile = td.tile
            j0, j1 = max(tile.j0, self.j0), min(tile.j1, self.j1)
            i0, i1 = max(tile.i0, self.i0), min(tile.i1, self.i1)
            if j0 >= j1 or i0 >= i1:
                continue
            rows, cols = slice(j0 - tile.j0, j1 - tile.j0), slice(i0 - tile.i0, i1 - tile.i0)
            land = td.mask[rows, cols]
            part = {}
            for name in self.fields:
                values = self.comp.fine_values[name][t].reshape(self.levels[name], *tile.shape)
                part[name] = np.where(land, values[:, rows, cols], FILL)
            out.append(((j0, j1, i0, i1), part))
        return out

    def _write_root(self, now: ModelTime, pieces: list) -> None:
        shape = (self.j1 - self.j0, self.i1 - self.i0)
        values = {name: np.full((self.levels[name], *shape), FILL) for name in self.fields}
        for (j0, j1, i0, i1), part in pieces:
            for name, a in part.items():
                values[name][:, j0 - self.j0 : j1 - self.j0, i0 - self.i0 : i1 - self.i0] = a
        if self.path is None:
            name = f"{self.comp.config.run['name']}.landemu.hfine.{now.stamp()}.nc"
            self.path = self.comp.output_dir / name
        try:
            if not _partial(self.path).exists():
                self._define(_partial(self.path), now)
            self._append(now, values)
        except (OSError, RuntimeError) as exc:
            raise DataFileError(
                f"fine history file '{_partial(self.path)}' cannot be written: {exc}"
            ) from None

    def _define(self, partial: Path, first: ModelTime) -> None:
        comp = self.comp
        try:
            with netCDF4.Dataset(partial, "w", format="NETCDF4") as ds:
                ds.Conventions = "CF-1.8"
                ds.title = f"landemu fine history of run '{comp.config.run['name']}'"
                ds.source = f"landemu {__version__}"
                ds.fine_grid = comp.config.grids[self.grid_name]["grid"]
                ds.window = f"rows {self.j0}:{self.j1}, columns {self.i0}:{self.i1} of the grid"
                ds.createDimension("time", None)
                t = ds.createVariable("time", "f8", ("time",))
                t.units = f"days since {first.isoformat()}"
                t.calendar = cf_calendar_name(comp.calendar)
                t.standard_name = "time"
                for dim, centres, units in (
                    ("lat", self.lat, "degrees_north"),
                    ("lon", self.lon, "degrees_east"),
                ):
                    ds.createDimension(dim, centres.size)
                    v = ds.createVariable(dim, "f8", (dim,))
                    v[:] = centres
                    v.units = units
                for name in self.fields:
                    spec = comp.registry[name]
                    level_dims = _level_dims(ds, spec) if self.levels[name] > 1 else ()
                    dims = ("time", *level_dims, "lat", "lon")
                    v = ds.createVariable(name, "f4", dims, fill_value=FILL, zlib=True, complevel=1)
                    v.units = spec.units
                    v.long_name = spec.long_name or name
                    v.cell_methods = "time: point"
        except BaseException:
            partial.unlink(missing_ok=True)  # nothing half-made is left behind
            raise

    def _append(self, now: ModelTime, values: dict[str, np.ndarray]) -> None:
        with netCDF4.Dataset(_partial(self.path), "a") as ds:
            k = len(ds.dimensions["time"])
            t0 = ModelTime.parse(ds["time"].units.removeprefix("days since "), self.comp.calendar)
            ds["time"][k] = (now - t0) / 86400.0
            for name, a in values.items():
                spec = self.comp.registry[name]
                levels = _level_shape(spec) if self.levels[name] > 1 else ()
                ds[name][k] = a.reshape(*levels, *a.shape[1:])

    def close(self) -> None:
        """Rename `.partial` to the final name (root)."""
        if self.comp.comm.rank == 0:
            publish_partial(self.path, "fine history file")


def _window(grid: LatLonGrid, region: list | None) -> tuple[int, int, int, int]:
    """(j0, j1, i0, i1) of the grid cells whose centres lie in region [S, N, W, E]."""
    where = "history.fine_region"
    if (
        not isinstance(region, list)
        or len(region) != 4
        or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in region)
    ):
        raise ConfigError(
            f"{where}: expected [south, north, west, east] in degrees with history.fine_fields, "
            f"got {region!r}"
        )
    south, north, west, east = (float(x) for x in region)
    if not (south < north and west < east):
        raise ConfigError(f"{where}: need south < north and west < east, got {region}")
    lat = grid.lat_centres()
    lon = grid.lon_centres()
    lon_in = (lon - west) % 360.0 <= east - west
    rows = np.flatnonzero((lat >= south) & (lat <= north))
    cols = np.flatnonzero(lon_in)
    if rows.size == 0 or cols.size == 0:
        raise ConfigError(f"{where}: {region} holds no cell of the fine grid {grid.spec}")
    if cols.size != cols[-1] - cols[0] + 1:
        raise ConfigError(f"{where}: {region} crosses the grid's edge at the dateline")
    if rows.size * cols.size > MAX_CELLS:
        raise ConfigError(
            f"{where}: {region} holds {rows.size} × {cols.size} fine cells, more than "
            f"{MAX_CELLS:,} (a subregion, not the domain)"
        )
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
