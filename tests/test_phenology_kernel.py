"""The compiled one-pass GSI phenology kernel gives exactly the numpy transform's bits —
state and LAI, day after day, over every land-cover code, missing codes, ocean, cold starts,
negative and NaN inputs, and latitude that varies along rows as well."""

from __future__ import annotations

import numpy as np
import pytest

from coupler.clock import ModelTime, Schedule
from coupler.steps.base import StepContext
from emulators.transforms.phenology import PhenologyGSI, _kernel_applies

DAY = 86400
START = ModelTime.from_date(2001, 1, 1)
SHAPE = (37, 53)


def _inputs(rng: np.random.Generator, day: int) -> dict[str, np.ndarray]:
    tbot = 280.0 + 15.0 * np.sin(2 * np.pi * day / 365) + rng.normal(0.0, 8.0, SHAPE)
    precip = rng.exponential(3.0 / DAY, SHAPE)
    precip[0, :5] = [-1e-6, 0.0, -0.0, np.nan, 1e-3]  # odd values the host could send
    tbot[1, :2] = [np.nan, 273.15 + 5.0 - 2.0]  # NaN, and a ramp edge hit exactly
    cover = rng.integers(-2, 20, SHAPE).astype(np.float64)  # codes 0..16 and missing ones
    cover[2, :3] = [4.5, 5.5, np.nan]  # half-way codes round to even, like np.rint
    landmask = (rng.random(SHAPE) > 0.2).astype(np.float64)
    landmask[:3, :5] = 1.0  # the odd values above fall on land
    return {"TBOT": tbot, "PRECTmms": precip, "land_cover": cover, "landmask": landmask}


@pytest.mark.parametrize("lat_varies_along_rows", [False, True])
def test_kernel_equals_numpy_bit_for_bit_over_a_season(lat_varies_along_rows):
    step = PhenologyGSI("phen", Schedule.parse("daily"), params={"lai_overrides": {4: [0.5, 2]}})
    rng = np.random.default_rng(3)
    lat = np.linspace(-70.0, 75.0, SHAPE[0])[:, None] + np.zeros(SHAPE)
    if lat_varies_along_rows:
        lat = lat + np.linspace(0.0, 1.0, SHAPE[1])
    lon = np.zeros(SHAPE)
    states = {path: {k: np.full(SHAPE, v) for k, v in step.state.items()} for path in ("c", "np")}
    states["c"]["gsi_smooth"][3, 3] = 0.25  # a cell already warm, the rest cold-started
    states["np"]["gsi_smooth"][3, 3] = 0.25
    for day in range(1, 200, 7):
        inputs = _inputs(rng, day)
        ctx = StepContext(START + day * DAY, START + (day - 7) * DAY, lat, lon, 0, 0)
        assert _kernel_applies(inputs, states["c"])
        fast = step.compute(inputs, states["c"], ctx)["LAI"]
        slow = step._compute_numpy(inputs, states["np"], ctx)["LAI"]
        np.testing.assert_array_equal(fast, slow, err_msg=f"LAI, day {day}")
        for key in step.state:
            np.testing.assert_array_equal(states["c"][key], states["np"][key], err_msg=key)
    assert np.nanmax(fast) > 1.0 and np.count_nonzero(np.isnan(fast)) >= 1


def test_kernel_does_not_apply_to_class_fractions_or_halos():
    rng = np.random.default_rng(0)
    inputs = _inputs(rng, 100)
    state = {k: np.full(SHAPE, -1.0) for k in ("gsi_smooth", "precip_memory")}
    fractions = dict(inputs, land_cover=np.full((17, *SHAPE), 1.0 / 17))
    assert _kernel_applies(inputs, state)
    assert not _kernel_applies(fractions, state)
    assert not _kernel_applies(inputs, {**state, "gsi_smooth": np.full((3, 3), -1.0)})
