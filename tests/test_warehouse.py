"""The warehouse load: upserts on natural keys, one transaction with the cursors, safe to repeat."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
import types
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

import warehouse.load
from collectors.source_run import SourceRun
from collectors.units import CollectionUnit, stage_unit
from config.model import Config
from core.enriched_mention import EnrichedMention
from core.mention import Mention
from core.staging import StagingArea
from core.transactions import CommitFailed, transaction
from enrich.pipeline import enrich_unit
from enrich.stories.duckdb_store import DuckDBStoryStore, assign_warehouse_stories
from warehouse.connection import WarehouseLocked, open_warehouse
from warehouse.cursors import read_cursors
from warehouse.load import NOT_MENTION_COLUMNS, STAGED_COLUMNS, load_run
from warehouse.schema import migrate, migrations
from warehouse.snapshot import SnapshotNotPublished
from warehouse.summary import run_summary

WINDOW = (datetime(2026, 11, 2, 9, tzinfo=UTC), datetime(2026, 11, 2, 10, tzinfo=UTC))
NEXT_WINDOW = (datetime(2026, 11, 2, 10, tzinfo=UTC), datetime(2026, 11, 2, 11, tzinfo=UTC))


def article(slug: str, text: str, source: str = "techwire", host: str = "techwire.example") -> Mention:
    return Mention("news", source, slug, f"https://{host}/{slug}?utm_medium=rss", text, title=slug.title(),
                   published_at=datetime(2026, 11, 2, 8, tzinfo=UTC))


def stage_run(config: Config, run_id: str, outcomes: list[SourceRun]) -> list[str]:
    """Stage and enrich one unit holding `outcomes`, as the DAG's collect_and_enrich task does."""
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
        (version, name) for version, name, _ in migrations()
    ]
    assert [name for _, name, _ in migrations()][:7] == [
        "initial", "source_health_and_deletions", "reach_v2", "stories", "social_care", "analyst_views",
        "typed_mention_fields",
    ]


def test_every_field_of_the_enriched_mention_is_loaded_or_excluded_for_a_reason(tmp_path):
    connection = open_warehouse(tmp_path / "w.duckdb")
    connection.execute(f"CREATE TEMP TABLE staged ({', '.join(f'{name} {kind}' for name, kind in STAGED_COLUMNS.items())})")
    types_of = dict(connection.execute(
        "SELECT table_name || '.' || column_name, data_type FROM duckdb_columns() WHERE table_name IN ('staged', 'mentions')"
    ).fetchall())

    assert list(STAGED_COLUMNS) == list(EnrichedMention.row_types())
    assert {
        name: types_of.get(f"mentions.{'mention_key' if name == 'key' else name}")
        for name in STAGED_COLUMNS if name not in NOT_MENTION_COLUMNS
    } == {name: types_of[f"staged.{name}"] for name in STAGED_COLUMNS if name not in NOT_MENTION_COLUMNS}
    assert set(NOT_MENTION_COLUMNS) < set(STAGED_COLUMNS) and all(NOT_MENTION_COLUMNS.values())


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
    # The retry found it done, and the run keeps the count of its first commit.
    assert table(config, "SELECT mentions_deleted FROM runs WHERE run_id = 'run-2'") == [(1,)]
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
    summary = run_summary(config.warehouse.path, "run-13", alert_channels=[])
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


def test_the_mentions_typed_fields_are_loaded_and_a_later_sighting_updates_them(config):
    page = dataclasses.replace(
        article("outage", "Brightwave is down across the north."),
        lang_hint="en-GB", publisher="Techwire", shared_links=["https://status.brightwave.example/incident/7"],
    )
    crosspost = Mention(
        "reddit", "techwire", "t3_b", "https://www.reddit.com/r/UKBroadband/comments/b/", "Brightwave down again?",
        amplifies="reddit:t3_a", community_size=120_000, score_hidden=True, publisher="r/UKBroadband",
    )
    columns = "mention_key, lang_hint, amplifies, shared_links, community_size, score_hidden, publisher"
    load_run(config.warehouse.path, "run-1", WINDOW,
             stage_run(config, "run-1", [SourceRun("techwire", "rss", "ok", mentions=[page, crosspost])]))

    assert table(config, f"SELECT {columns} FROM mentions ORDER BY 1") == [
        ("https://techwire.example/outage", "en-GB", None, ["https://status.brightwave.example/incident/7"], None, False,
         "Techwire"),
        ("reddit:t3_b", None, "reddit:t3_a", [], 120_000, True, "r/UKBroadband"),
    ]

    seen_again = dataclasses.replace(crosspost, community_size=121_500, score_hidden=False)
    load_run(config.warehouse.path, "run-2", NEXT_WINDOW,
             stage_run(config, "run-2", [SourceRun("techwire", "rss", "ok", mentions=[seen_again])]))

    assert table(config, f"SELECT {columns} FROM mentions WHERE mention_key = 'reddit:t3_b'") == [
        ("reddit:t3_b", None, "reddit:t3_a", [], 121_500, False, "r/UKBroadband")
    ]


