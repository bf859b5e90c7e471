"""Offline map generation (`landemu regrid SRC DST -o MAP.nc`): grid specs or files in, an ESMF
map file out, computed in destination row blocks spread over the MPI ranks (rank r computes
blocks r, r+P, ...; rank 0 streams them to the file in order), with a progress bar on a terminal.
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from mpi4py import MPI

from coupler.errors import GridError, RegridError
from coupler.grids.host import HostGrid
from coupler.grids.latlon import LatLonGrid
from coupler.regrid.esmpy_backend import esmpy_available, esmpy_map
from coupler.regrid.mapfile import write_esmf
from coupler.regrid.overlaps import lat_overlaps, lon_overlaps, outer
from coupler.regrid.separable import covered_areas
from coupler.regrid.weights import (
    METHODS,
    NORMALIZATIONS,
    Weights,
    interpolation_weights,
    normalize,
)

_TARGET_NNZ = 1 << 21  # nonzeros per row block


@dataclass
class ResolvedGrid:
    """A grid argument: its lat-lon form (if any), its host form (if from a file), its mask."""

    spec: str
    latlon: LatLonGrid | None
    host: HostGrid | None
    mask: np.ndarray | None

    @property
    def geometry(self) -> LatLonGrid | HostGrid:
        return self.host if self.host is not None else self.latlon


def resolve_grid(spec: str) -> ResolvedGrid:
    """`latlon:NLAT,NLON:S,N,W,E` or a SCRIP grid / E3SM domain file."""
    if spec.lower().startswith("latlon:"):
        return ResolvedGrid(spec, LatLonGrid.parse(spec), None, None)
    if not os.path.exists(spec):
        raise GridError(f"grid '{spec}' is neither a latlon:NLAT,NLON:S,N,W,E spec nor a file")
    host = HostGrid.from_file(spec)
    mask = None if np.all(host.mask != 0) else host.mask
    return ResolvedGrid(spec, host.latlon, host, mask)


def _row_blocks(src: LatLonGrid, dst: LatLonGrid) -> list[tuple[int, int]]:
    """Destination row blocks of about _TARGET_NNZ nonzeros each."""
    per_row = max(1.0, (src.nlat / dst.nlat + 1.0) * (src.nlon + dst.nlon))
    rows = int(max(1, min(dst.nlat, _TARGET_NNZ // per_row)))
    return [(j, min(dst.nlat, j + rows)) for j in range(0, dst.nlat, rows)]


def _block(
    src: LatLonGrid,
    dst: LatLonGrid,
    j0: int,
    j1: int,
    ma: np.ndarray | None,
    mb: np.ndarray | None,
    normalization: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Normalised nonzeros of destination rows j0..j1-1 and their frac_b (rows*nlon,)."""
    p, q = lat_overlaps(src, dst, j0, j1), lon_overlaps(src, dst)
    rows, cols, area = outer(p, q, (j0, j1), (0, dst.nlon), dst.nlon, src.nlon)
    base = j0 * dst.nlon
    area_b = dst.areas(j0, j1).ravel()
    if ma is None and mb is None:  # as conservative_weights: from the 1-D factors
        frac_b = covered_areas(p, q, (j0, j1), dst.nlon) / area_b
    else:
        keep = np.ones(rows.size, bool)
        if ma is not None:
            keep &= ma[cols] != 0
        if mb is not None:
            keep &= mb[rows] != 0
        rows, cols, area = rows[keep], cols[keep], area[keep]
        frac_b = np.bincount(rows - base, area, area_b.size) / area_b
    S = normalize(rows - base, area, area_b, frac_b, normalization)
    return rows, cols, S, frac_b


