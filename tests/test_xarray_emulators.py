"""Emulators from Python: each xarray function gives, cell for cell, what the family's runtime
function (the one its online step and `landemu` command call) gives on the same ONNX file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from sklearn.ensemble import RandomForestRegressor

import emulators
from coupler.errors import FieldError, ModelError
from emulators.soilmoisture.export import to_onnx_model, write_onnx
from emulators.soilmoisture.features import FEATURE_NAMES, NFEATURE
from emulators.soilmoisture.predict import ForestModel, predict_tile


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