def test_an_upgraded_warehouse_finds_the_typed_fields_in_extras_and_tells_the_same_stories(tmp_path):
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    connection.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL)")
    for version, name, sql in migrations():
        if version < 7:
            with transaction(connection):
                connection.execute(sql)
                connection.execute("INSERT INTO schema_migrations VALUES (?, ?)", [version, name])
    # As collectors wrote them before the typed fields existed.
    before = [
        ("x:100", "x", {"referenced_tweets": None, "entities": {"urls": []}}),
        ("x:101", "x", {"referenced_tweets": [{"type": "retweeted", "id": "100"}], "retweet_of": "x:100",
                        "entities": {"urls": ["https://techwire.example/outage"]}}),
        ("x:102", "x", {"referenced_tweets": [{"type": "quoted", "id": "100"}],
                        "entities": {"urls": ["https://techwire.example/outage?utm_source=x", {"not": "a url"}]}}),
        ("mastodon:m.s:2", "mastodon", {"instance": "m.s", "reblog_of": "mastodon:m.s:1"}),
        ("bluesky:at://b/3", "bluesky", {"repost_of": "bluesky:at://a/1"}),
        ("reddit:t3_a", "reddit", {"subreddit": "UKBroadband", "subreddit_subscribers": 120000, "over_18": False}),
        ("https://techwire.example/outage", "news", {"feed_title": "Techwire", "tags": []}),
        ("https://news.example/price", "news", {"publisher": "The Daily", "publisher_url": "https://daily.example"}),
        ("https://homefixers.example/post", "blog", {"sitename": "Home Fixers"}),
    ]
    for key, platform, extras in before:
        connection.execute(
            """INSERT INTO mentions (mention_key, platform, source, text, published_at, extras, is_owned, first_run_id,
                                     first_seen_at, last_run_id, last_seen_at)
               VALUES (?, ?, 'old', 'Brightwave is down', ?, ?, false, 'run-0', ?, 'run-0', ?)""",
            [key, platform, WINDOW[0], json.dumps(extras), WINDOW[0], WINDOW[0]],
        )

    assert migrate(connection)[0] == 7

    assert connection.execute(
        "SELECT mention_key, amplifies, shared_links, community_size, score_hidden, publisher FROM mentions ORDER BY 1"
    ).fetchall() == [
        ("bluesky:at://b/3", "bluesky:at://a/1", [], None, False, None),
        ("https://homefixers.example/post", None, [], None, False, "Home Fixers"),
        ("https://news.example/price", None, [], None, False, "The Daily"),
        ("https://techwire.example/outage", None, [], None, False, "Techwire"),
        ("mastodon:m.s:2", "mastodon:m.s:1", [], None, False, None),
        ("reddit:t3_a", None, [], 120_000, False, "r/UKBroadband"),
        ("x:100", None, [], None, False, None),
        ("x:101", "x:100", ["https://techwire.example/outage"], None, False, None),
        ("x:102", None, ["https://x.com/i/web/status/100", "https://techwire.example/outage?utm_source=x"], None, False,
         None),
    ]
    assign_warehouse_stories(connection)
    stories = DuckDBStoryStore(connection).assignments(["x:101", "x:102"])
    assert [(stories[key].story_id, stories[key].reason, stories[key].via) for key in ("x:101", "x:102")] == [
        ("x:100", "retweet", "x:100"), ("x:100", "link", "x:100")
    ]


