"""Which weekly report is due: the latest week loaded to its end (local Monday 00:00), once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from config.model import Config
from reports.publishing import due_week, last_complete_week, publish_weekly_report, report_path
from warehouse.connection import open_warehouse


@pytest.fixture
def config(tmp_path) -> Config:
    return Config.model_validate({
        "timezone": "America/New_York",
        "warehouse": {"path": str(tmp_path / "w.duckdb")}, "staging": str(tmp_path / "s"),
        "brands": [{"name": "Brightwave", "aliases": ["Brightwave"]}],
        "sources": [{"kind": "rss", "name": "n", "url": "https://n.example/f"}],
        "report": {"folder": str(tmp_path / "reports")},
    })


def loaded_until(connection, window_end: datetime) -> None:
    connection.execute(
        "INSERT INTO runs (run_id, source, kind, status, items_fetched, mentions_collected, mentions_matched, "
        "dropped_unmatched, mentions_new, error, warnings, duration_seconds, window_start, window_end, "
        "mentions_seen_before, mentions_deleted) VALUES (?, 'n', 'rss', 'ok', 0, 0, 0, 0, 0, NULL, [], 1.0, ?, ?, 0, 0)",
        [window_end.isoformat(), window_end, window_end],
    )


@pytest.mark.parametrize(("window_end", "week"), [
    (datetime(2026, 11, 9, 4, 59, tzinfo=UTC), "2026-W44"),   # Sunday 23:59 in New York: W45 not over yet
    (datetime(2026, 11, 9, 5, 0, tzinfo=UTC), "2026-W45"),    # Monday 00:00 in New York: W45 loaded to its end
    (datetime(2026, 11, 11, 17, 0, tzinfo=UTC), "2026-W45"),  # Wednesday
])
def test_the_last_complete_week_ends_at_local_monday_midnight(config, window_end, week):
    with open_warehouse(config.warehouse.path) as connection:
        assert last_complete_week(connection, config) is None
        loaded_until(connection, window_end)
        assert last_complete_week(connection, config) == week


def test_a_weeks_report_is_due_once(config):
    with open_warehouse(config.warehouse.path) as connection:
        loaded_until(connection, datetime(2026, 11, 9, 6, tzinfo=UTC))
        assert due_week(connection, config) == "2026-W45"

        files = publish_weekly_report(connection, config, "2026-W45", email=False)

        assert files.html == report_path(config, "2026-W45") and files.html.exists()
        assert due_week(connection, config) is None
