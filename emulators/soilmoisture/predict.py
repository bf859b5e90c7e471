"""Per-pixel prediction of 10-layer soil moisture through the ONNX forest (onnxruntime only).

Why pure: the online daily step will assemble the predictor fields of its fine tile, flatten
them to (N, F) and call `predict`; tests and `landemu evaluate soilmoisture` call the very
same function offline, so the tiled online output equals offline prediction by construction.
Every bad input raises a landemu error naming the culprit: a missing or unknown predictor
field, a field of the wrong shape, NaN/inf, or a model whose inputs/outputs do not match the
feature list of features.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import onnxruntime as ort

from coupler.errors import FieldError, ModelError
from emulators.soilmoisture.features import FEATURE_NAMES, NFEATURE, NLAYER

FEATURES_METADATA_KEY = "landemu_features"


class ForestModel:
    """An ONNX soil-moisture forest checked against the feature list at load time."""

    def __init__(self, path: str | Path, threads: int = 1) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError(f"soil-moisture model '{self.path}' does not exist")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(
                str(self.path), opts, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError(
                f"soil-moisture model '{self.path}' is not a loadable ONNX model ({exc})"
            ) from exc
        inputs = self.session.get_inputs()
        outputs = self.session.get_outputs()
        if len(inputs) != 1 or inputs[0].shape[-1] != NFEATURE:
            shapes = [(i.name, i.shape) for i in inputs]
            raise ModelError(
                f"soil-moisture model '{self.path}' takes {shapes}; the configuration has "
                f"{NFEATURE} predictors {list(FEATURE_NAMES)}"
            )
        names = self.session.get_modelmeta().custom_metadata_map.get(FEATURES_METADATA_KEY)
        if names is not None and tuple(names.split(",")) != FEATURE_NAMES:
            raise ModelError(
                f"soil-moisture model '{self.path}' was trained on predictors {names.split(',')}; "
                f"the configuration expects {list(FEATURE_NAMES)} in this order"
            )
        self.input_name = inputs[0].name
        self.output_name = outputs[0].name

    def run(self, X: np.ndarray) -> np.ndarray:
        """Raw forward pass of a checked (N, F) float32 array → (N, 10) float32."""
        out = self.session.run([self.output_name], {self.input_name: X})[0]
        out = np.asarray(out, dtype=np.float32).reshape(X.shape[0], -1)
        if out.shape[1] != NLAYER:
            raise ModelError(
                f"soil-moisture model '{self.path}' returned {out.shape[1]} values per pixel; "
                f"expected {NLAYER} layers"
            )
        return out


def assemble_features(fields: Mapping[str, np.ndarray]) -> np.ndarray:
    """Stack predictor fields (each of one common shape, e.g. a tile (ny, nx) or (N,)) into the
    model's (N, F) float32 input, columns in FEATURE_NAMES order."""
    missing = [n for n in FEATURE_NAMES if n not in fields]
    if missing:
        raise FieldError(
            f"soil-moisture predictors missing: {missing}; expected all of {list(FEATURE_NAMES)}"
        )
    unknown = sorted(set(fields) - set(FEATURE_NAMES))
    if unknown:
        raise FieldError(f"unknown soil-moisture predictors {unknown}")
    shape = np.shape(fields[FEATURE_NAMES[0]])
    bad = [n for n in FEATURE_NAMES if np.shape(fields[n]) != shape]
    if bad:
        raise FieldError(
            f"soil-moisture predictors {bad} have shapes {[np.shape(fields[n]) for n in bad]}; "
            f"expected {shape} like '{FEATURE_NAMES[0]}'"
        )
    return np.stack([np.asarray(fields[n], np.float32).ravel() for n in FEATURE_NAMES], axis=1)


def check_features(X: np.ndarray) -> np.ndarray:
    """X as a C-contiguous (N, F) float32 array; FieldError naming a wrong width or the
    predictors holding NaN/inf (with counts)."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[1] != NFEATURE:
        raise FieldError(
            f"soil-moisture predictors have shape {X.shape}; expected (N, {NFEATURE}) with "
            f"columns {list(FEATURE_NAMES)}"
        )
    finite = np.isfinite(X)
    if not finite.all():
        counts = (~finite).sum(axis=0)
        bad = {FEATURE_NAMES[k]: int(c) for k, c in enumerate(counts) if c}
        raise FieldError(f"soil-moisture predictors hold NaN/inf values: {bad} (name: pixels)")
    return X


def predict(model: ForestModel, X: np.ndarray | Mapping[str, np.ndarray]) -> np.ndarray:
    """Soil moisture (N, 10) in m3 m-3 at 10, 20, …, 100 cm for predictors X (N, F) or a
    mapping of predictor fields (flattened in C order)."""
    if isinstance(X, Mapping):
        X = assemble_features(X)
    return model.run(check_features(X))


def predict_tile(
    model: ForestModel, fields: Mapping[str, np.ndarray], land: np.ndarray | None = None
) -> np.ndarray:
    """Soil moisture of a fine tile as (10, ny, nx) — the level axis first, as a multi-level
    fine field — from predictor fields of shape (ny, nx) each (host fields already on the
    tile, static fields of the tile). With `land` (ny, nx), only land cells are predicted
    (and checked for NaN); the others are 0, as the coupler zeroes fine ocean cells."""
    shape = np.shape(fields[FEATURE_NAMES[0]]) if FEATURE_NAMES[0] in fields else None
    X = assemble_features(fields)
    if shape is None or len(shape) != 2:
        raise FieldError(f"a soil-moisture tile needs (ny, nx) predictor fields, got {shape}")
    if land is None:
        out = predict(model, X)
    else:
        if np.shape(land) != shape:
            raise FieldError(f"the land mask has shape {np.shape(land)}; the tile is {shape}")
        on_land = np.asarray(land, bool).ravel()
        out = np.zeros((X.shape[0], NLAYER), np.float32)
        if on_land.any():
            out[on_land] = predict(model, X[on_land])
    return np.ascontiguousarray(out.T.reshape(NLAYER, *shape))
