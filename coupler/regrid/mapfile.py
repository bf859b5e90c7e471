"""ESMF and SCRIP mapping files: write ESMF format, read ESMF or SCRIP (CDO) format, serially or
distributed the E3SM way (rank 0 reads chunks once and scatters them; no rank holds the matrix).

ESMF: dims n_a, n_b, n_s, nv_a, nv_b, src_grid_rank, dst_grid_rank; S, row, col (1-based,
dst(row) += S·src(col)), frac_a/b, area_a/b (sr), mask_a/b, xc/yc (deg), xv/yv (deg),
src/dst_grid_dims (Fortran order). SCRIP: remap_matrix(num_links, num_wgts), src_address,
dst_address, src/dst_grid_area/frac/imask/center_lat/center_lon (radians), grid_dims.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from mpi4py import MPI

from coupler.errors import RegridError
from coupler.grids.host import HostGrid
from coupler.grids.latlon import LatLonGrid
from coupler.grids.ncio import angle_to_degrees, atomic_dataset, open_dataset, read_var
from coupler.regrid.weights import Weights

Geometry = LatLonGrid | HostGrid
_WHAT = "map file"
_CHUNK = 1 << 20
_NEG_TOL = 1e-13


@dataclass
class MapHeader:
    """What a map file says about itself (sizes, format, normalisation)."""

    path: str
    fmt: str  # 'esmf' or 'scrip'
    n_a: int
    n_b: int
    n_s: int
    src_dims: tuple[int, ...]
    dst_dims: tuple[int, ...]
    normalization: str
    names: dict  # S/row/col variable names in this format


# -- writing ------------------------------------------------------------------------------------


def _geometry_rows(grid: Geometry, chunk: int) -> Iterable[tuple[int, np.ndarray, ...]]:
    """Yield (start, yc, xc, yv, xv) in chunks of cells (lat-lon grids computed on the fly)."""
    if isinstance(grid, LatLonGrid):
        rows = max(1, chunk // grid.nlon)
        for j0 in range(0, grid.nlat, rows):
            j1 = min(grid.nlat, j0 + rows)
            yc, xc = grid.centres(j0, j1)
            yv, xv = grid.corners(j0, j1)
            yield j0 * grid.nlon, yc, xc, yv, xv
    else:
        for s in range(0, grid.n, chunk):
            e = min(grid.n, s + chunk)
            yield (
                s,
                grid.center_lat[s:e],
                grid.center_lon[s:e],
                grid.corner_lat[s:e],
                grid.corner_lon[s:e],
            )


def _nv(grid: Geometry) -> int:
    return 4 if isinstance(grid, LatLonGrid) else grid.nv


def _dims(grid: Geometry) -> tuple[int, ...]:
    return grid.shape if isinstance(grid, LatLonGrid) else tuple(grid.dims)


def write_esmf(
    path: str | os.PathLike,
    w: Weights,
    src: Geometry,
    dst: Geometry,
    parts: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None,
    n_s: int | None = None,
    title: str = "landemu conservative weights",
) -> Path:
    """Write an ESMF map file (atomically).

    w supplies n_a, n_b, frac/area/mask and, unless `parts` is given, S/row/col (0-based).
    parts : optional iterable of (rows, cols, S) blocks in file order (streamed; n_s = total)
    so a large map never needs to be held whole.
    """
    if parts is None:
        parts, n_s = [(w.rows, w.cols, w.S)], w.n_s
    with atomic_dataset(path, "NETCDF4") as ds:
        ds.set_fill_off()
        ds.title = title
        ds.normalization = w.normalization
        ds.map_method = {
            "conservative": "Conservative remapping",
            "bilinear": "Bilinear remapping",
            "nearest": "Nearest source to destination",
        }.get(w.method, w.method)
        ds.conventions = "NCAR-CSM"
        ds.domain_a = getattr(src, "spec", "") or getattr(src, "source", "")
        ds.domain_b = getattr(dst, "spec", "") or getattr(dst, "source", "")
        ds.created_by = "landemu regrid"
        for key, val in w.attrs.items():
            ds.setncattr(key, val)
        for name, size in (
            ("n_a", w.n_a),
            ("n_b", w.n_b),
            ("n_s", int(n_s)),
            ("nv_a", _nv(src)),
            ("nv_b", _nv(dst)),
            ("src_grid_rank", len(_dims(src))),
            ("dst_grid_rank", len(_dims(dst))),
        ):
            ds.createDimension(name, size)
        # define everything first (re-entering define mode would move data already written)
        v = {}
        v["src_grid_dims"] = ds.createVariable("src_grid_dims", "i4", ("src_grid_rank",))
        v["dst_grid_dims"] = ds.createVariable("dst_grid_dims", "i4", ("dst_grid_rank",))
        for s_ in ("a", "b"):
            n = f"n_{s_}"
            for name, units, dims, typ in (
                ("yc", "degrees", (n,), "f8"),
                ("xc", "degrees", (n,), "f8"),
                ("yv", "degrees", (n, f"nv_{s_}"), "f8"),
                ("xv", "degrees", (n, f"nv_{s_}"), "f8"),
                ("mask", "unitless", (n,), "i4"),
                ("area", "square radians", (n,), "f8"),
                ("frac", "unitless", (n,), "f8"),
            ):
                v[f"{name}_{s_}"] = ds.createVariable(f"{name}_{s_}", typ, dims)
                v[f"{name}_{s_}"].units = units
        for name, typ in (("col", "i4"), ("row", "i4"), ("S", "f8")):
            v[name] = ds.createVariable(name, typ, ("n_s",))
        v["src_grid_dims"][:] = _dims(src)[::-1]
        v["dst_grid_dims"][:] = _dims(dst)[::-1]
        for s_, grid in (("a", src), ("b", dst)):
            for start, yc, xc, yv, xv in _geometry_rows(grid, _CHUNK):
                e = start + yc.size
                v[f"yc_{s_}"][start:e], v[f"xc_{s_}"][start:e] = yc, xc
                v[f"yv_{s_}"][start:e], v[f"xv_{s_}"][start:e] = yv, xv
            for name in ("mask", "area", "frac"):
                v[f"{name}_{s_}"][:] = getattr(w, f"{name}_{s_}")
        k = 0
        for rows, cols, S in parts:
            e = k + S.size
            v["row"][k:e] = np.asarray(rows, np.int64) + 1
            v["col"][k:e] = np.asarray(cols, np.int64) + 1
            v["S"][k:e] = S
            k = e
        if k != n_s:
            raise RegridError(f"map file '{path}': wrote {k} weights, expected n_s={n_s}")
    return Path(path)


# -- reading ------------------------------------------------------------------------------------


def read_header(path: str | os.PathLike, ds=None) -> MapHeader:
    """Sizes and format of an ESMF or SCRIP map file (RegridError naming the file otherwise)."""
    own = ds is None
    ds = open_dataset(path, RegridError, _WHAT) if own else ds
    try:
        dims, names = ds.dimensions, set(ds.variables)
        if {"S", "row", "col"} <= names:
            need = ("n_a", "n_b", "n_s")
            fmt, vn = (
                "esmf",
                {
                    "S": "S",
                    "row": "row",
                    "col": "col",
                    "dim_a": "n_a",
                    "dim_b": "n_b",
                    "src_dims": "src_grid_dims",
                    "dst_dims": "dst_grid_dims",
                },
            )
        elif {"remap_matrix", "src_address", "dst_address"} <= names:
            need = ("src_grid_size", "dst_grid_size", "num_links")
            fmt, vn = (
                "scrip",
                {
                    "S": "remap_matrix",
                    "row": "dst_address",
                    "col": "src_address",
                    "dim_a": "src_grid_size",
                    "dim_b": "dst_grid_size",
                    "src_dims": "src_grid_dims",
                    "dst_dims": "dst_grid_dims",
                },
            )
        else:
            raise RegridError(
                f"map file '{path}' is neither ESMF (S, row, col) nor SCRIP (remap_matrix, "
                f"src_address, dst_address); it has variables {sorted(names)[:12]}"
            )
        missing = [d for d in need if d not in dims]
        if missing:
            raise RegridError(f"map file '{path}' lacks dimension(s) {', '.join(missing)}")
        n_a, n_b, n_s = (len(dims[d]) for d in need)
        for key in ("S", "row", "col"):
            got = ds.variables[vn[key]].shape[0]
            if got != n_s:
                raise RegridError(
                    f"map file '{path}': variable {vn[key]} has {got} entries, expected n_s={n_s}"
                )

        def gdims(name: str, n: int) -> tuple[int, ...]:
            if name not in names:
                return (n,)
            return tuple(int(d) for d in read_var(ds, name, RegridError, _WHAT, dtype=np.int64))[
                ::-1
            ]

        norm = str(getattr(ds, "normalization", "fracarea")).lower()
        norm = {"destarea": "dstarea", "dstarea": "dstarea", "none": "none"}.get(norm, "fracarea")
        return MapHeader(
            str(path),
            fmt,
            n_a,
            n_b,
            n_s,
            gdims(vn["src_dims"], n_a),
            gdims(vn["dst_dims"], n_b),
            norm,
            vn,
        )
    finally:
        if own:
            ds.close()


def _check_header(h: MapHeader, n_a: int | None, n_b: int | None) -> None:
    for got, want, what in (
        (h.n_a, n_a, "n_a (source cells)"),
        (h.n_b, n_b, "n_b (destination cells)"),
    ):
        if want is not None and got != want:
            raise RegridError(
                f"map file '{h.path}': {what} is {got}, but the grid has {want} cells"
            )


def _read_chunk(
    ds, h: MapHeader, s: int, e: int, allow_negative: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows/cols (0-based) and S of entries s..e-1, validated."""
    vn = h.names
    idx = (slice(s, e), 0) if h.fmt == "scrip" and ds.variables[vn["S"]].ndim == 2 else slice(s, e)
    S = read_var(ds, vn["S"], RegridError, _WHAT, idx)
    row = read_var(ds, vn["row"], RegridError, _WHAT, slice(s, e), np.int64) - 1
    col = read_var(ds, vn["col"], RegridError, _WHAT, slice(s, e), np.int64) - 1
    for arr, n, name in ((row, h.n_b, vn["row"]), (col, h.n_a, vn["col"])):
        bad = (arr < 0) | (arr >= n)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise RegridError(
                f"map file '{h.path}': {name}[{s + k}] = {int(arr[k]) + 1} is outside 1..{n}"
            )
    bad = ~np.isfinite(S) | ((S < -_NEG_TOL) if not allow_negative else False)
    if np.any(bad):
        k = int(np.flatnonzero(bad)[0])
        raise RegridError(
            f"map file '{h.path}': weight {vn['S']}[{s + k}] = {float(S[k])!r} is "
            + (
                "not finite"
                if not np.isfinite(S[k])
                else "negative (first-order conservative weights must be >= 0; pass "
                "allow_negative=True for higher-order maps)"
            )
        )
    return row, col, S


