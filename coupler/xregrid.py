"""`coupler.Regridder`: landemu's regridding engine on xarray DataArrays and Datasets.

Weights are the engine's (exact lat-lon conservative overlaps, bilinear, nearest, or any
ESMF/SCRIP map file) and so is the application (`coupler.regrid.Regridder` on one rank):
results are bit-for-bit those of the coupler. This module only finds the horizontal dims,
moves them last, broadcasts over every other dim (time, level, ensemble…), chunk by chunk when
the input is dask-backed, and puts coordinates and attributes back.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from coupler.errors import FieldError, GridError, RegridError
from coupler.grids.latlon import LatLonGrid
from coupler.grids.ncio import open_dataset
from coupler.regrid.mapfile import read_map, write_esmf
from coupler.regrid.regridder import Regridder as EngineRegridder
from coupler.regrid.weights import Weights, latlon_weights
from coupler.xgrid import (
    Horizontal,
    as_horizontal,
    horizontal_as_stored,
    horizontal_from_centres,
    horizontal_from_grid,
)

Grid = xr.Dataset | xr.DataArray | LatLonGrid | str


class Regridder:
    """Regrid DataArrays/Datasets from one horizontal grid to another.

    ``Regridder(source, target, method)`` builds exact weights between regular lat-lon grids
    given as Datasets/DataArrays with CF lat/lon (bounds used when present), `LatLonGrid`s or
    ``latlon:NLAT,NLON:S,N,W,E`` specs; ``Regridder.from_map(path)`` applies an ESMF or SCRIP
    map file (any grids). Calling it on a DataArray or Dataset regrids every variable that
    has both horizontal dims, keeps the other dims, coordinates and attributes, and returns
    float64 (lazily, when the input is dask-backed).

    method : 'conservative' (first order, exact overlaps), 'bilinear' or 'nearest'.
    normalization : conservative only — 'fracarea' (mean over the covered part of a target
        cell), 'dstarea' (ESMF: covered fraction × that mean) or 'none' (area integral, sr).
    src_mask, dst_mask : 0/1 on the source / target grid (DataArray or array of its shape);
        masked cells take no part (dst_mask: conservative only).
    fill_value : value of target cells no valid source reaches.
    """

    def __init__(
        self,
        source: Grid,
        target: Grid,
        method: str = "conservative",
        *,
        normalization: str = "fracarea",
        src_mask: xr.DataArray | np.ndarray | None = None,
        dst_mask: xr.DataArray | np.ndarray | None = None,
        fill_value: float = np.nan,
    ) -> None:
        src, dst = as_horizontal(source), as_horizontal(target)
        spec = {
            "normalization": normalization,
            "src_mask": _engine_mask(src_mask, src, "src_mask"),
            "dst_mask": _engine_mask(dst_mask, dst, "dst_mask"),
        }
        self.source, self.target, self.method = src, dst, method
        self.normalization = normalization if method == "conservative" else "none"
        # the engine's serial regridder: unmasked maps stay factored (no nonzero is stored)
        self.engine = EngineRegridder.latlon(
            src.grid, dst.grid, method, **spec, fill_value=fill_value
        )
        self._weights: Weights | None = None
        self._weight_args = (src.grid, dst.grid, method, spec)

    @property
    def weights(self) -> Weights:
        """The whole map as ESMF stores it (materialised on first use for a factored map)."""
        if self._weights is None:
            src, dst, method, spec = self._weight_args
            self._weights = latlon_weights(src, dst, method, **spec)
        return self._weights

    # -- map files ------------------------------------------------------------------------
    @classmethod
    def from_map(
        cls,
        path: str | os.PathLike,
        source: xr.Dataset | xr.DataArray | None = None,
        target: xr.Dataset | xr.DataArray | None = None,
        *,
        fill_value: float = np.nan,
    ) -> Regridder:
        """A regridder applying the ESMF or SCRIP map file `path` (its S, row, col as stored).

        source, target : optional templates whose lat/lon (as stored, any grid) name the
            horizontal dims and coordinates; without them, a map written by `to_netcdf` gets
            its grids back from their specs, any other map its cell centres.
        """
        w = read_map(path, allow_negative=True)
        src = _map_side(w, "a", path, source)
        dst = _map_side(w, "b", path, target)
        mask = None if np.all(w.mask_a != 0) else w.mask_a
        self = cls.__new__(cls)
        self.source, self.target, self._weights = src, dst, w
        self.method, self.normalization = w.method, w.normalization
        self.engine = EngineRegridder.from_whole_weights(w, src_mask=mask, fill_value=fill_value)
        # a template may spell a map's grid as (nlat, nlon) where the file says (n,)
        self.engine.src_shape, self.engine.dst_shape = src.shape, dst.shape
        return self

    def to_netcdf(self, path: str | os.PathLike) -> Path:
        """Write the weights as an ESMF map file (atomically); `from_map` reads it back."""
        if self.source.grid is None or self.target.grid is None:
            raise RegridError(
                "this regridder was read from a map file; copy that file instead of saving"
            )
        return write_esmf(
            path, self.weights, self.source.grid, self.target.grid, title="landemu weights"
        )

    # -- application --------------------------------------------------------------------
    def __call__(
        self,
        obj: xr.DataArray | xr.Dataset,
        *,
        skipna: bool = False,
        missing_value: float | None = None,
    ) -> xr.DataArray | xr.Dataset:
        """Regrid a DataArray, or every variable of a Dataset that has the horizontal dims.

        skipna / missing_value : NaN (or that value) in the source is left out and each
            target cell renormalised over its valid part (the engine's semantics).
        Dataset variables with only one of the horizontal dims are dropped (they have no
        meaning on the target grid); variables with neither are kept as they are.
        """
        kwargs = {"skipna": skipna, "missing_value": missing_value}
        if isinstance(obj, xr.DataArray):
            return self._regrid_array(obj, self._apply, kwargs, (), {})
        if isinstance(obj, xr.Dataset):
            return self._regrid_dataset(obj, kwargs)
        raise FieldError(f"expected an xarray DataArray or Dataset, got {type(obj).__name__}")

    def class_fractions(
        self,
        classes: xr.DataArray,
        class_values: Sequence[int],
        *,
        missing: int | None = None,
        dim: str = "class",
    ) -> xr.DataArray:
        """Area fraction of each class in each target cell (categorical → one-hot).

        classes : integer class per source cell (any leading dims, e.g. year).
        Returns (..., dim, *target dims) with coordinate dim = class_values; with
        'fracarea', fractions of the valid covered area (summing to 1 where any class is).
        """
        values = [int(v) for v in class_values]
        if not isinstance(classes, xr.DataArray):
            raise FieldError(f"classes must be an xarray DataArray, got {type(classes).__name__}")
        out = self._regrid_array(
            classes,
            self._class_fractions,
            {"values": values, "missing": missing},
            (dim,),
            {dim: len(values)},
        )
        return out.assign_coords({dim: values})

    def _apply(self, x: np.ndarray, skipna: bool, missing_value: float | None) -> np.ndarray:
        y = self.engine(self.source.to_engine(x), missing_value=missing_value, skipna=skipna)
        return self.target.from_engine(y)

    def _class_fractions(self, x: np.ndarray, values: list[int], missing: int | None) -> np.ndarray:
        lead = x.shape[: x.ndim - len(self.source.shape)]
        flat = self.source.to_engine(x).reshape(-1, *self.source.shape)
        out = (
            np.stack([self.engine.class_fractions(c, values, missing) for c in flat])
            if flat.shape[0]
            else np.zeros((0, len(values), *self.target.shape))
        )
        return self.target.from_engine(out).reshape(*lead, len(values), *self.target.shape)

    def _regrid_array(
        self,
        da: xr.DataArray,
        func,
        kwargs: dict,
        extra_dims: tuple[str, ...],
        extra_sizes: dict,
    ) -> xr.DataArray:
        src, dst = self.source, self.target
        what = f"input '{da.name}'" if da.name is not None else "input"
        src.check_shape(dict(da.sizes), what)
        clash = [d for d in da.dims if d in dst.dims and d not in src.dims]
        if clash:
            raise GridError(
                f"{what} already has dim(s) {clash} that the target grid's horizontal dims "
                f"{dst.dims} would take"
            )
        drop = [c for c in da.coords if set(da[c].dims) & set(src.dims)]
        da = da.drop_vars(drop)
        if da.chunks is not None:
            da = da.chunk({d: -1 for d in src.dims})
        out = xr.apply_ufunc(
            func,
            da,
            kwargs=kwargs,
            input_core_dims=[list(src.dims)],
            output_core_dims=[[*extra_dims, *dst.dims]],
            exclude_dims=set(src.dims),
            dask="parallelized",
            output_dtypes=[np.float64],
            dask_gufunc_kwargs={
                "output_sizes": {**extra_sizes, **dict(zip(dst.dims, dst.shape, strict=True))}
            },
            keep_attrs=True,
        )
        out = out.transpose(*_output_order(da.dims, src.dims, dst.dims, extra_dims))
        coords = {k: v for k, v in dst.coords.items() if set(v.dims) <= set(out.dims)}
        return out.assign_coords(coords)

    def _regrid_dataset(self, ds: xr.Dataset, kwargs: dict) -> xr.Dataset:
        src, dst = self.source, self.target
        horizontal = set(src.dims)
        regridded = [n for n, v in ds.data_vars.items() if horizontal <= set(v.dims)]
        if not regridded:
            raise GridError(
                f"no variable of the Dataset has the horizontal dims {src.dims}; its variables "
                f"have dims { ({str(n): v.dims for n, v in ds.data_vars.items()}) }"
            )
        data_vars = {}
        for name, var in ds.data_vars.items():
            if name in regridded:
                data_vars[name] = self._regrid_array(var, self._apply, kwargs, (), {})
            elif not (set(var.dims) & horizontal) and name not in src.bounds:
                data_vars[name] = var
        keep = {k: v for k, v in ds.coords.items() if not set(v.dims) & horizontal}
        keep = {k: v for k, v in keep.items() if k not in src.bounds}
        out = xr.Dataset(data_vars, coords=keep, attrs=ds.attrs)
        return out.assign_coords(dst.coords)

    def __repr__(self) -> str:
        return (
            f"coupler.Regridder({self.method}, {self.normalization}: {self.source.dims}"
            f"{self.source.shape} → {self.target.dims}{self.target.shape}, "
            f"{self.engine.remap.local_nnz} weights)"
        )


def _output_order(
    dims: tuple, src: tuple[str, ...], dst: tuple[str, ...], extra: tuple[str, ...]
) -> list:
    """The input's dim order with the horizontal dims replaced: one for one (lat → lat', lon
    → lon', wherever they were) when the ranks agree, else all at the first one's place;
    `extra` dims (e.g. class) just before them."""
    first = next(k for k, d in enumerate(dims) if d in src)
    order = []
    for k, d in enumerate(dims):
        if d not in src:
            order.append(d)
            continue
        if k == first:
            order += extra
        if len(src) == len(dst):
            order.append(dst[src.index(d)])
        elif k == first:
            order += dst
    return order


def _engine_mask(
    mask: xr.DataArray | np.ndarray | None, hz: Horizontal, what: str
) -> np.ndarray | None:
    """A 0/1 mask given on the grid (DataArray or array of its shape) in engine order."""
    if mask is None:
        return None
    if isinstance(mask, xr.DataArray):
        hz.check_shape(dict(mask.sizes), what)
        if mask.ndim != len(hz.dims):
            raise GridError(f"{what} has dims {mask.dims}; expected only {hz.dims}")
        values = mask.transpose(*hz.dims).values
    else:
        values = np.asarray(mask)
        if values.shape != hz.shape:
            raise GridError(f"{what} has shape {values.shape}, the grid has {hz.shape}")
    return (hz.to_engine(values) != 0).astype(np.int32)


def _map_side(w: Weights, side: str, path, template) -> Horizontal:
    """The Horizontal of side 'a' (source) or 'b' of map `w`, from a template or the file."""
    dims = tuple(w.src_dims if side == "a" else w.dst_dims)
    if template is not None:
        hz = horizontal_as_stored(template)
        if int(np.prod(hz.shape)) != int(np.prod(dims)) or (
            len(hz.shape) == len(dims) and hz.shape != dims
        ):
            which = "source" if side == "a" else "target"
            raise GridError(
                f"the {which} template has horizontal shape {hz.shape}, map file '{path}' "
                f"was made for {dims}"
            )
        return hz
    ds = open_dataset(path, RegridError, "map file")
    try:
        spec = str(getattr(ds, f"domain_{side}", ""))
    finally:
        ds.close()
    if spec.lower().startswith("latlon:"):
        grid = LatLonGrid.parse(spec)
        if grid.shape == dims:
            return horizontal_from_grid(grid)
    return horizontal_from_centres(dims, w.attrs.get(f"yc_{side}"), w.attrs.get(f"xc_{side}"), side)
