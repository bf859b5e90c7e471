"""Model time, calendars and schedules: when each pipeline step is due.

Time is explicit and integer: a `ModelTime` is a whole number of seconds since
0001-01-01 00:00 in its calendar, so comparisons and restarts are exact. The host speaks
CIME's language (`ymd` = yyyymmdd, `tod` = seconds of the day).

A schedule is *due* at time t when the interval (t_prev, t] since the previous advance
contains one of its boundaries (midnight, the 1st of a month, 1 January, or start + k·N s).
"""

from __future__ import annotations

from dataclasses import dataclass

from coupler.errors import ConfigError, LandemuError

SECONDS_PER_DAY = 86400
CALENDARS = ("noleap", "gregorian")
_CALENDAR_ALIASES = {
    "noleap": "noleap",
    "365_day": "noleap",
    "no_leap": "noleap",
    "gregorian": "gregorian",
    "standard": "gregorian",
    "proleptic_gregorian": "gregorian",
}
_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_CUM_DAYS = tuple(sum(_DAYS_IN_MONTH[:m]) for m in range(13))


def canonical_calendar(name: str) -> str:
    """Map a CF calendar name to 'noleap' or 'gregorian' (ConfigError otherwise)."""
    key = str(name).strip().lower()
    if key not in _CALENDAR_ALIASES:
        raise ConfigError(
            f"calendar '{name}' is not supported; use one of {', '.join(sorted(_CALENDAR_ALIASES))}"
        )
    return _CALENDAR_ALIASES[key]


def cf_calendar_name(calendar: str) -> str:
    """The CF `calendar` attribute for a canonical calendar."""
    return "noleap" if calendar == "noleap" else "proleptic_gregorian"


def is_leap(year: int, calendar: str) -> bool:
    if calendar == "noleap":
        return False
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_in_month(year: int, month: int, calendar: str) -> int:
    return 29 if month == 2 and is_leap(year, calendar) else _DAYS_IN_MONTH[month - 1]


def days_in_year(year: int, calendar: str) -> int:
    return 366 if is_leap(year, calendar) else 365


def _days_before_year(year: int, calendar: str) -> int:
    y = year - 1
    if calendar == "noleap":
        return 365 * y
    return 365 * y + y // 4 - y // 100 + y // 400


def _days_before_month(year: int, month: int, calendar: str) -> int:
    return _CUM_DAYS[month - 1] + (1 if month > 2 and is_leap(year, calendar) else 0)


