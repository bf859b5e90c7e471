"""The shipped emulators on xarray objects: a notebook calls the functions the coupler's steps
and `landemu` commands call, on the same ONNX files, so it gets the same numbers.

Each function takes DataArrays/Datasets, hands plain arrays to the pure core of the family's
online step (lulc_yearly, lai_unet, soil_moisture, mdpl_params) or `landemu` command, and
labels the result (dims, coordinates, units); tests/test_xarray_online.py checks each
against its step run through a `coupler.Component`. Exposed as `emulators.<name>` for the
names of `__all__`, `lai` as `emulators.leaf_area_index` (`emulators.lai` is the package).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import xarray as xr

from coupler.errors import FieldError, GridError
from coupler.xgrid import Horizontal, horizontal_of

__all__ = ["calibrate", "lai", "landcover", "pft_parameters", "soil_moisture"]


def _need(
    ds: xr.Dataset, names: tuple[str, ...], what: str, broadcast: bool = True
) -> list[xr.DataArray]:
    """The variables `names` of ds, broadcast to one shape unless told not to (FieldError
    naming what is missing)."""
    if not isinstance(ds, xr.Dataset):
        raise FieldError(f"{what} must be an xarray Dataset, got {type(ds).__name__}")
    missing = [n for n in names if n not in ds.data_vars]
    if missing:
        raise FieldError(f"{what} lacks {missing}; expected all of {list(names)}")
    found = [ds[n] for n in names]
    return list(xr.broadcast(*found)) if broadcast else found


def soil_moisture(
    predictors: xr.Dataset,
    *,
    fine: xr.Dataset | None = None,
    model: str | Path | None = None,
) -> xr.DataArray:
    """Volumetric soil moisture (m3 m-3) at 10, 20, …, 100 cm from the soil-moisture forest.

    predictors : a Dataset with the model's 32 predictors (`emulators.soilmoisture.features.
        FEATURE_NAMES`, units as on its model card) on one grid, any dims (e.g. time, lat,
        lon). Cells where a predictor is NaN (ocean, no data) get NaN.
    fine : instead of predictors, the online step's inputs: `predictors` then holds the host
        fields on the fine grid (H2OSOI, TSOI with dim `levsoi`, TBOT, PRECTmms, QFLX_EVAP,
        RNET; e.g. regridded with coupler.Regridder) and `fine` the fine fields (LAI,
        land_cover, elevation, sand, silt, clay, organic, porosity, optional landmask);
        each slice goes through the step's core `soil_moisture_tile` (0 off land).
    model : an ONNX file (default: the shipped emulators/soilmoisture/soilmoisture.onnx).
    Returns (depth, *input dims) float32 — per cell exactly the online step's prediction.
    """
    from emulators.soilmoisture.features import DEPTHS_CM, FEATURE_NAMES, NLAYER, OUTPUT_NAME
    from emulators.soilmoisture.predict import ForestModel, predict

    forest = ForestModel(model or Path(__file__).parent / "soilmoisture" / "soilmoisture.onnx")
    if fine is not None:
        result = _soil_moisture_from_host(forest, predictors, fine)
    else:
        fields = _need(predictors, FEATURE_NAMES, "the soil-moisture predictors")

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


def _soil_moisture_from_host(forest, host: xr.Dataset, fine: xr.Dataset) -> xr.DataArray:
    """The online step's computation on every (…, lat, lon) slice of host + fine fields."""
    from emulators.soilmoisture.features import NLAYER
    from emulators.soilmoisture.online import FINE_PREDICTORS, HOST_INPUTS, soil_moisture_tile

    hz = horizontal_of(fine)
    statics = _need(fine, tuple(FINE_PREDICTORS), "the fine Dataset")
    land = fine["landmask"] if "landmask" in fine.data_vars else xr.ones_like(statics[0])
    host_vars = _need(host, tuple(HOST_INPUTS), "the host Dataset", False)
    layered = [n for n, v in HOST_INPUTS.items() if v.levels > 1]
    for name in layered:
        if host[name].sizes.get("levsoi") != NLAYER:
            raise FieldError(
                f"host input {name} needs a dim levsoi of {NLAYER} layers, has "
                f"{dict(host[name].sizes)}"
            )
    names = (*HOST_INPUTS, *FINE_PREDICTORS)

    def run(*arrays: np.ndarray) -> np.ndarray:
        *fields, mask = arrays
        values = dict(zip(names, fields, strict=True))
        host_tile = {n: values[n] for n in HOST_INPUTS}
        return soil_moisture_tile(forest, host_tile, values, np.asarray(mask) >= 0.5)

    core = list(hz.dims)
    return xr.apply_ufunc(
        run,
        *host_vars,
        *statics,
        land,
        input_core_dims=[["levsoi", *core] if n in layered else core for n in HOST_INPUTS]
        + [core] * (len(FINE_PREDICTORS) + 1),
        output_core_dims=[["depth", *core]],
        vectorize=True,
        dask="parallelized",
        output_dtypes=[np.float32],
        dask_gufunc_kwargs={"output_sizes": {"depth": NLAYER}},
    )


def calibrate(
    forcing: xr.Dataset,
    fluxes: xr.Dataset,
    *,
    pft: str,
    lat: float,
    lon: float,
    name: str = "site",
    generations: int = 20,
    **site_attrs: float,
) -> xr.Dataset:
    """MdPL calibration of the host physics' 12 PFT parameters for one flux site — what
    `landemu calibrate` does, on Datasets instead of files.

    forcing : half-hourly PLUMBER2/ALMA variables (SWdown, LWdown, Tair, Qair, Wind, PSurf,
        Rainf [+ Snowf]) with their units attributes, dim time; fluxes : Qh, Qle (W m-2,
        NaN = gap) on the same steps. pft : evergreen_forest, woodland, grassland or
        cultivation; lat, lon and optional sand, clay (%), elevation (m), pft (ELM index).
    Returns a Dataset: parameters (candidate, parameter) with units, skill (candidate, flux,
    metric) of each candidate run through the Fortran physics, and fluxes (candidate, time,
    flux); attrs['chosen'] names the candidate `landemu calibrate` would write.
    """
    from emulators.landmodel import PARAM_NAMES, PARAM_UNITS
    from emulators.mdpl import calibrate as mdpl

    site = mdpl.make_site(name, pft, {"lat": lat, "lon": lon, **site_attrs})
    with tempfile.TemporaryDirectory(prefix="landemu_calibrate_") as tmp:
        # through the very readers of `landemu calibrate`: same names, units and checks
        f_path, o_path = Path(tmp) / "forcing.nc", Path(tmp) / "fluxes.nc"
        _dataset(forcing, "forcing").to_netcdf(f_path)
        _dataset(fluxes, "fluxes").to_netcdf(o_path)
        series = mdpl.read_forcing(f_path)
        obs = mdpl.read_fluxes(o_path, len(series["TBOT"]))
    cal = mdpl.calibrate(series, obs, site, generations=generations)
    names = list(cal.candidates)
    metrics = list(next(iter(cal.skill.values()))["H"])
    out = xr.Dataset(
        {
            "parameters": (
                ("candidate", "parameter"),
                np.stack([cal.candidates[n] for n in names]),
            ),
            "skill": (
                ("candidate", "flux", "metric"),
                [[[cal.skill[n][f][m] for m in metrics] for f in ("H", "LE")] for n in names],
            ),
            "fluxes": (("candidate", "time", "flux"), np.stack([cal.sims[n] for n in names])),
        },
        coords={
            "candidate": names,
            "parameter": list(PARAM_NAMES),
            "units": ("parameter", list(PARAM_UNITS)),
            "flux": ["H", "LE"],
            "metric": metrics,
            "time": forcing["time"].values if "time" in forcing.coords else np.arange(len(obs)),
        },
        attrs={"site": name, "pft_group": site.group, "elm_pft": site.pft, "chosen": cal.chosen},
    )
    out.fluxes.attrs["units"] = "W m-2"
    return out


def pft_parameters(
    forcing: xr.Dataset,
    *,
    sand: float | xr.DataArray,
    clay: float | xr.DataArray,
    elevation: float | xr.DataArray,
    pft: int | xr.DataArray,
    window_ends: list[int] | None = None,
) -> xr.Dataset:
    """The host physics' 12 PFT parameters per column from g_z: the online step
    `mdpl_params` (its core `emulators.mdpl.online.calibrate_columns`) on windows of the last
    48 half-hourly steps, averaged over the windows in unit-scaled space as it exports them.

    forcing : half-hourly means of the host's forcing (emulators.landmodel.FORCING_NAMES,
        FORCING_UNITS) with dim `time` (each value the start of its interval; g_z reads the
        day of year in the times' calendar: cftime noleap values for a noleap run) and any
        column dims, with lat/lon (degrees) as coordinates or dims.
    sand, clay (%), elevation (m), pft (ELM PFT index): the step's state, per column or one.
    window_ends : time indices (exclusive) where a window ends — the step's runs (default:
        every 48 steps, its daily schedule from midnight).
    Returns a Dataset: `parameters` (parameter, *columns) as the step exports them after the
    last window, and `windows` (window, parameter, *columns) of g_z on each window.
    """
    from emulators.landmodel import FORCING_NAMES, PARAM_NAMES, PARAM_UNITS, parameter_table
    from emulators.mdpl.dataset import WINDOW
    from emulators.mdpl.online import calibrate_columns

    fields = _need(forcing, FORCING_NAMES, "the forcing")
    if "time" not in fields[0].dims:
        raise FieldError(f"the forcing needs a dim time of half-hourly steps, has {fields[0].dims}")
    columns = [d for d in fields[0].dims if d != "time"]
    block = xr.concat(fields, "var").transpose("time", *columns, "var")
    n_time = block.sizes["time"]
    forcing_tc = np.asarray(block.values, np.float64).reshape(n_time, -1, len(FORCING_NAMES))
    template = block.isel(time=0, var=0, drop=True)
    missing = [c for c in ("lat", "lon") if c not in template.coords]
    if missing:
        raise FieldError(f"the forcing's columns need {missing} coordinates (degrees)")
    lat, lon = (
        np.asarray(template[c].broadcast_like(template).values, np.float64).ravel()
        for c in ("lat", "lon")
    )
    statics = {
        k: np.asarray(
            v.broadcast_like(template).transpose(*template.dims).values
            if isinstance(v, xr.DataArray)
            else np.full(template.shape, float(v)),
            np.float64,
        ).ravel()
        for k, v in {"sand": sand, "clay": clay, "elevation": elevation, "pft": pft}.items()
    }
    ends = list(range(WINDOW, n_time + 1, WINDOW)) if window_ends is None else list(window_ends)
    bad = [e for e in ends if not WINDOW <= e <= n_time]
    if not ends or bad:
        raise FieldError(
            f"window ends {bad or ends} must lie in [{WINDOW}, {n_time}]: each window holds the "
            f"{WINDOW} half-hourly steps before its end"
        )
    time = block["time"]
    table = parameter_table()
    unit_sum = np.zeros((len(PARAM_NAMES), lat.size))
    windows = []
    for end in ends:
        first = time[end - WINDOW]
        step = (int(first.dt.dayofyear) - 1) * 48 + (
            int(first.dt.hour) * 60 + int(first.dt.minute)
        ) // 30
        window = forcing_tc[end - WINDOW : end].transpose(1, 0, 2)
        params = calibrate_columns(np.ascontiguousarray(window), lat, lon, statics, step)
        unit_sum += ((params - table.lo) / (table.hi - table.lo)).T
        windows.append(params.T)
    mean = table.lo[:, None] + (table.hi - table.lo)[:, None] * unit_sum / len(ends)
    shape = (len(PARAM_NAMES), *block.shape[1:-1])
    dims = ("parameter", *columns)
    return xr.Dataset(
        {
            "parameters": (dims, mean.reshape(shape)),
            "windows": (("window", *dims), np.stack(windows).reshape(len(ends), *shape)),
        },
        coords={
            **template.coords,
            "parameter": list(PARAM_NAMES),
            "units": ("parameter", list(PARAM_UNITS)),
            "window_end": ("window", time.values[np.asarray(ends) - 1]),
        },
        attrs={"source": "g_z (emulators/mdpl/gz.onnx), trained on TWIN data"},
    )


def _dataset(ds: xr.Dataset, what: str) -> xr.Dataset:
    if not isinstance(ds, xr.Dataset):
        raise FieldError(f"{what} must be an xarray Dataset, got {type(ds).__name__}")
    return ds


def landcover(
    coarse: xr.DataArray,
    static: xr.Dataset,
    prior: xr.Dataset,
    *,
    year: int,
    mask_ratio: float = 0.5,
    model: str | Path | None = None,
) -> xr.Dataset:
    """This year's fine (0.05°) land use and land cover from coarse land-use fractions: the
    online step `lulc_yearly` (its core `emulators.lulc.online.downscale_year`) on the
    region as one tile, its halo filled as the coupler fills a grid's edge (edge values).

    coarse : (class, lat, lon) fractions of the 8 land-use classes (emulators.lulc.classes.
        LAND_USE order) on a grid whose cells are whole blocks of the fine grid and which
        covers it exactly (the step's host grid).
    static : the step's static file (`landemu lulc-static`): the fields of emulators.lulc.
        features.STATIC_FIELDS, rows in either order.
    prior : `land_use` and `land_cover` codes of last year (the static file's MODIS maps in
        the first year). year : the model year (it picks the hidden prior patches, as online);
        mask_ratio : the step's params.mask_ratio.
    The windows and patches sit on the region's lattice, as on a coupler grid of this extent.
    Returns a Dataset of uint8 `land_use` and `land_cover` on the fine grid.
    """
    from emulators.lulc.classes import LAND_COVER, LAND_USE
    from emulators.lulc.dataset import DEG
    from emulators.lulc.features import STATIC_FIELDS, upsample
    from emulators.lulc.infer import MODEL_PATH, OnnxLulc
    from emulators.lulc.online import ONLINE_HALO, downscale_year

    fine = horizontal_of(static)
    g = fine.grid
    if abs(g.dlat - DEG) > 1e-9 or abs(g.dlon - DEG) > 1e-9:
        raise GridError(
            f"the land-use U-Net runs on the {DEG}° grid; static is {g.dlat}° × {g.dlon}°"
        )
    h = ONLINE_HALO

    def edge(a: np.ndarray) -> np.ndarray:
        """a (…, ny, nx) with the halo the coupler gives a whole-grid tile."""
        return np.pad(a, [(0, 0)] * (a.ndim - 2) + [(h, h), (h, h)], mode="edge")

    fields = {
        n: edge(_on(fine, v, f"static '{n}'").astype(np.float64))
        for n, v in zip(STATIC_FIELDS, _need(static, STATIC_FIELDS, "static"), strict=True)
    }
    lu, lc = (
        edge(_on(fine, v, f"prior '{n}'").astype(np.float64))
        for n, v in zip(
            ("land_use", "land_cover"),
            _need(prior, ("land_use", "land_cover"), "prior"),
            strict=True,
        )
    )
    fractions, cell = _coarse_on(coarse, g, len(LAND_USE), DEG)
    pred = downscale_year(
        OnnxLulc(model or MODEL_PATH),
        edge(upsample(fractions, cell)),
        lu,
        lc,
        fields,
        edge(np.broadcast_to(g.lat_centres()[:, None], g.shape))[:, 0],
        cell=cell,
        year=int(year),
        origin=(-h, -h),
        halo=h,
        mask_ratio=float(mask_ratio),
    )
    out = {}
    for name, labels, classes in (
        ("land_use", pred.lu, LAND_USE),
        ("land_cover", pred.lc, LAND_COVER),
    ):
        out[name] = xr.Variable(
            fine.dims,
            fine.from_engine(np.asarray(labels, np.uint8)),
            {
                "flag_values": np.arange(len(classes), dtype=np.uint8),
                "flag_meanings": " ".join(classes),
            },
        )
    return xr.Dataset(out, coords=_grid_coords(fine))


def _grid_coords(hz: Horizontal) -> dict:
    """The coordinates (and cell bounds) of a fine grid, for a result on it."""
    return {k: v for k, v in hz.coords.items() if set(v.dims) <= {*hz.dims, "nv", "bnds"}}


def _on(hz: Horizontal, da: xr.DataArray, what: str) -> np.ndarray:
    """da's values on grid hz in the engine's order (rows south → north)."""
    hz.check_shape(dict(da.sizes), what)
    if da.ndim != len(hz.dims):
        raise FieldError(f"{what} has dims {da.dims}; expected only {hz.dims}")
    return hz.to_engine(np.asarray(da.transpose(*hz.dims).values))


def _coarse_on(coarse: xr.DataArray, fine, nclass: int, deg: float) -> tuple[np.ndarray, int]:
    """Coarse fractions (nclass, ny, nx) south → north and the fine cells per coarse cell,
    checking that the coarse grid tiles the fine one exactly."""
    hz = horizontal_of(coarse)
    c = hz.grid
    factor = round(c.dlat / deg)
    edges = (c.south, c.north, c.west, c.east)
    if (
        factor < 1
        or c.nlat * factor != fine.nlat
        or c.nlon * factor != fine.nlon
        or max(
            abs(a - b)
            for a, b in zip(edges, (fine.south, fine.north, fine.west, fine.east), strict=True)
        )
        > 1e-9
    ):
        raise GridError(
            f"the coarse grid {c.spec} does not tile the fine grid {fine.spec} in whole blocks"
        )
    other = [d for d in coarse.dims if d not in hz.dims]
    if len(other) != 1 or coarse.sizes[other[0]] != nclass:
        raise FieldError(
            f"coarse fractions have dims {dict(coarse.sizes)}; expected one class dim of "
            f"{nclass} besides {hz.dims}"
        )
    values = np.asarray(coarse.transpose(other[0], *hz.dims).values, np.float64)
    return hz.to_engine(values), factor


def lai(
    climate: xr.Dataset,
    static: xr.Dataset,
    *,
    prior: xr.DataArray | None = None,
    prior_precip: xr.DataArray | None = None,
    co2_ppm: float = 390.0,
    blend: dict | None = None,
    model: str | Path | None = None,
    hide_prior: bool = True,
) -> xr.DataArray:
    """Monthly LAI (m2 m-2) at 0.05° from the LAI U-Net: the online step `lai_unet` month by
    month on the region as one tile (`emulators.lai.online.monthly_lai`, its pure core).

    climate : monthly means of the step's host inputs on the fine grid — `TBOT` (K) and
        `PRECTmms` (kg m-2 s-1) — with a `time` dim of consecutive months (datetime or
        cftime values; the month of each is the one predicted); NaN where no host cell
        forces the fine cell (LAI 0 there, as online).
    static : the step's static file (`landemu lai static`): land_use, land_cover codes, the
        physical statics of emulators.lulc.features.STATIC_FIELDS and the vegetation fields
        of emulators.lai.features.VEGETATION (`landmask` optional).
    prior, prior_precip : the step's state before the first month — LAI (m2 m-2) and the
        precipitation (mm) of the two months before, dim `lag` (1, 2) — else a cold start as
        online (prior hidden, missing months' precipitation = the first month's).
    hide_prior : the step's param of that name (default true: the prior hidden everywhere).
    blend : window, margin, overlap, batch of the step's params (default its defaults); the
        windows sit on the region's lattice, as on a coupler fine grid with this extent.
    Each month's LAI is the next month's prior, as the step's `from: previous` state; with a
    `landmask` in static, LAI and that state are 0 off land, as the coupler stores them.
    Returns LAI (time, lat, lon) float64 in the static's row order.
    """
    from emulators.lai.features import DAYS_PER_MONTH, VEGETATION
    from emulators.lai.infer import MODEL_PATH, OnnxLai
    from emulators.lai.online import (
        NO_PRIOR,
        SECONDS_PER_DAY,
        STATIC_VARIABLES,
        Blend,
        codes,
        monthly_lai,
    )
    from emulators.lulc.features import STATIC_FIELDS

    fine = horizontal_of(static)
    fields = {  # float64, as the coupler's static reader hands them to the step
        n: _on(fine, v, f"static '{n}'").astype(np.float64)
        for n, v in zip(
            STATIC_VARIABLES, _need(static, STATIC_VARIABLES, "the LAI static"), strict=True
        )
    }
    tbot, precip = _need(climate, ("TBOT", "PRECTmms"), "the monthly climate")
    if "time" not in tbot.dims:
        raise FieldError(f"the monthly climate needs a time dim of months, has {tbot.dims}")
    months = _months(climate["time"])
    state = np.full(fine.grid.shape, NO_PRIOR)
    if prior is not None:
        state = _on(fine, prior, "prior")
    history = np.full((2, *fine.grid.shape), NO_PRIOR)
    if prior_precip is not None:
        history = _on_levels(fine, prior_precip, "lag", 2, "prior_precip")
    # the coupler stores a fine step's outputs (its next `from: previous` state) as 0 off land
    land = np.ones(fine.grid.shape, bool)
    if "landmask" in static.data_vars:
        land = _on(fine, static["landmask"], "static 'landmask'") != 0
    net = OnnxLai(model or MODEL_PATH)
    lat = np.broadcast_to(fine.grid.lat_centres()[:, None], fine.grid.shape)
    out = []
    for k, month in enumerate(months):
        t = _on(fine, tbot.isel(time=k), "TBOT")
        p = _on(fine, precip.isel(time=k), "PRECTmms")
        # as the step: cells without forcing (NaN) read 0 °C and no rain, and get LAI 0
        unforced = ~(np.isfinite(t) & np.isfinite(p))
        t_c = np.where(unforced, 0.0, t - 273.15)
        p_mm = np.where(unforced, 0.0, np.maximum(p, 0.0)) * SECONDS_PER_DAY * DAYS_PER_MONTH
        history = np.where(history == NO_PRIOR, p_mm[None], history)
        state = monthly_lai(
            net,
            month,
            t_c,
            p_mm,
            history,
            state,
            codes(fields["land_use"]),
            codes(fields["land_cover"]),
            {n: fields[n] for n in (*STATIC_FIELDS, *VEGETATION)},
            lat,
            co2_ppm=co2_ppm,
            hide_prior=hide_prior,
            blend=Blend(**(blend or {})),
        )
        state = np.where(unforced, 0.0, state)
        state = np.where(land, state, 0.0)
        history = np.where(land, np.stack([p_mm, history[0]]), 0.0)
        out.append(fine.from_engine(state))
    return xr.DataArray(
        np.stack(out) if out else np.zeros((0, *fine.shape)),
        dims=("time", *fine.dims),
        coords={**_grid_coords(fine), "time": climate["time"]},
        name="LAI_UNET",
        attrs={"long_name": "leaf area index (LAI U-Net, monthly)", "units": "m2 m-2"},
    )


def _months(time: xr.DataArray) -> list[int]:
    """Month (1–12) of each time value; FieldError unless they are consecutive months."""
    try:
        months = [int(m) for m in time.dt.month.values]
        years = [int(y) for y in time.dt.year.values]
    except (AttributeError, TypeError) as exc:
        raise FieldError(
            f"the monthly climate's time values ({time.values[:2]}…) are not dates"
        ) from exc
    index = [12 * y + m for y, m in zip(years, months, strict=True)]
    gaps = [k for k in range(1, len(index)) if index[k] != index[k - 1] + 1]
    if gaps:
        k = gaps[0]
        raise FieldError(
            f"the monthly climate must hold consecutive months; {years[k - 1]}-"
            f"{months[k - 1]:02d} is followed by {years[k]}-{months[k]:02d} — a missing month?"
        )
    return months


def _on_levels(hz: Horizontal, da: xr.DataArray, dim: str, n: int, what: str) -> np.ndarray:
    """(n, *grid) values of da with one extra dim `dim` of size n, engine row order."""
    if dim not in da.dims or da.sizes[dim] != n or da.ndim != 3:
        raise FieldError(
            f"{what} must have dims ({dim}={n}, {', '.join(hz.dims)}), got {dict(da.sizes)}"
        )
    return np.stack([_on(hz, da.isel({dim: k}), what) for k in range(n)])