def _grid_arrays(ds, h: MapHeader, side: str) -> dict[str, np.ndarray]:
    """area, frac, mask (and centres in degrees) of side 'a' or 'b'."""
    names = set(ds.variables)
    n = h.n_a if side == "a" else h.n_b
    if h.fmt == "esmf":
        vn = {k: f"{k}_{side}" for k in ("area", "frac", "mask", "xc", "yc")}
    else:
        p = "src_grid_" if side == "a" else "dst_grid_"
        vn = {
            "area": p + "area",
            "frac": p + "frac",
            "mask": p + "imask",
            "xc": p + "center_lon",
            "yc": p + "center_lat",
        }
    out: dict[str, np.ndarray] = {}
    for key, default in (("area", np.nan), ("frac", 1.0), ("mask", 1)):
        out[key] = (
            read_var(
                ds, vn[key], RegridError, _WHAT, dtype=np.int32 if key == "mask" else np.float64
            )
            if vn[key] in names
            else np.full(n, default)
        )
    for key in ("xc", "yc"):
        if vn[key] in names:
            out[key] = angle_to_degrees(
                read_var(ds, vn[key], RegridError, _WHAT),
                getattr(ds.variables[vn[key]], "units", "degrees"),
            )
    return out


def read_map(
    path: str | os.PathLike,
    n_a: int | None = None,
    n_b: int | None = None,
    allow_negative: bool = False,
) -> Weights:
    """Read a whole ESMF or SCRIP map file (serial; for tests, checks and small maps).

    n_a, n_b : expected grid sizes (RegridError if the file disagrees).
    Returns Weights (0-based ids); centres, if present, in attrs['xc_a'] etc. (degrees).
    """
    ds = open_dataset(path, RegridError, _WHAT)
    try:
        h = read_header(path, ds)
        _check_header(h, n_a, n_b)
        row, col, S = _read_chunk(ds, h, 0, h.n_s, allow_negative)
        a, b = _grid_arrays(ds, h, "a"), _grid_arrays(ds, h, "b")
        method = str(getattr(ds, "map_method", "conservative")).lower()
    finally:
        ds.close()
    attrs = {f"{k}_{s}": g[k] for s, g in (("a", a), ("b", b)) for k in ("xc", "yc") if k in g}
    return Weights(
        h.n_a,
        h.n_b,
        row,
        col,
        S,
        a["area"],
        b["area"],
        a["frac"],
        b["frac"],
        a["mask"],
        b["mask"],
        h.src_dims,
        h.dst_dims,
        "conservative" if "conserv" in method else method,
        h.normalization,
        attrs,
    )


