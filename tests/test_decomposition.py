"""Tiles and their owners: fixed by the configuration, balanced by land."""

import numpy as np
import pytest
from mpi4py import MPI

from coupler.decomposition import FineTiling, assign_tiles, check_host_decomposition
from coupler.errors import GridError
from coupler.grids.latlon import LatLonGrid


def test_tiles_cover_the_grid_once():
    g = LatLonGrid.parse("latlon:250,130:0,10,0,5")
    tiling = FineTiling(g, 60, 60)
    seen = np.zeros(g.shape, int)
    for t in range(tiling.ntiles):
        tile = tiling.tile(t)
        seen[tile.j0 : tile.j1, tile.i0 : tile.i1] += 1
        assert tiling.cell_ids(tile)[0, 0] == tile.j0 * g.nlon + tile.i0
    assert seen.min() == seen.max() == 1


def test_halo_repeats_edge_cells_beyond_the_grid():
    tiling = FineTiling(LatLonGrid.parse("latlon:120,120:0,1,0,1"), 60, 60)
    tile = tiling.tile(0)
    assert tiling.halo_window(tile, 2) == (0, 62, 0, 62)
    rows, cols = tiling.halo_indices(tile, 2)
    assert rows[:3].tolist() == [0, 0, 0] and rows[-1] == 61 and cols.size == 64


@pytest.mark.parametrize("nranks", [1, 2, 3, 4, 7])
def test_tiles_are_balanced_by_land_and_skip_ocean(nranks):
    rng = np.random.default_rng(3)
    land = rng.integers(0, 3600, 50)
    land[::7] = 0
    owner = assign_tiles(land, nranks)
    assert np.all(owner[land == 0] == -1)
    assert set(owner[land > 0]) <= set(range(nranks))
    per_rank = np.array([land[owner == r].sum() for r in range(nranks)])
    assert per_rank.max() - per_rank.min() <= 2 * land.max()
    assert np.all(np.diff(owner[land > 0]) >= 0)  # contiguous runs in tile order


def test_host_decomposition_errors_name_the_problem():
    comm = MPI.COMM_WORLD
    active = np.array([1, 1, 0, 1])
    ids0 = check_host_decomposition(comm, np.array([1, 2, 4]), 4, active, "d.nc")
    assert ids0.tolist() == [0, 1, 3]
    with pytest.raises(GridError, match="cell id 5, outside 1..4 of the host grid 'd.nc'"):
        check_host_decomposition(comm, np.array([1, 2, 5]), 4, active, "d.nc")
    with pytest.raises(GridError, match="host cell id 2 is owned by more than one rank"):
        check_host_decomposition(comm, np.array([1, 2, 2, 4]), 4, active, "d.nc")
    with pytest.raises(GridError, match="leaves 1 active cell"):
        check_host_decomposition(comm, np.array([1, 2]), 4, active, "d.nc")
