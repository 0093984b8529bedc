"""Bluesky through Jetstream: the collector against the fake Jetstream (demo/fake_apis/jetstream.py), a real
websocket server on 127.0.0.1 speaking Jetstream's frames, read by the real websockets client."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pytest

from collectors.bluesky_jetstream import collect_bluesky_jetstream
from collectors.context import CollectionContext
from collectors.source_run import SourceRun
from collectors.units import collect_unit, plan_units, stage_unit
from config.model import BlueskyJetstreamSource, BrandConfig, Config, HttpSettings
from core.staging import StagingArea
from demo.fake_apis.jetstream import FakeJetstream, background_posts, post_event, repost_event, to_us
from enrich.pipeline import enrich_unit
from transport.http import HttpClient
from warehouse.cursors import read_cursors
from warehouse.load import load_run

START = datetime(2026, 11, 2, 11, tzinfo=UTC)
END = START + timedelta(hours=1)
BRANDS = (
    BrandConfig(name="Brightwave", aliases=["Brightwave"], hashtags=["#brightwavedown"]),
    BrandConfig(name="Skylark Fibre", query='"Skylark Fibre" AND NOT lang:de'),
)
ALICE, BOB, CAROL = "did:plc:alice", "did:plc:bob", "did:plc:carol"


def at(seconds: float) -> int:
    """time_us `seconds` after the window's start."""
    return to_us(START) + round(seconds * 1_000_000)


def uri(did: str, rkey: str, collection: str = "app.bsky.feed.post") -> str:
    return f"at://{did}/{collection}/{rkey}"


def brand_events() -> list[dict[str, Any]]:
    """Posts about the brands among the background: a post, a reply quoting it, a repost of it, a competitor's
    post, one in German (its query leaves it out), one deleted again, and one after the window's end."""
    return [
        post_event(ALICE, "3a1", "Brightwave is down again in Leeds #brightwavedown", at(100)),
        post_event(BOB, "3b1", "Same here, Brightwave support says an hour", at(200),
                   reply={"root": {"uri": uri(ALICE, "3a1"), "cid": "c"}, "parent": {"uri": uri(ALICE, "3a1"), "cid": "c"}},
                   embed={"$type": "app.bsky.embed.record", "record": {"uri": uri(ALICE, "3a1"), "cid": "c"}}),
        repost_event(CAROL, "3c1", uri(ALICE, "3a1"), at(300)),
        post_event(CAROL, "3c2", "Skylark Fibre finally fitted our line", at(400)),
        post_event(CAROL, "3c3", "Skylark Fibre ist endlich da", at(500), langs=("de",)),
        post_event(BOB, "3b2", "Brightwave, I take it back", at(600)),
        post_event(BOB, "3b2", "", at(700), operation="delete"),
        post_event(ALICE, "3a9", "Brightwave after the window", at(3600 + 30)),
    ]


@pytest.fixture
def jetstream() -> Iterator[FakeJetstream]:
    with FakeJetstream() as server:
        server.publish(sorted(background_posts(START - timedelta(minutes=10), END + timedelta(minutes=5), 3_000)
                              + brand_events(), key=lambda event: event["time_us"]))
        yield server


def source_for(server: FakeJetstream, **settings: Any) -> BlueskyJetstreamSource:
    return BlueskyJetstreamSource(kind="bluesky_jetstream", name="jetstream", url=server.url, **settings)


def collect(
    source: BlueskyJetstreamSource, cursor: dict[str, Any] | None = None, window: tuple[datetime, datetime] = (START, END),
    budget: float = 60.0, **http: Any,
) -> SourceRun:
    context = CollectionContext(HttpClient(HttpSettings(backoff_seconds=0.05, **http)), BRANDS, window,
                                time_budget_seconds=budget)
    return collect_bluesky_jetstream(source, cursor, context)


def in_window(server: FakeJetstream, start: datetime = START, end: datetime = END) -> list[dict[str, Any]]:
    """The post and repost records the fake holds in the window (deletes are none): the posts a run reads."""
    return [event for event in server.published() if to_us(start) <= event["time_us"] < to_us(end)
            and event["kind"] == "commit" and event["commit"]["operation"] != "delete"]


