"""Expiry policies: when a cached result stops being fresh.

Each factory returns a small, picklable, value-comparable policy. Calling it gives the whole
seconds from now until the result expires, or ``None`` when there is no time-based expiry; the
engine reads ``kind`` (an ``ExpiryKind``) to tell them apart.
The clock is a parameter: ``policy(now)`` takes a naive local datetime, ``policy()`` uses the
real one. The seconds are real elapsed time, so a daylight-saving shift before the target
moment is accounted for.
"""

from __future__ import annotations

import calendar
import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import ClassVar

__all__ = [
    "AfterSession",
    "AtDatetime",
    "AtMidnight",
    "ExpiryPolicy",
    "FromNow",
    "FromToday",
    "Monthly",
    "Never",
    "OnComplete",
    "Weekly",
    "after_session",
    "at_datetime",
    "at_midnight",
    "from_now",
    "from_today",
    "monthly",
    "never",
    "on_complete",
    "weekly",
]

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# English names on purpose: calendar.day_name follows the locale, task files should not.
_WEEKDAY_ALIASES = {alias: full for full in _WEEKDAYS for alias in (full, full[:3], full[:2])}
_SECOND = timedelta(seconds=1)
_ZERO = timedelta()
_SPAN_UNITS = ("years", "months", "weeks", "days", "hours", "minutes", "seconds")


class ExpiryKind(enum.StrEnum):
    """How a policy expires a result: the engine handles each kind in its own way."""

    NEVER = "never"  # only a change of code, inputs or upstream reruns the task
    SESSION = "session"  # when the process that stored it has ended
    RUN = "run"  # at the end of the run that stored it
    TIME = "time"  # at a moment: the policy gives the seconds until then


class ExpiryPolicy:
    """Base of all policies: ``kind`` for the engine, ``describe()`` for ``lp list``."""

    kind: ClassVar[ExpiryKind] = ExpiryKind.TIME

    def __call__(self, now: datetime | None = None) -> int | None:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def __str__(self) -> str:
        return self.describe()


def _local_now(now: datetime | None) -> datetime:
    """The injected clock as a naive local datetime, or the real clock when absent."""
    if now is None:
        return datetime.now()
    return now.astimezone().replace(tzinfo=None) if now.tzinfo is not None else now


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time())


def _seconds_between(start: datetime, end: datetime, plus: timedelta = _ZERO) -> int:
    """Whole elapsed seconds (floored, so never late) from start to end plus an exact span."""
    # astimezone() reads naive times as local, so a DST shift in between is counted.
    return (end.astimezone() + plus - start.astimezone()) // _SECOND


def _add_months(moment: datetime, months: int) -> datetime:
    """Shift by calendar months, clamping the day to the target month's last day."""
    year, month_index = divmod(moment.year * 12 + moment.month - 1 + months, 12)
    last_day = calendar.monthrange(year, month_index + 1)[1]
    return moment.replace(year=year, month=month_index + 1, day=min(moment.day, last_day))


def _plural(value: float, unit: str) -> str:
    number = int(value) if float(value).is_integer() else value
    return f"{number} {unit if number == 1 else unit + 's'}"


class _Untimed(ExpiryPolicy):
    """A policy the engine handles by ``kind`` alone: no time-based expiry."""

    _text: ClassVar[str] = ""

    def __call__(self, now: datetime | None = None) -> None:
        return None

    def describe(self) -> str:
        return self._text


@dataclass(frozen=True)
class Never(_Untimed):
    """Kept until the task's code, inputs or upstream results change."""

    kind: ClassVar[ExpiryKind] = ExpiryKind.NEVER
    _text: ClassVar[str] = "never"


@dataclass(frozen=True)
class AfterSession(_Untimed):
    """Dropped when the Python process that cached the result exits."""

    task_name: str | None = None
    kind: ClassVar[ExpiryKind] = ExpiryKind.SESSION
    _text: ClassVar[str] = "after session"


@dataclass(frozen=True)
class OnComplete(_Untimed):
    """Dropped when the pipeline run completes; downstream tasks of that run still see it."""

    task_name: str | None = None
    kind: ClassVar[ExpiryKind] = ExpiryKind.RUN
    _text: ClassVar[str] = "on complete"


@dataclass(frozen=True)
class AtMidnight(ExpiryPolicy):
    """Until the next local midnight."""

    def __call__(self, now: datetime | None = None) -> int:
        current = _local_now(now)
        return _seconds_between(current, _midnight(current.date() + timedelta(days=1)))

    def describe(self) -> str:
        return "at midnight"


