"""YouTube comments: `collect_youtube` against the fake Data API v3 on 127.0.0.1 (demo/fake_apis/youtube_api.py,
the API's JSON, pagination, quota units and errors), the day's quota budget and its ledger, the config's
validation, and comments' way through collect, enrich and load."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pytest
from pydantic import ValidationError

from collectors.context import CollectionContext
from collectors.source_run import QuotaUse, SourceRun
from collectors.units import collect_unit, plan_units, stage_unit
from collectors.youtube import collect_youtube
from collectors.youtube.quota import DailyQuota
from config.model import BrandConfig, Config, HttpSettings, YouTubeSource
from core.staging import StagingArea
from demo.fake_apis.youtube_api import DEMO_API_KEY, FakeYouTubeApi
from enrich.pipeline import enrich_unit
from transport.http import HttpClient
from warehouse.cursors import read_cursors
from warehouse.load import load_run

NOV_1_NOON, NOV_2_NOON = datetime(2026, 11, 1, 12, tzinfo=UTC), datetime(2026, 11, 2, 12, tzinfo=UTC)
DAY = (NOV_1_NOON, NOV_2_NOON)  # 04:00 Pacific (PST) on 2 November at its end; the quota resets 3 Nov 08:00 UTC
BRIGHTWAVE_CHANNEL, REVIEWER_CHANNEL = "UCbrightwaveOfficial0001", "UCtechReviewsChannel0001"
BRANDS = [{"name": "Brightwave", "aliases": ["Brightwave", "Brightwave Broadband"], "hashtags": ["#brightwave"]}]
COMPETITORS = [{"name": "Tidewell", "aliases": ["Tidewell"]}]
CREDENTIALS = {"youtube_default": {"password": DEMO_API_KEY}}


def at(hours: float) -> str:
    """A time `hours` before the day window's end, as the API writes it."""
    return (NOV_2_NOON - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def api() -> Iterator[FakeYouTubeApi]:
    """Brightwave's channel (a video with comments over two pages, one with comments disabled, one too old to
    follow) and a reviewer's video naming both brands; pages of two."""
    with FakeYouTubeApi(page_size=2) as fake:
        fake.add_channel(BRIGHTWAVE_CHANNEL, "Brightwave")
        fake.add_channel(REVIEWER_CHANNEL, "Tech Reviews")
        fake.add_video("bwUpdate001", BRIGHTWAVE_CHANNEL, "Brightwave app update walkthrough", at(5))
        fake.add_video("bwOutage002", BRIGHTWAVE_CHANNEL, "Brightwave outage: live updates", at(3), comments_disabled=True)
        fake.add_video("bwOld000003", BRIGHTWAVE_CHANNEL, "Brightwave router setup", at(24 * 10))
        fake.add_video("tvReview004", REVIEWER_CHANNEL, "Tidewell vs Brightwave: which broadband?", at(22))
        fake.add_comment("bwUpdate001", "Ugc4", "@late", "Posted after the window", at(-1))
        fake.add_comment("bwUpdate001", "Ugc1", "@amira", "Still no signal in LS6 since the update", at(1), likes=4,
                         replies=[{"id": "r1", "author": "@ben", "text": "same here in LS7", "published": at(0.5), "likes": 1}])
        fake.add_comment("bwUpdate001", "Ugc2", "@callum", "Great walkthrough, thanks", at(2))
        fake.add_comment("bwUpdate001", "Ugc3", "@dee", "Before the window", at(25))
        fake.add_comment("tvReview004", "Ugt1", "@ellie", "Tidewell dropped my line twice this week", at(6), likes=9)
        fake.add_comment("tvReview004", "Ugt2", "@farid", "nice editing", at(7))
        yield fake


def youtube_source(api: FakeYouTubeApi, **settings: Any) -> YouTubeSource:
    return YouTubeSource.model_validate({
        "kind": "youtube", "name": "youtube", "api_base_url": api.api_url,
        "channels": [{"id": BRIGHTWAVE_CHANNEL, "brand": "Brightwave"}], **settings,
    })


def collect(api: FakeYouTubeApi, http: HttpSettings, cursor: Any = None, window: tuple[datetime, datetime] = DAY,
            credentials: Any = None, **settings: Any) -> SourceRun:
    brands = tuple(BrandConfig.model_validate(brand) for brand in [*BRANDS, *COMPETITORS])
    context = CollectionContext(HttpClient(http), brands, window, CREDENTIALS if credentials is None else credentials)
    return collect_youtube(youtube_source(api, **settings), cursor, context)


def test_first_run_reads_the_channels_uploads_the_searches_and_the_new_comments_within_the_window(
    api: FakeYouTubeApi, fast_http: HttpSettings
) -> None:
    run = collect(api, fast_http)

    assert (run.status, run.error, run.warnings) == ("ok", None, [])
    by_id = {mention.native_id: mention for mention in run.mentions}
    # The comment after the window's end is the next run's; the one before its start is not read.
    assert sorted(by_id, key=str) == ["Ugc1", "Ugc1.r1", "Ugc2", "Ugt1", "Ugt2"]
    assert run.items_fetched == 5
    first = by_id["Ugc1"]
    assert (first.platform, first.source, first.text, first.author_handle, first.engagement, first.about_brand) == (
        "youtube", "youtube", "Still no signal in LS6 since the update", "@amira", {"likes": 4, "replies": 1}, "Brightwave"
    )
    assert first.url == "https://www.youtube.com/watch?v=bwUpdate001&lc=Ugc1"
    assert first.published_at == NOV_2_NOON - timedelta(hours=1)
    assert first.extras["video_title"] == "Brightwave app update walkthrough"
    assert first.extras["author_channel_id"].startswith("UC")
    reply = by_id["Ugc1.r1"]
    assert (reply.parent_id, reply.thread_id, reply.engagement, reply.about_brand) == (
        "youtube:Ugc1", "youtube:video:bwUpdate001", {"likes": 1}, "Brightwave"
    )
    # A video found by search belongs to no brand by where it is: its comments are matched by their words.
    assert (by_id["Ugt1"].about_brand, by_id["Ugt1"].engagement) == (None, {"likes": 9, "replies": 0})

    # The searches: one per brand, `|` for OR, newest first since the follow horizon up to the window's end.
    searches = api.calls("search")
    assert [call.params["q"] for call in searches] == ['Brightwave|"Brightwave Broadband"|#brightwave'] * 2 + ["Tidewell"]
    assert {(call.params["order"], call.params["type"], call.params["publishedAfter"], call.params["publishedBefore"])
            for call in searches} == {("date", "video", "2026-10-26T12:00:00Z", "2026-11-02T12:00:00Z")}
    # channels 1 + uploads 2 pages + disabled 1 + bwUpdate001 2 pages + searches 3 pages x 100 + tvReview004 1
    assert api.quota_used == run.quota.used == 307  # type: ignore[union-attr]
    assert run.quota == QuotaUse("quota units", used=307, limit=10_000, left=10_000 - 307, period="day")
    assert run.asked == [
        f"uploads of channel {BRIGHTWAVE_CHANNEL} (Brightwave)", 'search: Brightwave|"Brightwave Broadband"|#brightwave',
        "search: Tidewell", "comments of 3 videos",
    ]
    assert run.left_out == ["video bwOutage002: comments disabled"]
    assert run.cursor is not None
    assert run.cursor["quota"] == {"day": "2026-11-02", "used": 307}
    assert run.cursor["channels"] == {BRIGHTWAVE_CHANNEL: {"uploads": "UUbrightwaveOfficial0001", "newest": "2026-11-02T09:00:00+00:00"}}
    assert sorted(run.cursor["videos"]) == ["bwUpdate001", "tvReview004"]  # too old and disabled ones are not followed
    assert run.cursor["videos"]["bwUpdate001"]["newest"] == "2026-11-02T11:00:00+00:00"
    assert run.summary()["quota"]["unit"] == "quota units"


def test_a_rerun_reads_only_new_comments_and_drops_a_deleted_video(api: FakeYouTubeApi, fast_http: HttpSettings) -> None:
    first = collect(api, fast_http)
    before = api.quota_used

    again = collect(api, fast_http, cursor=first.cursor)
    assert (again.status, again.mentions, again.left_out) == ("ok", [], [])
    # Uploads page 1, one page of each followed video, and two searches over an empty period.
    assert api.quota_used - before == again.quota.used == 1 + 2 + 200  # type: ignore[union-attr]
    assert again.cursor is not None and again.cursor["quota"] == {"day": "2026-11-02", "used": 307 + 203}

    api.videos["tvReview004"].deleted = True
    api.add_comment("bwUpdate001", "Ugc5", "@grace", "Brightwave fixed it, thanks", at(-1.5))
    two_hours_later = (NOV_2_NOON, NOV_2_NOON + timedelta(hours=2))
    later = collect(api, fast_http, cursor=again.cursor, window=two_hours_later)
    assert sorted(mention.native_id or "" for mention in later.mentions) == ["Ugc4", "Ugc5"]
    assert later.left_out == ["video tvReview004: deleted, private or not found (404 videoNotFound)"]
    assert later.cursor is not None and sorted(later.cursor["videos"]) == ["bwUpdate001"]
    # A two-hour window ending at 06:00 Pacific: nine runs left today, each takes a ninth of what is left.
    assert DailyQuota.for_run(again.cursor["quota"], two_hours_later, 10_000).allowance == (10_000 - 510) // 9


def test_an_unreadable_cursor_starts_afresh(api: FakeYouTubeApi, fast_http: HttpSettings) -> None:
    fresh = collect(api, fast_http)
    garbled = {"quota": "lots", "channels": {BRIGHTWAVE_CHANNEL: {"uploads": 7, "newest": "yesterday"}},
               "searches": {"Tidewell": {"after": None}}, "videos": {"bwUpdate001": {"published": "soon"}, "x": []}}

    run = collect(api, fast_http, cursor=garbled)

    assert (run.status, run.warnings) == ("ok", [])
    assert sorted(mention.native_id or "" for mention in run.mentions) == sorted(m.native_id or "" for m in fresh.mentions)
    assert run.cursor is not None and fresh.cursor is not None
    assert (run.cursor["videos"], run.cursor["channels"]) == (fresh.cursor["videos"], fresh.cursor["channels"])


def test_the_days_quota_is_spent_on_comments_first_and_what_was_skipped_is_reported(
    api: FakeYouTubeApi, fast_http: HttpSettings
) -> None:
    run = collect(api, fast_http, daily_quota_units=10)

    assert run.status == "ok"
    assert sorted(mention.native_id or "" for mention in run.mentions) == ["Ugc1", "Ugc1.r1", "Ugc2"]
    assert api.calls("search") == []
    resets = "it resets at midnight Pacific time, 2026-11-03 08:00 UTC"
    assert run.left_out == [
        "video bwOutage002: comments disabled",
        (f'search Brightwave|"Brightwave Broadband"|#brightwave: the day\'s quota was spent (daily_quota_units 10: 4 units '
         f"left, this needs 100; {resets})"),
        f"search Tidewell: the day's quota was spent (daily_quota_units 10: 4 units left, this needs 100; {resets})",
    ]
    assert run.quota == QuotaUse("quota units", used=6, limit=10, left=4, period="day")

    # The next run that day has 4 units: the followed video's comments, not the searches.
    next_run = collect(api, fast_http, cursor=run.cursor, window=(NOV_2_NOON, NOV_2_NOON + timedelta(hours=1)),
                       daily_quota_units=10)
    assert next_run.quota == QuotaUse("quota units", used=0, limit=10, left=4, period="day")
    assert next_run.left_out[-1] == ("comments of 1 videos: this run's share of the day's quota was spent (0 units); "
                                     "later runs today read on")


def test_youtubes_quota_exceeded_stops_the_source_keeping_what_it_read(api: FakeYouTubeApi, fast_http: HttpSettings) -> None:
    api.daily_quota = 5  # Google refuses the sixth unit, whatever the source's own count says

    run = collect(api, fast_http)

    assert run.status == "ok"
    assert sorted(mention.native_id or "" for mention in run.mentions) == ["Ugc1", "Ugc1.r1"]  # page 1 of bwUpdate001
    (warning,) = run.warnings
    assert warning.startswith(
        "YouTube's daily quota for the API key of connection 'youtube_default' is spent (HTTP 403 quotaExceeded); it "
        "resets at midnight Pacific time (2026-11-03 08:00 UTC) and collection resumes then. To collect more a day, ask "
        "Google for more quota"
    )
    assert "raise daily_quota_units of source 'youtube'" in warning
    assert run.cursor is not None
    assert run.cursor["quota"] == {"day": "2026-11-02", "used": 10_000}  # no more calls today
    assert run.cursor["videos"]["bwUpdate001"]["newest"] is None  # cut short: read again from the top
    assert run.quota is not None and run.quota.left == 0
    assert "search Tidewell: the day's quota was spent (YouTube answered quotaExceeded; it resets at midnight" \
           " Pacific time, 2026-11-03 08:00 UTC)" in run.left_out

    refused = collect(api, fast_http)  # the very first call refused: nothing read, the source failed, its cursor stays
    assert (refused.status, refused.cursor, refused.mentions) == ("failed", None, [])
    assert "quotaExceeded" in (refused.error or "")


def test_a_5xx_is_retried_and_a_refused_call_is_left_out_keeping_the_channels_brand(
    api: FakeYouTubeApi, fast_http: HttpSettings
) -> None:
    api.fail("commentThreads", 503)  # once: the retry policy asks again
    api.fail("playlistItems", 404, b'{"error": {"code": 404, "message": "The playlist identified with the request\'s '
             b'<code>playlistId</code> parameter cannot be found.", "errors": [{"reason": "playlistNotFound", '
             b'"domain": "youtube.playlistItem"}]}}')

    run = collect(api, fast_http)

    assert run.status == "ok"
    refused = (f"uploads of channel {BRIGHTWAVE_CHANNEL}: YouTube playlistItems.list at {api.api_url} refused the call "
               "(HTTP 404 playlistNotFound: The playlist identified with the request's playlistId parameter cannot be found.)")
    assert run.left_out == [refused, "video bwOutage002: comments disabled"]
    assert run.warnings == [refused]
    # The channel's videos were found by the search instead, and are still the channel's brand's.
    assert run.cursor is not None and run.cursor["videos"]["bwUpdate001"]["found_by"].startswith("search Brightwave")
    by_id = {mention.native_id: mention for mention in run.mentions}
    assert (by_id["Ugc1"].about_brand, by_id["Ugt1"].about_brand) == ("Brightwave", None)
    # Newest video first: the 503 answered the first call, asked again; two pages of bwUpdate001.
    assert [call.params["videoId"] for call in api.calls("commentThreads")] == [
        "bwOutage002", "bwOutage002", "bwUpdate001", "bwUpdate001", "tvReview004"
    ]


def test_a_bad_or_missing_key_names_the_connection(api: FakeYouTubeApi, fast_http: HttpSettings) -> None:
    wrong = collect(api, fast_http, credentials={"youtube_default": {"password": "not-the-key"}})
    assert wrong.status == "failed"
    assert wrong.error == (
        "YouTube refused the API key of connection 'youtube_default' (HTTP 400 keyInvalid: API key not valid. Please "
        "pass a valid API key.); set the youtube_default Airflow connection's password to an API key of a project "
        "with the YouTube Data API v3 enabled, or AIRFLOW_CONN_YOUTUBE_DEFAULT"
    )

    missing = collect(api, fast_http, credentials={})
    assert (missing.status, missing.error) == (
        "skipped", ("no credentials: set the youtube_default Airflow connection (password = a YouTube Data API key) or "
                    "AIRFLOW_CONN_YOUTUBE_DEFAULT"),
    )
    assert api.calls("channels") == []  # the refused key reached YouTube before anything; no call counted it
    assert all("key" not in call.params for call in api.requests)  # the key travels in a header, never in the URL


def test_the_config_says_what_is_wrong_with_a_channel() -> None:
    def config(*channels: dict[str, Any]) -> Config:
        return Config.model_validate({
            "warehouse": {"path": "w.duckdb"}, "staging": "staging", "brands": BRANDS, "competitors": COMPETITORS,
            "sources": [{"kind": "youtube", "name": "youtube", "channels": list(channels)}],
        })

    assert config({"id": BRIGHTWAVE_CHANNEL, "brand": "Tidewell"}).sources[0].channels[0].brand == "Tidewell"  # type: ignore[union-attr]
    for channels, message in [
        ([{"id": "@brightwave", "brand": "Brightwave"}], "expected a YouTube channel id: 'UC' and 22 letters"),
        ([{"id": BRIGHTWAVE_CHANNEL, "brand": "Skylark"}],
         "channels[0].brand 'Skylark' is not a brand or competitor; name one of Brightwave, Tidewell"),
        ([{"id": BRIGHTWAVE_CHANNEL, "brand": "Brightwave"}, {"id": BRIGHTWAVE_CHANNEL, "brand": "Tidewell"}],
         f"the name '{BRIGHTWAVE_CHANNEL}' is used twice"),
    ]:
        with pytest.raises(ValidationError, match=re.escape(message)):
            config(*channels)


def test_comments_are_collected_enriched_and_loaded_once_with_their_brands(
    api: FakeYouTubeApi, fast_http: HttpSettings, tmp_path: Any
) -> None:
    config = Config.model_validate({
        "warehouse": {"path": str(tmp_path / "w.duckdb")}, "staging": str(tmp_path / "staging"),
        "brands": BRANDS, "competitors": COMPETITORS, "sentiment": {"backend": "lexicon"},
        "sources": [{"kind": "youtube", "name": "youtube", "api_base_url": api.api_url,
                     "channels": [{"id": BRIGHTWAVE_CHANNEL, "brand": "Brightwave"}]}],
    })
    (unit,) = plan_units(config)

    def run(run_id: str) -> Any:
        staging = StagingArea(config.staging, run_id)
        runs = collect_unit(config, unit, read_cursors(config.warehouse.path), DAY, credentials=CREDENTIALS,
                            client=HttpClient(fast_http))
        return load_run(config.warehouse.path, run_id, DAY, [enrich_unit(config, stage_unit(staging, unit, runs), staging)])

    first, again = run("run-1"), run("run-2")

    assert (first.mentions_new, again.mentions_new) == (4, 0)
    with duckdb.connect(config.warehouse.path, read_only=True) as connection:
        def rows(sql: str) -> list[tuple[Any, ...]]:
            return connection.execute(sql).fetchall()

        # The channel's comments are Brightwave's whatever they say; of the search-found video's, only the one
        # naming a brand is kept ("nice editing" names none).
        assert rows("SELECT m.native_id, b.brand FROM mentions AS m JOIN mention_brands AS b USING (mention_key) "
                    "ORDER BY 1") == [("Ugc1", "Brightwave"), ("Ugc1.r1", "Brightwave"), ("Ugc2", "Brightwave"),
                                      ("Ugt1", "Tidewell")]
        assert rows("SELECT author_handle, url, engagement->>'likes', about_brand FROM mentions "
                    "WHERE mention_key = 'youtube:Ugc1'") == [
            ("@amira", "https://www.youtube.com/watch?v=bwUpdate001&lc=Ugc1", "4", "Brightwave")
        ]
        assert rows("SELECT run_id, status, items_fetched, mentions_matched, dropped_unmatched FROM runs ORDER BY 1") == [
            ("run-1", "ok", 5, 4, 1), ("run-2", "ok", 0, 0, 0),
        ]
        asked = [f"uploads of channel {BRIGHTWAVE_CHANNEL} (Brightwave)",
                 'search: Brightwave|"Brightwave Broadband"|#brightwave', "search: Tidewell", "comments of 3 videos"]
        # The coverage ledger: what was asked, the day's quota spent and left, what could not be read.
        assert rows("SELECT run_id, asked, quota_unit, quota_used, quota_limit, quota_left, quota_period, left_out "
                    "FROM runs ORDER BY 1") == [
            ("run-1", asked, "quota units", 307, 10_000, 9_693, "day", ["video bwOutage002: comments disabled"]),
            ("run-2", [*asked[:3], "comments of 2 videos"], "quota units", 203, 10_000, 9_490, "day", []),
        ]
    assert read_cursors(config.warehouse.path)["youtube"]["quota"]["used"] == 307 + 203
