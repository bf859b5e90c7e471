"""Remaps between fine tiles: the halo exchange of a fine grid, and one fine grid to another.

A step on fine tiles may read the output of an earlier fine step
  * on the same grid with a halo: each halo cell takes the value of the tile that owns it,
    whichever rank that is (neighbour exchange; across the dateline of a grid that is
    global in longitude the columns wrap round; cells of tiles no rank owns — all-ocean
    tiles — read 0, as fine step outputs over ocean are 0);
  * on another named grid (e.g. a 0.05° land-cover map feeding a 1/120° step): remapped
    conservatively over the source grid's land ('fracarea': the mean over the source land
    under each destination cell; 0 where there is none); a categorical output becomes class
    area fractions, or the majority class (the lowest class wins a tie).
Both are routes of the MPI sparse-matrix router (coupler.regrid), built once at
set_decomposition. Partial sums are formed per source tile and added in tile order, and a
halo copy is a single product by 1.0, so every value is the same on any rank count.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from coupler.finegrid import FineDomain
from coupler.pipeline import Source
from coupler.regrid.overlaps import latlon_overlaps, window_ids
from coupler.regrid.regridder import Regridder, cell_areas
from coupler.remapping import window_offsets, windows_to_tiles
from coupler.steps.base import Step, Var


class FineWiring:
    """Which remaps the configured steps need (pure: no MPI, no grids)."""

    def __init__(self, steps: list[Step], sources: dict[str, dict[str, Source]]) -> None:
        self.steps = steps
        self.sources = sources

    def _fine_inputs(self):
        for step in self.steps:
            if step.on_fine_grid:
                for name, src in self.sources[step.name].items():
                    yield step, name, src

    def host_to_fine(self, method: Callable[[str, str], str]) -> list[tuple[str, str]]:
        """(fine grid, method) pairs of host fields read by fine steps."""
        return sorted(
            {
                (s.grid, method(n, s.grid))
                for s, n, src in self._fine_inputs()
                if src.kind in ("import", "host")
            }
        )

    def fine_to_host(self, producer: dict[str, tuple[Step, Var]], need: set[str]) -> list[str]:
        """Fine grids whose step outputs are needed on the host."""
        return sorted(
            {producer[n][0].grid for n in need if n in producer and producer[n][0].on_fine_grid}
        )

    def halos(self, halo: dict[str, int]) -> list[str]:
        """Fine grids with a halo (`halo`: per grid, the widest any of its steps reads) on
        which a step reads an output of the same grid (an earlier step's, or its own
        previous one): every input of a step on such a grid carries the grid's halo."""
        return sorted(
            {
                s.grid
                for s, _, src in self._fine_inputs()
                if halo[s.grid] > 0
                and (src.kind == "previous" or (src.kind == "fine" and src.grid == s.grid))
            }
        )

    def crossings(self) -> list[tuple[str, str]]:
        """(source grid, destination grid) pairs of outputs read on another fine grid."""
        return sorted(
            {
                (src.grid, s.grid)
                for s, _, src in self._fine_inputs()
                if src.kind == "fine" and src.grid != s.grid
            }
        )


def _tile_ids(fine: FineDomain) -> tuple[np.ndarray, np.ndarray]:
    """(global ids of the owned tiles' interior cells, tile id per cell), in tile order."""
    if not fine.tiles:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    ids = np.concatenate([fine.tiling.cell_ids(td.tile).ravel() for td in fine.tiles])
    blocks = np.concatenate([np.full(td.tile.size, td.tile.id, np.int64) for td in fine.tiles])
    return ids.astype(np.int64), blocks


def _window_ids(fine: FineDomain) -> np.ndarray:
    """Global ids of the owned tiles' halo windows, concatenated in tile order."""
    parts = [fine.grid.ids(*td.window) for td in fine.tiles]
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)


class _ToWindows:
    """Per source tile (nvar, ny, nx) → per destination tile + halo (nvar, ny+2h, nx+2h)."""

    def __init__(self, src: FineDomain, dst: FineDomain, regridder: Regridder) -> None:
        self.src, self.dst, self.regridder = src, dst, regridder
        self.n_src = sum(td.tile.size for td in src.tiles)
        self.offsets = window_offsets([td.window for td in dst.tiles])

    def _stack(self, per_tile: list[np.ndarray], nvar: int) -> np.ndarray:
        if not per_tile:
            return np.zeros((nvar, self.n_src))
        return np.concatenate(
            [np.asarray(a, np.float64).reshape(nvar, -1) for a in per_tile], axis=1
        )

    def __call__(self, per_tile: list[np.ndarray], nvar: int) -> list[np.ndarray]:
        return windows_to_tiles(self.dst, self.offsets, self.regridder(self._stack(per_tile, nvar)))

    def class_fractions(self, per_tile_codes: list[np.ndarray], nclass: int) -> list[np.ndarray]:
        codes = self._stack(per_tile_codes, 1)[0]
        fractions = self.regridder.class_fractions(codes, range(nclass))
        return windows_to_tiles(self.dst, self.offsets, fractions)


