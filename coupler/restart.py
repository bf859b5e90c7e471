"""Restart files: everything the next step needs, in one netCDF file, decomposition-free.

Contents: the clock (current time, run start, each step's last run), import accumulators
and latest values, export values, step outputs kept on the host grid, history
accumulators, and on the fine grid the step outputs and step state of every land tile.

Host-grid arrays (small) are gathered by the root and stored by global cell id; fine-grid
arrays are stored on the full fine grid, written tile by tile by their owners in turn (one
rank has the file open at a time), so no rank ever holds a global fine field and a
restart can be read on any number of ranks. The file is written under a `.partial` name
and renamed only when every rank has finished, so a restart file is always complete.
"""

from __future__ import annotations

import os
from pathlib import Path

import netCDF4
import numpy as np

from coupler import __version__
from coupler.clock import ModelTime
from coupler.errors import DataFileError, LandemuError, shorten

SEP = "__"


# --- what is persistent ---------------------------------------------------------------------


def _collect(comp) -> tuple[dict[str, int], dict[str, np.ndarray], dict[str, list[np.ndarray]]]:
    """(scalars, host arrays (nlev, n_local), fine arrays per tile (…, ny, nx))."""
    scalars: dict[str, int] = {
        "now": comp.now.seconds if comp.now is not None else -1,
        "start": comp.start.seconds if comp.start is not None else -1,
    }
    host: dict[str, np.ndarray] = {}
    fine: dict[str, list[np.ndarray]] = {}
    for step in comp.steps:
        t = comp.last_run.get(step.name)
        scalars[f"last_run{SEP}{step.name}"] = t.seconds if t is not None else -1
    for name, field in comp.imports.items():
        for consumer, acc in field.means.items():
            host[f"import{SEP}{name}{SEP}{consumer}"] = acc.sum
            scalars[f"import{SEP}{name}{SEP}{consumer}{SEP}count"] = acc.count
        if field.latest is not None:
            host[f"latest{SEP}{name}"] = field.latest
            scalars[f"latest{SEP}{name}{SEP}ready"] = int(field.has_latest)
    for name, field in comp.exports.items():
        host[f"export{SEP}{name}"] = field.values
        scalars[f"export{SEP}{name}{SEP}ready"] = int(field.ready)
    for name, values in comp.host_values.items():
        host[f"hostvalue{SEP}{name}"] = values
    for name, acc in comp.history.acc.items():
        host[f"history{SEP}{name}"] = acc.sum
        scalars[f"history{SEP}{name}{SEP}count"] = acc.count
    ps = comp.history.period_start
    scalars["history_period_start"] = ps.seconds if ps is not None else -1
    for step_name, state in comp.step_state.items():
        for key, value in state.items():
            if isinstance(value, list):
                fine[f"state{SEP}{step_name}{SEP}{key}"] = value
            else:
                host[f"state{SEP}{step_name}{SEP}{key}"] = value.reshape(1, -1)
    for name, tiles in comp.fine_values.items():
        fine[f"finevalue{SEP}{name}"] = tiles
    return scalars, host, fine


def _restore(
    comp, scalars: dict[str, int], host: dict[str, np.ndarray], fine: dict[str, list[np.ndarray]]
) -> None:
    cal = comp.calendar

    def time(v: int) -> ModelTime | None:
        return ModelTime(int(v), cal) if v >= 0 else None

    comp.now = time(scalars["now"])
    comp.start = time(scalars["start"])
    comp.last_run = {
        s.name: time(scalars[f"last_run{SEP}{s.name}"])
        for s in comp.steps
        if scalars[f"last_run{SEP}{s.name}"] >= 0
    }
    for name, field in comp.imports.items():
        for consumer, acc in field.means.items():
            acc.sum[...] = host[f"import{SEP}{name}{SEP}{consumer}"]
            acc.count = int(scalars[f"import{SEP}{name}{SEP}{consumer}{SEP}count"])
        if field.latest is not None:
            field.latest[...] = host[f"latest{SEP}{name}"]
            field.has_latest = bool(scalars[f"latest{SEP}{name}{SEP}ready"])
    for name, field in comp.exports.items():
        field.values[...] = host[f"export{SEP}{name}"]
        field.ready = bool(scalars[f"export{SEP}{name}{SEP}ready"])
    for key, values in host.items():
        kind, _, rest = key.partition(SEP)
        if kind == "hostvalue":
            comp.host_values[rest] = values.copy()
        elif kind == "state":
            step_name, _, var = rest.partition(SEP)
            comp.step_state[step_name][var] = values.reshape(-1).copy()
    for name, acc in comp.history.acc.items():
        acc.sum[...] = host[f"history{SEP}{name}"]
        acc.count = int(scalars[f"history{SEP}{name}{SEP}count"])
    comp.history.period_start = time(scalars["history_period_start"])
    for key, tiles in fine.items():
        kind, _, rest = key.partition(SEP)
        if kind == "finevalue":
            comp.fine_values[rest] = tiles
        else:
            step_name, _, var = rest.partition(SEP)
            comp.step_state[step_name][var] = tiles


