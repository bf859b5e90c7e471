"""The online MdPL step (transform mdpl_params) on host columns: PFT defaults until a full
48-step window, then g_z's parameters equal to the pure online core's, carried across a
restart; clear errors for short windows, missing windows, wrong coupling and NaN forcing;
out-of-range parameters of a bad model are clamped and logged."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from mpi4py import MPI
from step_state_setup import HALF_HOUR, config

from coupler.clock import ModelTime
from coupler.component import Component
from coupler.errors import FieldError, LandemuError
from emulators.data.forcing import generate_forcing
from emulators.landmodel import FORCING_NAMES, PARAM_NAMES, parameter_table
from emulators.mdpl.online import calibrate_columns, window_first_step
from emulators.mdpl.runtime import MdplModels

T0 = ModelTime.from_date(2001, 1, 1)
STATICS = {"sand": 55.0, "clay": 10.0, "elevation": 270.0, "pft": 7.0}  # a US-Bar-like column


def step_entry(schedule: str = "daily", window: int = 48, **params) -> dict:
    return {
        "name": "mdpl",
        "transform": "mdpl_params",
        "schedule": schedule,
        "aggregation": {n: {"window": window} for n in FORCING_NAMES},
        "params": params,
        "state": {k: {"init": v} for k, v in STATICS.items()},
    }


@pytest.fixture(scope="module")
def forcing() -> dict[str, np.ndarray]:
    """Half-hourly ERA5-climatology forcing of the 16 host cells (step_state_setup's grid)."""
    lat = np.repeat(47.25 + 0.5 * np.arange(4), 4)
    lon = np.tile(-4.75 + 0.5 * np.arange(4), 4)
    return generate_forcing(lat, lon, 2001, 1, seed=3)


def start(folder, steps, **more) -> Component:
    cfg = config(folder, steps, list(PARAM_NAMES), imports=FORCING_NAMES, **more)
    comp = Component(MPI.COMM_WORLD, cfg)
    comp.set_decomposition(np.arange(1, comp.host.n + 1))
    return comp


def advance(comp: Component, forcing: dict, step: int) -> None:
    """Put interval `step`'s (1-based) forcing and advance to its end."""
    for n in FORCING_NAMES:
        comp.put(n, forcing[n][step - 1, comp.ids0])
    comp.advance(T0 + HALF_HOUR * step)


def exported(comp: Component) -> np.ndarray:
    out = np.empty((len(PARAM_NAMES), comp.n_local))
    for k, n in enumerate(PARAM_NAMES):
        comp.get(n, out[k])
    return out


def expected(comp: Component, forcing: dict, last: int) -> np.ndarray:
    """The pure core on the window of intervals last-47 .. last: (12, n)."""
    win = np.stack([forcing[n][last - 48 : last, comp.ids0] for n in FORCING_NAMES], axis=2)
    statics = {k: np.full(comp.n_local, v) for k, v in STATICS.items()}
    lat, lon = comp.host.center_lat[comp.ids0], comp.host.center_lon[comp.ids0]
    first = window_first_step(T0 + HALF_HOUR * last)
    return calibrate_columns(win.transpose(1, 0, 2), lat, lon, statics, first).T


def test_defaults_until_a_full_window_then_gz_of_the_last_window(tmp_path, forcing):
    comp = start(tmp_path, [step_entry()])
    advance(comp, forcing, 1)  # first run: the window holds one interval -> PFT defaults
    defaults = parameter_table().pft_defaults[7]
    np.testing.assert_array_equal(exported(comp), np.repeat(defaults[:, None], 16, axis=1))
    for step in range(2, 49):
        advance(comp, forcing, step)
    want = expected(comp, forcing, 48)  # second run at midnight: the first full window
    np.testing.assert_allclose(exported(comp), want, rtol=1e-12)
    assert np.abs(want - defaults[:, None]).max() > 0  # g_z moved them
    tab = parameter_table()
    assert ((want >= tab.lo[:, None]) & (want <= tab.hi[:, None])).all()


def test_exports_average_the_full_windows_and_restart_carries_them(tmp_path, forcing):
    whole = start(tmp_path / "whole", [step_entry()])
    for step in range(1, 97):  # two days: runs at steps 1 (cold), 48 and 96
        advance(whole, forcing, step)
    tab = parameter_table()
    unit = [
        (expected(whole, forcing, s) - tab.lo[:, None]) / (tab.hi - tab.lo)[:, None]
        for s in (48, 96)
    ]
    mean = tab.lo[:, None] + (tab.hi - tab.lo)[:, None] * (unit[0] + unit[1]) / 2
    np.testing.assert_allclose(exported(whole), mean, rtol=1e-12)
    first = start(tmp_path / "first", [step_entry()])
    for step in range(1, 71):
        advance(first, forcing, step)
    path = first.write_restart(tmp_path / "mid.nc")
    second = start(tmp_path / "second", [step_entry()], restart={"read": str(path)})
    for step in range(71, 97):
        advance(second, forcing, step)
    np.testing.assert_array_equal(exported(second), exported(whole))


def test_short_window_is_a_clear_error(tmp_path, forcing):
    comp = start(tmp_path, [step_entry("every step", window=24)])
    advance(comp, forcing, 1)
    with pytest.raises(FieldError, match=r"windows hold 24 steps; g_z needs the last 48"):
        for step in range(2, 49):  # the window is full after one day of intervals
            advance(comp, forcing, step)


def test_forcing_without_windows_is_a_clear_error(tmp_path, forcing):
    entry = {**step_entry(), "aggregation": {}}
    comp = start(tmp_path, [entry])
    with pytest.raises(FieldError, match=r"FSDS, FLDS, .* must be windows of the last 48"):
        advance(comp, forcing, 1)


def test_daily_coupling_is_rejected(tmp_path, forcing):
    comp = start(tmp_path, [step_entry()], interval=86400)
    for n in FORCING_NAMES:
        comp.put(n, forcing[n][0, comp.ids0])
    with pytest.raises(FieldError, match=r"needs half-hourly coupling .* first interval was 86400"):
        comp.advance(T0 + 86400)


def test_nan_forcing_is_rejected_naming_field_column_and_step(tmp_path, forcing):
    models = MdplModels(surrogate_path=None)
    win = np.stack([forcing[n][:48, :3] for n in FORCING_NAMES], axis=2).transpose(1, 0, 2)
    win[1, 30, 2] = np.nan
    statics = {k: np.full(3, v) for k, v in STATICS.items()}
    with pytest.raises(FieldError, match=r"forcing TBOT is not finite at column 1, step 30"):
        calibrate_columns(win, np.zeros(3), np.zeros(3), statics, 0, models)
    comp = start(tmp_path, [step_entry()])
    with pytest.raises(LandemuError, match=r"TBOT"):  # the put itself refuses NaN
        comp.put("TBOT", np.full(comp.n_local, np.nan))


def test_out_of_range_parameters_of_a_bad_model_are_clamped_and_logged(caplog, forcing):
    models = MdplModels(surrogate_path=None)

    class Broken:  # a model whose output leaves the ranges: one range width above them
        def run(self, _names, feed):
            above = 2 * models.hi - models.lo
            return [np.tile(above, (feed["x"].shape[0], 1)).astype(np.float32)]

    models.gz = Broken()
    win = np.stack([forcing[n][:48, :2] for n in FORCING_NAMES], axis=2).transpose(1, 0, 2)
    statics = {k: np.full(2, v) for k, v in STATICS.items()}
    with caplog.at_level(logging.WARNING):
        p = calibrate_columns(win, np.zeros(2), np.zeros(2), statics, 0, models)
    np.testing.assert_array_equal(p, np.tile(models.hi, (2, 1)))
    assert "out of range clamped (24 values" in caplog.text


def test_bare_soil_column_is_a_clear_error(forcing):
    win = np.stack([forcing[n][:48, :1] for n in FORCING_NAMES], axis=2).transpose(1, 0, 2)
    statics = {**{k: np.full(1, v) for k, v in STATICS.items()}, "pft": np.zeros(1)}
    with pytest.raises(FieldError, match=r"pft 0 is not a vegetated ELM PFT"):
        calibrate_columns(win, np.zeros(1), np.zeros(1), statics, 0)
