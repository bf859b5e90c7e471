"""Map files: ESMF write/read round trip, SCRIP reading, distributed reading, and clear errors
for bad input (sizes, indices, truncation, negative weights)."""

from __future__ import annotations

import shutil
from pathlib import Path

import netCDF4
import numpy as np
import pytest
from mpi4py import MPI

from coupler.errors import RegridError
from coupler.grids import LatLonGrid
from coupler.regrid import conservative_weights, read_map, read_map_distributed, write_esmf
from coupler.regrid.mapfile import read_dst_arrays

SRC = LatLonGrid.parse("latlon:12,16:30,33,170,-170")
DST = LatLonGrid.parse("latlon:3,4:29,34,168,-168")


@pytest.fixture()
def esmf(tmp_path: Path) -> Path:
    w = conservative_weights(SRC, DST)
    return write_esmf(tmp_path / "map.nc", w, SRC, DST)


def test_esmf_round_trip_keeps_every_array(esmf: Path) -> None:
    w = conservative_weights(SRC, DST)
    r = read_map(esmf, SRC.size, DST.size)
    assert (r.n_a, r.n_b, r.n_s) == (SRC.size, DST.size, w.n_s)
    for name in ("rows", "cols", "S", "frac_a", "frac_b", "area_a", "area_b", "mask_b"):
        assert np.array_equal(getattr(r, name), getattr(w, name)), name
    assert r.src_dims == SRC.shape and r.dst_dims == DST.shape
    assert r.normalization == "fracarea"
    assert np.allclose(r.attrs["xc_a"], SRC.centres()[1])
    with netCDF4.Dataset(esmf) as ds:
        assert ds.variables["row"][:].min() == 1  # 1-based in the file
        assert ds.variables["src_grid_dims"][:].tolist() == [16, 12]  # Fortran order
        assert ds.variables["xv_a"].shape == (SRC.size, 4)


def make_scrip_map(path: Path) -> None:
    w = conservative_weights(SRC, DST)
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("src_grid_size", w.n_a)
        ds.createDimension("dst_grid_size", w.n_b)
        ds.createDimension("num_links", w.n_s)
        ds.createDimension("num_wgts", 1)
        ds.createDimension("src_grid_rank", 2)
        ds.createDimension("dst_grid_rank", 2)
        ds.normalization = "fracarea"
        ds.createVariable("src_grid_dims", "i4", ("src_grid_rank",))[:] = [16, 12]
        ds.createVariable("dst_grid_dims", "i4", ("dst_grid_rank",))[:] = [4, 3]
        ds.createVariable("src_address", "i4", ("num_links",))[:] = w.cols + 1
        ds.createVariable("dst_address", "i4", ("num_links",))[:] = w.rows + 1
        ds.createVariable("remap_matrix", "f8", ("num_links", "num_wgts"))[:] = w.S[:, None]
        ds.createVariable("dst_grid_frac", "f8", ("dst_grid_size",))[:] = w.frac_b
        ds.createVariable("dst_grid_area", "f8", ("dst_grid_size",))[:] = w.area_b
        v = ds.createVariable("dst_grid_center_lat", "f8", ("dst_grid_size",))
        v.units = "radians"
        v[:] = np.deg2rad(DST.centres()[0])


def test_scrip_map_reads_like_esmf(tmp_path: Path) -> None:
    make_scrip_map(tmp_path / "scrip.nc")
    r = read_map(tmp_path / "scrip.nc", SRC.size, DST.size)
    w = conservative_weights(SRC, DST)
    assert np.array_equal(r.S, w.S) and np.array_equal(r.rows, w.rows)
    assert np.allclose(r.attrs["yc_b"], DST.centres()[0], rtol=0, atol=1e-12)  # radians → deg
    assert r.src_dims == SRC.shape


def test_distributed_read_on_one_rank_returns_everything(esmf: Path) -> None:
    h, rows, _cols, S = read_map_distributed(esmf, MPI.COMM_SELF, SRC.size, DST.size, chunk=7)
    w = conservative_weights(SRC, DST)
    assert h.n_s == w.n_s and h.fmt == "esmf"
    assert np.array_equal(rows, w.rows) and np.array_equal(S, w.S)
    part = read_dst_arrays(esmf, np.array([5, 2]))
    assert np.array_equal(part["frac"], w.frac_b[[5, 2]])


def test_size_mismatch_names_file_and_both_sizes(esmf: Path) -> None:
    with pytest.raises(
        RegridError,
        match=r"map\.nc': n_a \(source cells\) is 192, but the "
        r"grid has 100 cells",
    ):
        read_map(esmf, 100, DST.size)
    with pytest.raises(RegridError, match=r"n_b \(destination cells\) is 12, but the grid has 13"):
        read_map_distributed(esmf, MPI.COMM_SELF, SRC.size, 13)


def edit(path: Path, var: str, index: int, value: float) -> None:
    with netCDF4.Dataset(path, "a") as ds:
        ds.variables[var][index] = value


def test_index_out_of_range_names_variable_position_and_range(esmf: Path) -> None:
    edit(esmf, "col", 3, 999)
    with pytest.raises(RegridError, match=r"map\.nc': col\[3\] = 999 is outside 1\.\.192"):
        read_map(esmf)
    edit(esmf, "col", 3, 1)
    edit(esmf, "row", 0, 0)
    with pytest.raises(RegridError, match=r"row\[0\] = 0 is outside 1\.\.12"):
        read_map_distributed(esmf, MPI.COMM_SELF)


def test_negative_weight_is_rejected_unless_allowed(esmf: Path) -> None:
    edit(esmf, "S", 5, -0.25)
    with pytest.raises(RegridError, match=r"weight S\[5\] = -0.25 is negative"):
        read_map(esmf)
    assert read_map(esmf, allow_negative=True).S[5] == -0.25


def test_truncated_file_is_reported_with_its_name(esmf: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.nc"
    data = esmf.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(RegridError, match=r"cut\.nc'.*(not a readable netCDF|truncated)"):
        read_map(cut)


def test_not_a_map_file_is_named(tmp_path: Path) -> None:
    p = tmp_path / "grid.nc"
    with netCDF4.Dataset(p, "w") as ds:
        ds.createDimension("x", 2)
        ds.createVariable("grid_center_lat", "f8", ("x",))
    with pytest.raises(RegridError, match=r"grid\.nc' is neither ESMF"):
        read_map(p)
    with pytest.raises(RegridError, match="does not exist"):
        read_map(tmp_path / "nope.nc")


def test_inconsistent_lengths_are_reported(esmf: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.nc"
    shutil.copy(esmf, bad)
    with netCDF4.Dataset(bad, "a") as ds:
        ds.createDimension("n_t", 3)
        ds.renameVariable("S", "S_old")
        ds.createVariable("S", "f8", ("n_t",))
    with pytest.raises(RegridError, match=r"variable S has 3 entries, expected n_s="):
        read_map(bad)
