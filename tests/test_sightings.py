"""A mention seen again: a later sighting refreshes what it knows and erases nothing it does not know.

The records come from the collectors' own mappings: Bluesky's search (`collectors.bluesky.mention_from_post`,
a post view with the author's handle, name and counts) and Jetstream (`collectors.bluesky_posts.mention_from_record`
with the stream's extras, as `collectors.bluesky_jetstream` calls it: the author's DID only), and Reddit's
(`collectors.reddit.parsing.post_mention`, the score left out while Reddit hides it).
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pytest

from collectors.bluesky import mention_from_post
from collectors.bluesky_posts import mention_from_record
from collectors.reddit.parsing import post_mention
from collectors.source_run import SourceRun
from collectors.units import CollectionUnit, stage_unit
from config.model import Config
from core.mention import Mention
from core.staging import StagingArea
from enrich.pipeline import enrich_unit
from warehouse.load import LoadResult, load_run

FIRST_HOUR = datetime(2026, 11, 2, 10, tzinfo=UTC)
ANN = "at://did:plc:ann4k2/app.bsky.feed.post/3lbq2ann"
OWN = "at://did:plc:brightwave/app.bsky.feed.post/3lbq2own"
ANN_KEY, OWN_KEY = f"bluesky:{ANN}", f"bluesky:{OWN}"
ANN_TEXT = "Brightwave fibre has been down since 8 in Leeds, anyone else?"
OWN_TEXT = "Brightwave: we are fixing an outage in Leeds, updates here."
BLUESKY_COLUMNS = ("mention_key, url, text, author_handle, author_name, author_followers, engagement, reach_estimate, "
                   "reach_low, reach_high, reach_model, is_owned, owned_by, extras, first_run_id, last_run_id")


@pytest.fixture
def config(tmp_path: Any) -> Config:
    return Config.model_validate({
        "warehouse": {"path": str(tmp_path / "w.duckdb")}, "staging": str(tmp_path / "staging"),
        "brands": [{"name": "Brightwave", "aliases": ["Brightwave"], "owned_handles": ["@brightwave.bsky.social"]}],
        "competitors": [{"name": "Tidewell", "aliases": ["Tidewell"]}],
        "sentiment": {"backend": "lexicon"},
        "sources": [
            {"kind": "bluesky", "name": "bsky-search"},
            {"kind": "bluesky_jetstream", "name": "bsky-stream"},
            {"kind": "reddit", "name": "reddit-search"},
            {"kind": "reddit", "name": "reddit-listing", "subreddits": ["UKBroadband"], "sitewide": False},
        ],
    })


def load(config: Config, hour: int, kind: str, source: str, mentions: list[Mention]) -> LoadResult:
    """Stage the source's mentions as collected, enrich and load them as run-<hour>, ending `hour` hours after 10:00."""
    run_id, end = f"run-{hour}", FIRST_HOUR + timedelta(hours=hour)
    staging = StagingArea(config.staging, run_id)
    unit = CollectionUnit(f"{kind}-001", kind, (source,))
    outcome = SourceRun(source, kind, "ok", items_fetched=len(mentions), mentions=mentions)
    enriched = enrich_unit(config, stage_unit(staging, unit, [outcome]), staging)
    return load_run(config.warehouse.path, run_id, (end - timedelta(hours=1), end), [enriched])


