"""`overheard themes`: (re)compute the themes of chosen weeks and print them.

    overheard themes --config C                          # the last complete week
    overheard themes --config C --week 2026-W45 --weeks 4  # 2026-W42 to 2026-W45, oldest first

The pipeline recomputes the weeks each run touches; this command fills weeks before the first run that had
themes (each week is compared with the one before, so give enough weeks to start from), or recomputes weeks
after a change of method. It writes the warehouse (`themes`, `mention_themes`) and publishes the snapshot.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from config import Config

if TYPE_CHECKING:
    from warehouse.themes import ThemeWeek


def add_themes_command(commands: argparse._SubParsersAction) -> None:
    """Add `themes` to the `overheard` parser."""
    themes = commands.add_parser("themes", help="(re)compute the themes of ISO weeks and print them")
    themes.add_argument("--config", required=True, type=Path, help="the config file")
    themes.add_argument("--week", help="the last ISO week to compute, e.g. 2026-W45 (default: the last complete one)")
    themes.add_argument("--weeks", type=int, default=1, help="how many weeks, ending with --week (default 1)")


def run_themes_command(config: Config, arguments: argparse.Namespace) -> int:
    """Compute the weeks' themes, publish the snapshot and print each brand's themes; returns the exit status."""
    from reports.publishing import last_complete_week
    from warehouse.connection import open_warehouse
    from warehouse.snapshot import publish_snapshot
    from warehouse.themes import refresh_themes  # scikit-learn: imported only when themes are computed

    if arguments.weeks < 1:
        print("--weeks: give 1 or more", file=sys.stderr)
        return 2
    with open_warehouse(config.warehouse.path, config.warehouse.memory_limit) as connection:
        last = arguments.week or last_complete_week(connection, config)
        if last is None:
            print("No complete week has been loaded yet; give --week", file=sys.stderr)
            return 1
        try:
            weeks = _weeks(last, arguments.weeks, config.timezone)
        except ValueError as error:
            print(error, file=sys.stderr)
            return 2
        refresh_themes(connection, weeks)
        publish_snapshot(connection, config.warehouse.path, "overheard themes")
        rows = connection.execute(
            """SELECT week, brand, rank, label, mentions, previous_mentions, status FROM weekly_themes
               WHERE week IN (SELECT unnest(?::VARCHAR[])) ORDER BY week_start, brand, rank""",
            [[week.label for week in weeks]],
        ).fetchall()
    for week in weeks:
        listed = [row for row in rows if row[0] == week.label]
        print(f"{week.label}: {len(listed)} themes")
        for _, brand, rank, label, mentions, previous, status in listed:
            print(f"  {brand} #{rank} {label}: {mentions:,} mentions ({status}; {previous:,} the week before)")
    return 0


def _weeks(last: str, count: int, timezone: str) -> list[ThemeWeek]:
    """`count` ISO weeks ending with `last`, oldest first."""
    from reports.weeks import iso_week_label, report_week
    from warehouse.themes import ThemeWeek

    final = report_week(last, timezone)
    weeks = []
    for back in range(count - 1, -1, -1):
        week = report_week(iso_week_label(final.days[0] - timedelta(weeks=back)), timezone)
        weeks.append(ThemeWeek(week.label, week.start, week.end))
    return weeks
