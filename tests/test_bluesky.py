"""Bluesky: `collect_bluesky` against the fake PDS (createSession + searchPosts)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from collectors.bluesky import collect_bluesky
from collectors.context import CollectionContext
from config.loading import load_config
from config.model import BlueskySource, HttpSettings
from demo.fake_apis.public_apis import PublicApisServer
from transport.http import HttpClient

BRANDS = tuple(load_config(Path(__file__).resolve().parents[1] / "config" / "demo.yaml").all_brands)
NOV_1, NOV_2, NOV_3 = (datetime(2026, 11, day, tzinfo=UTC) for day in (1, 2, 3))
HANDLE, APP_PASSWORD = "overheard-demo.bsky.social", "demo-2k4f-9qzt-w7mx"
TERMS = ["Brightwave", "#brightwave", "#brightwavedown", '"Skylark Fibre"', "#skylarkfibre", "Tidewell", "#tidewell"]
IN_WINDOW = ["3m4a2bwvjono1", "3m4a2cwhelp01", "3m4a3tidewell", "3m4a4skylark", "3m4a5pumpkins"]


@pytest.fixture
def api() -> Iterator[PublicApisServer]:
    """The fake APIs, answering two posts a page so that searches page."""
    with PublicApisServer(page_size=2) as server:
        yield server


def collect(api: PublicApisServer, http: HttpSettings, cursor: Any = None, window: tuple[datetime, datetime] = (NOV_1, NOV_2),
            credentials: dict[str, Any] | None = None, **settings: Any):
    source = BlueskySource(kind="bluesky", name="bsky", api_base_url=api.url("bluesky"), **settings)
    if credentials is None:
        credentials = {"bluesky_default": {"login": f"@{HANDLE}", "password": APP_PASSWORD, "host": None, "extra": {}}}
    return collect_bluesky(source, cursor, CollectionContext(HttpClient(http), BRANDS, window, credentials))


def searches(api: PublicApisServer) -> list[dict[str, str]]:
    return [request.params for request in api.requests if request.path.endswith("/app.bsky.feed.searchPosts")]


def rkeys(run: Any) -> list[str]:
    return sorted(mention.native_id.rsplit("/", 1)[1] for mention in run.mentions)


def test_without_an_app_password_the_source_is_skipped(api: PublicApisServer, fast_http: HttpSettings) -> None:
    run = collect(api, fast_http, credentials={"bluesky_default": {"login": HANDLE, "password": None}})

    assert (run.status, run.mentions, run.cursor) == ("skipped", [], None)
    assert run.error == ("no credentials: set the bluesky_default Airflow connection (login = handle, "
                         "password = app password) or AIRFLOW_CONN_BLUESKY_DEFAULT")
    assert api.requests == []


def test_a_refused_app_password_fails_with_a_message_that_never_holds_it(api: PublicApisServer, fast_http: HttpSettings) -> None:
    wrong = "wrong-pass-word-1234"

    run = collect(api, fast_http, credentials={"bluesky_default": {"login": HANDLE, "password": wrong}})

    assert (run.status, run.mentions, run.cursor) == ("failed", [], None)
    assert f"Bluesky refused the login of {HANDLE} (HTTP 401" in run.error
    assert "Invalid identifier or password" in run.error and "bluesky_default connection" in run.error
    assert wrong not in json.dumps(run.summary())
    assert searches(api) == []


def test_a_rejected_session_fails_the_source_naming_the_connection(api: PublicApisServer, fast_http: HttpSettings) -> None:
    api.fail("/bsky/xrpc/app.bsky.feed.searchPosts", 401, times=None)

    run = collect(api, fast_http)

    assert run.status == "failed"
    assert "Bluesky refused the session (HTTP 401 from" in run.error and "check the bluesky_default connection" in run.error
    assert APP_PASSWORD not in run.error


def test_logs_in_then_searches_each_term_in_the_window(api: PublicApisServer, fast_http: HttpSettings) -> None:
    api.page_size = 1
    run = collect(api, fast_http)

    login = api.requests[0]
    assert (login.method, login.path, json.loads(login.body)) == (
        "POST", "/bsky/xrpc/com.atproto.server.createSession", {"identifier": HANDLE, "password": APP_PASSWORD}
    )
    assert list(dict.fromkeys(params["q"] for params in searches(api))) == TERMS
    assert searches(api)[0] == {"q": "Brightwave", "sort": "latest", "since": "2026-11-01T00:00:00.000Z",
                                "until": "2026-11-02T00:00:00.000Z", "limit": "100"}
    assert all(request.headers["authorization"].startswith("Bearer access.")
               for request in api.requests if request.method == "GET")
    # 2 posts match "Brightwave" in the window (the reply names it too): one a page, through the API's cursor.
    assert [params.get("cursor") for params in searches(api) if params["q"] == "Brightwave"] == [None, "1"]
    assert (run.status, run.error, run.warnings) == ("ok", None, [])
    assert rkeys(run) == sorted(IN_WINDOW)  # not the 30 October post, not "a bright wave of nostalgia"


def test_posts_become_mentions_with_web_urls_replies_and_languages(api: PublicApisServer, fast_http: HttpSettings) -> None:
    run = collect(api, fast_http)

    by_rkey = {mention.native_id.rsplit("/", 1)[1]: mention for mention in run.mentions}
    jono, reply, spanish = by_rkey["3m4a2bwvjono1"], by_rkey["3m4a2cwhelp01"], by_rkey["3m4a4skylark"]
    assert (jono.key, jono.url, jono.text, jono.author_handle, jono.author_name, jono.engagement, jono.lang_hint) == (
        "bluesky:at://did:plc:jonoleeds3v5r7t9x2z4b6d8/app.bsky.feed.post/3m4a2bwvjono1",
        "https://bsky.app/profile/jonoleeds.bsky.social/post/3m4a2bwvjono1",
        "Brightwave engineer came, looked at the hub, left. Still no internet 🙃 #brightwavedown",
        "@jonoleeds.bsky.social",
        "Jono 🚲",
        {"likes": 12, "replies": 1, "reposts": 2, "quotes": 0},
        "en",
    )
    assert jono.published_at == datetime(2026, 11, 1, 7, 45, 12, 345000, tzinfo=UTC)
    assert (reply.parent_id, reply.thread_id, reply.author_handle) == (jono.key, jono.key, "@brightwavehelp.bsky.social")
    assert (spanish.lang_hint, spanish.text, spanish.author_name) == (
        "es", "¡Skylark Fibre ya está en mi calle! 🎉 #skylarkfibre", "Carmen 🇪🇸"
    )


def test_next_run_reads_only_posts_newer_than_the_last_seen(api: PublicApisServer, fast_http: HttpSettings) -> None:
    first = collect(api, fast_http)
    # The newest "Tidewell" post was at 19:30:00.000: another one in that very millisecond, and one the next day.
    same_moment = {**api.bluesky[4], "uri": "at://did:plc:halloweenfan8k0m2p4r6t/app.bsky.feed.post/3m4a5samemoment"}
    tomorrow = {**api.bluesky[0], "uri": "at://did:plc:jonoleeds3v5r7t9x2z4b6d8/app.bsky.feed.post/3m4b1fixed",
                "record": {"text": "Brightwave fixed it. Thank you 💙", "createdAt": "2026-11-02T09:00:00.000Z"},
                "indexedAt": "2026-11-02T09:00:00.500Z"}
    api.bluesky += [same_moment, tomorrow]

    second = collect(api, fast_http, first.cursor, window=(NOV_2, NOV_3))
    third = collect(api, fast_http, second.cursor, window=(NOV_2, NOV_3))

    assert rkeys(second) == ["3m4a5samemoment", "3m4b1fixed"]
    assert [params["since"] for params in searches(api) if params["q"] == "Tidewell"][-1] == "2026-11-01T19:30:00.000Z"
    assert (third.status, third.mentions) == ("empty", [])


def test_a_run_that_stops_early_leaves_a_gap_the_next_run_reads(api: PublicApisServer, fast_http: HttpSettings) -> None:
    template = api.bluesky[0]
    api.bluesky += [{**template, "uri": f"at://did:plc:jonoleeds3v5r7t9x2z4b6d8/app.bsky.feed.post/3m4zz{n:02d}",
                     "record": {"text": f"Brightwave update {n}", "createdAt": f"2026-11-01T{n + 2:02d}:00:00.000Z"},
                     "indexedAt": f"2026-11-01T{n + 2:02d}:00:01.000Z"} for n in range(12)]

    runs = [collect(api, fast_http, max_items_per_run=10)]
    for _ in range(2):
        runs.append(collect(api, fast_http, runs[-1].cursor, max_items_per_run=10))

    assert "max_items_per_run 10" in runs[0].warnings[-1]
    assert [len(run.mentions) for run in runs] == [10, 8, 0]
    collected = [key for run in runs for key in rkeys(run)]
    assert sorted(set(collected)) == sorted(IN_WINDOW + [f"3m4zz{n:02d}" for n in range(12)])
    # Each term reads a post once; Jono's post is found by "Brightwave" and by "#brightwavedown".
    assert sorted(collected) == sorted([*set(collected), "3m4a2bwvjono1"])


def test_server_errors_then_success_are_retried(api: PublicApisServer, fast_http: HttpSettings) -> None:
    api.fail("/bsky/xrpc/com.atproto.server.createSession", 503)
    api.fail("/bsky/xrpc/app.bsky.feed.searchPosts", 502)

    run = collect(api, fast_http)

    assert (run.status, run.warnings, rkeys(run)) == ("ok", [], sorted(IN_WINDOW))


@pytest.mark.parametrize(
    ("path", "status", "body", "error"),
    [
        ("/bsky/xrpc/com.atproto.server.createSession", 503, b"", "HTTP 503 from"),
        ("/bsky/xrpc/app.bsky.feed.searchPosts", 503, b"", "HTTP 503 from"),
        ("/bsky/xrpc/app.bsky.feed.searchPosts", 200, b'{"posts": [{"uri": ', "malformed JSON"),
    ],
    ids=["login-5xx", "search-5xx", "search-malformed-json"],
)
def test_a_failing_service_fails_the_source_naming_the_endpoint(
    api: PublicApisServer, fast_http: HttpSettings, path: str, status: int, body: bytes, error: str
) -> None:
    api.fail(path, status, body, times=None)

    run = collect(api, fast_http)

    assert (run.status, run.mentions, run.cursor) == ("failed", [], None)
    assert error in run.error and api.base_url + path in run.error


def test_malformed_posts_are_skipped_with_a_warning(api: PublicApisServer, fast_http: HttpSettings) -> None:
    api.bluesky += [
        {"uri": "at://did:plc:x/app.bsky.feed.post/3m4nodate", "record": {"text": "Tidewell without a date"}},
        {"uri": "at://did:plc:y/app.bsky.feed.post/3m4bare", "record": {"text": "Tidewell, bare",
                                                                         "createdAt": "2026-11-01T21:00:00Z"},
         "indexedAt": "2026-11-01T21:00:00Z", "author": None, "likeCount": "lots"},
    ]

    run = collect(api, fast_http)

    assert run.status == "ok"
    assert any("without uri or createdAt" in warning and "3m4nodate" in warning for warning in run.warnings)
    bare = next(mention for mention in run.mentions if mention.native_id.endswith("3m4bare"))
    assert (bare.url, bare.author_handle, bare.engagement, bare.lang_hint) == (
        "https://bsky.app/profile/did:plc:y/post/3m4bare", None, {}, None
    )
