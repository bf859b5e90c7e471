"""Diagnostics from Python: the scaling diagnostics (σ, β, γ) and the regrid checks on xarray
objects give the numbers of the functions they wrap, carry leading dims, and work on dask."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import coupler
from coupler.errors import FieldError
from coupler.grids import LatLonGrid
from coupler.regrid.check import check_weights
from coupler.xdiagnostics import conservation_error, regrid_check, scaling
from coupler.xgrid import grid_dataset
from emulators.surface.scaling import scaling_diagnostics

FINE = "latlon:120,180:45,46,6,7.5"  # 1/120°: 2 × 3 boxes of 0.5°


def noise(spec: str, lead: dict, seed: int = 0) -> xr.DataArray:
    g = grid_dataset(spec)
    shape = (*lead.values(), g.sizes["lat"], g.sizes["lon"])
    return xr.DataArray(
        np.random.default_rng(seed).normal(size=shape),
        dims=(*lead, "lat", "lon"),
        coords={"lat": g.lat, "lon": g.lon, **{k: np.arange(n) for k, n in lead.items()}},
        name="h2osoi",
        attrs={"units": "m3 m-3"},
    )


def test_scaling_equals_the_numpy_diagnostics_for_every_leading_index() -> None:
    da = noise(FINE, {"month": 2})
    da[0, :60, :60] = np.nan  # a box without data
    out = scaling(da)
    ref = scaling_diagnostics(da.values)
    assert out.sigma.dims == ("scale", "month", "lat", "lon")
    assert out.sigma.shape == (7, 2, 2, 3) and out.beta.shape == (2, 2, 3)
    np.testing.assert_array_equal(out.sigma.values, ref.sigma)
    np.testing.assert_array_equal(out.beta.values, ref.beta)
    np.testing.assert_array_equal(out.gamma.values, ref.gamma)
    np.testing.assert_allclose(out.lat, [45.25, 45.75])
    assert list(out.scale.values) == [1, 2, 3, 4, 5, 6, 12] and out.sigma.attrs["units"] == "m3 m-3"


def test_white_noise_loses_information_like_one_over_scale() -> None:
    """For white noise σ_s ≈ σ_1/s: β ≈ −1 and γ_12 ≈ 92 %."""
    out = scaling(noise(FINE, {}, seed=1))
    assert abs(float(out.beta.mean()) + 1.0) < 0.05
    assert abs(float(out.gamma.sel(scale=12).mean()) - (1 - 1 / 12) * 100) < 2.0


def test_scaling_on_dask_is_lazy_and_equal() -> None:
    da = noise(FINE, {"month": 3})
    lazy = scaling(da.chunk({"month": 1, "lat": 60}))
    assert lazy.sigma.chunks is not None
    xr.testing.assert_identical(lazy.compute(), scaling(da))


def test_scaling_refuses_fields_that_are_not_whole_boxes() -> None:
    with pytest.raises(FieldError, match="100 cells along 'lat', not a multiple of the 60"):
        scaling(noise("latlon:100,120:45,46,6,7", {}))
    with pytest.raises(FieldError, match="do not divide the box"):
        scaling(noise(FINE, {}), scales=(1, 7))


@pytest.mark.parametrize("normalization", ["fracarea", "dstarea"])
def test_regrid_check_reports_the_engine_check_and_conserves(normalization: str) -> None:
    src, dst = "latlon:40,60:-10,10,170,-160", "latlon:10,12:-12,11,168,-157"
    reg = coupler.Regridder(src, dst, normalization=normalization)
    res = regrid_check(reg)
    a, b = LatLonGrid.parse(src), LatLonGrid.parse(dst)
    ref = check_weights(reg.weights, *a.centres(), *b.centres())
    assert res.sizes["field"] == 5 and res.attrs["n_s"] == ref["n_s"]
    for name, r in ref["fields"].items():
        assert float(res.max_rel_error.sel(field=name)) == r["max_rel_error"]
    assert float(res.conservation_rel_error.max()) < 1e-13


def test_conservation_error_per_time_step() -> None:
    src, dst = "latlon:240,240:30,32,10,12", "latlon:7,9:29.6,32.5,9.5,12.3"
    da = noise(src, {"time": 3}) + 300.0
    reg = coupler.Regridder(da, dst, normalization="dstarea")
    err = conservation_error(reg, da, reg(da))
    assert err.dims == ("time",) and float(err.max()) < 1e-13
    bil = coupler.Regridder(da, dst, "bilinear")
    with pytest.raises(FieldError, match="needs a conservative regridder; a bilinear map"):
        conservation_error(bil, da, bil(da))
