"""ISO weeks in the configured time zone: a report's week runs from local Monday 00:00 to the next Monday 00:00.

A week is named like `2026-W45` (ISO 8601: weeks start on Monday, and week 1 is the one with the
year's first Thursday). Its bounds are UTC instants, so a week in which the clocks change is 167 or
169 hours long, and a mention at 23:30 local time on Sunday belongs to the week that is ending.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

_WEEK_PATTERN = re.compile(r"(\d{4})-W(\d{2})")


@dataclass(frozen=True)
class ReportWeek:
    """One ISO week in a time zone, and the week before it.

    Attributes:
        label: the ISO week, e.g. "2026-W45".
        timezone: the IANA time zone its days are in.
        start: local Monday 00:00, as a UTC instant.
        end: the next local Monday 00:00, as a UTC instant (not in the week).
        days: its seven local days, Monday first.
        previous_label: the ISO week before, e.g. "2026-W44".
        previous_start: that week's local Monday 00:00, as a UTC instant (it ends at `start`).
    """

    label: str
    timezone: str
    start: datetime
    end: datetime
    days: tuple[date, ...]
    previous_label: str
    previous_start: datetime

    @property
    def next_monday(self) -> date:
        """The first local day of the week after: the week the staffing forecast is for."""
        return self.days[0] + timedelta(weeks=1)


def iso_week_bounds(week: str, timezone: str) -> tuple[datetime, datetime]:
    """The UTC instants of local Monday 00:00 of an ISO week and of the Monday after.

    Args:
        week: an ISO week such as "2026-W45".
        timezone: an IANA time zone name, e.g. "Europe/London".

    Returns:
        (start, end), timezone-aware in UTC; the week is start <= t < end.

    Raises:
        ValueError: the week is not an ISO week of that year, or the time zone is unknown.
    """
    monday = _monday(week)
    zone = _zone(timezone)
    return _local_midnight(monday, zone), _local_midnight(monday + timedelta(weeks=1), zone)


def report_week(week: str, timezone: str) -> ReportWeek:
    """An ISO week with its local days and the week before it.

    Args:
        week: an ISO week such as "2026-W45".
        timezone: an IANA time zone name.

    Raises:
        ValueError: as `iso_week_bounds`.
    """
    monday = _monday(week)
    zone = _zone(timezone)
    previous_monday = monday - timedelta(weeks=1)
    return ReportWeek(
        label=iso_week_label(monday),
        timezone=timezone,
        start=_local_midnight(monday, zone),
        end=_local_midnight(monday + timedelta(weeks=1), zone),
        days=tuple(monday + timedelta(days=offset) for offset in range(7)),
        previous_label=iso_week_label(previous_monday),
        previous_start=_local_midnight(previous_monday, zone),
    )


def iso_week_label(day: date) -> str:
    """The ISO week a local day is in, e.g. date(2026, 11, 1) → "2026-W44"."""
    year, number, _ = day.isocalendar()
    return f"{year}-W{number:02d}"


def iso_week_of(moment: datetime, timezone: str) -> str:
    """The ISO week that a (timezone-aware) instant falls in, in a time zone.

    A DAG run on Monday reports the week before its run: `iso_week_of(data_interval_start, tz)` for a
    run whose data interval is that week.

    Raises:
        ValueError: the instant is naive, or the time zone is unknown.
    """
    if moment.tzinfo is None:
        raise ValueError(f"expected a timezone-aware instant, got {moment.isoformat()}")
    return iso_week_label(moment.astimezone(_zone(timezone)).date())


def _monday(week: str) -> date:
    match = _WEEK_PATTERN.fullmatch(week.strip().upper()) if isinstance(week, str) else None
    if match is None:
        raise ValueError(f"{week!r} is not an ISO week; write it like 2026-W45")
    year, number = int(match[1]), int(match[2])
    try:
        return date.fromisocalendar(year, number, 1)
    except ValueError:
        raise ValueError(f"{week!r} is not an ISO week: {year} has weeks 01 to {_weeks_in(year):02d}") from None


def _weeks_in(year: int) -> int:
    return date(year, 12, 28).isocalendar()[1]


def _zone(timezone: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {timezone!r}; use an IANA name such as 'Europe/London'") from None


def _local_midnight(day: date, zone: zoneinfo.ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)
