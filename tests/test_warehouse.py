"""The warehouse load: upserts on natural keys, one transaction with the cursors, safe to repeat."""

from __future__ import annotations

import types
from datetime import UTC, datetime

import duckdb
import pytest

import warehouse.load
from collectors.source_run import SourceRun
from collectors.units import CollectionUnit, stage_unit
from config.model import Config
from core.mention import Mention
from core.staging import StagingArea
from enrich.pipeline import enrich_unit
from warehouse.connection import open_warehouse
from warehouse.cursors import read_cursors
from warehouse.load import load_run
from warehouse.schema import migrate
from warehouse.summary import run_summary

WINDOW = (datetime(2026, 11, 2, 9, tzinfo=UTC), datetime(2026, 11, 2, 10, tzinfo=UTC))
NEXT_WINDOW = (datetime(2026, 11, 2, 10, tzinfo=UTC), datetime(2026, 11, 2, 11, tzinfo=UTC))


def article(slug: str, text: str, source: str = "techwire", host: str = "techwire.example") -> Mention:
    return Mention("news", source, slug, f"https://{host}/{slug}?utm_medium=rss", text, title=slug.title(),
                   published_at=datetime(2026, 11, 2, 8, tzinfo=UTC))


def stage_run(config: Config, run_id: str, outcomes: list[SourceRun]) -> list[str]:
    """Stage and enrich one unit holding `outcomes`, as the DAG's collect and enrich tasks do."""
    staging = StagingArea(config.staging, run_id)
    unit = CollectionUnit("rss-001", "rss", tuple(outcome.source for outcome in outcomes))
    return [enrich_unit(config, stage_unit(staging, unit, outcomes), staging)]


def table(config: Config, sql: str) -> list[tuple]:
    with duckdb.connect(config.warehouse.path, read_only=True) as connection:
        return connection.execute(sql).fetchall()


FIRST_RUN = [
    SourceRun("techwire", "rss", "ok", items_fetched=3, cursor={"etag": '"v1"'}, mentions=[
        article("outage", "Brightwave is down across the north, customers furious."),
        article("deal", "Tidewell and Brightwave sign a network sharing deal."),
        article("weather", "Bright waves of sunshine all week."),
    ]),
    SourceRun("gazette", "rss", "ok", items_fetched=1, cursor={"etag": '"g1"'}, mentions=[
        article("press", "Brightwave opens a new office.", source="gazette", host="brightwave.example"),
    ]),
]


def test_migrations_apply_once(tmp_path):
    connection = open_warehouse(tmp_path / "w.duckdb")
    assert migrate(connection) == []
    assert connection.execute("SELECT version, name FROM schema_migrations ORDER BY 1").fetchall() == [
        (1, "initial"), (2, "source_health_and_deletions"), (3, "reach_v2"), (4, "stories"), (5, "social_care"), (6, "analyst_views")
    ]


def test_load_records_mentions_brands_runs_and_cursors(config):
    result = load_run(config.warehouse.path, "run-1", WINDOW, stage_run(config, "run-1", FIRST_RUN))

    assert (result.mentions_new, result.mentions_seen_again) == (3, 0)
    assert table(config, "SELECT mention_key, source, is_owned, reach_estimate FROM mentions ORDER BY 1") == [
        ("https://brightwave.example/press", "gazette", True, 5000),
        ("https://techwire.example/deal", "techwire", False, 1000),
        ("https://techwire.example/outage", "techwire", False, 1000),
    ]
    assert table(config, "SELECT mention_key, brand, role FROM mention_brands ORDER BY 1, 2") == [
        ("https://brightwave.example/press", "Brightwave", "brand"),
        ("https://techwire.example/deal", "Brightwave", "brand"),
        ("https://techwire.example/deal", "Tidewell", "competitor"),
        ("https://techwire.example/outage", "Brightwave", "brand"),
    ]
    assert table(config, "SELECT count(*) FROM earned_mentions") == [(2,)]
    assert table(config, "SELECT source, status, items_fetched, mentions_matched, dropped_unmatched, mentions_new FROM runs ORDER BY 1") == [
        ("gazette", "ok", 1, 1, 0, 1),
        ("techwire", "ok", 3, 2, 1, 2),
    ]
    assert read_cursors(config.warehouse.path) == {"techwire": {"etag": '"v1"'}, "gazette": {"etag": '"g1"'}}


