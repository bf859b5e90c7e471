"""coupler.Regridder on xarray: the engine's numbers bit for bit, cdo's weights on real grid
pairs, conservation, coordinates/attributes/dims round trips, dask laziness, saved weights,
map files, and errors that quote both sides."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from mpi4py import MPI
from test_regrid_reference import (  # the cdo helpers of the engine's reference tests
    CASES,
    case_mask,
    cdo_map,
    grids,
    max_diff,
    needs_cdo,
    refdir,  # noqa: F401  (fixture)
    to_csr,
    write_cf_field,
)

import coupler
from coupler.errors import GridError, LandemuError, RegridError
from coupler.grids import LatLonGrid
from coupler.regrid import Regridder as EngineRegridder
from coupler.regrid import SparseRemap, conservative_weights, interpolation_weights
from coupler.regrid.check import analytic_field
from coupler.xgrid import grid_dataset

NESTED_SRC, NESTED_DST = CASES["nested"][:2]  # 1/120° tile in a 0.5° grid (the demo's grids)


def field_on(spec: str, lead: dict | None = None, seed: int = 0) -> xr.DataArray:
    """A random DataArray on a spec grid with leading dims `lead` (name → size)."""
    lead = lead or {}
    g = grid_dataset(spec)
    shape = (*lead.values(), g.sizes["lat"], g.sizes["lon"])
    values = np.random.default_rng(seed).random(shape) + 1.0
    return xr.DataArray(
        values,
        dims=(*lead, "lat", "lon"),
        coords={"lat": g.lat, "lon": g.lon},
        name="f",
        attrs={"units": "K", "long_name": "test field"},
    )


@pytest.mark.parametrize(
    "method,normalization,masked",
    [
        ("conservative", "fracarea", False),
        ("conservative", "dstarea", True),
        ("conservative", "none", False),
        ("bilinear", "fracarea", False),
        ("nearest", "fracarea", False),
    ],
)
def test_regridder_equals_engine_bit_for_bit(method: str, normalization: str, masked: bool) -> None:
    src, dst = LatLonGrid.parse(NESTED_SRC), LatLonGrid.parse(NESTED_DST)
    mask = case_mask(src) if masked else None
    da = field_on(NESTED_SRC, {"time": 3})
    reg = coupler.Regridder(
        da, grid_dataset(NESTED_DST), method, normalization=normalization, src_mask=mask
    )
    # the engine as the coupler runs it: the MPI router (on one rank), not the serial fast path
    if method == "conservative":
        w = conservative_weights(src, dst, src_mask=mask, normalization=normalization)
    else:
        w = interpolation_weights(src, dst, method)
    remap = SparseRemap.build(
        MPI.COMM_SELF, w.rows, w.cols, w.S, np.arange(w.n_a), np.arange(w.n_b), w.n_a, w.n_b
    )
    engine = EngineRegridder(
        remap,
        src_mask=mask,
        frac_b=w.frac_b,
        normalization=normalization if method == "conservative" else "fracarea",
        src_shape=src.shape,
        dst_shape=dst.shape,
    )
    got = reg(da)
    assert got.shape == (3, 6, 6)
    np.testing.assert_array_equal(got.values, engine(da.values))


def test_north_to_south_input_gives_the_same_numbers_reversed() -> None:
    da = field_on(NESTED_SRC, {"time": 2})
    ref = coupler.Regridder(da, NESTED_DST)(da)
    flipped = da.isel(lat=slice(None, None, -1))
    target = grid_dataset(NESTED_DST).isel(lat=slice(None, None, -1))
    got = coupler.Regridder(flipped, target)(flipped)
    assert float(got.lat[0]) > float(got.lat[-1])
    np.testing.assert_array_equal(got.values, ref.values[:, ::-1, :])


@needs_cdo
@pytest.mark.parametrize("name", ["nested", "global", "masked"])
def test_weights_from_cf_files_equal_cdo_within_1e11(refdir: Path, name: str) -> None:  # noqa: F811
    """Grids read back from CF netCDF files (centres + bounds) give cdo's gencon weights."""
    src, dst, mask = grids(name)
    write_cf_field(refdir / f"x_{name}_src.nc", src, np.zeros(src.shape))
    write_cf_field(refdir / f"x_{name}_dst.nc", dst, np.zeros(dst.shape))
    with (
        xr.open_dataset(refdir / f"x_{name}_src.nc") as a,
        xr.open_dataset(refdir / f"x_{name}_dst.nc") as b,
    ):
        reg = coupler.Regridder(a, b, normalization="dstarea", src_mask=mask)
    w = reg.weights
    ref = coupler.Regridder.from_map(cdo_map(refdir, name, "destarea")).weights
    shape = (dst.size, src.size)
    diff = max_diff(to_csr(w.rows, w.cols, w.S, shape), to_csr(ref.rows, ref.cols, ref.S, shape))
    assert diff <= 1e-11, f"{name}: max |landemu - cdo| = {diff:.3e}"


