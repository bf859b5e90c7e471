"""Emulators from Python: each xarray function gives, cell for cell, what the family's runtime
function (the one its online step and `landemu` command call) gives on the same ONNX file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from sklearn.ensemble import RandomForestRegressor
from test_lulc_pipeline import cube  # noqa: F401  (fixture: the real 0.05° cube)
from test_mdpl_calibrate import NEW_SITE, new_site  # noqa: F401  (fixture)

import emulators
from coupler.errors import FieldError, GridError, ModelError
from emulators.lulc.infer import MODEL_PATH
from emulators.mdpl.calibrate import calibrate as mdpl_calibrate
from emulators.mdpl.calibrate import make_site, parse_attrs, read_fluxes, read_forcing
from emulators.mdpl.runtime import PACKAGE_DIR
from emulators.soilmoisture.export import to_onnx_model, write_onnx
from emulators.soilmoisture.features import FEATURE_NAMES, NFEATURE
from emulators.soilmoisture.predict import ForestModel, predict_tile

MDPL_MODELS = (PACKAGE_DIR / "gz.onnx").exists()
LULC_MODEL = MODEL_PATH.is_file()


@pytest.fixture(scope="module")
def forest_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small forest on the real predictor list (the shipped file's format, not its skill)."""
    rng = np.random.default_rng(0)
    X = rng.random((2000, NFEATURE)).astype(np.float32)
    y = 0.2 + 0.1 * X[:, :10] * X[:, [0]]
    forest = RandomForestRegressor(4, max_depth=6, random_state=0).fit(X, y)
    return write_onnx(to_onnx_model(forest), tmp_path_factory.mktemp("sm") / "forest.onnx")


def predictors(ntime: int = 2, ny: int = 6, nx: int = 8) -> xr.Dataset:
    rng = np.random.default_rng(1)
    dims = ("time", "lat", "lon")
    coords = {
        "time": np.arange(ntime),
        "lat": 45.0 + np.arange(ny) / 120,
        "lon": 5.0 + np.arange(nx) / 120,
    }
    data = {n: (dims, rng.random((ntime, ny, nx)).astype(np.float32)) for n in FEATURE_NAMES}
    return xr.Dataset(data, coords=coords)


def test_soil_moisture_equals_the_online_tile_prediction(forest_path: Path) -> None:
    ds = predictors()
    got = emulators.soil_moisture(ds, model=forest_path)
    assert got.dims == ("depth", "time", "lat", "lon") and got.shape == (10, 2, 6, 8)
    assert list(got.depth.values) == list(range(10, 101, 10)) and got.attrs["units"] == "m3 m-3"
    model = ForestModel(forest_path)
    for t in range(2):
        tile = predict_tile(model, {n: ds[n].values[t] for n in FEATURE_NAMES})
        np.testing.assert_array_equal(got.values[:, t], tile)


def test_soil_moisture_gives_nan_where_a_predictor_is_missing_and_stays_lazy(
    forest_path: Path,
) -> None:
    ds = predictors()
    ds["lai"][0, 0, 0] = np.nan  # e.g. ocean
    eager = emulators.soil_moisture(ds, model=forest_path)
    assert np.isnan(eager.values[:, 0, 0, 0]).all() and np.isfinite(eager.values[:, 1]).all()
    lazy = emulators.soil_moisture(ds.chunk({"time": 1}), model=forest_path)
    assert lazy.chunks is not None
    np.testing.assert_array_equal(lazy.values, eager.values)


def test_soil_moisture_names_missing_predictors_and_model(forest_path: Path) -> None:
    with pytest.raises(FieldError, match=r"lacks \['lai'\]"):
        emulators.soil_moisture(predictors().drop_vars("lai"), model=forest_path)
    with pytest.raises(ModelError, match="nowhere.onnx' does not exist"):
        emulators.soil_moisture(predictors(), model="/nowhere.onnx")


