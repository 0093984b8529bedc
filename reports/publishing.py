"""Which week's report is due, and producing it: render, then email when the config asks for it.

The `weekly_mention_report` DAG runs after every load (it is scheduled on the warehouse asset) and
asks `due_week`: the latest ISO week, in the configured timezone, that the loads have covered to
its end (a run's data interval reached local Monday 00:00 after it), if its report is not in the
report folder yet. So the report of a week is rendered once, on Monday, after the week's last load.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from config.model import Config
from reports.delivery import email_report
from reports.render import ReportFiles, render_weekly_report, report_stem
from reports.weeks import iso_week_label, report_week


def due_week(connection: duckdb.DuckDBPyConnection, config: Config) -> str | None:
    """The ISO week whose report is due, or None (no complete week loaded, or its report exists)."""
    week = last_complete_week(connection, config)
    return None if week is None or report_path(config, week).exists() else week


def last_complete_week(connection: duckdb.DuckDBPyConnection, config: Config) -> str | None:
    """The latest ISO week (in the config's timezone) that the loads have covered to its end, or None."""
    [(latest,)] = connection.execute("SELECT max(window_end) FROM runs").fetchall()
    if latest is None:
        return None
    local_day = latest.astimezone(ZoneInfo(config.timezone)).date()
    # The last local Monday 00:00 at or before the latest load ends the latest complete week.
    last_monday = local_day - timedelta(days=local_day.weekday())
    return iso_week_label(last_monday - timedelta(days=1))


def report_path(config: Config, week: str) -> Path:
    """Where the HTML report of `week` is written (as `render_weekly_report` names it)."""
    return Path(config.report.folder) / f"{report_stem(report_week(week, config.timezone).label)}.html"


def publish_weekly_report(
    connection: duckdb.DuckDBPyConnection, config: Config, week: str, *, email: bool
) -> ReportFiles:
    """Render the report of `week` into the report folder and, when `email` and the config has
    `report.email`, send it."""
    files = render_weekly_report(connection, config, week, Path(config.report.folder), pdf=config.report.pdf)
    if email and config.report.email:
        settings = config.report.email
        email_report(files, smtp_conn_id=settings.connection, to=settings.to, from_address=settings.from_address,
                     subject=f"Overheard weekly mention report, {week}")
    return files