def read_map_distributed(
    path: str | os.PathLike,
    comm: MPI.Comm,
    n_a: int | None = None,
    n_b: int | None = None,
    chunk: int = _CHUNK,
    allow_negative: bool = False,
) -> tuple[MapHeader, np.ndarray, np.ndarray, np.ndarray]:
    """Read a map file the E3SM way: rank 0 reads `chunk` entries at a time and scatters each
    chunk evenly; every rank returns (header, rows, cols, S) with its ~n_s/P entries (0-based),
    ready for SparseRemap.build (which routes them to their owners). Errors raise on all ranks.
    """
    header, err, ds = None, "", None
    if comm.rank == 0:
        try:
            ds = open_dataset(path, RegridError, _WHAT)
            header = read_header(path, ds)
            _check_header(header, n_a, n_b)
        except RegridError as exc:
            err = str(exc)
    header, err = comm.bcast((header, err), root=0)
    if err:
        if ds is not None:
            ds.close()
        raise RegridError(err)
    P = comm.size
    rows, cols, vals = [], [], []
    for s in range(0, header.n_s, chunk):
        e = min(header.n_s, s + chunk)
        n = e - s
        counts = [(n * (k + 1)) // P - (n * k) // P for k in range(P)]
        displs = [(n * k) // P for k in range(P)]
        data = None
        if comm.rank == 0:
            try:
                r, c, S = _read_chunk(ds, header, s, e, allow_negative)
                data = (r, c, S)
            except RegridError as exc:
                err = str(exc)
        err = comm.bcast(err, root=0)
        if err:
            if ds is not None:
                ds.close()
            raise RegridError(err)
        mine = counts[comm.rank]
        out = [np.empty(mine, np.int64), np.empty(mine, np.int64), np.empty(mine, np.float64)]
        for k, t in enumerate((MPI.INT64_T, MPI.INT64_T, MPI.DOUBLE)):
            send = [data[k], (counts, displs), t] if comm.rank == 0 else None
            comm.Scatterv(send, [out[k], t], root=0)
        rows.append(out[0])
        cols.append(out[1])
        vals.append(out[2])
    if ds is not None:
        ds.close()
    cat = np.concatenate
    if not rows:
        return header, np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return header, cat(rows), cat(cols), cat(vals)


def read_dst_arrays(path: str | os.PathLike, ids: np.ndarray) -> dict[str, np.ndarray]:
    """area_b, frac_b, mask_b of the destination cells `ids` (0-based), reading only the span
    of ids (each rank calls it for its own cells)."""
    ids = np.asarray(ids, np.int64)
    ds = open_dataset(path, RegridError, _WHAT)
    try:
        h = read_header(path, ds)
        out = {}
        if ids.size == 0:
            return {k: np.zeros(0) for k in ("area", "frac", "mask")}
        lo, hi = int(ids.min()), int(ids.max()) + 1
        p = "_b" if h.fmt == "esmf" else ""
        pre = "" if h.fmt == "esmf" else "dst_grid_"
        for key, name in (
            ("area", "area"),
            ("frac", "frac"),
            ("mask", "mask" if h.fmt == "esmf" else "imask"),
        ):
            vname = f"{pre}{name}{p}"
            if vname in ds.variables:
                out[key] = read_var(ds, vname, RegridError, _WHAT, slice(lo, hi))[ids - lo]
            else:
                out[key] = np.ones(ids.size)
        return out
    finally:
        ds.close()