def test_a_run_keeps_the_posts_that_name_a_brand_with_their_links_and_the_cursor(jetstream: FakeJetstream) -> None:
    run = collect(source_for(jetstream))

    assert run.status == "ok", run.error
    by_id = {str(mention.native_id): mention for mention in run.mentions}
    assert sorted(by_id) == sorted([uri(ALICE, "3a1"), uri(BOB, "3b1"), uri(CAROL, "3c1", "app.bsky.feed.repost"),
                                    uri(CAROL, "3c2")])
    reply = by_id[uri(BOB, "3b1")]
    assert reply.parent_id == reply.thread_id == f"bluesky:{uri(ALICE, '3a1')}"
    assert reply.shared_links == ["https://bsky.app/profile/did:plc:alice/post/3a1"]
    repost = by_id[uri(CAROL, "3c1", "app.bsky.feed.repost")]
    assert repost.amplifies == f"bluesky:{uri(ALICE, '3a1')}"
    assert repost.text == "Brightwave is down again in Leeds #brightwavedown"
    assert by_id[uri(ALICE, "3a1")].url == "https://bsky.app/profile/did:plc:alice/post/3a1"
    assert by_id[uri(ALICE, "3a1")].published_at == START + timedelta(seconds=100)
    assert run.deleted_keys == [f"bluesky:{uri(BOB, '3b2')}"]
    assert run.items_fetched == len(in_window(jetstream))
    last = [event for event in jetstream.published() if event["time_us"] < to_us(END)][-1]
    assert run.cursor is not None and run.cursor["time_us"] == last["time_us"] and len(run.cursor["at_cursor"]) == 1
    assert run.asked == [("stream app.bsky.feed.post, app.bsky.feed.repost from 2026-11-02 11:00:00 UTC to "
                         "2026-11-02 12:00:00 UTC")]
    assert run.left_out == [] and run.warnings == []
    assert jetstream.subscriptions == [{"wantedCollections": ["app.bsky.feed.post", "app.bsky.feed.repost"],
                                        "cursor": [str(to_us(START) - 1)]}]

    # The next hour resumes at the cursor: nothing of the first hour again, the post after it found.
    later = collect(source_for(jetstream, idle_seconds=0.5), run.cursor, window=(END, END + timedelta(hours=1)))
    assert jetstream.subscriptions[-1]["cursor"] == [str(run.cursor["time_us"])]
    assert [mention.native_id for mention in later.mentions] == [uri(ALICE, "3a9")]
    assert later.items_fetched == len(in_window(jetstream, END, END + timedelta(hours=1)))


def test_a_dropped_connection_resumes_at_the_last_event_processed(jetstream: FakeJetstream) -> None:
    # Two events at one microsecond, the connection dropped between them: the second is read once, after.
    jetstream.publish([post_event(ALICE, "3t1", "Brightwave one", at(1000)), post_event(BOB, "3t2", "Brightwave two", at(1000))])
    sent_before = sum(1 for event in jetstream.published() if to_us(START) - 1 <= event["time_us"] < at(1000))
    jetstream.drop_next_connection(after=sent_before + 1)  # the first of the two sent, then the socket closed
    jetstream.drop_next_connection(after=5)

    run = collect(source_for(jetstream))

    assert run.status == "ok"
    ids = [mention.native_id for mention in run.mentions]
    assert len(ids) == len(set(ids))
    assert {uri(ALICE, "3t1"), uri(BOB, "3t2"), uri(ALICE, "3a1"), uri(CAROL, "3c2")} <= set(ids)
    assert run.items_fetched == len(in_window(jetstream))
    assert [subscription["cursor"] for subscription in jetstream.subscriptions][1] == [str(at(1000))]
    assert len(jetstream.subscriptions) == 3
    assert "reconnected 2 times; resumed each time at the last event processed" in run.warnings
    assert run.left_out == []


def test_malformed_frames_are_skipped_and_reported(jetstream: FakeJetstream) -> None:
    jetstream.publish_frame(at(50), "this is not json")
    jetstream.publish_frame(at(51), '{"kind": "commit", "did": "did:plc:x"}')
    jetstream.publish_frame(at(52), b"\x28\xb5\x2f\xfd compressed")
    jetstream.publish_frame(at(53), f'{{"did": "did:plc:x", "time_us": {at(53)}, "kind": "commit", '
                                    '"commit": {"operation": "create"}}')

    run = collect(source_for(jetstream))

    assert run.status == "ok"
    assert len(run.mentions) == 4
    assert len(run.warnings) == 1
    assert run.warnings[0].startswith("4 malformed frames skipped (the first: not JSON")
    assert "no time_us (unix microseconds)" in run.warnings[0]
    assert "a binary frame of 15 bytes" in run.warnings[0]


