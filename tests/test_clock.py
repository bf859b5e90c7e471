"""Calendars and schedules: exact integer time, CIME dates, when steps are due."""

import datetime

import pytest

from coupler.clock import ModelTime, Schedule
from coupler.errors import ConfigError, LandemuError


@pytest.mark.parametrize("calendar", ["noleap", "gregorian"])
def test_dates_round_trip_through_seconds(calendar):
    t = ModelTime.from_date(1999, 12, 1, 0, calendar)
    for k in range(800):
        u = t + k * 86400 + 1800
        y, m, d = u.ymd()
        assert ModelTime.from_date(y, m, d, u.tod, calendar) == u


def test_gregorian_day_numbers_match_python_datetime():
    for y, m, d in [(1, 1, 1), (1900, 3, 1), (2000, 2, 29), (2024, 12, 31)]:
        t = ModelTime.from_date(y, m, d, 0, "gregorian")
        assert t.day_number == (datetime.date(y, m, d) - datetime.date(1, 1, 1)).days


def test_noleap_has_no_february_29():
    with pytest.raises(LandemuError, match="does not exist"):
        ModelTime.from_date(2000, 2, 29, 0, "noleap")
    assert ModelTime.from_date(2000, 12, 31, 0, "noleap").day_of_year == 365
    assert ModelTime.from_date(2000, 12, 31, 0, "gregorian").day_of_year == 366


def test_cime_ymd_tod_and_stamp():
    t = ModelTime.from_ymd_tod(20010315, 43200, "noleap")
    assert t.ymd_int() == 20010315 and t.tod == 43200
    assert t.stamp() == "2001-03-15-43200"
    assert ModelTime.parse("2001-03-15 12:00:00") == t


def test_unknown_calendar_is_a_config_error():
    with pytest.raises(ConfigError, match="julian"):
        ModelTime.from_date(2000, 1, 1, 0, "julian")


@pytest.mark.parametrize(
    ("text", "prev", "now", "due"),
    [
        ("daily", "2001-01-01 12:00:00", "2001-01-02 00:00:00", True),
        ("daily", "2001-01-02 00:00:00", "2001-01-02 12:00:00", False),
        ("monthly", "2001-01-31 00:00:00", "2001-02-01 00:00:00", True),
        ("monthly", "2001-02-01 00:00:00", "2001-02-02 00:00:00", False),
        ("yearly", "2001-12-31 00:00:00", "2002-01-01 00:00:00", True),
        ("every 6 hours", "2001-01-01 00:00:00", "2001-01-01 05:00:00", False),
        ("every 6 hours", "2001-01-01 05:00:00", "2001-01-01 06:00:00", True),
        ("every step", "2001-01-01 05:00:00", "2001-01-01 05:30:00", True),
    ],
)
def test_schedule_is_due_when_a_boundary_is_crossed(text, prev, now, due):
    start = ModelTime.parse("2001-01-01")
    assert Schedule.parse(text).is_due(ModelTime.parse(prev), ModelTime.parse(now), start) is due


def test_bad_schedule_names_the_key():
    with pytest.raises(ConfigError, match="steps.x.schedule: 'fortnightly'"):
        Schedule.parse("fortnightly", "steps.x.schedule")
