"""Who owns what: the host's decomposition of its cells, and landemu's tiles of the fine grid.

The host decides which host cells each rank owns (it passes their global ids). landemu
splits the fine grid into fixed tiles and deals the tiles that contain land to ranks,
balanced by land cells. Tiles are fixed by the configuration, never by the number of
ranks: every per-tile computation and every partial sum is the same on any rank count,
which is what makes results bit-for-bit reproducible across decompositions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from coupler.errors import GridError
from coupler.grids.latlon import LatLonGrid


@dataclass(frozen=True)
class Tile:
    """A block of fine cells [j0, j1) × [i0, i1) (j from the south)."""

    id: int
    j0: int
    j1: int
    i0: int
    i1: int

    @property
    def shape(self) -> tuple[int, int]:
        return (self.j1 - self.j0, self.i1 - self.i0)

    @property
    def size(self) -> int:
        return (self.j1 - self.j0) * (self.i1 - self.i0)


class FineTiling:
    """The fine grid cut into tiles of (ny, nx) cells; edge tiles may be smaller."""

    def __init__(self, grid: LatLonGrid, tile_ny: int, tile_nx: int) -> None:
        self.grid = grid
        self.tile_ny = int(tile_ny)
        self.tile_nx = int(tile_nx)
        self.ntiles_y = -(-grid.nlat // self.tile_ny)
        self.ntiles_x = -(-grid.nlon // self.tile_nx)

    @property
    def ntiles(self) -> int:
        return self.ntiles_y * self.ntiles_x

    def tile(self, tile_id: int) -> Tile:
        ty, tx = divmod(int(tile_id), self.ntiles_x)
        j0, i0 = ty * self.tile_ny, tx * self.tile_nx
        return Tile(
            int(tile_id),
            j0,
            min(j0 + self.tile_ny, self.grid.nlat),
            i0,
            min(i0 + self.tile_nx, self.grid.nlon),
        )

    def window(self, tile: Tile) -> LatLonGrid:
        """The tile as a lat-lon grid of its own."""
        return self.grid.window(tile.j0, tile.j1, tile.i0, tile.i1)

    def cell_ids(self, tile: Tile) -> np.ndarray:
        """Global 0-based fine ids of the tile's cells, (ny, nx) row-major."""
        j = np.arange(tile.j0, tile.j1, dtype=np.int64)
        i = np.arange(tile.i0, tile.i1, dtype=np.int64)
        return j[:, None] * self.grid.nlon + i[None, :]

    def halo_window(self, tile: Tile, halo: int) -> tuple[int, int, int, int]:
        """(j0, j1, i0, i1) of the tile grown by `halo` cells per side, clipped to the grid
        (on a grid that is global in longitude, a halo crossing the dateline takes every
        column, so the wrapped cells are in the window)."""
        g = self.grid
        i0, i1 = tile.i0 - halo, tile.i1 + halo
        if g.is_global_lon and (i0 < 0 or i1 > g.nlon):
            i0, i1 = 0, g.nlon
        return (max(tile.j0 - halo, 0), min(tile.j1 + halo, g.nlat), max(i0, 0), min(i1, g.nlon))

    def halo_indices(self, tile: Tile, halo: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and columns of the tile plus `halo` cells per side, relative to its
        halo_window. Beyond the grid's edges the edge cells repeat, except across the
        dateline of a grid that is global in longitude, where columns wrap round."""
        j0, j1, i0, i1 = self.halo_window(tile, halo)
        j = np.clip(np.arange(tile.j0 - halo, tile.j1 + halo), j0, j1 - 1) - j0
        i = np.arange(tile.i0 - halo, tile.i1 + halo)
        i = i % self.grid.nlon if self.grid.is_global_lon else np.clip(i, i0, i1 - 1)
        return j.astype(np.int64), (i - i0).astype(np.int64)


def assign_tiles(land_cells: np.ndarray, nranks: int) -> np.ndarray:
    """Owner rank of every tile (−1 for tiles without land), balanced by land cells.

    Tiles with land are taken in id order and cut into `nranks` contiguous runs at equal
    shares of the cumulative land count (each tile goes to the rank whose share holds its
    midpoint). Deterministic, and every rank computes the same answer from the same counts.
    """
    land = np.asarray(land_cells, dtype=np.int64)
    owner = np.full(land.size, -1, dtype=np.int64)
    has_land = land > 0
    total = int(land.sum())
    if total == 0:
        return owner
    cum_before = np.cumsum(land) - land
    midpoint2 = 2 * cum_before + land  # twice the midpoint, kept in integers
    owner[has_land] = np.minimum(midpoint2[has_land] * nranks // (2 * total), nranks - 1)
    return owner


def check_host_decomposition(
    comm, global_ids: np.ndarray, n_cells: int, active: np.ndarray, source: str
) -> np.ndarray:
    """Validate the host's 1-based cell ids and return them 0-based.

    Every id must lie in 1..n_cells, be owned by exactly one rank, and every active
    (mask ≠ 0) cell of the host grid must be owned. The duplicate check is distributed
    (ids are sent to rank id % size), so no rank ever holds all ids.
    """
    ids = np.asarray(global_ids, dtype=np.int64).ravel()
    bad = ids[(ids < 1) | (ids > n_cells)]
    local_msg = ""
    if bad.size:
        local_msg = (
            f"rank {comm.rank} owns cell id {int(bad[0])}, outside 1..{n_cells} of the host grid "
            f"'{source}' ({bad.size} such ids): does the domain file match the host's grid?"
        )
    _raise_if_any(comm, local_msg)
    ids0 = ids - 1
    dup = _distributed_duplicates(comm, ids0)
    _raise_if_any(
        comm,
        f"host cell id {dup + 1} is owned by more than one rank (or twice by one)"
        if dup >= 0
        else "",
    )
    owned_active = int(np.count_nonzero(active[ids0]))
    total_owned_active = comm.allreduce(owned_active)
    n_active = int(np.count_nonzero(active))
    if total_owned_active != n_active:
        missing = n_active - total_owned_active
        raise GridError(
            f"the host's decomposition leaves {missing} active cell(s) of '{source}' unowned "
            f"({total_owned_active} of {n_active} cells with mask=1 are owned): "
            "does the domain file match the host's grid?"
        )
    return ids0


def _distributed_duplicates(comm, ids0: np.ndarray) -> int:
    """Smallest id owned twice anywhere, or −1; ids are checked at rank id % size."""
    size = comm.size
    dest = ids0 % size
    order = np.argsort(dest, kind="stable")
    counts = np.bincount(dest, minlength=size).astype(np.int64)
    recv_counts = np.empty(size, dtype=np.int64)
    comm.Alltoall(counts, recv_counts)
    received = np.empty(int(recv_counts.sum()), dtype=np.int64)
    comm.Alltoallv([ids0[order], counts], [received, recv_counts])
    received.sort()
    dups = received[1:][received[1:] == received[:-1]]
    mine = int(dups[0]) if dups.size else -1
    everyone = [d for d in comm.allgather(mine) if d >= 0]
    return min(everyone) if everyone else -1


def _raise_if_any(comm, local_msg: str) -> None:
    """Collective: raise the first rank's message on every rank if any rank has one."""
    messages = comm.allgather(local_msg)
    for msg in messages:
        if msg:
            raise GridError(msg)
