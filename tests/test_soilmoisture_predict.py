"""The pure per-pixel prediction the online step calls: ONNX parity with scikit-learn, tiles
flattened in C order, metrics, and a clear error for every bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.ensemble import RandomForestRegressor

from coupler.errors import FieldError, ModelError
from emulators.soilmoisture.export import PARITY_TOL, to_onnx_model, write_onnx
from emulators.soilmoisture.features import FEATURE_NAMES, NFEATURE
from emulators.soilmoisture.metrics import layer_scores
from emulators.soilmoisture.predict import (
    FEATURES_METADATA_KEY,
    ForestModel,
    assemble_features,
    predict,
)


def _data(n: int, nfeat: int = NFEATURE, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.random((n, nfeat)).astype(np.float32)
    y = 0.2 + 0.1 * X[:, np.arange(10) % nfeat] * X[:, [0]] + 0.01 * rng.standard_normal((n, 10))
    return X, y


@pytest.fixture(scope="module")
def forest_onnx(tmp_path_factory) -> tuple[RandomForestRegressor, Path]:
    X, y = _data(3000)
    forest = RandomForestRegressor(8, max_depth=8, min_samples_leaf=5, random_state=0).fit(X, y)
    path = tmp_path_factory.mktemp("sm") / "forest.onnx"
    return forest, write_onnx(to_onnx_model(forest), path)


def test_onnx_forest_matches_scikit_learn_within_1e_5(forest_onnx) -> None:
    forest, path = forest_onnx
    X, _ = _data(5000, seed=1)
    out = predict(ForestModel(path), X)
    assert out.shape == (5000, 10) and out.dtype == np.float32
    assert np.abs(out - forest.predict(X)).max() <= PARITY_TOL


def test_tile_fields_flatten_in_c_order_like_rows(forest_onnx) -> None:
    _, path = forest_onnx
    model = ForestModel(path)
    X, _ = _data(12, seed=2)
    fields = {name: X[:, k].reshape(3, 4) for k, name in enumerate(FEATURE_NAMES)}
    np.testing.assert_array_equal(predict(model, fields), predict(model, X))


def test_missing_predictor_field_is_named(forest_onnx) -> None:
    X, _ = _data(4)
    fields = {name: X[:, k] for k, name in enumerate(FEATURE_NAMES) if name != "lai"}
    with pytest.raises(FieldError, match=r"missing: \['lai'\]"):
        predict(ForestModel(forest_onnx[1]), fields)


def test_unknown_and_misshapen_predictor_fields_are_named() -> None:
    X, _ = _data(4)
    fields = {name: X[:, k] for k, name in enumerate(FEATURE_NAMES)}
    with pytest.raises(FieldError, match="unknown soil-moisture predictors.*'sandd'"):
        assemble_features({**fields, "sandd": X[:, 0]})
    with pytest.raises(FieldError, match=r"\['clay'\] have shapes \[\(3,\)\]"):
        assemble_features({**fields, "clay": X[:3, 0]})


def test_nan_predictor_is_named_with_its_pixel_count(forest_onnx) -> None:
    X, _ = _data(10)
    X[[1, 4], FEATURE_NAMES.index("pre")] = np.nan
    X[7, FEATURE_NAMES.index("sand")] = np.inf
    with pytest.raises(FieldError, match=r"NaN/inf values: \{'pre': 2, 'sand': 1\}"):
        predict(ForestModel(forest_onnx[1]), X)


def test_predictor_array_of_wrong_width_is_rejected(forest_onnx) -> None:
    with pytest.raises(FieldError, match=r"shape \(5, 31\); expected \(N, 32\)"):
        predict(ForestModel(forest_onnx[1]), np.zeros((5, 31), np.float32))


def test_model_with_another_feature_count_is_rejected(tmp_path) -> None:
    X, y = _data(200, nfeat=5)
    forest = RandomForestRegressor(2, max_depth=3, random_state=0).fit(X, y)
    model = convert_sklearn(forest, initial_types=[("x", FloatTensorType([None, 5]))])
    path = tmp_path / "five.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(ModelError, match=r"five.onnx' takes \[\('x', \[None, 5\]\)\]; .* 32"):
        ForestModel(path)


def test_model_trained_on_reordered_predictors_is_rejected(forest_onnx, tmp_path) -> None:
    model = onnx.load(str(forest_onnx[1]))
    for prop in model.metadata_props:
        if prop.key == FEATURES_METADATA_KEY:
            names = list(FEATURE_NAMES)
            names[0], names[1] = names[1], names[0]
            prop.value = ",".join(names)
    path = tmp_path / "swapped.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(ModelError, match="trained on predictors.*in this order"):
        ForestModel(path)


def test_missing_or_corrupt_model_file_is_named(tmp_path) -> None:
    with pytest.raises(ModelError, match="nowhere.onnx' does not exist"):
        ForestModel(tmp_path / "nowhere.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="bad.onnx' is not a loadable ONNX model"):
        ForestModel(bad)


def test_scores_match_hand_computed_values() -> None:
    obs = np.array([[0.1], [0.2], [0.3], [0.4]])
    pred = obs + 0.05  # a pure offset: no unbiased error, perfect correlation
    s = layer_scores(pred, obs)
    assert s["ubrmse"][0] == pytest.approx(0.0, abs=1e-12)
    assert s["bias"][0] == pytest.approx(0.05)
    assert s["mae"][0] == pytest.approx(0.05)
    assert s["r"][0] == pytest.approx(1.0)
    assert s["r2"][0] == pytest.approx(1.0 - 4 * 0.05**2 / 0.05)  # 1 − SSres/SStot = 0.8
    noisy = obs + np.array([[0.01], [-0.01], [0.01], [-0.01]])
    assert layer_scores(noisy, obs)["ubrmse"][0] == pytest.approx(0.01)


def test_shipped_forest_fits_a_rank_and_predicts_plausible_soil_moisture() -> None:
    path = Path(__file__).resolve().parents[1] / "emulators" / "soilmoisture" / "soilmoisture.onnx"
    assert path.stat().st_size < 20e6
    model = ForestModel(path)
    rng = np.random.default_rng(3)
    X = np.empty((500, NFEATURE), np.float32)
    X[:, :10] = rng.uniform(0.2, 0.4, (500, 1))  # reanalysis SM, same at every depth
    X[:, 10:20] = rng.uniform(275.0, 295.0, (500, 1))
    for k, (lo, hi) in enumerate([(270, 300), (0, 10), (0, 3), (0, 5), (0.5, 4), (1, 14)]):
        X[:, 20 + k] = rng.uniform(lo, hi, 500)
    X[:, 25] = np.rint(X[:, 25])
    X[:, 26:] = [300.0, 40.0, 40.0, 20.0, 30.0, 0.44]
    out = predict(model, X)
    assert out.shape == (500, 10)
    assert out.min() > 0.05 and out.max() < 0.55
    # drier reanalysis → drier fine soil (the forest follows its main predictor)
    dry, wet = X[:, 0] < 0.25, X[:, 0] > 0.35
    assert out[dry].mean() < out[wet].mean() - 0.03