def test_loading_twice_doubles_nothing(config):
    urls = stage_run(config, "run-1", FIRST_RUN)
    load_run(config.warehouse.path, "run-1", WINDOW, urls)
    before = table(config, "SELECT * FROM mentions ORDER BY mention_key")

    again = load_run(config.warehouse.path, "run-1", WINDOW, urls)

    assert (again.mentions_new, again.mentions_seen_again) == (0, 3)
    assert table(config, "SELECT * FROM mentions ORDER BY mention_key") == before
    assert table(config, "SELECT count(*) FROM mention_brands") == [(4,)]
    assert table(config, "SELECT count(*) FROM runs") == [(2,)]


def test_a_later_sighting_refreshes_but_keeps_first_seen(config):
    load_run(config.warehouse.path, "run-1", WINDOW, stage_run(config, "run-1", FIRST_RUN))
    edited = SourceRun("techwire", "rss", "ok", items_fetched=1, cursor={"etag": '"v2"'}, mentions=[
        article("outage", "Update: Brightwave restored service; Tidewell offered help."),
    ])
    load_run(config.warehouse.path, "run-2", NEXT_WINDOW, stage_run(config, "run-2", [edited]))

    row = table(config, """SELECT text, first_run_id, first_seen_at, last_run_id, last_seen_at FROM mentions
                           WHERE mention_key = 'https://techwire.example/outage'""")[0]
    assert row[0] == "Update: Brightwave restored service; Tidewell offered help."
    assert row[1:] == ("run-1", WINDOW[1], "run-2", NEXT_WINDOW[1])
    assert table(config, "SELECT brand FROM mention_brands WHERE mention_key = 'https://techwire.example/outage' ORDER BY 1") == [
        ("Brightwave",), ("Tidewell",)
    ]


def test_a_failed_source_keeps_its_cursor_and_the_others_load(config):
    load_run(config.warehouse.path, "run-1", WINDOW, stage_run(config, "run-1", FIRST_RUN))
    second = [
        SourceRun("techwire", "rss", "ok", items_fetched=1, cursor={"etag": '"v2"'},
                  mentions=[article("recovery", "Brightwave says service is back.")]),
        SourceRun.failed("gazette", "rss", "HTTP 500 from https://gazette.example/feed"),
    ]
    load_run(config.warehouse.path, "run-2", NEXT_WINDOW, stage_run(config, "run-2", second))

    assert read_cursors(config.warehouse.path) == {"techwire": {"etag": '"v2"'}, "gazette": {"etag": '"g1"'}}
    assert table(config, "SELECT source, status, error FROM runs WHERE run_id = 'run-2' ORDER BY 1") == [
        ("gazette", "failed", "HTTP 500 from https://gazette.example/feed"),
        ("techwire", "ok", None),
    ]
    assert table(config, "SELECT count(*) FROM mentions") == [(4,)]


def test_a_unit_that_never_arrived_is_recorded_failed(config):
    load_run(config.warehouse.path, "run-1", WINDOW, [], [{"source": "gazette", "kind": "rss", "error": "collect task failed"}])
    assert table(config, "SELECT source, status, error FROM runs") == [("gazette", "failed", "collect task failed")]
    assert read_cursors(config.warehouse.path) == {}


def test_a_crash_mid_load_keeps_nothing_and_the_retry_loads_once(config, monkeypatch):
    load_run(config.warehouse.path, "run-1", WINDOW, stage_run(config, "run-1", FIRST_RUN))
    second = [SourceRun("techwire", "rss", "ok", items_fetched=1, cursor={"etag": '"v2"'},
                        mentions=[article("recovery", "Brightwave says service is back.")])]
    urls = stage_run(config, "run-2", second)

    def crash(*args, **kwargs):
        raise RuntimeError("worker killed")

    # The crash comes after the mentions, brands and run records were written, before the cursor.
    monkeypatch.setattr(warehouse.load, "json", types.SimpleNamespace(dumps=crash))
    with pytest.raises(RuntimeError, match="worker killed"):
        load_run(config.warehouse.path, "run-2", NEXT_WINDOW, urls)
    assert table(config, "SELECT count(*) FROM mentions") == [(3,)]
    assert table(config, "SELECT count(*) FROM runs WHERE run_id = 'run-2'") == [(0,)]
    assert read_cursors(config.warehouse.path)["techwire"] == {"etag": '"v1"'}

    monkeypatch.undo()
    load_run(config.warehouse.path, "run-2", NEXT_WINDOW, urls)
    load_run(config.warehouse.path, "run-2", NEXT_WINDOW, urls)
    assert table(config, "SELECT count(*) FROM mentions") == [(4,)]
    assert table(config, "SELECT count(*) FROM runs WHERE run_id = 'run-2'") == [(1,)]
    assert read_cursors(config.warehouse.path)["techwire"] == {"etag": '"v2"'}


