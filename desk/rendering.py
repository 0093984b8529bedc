"""How the desk's pages show times, counts and texts: the Jinja environment and its filters.

Every time is shown in the viewer's timezone (their desk setting, else their browser's, else the
config's), with the zone's abbreviation. The SLA clock is time left until the first response is
due, or how long overdue; answered items show when they were answered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True)
class SlaClock:
    """The first-response clock of an item, as the inbox shows it."""

    text: str
    overdue: bool
    answered: bool


def duration(span: timedelta) -> str:
    """A short human duration: 45s, 12m, 3h 05m, 2d 4h."""
    seconds = int(abs(span.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def sla_clock(due_at: datetime, first_response_at: datetime | None, now: datetime) -> SlaClock:
    """Time left until the first response is due, or overdue by how long; or answered (in time or late)."""
    if first_response_at is not None:
        late = first_response_at > due_at
        return SlaClock(f"answered {'late' if late else 'in time'}", overdue=False, answered=True)
    left = due_at - now
    if left.total_seconds() < 0:
        return SlaClock(f"overdue {duration(left)}", overdue=True, answered=False)
    return SlaClock(f"{duration(left)} left", overdue=False, answered=False)


def compact_count(count: int | None) -> str:
    """1234 -> 1.2k, 2500000 -> 2.5M; None -> an en dash."""
    if count is None:
        return "–"
    for size, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "k")):
        if abs(count) >= size:
            return f"{count / size:.1f}".rstrip("0").rstrip(".") + suffix
    return str(count)


def highlight(text: str, terms: tuple[str, ...] | list[str]) -> Markup:
    """The text, HTML-escaped, with each matched brand term marked (case-insensitive)."""
    words = sorted({term for term in terms if term.strip()}, key=len, reverse=True)
    if not words:
        return escape(text)
    pattern = re.compile("|".join(re.escape(word) for word in words), re.IGNORECASE)
    pieces: list[str] = []
    last = 0
    for found in pattern.finditer(text):
        pieces += [str(escape(text[last : found.start()])), f"<mark>{escape(found.group(0))}</mark>"]
        last = found.end()
    pieces.append(str(escape(text[last:])))
    return Markup("".join(pieces))


def local_time(moment: datetime | None, timezone: str, style: str = "%d %b %H:%M") -> str:
    """A time in the viewer's zone, with the zone's abbreviation."""
    if moment is None:
        return "–"
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{local:{style}} {local.tzname()}"


def environment() -> Environment:
    """The Jinja environment of the desk's templates (autoescaped), with the desk's filters."""
    jinja = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    jinja.filters.update(
        duration=duration, compact=compact_count, highlight=highlight, local=local_time,
    )
    jinja.globals.update(sla_clock=sla_clock)
    return jinja
