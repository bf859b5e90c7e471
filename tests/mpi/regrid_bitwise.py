"""Run under run/mpirun.sh -n K: remaps in both runtime directions and from a map file read the
distributed way; rank 0 writes the gathered results to OUT.npz (compared across K by pytest).

usage: regrid_bitwise.py MAP.nc OUT.npz
"""

from __future__ import annotations

import sys

import numpy as np
from mpi4py import MPI

from coupler.errors import RegridError
from coupler.grids import LatLonGrid
from coupler.regrid import Regridder, read_map_distributed
from coupler.regrid.check import analytic_field

comm = MPI.COMM_WORLD
P, me = comm.size, comm.rank
FINE = LatLonGrid.parse("latlon:240,240:30,32,10,12")
HOST = LatLonGrid.parse("latlon:6,6:29.5,32.5,9.5,12.5")
TILES = [(j, j + 60, i, i + 80) for j in range(0, 240, 60) for i in range(0, 240, 80)]


def gather(ids: np.ndarray, values: np.ndarray, n: int) -> np.ndarray | None:
    """Root-only assembly by global id (duplicates must agree bit for bit)."""
    parts = comm.gather((ids, values), root=0)
    if me != 0:
        return None
    out = np.full((values.shape[0], n), np.nan)
    for i, v in parts:
        prev = out[:, i]
        seen = ~np.isnan(prev)
        assert np.array_equal(prev[seen], v[seen]), "duplicated destination differs"
        out[:, i] = v
    return out


def main(map_path: str, out_path: str) -> None:
    fy, fx = FINE.centres()
    field = np.stack([analytic_field(fy, fx, k) for k in (2, 16)]).reshape(2, *FINE.shape)
    # 1. fine tiles -> host (export direction), tiles dealt round-robin, host cells strided,
    #    cell 0 wanted by every rank
    mine = TILES[me::P]
    hid = np.unique(np.append(np.arange(me, HOST.size, P), 0))
    reg = Regridder.tiles_to_host(comm, FINE, mine, HOST, hid)
    x = (
        np.concatenate([field[:, j0:j1, i0:i1].reshape(2, -1) for j0, j1, i0, i1 in mine], 1)
        if mine
        else np.zeros((2, 0))
    )
    up = gather(hid, reg(x), HOST.size)
    # 2. host -> fine windows with a one-cell halo (bilinear)
    hy, hx = HOST.centres()
    h_own = np.arange(me, HOST.size, P)
    win = [
        (max(j0 - 1, 0), min(j1 + 1, 240), max(i0 - 1, 0), min(i1 + 1, 240))
        for j0, j1, i0, i1 in mine
    ]
    down_reg = Regridder.host_to_tiles(comm, HOST, h_own, FINE, win)
    y = down_reg(analytic_field(hy, hx, 2)[h_own])
    ids = np.concatenate([FINE.ids(*w) for w in win]) if win else np.zeros(0, np.int64)
    down = gather(ids, y[None, :], FINE.size)
    # 3. a map file read the E3SM way, fine cells owned block-cyclically, no blocks
    _h, rows, cols, S = read_map_distributed(map_path, comm, FINE.size, HOST.size, chunk=5000)
    src_ids = np.arange(me * 960, FINE.size, P * 960)[:, None] + np.arange(960)
    src_ids = src_ids.ravel()
    m = Regridder.from_weights(comm, rows, cols, S, src_ids, hid, FINE.size, HOST.size)
    frommap = gather(hid, m(field.reshape(2, -1)[:, src_ids]), HOST.size)
    # 4. a block split across ranks is refused on every rank
    msg = ""
    if P > 1:
        try:
            Regridder.from_overlaps(
                comm, [], [], [], [me], [0], P, 1, [1.0], src_block=np.array([7])
            )
        except RegridError as exc:
            msg = str(exc)
        assert "split between ranks" in msg, msg
    if me == 0:
        np.savez(out_path, up=up, down=down, frommap=frommap, msg=np.array(msg))


if __name__ == "__main__":
    try:
        main(sys.argv[1], sys.argv[2])
    except BaseException:  # one failing rank must not leave the others waiting
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
        comm.Abort(1)
