"""The weekly mention report as one self-contained HTML file.

The page is `reports/weekly_report.html`, a Jinja2 template rendered with autoescaping, so every mention
text, title, author and URL is escaped. Links to mentions are kept only when they are http(s) URLs (a
`javascript:` URL from a feed stays plain text). Charts are inline SVG (`reports.charts`). The page has
no script and loads nothing: a Content-Security-Policy forbids every fetch and every script, so it opens
offline, in a mail client's attachment viewer, and prints to PDF as it shows.

Every number in a table carries its raw value in `data-value`, each row its key in `data-key` and each
cell its column in `data-col`, so tests (and scripts) can read the numbers without parsing formatted text.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime
from functools import cache
from importlib.resources import files
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from jinja2 import Environment, StrictUndefined
from markupsafe import Markup

from config.model import REPORT_SECTIONS
from reports.charts import daily_volume_chart, sentiment_chart, series_colour, share_of_voice_chart
from reports.week_summary import week_summary
from reports.weekly import StaffingForecastDay, WeeklyReport

TEMPLATE = "weekly_report.html"
SNIPPET_CHARS = 280


def weekly_report_html(
    report: WeeklyReport, csv_name: str | None = None, sections: Collection[str] = REPORT_SECTIONS
) -> str:
    """The report as an HTML document.

    Args:
        report: the numbers, from `reports.weekly.weekly_report_data`.
        csv_name: the file name of the week's mentions CSV beside it, mentioned in the footer.
        sections: the ids of the sections to show (`config.model.REPORT_SECTIONS`; the config's
            `report.sections`), shown in the report's order.
    """
    zone = ZoneInfo(report.week.timezone)
    brand_names = [row.brand for row in report.volume]
    charts = {
        "volume": daily_volume_chart(report.week.days, [(row.brand, row.daily) for row in report.volume]),
        "share_of_voice": share_of_voice_chart(brand_names, [
            ("By volume", [row.share_by_volume for row in report.share_of_voice]),
            ("By reach", [row.share_by_reach for row in report.share_of_voice]),
            ("By unique authors", [row.share_by_unique_authors for row in report.share_of_voice]),
        ]),
        "sentiment": sentiment_chart(
            [(row.brand, row.negative, row.neutral, row.positive) for row in report.sentiment]
        ),
    }
    not_collected = bool(report.coverage.sources) and report.coverage.state == "not collected"
    summary = week_summary(report)
    template = _environment(zone).from_string(_template_source())
    return template.render(
        report=report,
        week=report.week,
        charts=charts,
        colours={name: series_colour(n) for n, name in enumerate(brand_names)},
        csv_name=csv_name,
        show=frozenset(sections),
        not_collected=not_collected,
        quiet="Not collected this week" if not_collected else "No mentions this week",
        summary=summary,
        volume_changed={point.brand: point.change for point in summary if point.topic in ("volume", "brand")},
        brand_cards=[
            (volume, share, sentiment)
            for volume, share, sentiment in zip(report.volume, report.share_of_voice, report.sentiment, strict=True)
            if volume.role == "brand"
        ],
        staffing_days=sorted({day.day for day in report.staffing.days}) if report.staffing else [],
        staffing_rows=_staffing_rows(report),
    )


def _staffing_rows(report: WeeklyReport) -> list[tuple[str, list[StaffingForecastDay]]]:
    """The staffing plan's days grouped by queue, in the playbook's queue order."""
    rows: dict[str, list[StaffingForecastDay]] = {}
    for day in report.staffing.days if report.staffing else ():
        rows.setdefault(day.queue, []).append(day)
    return list(rows.items())


@cache
def _template_source() -> str:
    return files("reports").joinpath(TEMPLATE).read_text(encoding="utf-8")


def _environment(zone: ZoneInfo) -> Environment:
    environment = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.filters.update(
        number=_number,
        decimal=_decimal,
        percent=_percent,
        change=_change,
        points=_points,
        signed=_signed,
        raw=_raw,
        day=_day,
        local=lambda moment: _local(moment, zone),
        snippet=_snippet,
        web_url=_web_url,
        duration=duration,
        hours=_hours,
    )
    return environment


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def duration(minutes: float | None) -> str:
    """A duration for people: minutes under an hour, hours and minutes under two days, else days.

    >>> duration(45), duration(115), duration(20160)
    ('45 min', '1 h 55 min', '14 days')
    """
    if minutes is None:
        return "–"
    if minutes < 60:
        return f"{minutes:.0f} min"
    if minutes < 48 * 60:
        hours, rest = divmod(round(minutes), 60)
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    days = minutes / (24 * 60)
    return f"{days:.0f} days" if round(days, 1).is_integer() else f"{days:.1f} days"


def _hours(value: float) -> str:
    """Hours, whole when they are."""
    return f"{value:,.0f}" if abs(value - round(value)) < 0.05 else f"{value:,.1f}"


def _decimal(value: float | None, places: int = 1) -> str:
    return "–" if value is None else f"{value:,.{places}f}"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _change(value: float | None) -> Markup:
    """A relative change, e.g. +25%; n/a when the week before had none."""
    if value is None:
        return Markup('<span class="muted" title="no mentions the week before">n/a</span>')
    css = "up" if value > 0 else "down" if value < 0 else "flat"
    return Markup(f'<span class="{css}">{value:+.0%}</span>')


def _points(value: float | None) -> Markup:
    """A change in a share, in percentage points."""
    if value is None:
        return Markup('<span class="muted">–</span>')
    css = "up" if value > 0 else "down" if value < 0 else "flat"
    return Markup(f'<span class="{css}">{value * 100:+.1f} pts</span>')


def _signed(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.2f}"


def _raw(value: object) -> str:
    """A value for a data- attribute: numbers unformatted, None empty, instants in ISO 8601."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.10g}"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _day(value: date) -> str:
    return f"{value:%a} {value.day} {value:%b}"


def _local(moment: datetime | None, zone: ZoneInfo) -> str:
    if moment is None:
        return "–"
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %H:%M %Z}"


def _snippet(text: str | None) -> str:
    collapsed = " ".join((text or "").split())
    return collapsed if len(collapsed) <= SNIPPET_CHARS else collapsed[: SNIPPET_CHARS - 1] + "…"


def _web_url(url: str | None) -> str | None:
    """The URL when it is http(s), else None: a link never runs script."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    return url.strip() if parts.scheme.lower() in ("http", "https") and parts.netloc else None
