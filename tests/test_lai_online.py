"""The online monthly LAI step (transform `lai_unet`): tiled runs equal a whole-region run,
the prior and precipitation memory come back as `from: previous` state, bad input and bad
configuration are named."""

from __future__ import annotations

import netCDF4
import numpy as np
import pytest
from lai_online_setup import DAY, NX, NY, PARAMS, START, config, forcing
from mpi4py import MPI

from coupler.clock import ModelTime, Schedule
from coupler.component import Component
from coupler.errors import ConfigError, FieldError
from coupler.steps.base import StepContext
from emulators.lai.features import VEGETATION
from emulators.lai.infer import OnnxLai
from emulators.lai.online import NO_PRIOR, Blend, LaiUNetStep, monthly_lai
from emulators.lulc.features import STATIC_FIELDS

T0 = ModelTime.from_date(*START)


def run(cfg, days: int, uniform: bool = False) -> Component:
    comp = Component(MPI.COMM_WORLD, cfg)
    ids = np.flatnonzero(comp.host.mask) + 1
    comp.set_decomposition(ids)
    for day in range(1, days + 1):
        t, p = forcing(np.ones_like(ids) if uniform else ids, day)
        comp.put("TBOT", t)
        comp.put("PRECTmms", p)
        comp.advance(T0 + DAY * day)
    return comp


def fine_field(comp: Component, name: str = "LAI_UNET") -> np.ndarray:
    fine = comp.fines["fine"]
    out = np.full((fine.grid.nlat, fine.grid.nlon), np.nan)
    for td, a in zip(fine.tiles, comp.fine_values[name], strict=True):
        out[td.tile.j0 : td.tile.j1, td.tile.i0 : td.tile.i1] = a[-1] if a.ndim == 3 else a
    return out


def static_of(cfg) -> dict[str, np.ndarray]:
    with netCDF4.Dataset(cfg.parent / "static.nc") as ds:
        return {k: np.asarray(ds[k][:], np.float64) for k in ds.variables}


def test_tiled_step_equals_the_whole_region_pure_function_within_1e_3(tmp_path):
    cfg = config(tmp_path / "a")
    comp = run(cfg, 1, uniform=True)  # one run: June, cold start, uniform climate
    tiled = fine_field(comp)
    t, p = forcing(np.ones(1, np.int64), 1)
    s = static_of(cfg)
    lat = np.broadcast_to(s["lat"][:, None], (NY, NX))
    p_mm = np.full((NY, NX), p[0, 0] * DAY * 30.4)
    whole = monthly_lai(
        OnnxLai(),
        6,
        np.full((NY, NX), t[0, 0] - 273.15),
        p_mm,
        np.stack([p_mm, p_mm]),
        np.full((NY, NX), NO_PRIOR),
        s["land_use"].astype(np.uint8),
        s["land_cover"].astype(np.uint8),
        {k: s[k] for k in (*STATIC_FIELDS, *VEGETATION)},
        lat,
        hide_prior=True,  # the step's default
        blend=Blend(**PARAMS),
    )
    land = np.isfinite(tiled)
    assert land.mean() > 0.9 and tiled[land].max() > 0.3  # the tiles cover the land; LAI > 0
    np.testing.assert_allclose(tiled[land], whole[land], atol=1e-3)
    assert np.all(whole[s["land_cover"] == 0] == 0.0)  # the lake (water cover) has no leaves


def test_three_months_are_bit_for_bit_the_same_on_three_tilings(tmp_path):
    fields = [
        fine_field(run(config(tmp_path / f"t{k}", tile=tile), 60))
        for k, tile in enumerate([(20, 28), (48, 48), (16, 16)])
    ]
    land = np.isfinite(fields[0])
    assert np.ptp(fields[0][land]) > 0.1
    for other in fields[1:]:
        np.testing.assert_array_equal(other[land], fields[0][land])


