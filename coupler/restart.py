"""Restart files: everything the next step needs, decomposition-free, written in parallel.

What is stored is whatever the component's owners of state declare
(`Component.persistent()`, coupler/persistence.py): this module knows no kind of state
by name. A restart is two files written side by side:

* `NAME.nc` (netCDF): scalars (times in seconds, counters) and host-column arrays stored
  by global cell id (small: the root gathers them), plus a description of the fine data.
* `NAME.nc.fine` (raw little-endian): every fine-tile array, at a fixed offset computed
  from the configuration alone — entry after entry in declaration order, each entry's land
  tiles in tile-id order, each tile's (*cell_shape, ny, nx) block in C order. Every rank
  writes its own tiles' blocks at their offsets at the same time (no rank-by-rank pass,
  no gather of fine fields), and reads back the blocks of the tiles it owns, so a restart
  is O(local) per rank and readable on any number of ranks (tiles are fixed by
  `fine.tile`, never by the rank count).

Both are written under `.partial` names and renamed (data first, then the netCDF file)
only when every rank has finished, so a restart file is always complete.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import netCDF4
import numpy as np

from coupler import __version__
from coupler.errors import DataFileError, LandemuError, shorten
from coupler.persistence import Persistent, check_unique

FINE_SUFFIX = ".fine"


# --- the fine-data layout (pure) --------------------------------------------------------


def fine_layout(entries: list[Persistent], tilings: dict, land_tiles: dict) -> dict:
    """{key: {offset, cell_shape, dtype, grid}}, the land tiles of each fine grid and the
    total size, from the configuration only (tilings, land_tiles: per fine grid name)."""
    offset = 0
    layout: dict[str, dict] = {}
    for e in entries:
        if e.where != "fine":
            continue
        cells = sum(tilings[e.grid].tile(int(t)).size for t in land_tiles[e.grid])
        itemsize = np.dtype(e.dtype).itemsize * int(np.prod(e.cell_shape, dtype=np.int64))
        layout[e.key] = {
            "offset": offset,
            "cell_shape": list(e.cell_shape),
            "dtype": e.dtype,
            "grid": e.grid,
        }
        offset += itemsize * cells
    tiles = {g: [int(t) for t in land] for g, land in land_tiles.items()}
    return {"entries": layout, "tiles": tiles, "bytes": offset}


def _tile_offsets(e: Persistent, fine, layout: dict) -> tuple[np.dtype, dict[int, int]]:
    """Little-endian dtype of entry `e` and the file offset of each land tile's block."""
    dt = np.dtype(e.dtype).newbyteorder("<")
    block = dt.itemsize * int(np.prod(e.cell_shape, dtype=np.int64))
    out, pos = {}, layout["entries"][e.key]["offset"]
    for t in layout["tiles"][e.grid]:
        out[int(t)] = pos
        pos += fine.tiling.tile(int(t)).size * block
    return dt, out


def _land_tiles(comp) -> dict[str, np.ndarray]:
    return {g: np.flatnonzero(f.owner >= 0) for g, f in comp.fines.items()}


def _tilings(comp) -> dict:
    return {g: f.tiling for g, f in comp.fines.items()}


# --- writing ---------------------------------------------------------------------------------


def write_restart(comp, path: str | Path | None = None) -> Path:
    """Write the component's restart file (collective); return its path.

    Every step is agreed over the ranks, so a failure on any rank (a bad path, a full
    disk, a rank that cannot write its tiles) is reported on all of them, and the
    `.partial` files are removed: a restart either exists complete or not at all."""
    comm, agreement = comp.comm, comp.agreement
    with agreement.phase("write_restart"):
        path = restart_path(comp, path)
        entries = comp.persistent()
        check_unique(entries)
    partial = path.with_name(path.name + ".partial")
    fine_path = path.with_name(path.name + FINE_SUFFIX)
    fine_partial = fine_path.with_name(fine_path.name + ".partial")
    has_fine = any(e.where == "fine" for e in entries)
    layout = fine_layout(entries, _tilings(comp), _land_tiles(comp)) if has_fine else None
    all_ids = comm.gather(comp.ids0, root=0)
    host_parts = comm.gather({e.key: e.get() for e in entries if e.where == "host"}, root=0)
    try:
        with agreement.phase("write_restart"):
            if comm.rank == 0 and has_fine:
                _file_step(fine_partial, _allocate, fine_partial, layout["bytes"])
        with agreement.phase("write_restart"):  # every rank writes its own tiles at once
            comp.faults.hit("restart")
            if has_fine:
                _file_step(fine_partial, _write_tiles, comp, fine_partial, entries, layout)
        with agreement.phase("write_restart"):
            if comm.rank == 0:
                args = (comp, partial, entries, all_ids, host_parts, layout, fine_path.name)
                _file_step(partial, _create, *args)
        with agreement.phase("write_restart"):
            if comm.rank == 0:
                if has_fine:
                    _file_step(fine_path, os.replace, fine_partial, fine_path)
                _file_step(path, os.replace, partial, path)
    except LandemuError:
        if comm.rank == 0:
            for p in (partial, fine_partial):
                if p.is_file():
                    p.unlink()
        raise
    if comm.rank == 0:
        comp.log.info("restart written to %s", path)
    return path