def test_a_load_that_committed_then_died_publishing_keeps_its_cursors_and_counts_when_retried(config, monkeypatch):
    load_run(config.warehouse.path, "run-1", WINDOW, stage_run(config, "run-1", FIRST_RUN))
    second = [SourceRun("techwire", "rss", "ok", items_fetched=2, cursor={"etag": '"v2"'},
                        deleted_keys=["https://techwire.example/deal"], mentions=[
                            article("outage", "Brightwave is down across the north, customers furious."),
                            article("recovery", "Brightwave says service is back."),
                        ])]
    urls = stage_run(config, "run-2", second)

    def disk_full(*args, **kwargs):
        raise SnapshotNotPublished("the warehouse committed, but its snapshot could not be published: disk full")

    monkeypatch.setattr(warehouse.load, "publish_snapshot", disk_full)
    with pytest.raises(SnapshotNotPublished):
        load_run(config.warehouse.path, "run-2", NEXT_WINDOW, urls)
    monkeypatch.undo()
    counts = "SELECT items_fetched, mentions_matched, mentions_new, mentions_seen_before, mentions_deleted FROM runs"
    assert table(config, f"{counts} WHERE run_id = 'run-2'") == [(2, 2, 1, 1, 1)]
    # The snapshot still says run-1; the next plan must not fetch again what run-2 committed.
    with duckdb.connect(str(Path(config.warehouse.path).with_suffix(".read.duckdb")), read_only=True) as snapshot:
        assert snapshot.execute("SELECT cursor FROM source_cursors WHERE source = 'techwire'").fetchall() == [
            ('{"etag": "\\"v1\\""}',)
        ]
    assert read_cursors(config.warehouse.path)["techwire"] == {"etag": '"v2"'}

    retried = load_run(config.warehouse.path, "run-2", NEXT_WINDOW, urls)  # Airflow retries the task

    assert (retried.mentions_new, retried.mentions_seen_again, retried.mentions_deleted) == (0, 2, 0)
    assert table(config, f"{counts} WHERE run_id = 'run-2'") == [(2, 2, 1, 1, 1)]
    assert table(config, "SELECT count(*) FROM mentions") == [(4,)]


def test_an_older_run_loaded_after_a_newer_one_changes_nothing_the_newer_one_saw(config):
    newer = [SourceRun("techwire", "rss", "ok", items_fetched=1, cursor={"etag": '"v2"'}, mentions=[
        article("outage", "Update: Brightwave restored service; Tidewell offered help."),
    ])]
    load_run(config.warehouse.path, "run-2", NEXT_WINDOW, stage_run(config, "run-2", newer))
    # The older run (a backfill, a late retry) had the first version, and took the post for deleted.
    older = [dataclasses.replace(FIRST_RUN[0], deleted_keys=["https://techwire.example/outage"]), FIRST_RUN[1]]

    load_run(config.warehouse.path, "run-1", WINDOW, stage_run(config, "run-1", older))

    assert table(config, """SELECT text, is_deleted, first_run_id, last_run_id, last_seen_at FROM mentions
                            WHERE mention_key = 'https://techwire.example/outage'""") == [
        ("Update: Brightwave restored service; Tidewell offered help.", False, "run-2", "run-2", NEXT_WINDOW[1])
    ]
    assert table(config, "SELECT brand FROM mention_brands WHERE mention_key = 'https://techwire.example/outage' "
                         "ORDER BY 1") == [("Brightwave",), ("Tidewell",)]
    assert table(config, "SELECT mention_key, first_run_id FROM mentions WHERE mention_key LIKE '%deal'") == [
        ("https://techwire.example/deal", "run-1")
    ]
    assert read_cursors(config.warehouse.path) == {"techwire": {"etag": '"v2"'}, "gazette": {"etag": '"g1"'}}
    assert table(config, "SELECT source, mentions_new, mentions_seen_before, mentions_deleted FROM runs "
                         "WHERE run_id = 'run-1' ORDER BY 1") == [("gazette", 1, 0, 0), ("techwire", 1, 1, 0)]


def test_a_commit_on_a_full_disk_names_the_disk_and_keeps_what_was_there(config, tmp_path):
    load_run(config.warehouse.path, "run-1", WINDOW, stage_run(config, "run-1", FIRST_RUN))
    before = table(config, "SELECT count(*), (SELECT count(*) FROM runs) FROM mentions")
    urls = stage_run(config, "run-2", [SourceRun("techwire", "rss", "ok", items_fetched=1, cursor={"etag": '"v2"'},
                                                 mentions=[article("recovery", "Brightwave says service is back.")])])
    wal = Path(f"{config.warehouse.path}.wal")
    wal.symlink_to("/dev/full")  # every write to the WAL fails with ENOSPC, as on a full disk
    try:
        with pytest.raises(CommitFailed, match="No space left on device") as failed:
            load_run(config.warehouse.path, "run-2", NEXT_WINDOW, urls)
    finally:
        wal.unlink()
    assert "cannot rollback" not in str(failed.value)
    assert table(config, "SELECT count(*), (SELECT count(*) FROM runs) FROM mentions") == before
    assert read_cursors(config.warehouse.path)["techwire"] == {"etag": '"v1"'}

    # A migration on a full disk says so too, and leaves the schema where it was.
    older = tmp_path / "older.duckdb"
    with duckdb.connect(str(older)) as connection:
        connection.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL)")
        for version, name, sql in migrations()[:-1]:
            with transaction(connection):
                connection.execute(sql)
                connection.execute("INSERT INTO schema_migrations VALUES (?, ?)", [version, name])
    Path(f"{older}.wal").symlink_to("/dev/full")
    with pytest.raises(CommitFailed, match="No space left on device"):
        open_warehouse(older)
    Path(f"{older}.wal").unlink()
    with duckdb.connect(str(older), read_only=True) as connection:
        assert connection.execute("SELECT max(version) FROM schema_migrations").fetchone() == (migrations()[-2][0],)


