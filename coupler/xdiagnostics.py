"""Diagnostics on xarray objects: the spatial-scaling diagnostics (σ, β, γ) of a fine field and
the checks of a regridding (conservation, analytic-field errors).

Thin wrappers: the numbers come from `emulators.surface.scaling` and `coupler.regrid.check`,
the same functions `landemu surfdata` and `landemu regrid --check` report; this module only
finds dims, carries leading dims (lazily for dask) and labels the results.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from coupler.errors import FieldError
from coupler.regrid.check import WAVENUMBERS, area_integrals, check_weights
from coupler.xgrid import find_latlon
from coupler.xregrid import Regridder
from emulators.surface.scaling import (
    SEED_BOX_CELLS,
    SEED_SCALES,
    box_sigma,
    check_scales,
    information_loss,
    scaling_beta,
)


def _horizontal_dims(da: xr.DataArray, dims: Sequence[str] | None) -> tuple[str, str]:
    if dims is not None:
        missing = [d for d in dims if d not in da.dims]
        if len(dims) != 2 or missing:
            raise FieldError(f"dims must name two dims of the field {da.dims}; got {dims}")
        return str(dims[0]), str(dims[1])
    lat, lon = find_latlon(da)
    return str(lat.dims[0]), str(lon.dims[0])


def scaling(
    field: xr.DataArray,
    *,
    box_cells: int = SEED_BOX_CELLS,
    scales: Sequence[int] = SEED_SCALES,
    dims: Sequence[str] | None = None,
) -> xr.Dataset:
    """σ_s per analysis box, β (log-log slope) and γ_s = (1 − σ_s/σ_1)·100 % of a fine field.

    field : (..., y, x) with y, x its lat/lon dims (or `dims`), multiples of box_cells; NaN
        marks cells without data. Leading dims (time, month, PFT) are carried, lazily for
        dask input.
    Returns a Dataset with sigma (scale, ..., y, x), beta (..., y, x) and gamma (scale, ...,
    y, x) on the box grid, whose coordinates are the mean of the fine ones in each box.
    """
    if not isinstance(field, xr.DataArray):
        raise FieldError(f"field must be an xarray DataArray, got {type(field).__name__}")
    scales = check_scales(scales, box_cells)
    ydim, xdim = _horizontal_dims(field, dims)
    for d in (ydim, xdim):
        if field.sizes[d] % box_cells:
            raise FieldError(
                f"'{field.name}' has {field.sizes[d]} cells along '{d}', not a multiple of "
                f"the {box_cells}-cell box"
            )
    if field.chunks is not None:
        field = field.chunk({ydim: -1, xdim: -1})
    nby, nbx = field.sizes[ydim] // box_cells, field.sizes[xdim] // box_cells

    def sigma_last(x: np.ndarray) -> np.ndarray:  # scale axis after the leading dims
        return np.moveaxis(box_sigma(x, box_cells, scales), 0, -3)

    sigma = xr.apply_ufunc(
        sigma_last,
        field.drop_vars([c for c in field.coords if set(field[c].dims) & {ydim, xdim}]),
        input_core_dims=[[ydim, xdim]],
        output_core_dims=[["scale", ydim, xdim]],
        exclude_dims={ydim, xdim},
        dask="parallelized",
        output_dtypes=[np.float64],
        dask_gufunc_kwargs={"output_sizes": {"scale": len(scales), ydim: nby, xdim: nbx}},
    )
    sigma = sigma.transpose("scale", ...).assign_coords(scale=list(scales))
    box_coords = {
        c: field[c].coarsen({d: box_cells for d in field[c].dims}).mean()
        for c in field.coords
        if set(field[c].dims) & {ydim, xdim} and set(field[c].dims) <= {ydim, xdim}
    }
    beta = xr.apply_ufunc(
        lambda s: scaling_beta(scales, np.moveaxis(s, -1, 0)),
        sigma,
        input_core_dims=[["scale"]],
        dask="parallelized",
        output_dtypes=[np.float64],
    )
    gamma = xr.apply_ufunc(information_loss, sigma, dask="parallelized", output_dtypes=[np.float64])
    out = xr.Dataset({"sigma": sigma, "beta": beta, "gamma": gamma}).assign_coords(box_coords)
    out.scale.attrs = {"long_name": "averaging scale", "units": "fine cells"}
    out.sigma.attrs = {
        "long_name": f"std of the field upscaled to each scale, within {box_cells}-cell boxes",
        "units": field.attrs.get("units", ""),
    }
    out.beta.attrs = {"long_name": "scaling exponent: log(sigma_s/sigma_1) = beta log(s)"}
    out.gamma.attrs = {"long_name": "information loss (1 - sigma_s/sigma_1)", "units": "%"}
    out.attrs = {"box_cells": box_cells, "source": "emulators.surface.scaling"}
    return out


def regrid_check(regridder: Regridder) -> xr.Dataset:
    """`landemu regrid --check` of a regridder's weights: mean/max relative error of the
    analytic fields 2 + cos²(lat)·cos(k·lon) (k = 2, 8, 16, 32; and the constant 2) at the
    target centres, and the relative conservation error of their area integrals.
    Returns a Dataset over dim `field`; attrs n_a, n_b, n_s, S_min, S_max."""
    w = regridder.weights
    centres = []
    for side, hz in (("a", regridder.source), ("b", regridder.target)):
        if hz.grid is not None:
            centres += list(hz.grid.centres())
        else:
            centres += [w.attrs.get(f"yc_{side}"), w.attrs.get(f"xc_{side}")]
    if any(c is None for c in centres):
        raise FieldError("the regridder's map file stores no cell centres; cannot check it")
    res = check_weights(w, *centres)
    names = list(res["fields"])
    keys = ("mean_rel_error", "max_rel_error", "conservation_rel_error")
    data = {k: ("field", [res["fields"][n][k] for n in names]) for k in keys}
    attrs = {k: res[k] for k in ("n_a", "n_b", "n_s", "S_min", "S_max")}
    attrs["wavenumbers"] = list(WAVENUMBERS)
    return xr.Dataset(data, coords={"field": names}, attrs=attrs)


def conservation_error(
    regridder: Regridder, source: xr.DataArray, result: xr.DataArray
) -> xr.DataArray:
    """Relative error |∫result − ∫source| / |∫source| of the area integrals (exact cell areas,
    masks and covered fractions of the regridder's conservative map), per leading index
    (e.g. per time): ≤ 1e-13 for landemu's weights."""
    if regridder.method != "conservative":
        raise FieldError(
            f"conservation_error needs a conservative regridder; a {regridder.method} map has "
            "no source area fractions to integrate over"
        )
    src, dst = regridder.source, regridder.target
    src.check_shape(dict(source.sizes), "source")
    dst.check_shape(dict(result.sizes), "result")
    lead = [d for d in source.dims if d not in src.dims]
    x = src.to_engine(source.transpose(*lead, *src.dims).values)
    y = dst.to_engine(result.transpose(*lead, *dst.dims).values)
    x = x.reshape(*x.shape[: len(lead)], -1)
    y = y.reshape(*y.shape[: len(lead)], -1)
    before, after = area_integrals(regridder.weights, x, np.nan_to_num(y))
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.abs(after - before) / np.abs(before)
    coords = {d: source[d] for d in lead if d in source.coords}
    return xr.DataArray(rel, dims=lead, coords=coords, name="conservation_rel_error")
