"""The step contract's state and time (single rank): autoregressive inputs, windows of
imports, declared state of any kind, schedules, and restarts that carry all of them."""

import numpy as np
import pytest
from mpi4py import MPI
from step_state_setup import (
    HALF_HOUR,
    config,
    counter_step,
    expected_window_sum,
    tbot,
    window_step,
)

from coupler.clock import ModelTime
from coupler.component import Component
from coupler.errors import ConfigError, FieldError

COMM = MPI.COMM_WORLD
T0 = ModelTime.from_date(2001, 1, 1)


def start(cfg) -> Component:
    comp = Component(COMM, cfg)
    comp.set_decomposition(np.arange(1, comp.host.n + 1))
    return comp


def advance(comp: Component, step: int, interval: int = HALF_HOUR) -> None:
    """Put TBOT and advance to the end of coupling interval `step` (1-based)."""
    comp.put("TBOT", tbot(comp.ids0 + 1, step))
    comp.advance(T0 + interval * step)


def get(comp: Component, name: str) -> np.ndarray:
    out = np.empty((comp.registry[name].levels, comp.n_local))
    comp.get(name, out)
    return out


def test_autoregressive_counter_adds_one_per_run_from_its_declared_start(tmp_path):
    cfg = config(tmp_path, [counter_step(tmp_path, "daily", init=10.0)], ["COUNT"])
    comp = start(cfg)
    for step in range(1, 49 * 3 + 1):  # three days and three intervals, half-hourly
        advance(comp, step)
    # runs: the first advance, then midnight of days 2, 3 and 4
    np.testing.assert_allclose(get(comp, "COUNT"), 14.0, rtol=1e-13)
    tiles = comp.previous["counter"]["COUNT"]
    assert len(tiles) == 20 and all(np.all(t == 14.0) for t in tiles)


def test_windowed_sum_over_48_half_hourly_puts(tmp_path):
    comp = start(config(tmp_path, [window_step(tmp_path)], ["TSUM"]))
    ids = comp.ids0 + 1
    for step in range(1, 100):
        advance(comp, step)
        if step in (1, 30, 48, 49, 99):
            np.testing.assert_array_equal(get(comp, "TSUM"), expected_window_sum(ids, step))


def test_window_must_see_every_interval(tmp_path):
    comp = start(config(tmp_path, [window_step(tmp_path)], ["TSUM"]))
    advance(comp, 1)
    with pytest.raises(FieldError, match="no values of TBOT were put in this coupling interval"):
        comp.advance(T0 + 2 * HALF_HOUR)
    advance(comp, 2)  # the host puts and goes on
    np.testing.assert_array_equal(get(comp, "TSUM"), expected_window_sum(comp.ids0 + 1, 2))


def test_restart_mid_window_is_bit_for_bit(tmp_path):
    steps = [window_step(tmp_path), counter_step(tmp_path, "every 3 hours")]
    ref = start(config(tmp_path / "ref", steps, ["TSUM", "COUNT"]))
    for step in range(1, 71):
        advance(ref, step)
    first = start(config(tmp_path / "a", steps, ["TSUM", "COUNT"]))
    for step in range(1, 31):  # 30 intervals: mid-window, mid-way between counter runs
        advance(first, step)
    restart = first.write_restart(tmp_path / "r.nc")
    assert (tmp_path / "r.nc.fine").stat().st_size == 240 * 240 * 8  # COUNT, float64
    second = start(config(tmp_path / "b", steps, ["TSUM", "COUNT"], restart={"read": str(restart)}))
    for step in range(31, 71):
        advance(second, step)
    for name in ("TSUM", "COUNT"):
        np.testing.assert_array_equal(get(second, name), get(ref, name), err_msg=name)


def test_windows_only_for_host_imports_of_host_steps(tmp_path):
    step = {**counter_step(tmp_path), "aggregation": {"COUNT": {"window": 4}}}
    with pytest.raises(ConfigError, match=r"aggregation.COUNT: .*not an input|windows are kept"):
        start(config(tmp_path, [step], ["COUNT"]))
    bad = {**window_step(tmp_path), "aggregation": {"TBOT": {"window": 0}}}
    with pytest.raises(ConfigError, match=r"aggregation.TBOT.window: expected a positive"):
        start(config(tmp_path, [bad], ["TSUM"]))


def test_window_length_must_match_the_model(tmp_path):
    step = {**window_step(tmp_path), "aggregation": {"TBOT": {"window": 24}}}
    with pytest.raises(Exception, match="takes windows of 48 values, the configuration keeps 24"):
        start(config(tmp_path, [step], ["TSUM"]))


def test_previous_must_name_an_output_of_the_step(tmp_path):
    step = counter_step(tmp_path)
    step["inputs"][0]["name"] = "OTHER"
    with pytest.raises(ConfigError, match="'from: previous' reads this step's own previous"):
        start(config(tmp_path, [step], ["COUNT"]))
    step = counter_step(tmp_path)
    step["inputs"][0]["from"] = "yesterday"
    with pytest.raises(ConfigError, match="'yesterday' is not allowed; allowed: previous"):
        start(config(tmp_path, [step], ["COUNT"]))
    step = counter_step(tmp_path)
    step["inputs"][0]["init"] = {"static": "land_cover"}
    with pytest.raises(ConfigError, match="initial value from static field land_cover"):
        start(config(tmp_path, [step], ["COUNT"]))