def test_the_window_beyond_retention_and_a_late_start_are_left_out(jetstream: FakeJetstream) -> None:
    # Configured: 1 hour back from the window's end. Asked from 2 hours back: the first hour is beyond it.
    # The instance itself kept only from 11:05: the five minutes before are a gap, seen when the stream starts.
    jetstream.retain_from(START + timedelta(minutes=5))
    run = collect(source_for(jetstream, retention_hours=1, gap_seconds=30), window=(START - timedelta(hours=1), END))

    assert run.left_out[0] == ("posts from 2026-11-02 10:00:00 UTC to 2026-11-02 11:00:00 UTC: beyond the stream's "
                               "retention (1 h before the window's end)")
    assert run.left_out[1].startswith("posts from 2026-11-02 10:59:59 UTC to 2026-11-02 11:05:0")
    assert run.left_out[1].endswith("the stream started there, later than asked (beyond the instance's retention, "
                                    "or a gap in its record)")
    assert len(run.left_out) == 2
    assert run.asked == [("stream app.bsky.feed.post, app.bsky.feed.repost from 2026-11-02 11:00:00 UTC to "
                         "2026-11-02 12:00:00 UTC")]
    first_kept = min(event["time_us"] for event in jetstream.published() if event["time_us"] >= at(300))
    assert run.window == (START + timedelta(microseconds=first_kept - to_us(START)), END)  # what was read
    assert uri(ALICE, "3a1") not in {mention.native_id for mention in run.mentions}  # at 11:01:40, not retained
    assert run.items_fetched == len(in_window(jetstream, START + timedelta(minutes=5)))


def test_a_quiet_stream_or_a_spent_budget_stops_cleanly_keeping_what_was_matched() -> None:
    with FakeJetstream() as server:  # the stream's live edge is at 11:30: nothing after it
        server.publish(sorted(background_posts(START, START + timedelta(minutes=30), 500) + brand_events()[:4],
                              key=lambda event: event["time_us"]))
        quiet = collect(source_for(server, idle_seconds=0.3))
        spent = collect(source_for(server, idle_seconds=30), budget=1.0)

    for run, why in ((quiet, "the stream went quiet (no event for 0.3 s: its live edge?)"),
                     (spent, "the time budget ran out")):
        assert run.status == "ok"
        assert len(run.mentions) == 4
        assert run.cursor is not None and run.window is not None
        assert to_us(run.window[1]) == run.cursor["time_us"]  # read up to the last event processed
        assert run.left_out == [(f"posts from {run.window[1]:%Y-%m-%d %H:%M:%S} UTC to 2026-11-02 12:00:00 UTC: {why}; "
                                "the next run resumes there")]


def test_a_stream_that_cannot_be_reached_fails_and_keeps_the_cursor(jetstream: FakeJetstream) -> None:
    wrong_path = source_for(jetstream).model_copy(update={"url": jetstream.url.replace("/subscribe", "/firehose")})
    refused = collect(wrong_path, {"time_us": at(10), "at_cursor": []})
    assert refused.status == "failed" and refused.cursor is None
    assert refused.error == (f"{wrong_path.url} refused the subscription with HTTP 404: is it a Jetstream instance's "
                             "/subscribe endpoint (e.g. wss://jetstream2.us-east.bsky.network/subscribe)?")

    closed_port = source_for(jetstream).model_copy(update={"url": "ws://127.0.0.1:9/subscribe"})
    unreachable = collect(closed_port, max_retries=1)
    assert unreachable.status == "failed" and unreachable.cursor is None
    assert unreachable.error is not None and unreachable.error.startswith("could not connect to ws://127.0.0.1:9/subscribe")


def test_a_stored_cursor_that_is_not_jetstreams_is_reported_and_the_window_read(jetstream: FakeJetstream) -> None:
    run = collect(source_for(jetstream), {"terms": {"brightwave": []}})
    assert run.warnings == [("the stored cursor {'terms': {'brightwave': []}} is not a Jetstream cursor and was ignored: "
                            "the run started at its window's start")]
    assert len(run.mentions) == 4