def test_the_prior_and_two_months_of_precipitation_are_carried_as_previous_state(tmp_path):
    cfg = config(tmp_path / "s")
    comp = run(cfg, 30)  # the first advance, then 1 July
    step = comp.steps[0]
    assert set(step.previous) == {"LAI_UNET", "LAI_UNET_PRECIP"}
    precip = fine_field(comp, "LAI_UNET_PRECIP")  # the older of the two months (m − 1)
    land = np.isfinite(precip) & (static_of(cfg)["landmask"] == 1)
    assert precip[land].min() > 0  # the cold start's NO_PRIOR is gone
    assert comp.fine_values["LAI_UNET_PRECIP"][0].shape[0] == 2


def inputs_of(n: int = 32, **change) -> dict:
    """Arguments of monthly_lai on an n × n grassland square (°C, mm/month)."""
    args = {
        "month": 6,
        "t_c": np.full((n, n), 15.0),
        "p_mm": np.full((n, n), 60.0),
        "p_history_mm": np.full((2, n, n), 50.0),
        "prior_lai": np.full((n, n), 1.5),
        "lu": np.full((n, n), 2, np.uint8),
        "lc": np.full((n, n), 6, np.uint8),
        "static": {k: np.ones((n, n)) for k in (*STATIC_FIELDS, *VEGETATION)},
        "lat": np.full((n, n), 45.0),
    }
    args.update(change)
    return args


@pytest.fixture(scope="module")
def model():
    return OnnxLai()


def lai(model, **change):
    a = inputs_of(**change)
    return monthly_lai(model, a.pop("month"), **a, blend=Blend(**PARAMS))


def test_a_cold_start_begins_from_last_month_s_class_climatology(model):
    from emulators.lai.online import cold_start_prior

    a = inputs_of(prior_lai=np.full((32, 32), NO_PRIOR))
    clim = cold_start_prior(a["lc"], a["lat"], 6)  # May, grass, 40–50°N
    assert 0.1 < clim.mean() < 6 and np.ptp(clim) == 0
    np.testing.assert_array_equal(lai(model, prior_lai=np.full((32, 32), NO_PRIOR)),
                                  lai(model, prior_lai=clim))  # fmt: skip


def test_a_hidden_prior_makes_the_lai_independent_of_the_prior(model):
    hidden = [
        monthly_lai(model, **inputs_of(prior_lai=np.full((32, 32), v)), hide_prior=True,
                    blend=Blend(**PARAMS))
        for v in (0.5, 3.0)
    ]  # fmt: skip
    np.testing.assert_array_equal(hidden[0], hidden[1])
    assert hidden[0].mean() > 0.1
    assert np.abs(lai(model, prior_lai=np.full((32, 32), 3.0)) - hidden[0]).max() > 0.01


def test_pure_function_gives_finite_nonnegative_lai_of_the_region(model):
    out = lai(model)
    assert out.shape == (32, 32) and np.isfinite(out).all() and out.min() >= 0
    assert out.mean() > 0.1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"t_c": np.full((32, 32), np.nan)}, "monthly temperature holds 1024 NaN"),
        ({"t_c": np.full((32, 32), 288.0)}, "must be in °C"),
        ({"p_history_mm": np.full((1, 32, 32), 50.0)}, "a missing month of climate"),
        ({"prior_lai": np.full((32, 32), 13.0)}, "prior LAI must lie in [0.0, 12.0]"),
        ({"prior_lai": np.full((32, 32), np.nan)}, "prior LAI holds 1024 NaN/inf"),
        ({"p_mm": np.full((32, 32), -1.0)}, "precipitation must be >= 0"),
        ({"month": 13}, "month 13 is not in 1..12"),
        ({"static": {"elevation": np.ones((32, 32))}}, "static fields missing"),
        (
            {"static": {k: np.ones((32, 32)) for k in STATIC_FIELDS}},
            "static vegetation fields missing: ['ndvi_max', 'ndvi_min', 'fapar_max']",
        ),
        (
            {"static": {k: np.full((32, 32), 7000.0) for k in (*STATIC_FIELDS, *VEGETATION)}},
            "static field 'ndvi_max' must lie in [-1, 1]",
        ),
    ],
)
def test_bad_input_is_a_field_error_naming_it(model, change, message):
    with pytest.raises(FieldError, match=None) as err:
        lai(model, **change)
    assert message in str(err.value)


