"""The GSI phenology transform: day length, LAI bounds and seasonality, ocean, restart state,
tile independence, parameters."""

from __future__ import annotations

import math

import numpy as np
import pytest

from coupler.clock import ModelTime, Schedule
from coupler.errors import ConfigError
from coupler.steps.base import StepContext
from emulators.transforms import TRANSFORMS, lookup
from emulators.transforms.phenology import IGBP_LAI_RANGE, PhenologyGSI, day_length_hours

DAY = 86400
START = ModelTime.from_date(2001, 1, 1)


def _step(params: dict | None = None, halo: int = 0) -> PhenologyGSI:
    return PhenologyGSI("phen", Schedule.parse("daily"), params=params, halo=halo)


def _state(step: PhenologyGSI, shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """Fresh state arrays filled with the declared initial values (what the runtime does)."""
    return {k: np.full(shape, v, dtype=np.float64) for k, v in step.state.items()}


def _weather(
    day: int, lat: np.ndarray, rng: np.random.Generator | None = None, precip_mm_day: float = 3.0
) -> tuple[np.ndarray, np.ndarray]:
    """Daily mean temperature (K) with a hemispheric seasonal cycle, and precipitation
    (kg m-2 s-1); optional deterministic noise."""
    phase = 2.0 * math.pi * (day - 110) / 365.0
    tbot = 283.0 + 13.0 * np.sign(lat) * math.sin(phase)
    precip = np.full(lat.shape, precip_mm_day / DAY)
    if rng is not None:
        tbot = tbot + rng.normal(0.0, 3.0, lat.shape)
        precip = precip * rng.exponential(1.0, lat.shape)
    return tbot, precip


def _run(
    step: PhenologyGSI,
    state: dict[str, np.ndarray],
    lat: np.ndarray,
    cover: np.ndarray,
    land: np.ndarray,
    days: range,
    seed: int | None = None,
    precip_mm_day: float = 3.0,
) -> dict[int, np.ndarray]:
    """Run daily steps ending at midnight of each day in `days` (day 1 = 2 Jan 00:00)."""
    out = {}
    for d in days:
        rng = np.random.default_rng([seed, d]) if seed is not None else None
        tbot, precip = _weather(d, lat, rng, precip_mm_day)
        ctx = StepContext(
            time=START + d * DAY,
            previous_run=START + (d - 1) * DAY,
            lat=lat,
            lon=np.zeros_like(lat),
        )
        res = step.run(
            {"TBOT": tbot, "PRECTmms": precip, "land_cover": cover, "landmask": land}, state, ctx
        )
        out[d] = res["LAI"]
    return out


# --- day length ------------------------------------------------------------------------------
def test_day_length_is_twelve_hours_at_the_equinoxes() -> None:
    lats = np.array([-60.0, -30.0, 0.0, 30.0, 45.0, 60.0])
    for doy in (80, 266):  # 21 March, 23 September
        np.testing.assert_allclose(day_length_hours(lats, doy), 12.0, atol=0.2)
    np.testing.assert_allclose(day_length_hours(np.array([0.0]), 172), 12.0, atol=1e-9)


def test_day_length_at_60n_solstices() -> None:
    summer = float(day_length_hours(np.array([60.0]), 172)[0])
    winter = float(day_length_hours(np.array([60.0]), 355)[0])
    assert summer == pytest.approx(18.5, abs=0.1)
    assert winter == pytest.approx(5.5, abs=0.1)
    # almanac sunrise (refraction + solar radius) lengthens the day by ~0.3-0.4 h at 60° N
    almanac = float(day_length_hours(np.array([60.0]), 172, sun_angle_deg=0.8333)[0])
    assert 18.75 < almanac < 18.95
    # hemispheres mirror each other
    assert float(day_length_hours(np.array([-60.0]), 172)[0]) == pytest.approx(24 - summer)


def test_day_length_polar_day_and_night() -> None:
    assert float(day_length_hours(np.array([80.0]), 172)[0]) == 24.0
    assert float(day_length_hours(np.array([80.0]), 355)[0]) == 0.0


# --- LAI ------------------------------------------------------------------------------------
CLASSES = np.arange(17, dtype=np.float64)


def _grid(lat_value: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 2 × 17 tile: one column per IGBP class, row 0 land, row 1 ocean."""
    lat = np.full((2, 17), lat_value)
    cover = np.tile(CLASSES, (2, 1))
    land = np.array([[1.0] * 17, [0.0] * 17])
    return lat, cover, land


def test_lai_stays_within_the_class_range_over_a_year() -> None:
    step = _step()
    lat, cover, land = _grid(45.0)
    lai = np.stack(
        list(_run(step, _state(step, lat.shape), lat, cover, land, range(1, 366), seed=7).values())
    )
    lo = np.array([IGBP_LAI_RANGE[c][0] for c in range(17)])
    hi = np.array([IGBP_LAI_RANGE[c][1] for c in range(17)])
    assert np.all(lai[:, 0, :] >= lo - 1e-12) and np.all(lai[:, 0, :] <= hi + 1e-12)
    # seasonal classes use most of their range over the year
    for c in (3, 4, 10, 12):
        assert lai[:, 0, c].max() - lai[:, 0, c].min() > 0.8 * (hi[c] - lo[c])
    # water, snow/ice: no leaves
    assert np.all(lai[:, 0, 0] == 0.0) and np.all(lai[:, 0, 15] == 0.0)


def test_ocean_cells_have_zero_lai() -> None:
    step = _step()
    lat, cover, land = _grid(45.0)
    lai = _run(step, _state(step, lat.shape), lat, cover, land, range(1, 200))
    assert all(np.all(v[1] == 0.0) for v in lai.values())
    assert lai[199][0, 4] > 0.0


@pytest.mark.parametrize("lat_value, summer, winter", [(45.0, 196, 15), (-45.0, 15, 196)])
def test_deciduous_lai_is_higher_in_summer_than_winter(
    lat_value: float, summer: int, winter: int
) -> None:
    step = _step()
    lat, cover, land = _grid(lat_value)
    lai = _run(step, _state(step, lat.shape), lat, cover, land, range(1, 366))
    for c in (3, 4, 10, 12):  # deciduous needleleaf, deciduous broadleaf, grass, crops
        lo, hi = IGBP_LAI_RANGE[c]
        assert lai[summer][0, c] > lai[winter][0, c]
        assert lai[summer][0, c] > lo + 0.9 * (hi - lo)
        assert lai[winter][0, c] == pytest.approx(lo, abs=0.05 * (hi - lo))


def test_drought_keeps_lai_at_its_minimum() -> None:
    step = _step()
    lat, cover, land = _grid(45.0)
    lai = _run(step, _state(step, lat.shape), lat, cover, land, range(1, 220), precip_mm_day=0.0)
    for c in (4, 9, 10):
        lo, hi = IGBP_LAI_RANGE[c]
        assert lai[196][0, c] < lo + 0.05 * (hi - lo)


def test_missing_land_cover_gives_zero_lai() -> None:
    step = _step()
    lat = np.full((1, 3), 45.0)
    cover = np.array([[255.0, 4.0, -1.0]])
    lai = _run(step, _state(step, lat.shape), lat, cover, np.ones((1, 3)), range(1, 200))
    assert lai[199][0, 0] == 0.0 and lai[199][0, 2] == 0.0 and lai[199][0, 1] > 0.0
    # the same codes with an explicit level axis (1, ny, nx)
    lai1 = _run(step, _state(step, lat.shape), lat, cover[None], np.ones((1, 3)), range(1, 200))
    np.testing.assert_array_equal(lai1[199], lai[199])


def test_class_fractions_weight_the_lai_range() -> None:
    step = _step()
    lat = np.full((1, 17), 45.0)
    onehot = np.eye(17)[:, None, :]  # (17, 1, 17): cell k is all class k
    mixed = np.zeros((17, 1, 17))
    mixed[4, 0, :] = 0.25
    mixed[12, 0, :] = 0.75
    codes = _run(
        step, _state(step, lat.shape), lat, CLASSES[None, :], np.ones((1, 17)), range(1, 200)
    )
    fracs = _run(step, _state(step, lat.shape), lat, onehot, np.ones((1, 17)), range(1, 200))
    mix = _run(step, _state(step, lat.shape), lat, mixed, np.ones((1, 17)), range(1, 200))
    np.testing.assert_allclose(fracs[199], codes[199], rtol=1e-14)
    np.testing.assert_allclose(
        mix[199][0, 0], 0.25 * codes[199][0, 4] + 0.75 * codes[199][0, 12], rtol=1e-12
    )


# --- restart and decomposition --------------------------------------------------------------
def test_n_steps_plus_restart_plus_n_steps_equals_2n_steps_bit_for_bit() -> None:
    rng = np.random.default_rng(3)
    lat = rng.uniform(-60, 70, (6, 9))
    cover = rng.integers(0, 17, (6, 9)).astype(np.float64)
    land = (rng.random((6, 9)) > 0.2).astype(np.float64)
    one = _step()
    s_one = _state(one, lat.shape)
    lai_2n = _run(one, s_one, lat, cover, land, range(1, 81), seed=11)

    first = _step()
    s_first = _state(first, lat.shape)
    _run(first, s_first, lat, cover, land, range(1, 41), seed=11)
    restart = {k: v.copy() for k, v in s_first.items()}  # what a restart file carries
    second = _step()  # a new instance, as after a restart
    lai_n = _run(second, restart, lat, cover, land, range(41, 81), seed=11)
    for d in range(41, 81):
        np.testing.assert_array_equal(lai_n[d], lai_2n[d])
    for k in s_one:
        np.testing.assert_array_equal(restart[k], s_one[k])


def test_tiles_give_the_same_lai_as_the_whole_domain() -> None:
    rng = np.random.default_rng(5)
    lat = np.repeat(np.linspace(30, 60, 8)[:, None], 10, axis=1)
    cover = rng.integers(0, 17, (8, 10)).astype(np.float64)
    land = np.ones((8, 10))
    step = _step()
    whole = _run(step, _state(step, (8, 10)), lat, cover, land, range(1, 150))
    left = _run(step, _state(step, (8, 4)), lat[:, :4], cover[:, :4], land[:, :4], range(1, 150))
    right = _run(step, _state(step, (8, 6)), lat[:, 4:], cover[:, 4:], land[:, 4:], range(1, 150))
    np.testing.assert_array_equal(np.concatenate([left[149], right[149]], axis=1), whole[149])


def test_halo_cells_are_dropped_from_the_output() -> None:
    step = _step(halo=1)
    lat = np.repeat(np.linspace(40, 50, 6)[:, None], 7, axis=1)
    cover = np.full((6, 7), 4.0)
    land = np.ones((6, 7))
    state = _state(step, (4, 5))
    tbot, precip = _weather(180, lat)
    ctx = StepContext(
        time=START + 180 * DAY,
        previous_run=START + 179 * DAY,
        lat=lat,
        lon=np.zeros_like(lat),
        halo=1,
    )
    out = step.run(
        {"TBOT": tbot, "PRECTmms": precip, "land_cover": cover, "landmask": land}, state, ctx
    )["LAI"]
    assert out.shape == (4, 5)
    plain = _step()
    ref = plain.run(
        {
            "TBOT": tbot[1:-1, 1:-1],
            "PRECTmms": precip[1:-1, 1:-1],
            "land_cover": cover[1:-1, 1:-1],
            "landmask": land[1:-1, 1:-1],
        },
        _state(plain, (4, 5)),
        StepContext(
            time=ctx.time, previous_run=ctx.previous_run, lat=lat[1:-1, 1:-1], lon=np.zeros((4, 5))
        ),
    )["LAI"]
    np.testing.assert_array_equal(out, ref)


def test_longer_time_steps_smooth_with_the_same_time_constant() -> None:
    """The EMA weight follows ctx.seconds_since_last_run: one 10-day step from a cold state
    equals 1 − exp(−10 / 10.5) of the way to a constant GSI."""
    step = _step()
    lat = np.full((1, 1), 45.0)
    state = _state(step, (1, 1))
    state["gsi_smooth"][...] = 0.0
    state["precip_memory"][...] = 5.0
    ctx = StepContext(
        time=START + 180 * DAY, previous_run=START + 170 * DAY, lat=lat, lon=np.zeros((1, 1))
    )
    step.run(
        {
            "TBOT": np.full((1, 1), 300.0),
            "PRECTmms": np.full((1, 1), 5.0 / DAY),
            "land_cover": np.full((1, 1), 4.0),
            "landmask": np.ones((1, 1)),
        },
        state,
        ctx,
    )
    assert state["gsi_smooth"][0, 0] == pytest.approx(1.0 - math.exp(-10.0 / 10.5), rel=1e-12)


# --- configuration ---------------------------------------------------------------------------
def test_registered_as_phenology_gsi_with_units() -> None:
    assert TRANSFORMS["phenology_gsi"] is PhenologyGSI and lookup("phenology_gsi") is PhenologyGSI
    step = _step()
    assert step.grid == "fine"
    assert step.inputs["TBOT"].units == "K" and step.inputs["PRECTmms"].units == "kg m-2 s-1"
    assert step.inputs["land_cover"].kind == "categorical"
    assert step.outputs["LAI"].units == "m2 m-2"
    assert set(step.state) == {"gsi_smooth", "precip_memory"}


def test_unknown_parameter_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"steps\.phen\.params: unknown key\(s\) tmin_ofset_k"):
        _step({"tmin_ofset_k": 4.0})


def test_inconsistent_parameters_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"tmin_low_c .* must be below tmin_high_c"):
        _step({"tmin_low_c": 6.0})
    with pytest.raises(ConfigError, match=r"gsi_window_days: must be > 0"):
        _step({"gsi_window_days": 0})
    with pytest.raises(ConfigError, match=r"lai_overrides\.20"):
        _step({"lai_overrides": {20: [0.0, 1.0]}})
    with pytest.raises(ConfigError, match=r"params\.sun_angle_deg: expected a number"):
        _step({"sun_angle_deg": "high"})


def test_lai_overrides_replace_a_class_range() -> None:
    step = _step({"lai_overrides": {"4": [0.2, 5.0]}})
    lat, cover, land = _grid(45.0)
    lai = _run(step, _state(step, lat.shape), lat, cover, land, range(1, 366))
    assert lai[15][0, 4] == pytest.approx(0.2, abs=0.05)
    assert lai[196][0, 4] > 4.5