def generate_conservative(
    src: ResolvedGrid,
    dst: ResolvedGrid,
    out: str | os.PathLike,
    normalization: str = "fracarea",
    comm: MPI.Comm = MPI.COMM_WORLD,
    progress: bool | None = None,
) -> Path | None:
    """Write the conservative ESMF map src → dst (collective); returns the path on rank 0."""
    s, d = src.latlon, dst.latlon
    P, me = comm.size, comm.rank
    blocks = _row_blocks(s, d)
    mine: dict[int, tuple] = {}
    frac_a = np.zeros(s.size)
    for b in range(me, len(blocks), P):
        j0, j1 = blocks[b]
        rows, cols, S, frac_b = _block(s, d, j0, j1, src.mask, dst.mask, normalization)
        if normalization == "fracarea":
            area = S * (d.areas(j0, j1).ravel() * frac_b)[rows - j0 * d.nlon]
        elif normalization == "dstarea":
            area = S * d.areas(j0, j1).ravel()[rows - j0 * d.nlon]
        else:
            area = S
        if cols.size:
            c0 = int(cols.min())
            frac_a[c0 : c0 + int(cols.max()) - c0 + 1] += np.bincount(cols - c0, area)
        mine[b] = (rows, cols, S, frac_b)
    total = comm.allreduce(sum(v[2].size for v in mine.values()))
    fa = np.zeros_like(frac_a) if me == 0 else None
    comm.Reduce(frac_a, fa, op=MPI.SUM, root=0)
    frac_b_all = None
    if me == 0:
        frac_b_all = np.zeros(d.size)
    # stream blocks to rank 0 in order
    if progress is None:
        progress = sys.stderr.isatty()
    bar = None
    if me == 0 and progress and len(blocks) > 1:
        from tqdm import tqdm

        bar = tqdm(total=len(blocks), desc="landemu regrid", unit="block")

    def parts():
        for b, (j0, j1) in enumerate(blocks):
            owner = b % P
            data = mine.pop(b) if owner == 0 else comm.recv(source=owner, tag=b)
            frac_b_all[j0 * d.nlon : j1 * d.nlon] = data[3]
            if bar is not None:
                bar.update(1)
            yield data[0], data[1], data[2]

    path = None
    if me == 0:
        area_a = s.areas().ravel()
        w = Weights(
            s.size,
            d.size,
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            np.zeros(0),
            area_a,
            d.areas().ravel(),
            fa / area_a,
            frac_b_all,
            _mask(src.mask, s.size),
            _mask(dst.mask, d.size),
            s.shape,
            d.shape,
            "conservative",
            normalization,
        )
        # frac_b is filled while streaming; write it after the weights by a second pass
        path = write_esmf(out, w, src.geometry, dst.geometry, parts(), total)
        _rewrite_var(path, "frac_b", frac_b_all)
        if bar is not None:
            bar.close()
    else:
        for b, data in sorted(mine.items()):
            comm.send(data, dest=0, tag=b)
    comm.Barrier()
    return path


def _mask(mask: np.ndarray | None, n: int) -> np.ndarray:
    return np.ones(n, np.int32) if mask is None else (np.asarray(mask) != 0).astype(np.int32)


def _rewrite_var(path: Path, name: str, values: np.ndarray) -> None:
    import netCDF4

    with netCDF4.Dataset(str(path), "a") as ds:
        ds.variables[name][:] = values


def generate_map(
    src_spec: str,
    dst_spec: str,
    out: str | os.PathLike,
    method: str = "conservative",
    normalization: str = "fracarea",
    comm: MPI.Comm = MPI.COMM_WORLD,
    progress: bool | None = None,
) -> Path | None:
    """Resolve the two grids and write the map (exact lat-lon weights, or esmpy if needed)."""
    if method not in METHODS:
        raise RegridError(f"method '{method}' is not one of {', '.join(METHODS)}")
    if normalization not in NORMALIZATIONS:
        raise RegridError(f"normalization '{normalization}' is not one of {NORMALIZATIONS}")
    src, dst = resolve_grid(src_spec), resolve_grid(dst_spec)
    if src.latlon is None or dst.latlon is None:
        which = src_spec if src.latlon is None else dst_spec
        if not esmpy_available():
            raise RegridError(
                f"grid '{which}' is not a regular lat-lon grid, landemu's exact weights need "
                "lat-lon on both sides, and esmpy is not importable; make the map offline "
                "(ESMF_RegridWeightGen, `ncremap -a nco`, TempestRemap) and pass it to landemu"
            )
        if comm.rank == 0:
            with tempfile.TemporaryDirectory() as tmp:
                paths = []
                for k, g in enumerate((src, dst)):
                    p = Path(tmp) / f"g{k}.nc"
                    (g.host or HostGrid.from_latlon(g.latlon)).write_scrip(p)
                    paths.append(p)
                return esmpy_map(paths[0], paths[1], out, method, normalization)
        return None
    if method == "conservative":
        return generate_conservative(src, dst, out, normalization, comm, progress)
    if comm.rank != 0:
        return None
    w = interpolation_weights(src.latlon, dst.latlon, method)
    return write_esmf(out, w, src.geometry, dst.geometry, title=f"landemu {method} weights")