@needs_cdo
def test_cdo_map_file_applies_to_a_dataarray_like_cdo_weights(refdir: Path) -> None:  # noqa: F811
    dst = grids("nested")[1]
    da = field_on(NESTED_SRC, {"time": 2})
    reg = coupler.Regridder.from_map(cdo_map(refdir, "nested", "fracarea"))
    got = reg(da)
    w = reg.weights
    expect = np.stack([w.apply(v.ravel()) for v in da.values]).reshape(2, *dst.shape)
    covered = (w.frac_b > 0).reshape(dst.shape)
    assert got.dims == ("time", "lat", "lon")
    np.testing.assert_allclose(got.values[:, covered], expect[:, covered], rtol=1e-14)
    assert np.isnan(got.values[:, ~covered]).all()
    np.testing.assert_allclose(got.lat, dst.lat_centres(), atol=1e-12)


@pytest.mark.parametrize("name", ["nested", "global", "dateline"])
def test_conservative_regrid_conserves_area_integral_within_1e13(name: str) -> None:
    src, dst, _ = grids(name)
    da = field_on(src.spec, {"member": 2})
    reg = coupler.Regridder(da, grid_dataset(dst), normalization="dstarea")
    out = reg(da)
    w = reg.weights
    before = (da.values.reshape(2, -1) * w.area_a * w.frac_a).sum(axis=1)
    after = (np.nan_to_num(out.values).reshape(2, -1) * w.area_b).sum(axis=1)
    rel = np.abs(after / before - 1.0)
    assert rel.max() <= 1e-13, rel


def test_dataset_with_time_level_and_member_round_trips_coords_and_attrs() -> None:
    g = grid_dataset(NESTED_SRC)
    rng = np.random.default_rng(1)
    ds = g.assign(
        tsoi=(("time", "level", "member", "lat", "lon"), rng.random((2, 3, 2, 240, 240))),
        topo=(("lat", "lon"), rng.random((240, 240)), {"units": "m"}),
        co2=(("time",), [410.0, 412.0], {"units": "ppm"}),
        rlat=(("lat",), np.arange(240.0)),
    )
    ds = ds.assign_coords(
        time=("time", np.array(["2001-01-01", "2001-02-01"], "datetime64[ns]")),
        level=("level", [0.05, 0.2, 0.6], {"units": "m", "positive": "down"}),
        member=("member", ["a", "b"]),
        mask=(("lat", "lon"), np.ones((240, 240))),
    )
    ds.tsoi.attrs = {"units": "K", "long_name": "soil temperature"}
    ds.attrs = {"title": "round trip", "source": "test"}
    out = coupler.Regridder(ds, NESTED_DST)(ds)
    assert out.tsoi.dims == ("time", "level", "member", "lat", "lon")
    assert out.tsoi.shape == (2, 3, 2, 6, 6)
    assert out.topo.dims == ("lat", "lon") and out.topo.attrs == {"units": "m"}
    assert out.tsoi.attrs == ds.tsoi.attrs and out.attrs == ds.attrs
    xr.testing.assert_identical(out.co2, ds.co2)
    for c in ("time", "level", "member"):
        xr.testing.assert_identical(out[c], ds[c])
    assert "rlat" not in out and "mask" not in out.coords  # source-grid-only variables
    np.testing.assert_array_equal(out.lat, grid_dataset(NESTED_DST).lat)
    np.testing.assert_array_equal(out.lat_bnds[0], [29.5, 30.0])


def test_dask_input_is_lazy_and_equals_in_memory_result() -> None:
    da = field_on(NESTED_SRC, {"time": 4, "level": 2})
    reg = coupler.Regridder(da, NESTED_DST)
    lazy = reg(da.chunk({"time": 1, "lat": 120}))  # horizontal chunks are merged
    assert lazy.chunks is not None and lazy.data.numblocks == (4, 1, 1, 1)
    np.testing.assert_array_equal(lazy.compute().values, reg(da).values)