class HaloExchange:
    """Per owned tile (nvar, ny, nx) → the tile with its halo (nvar, ny+2h, nx+2h).

    The interior is the tile itself (always owned here); only the ring of halo cells goes
    through the router, as a product by 1.0 from whichever tile owns each cell (0 for cells
    of tiles no rank owns) — a few per cent of the cells of large tiles."""

    def __init__(self, comm, fine: FineDomain) -> None:
        self.fine = fine
        self.n_src = sum(td.tile.size for td in fine.tiles)
        self.rings = [_ring_positions(td.tile.shape, fine.halo) for td in fine.tiles]
        parts = [_ring_ids(fine, td, ring) for td, ring in zip(fine.tiles, self.rings, strict=True)]
        dst_ids = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        self.offsets = np.concatenate([[0], np.cumsum([p.size for p in parts])]).astype(np.int64)
        src_ids, blocks = _tile_ids(fine)
        self.regridder = Regridder.from_weights(
            comm,
            dst_ids,
            dst_ids,
            np.ones(dst_ids.size),
            src_ids,
            dst_ids,
            fine.grid.size,
            fine.grid.size,
            src_block=blocks,
            fill_value=0.0,
            duplicates="same",
        )

    def __call__(self, per_tile: list[np.ndarray], nvar: int) -> list[np.ndarray]:
        h = self.fine.halo
        tiles = [
            np.asarray(a, np.float64).reshape(nvar, *td.tile.shape)
            for a, td in zip(per_tile, self.fine.tiles, strict=True)
        ]
        source = (
            np.concatenate([t.reshape(nvar, -1) for t in tiles], axis=1)
            if tiles
            else np.zeros((nvar, self.n_src))
        )
        ring_values = self.regridder(source)
        out = []
        for k, (tile, ring) in enumerate(zip(tiles, self.rings, strict=True)):
            ny, nx = tile.shape[1:]
            halod = np.empty((nvar, ny + 2 * h, nx + 2 * h))
            halod[:, h : h + ny, h : h + nx] = tile
            halod.reshape(nvar, -1)[:, ring] = ring_values[:, self.offsets[k] : self.offsets[k + 1]]
            out.append(halod)
        return out


def _ring_positions(shape: tuple[int, int], h: int) -> np.ndarray:
    """Flat positions of the halo cells in a tile of `shape` with `h` cells per side."""
    inside = np.zeros((shape[0] + 2 * h, shape[1] + 2 * h), bool)
    inside[h : h + shape[0], h : h + shape[1]] = True
    return np.flatnonzero(~inside)


def _ring_ids(fine: FineDomain, td, ring: np.ndarray) -> np.ndarray:
    """Global ids of a tile's halo cells (edge cells repeated beyond the grid, columns
    wrapped across the dateline: FineTiling.halo_indices)."""
    j0, _, i0, _ = td.window
    rows, cols = td.rows + j0, td.cols + i0
    ids = rows[:, None] * fine.grid.nlon + cols[None, :]
    return ids.ravel()[ring].astype(np.int64)


def fine_to_fine(comm, src: FineDomain, dst: FineDomain) -> _ToWindows:
    """Conservative remap of grid `src`'s tiles to `dst`'s tile windows over src's land."""
    rows, cols, areas = [], [], []
    for td in dst.tiles:
        j0, _, i0, _ = td.window
        win = dst.grid.window(*td.window)
        r, c, a = latlon_overlaps(src.grid, win)
        rows.append(window_ids(r, win.nlon, j0, i0, dst.grid.nlon))
        cols.append(c)
        areas.append(a)
    src_ids, blocks = _tile_ids(src)
    dst_ids = _window_ids(dst)

    def cat(parts, dtype):
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)

    regridder = Regridder.from_overlaps(
        comm,
        cat(rows, np.int64),
        cat(cols, np.int64),
        cat(areas, np.float64),
        src_ids,
        dst_ids,
        src.grid.size,
        dst.grid.size,
        cell_areas(dst.grid, dst_ids),
        normalization="fracarea",
        src_mask=src.interior_mask,
        src_block=blocks,
        fill_value=0.0,
        duplicates="same",
    )
    return _ToWindows(src, dst, regridder)


class FineMaps:
    """The halo exchanges and grid-to-grid remaps of a run, and how a step reads through them."""

    def __init__(self, comm, fines: dict[str, FineDomain], wiring: FineWiring) -> None:
        halos = {g: f.halo for g, f in fines.items()}
        self.halo = {g: HaloExchange(comm, fines[g]) for g in wiring.halos(halos)}
        self.cross = {(a, b): fine_to_fine(comm, fines[a], fines[b]) for a, b in wiring.crossings()}

    def read(
        self, per_tile: list[np.ndarray], src: Source, step: Step, var: Var
    ) -> list[np.ndarray]:
        """The producer's per-tile output as `step` reads it on its own tiles (collective when
        a remap is involved: every rank calls it for the same step and input)."""
        nvar = 1 if var.kind == "categorical" else var.levels
        if src.grid == step.grid:
            if step.grid not in self.halo:  # the grid has no halo
                return per_tile
            return _levels(self.halo[step.grid](per_tile, nvar), nvar)
        remap = self.cross[src.grid, step.grid]
        if src.categories == "codes":
            return _levels(remap(per_tile, nvar), nvar)
        fractions = remap.class_fractions(per_tile, var.levels)
        if src.categories == "fractions":
            return fractions
        return [np.argmax(f, axis=0).astype(np.float64) for f in fractions]


def _levels(tiles: list[np.ndarray], nvar: int) -> list[np.ndarray]:
    """Single-level fields as (ny, nx), as steps receive them."""
    return [t[0] for t in tiles] if nvar == 1 else tiles