@pytest.mark.slow
@pytest.mark.skipif(not MDPL_MODELS, reason="the shipped MdPL models (gz.onnx) are not on main")
def test_calibrate_on_datasets_equals_landemu_calibrate(new_site) -> None:  # noqa: F811
    """The Datasets of a new twin site give the candidates, fluxes and choice of the function
    `landemu calibrate` runs on the same files."""
    _, fpath, opath, _ = new_site
    forcing = read_forcing(fpath)
    site = make_site("XX-New", "grassland", parse_attrs(NEW_SITE))
    ref = mdpl_calibrate(forcing, read_fluxes(opath, len(forcing["TBOT"])), site, generations=2)
    with xr.open_dataset(fpath) as f, xr.open_dataset(opath) as o:
        got = emulators.calibrate(
            f.load(),
            o.load(),
            pft="grassland",
            name="XX-New",
            generations=2,
            **parse_attrs(NEW_SITE),
        )
    assert got.attrs["chosen"] == ref.chosen and list(got.candidate.values) == list(ref.candidates)
    for name, params in ref.candidates.items():
        np.testing.assert_array_equal(got.parameters.sel(candidate=name).values, params)
        np.testing.assert_array_equal(got.fluxes.sel(candidate=name).values, ref.sims[name])
    rmse = got.skill.sel(flux="H", metric="rmse", candidate=ref.chosen).item()
    assert rmse == ref.skill[ref.chosen]["H"]["rmse"]


@pytest.fixture(scope="module")
def lulc_region(cube):  # noqa: F811
    """A 256 × 256 window of the real 0.05° cube (Brittany/Normandy), its coarse fractions on a
    0.5° grid, a prior with 32-pixel patches hidden, and the same as xarray objects."""
    from emulators.lulc.dataset import DEG, Cube, lat_of_rows
    from emulators.lulc.features import N_LU, coarse_fractions, patch_mask, row_area_weights

    r0, c0, n, f = round((46 + 90) / DEG), round((-4 + 180) / DEG), 260, 10
    w = Cube.open(cube).window(r0, r0 + n, c0, c0 + n)
    coarse = coarse_fractions(w["lu"], f, N_LU, row_area_weights(-90.0 + r0 * DEG, n, DEG))
    hidden = patch_mask(n, n, 0.5, np.random.default_rng(0))
    lat, lon = lat_of_rows(r0, r0 + n), -180.0 + (np.arange(c0, c0 + n) + 0.5) * DEG
    fine = {"lat": lat, "lon": lon}
    static = xr.Dataset({k: (("lat", "lon"), v) for k, v in w.items()}, coords=fine)
    clat, clon = lat.reshape(-1, f).mean(1), lon.reshape(-1, f).mean(1)
    xcoarse = xr.DataArray(coarse, dims=("class", "lat", "lon"), coords={"lat": clat, "lon": clon})
    return (r0, c0, f, w, coarse, hidden), (xcoarse, static, static[["lu", "lc"]], hidden)


@pytest.mark.slow
@pytest.mark.skipif(not LULC_MODEL, reason="the shipped lulc.onnx is not on main")
def test_landcover_of_a_region_stored_north_to_south_is_the_same_map_reversed(
    lulc_region,
) -> None:
    """(Equality with the online step: test_xarray_online.py.)"""
    _, (xcoarse, static, prior, _) = lulc_region
    prior = prior.rename(lu="land_use", lc="land_cover")
    ref = emulators.landcover(xcoarse, static, prior, year=2001)
    assert np.unique(ref.land_use.values).size >= 4
    flip = {"lat": slice(None, None, -1)}
    got = emulators.landcover(xcoarse.isel(flip), static.isel(flip), prior.isel(flip), year=2001)
    np.testing.assert_array_equal(got.land_use.values, ref.land_use.values[::-1])
    np.testing.assert_array_equal(got.land_cover.values, ref.land_cover.values[::-1])


def test_landcover_refuses_a_coarse_grid_that_does_not_tile_the_fine_one(lulc_region) -> None:
    _, (xcoarse, static, prior, _) = lulc_region
    prior = prior.rename(lu="land_use", lc="land_cover")
    with pytest.raises(GridError, match="does not tile the fine grid"):
        emulators.landcover(xcoarse.isel(lat=slice(1, None)), static, prior, year=2001)
    with pytest.raises(FieldError, match=r"static lacks \['slope'\]"):
        emulators.landcover(xcoarse, static.drop_vars("slope"), prior, year=2001)


def test_soil_moisture_runs_the_shipped_forest_by_default() -> None:
    shipped = Path(emulators.__file__).parent / "soilmoisture" / "soilmoisture.onnx"
    ds = predictors(ntime=1, ny=3, nx=4)
    got = emulators.soil_moisture(ds)
    tile = predict_tile(ForestModel(shipped), {n: ds[n].values[0] for n in FEATURE_NAMES})
    np.testing.assert_array_equal(got.values[:, 0], tile)