@dataclass(frozen=True)
class FromNow(ExpiryPolicy):
    """A span from the moment of caching.

    Years down to days step the calendar (Jan 31 + 1 month is the last day of February, and a
    day may last 23 or 25 hours around a DST change); hours and smaller are exact elapsed time.
    """

    years: int = 0
    months: int = 0
    weeks: float = 0
    days: float = 0
    hours: float = 0
    minutes: float = 0
    seconds: float = 0
    _label: ClassVar[str] = "from now"

    def __post_init__(self) -> None:
        if not (isinstance(self.years, int) and isinstance(self.months, int)):
            raise ValueError(
                f"years and months must be whole numbers, got years={self.years!r}, "
                f"months={self.months!r}; use days or hours for fractions"
            )

    def _start(self, current: datetime) -> datetime:
        return current

    def __call__(self, now: datetime | None = None) -> int:
        current = _local_now(now)
        end = _add_months(self._start(current), self.years * 12 + self.months)
        end += timedelta(weeks=self.weeks, days=self.days)
        clock = timedelta(hours=self.hours, minutes=self.minutes, seconds=self.seconds)
        return _seconds_between(current, end, clock)

    def describe(self) -> str:
        parts = [_plural(getattr(self, u), u[:-1]) for u in _SPAN_UNITS if getattr(self, u)]
        return f"{self._label}: {', '.join(parts) or '0 seconds'}"


@dataclass(frozen=True)
class FromToday(FromNow):
    """The same span as ``FromNow``, counted from today's midnight (00:00)."""

    _label: ClassVar[str] = "from today"

    def _start(self, current: datetime) -> datetime:
        return _midnight(current.date())


@dataclass(frozen=True)
class AtDatetime(ExpiryPolicy):
    """Until a fixed moment; a moment in the past gives a negative number."""

    moment: datetime

    def __call__(self, now: datetime | None = None) -> int:
        return _seconds_between(_local_now(now), self.moment)

    def describe(self) -> str:
        shown = self.moment.strftime("%Y-%m-%d %H:%M" + (":%S" if self.moment.second else ""))
        return f"at {shown}" + (self.moment.strftime(" %z") if self.moment.tzinfo else "")


@dataclass(frozen=True)
class Weekly(ExpiryPolicy):
    """Until the midnight starting the next listed weekday (strictly after now)."""

    days: tuple[str, ...]

    def __call__(self, now: datetime | None = None) -> int:
        current = _local_now(now)
        today = current.weekday()
        # A listed today has already started, so its next start is a week away.
        ahead = min((_WEEKDAYS.index(day) - today - 1) % 7 + 1 for day in self.days)
        return _seconds_between(current, _midnight(current.date() + timedelta(days=ahead)))

    def describe(self) -> str:
        return "weekly: " + ", ".join(self.days)


@dataclass(frozen=True)
class Monthly(ExpiryPolicy):
    """Until the midnight starting the next listed day of month that exists."""

    days: tuple[int, ...]

    def __call__(self, now: datetime | None = None) -> int:
        current = _local_now(now)
        # Any day 1..31 occurs within a year, so some month of the next 13 has a listed day.
        for ahead in range(13):
            first = _add_months(_midnight(current.date().replace(day=1)), ahead)
            last_day = calendar.monthrange(first.year, first.month)[1]
            for day in self.days:
                if day <= last_day and (target := first.replace(day=day)) > current:
                    return _seconds_between(current, target)
        raise ValueError(f"Monthly needs days from 1 to 31, got {self.days!r}")

    def describe(self) -> str:
        return "monthly: " + ", ".join(str(day) for day in self.days)


# The classes are their own factories; the lower-case names are the public, seed-compatible API.
never = Never
after_session = AfterSession
on_complete = OnComplete
at_midnight = AtMidnight
from_now = FromNow
from_today = FromToday


def at_datetime(moment: date | datetime) -> AtDatetime:
    """Expire at a fixed moment; a ``date`` means its midnight."""
    if isinstance(moment, datetime):
        return AtDatetime(moment)
    if isinstance(moment, date):
        return AtDatetime(_midnight(moment))
    raise TypeError(f"at_datetime needs a date or datetime, got {type(moment).__name__}")


def weekly(days: str | Iterable[str] = ("monday",)) -> Weekly:
    """Expire at the start of the next listed weekday ('monday', 'Mon', ' mo ' all work)."""
    names = [days] if isinstance(days, str) else list(days)
    found = set()
    for name in names:
        key = name.strip().lower() if isinstance(name, str) else None
        if key not in _WEEKDAY_ALIASES:
            raise ValueError(
                f"Invalid weekday {name!r} in weekly(); valid names: {', '.join(_WEEKDAYS)} "
                "or their 3- or 2-letter forms (e.g. 'mon', 'mo')"
            )
        found.add(_WEEKDAY_ALIASES[key])
    if not found:  # the phrases of both errors are the original library's
        raise ValueError("Must specify at least one weekday, e.g. weekly('monday')")
    return Weekly(tuple(day for day in _WEEKDAYS if day in found))


def monthly(days: int | Iterable[int] = (1,)) -> Monthly:
    """Expire at the start of the next listed day of month; 31 skips months without one."""
    numbers = [days] if isinstance(days, int) else list(days)
    for day in numbers:
        if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 31:
            raise ValueError(f"day of month must be an int from 1 to 31, got {day!r}")
    if not numbers:
        raise ValueError("monthly needs at least one day, e.g. monthly(1)")
    return Monthly(tuple(sorted(set(numbers))))
