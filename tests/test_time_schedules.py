"""Time in the step contract: run-once and yearly-on-a-date schedules, and exports that
follow ELM's mid-month interpolation between monthly updates (also across a restart taken
in the middle of a month)."""

import numpy as np
import pytest
from step_state_setup import config, counter_step
from test_step_state import advance, get, start

from coupler.clock import ModelTime, Schedule
from coupler.errors import ConfigError
from coupler.interpolation import mid_month_weights

DAY = 86400
NOLEAP = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def t(y, m, d, tod=0):
    return ModelTime.from_date(y, m, d, tod)


def test_yearly_on_a_date_is_due_when_that_day_begins():
    s = Schedule.parse("yearly on 07-01")
    assert str(s) == "yearly on 07-01"
    start = t(2001, 1, 1)
    assert s.is_due(t(2001, 6, 30, 12 * 3600), t(2001, 7, 1), start)
    assert not s.is_due(t(2001, 7, 1), t(2001, 7, 2), start)
    assert not s.is_due(t(2001, 12, 31), t(2002, 1, 1), start)
    assert s.is_due(t(2001, 6, 1), t(2003, 6, 1), start)  # a long interval crossing 2002-07-01
    assert Schedule.parse("yearly").is_due(t(2001, 12, 31), t(2002, 1, 1), start)


@pytest.mark.parametrize("text", ["yearly on 02-29", "yearly on 13-01", "yearly on july"])
def test_yearly_on_a_day_that_does_not_exist_every_year_is_refused(text):
    with pytest.raises(ConfigError, match="needs a day that exists every year"):
        Schedule.parse(text)


def test_once_runs_at_the_first_advance_only_and_not_again_after_restart(tmp_path):
    steps = [counter_step(tmp_path, "once", init=0.0)]
    comp = start(config(tmp_path / "a", steps, ["COUNT"], interval=DAY))
    for day in range(1, 5):
        advance(comp, day, DAY)
    np.testing.assert_allclose(get(comp, "COUNT"), 1.0, rtol=1e-14)
    assert comp.last_run["counter"] == t(2001, 1, 2)
    restart = comp.write_restart(tmp_path / "r.nc")
    again = start(
        config(tmp_path / "b", steps, ["COUNT"], interval=DAY, restart={"read": str(restart)})
    )
    advance(again, 5, DAY)
    np.testing.assert_allclose(get(again, "COUNT"), 1.0, rtol=1e-14)
    assert again.last_run["counter"] == t(2001, 1, 2)


def test_mid_month_weights_follow_elm():
    # first half of March: February and March; 9 days into 31: weights 0.5 - 9/31, 0.5 + 9/31
    a, b, wa, wb = mid_month_weights(t(2001, 3, 10))
    assert (a, b) == (2000 * 12 + 1, 2000 * 12 + 2)
    assert wa == pytest.approx(0.5 - 9 / 31, abs=1e-15) and wa + wb == 1.0
    # the middle of a month gives that month alone (April: 30 days, mid = day 16 00:00)
    a, b, wa, wb = mid_month_weights(t(2001, 4, 16))
    assert b == 2000 * 12 + 4 and (wa, wb) == (1.0, 0.0)
    # second half of December reaches into January of the next year
    a, b, wa, wb = mid_month_weights(t(2001, 12, 25))
    assert (a, b) == (2000 * 12 + 11, 2001 * 12) and wb == pytest.approx(24 / 31 - 0.5)


def expected_interpolated(time: ModelTime) -> float:
    """The counter updated monthly (11 in January, 12 after 1 Feb, ...): the value of the
    update in month j is month j+1's; ELM weights by hand; months before the first update
    take its value."""
    _, m, d = time.ymd()
    f = (d - 1 + time.tod / DAY) / NOLEAP[m - 1]
    k = m - 1  # 0-based month of 2001

    def month_value(month: int) -> float:
        return 11.0 + max(month - 1, 0)

    if f < 0.5:
        return (0.5 - f) * month_value(k - 1) + (0.5 + f) * month_value(k)
    return (1.5 - f) * month_value(k) + (f - 0.5) * month_value(k + 1)


def interpolated_config(folder, tmp_path, **more):
    exports = {"COUNT": {"interpolate": "monthly"}}
    return config(folder, [counter_step(tmp_path, "monthly")], exports, interval=DAY, **more)


def test_monthly_updates_reach_the_host_smoothly(tmp_path):
    comp = start(interpolated_config(tmp_path / "a", tmp_path))
    seen = []
    for day in range(1, 120):
        advance(comp, day, DAY)
        got = get(comp, "COUNT")
        want = expected_interpolated(comp.now)
        np.testing.assert_allclose(got, want, rtol=1e-13, err_msg=str(comp.now))
        seen.append(float(got[0, 0]))
    steps = np.abs(np.diff(seen))
    assert steps.max() <= 1 / 28 + 1e-12  # one unit per month at most: no jumps
    assert seen[-1] == pytest.approx(13 + 29 / 30 - 0.5)  # 30 April


def test_monthly_interpolation_needs_a_monthly_producer(tmp_path):
    cfg = config(tmp_path, [counter_step(tmp_path, "daily")], {"COUNT": {"interpolate": "monthly"}})
    with pytest.raises(ConfigError, match="needs a monthly producer, but step 'counter' runs"):
        start(cfg)
    cfg = config(tmp_path, [counter_step(tmp_path, "monthly")], {"COUNT": {"interpolate": "daily"}})
    with pytest.raises(ConfigError, match="interpolate: 'daily' is not allowed; allowed: monthly"):
        start(cfg)


def test_restart_mid_month_is_bit_for_bit(tmp_path):
    ref = start(interpolated_config(tmp_path / "ref", tmp_path))
    for day in range(1, 80):
        advance(ref, day, DAY)
    first = start(interpolated_config(tmp_path / "a", tmp_path))
    for day in range(1, 46):  # ends 2001-02-15: the middle of February
        advance(first, day, DAY)
    restart = first.write_restart(tmp_path / "r.nc")
    second = start(interpolated_config(tmp_path / "b", tmp_path, restart={"read": str(restart)}))
    for day in range(46, 80):
        advance(second, day, DAY)
    np.testing.assert_array_equal(get(second, "COUNT"), get(ref, "COUNT"))
