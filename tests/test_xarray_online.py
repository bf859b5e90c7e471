"""Every xarray emulator function gives what the family's online step gives, run through a
`coupler.Component` on a tiny configuration: the step's own fine inputs (recorded at its
`compute`) go to the xarray function as Datasets, and its outputs are compared cell for cell."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
import xarray as xr
from conftest import COAST_FINE
from lai_online_setup import PARAMS, write_static
from lai_online_setup import config as lai_config
from mpi4py import MPI
from soilmoisture_setup import config as sm_config
from test_lai_online import run as lai_run
from test_lulc_online import open_cube
from test_lulc_online_mpi import CELL as LULC_CELL
from test_lulc_online_mpi import REGION as LULC_REGION
from test_lulc_online_mpi import config as lulc_config
from test_mdpl_online import STATICS as MDPL_STATICS
from test_mdpl_online import advance as mdpl_advance
from test_mdpl_online import exported as mdpl_exported
from test_mdpl_online import forcing as mdpl_forcing  # noqa: F401  (fixture)
from test_mdpl_online import start as mdpl_start
from test_mdpl_online import step_entry as mdpl_step_entry
from test_soilmoisture_online import run_day as sm_run_day
from test_soilmoisture_online import whole_window as sm_whole_window

import emulators
from coupler.clock import ModelTime
from coupler.component import Component
from coupler.errors import FieldError
from coupler.xgrid import grid_dataset
from emulators.lai.infer import MODEL_PATH as LAI_MODEL
from emulators.lai.online import LaiUNetStep
from emulators.landmodel import FORCING_NAMES
from emulators.lulc.infer import MODEL_PATH as LULC_MODEL
from emulators.lulc.online import LandUseYearly
from emulators.lulc.scenario import cropland_growth, host_fractions
from emulators.lulc.staticfile import prior_maps, write_static_file
from emulators.soilmoisture.online import FINE_PREDICTORS, HOST_INPUTS, SoilMoistureForest
from emulators.soilmoisture.static import add_soil

CLIMATE = {"TBOT": 283.0, "PRECTmms": 2e-5}  # K, kg m-2 s-1


class Recorder:
    """Wraps a Transform's compute: the whole-grid interior of each input and output, per run
    (tiles placed by their origin; halos dropped)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, cls, shape: tuple[int, int]) -> None:
        self.shape = shape
        self.runs: dict = defaultdict(lambda: {"in": {}, "out": {}})
        compute = cls.compute

        def spy(step, inputs, state, ctx):
            out = compute(step, inputs, state, ctx)
            self._place(ctx, "in", inputs, ctx.halo)
            self._place(ctx, "out", out, 0)
            return out

        monkeypatch.setattr(cls, "compute", spy)

    def _place(self, ctx, key: str, fields: dict, halo: int) -> None:
        run = self.runs[ctx.time.seconds][key]
        j0, i0 = ctx.origin[0] + ctx.halo, ctx.origin[1] + ctx.halo
        for name, a in fields.items():
            a = np.asarray(a, np.float64)
            inner = a[..., halo : a.shape[-2] - halo, halo : a.shape[-1] - halo]
            whole = run.setdefault(name, np.full((*a.shape[:-2], *self.shape), np.nan))
            whole[..., j0 : j0 + inner.shape[-2], i0 : i0 + inner.shape[-1]] = inner


def lai_on_xarray(runs: list[dict], static: xr.Dataset, months: list[int], **state):
    """emulators.leaf_area_index on the fine TBOT, PRECTmms the step saw in `runs`."""
    climate = xr.Dataset(
        {
            name: (("time", "lat", "lon"), np.stack([r["in"][name] for r in runs]))
            for name in ("TBOT", "PRECTmms")
        },
        coords={
            "time": [np.datetime64(f"2001-{m:02d}-15") for m in months],
            "lat": static.lat,
            "lon": static.lon,
        },
    )
    return emulators.leaf_area_index(climate, static, blend=PARAMS, **state)