# Another process with the warehouse open for writing (an analyst's session, an agent's action), for argv[2] seconds.
HOLD_THE_FILE = (
    "import duckdb, sys, time; connection = duckdb.connect(sys.argv[1]); print('holding', flush=True); "
    "time.sleep(float(sys.argv[2]))"
)


def hold(path: str, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLD_THE_FILE, path, str(seconds)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
    return holder


def test_a_load_waits_for_another_writer_and_loads_when_it_lets_go(config):
    load_run(config.warehouse.path, "run-1", WINDOW, stage_run(config, "run-1", FIRST_RUN))
    urls = stage_run(config, "run-2", [SourceRun("techwire", "rss", "ok", items_fetched=1, cursor={"etag": '"v2"'},
                                                 mentions=[article("recovery", "Brightwave says service is back.")])])
    holder = hold(config.warehouse.path, 1.0)
    started = time.monotonic()

    result = load_run(config.warehouse.path, "run-2", NEXT_WINDOW, urls)

    assert time.monotonic() - started > 0.5 and holder.wait(timeout=10) == 0
    assert (result.mentions_new, table(config, "SELECT count(*) FROM mentions")) == (1, [(4,)])


def test_a_writer_that_waited_in_vain_names_the_process_holding_the_warehouse(config):
    load_run(config.warehouse.path, "run-1", WINDOW, stage_run(config, "run-1", FIRST_RUN))
    holder = hold(config.warehouse.path, 60)
    try:
        started = time.monotonic()
        with pytest.raises(WarehouseLocked) as locked:
            open_warehouse(config.warehouse.path, lock_wait_seconds=1)
        assert 1 <= time.monotonic() - started < 5
        message = str(locked.value)
        assert f"the warehouse {config.warehouse.path} is held by PID {holder.pid} (" in message
        assert "still was after waiting 1 s" in message and "end it: analysts query the snapshot" in message
        # The plan, meanwhile, reads the cursors of the last published snapshot.
        assert read_cursors(config.warehouse.path, lock_wait_seconds=0.5) == {
            "techwire": {"etag": '"v1"'}, "gazette": {"etag": '"g1"'}
        }
    finally:
        holder.kill()
        holder.wait()


def test_the_run_summary_accounts_for_every_item_fetched(config):
    long_name = "regional-gazette-business-and-technology"
    config = config.model_copy(update={"sources": [*config.sources, config.sources[1].model_copy(update={"name": long_name})]})
    first = [
        # Read 5 items, 2 of them outside the run's window; of the 3 kept, "weather" names no brand.
        dataclasses.replace(FIRST_RUN[0], items_fetched=5),
        # Also syndicates techwire's deal story: a repeat within the run.
        SourceRun(long_name, "rss", "ok", items_fetched=2, mentions=[
            article("press", "Brightwave opens a new office.", source=long_name, host="brightwave.example"),
            article("deal", "Tidewell and Brightwave sign a network sharing deal.", source=long_name),
        ]),
    ]
    load_run(config.warehouse.path, "run-1", WINDOW, stage_run(config, "run-1", first))
    again = [SourceRun("techwire", "rss", "ok", items_fetched=2, cursor={"etag": '"v2"'}, mentions=[
        article("outage", "Update: Brightwave restored service."), article("recovery", "Brightwave is back."),
    ])]
    load_run(config.warehouse.path, "run-2", NEXT_WINDOW, stage_run(config, "run-2", again))

    first_lines = run_summary(config.warehouse.path, "run-1", alert_channels=[]).splitlines()
    assert first_lines[2:5] == [
        "source                                    status  fetched  not kept  unmatched  matched  new  seen before  repeated",
        "regional-gazette-business-and-technology  ok            2         0          0        2    1            0         1",
        "techwire                                  ok            5         2          1        2    2            0         0",
    ]
    assert run_summary(config.warehouse.path, "run-2", alert_channels=[]).splitlines()[2:4] == [
        "source    status  fetched  not kept  unmatched  matched  new  seen before  repeated",
        "techwire  ok            2         0          0        2    1            1         0",
    ]