@dataclass(frozen=True, order=True)
class ModelTime:
    """An instant: whole seconds since 0001-01-01 00:00 in `calendar`."""

    seconds: int
    calendar: str = "noleap"

    @classmethod
    def from_date(
        cls, year: int, month: int, day: int, tod: int = 0, calendar: str = "noleap"
    ) -> ModelTime:
        calendar = canonical_calendar(calendar)
        if not 1 <= month <= 12:
            raise LandemuError(f"month {month} is not in 1..12")
        if year < 1:
            raise LandemuError(f"year {year} is before year 1")
        if not 1 <= day <= days_in_month(year, month, calendar):
            raise LandemuError(
                f"day {day} does not exist in {year:04d}-{month:02d} ({calendar} calendar)"
            )
        if not 0 <= tod < SECONDS_PER_DAY:
            raise LandemuError(f"time of day {tod} s is not in [0, 86400)")
        days = (
            _days_before_year(year, calendar) + _days_before_month(year, month, calendar) + day - 1
        )
        return cls(days * SECONDS_PER_DAY + int(tod), calendar)

    @classmethod
    def from_ymd_tod(cls, ymd: int, tod: int, calendar: str = "noleap") -> ModelTime:
        """From CIME's integer date yyyymmdd and seconds of the day."""
        ymd = int(ymd)
        return cls.from_date(ymd // 10000, (ymd // 100) % 100, ymd % 100, int(tod), calendar)

    @classmethod
    def parse(cls, text: str, calendar: str = "noleap") -> ModelTime:
        """From 'YYYY-MM-DD' or 'YYYY-MM-DD HH:MM:SS' (or with a 'T')."""
        s = str(text).strip().replace("T", " ")
        try:
            date, _, clock = s.partition(" ")
            y, m, d = (int(p) for p in date.split("-"))
            hh, mm, ss = (int(p) for p in (clock or "00:00:00").split(":"))
        except ValueError as exc:
            raise LandemuError(
                f"'{text}' is not a date like 2001-01-01 or 2001-01-01 06:00:00"
            ) from exc
        return cls.from_date(y, m, d, hh * 3600 + mm * 60 + ss, calendar)

    # --- calendar fields -----------------------------------------------------------
    @property
    def day_number(self) -> int:
        """Whole days since 0001-01-01."""
        return self.seconds // SECONDS_PER_DAY

    @property
    def tod(self) -> int:
        """Seconds since midnight."""
        return self.seconds % SECONDS_PER_DAY

    def ymd(self) -> tuple[int, int, int]:
        days = self.day_number
        if self.calendar == "noleap":
            year = days // 365 + 1
        else:  # invert the Gregorian day count: estimate, then correct by at most one year
            year = int(days / 365.2425) + 1
            while _days_before_year(year, self.calendar) > days:
                year -= 1
            while _days_before_year(year + 1, self.calendar) <= days:
                year += 1
        rem = days - _days_before_year(year, self.calendar)
        month = 12
        while _days_before_month(year, month, self.calendar) > rem:
            month -= 1
        return year, month, rem - _days_before_month(year, month, self.calendar) + 1

    @property
    def year(self) -> int:
        return self.ymd()[0]

    @property
    def month(self) -> int:
        return self.ymd()[1]

    @property
    def day_of_year(self) -> int:
        """1-based day of the year."""
        year = self.ymd()[0]
        return self.day_number - _days_before_year(year, self.calendar) + 1

    def ymd_int(self) -> int:
        y, m, d = self.ymd()
        return y * 10000 + m * 100 + d

    def fraction_of_year(self) -> float:
        """Elapsed fraction of the current year, in [0, 1)."""
        y = self.year
        start = _days_before_year(y, self.calendar) * SECONDS_PER_DAY
        return (self.seconds - start) / (days_in_year(y, self.calendar) * SECONDS_PER_DAY)

    def __add__(self, seconds: int) -> ModelTime:
        return ModelTime(self.seconds + int(seconds), self.calendar)

    def __sub__(self, other: ModelTime) -> int:
        if other.calendar != self.calendar:
            raise LandemuError(
                f"cannot subtract a {other.calendar} time from a {self.calendar} time"
            )
        return self.seconds - other.seconds

    def isoformat(self) -> str:
        y, m, d = self.ymd()
        t = self.tod
        return f"{y:04d}-{m:02d}-{d:02d} {t // 3600:02d}:{t % 3600 // 60:02d}:{t % 60:02d}"

    def stamp(self) -> str:
        """CIME-style file time stamp: yyyy-mm-dd-sssss."""
        y, m, d = self.ymd()
        return f"{y:04d}-{m:02d}-{d:02d}-{self.tod:05d}"

    def __str__(self) -> str:
        return self.isoformat()


_KINDS = ("step", "once", "daily", "monthly", "yearly", "seconds")


@dataclass(frozen=True)
class Schedule:
    """When a pipeline step (or a history write) is due.

    Written in YAML as `every step`, `once` (the first advance of a run only, not again
    after a restart), `daily`, `monthly`, `yearly` (1 January), `yearly on MM-DD` (that
    day at 00:00) or `every N seconds` (also `every N hours` / `every N days`).
    """

    kind: str
    period: int = 0  # seconds, for kind == "seconds"
    month: int = 1  # yearly: the boundary's month and day
    day: int = 1

    @classmethod
    def parse(cls, text: str, where: str = "schedule") -> Schedule:
        words = str(text).strip().lower().split()
        if words in (["every", "step"], ["step"], ["every_step"]):
            return cls("step")
        if len(words) == 1 and words[0] in ("once", "daily", "monthly", "yearly"):
            return cls(words[0])
        if len(words) == 3 and words[:2] == ["yearly", "on"]:
            return cls._yearly_on(words[2], where)
        units = {
            "second": 1,
            "seconds": 1,
            "s": 1,
            "minutes": 60,
            "minute": 60,
            "hours": 3600,
            "hour": 3600,
            "h": 3600,
            "days": 86400,
            "day": 86400,
        }
        if len(words) == 3 and words[0] == "every" and words[2] in units:
            try:
                n = int(words[1])
            except ValueError:
                n = 0
            if n > 0:
                return cls("seconds", n * units[words[2]])
        raise ConfigError(
            f"{where}: '{text}' is not a schedule; use 'every step', 'once', 'daily', "
            "'monthly', 'yearly', 'yearly on MM-DD' or 'every N seconds|hours|days'"
        )

    @classmethod
    def _yearly_on(cls, text: str, where: str) -> Schedule:
        try:
            month, day = (int(p) for p in text.split("-"))
        except ValueError:
            month = day = 0
        if not (1 <= month <= 12 and 1 <= day <= _DAYS_IN_MONTH[month - 1]):
            raise ConfigError(
                f"{where}: 'yearly on {text}' needs a day that exists every year, as MM-DD "
                "(e.g. 'yearly on 07-01'; 02-29 is not allowed)"
            )
        return cls("yearly", month=month, day=day)

    def is_due(self, previous: ModelTime, now: ModelTime, start: ModelTime) -> bool:
        """True when (previous, now] contains one of this schedule's boundaries.

        'once' is never due by itself: every step runs at the first advance of a run."""
        if now.seconds <= previous.seconds or self.kind == "once":
            return False
        if self.kind == "step":
            return True
        if self.kind == "daily":
            return _crossed(previous.seconds, now.seconds, SECONDS_PER_DAY, 0)
        if self.kind == "seconds":
            return _crossed(previous.seconds, now.seconds, self.period, start.seconds)
        if self.kind == "monthly":
            return _boundary_index(now, "monthly") > _boundary_index(previous, "monthly")
        return self._years_begun(now) > self._years_begun(previous)

    def _years_begun(self, t: ModelTime) -> int:
        """Yearly boundaries (month-day 00:00) at or before t, counted from year 1."""
        y = t.year
        here = ModelTime.from_date(y, self.month, self.day, 0, t.calendar)
        return y - 1 + (1 if t.seconds >= here.seconds else 0)

    def __str__(self) -> str:
        if self.kind == "seconds":
            return f"every {self.period} seconds"
        if self.kind == "yearly" and (self.month, self.day) != (1, 1):
            return f"yearly on {self.month:02d}-{self.day:02d}"
        return self.kind


def _crossed(prev: int, now: int, period: int, origin: int) -> bool:
    """Does (prev, now] contain origin + k·period for some integer k?"""
    return (now - origin) // period > (prev - origin) // period


def _boundary_index(t: ModelTime, kind: str) -> int:
    """Month (year) starts at or before t, counted from year 1, minus one."""
    y, m, _ = t.ymd()
    return (y - 1) * 12 + (m - 1) if kind == "monthly" else y - 1