# --- writing ---------------------------------------------------------------------------------


def write_restart(comp, path: str | Path | None = None) -> Path:
    """Write the component's restart file (collective); return its path.

    Every step is agreed over the ranks, so a failure on any rank (a bad path, a full
    disk, a rank that cannot write its tiles) is reported on all of them, and the
    `.partial` file is removed: a restart file either exists complete or not at all."""
    comm, agreement = comp.comm, comp.agreement
    with agreement.phase("write_restart"):
        path = restart_path(comp, path)
        partial = path.with_name(path.name + ".partial")
        scalars, host, fine = _collect(comp)
    all_ids = comm.gather(comp.ids0, root=0)
    host_parts = comm.gather(host, root=0)
    try:
        with agreement.phase("write_restart"):
            if comm.rank == 0:
                args = (comp, partial, scalars, host, all_ids, host_parts, fine)
                _file_step(partial, _create, *args)
        for rank in range(comm.size):  # one rank at a time appends its tiles
            with agreement.phase("write_restart"):
                if rank == comm.rank:
                    comp.faults.hit("restart")
                    if fine:
                        _file_step(partial, _write_tiles, comp, partial, fine)
        with agreement.phase("write_restart"):
            if comm.rank == 0:
                _file_step(path, os.replace, partial, path)
    except LandemuError:
        if comm.rank == 0 and partial.is_file():
            partial.unlink()
        raise
    if comm.rank == 0:
        comp.log.info("restart written to %s", path)
    return path


def restart_path(comp, path: str | Path | None) -> Path:
    """The file to write (the default name if none), or a DataFileError saying why not."""
    if path in (None, ""):
        if comp.now is None:
            raise LandemuError("write_restart: nothing to restart from before the first advance")
        path = comp.output_dir / f"{comp.config.run['name']}.landemu.r.{comp.now.stamp()}.nc"
    path = Path(path)
    shown = shorten(str(path), 200)
    if not path.name or path.name in (".", ".."):
        raise DataFileError(f"restart path '{shown}' has no file name")
    if len(os.fsencode(path.name)) > 240 or len(os.fsencode(str(path))) > 4000:
        raise DataFileError(
            f"restart path '{shown}' is too long ({len(str(path))} characters; a file name has "
            "at most 240 bytes, a path 4000)"
        )
    if path.is_dir():
        raise DataFileError(f"restart path '{shown}' is a directory; give a file name")
    return path


def _file_step(path: Path, action, *args) -> None:
    """Run a file operation; OSError/netCDF errors become a DataFileError naming `path`."""
    try:
        action(*args)
    except (OSError, RuntimeError) as exc:
        raise DataFileError(
            f"cannot write restart '{shorten(str(path), 200)}': {shorten(str(exc), 200)}"
        ) from None


def _create(comp, partial: Path, scalars, host, all_ids, host_parts, fine) -> None:
    partial.parent.mkdir(parents=True, exist_ok=True)
    n = comp.host.n
    with netCDF4.Dataset(partial, "w", format="NETCDF4") as ds:
        ds.title = "landemu restart"
        ds.source = f"landemu {__version__}"
        ds.calendar = comp.calendar
        ds.model_time = comp.now.isoformat() if comp.now is not None else ""
        ds.host_cells = n
        ds.steps = ",".join(s.name for s in comp.steps)
        if comp.fine is not None:
            ds.fine_grid = comp.fine.grid.spec
            ds.fine_tile = f"{comp.fine.tiling.tile_ny},{comp.fine.tiling.tile_nx}"
        for key, value in scalars.items():
            v = ds.createVariable(key, "i8")
            v.assignValue(value)
        ds.createDimension("host_cell", n)
        for key, local in host.items():
            nlev = local.shape[0]
            dim = f"lev{nlev}"
            if dim not in ds.dimensions:
                ds.createDimension(dim, nlev)
            g = np.zeros((nlev, n))
            for ids, part in zip(all_ids, host_parts, strict=True):
                g[:, ids] = part[key]
            ds.createVariable(key, "f8", (dim, "host_cell"))[:] = g
        if comp.fine is not None and fine:
            ny, nx = comp.fine.grid.shape
            ds.createDimension("fine_lat", ny)
            ds.createDimension("fine_lon", nx)
            ty, tx = comp.fine.tiling.tile_ny, comp.fine.tiling.tile_nx
            for key in fine:
                nlev = _fine_levels(comp, key)
                dim = f"lev{nlev}"
                if dim not in ds.dimensions:
                    ds.createDimension(dim, nlev)
                ds.createVariable(
                    key,
                    "f8",
                    (dim, "fine_lat", "fine_lon"),
                    zlib=True,
                    complevel=1,
                    chunksizes=(1, min(ty, ny), min(tx, nx)),
                    fill_value=np.nan,
                )