def test_a_skipped_month_is_a_field_error():
    step = LaiUNetStep("lai", Schedule.parse("monthly"), dict(PARAMS))
    now = ModelTime.from_date(2001, 4, 1)
    ctx = StepContext(now, ModelTime.from_date(2001, 2, 1), np.zeros((4, 4)), np.zeros((4, 4)))
    with pytest.raises(FieldError, match="59 days since its last run .* missing month"):
        step.compute({}, {}, ctx)


@pytest.mark.parametrize(
    ("schedule", "params", "message"),
    [
        ("daily", {}, "predicts monthly means; use 'monthly', not 'daily'"),
        ("monthly", {"window": 40}, "window 40 (a multiple of 16)"),
        ("monthly", {"margin": 1.5}, "params.margin: expected a whole number"),
        ("monthly", {"windw": 32}, "unknown key(s) windw"),
        ("monthly", {"hide_prior": "yes"}, "params.hide_prior: expected true or false, got 'yes'"),
    ],
)
def test_bad_configuration_is_a_config_error(schedule, params, message):
    with pytest.raises(ConfigError) as err:
        LaiUNetStep("lai", Schedule.parse(schedule), params)
    assert message in str(err.value)


def test_a_halo_below_what_the_windows_need_is_named():
    step = LaiUNetStep("lai", Schedule.parse("monthly"), dict(PARAMS), halo=4)
    with pytest.raises(ConfigError, match="need a halo of at least 20, the step has halo 4"):
        step.fit_halo((48, 48), (20, 28))


def test_cells_no_host_cell_forces_get_lai_0_and_finite_neighbours():
    """Fine cells outside the active host cells read NaN imports (the host's own NaN is
    refused at its put): they get LAI 0, and the NaN does not leak into their neighbours."""
    step = LaiUNetStep("lai", Schedule.parse("monthly"), dict(PARAMS))
    a = inputs_of()
    tbot = np.full((32, 32), 288.0)
    tbot[:5, :7] = np.nan
    inputs = {
        "TBOT": tbot,
        "PRECTmms": np.full((32, 32), 2e-5),
        "land_use": a["lu"].astype(float),
        "land_cover": a["lc"].astype(float),
        **a["static"],
        "LAI_UNET": np.full((32, 32), NO_PRIOR),
        "LAI_UNET_PRECIP": np.full((2, 32, 32), NO_PRIOR),
    }
    lat = np.full((32, 32), 45.0)
    ctx = StepContext(ModelTime.from_date(2001, 7, 1), ModelTime.from_date(2001, 6, 1), lat, lat)
    out = step.compute(inputs, {}, ctx)
    lai = out["LAI_UNET"]
    assert np.all(lai[:5, :7] == 0.0) and np.isfinite(lai).all() and lai[10:, 10:].min() > 0
    cold = out["LAI_UNET_PRECIP"][1]  # cold start: the missing month repeats this one
    np.testing.assert_allclose(cold[10:, 10:], 2e-5 * 86400 * 30.4)
    assert np.all(cold[:5, :7] == 0.0)


def test_the_output_can_take_the_name_later_steps_read(tmp_path):
    cfg = config(tmp_path / "n", params={**PARAMS, "output": "LAI"})
    text = cfg.read_text().replace("LAI_UNET:", "LAI:")
    cfg.write_text(text)
    comp = run(cfg, 1)
    assert set(comp.steps[0].outputs) == set(comp.steps[0].previous) == {"LAI", "LAI_PRECIP"}
    out = np.empty((1, comp.n_local))
    comp.get("LAI", out)
    assert np.isfinite(out).all() and out.max() > 0.3