def test_mentions_a_platform_deleted_leave_the_views(config):
    load_run(config.warehouse.path, "run-1", WINDOW, stage_run(config, "run-1", FIRST_RUN))
    volume = "SELECT brand, sum(mentions) FROM daily_volume GROUP BY brand ORDER BY brand"
    before = table(config, volume)
    gone = SourceRun("techwire", "rss", "ok", cursor={"etag": '"v2"'}, deleted_keys=["https://techwire.example/outage"])

    load_run(config.warehouse.path, "run-2", NEXT_WINDOW, stage_run(config, "run-2", [gone]))
    load_run(config.warehouse.path, "run-2", NEXT_WINDOW, stage_run(config, "run-2", [gone]))

    assert table(config, "SELECT is_deleted, deleted_at FROM mentions WHERE mention_key = 'https://techwire.example/outage'") == [
        (True, NEXT_WINDOW[1])
    ]
    assert table(config, "SELECT mention_key FROM earned_mentions ORDER BY 1") == [("https://techwire.example/deal",)]
    assert table(config, "SELECT mentions_deleted FROM runs WHERE run_id = 'run-2'") == [(0,)]  # the retry found it done
    # The daily aggregates behind the analyst views were recomputed for the deleted mention's day.
    assert table(config, volume) == [(brand, count - 1) if brand == "Brightwave" else (brand, count) for brand, count in before]


def test_source_health_flags_broken_silent_failing_and_skipped_sources(config):
    def run(hour: int, *outcomes: SourceRun) -> None:
        window = (datetime(2026, 11, 2, hour - 1, tzinfo=UTC), datetime(2026, 11, 2, hour, tzinfo=UTC))
        load_run(config.warehouse.path, f"run-{hour:02d}", window, stage_run(config, f"run-{hour:02d}", list(outcomes)))

    run(10, *FIRST_RUN)  # both sources produce
    for hour in (11, 12, 13):
        run(hour, SourceRun("techwire", "rss", "empty", cursor={"etag": f'"e{hour}"'}),
            SourceRun.failed("gazette", "rss", "HTTP 500 from https://gazette.example/feed"))
    run(14, SourceRun("bsky", "bluesky", "skipped", error="no credentials"))
    load_run(config.warehouse.path, "run-14", (datetime(2026, 11, 2, 13, tzinfo=UTC), datetime(2026, 11, 2, 14, tzinfo=UTC)), [], [
        {"source": "x-search", "kind": "x", "error": "never worked"}
    ])

    assert table(config, """SELECT source, health, consecutive_failures, consecutive_zero_runs, has_produced
                            FROM source_health ORDER BY source""") == [
        ("bsky", "skipped", 0, 0, False),
        ("gazette", "broken", 3, 0, True),
        ("techwire", "silent", 0, 3, True),
        ("x-search", "failing", 1, 0, False),
    ]
    summary = run_summary(config.warehouse.path, "run-13")
    assert "  gazette used to produce mentions and has failed 3 run(s) in a row; last matching mention 2026-11-02 10:00" in summary
    assert "  techwire has returned nothing for 3 runs in a row; last matching mention 2026-11-02 10:00; check that it still works" in summary


def test_unique_author_reach_counts_each_author_once_per_day(config):
    def post(native_id: str, author: str, followers: int, hour: int) -> Mention:
        return Mention("x", "techwire", native_id, None, "Brightwave is down", author_handle=author,
                       author_followers=followers, published_at=datetime(2026, 11, 2, hour, tzinfo=UTC))

    run = SourceRun("techwire", "rss", "ok", mentions=[
        post("1", "@ann", 1000, 8), post("2", "@ann", 1000, 9), post("3", "@ann", 1200, 10),  # Ann three times
        post("4", "@bob", 300, 9), post("5", "@bob", 300, 23),
    ])
    load_run(config.warehouse.path, "run-1", WINDOW, stage_run(config, "run-1", [run]))

    assert table(config, "SELECT brand, day::VARCHAR, mentions, unique_authors, unique_author_reach, unique_author_reach_high "
                         "FROM daily_unique_author_reach") == [("Brightwave", "2026-11-02", 5, 2, 1500, 300)]