def rows(config: Config, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(config.warehouse.path, read_only=True) as connection:
        return [
            tuple(json.loads(value) if isinstance(value, str) and value.startswith("{") else value for value in row)
            for row in connection.execute(sql).fetchall()
        ]


def searched(uri: str, handle: str, name: str, text: str, likes: int, followers: int) -> Mention:
    """A searchPosts post view as the search collector maps it, with a follower count.

    The post view has no follower count (the search collector leaves it None); the count stands in for a
    source that reports one (X, Mastodon) to show the same rule keeps it and the reach derived from it.
    """
    post = {
        "uri": uri, "cid": "bafyreisearch",
        "author": {"did": uri.split("/")[2], "handle": handle, "displayName": name},
        "record": {"$type": "app.bsky.feed.post", "text": text, "createdAt": "2026-11-02T08:30:00.000Z",
                   "langs": ["en"]},
        "likeCount": likes, "replyCount": 3, "repostCount": 2, "quoteCount": 0,
    }
    return dataclasses.replace(mention_from_post(post, "bsky-search"), author_followers=followers)


def streamed(uri: str, text: str) -> Mention:
    """The same post as Jetstream gives it: the bare record, the author's DID in the URI, no handle or counts."""
    record = {"$type": "app.bsky.feed.post", "text": text, "createdAt": "2026-11-02T08:30:00.000Z", "langs": ["en"]}
    return mention_from_record(uri, record, "bsky-stream", extras={"cid": "bafyreistream", "did": uri.split("/")[2],
                                                                   "time_us": 1_793_602_200_000_000})


def test_a_jetstream_sighting_after_the_search_keeps_the_author_counts_reach_and_owner(config: Config) -> None:
    load(config, 1, "bluesky", "bsky-search", [
        searched(ANN, "ann.bsky.social", "Ann Lee", ANN_TEXT, likes=12, followers=5400),
        searched(OWN, "brightwave.bsky.social", "Brightwave", OWN_TEXT, likes=40, followers=88_000),
    ])

    second = load(config, 2, "bluesky_jetstream", "bsky-stream", [streamed(ANN, ANN_TEXT), streamed(OWN, OWN_TEXT)])

    counts = {"likes": 12, "replies": 3, "reposts": 2, "quotes": 0}
    stream_extras = {"cid": "bafyreistream", "time_us": 1_793_602_200_000_000}
    assert rows(config, f"SELECT {BLUESKY_COLUMNS} FROM mentions ORDER BY 1") == [
        (ANN_KEY, "https://bsky.app/profile/ann.bsky.social/post/3lbq2ann", ANN_TEXT, "@ann.bsky.social", "Ann Lee",
         5400, counts, 5400, 54, 1080, "reach-v2", False, None, {**stream_extras, "did": "did:plc:ann4k2"},
         "run-1", "run-2"),
        (OWN_KEY, "https://bsky.app/profile/brightwave.bsky.social/post/3lbq2own", OWN_TEXT, "@brightwave.bsky.social",
         "Brightwave", 88_000, {**counts, "likes": 40}, 88_000, 880, 17_600, "reach-v2", True, "Brightwave",
         {**stream_extras, "did": "did:plc:brightwave"}, "run-1", "run-2"),
    ]
    # The owner's post stays out of the earned mentions the views count, as the search's sighting left it.
    assert rows(config, "SELECT mention_key FROM earned_mentions") == [(ANN_KEY,)]
    # The run's counts are the sightings', whatever the rule kept.
    assert (second.mentions_new, second.mentions_seen_again) == (0, 2)
    assert rows(config, "SELECT run_id, source, mentions_matched, mentions_new, mentions_seen_before FROM runs "
                        "ORDER BY 1") == [
        ("run-1", "bsky-search", 2, 2, 0), ("run-2", "bsky-stream", 2, 0, 2),
    ]
    before = rows(config, "SELECT * FROM mentions ORDER BY mention_key")
    again = load(config, 2, "bluesky_jetstream", "bsky-stream", [streamed(ANN, ANN_TEXT), streamed(OWN, OWN_TEXT)])
    assert (again.mentions_new, again.mentions_seen_again) == (0, 2)
    assert rows(config, "SELECT * FROM mentions ORDER BY mention_key") == before


def test_a_richer_sighting_after_a_thinner_one_fills_in_and_later_counts_refresh(config: Config) -> None:
    load(config, 1, "bluesky_jetstream", "bsky-stream", [streamed(OWN, OWN_TEXT)])
    assert rows(config, f"SELECT {BLUESKY_COLUMNS} FROM mentions") == [
        (OWN_KEY, "https://bsky.app/profile/did:plc:brightwave/post/3lbq2own", OWN_TEXT, None, None, None, {}, 0, 0, 0,
         "reach-v2", False, None,
         {"cid": "bafyreistream", "did": "did:plc:brightwave", "time_us": 1_793_602_200_000_000},
         "run-1", "run-1"),
    ]

    for hour, likes, followers in ((2, 40, 88_000), (3, 95, 90_000)):
        load(config, hour, "bluesky", "bsky-search",
             [searched(OWN, "brightwave.bsky.social", "Brightwave", OWN_TEXT, likes, followers)])

    # The handle names the owner once a sighting knows it; the URL stays the first sighting's (by DID).
    assert rows(config, f"SELECT {BLUESKY_COLUMNS} FROM mentions") == [
        (OWN_KEY, "https://bsky.app/profile/did:plc:brightwave/post/3lbq2own", OWN_TEXT, "@brightwave.bsky.social",
         "Brightwave", 90_000, {"likes": 95, "replies": 3, "reposts": 2, "quotes": 0}, 90_000, 900, 18_000, "reach-v2",
         True, "Brightwave", {"cid": "bafyreisearch", "did": "did:plc:brightwave"}, "run-1", "run-3"),
    ]
    assert rows(config, "SELECT run_id, mentions_new, mentions_seen_before FROM runs ORDER BY 1") == [
        ("run-1", 1, 0), ("run-2", 0, 1), ("run-3", 0, 1),
    ]


def reddit_post(selftext: str, score: int, comments: int, hide_score: bool = False) -> dict[str, Any]:
    """A t3 object's data as Reddit's search and a subreddit's listing give it."""
    return {
        "name": "t3_1oq7x2", "id": "1oq7x2", "title": "Brightwave outage in Leeds?", "selftext": selftext,
        "author": "leeds_dan", "created_utc": datetime(2026, 11, 2, 8, tzinfo=UTC).timestamp(),
        "permalink": "/r/UKBroadband/comments/1oq7x2/brightwave_outage_in_leeds/", "is_self": True,
        "score": score, "hide_score": hide_score, "num_comments": comments, "upvote_ratio": 0.93,
        "subreddit": "UKBroadband", "subreddit_name_prefixed": "r/UKBroadband", "subreddit_subscribers": 120_000,
    }


def test_an_edited_post_seen_while_its_score_is_hidden_keeps_the_score_and_the_reach_it_gave(config: Config) -> None:
    columns = "text, engagement, score_hidden, reach_estimate, reach_low, reach_high, last_run_id"
    reddit = "https://www.reddit.com"
    first = reddit_post("No internet since 8am.", 250, 40)
    load(config, 1, "reddit", "reddit-search", [post_mention(first, "reddit-search", reddit)])
    # 120,000 subscribers times the share a score of 250 reaches: 0.01 + 0.99 * 250 / 350.
    assert rows(config, f"SELECT {columns} FROM mentions") == [
        ("Brightwave outage in Leeds?\n\nNo internet since 8am.", {"score": 250, "comments": 40, "upvote_ratio": 0.93},
         False, 86_057, 861, 17_211, "run-1"),
    ]

    edited = reddit_post("No internet since 8am. Edit: Tidewell customers here are fine.", 1, 55, hide_score=True)
    second = load(config, 2, "reddit", "reddit-listing", [post_mention(edited, "reddit-listing", reddit)])

    assert rows(config, f"SELECT {columns} FROM mentions") == [
        ("Brightwave outage in Leeds?\n\nNo internet since 8am. Edit: Tidewell customers here are fine.",
         {"score": 250, "comments": 55, "upvote_ratio": 0.93}, True, 86_057, 861, 17_211, "run-2"),
    ]
    assert rows(config, "SELECT brand FROM mention_brands ORDER BY 1") == [("Brightwave",), ("Tidewell",)]
    assert (second.mentions_new, second.mentions_seen_again) == (0, 1)

    shown = reddit_post("No internet since 8am. Edit: Tidewell customers here are fine.", 400, 60)
    load(config, 3, "reddit", "reddit-search", [post_mention(shown, "reddit-search", reddit)])

    # The score shown again: the reach follows it, 120,000 times 0.01 + 0.99 * 400 / 500.
    assert rows(config, f"SELECT {columns} FROM mentions") == [
        ("Brightwave outage in Leeds?\n\nNo internet since 8am. Edit: Tidewell customers here are fine.",
         {"score": 400, "comments": 60, "upvote_ratio": 0.93}, False, 96_240, 962, 19_248, "run-3"),
    ]
    assert rows(config, "SELECT run_id, source, mentions_new, mentions_seen_before FROM runs ORDER BY 1") == [
        ("run-1", "reddit-search", 1, 0), ("run-2", "reddit-listing", 0, 1), ("run-3", "reddit-search", 0, 1),
    ]
