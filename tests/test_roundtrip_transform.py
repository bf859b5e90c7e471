"""The diagnostic 'roundtrip' transform: TBOT on the fine grid handed back unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from coupler.clock import ModelTime, Schedule
from coupler.errors import ConfigError
from coupler.steps.base import StepContext
from emulators.transforms import TRANSFORMS
from emulators.transforms.roundtrip import RoundTrip

T0 = ModelTime.from_date(2001, 1, 1)


def _ctx(shape: tuple[int, int], halo: int = 0) -> StepContext:
    return StepContext(
        time=T0 + 3600, previous_run=T0, lat=np.zeros(shape), lon=np.zeros(shape), halo=halo
    )


def test_registered_as_roundtrip_on_the_fine_grid_in_kelvin() -> None:
    step = TRANSFORMS["roundtrip"]("rt", Schedule.parse("every step"))
    assert isinstance(step, RoundTrip) and step.grid == "fine"
    assert step.inputs["TBOT"].units == "K" and step.outputs["TBOT_FINE_CHECK"].units == "K"
    assert step.state == {}


def test_output_is_an_exact_copy_not_a_view() -> None:
    step = RoundTrip("rt", Schedule.parse("every step"))
    tbot = 250.0 + np.arange(12.0).reshape(3, 4) / 7.0
    out = step.run({"TBOT": tbot}, {}, _ctx(tbot.shape))["TBOT_FINE_CHECK"]
    np.testing.assert_array_equal(out, tbot)
    assert out.dtype == np.float64 and not np.shares_memory(out, tbot)


def test_halo_is_removed() -> None:
    step = RoundTrip("rt", Schedule.parse("every step"), halo=2)
    tbot = np.arange(7.0 * 9.0).reshape(7, 9)
    out = step.run({"TBOT": tbot}, {}, _ctx(tbot.shape, halo=2))["TBOT_FINE_CHECK"]
    assert out.shape == (3, 5)
    np.testing.assert_array_equal(out, tbot[2:-2, 2:-2])


def test_roundtrip_takes_no_parameters() -> None:
    with pytest.raises(ConfigError, match=r"unknown key.*scale.*allowed: none"):
        RoundTrip("rt", Schedule.parse("every step"), params={"scale": 2.0})
