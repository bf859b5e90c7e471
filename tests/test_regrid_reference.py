"""landemu's exact weights against Debian's cdo (gencon) and nco (ncremap -a nco) on the four
cases of issue 4, plus conservation, constants, weight range and map-file interoperability."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import scipy.sparse as sp

from coupler.grids import HostGrid, LatLonGrid
from coupler.regrid import conservative_weights, read_map, write_esmf
from coupler.regrid.check import analytic_field, check_weights

CDO = shutil.which("cdo")
NCREMAP = shutil.which("ncremap")
NCKS = shutil.which("ncks")
needs_cdo = pytest.mark.skipif(CDO is None, reason="cdo not installed (apt-get install cdo)")
needs_nco = pytest.mark.skipif(
    NCREMAP is None or NCKS is None, reason="nco not installed (apt-get install nco)"
)

CASES = {
    # 1/120° 240×240 tile nested in a 0.5° grid that also has partly covered cells around it
    "nested": ("latlon:240,240:30,32,10,12", "latlon:6,6:29.5,32.5,9.5,12.5", False),
    "global": ("latlon:360,720:-90,90,-180,180", "latlon:96,144:-90,90,0,360", False),
    "dateline": ("latlon:40,60:-10,10,170,-160", "latlon:10,12:-12,11,168,-157", False),
    "masked": ("latlon:30,40:40,55,-20,0", "latlon:7,9:39,56,-21,1", True),
}


def case_mask(src: LatLonGrid) -> np.ndarray:
    """A deterministic irregular source mask (1 = valid) of shape src.shape."""
    j, i = np.meshgrid(np.arange(src.nlat), np.arange(src.nlon), indexing="ij")
    return (((3 * j + 5 * i) % 7) > 1).astype(np.int32)


def cdo_grid_text(g: LatLonGrid) -> str:
    return (
        f"gridtype = lonlat\nxsize = {g.nlon}\nysize = {g.nlat}\n"
        f"xfirst = {float(g.lon_centres()[0])!r}\nxinc = {g.dlon!r}\n"
        f"yfirst = {float(g.lat_centres()[0])!r}\nyinc = {g.dlat!r}\n"
    )


def write_cf_field(
    path: Path, g: LatLonGrid, values: np.ndarray, fill: float | None = None
) -> None:
    """A CF netCDF file with lat/lon (+bounds) coordinates and variable 'f' (lat, lon)."""
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("lat", g.nlat)
        ds.createDimension("lon", g.nlon)
        ds.createDimension("nb", 2)
        la, lo = g.lat_edges(), g.lon_edges()
        v = ds.createVariable("lat", "f8", ("lat",))
        v.units, v.bounds, v.standard_name = "degrees_north", "lat_bnds", "latitude"
        v[:] = g.lat_centres()
        v = ds.createVariable("lon", "f8", ("lon",))
        v.units, v.bounds, v.standard_name = "degrees_east", "lon_bnds", "longitude"
        v[:] = g.lon_centres()
        ds.createVariable("lat_bnds", "f8", ("lat", "nb"))[:] = np.stack([la[:-1], la[1:]], 1)
        ds.createVariable("lon_bnds", "f8", ("lon", "nb"))[:] = np.stack([lo[:-1], lo[1:]], 1)
        v = ds.createVariable(
            "f", "f8", ("lat", "lon"), fill_value=fill if fill is not None else False
        )
        v[:] = values


def run(cmd: list[str], cwd: Path, env: dict | None = None) -> None:
    res = subprocess.run(
        cmd,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=None if env is None else {**os.environ, **env},
    )
    assert res.returncode == 0, f"{' '.join(cmd)} failed:\n{res.stderr[-2000:]}"


@pytest.fixture(scope="module")
def refdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("regrid_reference")


def grids(name: str) -> tuple[LatLonGrid, LatLonGrid, np.ndarray | None]:
    s, d, masked = CASES[name]
    src, dst = LatLonGrid.parse(s), LatLonGrid.parse(d)
    return src, dst, case_mask(src) if masked else None


def cdo_map(refdir: Path, name: str, norm: str = "fracarea") -> Path:
    """cdo gencon map (CDO_REMAP_NORM=fracarea or destarea), cached for the module."""
    out = refdir / f"cdo_{norm}_{name}.nc"
    if out.exists():
        return out
    env = {"CDO_REMAP_NORM": norm}
    src, dst, mask = grids(name)
    (refdir / f"{name}_dst.txt").write_text(cdo_grid_text(dst))
    if mask is None:
        (refdir / f"{name}_src.txt").write_text(cdo_grid_text(src))
        run(
            [
                CDO,
                "-s",
                "-f",
                "nc",
                f"gencon,{name}_dst.txt",
                "-const,1," + f"{name}_src.txt",
                out.name,
            ],
            refdir,
            env,
        )
    else:
        write_cf_field(
            refdir / f"{name}_srcfield.nc", src, np.where(mask == 1, 1.0, -999.0), fill=-999.0
        )
        run(
            [CDO, "-s", "-f", "nc", f"gencon,{name}_dst.txt", f"{name}_srcfield.nc", out.name],
            refdir,
            env,
        )
    return out


def nco_map(refdir: Path, name: str) -> Path:
    """ncremap -a nco map, single-threaded: NCO 5.1.4's threaded weight generation returned an
    empty map for the masked case in about half of the runs here."""
    out = refdir / f"nco_{name}.nc"
    if out.exists():
        return out
    src, dst, mask = grids(name)
    HostGrid.from_latlon(src, mask=mask).write_scrip(refdir / f"{name}_src_scrip.nc")
    HostGrid.from_latlon(dst).write_scrip(refdir / f"{name}_dst_scrip.nc")
    run(
        [
            NCREMAP,
            "-t",
            "1",
            "-a",
            "nco",
            "-s",
            f"{name}_src_scrip.nc",
            "-g",
            f"{name}_dst_scrip.nc",
            "-m",
            out.name,
        ],
        refdir,
    )
    return out


def to_csr(
    rows: np.ndarray, cols: np.ndarray, S: np.ndarray, shape: tuple[int, int]
) -> sp.csr_matrix:
    return sp.csr_matrix((S, (rows, cols)), shape=shape)


def max_diff(a: sp.csr_matrix, b: sp.csr_matrix) -> float:
    d = (a - b).tocoo()
    return float(np.abs(d.data).max()) if d.nnz else 0.0


@needs_cdo
@pytest.mark.parametrize("name", list(CASES))
def test_weights_equal_cdo_gencon_within_1e12(refdir: Path, name: str) -> None:
    """Destination-area weights (overlap / area_b): the pure geometry, on every cell."""
    src, dst, mask = grids(name)
    ours = conservative_weights(src, dst, src_mask=mask, normalization="dstarea")
    ref = read_map(cdo_map(refdir, name, "destarea"), src.size, dst.size)
    assert ref.normalization == "dstarea"
    shape = (dst.size, src.size)
    diff = max_diff(
        to_csr(ours.rows, ours.cols, ours.S, shape), to_csr(ref.rows, ref.cols, ref.S, shape)
    )
    assert diff < 1e-12, f"{name}: max |ours - cdo| = {diff:.3e}"


@needs_cdo
@pytest.mark.parametrize("name", list(CASES))
def test_fracarea_weights_equal_cdo_on_cells_covered_a_quarter_or_more(
    refdir: Path, name: str
) -> None:
    """CDO's fracarea weights divide its overlap areas by the covered fraction, which
    amplifies CDO's own ~1e-13 area error on thinly covered cells (1.3e-12 on a 13 %-covered
    dateline cell, where NCO agrees with landemu to 3e-14); compare where frac_b >= 0.25."""
    src, dst, mask = grids(name)
    ours = conservative_weights(src, dst, src_mask=mask, normalization="fracarea")
    ref = read_map(cdo_map(refdir, name, "fracarea"), src.size, dst.size)
    shape = (dst.size, src.size)
    d = (
        to_csr(ours.rows, ours.cols, ours.S, shape) - to_csr(ref.rows, ref.cols, ref.S, shape)
    ).tocoo()
    well = ours.frac_b[d.row] >= 0.25
    diff = float(np.abs(d.data[well]).max()) if well.any() else 0.0
    assert diff < 1e-12, f"{name}: max |ours - cdo| = {diff:.3e}"
    assert set(np.unique(ref.rows)) == set(np.unique(ours.rows))


@needs_nco
@pytest.mark.parametrize("name", list(CASES))
def test_weights_equal_ncremap_nco_within_1e12(refdir: Path, name: str) -> None:
    src, dst, mask = grids(name)
    ref = read_map(nco_map(refdir, name), src.size, dst.size)
    ours = conservative_weights(src, dst, src_mask=mask, normalization="dstarea")
    shape = (dst.size, src.size)
    diff = max_diff(
        to_csr(ours.rows, ours.cols, ours.S, shape), to_csr(ref.rows, ref.cols, ref.S, shape)
    )
    assert diff < 1e-12, f"{name}: max |ours - nco| = {diff:.3e}"
    assert np.abs(ours.frac_b - ref.frac_b).max() < 1e-12
    assert np.abs(ours.area_b - ref.area_b).max() < 1e-15


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("normalization", ["fracarea", "dstarea"])
def test_remap_conserves_analytic_integrals_and_constants(name: str, normalization: str) -> None:
    src, dst, mask = grids(name)
    w = conservative_weights(src, dst, src_mask=mask, normalization=normalization)
    ya, xa = src.centres()
    yb, xb = dst.centres()
    res = check_weights(w, ya, xa, yb, xb)
    for field, r in res["fields"].items():
        assert r["conservation_rel_error"] < 1e-13, (name, field, r)
    assert res["max_const_error"] < 1e-13
    assert res["S_min"] >= 0.0 and res["S_max"] <= 1.0 + 1e-15
    # smooth fields: first-order error stays small on these resolutions
    assert res["fields"]["2+cos2(lat)cos(2lon)"]["max_rel_error"] < 0.05


@needs_cdo
@needs_nco
@pytest.mark.parametrize("name", ["nested", "dateline", "masked"])
def test_cdo_and_nco_map_files_apply_like_landemu(refdir: Path, name: str) -> None:
    src, dst, mask = grids(name)
    ours = conservative_weights(src, dst, src_mask=mask, normalization="fracarea")
    ya, xa = src.centres()
    f = analytic_field(ya, xa, 8)
    mine = ours.apply(f)
    live = ours.frac_b >= 0.25  # see the fracarea note above
    cdo = read_map(cdo_map(refdir, name, "destarea"))
    cdo_y = cdo.apply(f) / np.where(live, ours.frac_b, 1.0)
    nco = read_map(nco_map(refdir, name))
    nco_y = nco.apply(f)
    nco_y = np.divide(nco_y, nco.frac_b, out=np.zeros_like(nco_y), where=nco.frac_b > 0)
    assert nco_y.shape == cdo_y.shape == (dst.size,)
    assert np.abs(cdo_y[live] / mine[live] - 1.0).max() < 1e-12
    assert np.abs(nco_y[live] / mine[live] - 1.0).max() < 1e-12


@needs_nco
def test_landemu_map_file_loads_in_ncks_and_applies_with_ncremap(refdir: Path) -> None:
    src, dst, _ = grids("nested")
    w = conservative_weights(src, dst, normalization="fracarea")
    path = write_esmf(refdir / "ours_nested.nc", w, src, dst)
    res = subprocess.run([NCKS, "-m", str(path)], capture_output=True, text=True)
    assert res.returncode == 0 and "n_s" in res.stdout and "frac_b" in res.stdout
    ya, xa = src.centres()
    f = analytic_field(ya, xa, 16).reshape(src.shape)
    write_cf_field(refdir / "in_nested.nc", src, f)
    run([NCREMAP, "-t", "1", "-m", path.name, "in_nested.nc", "out_nested.nc"], refdir)
    with netCDF4.Dataset(refdir / "out_nested.nc") as ds:
        got = np.asarray(ds.variables["f"][:], np.float64).reshape(-1)
    expect = w.apply(f.ravel())
    live = w.frac_b > 0.5  # ncremap's default renormalisation threshold treats others as missing
    assert got.shape == (dst.size,)
    assert np.abs(got[live] - expect[live]).max() < 1e-12
