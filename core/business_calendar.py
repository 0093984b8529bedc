"""Business-hours calendars: when a service-level clock runs, and how far it has run.

A calendar is a timezone, opening hours per weekday and whole-day holidays. A business minute is a
real elapsed minute while the calendar is open, so a day opened 00:00-24:00 holds 23 hours of
business time when the clocks go forward and 25 when they go back. Wall-clock times are read in the
calendar's timezone: a time the clocks skip (02:30 on the morning New York springs forward) happens
when they skip it; a time that happens twice (01:30 on the morning London falls back) counts the
first time.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import NamedTuple

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
OPEN_ALL_HOURS = "24/7"
_MINUTES_PER_DAY = 24 * 60
_INTERVAL = re.compile(r"(\d\d):(\d\d)\s*-\s*(\d\d):(\d\d)")
_LOOSE_TIME = r"(\d{1,2})(?:[:.h]?(\d\d))?\s*(am|pm)?"
_LOOSE_INTERVAL = re.compile(rf"{_LOOSE_TIME}\s*(?:-|\u2013|\u2014|to)\s*{_LOOSE_TIME}", re.IGNORECASE)
_EXAMPLE = "'09:00-17:30'"


class OpeningInterval(NamedTuple):
    """Open from `opens` until `closes`, both in minutes after local midnight (`closes` may be 1440, i.e. 24:00)."""

    opens: int
    closes: int

    def __str__(self) -> str:
        return f"{_clock(self.opens)}-{_clock(self.closes)}"


@dataclass(frozen=True)
class BusinessCalendar:
    """When the service-level clock runs.

    Attributes:
        timezone: IANA timezone name the opening hours and holidays are read in.
        hours: opening intervals for each weekday, Monday first (index = `date.weekday()`), each day's
            intervals sorted and not overlapping; an empty tuple is a closed day.
        holidays: local dates on which the calendar stays closed all day.
    """

    timezone: str
    hours: tuple[tuple[OpeningInterval, ...], ...]
    holidays: frozenset[date] = frozenset()
    _zone: zoneinfo.ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        problems = _structure_problems(self.timezone, self.hours)
        if problems:
            raise ValueError("; ".join(problems))
        object.__setattr__(self, "_zone", zoneinfo.ZoneInfo(self.timezone))

    @classmethod
    def from_settings(
        cls,
        *,
        timezone: str,
        hours: str | Mapping[str, str | Sequence[str] | None],
        holidays: Iterable[str | date] = (),
    ) -> BusinessCalendar:
        """Build a calendar from config values.

        Args:
            timezone: IANA name such as "Europe/London".
            hours: "24/7", or days ("mon" .. "sun") to lists of "HH:MM-HH:MM" intervals (a single string
                is one interval; "24:00" closes at midnight). Days left out, empty or null are closed.
            holidays: "YYYY-MM-DD" strings (or dates, as YAML reads unquoted ones) closed all day.

        Returns:
            The calendar.

        Raises:
            ValueError: the problems found, each naming its key (`hours.mon[0]`, `holidays[2]`, ...) and the fix;
                overlapping intervals and a week with no opening hours are reported once the rest parses.
        """
        problems: list[str] = []
        week: list[tuple[OpeningInterval, ...]] = []
        if hours == OPEN_ALL_HOURS:
            week = [(OpeningInterval(0, _MINUTES_PER_DAY),)] * len(WEEKDAYS)
        elif isinstance(hours, Mapping):
            problems += [_unknown_day(day) for day in hours if day not in WEEKDAYS]
            for day in WEEKDAYS:
                intervals, day_problems = _parse_day(day, hours.get(day))
                week.append(intervals)
                problems += day_problems
        else:
            problems.append(
                f"hours: expected '{OPEN_ALL_HOURS}' or days (mon .. sun) mapped to lists like [{_EXAMPLE}], "
                f"got {hours!r}"
            )
        closed_days, holiday_problems = _parse_holidays(holidays)
        problems += holiday_problems
        if problems:
            raise ValueError("; ".join(filter(None, [*problems, _timezone_problem(timezone)])))
        return cls(timezone=timezone, hours=tuple(week), holidays=closed_days)

    def is_open(self, at: datetime) -> bool:
        """Whether the calendar is open at an instant.

        Args:
            at: a timezone-aware instant, in any timezone.

        Returns:
            True when `at` falls in an opening interval (opening time included, closing time not).
        """
        at = _as_utc(at, "at")
        return any(opens <= at < closes for opens, closes in self._spans(at, days=2))

    def due_at(self, start: datetime, minutes: float) -> datetime:
        """The instant `minutes` business minutes after `start`.

        Args:
            start: a timezone-aware instant, in any timezone; if the calendar is closed then, the clock
                starts at the next opening.
            minutes: business minutes to count, 0 or more.

        Returns:
            The instant in UTC. A count that ends exactly at a closing time returns that closing time;
            0 minutes from a closed instant returns the next opening.
        """
        start = _as_utc(start, "start")
        if minutes < 0:
            raise ValueError(f"minutes must be 0 or more, got {minutes}")
        remaining = timedelta(minutes=minutes)
        if self.is_always_open:
            return start + remaining
        for opens, closes in self._spans(start):
            if closes <= start:
                continue
            begin = max(opens, start)
            if remaining <= closes - begin:
                return begin + remaining
            remaining -= closes - begin
        raise AssertionError("unreachable: _spans never ends")

    def business_minutes_between(self, start: datetime, end: datetime) -> float:
        """Business minutes that elapse from `start` to `end`.

        Args:
            start: a timezone-aware instant, in any timezone.
            end: a timezone-aware instant, in any timezone.

        Returns:
            The open time between them in minutes; 0 when `end` is not after `start`.
        """
        start, end = _as_utc(start, "start"), _as_utc(end, "end")
        if end <= start:
            return 0.0
        if self.is_always_open:
            return (end - start) / timedelta(minutes=1)
        elapsed = timedelta()
        for opens, closes in self._spans(start):
            if opens >= end:
                break
            elapsed += max(timedelta(), min(closes, end) - max(opens, start))
        return elapsed / timedelta(minutes=1)

    @property
    def is_always_open(self) -> bool:
        """Open every minute of every day: business time is plain elapsed time."""
        return not self.holidays and all(day == (OpeningInterval(0, _MINUTES_PER_DAY),) for day in self.hours)

    def _spans(self, near: datetime, days: int | None = None) -> Iterator[tuple[datetime, datetime]]:
        """Opening intervals as UTC instants, in time order, for `days` local days from `near`'s.

        None of the day before can still be open at `near`: it closes by the instant its next day begins.
        Without `days` the spans go on forever; closed stretches longer than any the calendar allows raise
        ValueError.
        """
        first_day = near.astimezone(self._zone).date()
        longest_closed_stretch = len(self.holidays) + 2 * len(WEEKDAYS)
        closed_days = 0
        offset = 0
        while days is None or offset < days:
            local_day = first_day + timedelta(days=offset)
            offset += 1
            opened = False
            if local_day not in self.holidays:
                for interval in self.hours[local_day.weekday()]:
                    opens, closes = self._instant(local_day, interval.opens), self._instant(local_day, interval.closes)
                    if opens < closes:
                        opened = True
                        yield opens, closes
            closed_days = 0 if opened else closed_days + 1
            if closed_days > longest_closed_stretch:
                raise ValueError(
                    f"calendar {self.timezone} has no opening hours in the {closed_days} days to {local_day}"
                )

    def _instant(self, local_day: date, minute: int) -> datetime:
        """The UTC instant the wall clock first reads `minute` past midnight on `local_day` (or later, if skipped)."""
        wall = datetime.combine(local_day, time()) + timedelta(minutes=minute)
        instant = wall.replace(tzinfo=self._zone).astimezone(UTC)
        shown = instant.astimezone(self._zone).replace(tzinfo=None)
        if shown == wall:
            return instant
        # The clocks skip `wall`: find the second they jump, somewhere within the skipped stretch before `instant`.
        earliest, latest = instant - (shown - wall), instant
        while latest - earliest > timedelta(seconds=1):
            middle = earliest + (latest - earliest) / 2
            if middle.astimezone(self._zone).replace(tzinfo=None) >= wall:
                latest = middle
            else:
                earliest = middle
        return latest.replace(microsecond=0)


def _structure_problems(timezone: str, hours: tuple[tuple[OpeningInterval, ...], ...]) -> list[str]:
    timezone_problem = _timezone_problem(timezone)
    problems = [timezone_problem] if timezone_problem else []
    if len(hours) != len(WEEKDAYS):
        return [*problems, f"hours: expected {len(WEEKDAYS)} days, Monday first, got {len(hours)}"]
    for day, intervals in zip(WEEKDAYS, hours, strict=True):
        for index, interval in enumerate(intervals):
            if not 0 <= interval.opens < interval.closes <= _MINUTES_PER_DAY:
                problems.append(f"hours.{day}[{index}]: {interval.opens}-{interval.closes} is not a span of minutes "
                                f"within 0-{_MINUTES_PER_DAY}")
        for earlier, later in pairwise(intervals):
            if later.opens < earlier.closes:
                merged = OpeningInterval(min(earlier.opens, later.opens), max(earlier.closes, later.closes))
                problems.append(f"hours.{day}: '{earlier}' and '{later}' overlap or are out of order; "
                                f"list them in order, or merge them into '{merged}'")
    if not any(hours):
        problems.append(f"hours: no opening hours on any day; give e.g. mon: [{_EXAMPLE}], or '{OPEN_ALL_HOURS}'")
    return problems


def _timezone_problem(timezone: str) -> str | None:
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        return f"timezone: unknown timezone {timezone!r}; use an IANA name such as 'Europe/London'"
    return None


def _parse_day(day: str, value: str | Sequence[str] | None) -> tuple[tuple[OpeningInterval, ...], list[str]]:
    if value is None:
        return (), []
    if isinstance(value, str):
        value = [value]
    elif not isinstance(value, Sequence):
        return (), [f"hours.{day}: expected a list of intervals like [{_EXAMPLE}], got {value!r}"]
    intervals: list[OpeningInterval] = []
    problems: list[str] = []
    for index, text in enumerate(value):
        try:
            intervals.append(_parse_interval(text))
        except ValueError as problem:
            problems.append(f"hours.{day}[{index}]: {problem}")
    return tuple(sorted(intervals)), problems


def _parse_interval(text: object) -> OpeningInterval:
    if not isinstance(text, str):
        raise ValueError(f"expected a string like {_EXAMPLE}, got {text!r}")
    match = _INTERVAL.fullmatch(text.strip())
    if not match:
        suggestion = _suggest_interval(text)
        fix = f"write '{suggestion}'" if suggestion else f"write it like {_EXAMPLE}"
        raise ValueError(f"{text!r} is not HH:MM-HH:MM, {fix}")
    opens_hour, opens_minute, closes_hour, closes_minute = (int(part) for part in match.groups())
    if opens_hour > 23 or closes_hour > 24 or opens_minute > 59 or closes_minute > 59 or (
        closes_hour == 24 and closes_minute
    ):
        raise ValueError(f"{text!r} is not a time of day; hours run 00:00 to 23:59, and 24:00 can close")
    interval = OpeningInterval(opens_hour * 60 + opens_minute, closes_hour * 60 + closes_minute)
    if interval.opens == interval.closes:
        raise ValueError(f"{text!r} opens and closes at once; leave it out, or write '00:00-24:00' for all day")
    if interval.closes < interval.opens:
        raise ValueError(
            f"{text!r} closes before it opens; an interval cannot cross midnight, write "
            f"'{_clock(interval.opens)}-24:00' on this day and '00:00-{_clock(interval.closes)}' on the next"
        )
    return interval


def _suggest_interval(text: str) -> str | None:
    """The HH:MM-HH:MM form of a loosely written interval ('9am-5pm', '9.30 to 17'), when it is unambiguous."""
    match = _LOOSE_INTERVAL.fullmatch(text.strip())
    if not match:
        return None
    minutes = []
    for hour, minute, meridiem in (match.groups()[:3], match.groups()[3:]):
        if meridiem and not 1 <= int(hour) <= 12:
            return None
        hour_of_day = int(hour) % 12 + (12 if meridiem.lower() == "pm" else 0) if meridiem else int(hour)
        minutes.append(hour_of_day * 60 + int(minute or 0))
    opens, closes = minutes
    if not opens < closes <= _MINUTES_PER_DAY:
        return None
    return str(OpeningInterval(opens, closes))


def _parse_holidays(holidays: Iterable[str | date]) -> tuple[frozenset[date], list[str]]:
    if isinstance(holidays, (str, date)):
        return frozenset(), [f"holidays: expected a list of dates like ['2026-12-25'], got {holidays!r}"]
    days: set[date] = set()
    problems: list[str] = []
    for index, value in enumerate(holidays):
        day = _holiday(value)
        if day is None:
            problems.append(f"holidays[{index}]: {value!r} is not a date; write dates as YYYY-MM-DD, e.g. '2026-12-25'")
        else:
            days.add(day)
    return frozenset(days), problems


def _holiday(value: object) -> date | None:
    if isinstance(value, datetime):
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\d", value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _unknown_day(key: object) -> str:
    guess = str(key).strip().lower()[:3]
    hint = f"write '{guess}'; " if guess in WEEKDAYS and str(key).strip().lower() != guess else ""
    return f"hours.{key}: not a day of the week; {hint}days are {', '.join(WEEKDAYS)}"


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _as_utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment.isoformat()}; attach a timezone such as UTC")
    return moment.astimezone(UTC)


ALWAYS_OPEN = BusinessCalendar.from_settings(timezone="UTC", hours=OPEN_ALL_HOURS)
"""Open every minute: the service-level clock for queues without a calendar."""
