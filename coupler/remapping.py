"""The two remaps of a coupling step, between this rank's host cells and its fine tiles.

Host → fine (forcing) fills each tile plus halo by the configured method; fine → host
(exports) is first-order conservative over the fine land mask: with 'fracarea' each host
cell gets the area-weighted mean over the land under it, with 'dstarea' that mean times
the land fraction. Partial sums are formed per fine tile, so results do not depend on which
rank owns a tile. Both are built once at set_decomposition (coupler.regrid does the work).

On a regular lat-lon host grid the weights are generated exactly, tile by tile. Any other
host grid (cubed sphere, unstructured) brings ESMF or SCRIP map files made offline (ESMF,
NCO, CDO, TempestRemap or `landemu regrid`): host → fine mapping host cells to the fine
grid, fine → host mapping the fine grid to host cells with 'dstarea' weights and no mask
(the fine land mask and the 'fracarea' division are applied here). They are read the E3SM
way: rank 0 reads chunks and scatters them, and no rank keeps the whole matrix.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from coupler.errors import ConfigError, GridError
from coupler.finegrid import FineDomain
from coupler.grids.host import HostGrid
from coupler.regrid.mapfile import read_map_distributed
from coupler.regrid.regridder import Regridder
from coupler.regrid.router import SparseRemap
from coupler.reuse import unreferenced


def _need_map(host: HostGrid, key: str) -> None:
    raise ConfigError(
        f"host grid '{host.source}' is not a regular lat-lon grid: give remap.{key}, an ESMF "
        "or SCRIP map file (e.g. from `landemu regrid`, ESMF_RegridWeightGen, ncremap or cdo)"
    )


class HostToFine:
    """Host fields (nvar, n_host_local) → per owned tile (nvar, ny+2h, nx+2h)."""

    def __init__(
        self,
        comm,
        host: HostGrid,
        host_ids0: np.ndarray,
        fine: FineDomain,
        method: str,
        map_file: Path | None = None,
    ) -> None:
        self.fine = fine
        self.method = method
        windows = [td.window for td in fine.tiles]
        if map_file is not None:
            _, rows, cols, S = read_map_distributed(map_file, comm, n_a=host.n, n_b=fine.grid.size)
            dst = [fine.grid.ids(*w) for w in windows]
            self.regridder = Regridder.from_weights(
                comm,
                rows,
                cols,
                S,
                host_ids0,
                _ids(dst),
                host.n,
                fine.grid.size,
            )
        elif host.latlon is not None:
            self.regridder = Regridder.host_to_tiles(
                comm, host.latlon, host_ids0, fine.grid, windows, method=method
            )
        else:
            _need_map(host, "host_to_fine_map")
        self._offsets = window_offsets(windows)
        self._buffers: dict[int, np.ndarray] = {}
        # Fine land must get forcing; fine ocean outside the host's active cells gets NaN.
        covered = self._per_tile(self.regridder.covered.astype(np.float64)[None])
        uncovered = sum(
            int(np.count_nonzero(td.mask & (fine.interior(c[0]) == 0)))
            for td, c in zip(fine.tiles, covered, strict=True)
        )
        total = sum(comm.allgather(uncovered))
        if total:
            raise GridError(
                f"{total} fine land cells get no forcing from the host grid '{host.source}': "
                "the host's active cells (owned by some rank) must cover the fine land"
            )

    def _per_tile(self, values: np.ndarray) -> list[np.ndarray]:
        return windows_to_tiles(self.fine, self._offsets, values)

    def __call__(self, host_values: np.ndarray) -> list[np.ndarray]:
        """Host values (nvar, n_host_local) → per owned tile (nvar, ny+2h, nx+2h): views of
        one buffer per nvar, reused once no view of the last result is alive (fresh memory
        for the fine fields costs page faults on every call)."""
        if not isinstance(self.regridder.remap, SparseRemap):
            return self._per_tile(self.regridder(host_values))
        nvar = int(np.shape(host_values)[0])
        buffer = unreferenced(self._buffers, nvar)
        if buffer is None:
            buffer = np.empty((nvar, self.regridder.remap.n_dst_local))
            self._buffers[nvar] = buffer
        return self._per_tile(self.regridder(host_values, out=buffer))


class FineToHost:
    """Per owned tile (nvar, ny, nx) → host fields (nvar, n_host_local)."""

    def __init__(
        self,
        comm,
        host: HostGrid,
        host_ids0: np.ndarray,
        fine: FineDomain,
        normalization: str,
        map_file: Path | None = None,
    ) -> None:
        self.fine = fine
        self.n_src = int(fine.interior_mask.size)
        self.host_ids0 = host_ids0
        t = [td.tile for td in fine.tiles]
        if map_file is not None:
            _, rows, cols, S = read_map_distributed(map_file, comm, n_a=fine.grid.size, n_b=host.n)
            src_ids = [fine.tiling.cell_ids(x).ravel() for x in t]
            blocks = [np.full(x.size, x.id, np.int64) for x in t]
            remap = SparseRemap.build(
                comm,
                rows,
                cols,
                S,
                _ids(src_ids),
                host_ids0,
                fine.grid.size,
                host.n,
                src_block=_ids(blocks),
            )
            # weights are overlap / host area: 'fracarea' divides by the mapped land
            # fraction (the Regridder does so when given a divisor), 'dstarea' keeps them
            self.regridder = Regridder(
                remap,
                divisor=np.ones(remap.n_dst_local),
                src_mask=fine.interior_mask,
                normalization=normalization,
                fill_value=0.0,
            )
        elif host.latlon is not None:
            self.regridder = Regridder.tiles_to_host(
                comm,
                fine.grid,
                [(x.j0, x.j1, x.i0, x.i1) for x in t],
                host.latlon,
                host_ids0,
                normalization=normalization,
                tile_ids=[x.id for x in t],
                src_mask=fine.interior_mask,
                fill_value=0.0,
            )
        else:
            _need_map(host, "fine_to_host_map")
        # per-tile outputs are read where they lie (collective)
        self.regridder.plan_parts(window_offsets([(x.j0, x.j1, x.i0, x.i1) for x in t]))

    def check_covers(self, active: np.ndarray, comm, where: str) -> None:
        """Every active host cell needs fine land under it (collective)."""
        bad = np.flatnonzero(~self.regridder.covered & (active != 0))
        first = int(self.host_ids0[bad[0]]) + 1 if bad.size else 0
        counts = comm.allgather((int(bad.size), first))
        total = sum(c for c, _ in counts)
        if total:
            first_id = min(f for c, f in counts if c)
            raise GridError(
                f"{total} active host cell(s) of {where} have no fine land under them (first: "
                f"host cell id {first_id}); the fine grid must cover the host's land and its land "
                "mask must agree with the host's mask (make the domain with `landemu domain`), "
                "or set remap.normalization: dstarea"
            )

    def _stack(self, per_tile: list[np.ndarray], nvar: int) -> np.ndarray:
        if not per_tile:
            return np.zeros((nvar, self.n_src))
        return np.concatenate([a.reshape(nvar, -1) for a in per_tile], axis=1)

    def __call__(self, per_tile: list[np.ndarray], nvar: int) -> np.ndarray:
        return self.regridder.apply_parts(per_tile, nvar)

    def class_fractions(self, per_tile_codes: list[np.ndarray], nclass: int) -> np.ndarray:
        """Class codes per tile (ny, nx) → area fraction of each class (nclass, n_host_local)."""
        codes = self._stack(per_tile_codes, 1)[0]
        return self.regridder.class_fractions(codes, range(nclass))


def window_offsets(windows: list[tuple[int, int, int, int]]) -> np.ndarray:
    """Start of each window's cells in the concatenated destination array (and the end)."""
    sizes = [(w[1] - w[0]) * (w[3] - w[2]) for w in windows]
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


def windows_to_tiles(fine: FineDomain, offsets: np.ndarray, values: np.ndarray) -> list[np.ndarray]:
    """(nvar, Σ window cells) in tile order → per owned tile (nvar, ny+2h, nx+2h)."""
    tiles = []
    for k, td in enumerate(fine.tiles):
        j0, j1, i0, i1 = td.window
        block = values[:, offsets[k] : offsets[k + 1]].reshape(-1, j1 - j0, i1 - i0)
        tiles.append(td.expand(block))
    return tiles


def _ids(parts: list[np.ndarray]) -> np.ndarray:
    """Per-tile id arrays joined in tile order (empty on a rank without tiles)."""
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)