def test_saved_weights_reload_and_give_identical_results(tmp_path: Path) -> None:
    da = field_on(NESTED_SRC, {"time": 2})
    mask = case_mask(LatLonGrid.parse(NESTED_SRC))
    reg = coupler.Regridder(da, NESTED_DST, normalization="dstarea", src_mask=mask)
    path = reg.to_netcdf(tmp_path / "w.nc")
    back = coupler.Regridder.from_map(path)
    assert back.target.grid == reg.target.grid and back.weights.normalization == "dstarea"
    xr.testing.assert_identical(back(da), reg(da))


def test_class_fractions_sum_to_one_and_match_engine() -> None:
    src = LatLonGrid.parse(NESTED_SRC)
    classes = np.random.default_rng(2).integers(0, 4, (2, *src.shape))
    g = grid_dataset(src)
    da = xr.DataArray(classes, dims=("year", "lat", "lon"), coords={"lat": g.lat, "lon": g.lon})
    reg = coupler.Regridder(da, NESTED_DST)
    frac = reg.class_fractions(da, [0, 1, 2, 3])
    assert frac.dims == ("year", "class", "lat", "lon") and list(frac["class"]) == [0, 1, 2, 3]
    engine = EngineRegridder.latlon(src, LatLonGrid.parse(NESTED_DST))
    np.testing.assert_array_equal(frac.values[1], engine.class_fractions(classes[1], range(4)))
    total = frac.sum("class", skipna=False).values
    assert np.abs(total[np.isfinite(total)] - 1.0).max() < 1e-13


def test_skipna_renormalises_over_valid_sources() -> None:
    da = field_on(NESTED_SRC)
    holes = da.where(da.lon > 11.0)  # western half missing
    reg = coupler.Regridder(da, NESTED_DST)
    got = reg(holes, skipna=True)
    mean_east = float(da.sel(lat=slice(30.0, 30.5), lon=slice(11.0, 11.5)).mean())
    assert np.isnan(got.sel(lat=30.25, lon=10.25).item())
    assert abs(got.sel(lat=30.25, lon=11.25).item() - mean_east) < 1e-3


def test_wrong_horizontal_shape_error_quotes_both_sides() -> None:
    reg = coupler.Regridder(NESTED_SRC, NESTED_DST)
    with pytest.raises(GridError, match=r"horizontal shape \(120, 240\).*built for \(240, 240\)"):
        reg(field_on("latlon:120,240:30,31,10,12"))
    with pytest.raises(GridError, match=r"needs horizontal dims \('lat', 'lon'\)"):
        reg(field_on(NESTED_SRC).rename(lon="x"))


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda: coupler.Regridder(xr.Dataset(), NESTED_DST), "no latitude coordinate"),
        (
            lambda: coupler.Regridder(
                xr.Dataset(coords={"lat": [0.0, 1.0, 3.0], "lon": [0.0, 1.0]}), NESTED_DST
            ),
            "latitude 'lat' is not equally spaced",
        ),
        (lambda: coupler.Regridder(NESTED_SRC, NESTED_DST, "cubic"), "method 'cubic'"),
        (
            lambda: coupler.Regridder(NESTED_SRC, NESTED_DST, normalization="area"),
            "normalization 'area'",
        ),
        (
            lambda: coupler.Regridder(NESTED_SRC, NESTED_DST, "bilinear", dst_mask=np.ones((6, 6))),
            "dst_mask applies to conservative",
        ),
        (
            lambda: coupler.Regridder(NESTED_SRC, NESTED_DST, src_mask=np.ones((6, 6))),
            r"src_mask has shape \(6, 6\), the grid has \(240, 240\)",
        ),
        (lambda: coupler.Regridder.from_map("/nonexistent/map.nc"), "map.nc"),
    ],
)
def test_bad_inputs_raise_landemu_errors_naming_the_culprit(make, message: str) -> None:
    with pytest.raises(LandemuError, match=message):
        make()


def test_map_template_of_the_wrong_size_is_refused(tmp_path: Path) -> None:
    path = coupler.Regridder(NESTED_SRC, NESTED_DST).to_netcdf(tmp_path / "w.nc")
    with pytest.raises(GridError, match=r"template has horizontal shape \(3, 4\).*\(240, 240\)"):
        coupler.Regridder.from_map(path, source=grid_dataset("latlon:3,4:0,1,0,1"))
    with pytest.raises(RegridError, match="copy that file"):
        coupler.Regridder.from_map(path, source=grid_dataset(NESTED_SRC)).to_netcdf(
            tmp_path / "x.nc"
        )


