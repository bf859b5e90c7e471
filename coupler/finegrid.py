"""The part of the fine (≈1 km) emulator grid this rank works on: its tiles, their land
mask, static fields and coordinates.

Built once at init. Tiles are dealt to ranks by land cells (coupler.decomposition); every
rank reads only its own tiles' windows of the static file, plus the land mask of every
size-th tile to count land (so the whole mask is read once in parallel, never by one rank).
Tile arrays handed to steps carry `halo` extra cells per side; beyond the grid's edge the
halo repeats the edge cells (FineTiling.halo_indices).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from coupler.decomposition import FineTiling, Tile, assign_tiles
from coupler.errors import DataFileError
from coupler.grids.latlon import LatLonGrid
from coupler.static import StaticFineData


@dataclass
class TileData:
    """One owned tile: geometry, land mask and the static fields steps asked for."""

    tile: Tile
    window: tuple[int, int, int, int]  # tile + halo clipped to the grid: j0, j1, i0, i1
    rows: np.ndarray  # (ny+2h,) rows of the halo'd tile within `window`
    cols: np.ndarray  # (nx+2h,) columns of the halo'd tile within `window`
    mask: np.ndarray  # (ny, nx) bool, interior
    lat: np.ndarray  # (ny+2h, nx+2h) cell-centre latitude, degrees
    lon: np.ndarray  # (ny+2h, nx+2h) cell-centre longitude, degrees
    static: dict[str, np.ndarray]  # (ny+2h, nx+2h) float64

    def __post_init__(self) -> None:
        j0, j1, i0, i1 = self.window
        self._is_window = np.array_equal(self.rows, np.arange(j1 - j0)) and np.array_equal(
            self.cols, np.arange(i1 - i0)
        )

    @cached_property
    def ocean(self) -> np.ndarray:
        """Flat indices of the interior's cells that are not land (the mask is static)."""
        return np.flatnonzero(~self.mask)

    def expand(self, window_values: np.ndarray) -> np.ndarray:
        """Values on `window` (…, wy, wx) → on the halo'd tile (…, ny+2h, nx+2h); the values
        themselves (no copy) when the halo'd tile is the window (no halo beyond the grid)."""
        if self._is_window:
            return window_values
        return window_values[..., self.rows[:, None], self.cols[None, :]]


class FineDomain:
    """This rank's tiles of the fine grid."""

    def __init__(
        self,
        comm,
        grid: LatLonGrid,
        tile_shape: tuple[int, int],
        static: StaticFineData | None,
        mask_var: str,
        static_vars: set[str],
        halo: int,
    ) -> None:
        self.grid = grid
        self.tiling = FineTiling(grid, *tile_shape)
        self.halo = int(halo)
        if static is not None:
            missing = sorted((static_vars | {mask_var}) - set(static.variables))
            if missing:
                raise DataFileError(
                    f"static file '{static.path}' has no variable(s) {', '.join(missing)} "
                    f"(it has: {', '.join(sorted(static.variables))})"
                )
        self.land_cells_per_tile = self._count_land(comm, static, mask_var)
        self.owner = assign_tiles(self.land_cells_per_tile, comm.size)
        self.tiles = [
            self._load_tile(self.tiling.tile(int(t)), static, mask_var, static_vars)
            for t in np.flatnonzero(self.owner == comm.rank)
        ]
        # Interior cells in tile order: the source array of fine → host remaps.
        self.interior_mask = (
            np.concatenate([td.mask.ravel() for td in self.tiles])
            if self.tiles
            else np.zeros(0, bool)
        )

    def _count_land(self, comm, static: StaticFineData | None, mask_var: str) -> np.ndarray:
        """Land cells per tile; rank r counts tiles r, r+size, … then all ranks share."""
        counts = np.zeros(self.tiling.ntiles, np.int64)
        for tid in range(comm.rank, self.tiling.ntiles, comm.size):
            tile = self.tiling.tile(tid)
            counts[tid] = (
                tile.size
                if static is None
                else int(np.count_nonzero(static.read(mask_var, self.tiling.window(tile))))
            )
        total = np.zeros_like(counts)
        comm.Allreduce(counts, total)  # each entry has exactly one non-zero contributor
        return total

    def _load_tile(
        self, tile: Tile, static: StaticFineData | None, mask_var: str, static_vars: set[str]
    ) -> TileData:
        g, h = self.grid, self.halo
        window = self.tiling.halo_window(tile, h)
        j0, j1, i0, i1 = window
        rows, cols = self.tiling.halo_indices(tile, h)
        lat = np.repeat(g.lat_centres(j0, j1)[rows][:, None], cols.size, axis=1)
        lon = np.repeat(g.lon_centres(i0, i1)[cols][None, :], rows.size, axis=0)
        td = TileData(tile, window, rows, cols, np.ones(tile.shape, bool), lat, lon, {})
        if static is not None:
            win = g.window(*window)
            for var in sorted(static_vars | {mask_var}):
                values = td.expand(static.read(var, win)).astype(np.float64)
                if var == mask_var:
                    td.mask = self.interior(values) != 0
                if var in static_vars:
                    td.static[var] = values
        return td

    def interior(self, a: np.ndarray) -> np.ndarray:
        """The interior (no halo) of a halo'd tile array (…, ny+2h, nx+2h)."""
        h = self.halo
        return a if h == 0 else a[..., h:-h, h:-h]