def test_an_instance_keeping_less_than_configured_shows_as_a_gap_where_its_stream_starts() -> None:
    # The instance keeps 40 minutes before its clock (12:05): a cursor at 11:00 replays from 11:25.
    with FakeJetstream(now=END + timedelta(minutes=5), retention=timedelta(minutes=40)) as server:
        server.publish(sorted(background_posts(START - timedelta(minutes=10), END + timedelta(minutes=10), 3_000)
                              + [*brand_events(), post_event(ALICE, "3a5", "Brightwave back at last", at(1800))],
                              key=lambda event: event["time_us"]))
        run = collect(source_for(server, gap_seconds=30))
        kept = in_window(server, START + timedelta(minutes=25))

    assert [mention.native_id for mention in run.mentions] == [uri(ALICE, "3a5")]
    assert run.items_fetched == len(kept)
    assert len(run.left_out) == 1
    assert run.left_out[0].startswith("posts from 2026-11-02 10:59:59 UTC to 2026-11-02 11:25:0")
    assert run.window is not None and run.window[1] == END
    assert timedelta(minutes=25) <= run.window[0] - START < timedelta(minutes=26)


def test_posts_are_collected_enriched_and_loaded_once_with_the_runs_ledger(
    jetstream: FakeJetstream, fast_http: HttpSettings, tmp_path: Any
) -> None:
    config = Config.model_validate({
        "warehouse": {"path": str(tmp_path / "w.duckdb")}, "staging": str(tmp_path / "staging"),
        "brands": [{"name": "Brightwave", "aliases": ["Brightwave"]}],
        "competitors": [{"name": "Skylark Fibre", "aliases": ["Skylark Fibre"]}],
        "sentiment": {"backend": "lexicon"}, "backfill_days": 2,
        "sources": [{"kind": "bluesky_jetstream", "name": "jetstream", "url": jetstream.url, "retention_hours": 1}],
    })
    (unit,) = plan_units(config)

    def run(run_id: str, window: tuple[datetime, datetime]) -> Any:
        staging = StagingArea(config.staging, run_id)
        runs = collect_unit(config, unit, read_cursors(config.warehouse.path), window, client=HttpClient(fast_http))
        enriched = enrich_unit(config, stage_unit(staging, unit, runs), staging)
        return load_run(config.warehouse.path, run_id, window, [enriched])

    first = run("run-1", (START, END))
    again = run("run-2", (START, END))  # the same window again: resumes at the cursor, past the window's end

    assert (first.mentions_new, again.mentions_new) == (5, 0)
    resumed_at = START + timedelta(microseconds=read_cursors(config.warehouse.path)["jetstream"]["time_us"] - to_us(START))
    assert timedelta(minutes=59) < resumed_at - START < timedelta(hours=1)  # the last event before the window's end
    with duckdb.connect(config.warehouse.path, read_only=True) as connection:
        def rows(sql: str) -> list[tuple[Any, ...]]:
            return connection.execute(sql).fetchall()

        assert rows("SELECT mention_key, amplifies, parent_id FROM mentions ORDER BY 1") == [
            (f"bluesky:{uri(ALICE, '3a1')}", None, None),
            (f"bluesky:{uri(BOB, '3b1')}", None, f"bluesky:{uri(ALICE, '3a1')}"),
            (f"bluesky:{uri(CAROL, '3c2')}", None, None),
            (f"bluesky:{uri(CAROL, '3c3')}", None, None),  # on its terms alone here, Skylark Fibre in German too
            (f"bluesky:{uri(CAROL, '3c1', 'app.bsky.feed.repost')}", f"bluesky:{uri(ALICE, '3a1')}", None),
        ]
        assert rows("SELECT brand, count(*) FROM mention_brands GROUP BY 1 ORDER BY 1") == [
            ("Brightwave", 3), ("Skylark Fibre", 2),
        ]
        # The first run reached back backfill_days (2 days) but the stream keeps an hour: the rest is left out.
        assert rows("SELECT run_id, status, items_fetched, mentions_new, asked, left_out FROM runs ORDER BY 1") == [
            ("run-1", "ok", len(in_window(jetstream)), 5,
             ["stream app.bsky.feed.post, app.bsky.feed.repost from 2026-11-02 11:00:00 UTC to 2026-11-02 12:00:00 UTC"],
             [("posts from 2026-10-31 12:00:00 UTC to 2026-11-02 11:00:00 UTC: beyond the stream's retention "
               "(1 h before the window's end)")]),
            ("run-2", "empty", 0, 0,
             [(f"stream app.bsky.feed.post, app.bsky.feed.repost from {resumed_at:%Y-%m-%d %H:%M:%S} UTC to "
              "2026-11-02 12:00:00 UTC")], []),
        ]
