"""Reddit: `collect_reddit` through the real praw client (and the search.rss fallback through our
HttpClient) against the fake Reddit in `demo/fake_apis/reddit_api.py`, serving the sample corpus in
`demo/corpus/reddit/`; and the pure parsers on hand-made payloads."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import pytest
import requests

from collectors.context import CollectionContext
from collectors.reddit import collect_reddit
from collectors.reddit.parsing import is_gone, parse_listing, parse_thread
from collectors.reddit.queries import search_queries
from collectors.reddit.transport import answer_summary
from collectors.source_run import SourceRun
from config.model import BrandConfig, HttpSettings, RedditSource
from core.errors import TransientError
from demo.fake_apis.reddit_api import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    TOKEN_PATH,
    FakeRedditApi,
    Reply,
    forbidden,
    html_error,
    malformed_json,
    rate_limited,
    server_error,
)
from transport.http import HttpClient

BRANDS = (
    BrandConfig(name="Brightwave", aliases=["Brightwave", "Brightwave Broadband"], hashtags=["#brightwave", "#brightwavedown"],
                handles=["@brightwave", "@brightwavehelp"]),
    BrandConfig(name="Skylark Fibre", aliases=["Skylark Fibre"], hashtags=["#skylarkfibre"], handles=["@skylarkfibre"]),
    BrandConfig(name="Tidewell", aliases=["Tidewell", "Tidewell Telecom"], hashtags=["#tidewell"], handles=["@tidewell"]),
)
WINDOW = (datetime(2026, 10, 28, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))
USER_AGENT = "python:overheard-tests:0.1 (by u/overheard-ci)"
CREDENTIALS = {"reddit_default": {"login": DEMO_CLIENT_ID, "password": DEMO_CLIENT_SECRET, "extra": {"user_agent": USER_AGENT}}}

# What the sample corpus yields for the three brands, watching r/UKBroadband and r/HomeNetworking.
BRAND_POSTS = {
    "reddit:t3_1oq7b2x",  # Brightwave outage, r/UKBroadband
    "reddit:t3_1opz3k9",  # Tidewell hub, r/HomeNetworking
    "reddit:t3_1opm8aa",  # Skylark Fibre install
    "reddit:t3_1ophx4c",  # Brightwave vs Skylark Fibre
    "reddit:t3_1oqa1f7",  # Tidewell Telecom billing, r/techsupport: found by the sitewide search only
    "reddit:t3_1oqc7m3",  # Brightwave Broadband price rise
    "reddit:t3_1oqe4pj",  # Brightwave hub DNS
    "reddit:t3_1oqh6tb",  # Skylark Fibre or Tidewell
}
SEARCH_NOISE = "reddit:t3_1opb6ee"  # "Brightwaves" nursery app: Reddit's search finds it, it names no brand
THREAD_COMMENTS = {
    "reddit:t1_lqa1b01", "reddit:t1_lqa1b02", "reddit:t1_lqa1b03", "reddit:t1_lqa1b05",  # outage thread
    "reddit:t1_lq9z301", "reddit:t1_lq9z302",  # Tidewell hub thread
    "reddit:t1_lq8m801", "reddit:t1_lq8m802",  # Skylark install thread
    "reddit:t1_lq8h401", "reddit:t1_lq8h402",  # Brightwave vs Skylark thread
    "reddit:t1_lqa1f01",  # Tidewell billing thread (r/techsupport, not watched)
    "reddit:t1_lqc7m01", "reddit:t1_lqc7m02",  # price rise thread
    "reddit:t1_lqe4p01",  # DNS thread
    "reddit:t1_lqh6t01",  # gaming thread
    "reddit:t1_lqf0z01",  # under the removed referral post: its title names Brightwave, its comments stay public
}
STREAM_COMMENT = "reddit:t1_lq8k202"  # "Brightwave's own mesh add-on", under a post that names no brand
EVERYTHING = BRAND_POSTS | {SEARCH_NOISE} | THREAD_COMMENTS | {STREAM_COMMENT}
GONE = ["reddit:t3_1oqf0zz", "reddit:t1_lqa1b04"]  # the moderator-removed post, the author-deleted comment
HOME_NETWORKING_SKIPPED = (
    "r/HomeNetworking cannot be read: HTTP 403 (Forbidden), a private, quarantined or banned community; it was skipped"
)


@pytest.fixture
def reddit() -> Any:
    with FakeRedditApi.from_corpus() as api:
        yield api


def _source(api: FakeRedditApi, **settings: Any) -> RedditSource:
    options: dict[str, Any] = {"subreddits": ["UKBroadband", "HomeNetworking"], **settings}
    return RedditSource(kind="reddit", name="reddit-uk", oauth_url=api.base_url, reddit_url=api.base_url, **options)


def _collect(
    api: FakeRedditApi,
    http: HttpSettings,
    cursor: dict[str, Any] | None = None,
    *,
    credentials: dict[str, Any] | None = None,
    window: tuple[datetime, datetime] = WINDOW,
    budget: float = 600.0,
    **settings: Any,
) -> tuple[SourceRun, list[float]]:
    sleeps: list[float] = []
    context = CollectionContext(
        client=HttpClient(http),
        brands=BRANDS,
        window=window,
        credentials=CREDENTIALS if credentials is None else credentials,
        time_budget_seconds=budget,
        sleep=sleeps.append,
    )
    return collect_reddit(_source(api, **settings), cursor, context), sleeps


def _keys(run: SourceRun) -> set[str]:
    return {mention.key for mention in run.mentions}


def _epoch(moment: str) -> float:
    return datetime.fromisoformat(moment).timestamp()


def test_brand_posts_their_comments_and_watched_comment_streams(reddit: FakeRedditApi, fast_http: HttpSettings) -> None:
    run, sleeps = _collect(reddit, fast_http)

    assert (run.status, run.error, run.warnings, sleeps) == ("ok", None, [], [])
    assert _keys(run) == EVERYTHING
    assert len(run.mentions) == len(EVERYTHING) == 26
    assert sorted(run.deleted_keys) == sorted(GONE)
    # Noise stays out: "a bright wave of nostalgia", "the tide well up", "Skylarking", a comment naming no brand.
    assert not _keys(run) & {"reddit:t3_1opd9wq", "reddit:t3_1opqq20", "reddit:t3_1opt5vn", "reddit:t1_lq8k201"}
    # The newest item collected is the gaming thread's comment: the next run starts after it.
    assert run.cursor == {"created_utc": _epoch("2026-11-01T17:49:26+00:00"), "seen_ids": ["t1_lqh6t01"]}

    outage = next(mention for mention in run.mentions if mention.key == "reddit:t3_1oq7b2x")
    assert outage.platform == "reddit" and outage.native_id == "t3_1oq7b2x"
    assert outage.url == f"{reddit.base_url}/r/UKBroadband/comments/1oq7b2x/brightwave_down_in_leeds_again/"
    assert outage.title == "Brightwave down in Leeds again? 📡😤"
    assert outage.text == (
        "Brightwave down in Leeds again? 📡😤\n\nThird outage this week. The Brightwave status page says "
        "“all services normal” but my hub has been flashing red since 7am. Anyone else in LS6?"
    )
    assert (outage.author_handle, outage.author_name, outage.author_followers) == ("u/leeds_lurker", "leeds_lurker", None)
    assert outage.published_at == datetime(2026, 10, 31, 7, 42, 10, tzinfo=UTC)
    # Five comments on Reddit; the deleted one is not collected.
    assert outage.engagement == {"score": 87, "comments": 5, "upvote_ratio": 0.96}
    assert (outage.parent_id, outage.thread_id) == (None, "t3_1oq7b2x")
    assert outage.extras == {"subreddit": "UKBroadband", "over_18": False, "link_flair_text": "Outage"}
    assert (outage.community_size, outage.publisher) == (48210, "r/UKBroadband")

    reply = next(mention for mention in run.mentions if mention.key == "reddit:t1_lqa1b02")
    assert (reply.parent_id, reply.thread_id, reply.title) == ("reddit:t1_lqa1b01", "t3_1oq7b2x", None)
    assert reply.text == "The chat bot is useless. Rang the 0800 number and got a human in five minutes."
    assert reply.url == f"{reddit.base_url}/r/UKBroadband/comments/1oq7b2x/brightwave_down_in_leeds_again/lqa1b02/"
    assert reply.engagement == {"score": 12}
    assert reply.extras["subreddit"] == "UKBroadband"

    café = next(mention for mention in run.mentions if mention.key == "reddit:t1_lq8h402")
    assert café.text == "Had Brightwave in BS3 for two years, no complaints. Café-grade Wi‑Fi through the walls though 😅"

    # One token; the brand's query; the threads of posts that name a brand, and only those.
    assert len(reddit.requests_to(TOKEN_PATH)) == 1
    assert reddit.requests_to(TOKEN_PATH)[0].headers["user-agent"].startswith(USER_AGENT)
    first = reddit.searches[0]
    assert (first["path"], first["q"], first["sort"]) == ("/search", 'Brightwave OR "Brightwave Broadband" OR brightwavedown OR brightwavehelp', "new")
    assert {search["q"] for search in reddit.searches} == {
        'Brightwave OR "Brightwave Broadband" OR brightwavedown OR brightwavehelp',
        '"Skylark Fibre" OR skylarkfibre',
        'Tidewell OR "Tidewell Telecom"',
    }
    assert all(search["restrict_sr"] == "on" for search in reddit.searches if search["path"].startswith("/r/"))
    threads = {request.path for request in reddit.requests if request.path.startswith("/comments/")}
    # ...and of the removed post whose title names Brightwave: its comments are still public.
    assert threads == {f"/comments/{key.removeprefix('reddit:t3_')}" for key in BRAND_POSTS} | {"/comments/1oqf0zz"}


def test_pages_are_followed_with_after_until_the_listing_ends(fast_http: HttpSettings) -> None:
    with FakeRedditApi.from_corpus(page_size=2) as reddit:
        run, _ = _collect(reddit, fast_http)

    assert (run.status, _keys(run), sorted(run.deleted_keys)) == ("ok", EVERYTHING, sorted(GONE))
    pages = [search.get("after") for search in reddit.searches if search["path"] == "/search" and search["q"].startswith("Brightwave")]
    # Six sitewide Brightwave hits (five posts and the removed one), two a page.
    assert pages == [None, "t3_1oqe4pj", "t3_1oq7b2x"]
    stream = [request.params.get("after") for request in reddit.requests_to("/r/HomeNetworking/comments")]
    assert stream == [None, "t1_lq9z302", "t1_lqt5v01"]  # six comments in r/HomeNetworking, two a page


def test_second_run_resumes_after_the_cursor_without_losing_or_repeating_the_boundary_second(
    reddit: FakeRedditApi, fast_http: HttpSettings
) -> None:
    noon = datetime(2026, 10, 31, 12, 0, tzinfo=UTC)
    first, _ = _collect(reddit, fast_http, window=(WINDOW[0], noon))

    boundary = _epoch("2026-10-31T11:40:38+00:00")
    assert first.cursor == {"created_utc": boundary, "seen_ids": ["t1_lqa1f01"]}
    assert all(mention.published_at < noon for mention in first.mentions)
    assert "reddit:t3_1oqc7m3" not in _keys(first)  # 15:30, after the window
    # Reddit indexes a post created in that same second only after the first run.
    reddit.add(posts=[{
        "id": "1oqa9zz", "subreddit": "UKBroadband", "title": "Brightwave engineer no-show, third time 😡", "selftext": "",
        "author": "stood_up", "created_utc": boundary, "permalink": "/r/UKBroadband/comments/1oqa9zz/brightwave_engineer_noshow/",
        "score": 3, "upvote_ratio": 0.8, "over_18": False, "subreddit_subscribers": 48210,
    }])

    second, _ = _collect(reddit, fast_http, first.cursor, window=(noon, WINDOW[1]))

    assert second.status == "ok"
    assert not _keys(first) & _keys(second)
    assert "reddit:t3_1oqa9zz" in _keys(second)
    assert _keys(first) | _keys(second) == EVERYTHING | {"reddit:t3_1oqa9zz"}
    assert second.cursor == {"created_utc": _epoch("2026-11-01T17:49:26+00:00"), "seen_ids": ["t1_lqh6t01"]}

    third, _ = _collect(reddit, fast_http, second.cursor, window=(WINDOW[1], datetime(2026, 11, 3, tzinfo=UTC)))

    assert (third.status, third.mentions, third.cursor) == ("ok", [], second.cursor)


def test_429_is_waited_out_as_reddit_asks_then_collection_goes_on(reddit: FakeRedditApi, fast_http: HttpSettings) -> None:
    reddit.script("/r/UKBroadband/search", rate_limited(reset=42), rate_limited(reset=300, retry_after=7))

    run, sleeps = _collect(reddit, fast_http)

    # x-ratelimit-reset, then Retry-After when both are sent; praw itself never slept.
    assert sleeps == [42.0, 7.0]
    assert (run.status, run.warnings, _keys(run)) == ("ok", [], EVERYTHING)


def test_an_exhausted_rate_limit_window_is_waited_out_through_the_context_not_by_praw(
    reddit: FakeRedditApi, fast_http: HttpSettings
) -> None:
    empty = b'{"kind": "Listing", "data": {"after": null, "children": []}}'
    reddit.script("/search", Reply(200, empty, {"x-ratelimit-used": "1000", "x-ratelimit-remaining": "0.0", "x-ratelimit-reset": "30"}))
    started = time.monotonic()

    run, sleeps = _collect(reddit, fast_http)

    assert sleeps == [30.0]
    assert time.monotonic() - started < 5  # prawcore would have slept the 30 s itself
    assert run.status == "ok" and BRAND_POSTS - {"reddit:t3_1oqa1f7"} <= _keys(run)


def test_429_beyond_the_time_budget_stops_cleanly_and_keeps_the_cursor(reddit: FakeRedditApi, fast_http: HttpSettings) -> None:
    previous = {"created_utc": _epoch("2026-10-28T00:00:00+00:00"), "seen_ids": []}
    reddit.script("/r/HomeNetworking/comments", rate_limited(reset=900))

    run, sleeps = _collect(reddit, fast_http, previous, budget=600)

    assert (run.status, run.cursor, sleeps) == ("ok", previous, [])
    assert 0 < len(run.mentions) < len(EVERYTHING)
    [warning] = run.warnings
    assert "asked to wait 900 s" in warning and "600 s time budget" in warning and "/r/HomeNetworking/comments" in warning
    assert "next run resumes from the same cursor" in warning


def test_429_before_anything_was_collected_fails_and_keeps_the_cursor(reddit: FakeRedditApi, fast_http: HttpSettings) -> None:
    reddit.script(TOKEN_PATH, rate_limited(reset=3600))

    run, sleeps = _collect(reddit, fast_http, {"created_utc": 1.0, "seen_ids": []})

    assert (run.status, run.cursor, run.mentions, sleeps) == ("failed", None, [], [])
    assert "429" in run.error and TOKEN_PATH in run.error


def test_rejected_credentials_fail_with_how_to_fix_and_never_the_secret(reddit: FakeRedditApi, fast_http: HttpSettings) -> None:
    secret = "s3cr3t-that-must-not-leak"
    credentials = {"reddit_default": {"login": DEMO_CLIENT_ID, "password": secret, "extra": {"user_agent": USER_AGENT}}}

    run, _ = _collect(reddit, fast_http, credentials=credentials)

    assert (run.status, run.mentions, run.cursor) == ("failed", [], None)
    assert "rejected the reddit_default credentials (HTTP 401 (Unauthorized) from /api/v1/access_token)" in run.error
    assert "set the reddit_default Airflow connection: login = client id, password = secret" in run.error
    assert "AIRFLOW_CONN_REDDIT_DEFAULT" in run.error
    assert secret not in str(run.summary())
    assert not any(request.path.startswith(("/search", "/r/")) for request in reddit.requests)


def test_a_connection_without_its_secret_fails_before_calling_reddit(reddit: FakeRedditApi, fast_http: HttpSettings) -> None:
    run, _ = _collect(reddit, fast_http, credentials={"reddit_eu": {"login": DEMO_CLIENT_ID}}, connection="reddit_eu")

    assert run.status == "failed"
    assert "the reddit_eu connection has no password (secret)" in run.error and "AIRFLOW_CONN_REDDIT_EU" in run.error
    assert reddit.requests == []


def test_5xx_then_success_is_ok(reddit: FakeRedditApi, fast_http: HttpSettings) -> None:
    reddit.script("/search", server_error(503), server_error(502))

    run, sleeps = _collect(reddit, fast_http)

    assert (run.status, _keys(run), len(sleeps)) == ("ok", EVERYTHING, 2)


def test_persisting_5xx_before_anything_was_read_fails_naming_the_endpoint(
    reddit: FakeRedditApi, fast_http: HttpSettings
) -> None:
    reddit.script("/search", *[server_error(503)] * 3)  # the first listing read

    run, sleeps = _collect(reddit, fast_http, {"created_utc": 1.0, "seen_ids": []})

    assert (run.status, run.mentions, run.cursor, len(sleeps)) == ("failed", [], None, 2)
    assert run.error == "Reddit answered /search with HTTP 503 after 3 attempts; it will be tried again next run"


def test_persisting_5xx_after_items_were_read_keeps_them_and_the_cursor(
    reddit: FakeRedditApi, fast_http: HttpSettings
) -> None:
    previous = {"created_utc": 1.0, "seen_ids": []}
    reddit.script("/r/HomeNetworking/search", *[server_error(503)] * 3)

    run, _ = _collect(reddit, fast_http, previous)

    # The Brightwave searches sitewide and in r/UKBroadband came first: what they found is kept, and the next run
    # reads again from the same cursor.
    assert (run.status, run.error, run.cursor) == ("ok", None, previous)
    assert {"reddit:t3_1oq7b2x", "reddit:t3_1oqc7m3"} <= _keys(run) < EVERYTHING
    [warning] = run.warnings
    assert warning == ("Reddit answered /r/HomeNetworking/search with HTTP 503 after 3 attempts; it will be tried "
                       f"again next run; kept the {len(run.mentions)} items collected before it")


def test_malformed_json_fails_naming_the_endpoint(reddit: FakeRedditApi, fast_http: HttpSettings) -> None:
    reddit.script("/search", malformed_json())

    run, _ = _collect(reddit, fast_http)

    assert (run.status, run.mentions, run.cursor) == ("failed", [], None)
    assert run.error == ("Reddit answered /search with malformed JSON (105 bytes of application/json; charset=UTF-8); "
                         "it will be tried again next run")


def test_items_deleted_or_gone_on_refetch_are_reported_not_collected(reddit: FakeRedditApi, fast_http: HttpSettings) -> None:
    reddit.delete("t1_lq8k202")  # the mesh comment, found through r/HomeNetworking's stream
    reddit.script("/comments/1opm8aa", Reply(404, b'{"message": "Not Found", "error": 404}'))  # Skylark install post

    run, _ = _collect(reddit, fast_http)

    assert run.status == "ok"
    assert sorted(run.deleted_keys) == sorted([*GONE, "reddit:t1_lq8k202", "reddit:t3_1opm8aa"])
    assert not _keys(run) & set(run.deleted_keys)
    # Its comments came only from the thread that answered 404... except through the watched stream.
    assert {"reddit:t1_lq8m801"} <= _keys(run)  # "Skylark Fibre engineers are brilliant" (r/UKBroadband stream)
    assert "reddit:t1_lq8m802" not in _keys(run)  # names no brand


def test_without_credentials_the_public_search_feeds_give_posts_with_a_warning(reddit: FakeRedditApi, fast_http: HttpSettings) -> None:
    run, _ = _collect(reddit, fast_http, credentials={})

    assert run.status == "ok"
    assert _keys(run) == BRAND_POSTS | {SEARCH_NOISE}
    assert run.deleted_keys == ["reddit:t3_1oqf0zz"]
    [warning] = run.warnings
    assert "search.rss" in warning and "posts only, no comments, no scores" in warning and "AIRFLOW_CONN_REDDIT_DEFAULT" in warning
    outage = next(mention for mention in run.mentions if mention.key == "reddit:t3_1oq7b2x")
    assert outage.text == (
        "Brightwave down in Leeds again? 📡😤\n\nThird outage this week. The Brightwave status page says "
        "“all services normal” but my hub has been flashing red since 7am. Anyone else in LS6?"
    )
    assert (outage.author_handle, outage.published_at, outage.engagement) == (
        "u/leeds_lurker", datetime(2026, 10, 31, 7, 42, 10, tzinfo=UTC), {}
    )
    assert outage.url == f"{reddit.base_url}/r/UKBroadband/comments/1oq7b2x/brightwave_down_in_leeds_again/"
    assert outage.extras["subreddit"] == "UKBroadband"
    assert run.cursor == {"created_utc": _epoch("2026-11-01T17:21:48+00:00"), "seen_ids": ["t3_1oqh6tb"]}
    assert reddit.requests_to(TOKEN_PATH) == []
    feeds = reddit.requests_to("/r/UKBroadband/search.rss")
    assert feeds and all(request.params["restrict_sr"] == "on" and request.params["sort"] == "new" for request in feeds)


def test_a_quarantined_community_or_a_forbidden_thread_is_skipped_once_and_the_rest_is_read(
    fast_http: HttpSettings
) -> None:
    # Quarantined and banned communities (and threads in them) answer 403 {"message": "Forbidden", "error": 403},
    # with no reason; the credentials are fine.
    with FakeRedditApi.from_corpus(quarantined_subreddits=["HomeNetworking"]) as reddit:
        reddit.script("/comments/1opm8aa", forbidden())  # the Skylark install thread
        run, _ = _collect(reddit, fast_http)

    assert (run.status, run.error) == ("ok", None)
    assert run.warnings == [
        HOME_NETWORKING_SKIPPED,
        ("the thread t3_1opm8aa cannot be read: HTTP 403 (Forbidden), in a private, quarantined or banned community; "
         "it was skipped"),
    ]
    home_networking = {"reddit:t3_1opz3k9", "reddit:t3_1oqe4pj", "reddit:t1_lq9z301", "reddit:t1_lq9z302",
                       "reddit:t1_lqe4p01", STREAM_COMMENT}
    # The install post is kept, and its comment naming Skylark Fibre still comes through r/UKBroadband's stream.
    assert _keys(run) == EVERYTHING - home_networking - {"reddit:t1_lq8m802"}
    assert run.cursor == {"created_utc": _epoch("2026-11-01T17:49:26+00:00"), "seen_ids": ["t1_lqh6t01"]}
    # Once refused, the community is not asked again for the other brands' searches or its comments.
    assert len(reddit.requests_to("/r/HomeNetworking/search")) == 1
    # The coverage ledger: both communities were asked, and what could not be read is left out, once each.
    assert [line for line in run.asked if line.startswith("r/")] == [
        "r/UKBroadband: the brands' searches, its comments", "r/HomeNetworking: the brands' searches, its comments",
    ]
    assert run.left_out == run.warnings
    assert reddit.requests_to("/r/HomeNetworking/comments") == []


def test_refusals_with_a_challenge_prawcore_cannot_read_are_still_told_apart(
    reddit: FakeRedditApi, fast_http: HttpSettings
) -> None:
    # A gateway's Basic challenge on a 403, and a 401 with none: prawcore alone would raise KeyError and IndexError.
    gateway = {"WWW-Authenticate": 'Basic realm="edge"'}
    reddit.script("/r/HomeNetworking/search", Reply(403, b'{"message": "Forbidden", "error": 403}', gateway))
    unauthorized = Reply(401, b'{"message": "Unauthorized", "error": 401}')
    reddit.script("/r/UKBroadband/comments", unauthorized, unauthorized, unauthorized)  # praw tries 3 times

    run, _ = _collect(reddit, fast_http)

    # The token was refused mid-run: the source fails, blaming the credentials, and keeps what it had read.
    assert run.status == "failed"
    assert run.error.startswith("Reddit rejected the token of the reddit_default connection (HTTP 401 (Unauthorized) "
                                "from /r/UKBroadband/comments)")
    assert BRAND_POSTS - {"reddit:t3_1opz3k9", "reddit:t3_1oqe4pj"} <= _keys(run)
    assert run.warnings == [HOME_NETWORKING_SKIPPED]


@pytest.mark.parametrize("refusal", [forbidden(), Reply(400, b'{"error": "invalid_grant"}')])
def test_only_the_token_endpoint_refusing_blames_the_credentials(
    reddit: FakeRedditApi, fast_http: HttpSettings, refusal: Reply
) -> None:
    reddit.script(TOKEN_PATH, refusal)

    run, _ = _collect(reddit, fast_http)

    assert run.status == "failed"
    assert run.error.startswith(f"Reddit rejected the reddit_default credentials (HTTP {refusal.status} (")
    assert "from /api/v1/access_token); set the reddit_default Airflow connection" in run.error


def test_a_deleted_account_is_not_a_deleted_post_and_a_deleted_posts_comments_are_read(
    reddit: FakeRedditApi, fast_http: HttpSettings
) -> None:
    reddit.delete_account("bristol_bee")  # wrote the Brightwave vs Skylark Fibre post
    reddit.delete_account("phone_it_in")  # wrote a reply in the outage thread
    reddit.delete("t3_1opz3k9")  # the Tidewell hub post, deleted by its author; its two comments stay

    run, _ = _collect(reddit, fast_http)

    assert run.status == "ok"
    assert _keys(run) == EVERYTHING - {"reddit:t3_1opz3k9"}
    assert sorted(run.deleted_keys) == sorted([*GONE, "reddit:t3_1opz3k9"])
    post = next(mention for mention in run.mentions if mention.key == "reddit:t3_1ophx4c")
    reply = next(mention for mention in run.mentions if mention.key == "reddit:t1_lqa1b02")
    assert (post.author_handle, post.author_name) == (None, None)
    assert post.title == "Brightwave vs Skylark Fibre in Bristol – which one?"
    assert (reply.author_handle, reply.author_name) == (None, None)
    assert reply.text == "The chat bot is useless. Rang the 0800 number and got a human in five minutes."
    assert {"reddit:t1_lq9z301", "reddit:t1_lq9z302"} <= _keys(run)


def test_hidden_scores_are_unknown_and_comments_without_permalink_get_a_url(
    reddit: FakeRedditApi, fast_http: HttpSettings
) -> None:
    outage, created = "t3_1oq7b2x", _epoch("2026-10-31T09:00:00+00:00")
    reddit.add(
        posts=[{
            "id": "1oqa2hs", "subreddit": "UKBroadband", "subreddit_name_prefixed": "r/UKBroadband",
            "title": "Brightwave hub light codes?", "selftext": "", "author": "blinky", "created_utc": created,
            "permalink": "/r/UKBroadband/comments/1oqa2hs/x/", "score": 1, "hide_score": True, "upvote_ratio": 1.0,
            "subreddit_subscribers": 48210,
        }],
        comments=[
            {"id": "lqa1b06", "link_id": outage, "parent_id": outage, "author": "fresh_take",
             "body": "Back up in LS6 now", "created_utc": created, "score": 1, "score_hidden": True,
             "permalink": "/r/UKBroadband/comments/1oq7b2x/brightwave_down_in_leeds_again/lqa1b06/"},
            {"id": "lqa1b07", "link_id": outage, "parent_id": outage, "author": "old_client",
             "body": "Still down in LS4", "created_utc": created + 1, "score": 4, "score_hidden": False},
        ],
    )

    run, _ = _collect(reddit, fast_http)

    found = {mention.key: mention for mention in run.mentions}
    hidden_post, hidden, unlinked = found["reddit:t3_1oqa2hs"], found["reddit:t1_lqa1b06"], found["reddit:t1_lqa1b07"]
    # Reddit's placeholder score (1) is not engagement: the score is unknown until Reddit shows it.
    assert (hidden_post.score_hidden, hidden_post.engagement) == (True, {"comments": 0, "upvote_ratio": 1.0})
    assert (hidden.score_hidden, hidden.engagement) == (True, {})
    assert (unlinked.score_hidden, unlinked.engagement) == (False, {"score": 4})
    assert unlinked.url == f"{reddit.base_url}/comments/1oq7b2x/_/lqa1b07/"
    assert hidden.url == f"{reddit.base_url}/r/UKBroadband/comments/1oq7b2x/brightwave_down_in_leeds_again/lqa1b06/"


def test_error_pages_are_summarised_and_warned_once_per_cause(reddit: FakeRedditApi, fast_http: HttpSettings) -> None:
    reddit.script("/r/UKBroadband/search", *[html_error(400)] * 3)  # one per brand's search

    run, _ = _collect(reddit, fast_http, subreddits=["UKBroadband", "HomeNetworking", "NoSuchSub"])

    assert (run.status, run.error) == ("ok", None)
    assert run.warnings == [
        ("r/NoSuchSub cannot be read: HTTP 404 (Not Found: banned), a banned or missing subreddit; "
         "check source.subreddits; it was skipped"),
        ("Reddit answered /r/UKBroadband/search with HTTP 400 (Bad request); check the source's settings; "
         "the rest was still read"),
    ]
    assert BRAND_POSTS <= _keys(run)  # found sitewide
    assert len(reddit.requests_to("/r/NoSuchSub/search")) == 1 and reddit.requests_to("/r/NoSuchSub/comments") == []


def test_a_source_whose_every_search_is_refused_fails_with_the_summary(
    reddit: FakeRedditApi, fast_http: HttpSettings
) -> None:
    reddit.script("/search", *[html_error(400)] * 3)

    run, _ = _collect(reddit, fast_http, subreddits=[])

    assert (run.status, run.mentions, run.cursor) == ("failed", [], None)
    assert run.error == "Reddit answered /search with HTTP 400 (Bad request); check the source's settings"


@pytest.mark.parametrize(("status", "body", "summary"), [
    (400, b"<html><body><h1>400 Bad request</h1>\nYour browser sent an invalid request.\n</body></html>\n",
     "HTTP 400 (Bad request)"),
    (403, b'{"message": "Forbidden", "error": 403}', "HTTP 403 (Forbidden)"),
    (403, b'{"reason": "quarantined", "quarantine_message": "...", "message": "Forbidden", "error": 403}',
     "HTTP 403 (Forbidden: quarantined)"),
    (503, b"<!doctype html><html><head><title>Reddit - 503</title></head><body>Our CDN was unable</body></html>",
     "HTTP 503 (Reddit - 503)"),
    # A title too long to be one (an echoed request, say) is left out whole, never cut.
    (401, b'{"message": "' + b"Authorization: Basic b3ZlcmhlYXJkOnNlY3JldA== " * 4 + b'"}', "HTTP 401 (Unauthorized)"),
    (502, b"", "HTTP 502 (Bad Gateway)"),
])
def test_error_answers_are_summarised_to_status_and_title(status: int, body: bytes, summary: str) -> None:
    response = requests.Response()
    response.status_code, response._content, response.reason = status, body, HTTPStatus(status).phrase

    assert answer_summary(response) == summary


def test_a_private_subreddit_is_skipped_with_a_warning(fast_http: HttpSettings) -> None:
    with FakeRedditApi.from_corpus(private_subreddits=["HomeNetworking"]) as reddit:
        run, _ = _collect(reddit, fast_http)

    assert run.status == "ok"
    assert run.warnings == ["r/HomeNetworking cannot be read: HTTP 403 (Forbidden: private); it was skipped"]
    assert STREAM_COMMENT not in _keys(run)
    assert "reddit:t3_1opz3k9" in _keys(run)  # still found by the sitewide search


def test_the_cap_stops_collection_with_a_warning(reddit: FakeRedditApi, fast_http: HttpSettings) -> None:
    run, _ = _collect(reddit, fast_http, max_items_per_run=10)

    assert (run.status, len(run.mentions)) == ("ok", 10)
    assert "stopped at max_items_per_run (10)" in run.warnings[0]


def test_posts_only_when_comments_are_off(reddit: FakeRedditApi, fast_http: HttpSettings) -> None:
    run, _ = _collect(reddit, fast_http, include_comments=False, sitewide=False, subreddits=["r/UKBroadband", "/r/HomeNetworking/"])

    assert _keys(run) == BRAND_POSTS - {"reddit:t3_1oqa1f7"}
    assert not any("/comments" in request.path for request in reddit.requests)


def test_search_queries_quote_phrases_and_drop_hash_and_at() -> None:
    assert search_queries(BRANDS[0]) == ['Brightwave OR "Brightwave Broadband" OR brightwavedown OR brightwavehelp']
    many = BrandConfig(name="Acme", aliases=[f"Acme product {n}" for n in range(40)])
    queries = search_queries(many)
    assert len(queries) == 2 and all(len(query) <= 512 for query in queries)
    assert sum(query.count('"') for query in queries) == 80


def test_thread_parsing_flattens_replies_and_counts_load_more() -> None:
    def comment(name: str, parent: str, replies: Any = "") -> dict[str, Any]:
        return {"kind": "t1", "data": {"name": name, "parent_id": parent, "link_id": "t3_p", "body": name,
                                       "author": "a", "created_utc": 1.0, "replies": replies}}

    listing = lambda *children: {"kind": "Listing", "data": {"after": None, "children": list(children)}}
    more = {"kind": "more", "data": {"count": 37, "children": ["x", "y"], "parent_id": "t3_p"}}
    payload = [
        listing({"kind": "t3", "data": {"name": "t3_p", "title": "p", "created_utc": 1.0}}),
        listing(comment("t1_a", "t3_p", listing(comment("t1_b", "t1_a"))), more),
    ]

    thread = parse_thread(payload, "/comments/p")

    assert [c["name"] for c in thread.comments] == ["t1_a", "t1_b"] and thread.more == 37
    assert "replies" not in thread.comments[0]


@pytest.mark.parametrize("payload", [{"kind": "t3"}, {"kind": "Listing", "data": {}}, [1, 2],
                                     {"kind": "Listing", "data": {"children": [{"kind": "t3", "data": {"name": "t3_x"}}]}}])
def test_unexpected_json_shapes_are_errors_naming_the_endpoint(payload: Any) -> None:
    with pytest.raises(TransientError, match="/r/UKBroadband/search"):
        parse_listing(payload, "/r/UKBroadband/search")


def test_deleted_and_removed_markers() -> None:
    assert is_gone({"author": "[deleted]", "body": "[deleted]"})
    assert is_gone({"author": "mod_team", "selftext": "[removed]"})
    assert not is_gone({"author": "someone", "selftext": ""})
    assert not is_gone({"author": "someone", "body": "the [removed] post was spam"})