def test_analytic_field_error_is_small_for_bilinear() -> None:
    """A smooth field interpolated to a finer grid stays within 1e-3 of the truth."""
    src, dst = "latlon:20,20:30,40,10,20", "latlon:200,200:30.5,39.5,10.5,19.5"
    g = grid_dataset(src)
    lat, lon = xr.broadcast(g.lat, g.lon)
    da = xr.DataArray(
        analytic_field(lat.values, lon.values, 2), coords={"lat": g.lat, "lon": g.lon}
    )
    out = coupler.Regridder(da, dst, "bilinear")(da)
    la, lo = xr.broadcast(out.lat, out.lon)
    rel = np.abs(out.values / analytic_field(la.values, lo.values, 2) - 1.0)
    assert rel.max() < 1e-3


def test_import_coupler_does_not_import_xarray() -> None:
    code = "import sys, coupler; print('xarray' in sys.modules, 'mpi4py' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("duplicates", ["sum", "same"])
def test_serial_remap_equals_the_router_on_one_rank_for_unsorted_duplicated_nonzeros(
    duplicates: str,
) -> None:
    """SparseRemap.local (the xarray face's path) = SparseRemap.build on COMM_SELF, bit for bit,
    also for map-file order (shuffled) with repeated (row, col) pairs."""
    w = conservative_weights(*(LatLonGrid.parse(s) for s in (NESTED_SRC, NESTED_DST)))
    rng = np.random.default_rng(3)
    extra = rng.choice(w.n_s, 500)
    rows, cols = np.r_[w.rows, w.rows[extra]], np.r_[w.cols, w.cols[extra]]
    S = np.r_[w.S, w.S[extra] * (1.0 if duplicates == "same" else 0.37)]
    order = rng.permutation(S.size)
    rows, cols, S = rows[order], cols[order], S[order]
    ids_a, ids_b = np.arange(w.n_a), np.arange(w.n_b)
    ref = SparseRemap.build(
        MPI.COMM_SELF, rows, cols, S, ids_a, ids_b, w.n_a, w.n_b, duplicates=duplicates
    )
    fast = SparseRemap.local(rows, cols, S, w.n_a, w.n_b, duplicates=duplicates)
    x = rng.random((3, w.n_a))
    np.testing.assert_array_equal(fast.apply(x), ref.apply(x))
    np.testing.assert_array_equal(fast.apply(x[0]), ref.apply(x[0]))


def test_horizontal_dims_in_any_position_keep_their_place() -> None:
    da = field_on(NESTED_SRC, {"time": 2})
    reg = coupler.Regridder(da, NESTED_DST)
    moved = reg(da.transpose("lon", "time", "lat"))
    assert moved.dims == ("lon", "time", "lat")
    np.testing.assert_array_equal(moved.transpose("time", "lat", "lon").values, reg(da).values)


def test_float32_centres_without_bounds_give_the_spec_grid_exactly() -> None:
    """A 1/120° grid stored as float32 centres (no bounds) snaps to the spec's edges, so its
    weights are those of the spec bit for bit."""
    g = grid_dataset(NESTED_SRC)
    stored = xr.Dataset(
        coords={"lat": g.lat.values.astype(np.float32), "lon": g.lon.values.astype(np.float32)}
    )
    from_file = coupler.Regridder(stored, NESTED_DST)
    assert from_file.source.grid == LatLonGrid.parse(NESTED_SRC)
    spec = coupler.Regridder(NESTED_SRC, NESTED_DST)
    np.testing.assert_array_equal(from_file.weights.S, spec.weights.S)


def test_map_file_applies_to_a_curvilinear_template_with_2d_coordinates(tmp_path: Path) -> None:
    """Templates name the dims and coordinates of a map's grids whatever their shape: here the
    source is stored as (y, x) with 2-D lat/lon, as a curvilinear model grid would be."""
    da = field_on(NESTED_SRC, {"time": 2})
    path = coupler.Regridder(da, NESTED_DST).to_netcdf(tmp_path / "w.nc")
    lat2d, lon2d = xr.broadcast(da.lat, da.lon)
    curvi = xr.DataArray(
        da.values,
        dims=("time", "y", "x"),
        coords={
            "lat": (("y", "x"), lat2d.values, {"standard_name": "latitude"}),
            "lon": (("y", "x"), lon2d.values, {"standard_name": "longitude"}),
        },
    )
    reg = coupler.Regridder.from_map(path, source=curvi)
    assert reg.source.dims == ("y", "x")
    np.testing.assert_array_equal(reg(curvi).values, coupler.Regridder.from_map(path)(da).values)