@pytest.mark.skipif(not LAI_MODEL.is_file(), reason="no shipped lai.onnx")
def test_lai_equals_the_online_step_through_a_component(tmp_path, monkeypatch) -> None:
    cfg = lai_config(tmp_path / "lai", tile=(20, 28))
    rec = Recorder(monkeypatch, LaiUNetStep, (48, 48))
    lai_run(cfg, 61)
    # the runs begin on 1 June (lai_online_setup.START): the step runs after the first day
    # (cold start, June), on 1 July (June's means) and on 1 August (July's)
    first, *full = [rec.runs[k] for k in sorted(rec.runs)]
    with xr.open_dataset(cfg.parent / "static.nc") as f:
        static = f.load()
    cold = lai_on_xarray([first], static, [6])
    state = full[0]["in"]  # the step's state when July began (its own 1 August input)
    carried = lai_on_xarray(
        full,
        static,
        [6, 7],
        prior=xr.DataArray(state["LAI_UNET"], dims=("lat", "lon")),
        prior_precip=xr.DataArray(state["LAI_UNET_PRECIP"], dims=("lag", "lat", "lon")),
    )
    assert carried.dims == ("time", "lat", "lon") and carried.attrs["units"] == "m2 m-2"
    for got, run in ((cold[0], first), (carried[0], full[0]), (carried[1], full[1])):
        step = run["out"]["LAI_UNET"]
        land = np.isfinite(step)
        assert land.mean() > 0.8 and step[land].max() > 0.3
        np.testing.assert_array_equal(got.values[land], step[land])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"drop": "TBOT"}, r"the monthly climate lacks \['TBOT'\]"),
        ({"time": ["2001-01-15", "2001-03-15"]}, "2001-01 is followed by 2001-03"),
        ({"time": [1, 2]}, "are not dates"),
        ({"prior_precip": ("lat", "lon")}, r"prior_precip must have dims \(lag=2, lat, lon\)"),
        ({"static": "elevation"}, r"the LAI static lacks \['elevation'\]"),
    ],
)
def test_lai_bad_input_is_a_field_error_naming_it(tmp_path, change, message) -> None:
    with xr.open_dataset(write_static(tmp_path / "static.nc")) as f:
        static = f.load().drop_vars(change.get("static", []))
    time = np.array(change.get("time", ["2001-01-15", "2001-02-15"]))
    climate = xr.Dataset(
        {n: (("time", "lat", "lon"), np.full((2, 48, 48), v)) for n, v in CLIMATE.items()},
        coords={"time": time.astype(time.dtype if time.dtype.kind == "i" else "M8[ns]")},
    ).drop_vars(change.get("drop", []))
    state = {}
    if "prior_precip" in change:
        state["prior_precip"] = xr.DataArray(np.zeros((48, 48)), dims=change["prior_precip"])
    with pytest.raises(FieldError, match=message):
        emulators.leaf_area_index(climate, static, blend=PARAMS, **state)


def test_soil_moisture_equals_the_online_step_through_a_component(
    tmp_path, monkeypatch, coast_static, coast_domain
) -> None:
    soil = add_soil(coast_static, tmp_path / "coast_soil.nc")
    rec = Recorder(monkeypatch, SoilMoistureForest, (240, 240))
    comp, _ = sm_run_day(sm_config(tmp_path / "sm", soil, coast_domain))
    online = sm_whole_window(comp, "H2OSOI_FINE")
    (run,) = rec.runs.values()
    g = grid_dataset(COAST_FINE)
    hz = ("lat", "lon")

    def dataset(names) -> xr.Dataset:
        fields = {
            n: (("levsoi", *hz) if run["in"][n].ndim == 3 else hz, run["in"][n]) for n in names
        }
        return xr.Dataset(fields, coords={"lat": g.lat, "lon": g.lon})

    host = dataset(HOST_INPUTS)
    fine = dataset([*FINE_PREDICTORS, "landmask"])
    got = emulators.soil_moisture(host.expand_dims(time=1), fine=fine)
    assert got.dims == ("depth", "time", "lat", "lon") and got.shape == (10, 1, 240, 240)
    land = fine.landmask.values >= 0.5
    assert land.sum() > 10_000 and np.isfinite(online).all()
    np.testing.assert_array_equal(got.values[:, 0], online)
    assert np.all(got.values[:, 0][:, ~land] == 0.0)