def _allocate(path: Path, size: int) -> None:
    """The data file at its full size, so that every rank can write at its offsets."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(size)


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


def _write_tiles(comp, fine_partial: Path, entries: list[Persistent], layout: dict) -> None:
    """This rank's tile blocks, each at its fixed offset (all ranks at once)."""
    fd = os.open(fine_partial, os.O_WRONLY)
    try:
        for e in entries:
            if e.where != "fine":
                continue
            fine = comp.fines[e.grid]
            dt, offsets = _tile_offsets(e, fine, layout)
            for td, a in zip(fine.tiles, e.get(), strict=True):
                os.pwrite(fd, np.ascontiguousarray(a, dt).tobytes(), offsets[td.tile.id])
        os.fsync(fd)
    finally:
        os.close(fd)


def _create(comp, partial: Path, entries, all_ids, host_parts, layout, fine_name: str) -> None:
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
        for g, fine in comp.fines.items():
            if g != "fine":
                ds.setncattr(f"grid_{g}", _grid_text(fine))
        if layout is not None:
            ds.fine_data_file = fine_name
            ds.fine_layout = json.dumps(layout)
        ds.createDimension("host_cell", n)
        for e in entries:
            if e.where == "scalar":
                ds.createVariable(e.key, "i8").assignValue(int(e.get()))
            elif e.where == "host":
                dims = []
                for k, size in enumerate(e.cell_shape):
                    dims.append(f"{e.key}_d{k}")
                    ds.createDimension(dims[-1], size)
                g = np.zeros((*e.cell_shape, n), e.dtype)
                for ids, part in zip(all_ids, host_parts, strict=True):
                    g[..., ids] = part[e.key]
                ds.createVariable(e.key, e.dtype, (*dims, "host_cell"))[:] = g


# --- reading ---------------------------------------------------------------------------------


def read_restart(comp, path: str | Path) -> None:
    """Restore the component from a restart file (collective; any number of ranks)."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"restart file '{path}' does not exist")
    entries = comp.persistent()
    check_unique(entries)
    values: dict[str, object] = {}
    try:
        with netCDF4.Dataset(path, "r") as ds:
            _check_matches(comp, ds, path)
            missing = [e.key for e in entries if e.where != "fine" and e.key not in ds.variables]
            if missing:
                _lacks(path, missing)
            for e in entries:
                if e.where == "scalar":
                    values[e.key] = int(ds[e.key][...])
                elif e.where == "host":
                    values[e.key] = np.asarray(ds[e.key][..., comp.ids0], e.dtype)
            fine_name = getattr(ds, "fine_data_file", None)
            stored = json.loads(ds.fine_layout) if fine_name else None
    except OSError as exc:
        raise DataFileError(f"restart file '{path}' cannot be read: {exc}") from None
    fine_entries = [e for e in entries if e.where == "fine"]
    if fine_entries:
        values.update(_read_tiles(comp, path, fine_name, stored, entries))
    for e in entries:
        e.set(values[e.key])
    if comp.comm.rank == 0:
        comp.log.info("restarted from %s at %s", path, comp.now)


def _read_tiles(comp, path: Path, fine_name, stored, entries) -> dict[str, list[np.ndarray]]:
    layout = fine_layout(entries, _tilings(comp), _land_tiles(comp))
    if stored is None:
        _lacks(path, [e.key for e in entries if e.where == "fine"])
    missing = [k for k in layout["entries"] if k not in stored["entries"]]
    if missing:
        _lacks(path, missing)
    if stored["tiles"] != layout["tiles"]:
        raise DataFileError(
            f"restart file '{path}' holds other fine tiles than this run has "
            "(another land mask, fine.tile or grids: entry?)"
        )
    data = path.with_name(fine_name)
    if not data.is_file() or data.stat().st_size != stored["bytes"]:
        raise DataFileError(
            f"restart data file '{data}' is missing or not {stored['bytes']} bytes long"
        )
    out: dict[str, list[np.ndarray]] = {}
    fd = os.open(data, os.O_RDONLY)
    try:
        for e in entries:
            if e.where != "fine":
                continue
            spec = stored["entries"][e.key]
            if tuple(spec["cell_shape"]) != e.cell_shape or spec["dtype"] != e.dtype:
                raise DataFileError(
                    f"restart file '{path}': {e.key} is {spec['dtype']} {spec['cell_shape']} "
                    f"per cell there, this run declares {e.dtype} {list(e.cell_shape)}"
                )
            fine = comp.fines[e.grid]
            dt, offsets = _tile_offsets(e, fine, stored)
            tiles = []
            for td in fine.tiles:
                shape = (*e.cell_shape, *td.tile.shape)
                raw = os.pread(fd, dt.itemsize * int(np.prod(shape)), offsets[td.tile.id])
                tiles.append(np.frombuffer(raw, dt).astype(e.dtype).reshape(shape))
            out[e.key] = tiles
    finally:
        os.close(fd)
    return out


def _lacks(path: Path, missing: list[str]) -> None:
    raise DataFileError(
        f"restart file '{path}' lacks {len(missing)} variable(s) this configuration "
        f"needs, e.g. {missing[0]}: was it written with another configuration?"
    )


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
    if comp.fine is not None and hasattr(ds, "fine_tile"):
        tile = f"{comp.fine.tiling.tile_ny},{comp.fine.tiling.tile_nx}"
        if ds.fine_tile != tile:
            fail("fine tiles of", ds.fine_tile, tile)
    for g, fine in comp.fines.items():
        if g != "fine" and getattr(ds, f"grid_{g}", None) != _grid_text(fine):
            fail(f"grid '{g}'", getattr(ds, f"grid_{g}", "none"), _grid_text(fine))


def _grid_text(fine) -> str:
    """A named fine grid and its tiles, as the restart file records them."""
    return f"{fine.grid.spec} tile {fine.tiling.tile_ny},{fine.tiling.tile_nx}"