def _fine_levels(comp, key: str) -> int:
    """Levels of a fine array, from the step definitions (the root may own no tile)."""
    kind, _, name = key.partition(SEP)
    if kind != "finevalue":
        return 1
    var = comp.pipeline.producer[name][1]
    return 1 if var.kind == "categorical" else var.levels


def _write_tiles(comp, partial: Path, fine) -> None:
    with netCDF4.Dataset(partial, "a") as ds:
        for key, tiles in fine.items():
            v = ds[key]
            for td, a in zip(comp.fine.tiles, tiles, strict=True):
                t = td.tile
                v[:, t.j0 : t.j1, t.i0 : t.i1] = a.reshape(-1, *t.shape)


# --- reading ---------------------------------------------------------------------------------


def read_restart(comp, path: str | Path) -> None:
    """Restore the component from a restart file (collective; any number of ranks)."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"restart file '{path}' does not exist")
    scalars, template_host, template_fine = _collect(comp)
    try:
        with netCDF4.Dataset(path, "r") as ds:
            _check_matches(comp, ds, path)
            missing = [
                k for k in (*scalars, *template_host, *template_fine) if k not in ds.variables
            ]
            if missing:
                raise DataFileError(
                    f"restart file '{path}' lacks {len(missing)} variable(s) this configuration "
                    f"needs, e.g. {missing[0]}: was it written with another configuration?"
                )
            new_scalars = {k: int(ds[k][...]) for k in scalars}
            # step outputs kept between steps exist only once a step has run: a fresh
            # component has none to template, so they are taken from what the file holds
            kept = _kept_step_outputs(comp, ds)
            host = {
                k: np.asarray(ds[k][:, comp.ids0], np.float64)
                for k in (*template_host, *kept["hostvalue"])
            }
            fine = {}
            for key, tiles in template_fine.items():
                fine[key] = [
                    _tile_from_file(ds[key], td.tile, like.shape)
                    for td, like in zip(comp.fine.tiles, tiles, strict=True)
                ]
            for key in kept["finevalue"]:
                levels = _fine_levels(comp, key)
                fine[key] = [
                    _tile_from_file(ds[key], td.tile, (levels,) * (levels > 1) + td.tile.shape)
                    for td in comp.fine.tiles
                ]
    except OSError as exc:
        raise DataFileError(f"restart file '{path}' cannot be read: {exc}") from None
    _restore(comp, new_scalars, host, fine)
    if comp.comm.rank == 0:
        comp.log.info("restarted from %s at %s", path, comp.now)


def _tile_from_file(var, tile, shape: tuple[int, ...]) -> np.ndarray:
    a = np.asarray(var[:, tile.j0 : tile.j1, tile.i0 : tile.i1], np.float64)
    return a.reshape(shape)


def _kept_step_outputs(comp, ds) -> dict[str, list[str]]:
    """Variables of kept step outputs in the file ('hostvalue__X', 'finevalue__X') that
    belong to steps of this configuration."""
    kept: dict[str, list[str]] = {"hostvalue": [], "finevalue": []}
    for key in ds.variables:
        kind, _, name = key.partition(SEP)
        if kind in kept and name in comp.pipeline.producer:
            kept[kind].append(key)
    return kept


def _check_matches(comp, ds, path: Path) -> None:
    def fail(what: str, got, want) -> None:
        raise DataFileError(f"restart file '{path}' is for {what} {got}, this run has {want}")

    if int(ds.host_cells) != comp.host.n:
        fail("a host grid of", f"{int(ds.host_cells)} cells", f"{comp.host.n}")
    if ds.calendar != comp.calendar:
        fail("the calendar", ds.calendar, comp.calendar)
    if ds.steps != ",".join(s.name for s in comp.steps):
        fail("steps", ds.steps, ",".join(s.name for s in comp.steps))
    if comp.fine is not None and getattr(ds, "fine_grid", None) != comp.fine.grid.spec:
        fail("the fine grid", getattr(ds, "fine_grid", "none"), comp.fine.grid.spec)
