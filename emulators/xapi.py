"""The shipped emulators on xarray objects: a notebook calls the functions the coupler's steps
and `landemu` commands call, on the same ONNX files, so it gets the same numbers.

Each function takes DataArrays/Datasets, hands plain arrays to the family's runtime function
and labels the result (dims, coordinates, units). Exposed as `emulators.soil_moisture`
(and the other names of `__all__`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from coupler.errors import FieldError

__all__ = ["soil_moisture"]


def _need(ds: xr.Dataset, names: tuple[str, ...], what: str) -> list[xr.DataArray]:
    """The variables `names` of ds broadcast to one shape (FieldError naming what is missing)."""
    if not isinstance(ds, xr.Dataset):
        raise FieldError(f"{what} must be an xarray Dataset, got {type(ds).__name__}")
    missing = [n for n in names if n not in ds.data_vars]
    if missing:
        raise FieldError(f"{what} lacks {missing}; expected all of {list(names)}")
    return list(xr.broadcast(*(ds[n] for n in names)))


def soil_moisture(predictors: xr.Dataset, *, model: str | Path | None = None) -> xr.DataArray:
    """Volumetric soil moisture (m3 m-3) at 10, 20, …, 100 cm from the soil-moisture forest.

    predictors : a Dataset with the model's 32 predictors (`emulators.soilmoisture.features.
        FEATURE_NAMES`, units as on its model card) on one grid, any dims (e.g. time, lat,
        lon); host predictors already on that grid (e.g. regridded with coupler.Regridder).
        Cells where a predictor is NaN (ocean, no data) get NaN.
    model : an ONNX file (default: the shipped emulators/soilmoisture/soilmoisture.onnx).
    Returns (depth, *predictor dims) float32 — per cell exactly `predict` of the online step.
    """
    from emulators.soilmoisture.features import DEPTHS_CM, FEATURE_NAMES, NLAYER, OUTPUT_NAME
    from emulators.soilmoisture.predict import ForestModel, predict

    fields = _need(predictors, FEATURE_NAMES, "the soil-moisture predictors")
    forest = ForestModel(model or Path(__file__).parent / "soilmoisture" / "soilmoisture.onnx")

    def run(*columns: np.ndarray) -> np.ndarray:
        shape = columns[0].shape
        X = np.stack([np.asarray(c, np.float32).ravel() for c in columns], axis=1)
        valid = np.isfinite(X).all(axis=1)
        out = np.full((X.shape[0], NLAYER), np.nan, np.float32)
        if valid.any():
            out[valid] = predict(forest, X[valid])
        return out.reshape(*shape, NLAYER)

    result = xr.apply_ufunc(
        run,
        *fields,
        output_core_dims=[["depth"]],
        dask="parallelized",
        output_dtypes=[np.float32],
        dask_gufunc_kwargs={"output_sizes": {"depth": NLAYER}},
    )
    result = result.transpose("depth", ...).assign_coords(
        depth=("depth", np.asarray(DEPTHS_CM, np.float64), {"units": "cm", "positive": "down"})
    )
    result.name = OUTPUT_NAME
    result.attrs = {"long_name": "volumetric soil moisture", "units": "m3 m-3"}
    return result