def test_soil_moisture_step_inputs_missing_or_without_layers_are_named() -> None:
    g = grid_dataset("latlon:2,3:47,47.1,-4,-3.9")
    host = xr.Dataset({n: (("lat", "lon"), np.ones((2, 3))) for n in HOST_INPUTS}, coords=g.coords)
    fine = xr.Dataset(
        {n: (("lat", "lon"), np.ones((2, 3))) for n in FINE_PREDICTORS}, coords=g.coords
    )
    with pytest.raises(FieldError, match="host input H2OSOI needs a dim levsoi of 10 layers"):
        emulators.soil_moisture(host, fine=fine)
    with pytest.raises(FieldError, match=r"the fine Dataset lacks \['porosity'\]"):
        emulators.soil_moisture(host, fine=fine.drop_vars("porosity"))


@pytest.mark.slow
@pytest.mark.skipif(not LULC_MODEL.is_file(), reason="no shipped lulc.onnx")
def test_landcover_equals_the_online_step_through_a_component(
    tmp_path, tmp_path_factory, monkeypatch
) -> None:
    """A 1° host (5 × 5) over 100 × 100 px of real 0.05° data, 40-px tiles, the first year."""
    cube = open_cube(tmp_path_factory)
    static = write_static_file(cube, LULC_REGION, tmp_path / "lc_static.nc")
    r0, c0 = round((LULC_REGION[0] + 90) / 0.05), round((LULC_REGION[2] + 180) / 0.05)
    land_use = prior_maps(cube.window(r0, r0 + 100, c0, c0 + 100))[0]
    host = cropland_growth(host_fractions(land_use, LULC_REGION[0], LULC_CELL), 2, 0.1)[1]
    rec = Recorder(monkeypatch, LandUseYearly, (100, 100))
    comp = Component(MPI.COMM_WORLD, lulc_config(tmp_path, static, "x", 40))
    ids = np.flatnonzero(comp.host.mask) + 1
    comp.set_decomposition(ids)
    comp.put("LANDUSE_FRAC", np.ascontiguousarray(host[:, ids - 1]))
    comp.advance(ModelTime.from_date(2001, 1, 1, 0, comp.calendar) + 73 * 86400)
    ((when, run),) = rec.runs.items()
    g = grid_dataset("latlon:5,5:40,45,-95,-90")
    coarse = xr.DataArray(
        host.reshape(-1, 5, 5), dims=("class", "lat", "lon"), coords={"lat": g.lat, "lon": g.lon}
    )
    with xr.open_dataset(static) as f:
        ds = f.load()
    year = ModelTime(when, comp.calendar).ymd()[0]
    got = emulators.landcover(coarse, ds, ds[["land_use", "land_cover"]], year=year)
    step_lu, step_lc = run["out"]["LANDUSE_FINE"], run["out"]["LANDCOVER_FINE"]
    assert np.isfinite(step_lu).all() and (step_lu != ds.land_use.values).mean() > 0.01
    np.testing.assert_array_equal(got.land_use.values, step_lu)
    np.testing.assert_array_equal(got.land_cover.values, step_lc)


def test_pft_parameters_equal_the_online_step_through_a_component(
    tmp_path,
    mdpl_forcing,  # noqa: F811
) -> None:
    comp = mdpl_start(tmp_path, [mdpl_step_entry()])
    for step in range(1, 97):  # two days: runs at steps 1 (cold), 48 and 96
        mdpl_advance(comp, mdpl_forcing, step)
    ids0 = comp.ids0
    half_hours = np.datetime64("2001-01-01T00:00") + np.arange(96) * np.timedelta64(30, "m")
    forcing = xr.Dataset(
        {n: (("time", "column"), mdpl_forcing[n][:96, ids0]) for n in FORCING_NAMES},
        coords={
            "time": half_hours,
            "lat": ("column", comp.host.center_lat[ids0]),
            "lon": ("column", comp.host.center_lon[ids0]),
        },
    )
    got = emulators.pft_parameters(forcing, **MDPL_STATICS, window_ends=[48, 96])
    assert got.parameters.dims == ("parameter", "column") and got.windows.sizes["window"] == 2
    np.testing.assert_array_equal(got.parameters.values, mdpl_exported(comp))
    assert np.abs(np.diff(got.windows.values, axis=0)).max() > 0  # two different windows
