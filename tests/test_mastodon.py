"""Mastodon: `collect_mastodon` against two fake instances' tag timelines."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from collectors.context import CollectionContext
from collectors.mastodon import collect_mastodon
from config.loading import load_config
from config.model import HttpSettings, MastodonSource
from demo.fake_apis.public_apis import PublicApisServer
from transport.http import HttpClient

BRANDS = tuple(load_config(Path(__file__).resolve().parents[1] / "config" / "demo.yaml").all_brands)
NOV_1, NOV_2, NOV_3 = (datetime(2026, 11, day, tzinfo=UTC) for day in (1, 2, 3))
MASTODON_EXAMPLE = ["113449001000000001", "113449002000000002", "113449003000000003", "113449004000000004",
                    "113449006000000006"]
TOOT_EXAMPLE = ["113449001500000001", "113449007000000007"]


@pytest.fixture
def api() -> Iterator[PublicApisServer]:
    """The fake APIs, answering two statuses a page so that every timeline pages."""
    with PublicApisServer(page_size=2) as server:
        yield server


def collect(api: PublicApisServer, http: HttpSettings, cursor: Any = None, window: tuple[datetime, datetime] = (NOV_1, NOV_2),
            instances: tuple[str, ...] = ("mastodon.example", "toot.example"), **settings: Any):
    source = MastodonSource(kind="mastodon", name="fediverse", instances=[api.url("mastodon", name) for name in instances],
                            **settings)
    return collect_mastodon(source, cursor, CollectionContext(HttpClient(http), BRANDS, window))


def status(status_id: str, created_at: str, html: str, tag: str = "brightwave", **fields: Any) -> dict[str, Any]:
    return {"id": status_id, "created_at": created_at, "content": html, "url": f"https://mastodon.example/@new/{status_id}",
            "account": {"acct": "new", "display_name": "New", "followers_count": 3, "url": "https://mastodon.example/@new"},
            "tags": [{"name": tag}], **fields}


def timeline_requests(api: PublicApisServer, instance: str, tag: str) -> list[dict[str, str]]:
    return [request.params for request in api.requests if request.path == f"/mastodon/{instance}/api/v1/timelines/tag/{tag}"]


def ids(run: Any) -> list[str]:
    return sorted(mention.native_id.rsplit(":", 1)[1] for mention in run.mentions)


def test_first_run_reads_every_instance_and_tag_back_to_the_window_start(
    api: PublicApisServer, fast_http: HttpSettings
) -> None:
    run = collect(api, fast_http)

    assert (run.status, run.error, run.warnings) == ("ok", None, [])
    # The 30 October status is before the window; the #surfing one is on no brand timeline.
    assert ids(run) == sorted(MASTODON_EXAMPLE + TOOT_EXAMPLE)
    by_id = {mention.native_id: mention for mention in run.mentions}
    kez, reply = by_id["127.0.0.1:113449001000000001"], by_id["127.0.0.1:113449002000000002"]
    priya, french = by_id["127.0.0.1:113449003000000003"], by_id["127.0.0.1:113449004000000004"]
    assert (kez.key, kez.url, kez.text, kez.author_handle, kez.author_name, kez.author_followers, kez.engagement) == (
        "mastodon:127.0.0.1:113449001000000001",
        "https://mastodon.example/@kez/113449001000000001",
        "Third #BrightwaveDown this week. Router lights all green, nothing loads. 😤",
        "@kez@mastodon.example",
        "Kez 🌊",
        312,
        {"replies": 1, "reblogs": 4, "favourites": 9},
    )
    assert kez.published_at == datetime(2026, 11, 1, 8, 15, tzinfo=UTC)
    assert (reply.author_handle, reply.parent_id, reply.text) == (
        "@anna@toot.example", kez.key, "@kez same here in Leeds since Friday. #brightwavedown"
    )
    assert (french.lang_hint, french.text) == (
        "fr", "La fibre #SkylarkFibre est enfin installée chez nous à Leeds. Très rapide, zéro coupure 👌"
    )
    assert priya.text == "Moved to #tidewell last month; the install took 20 minutes. Speed test: 940 Mbps ⚡"
    assert run.cursor["min_ids"][api.url("mastodon", "toot.example")] == {
        "brightwave": "113449001500000001", "skylarkfibre": "113449007000000007"
    }


def test_timelines_are_the_brands_hashtags_paged_through_the_link_header(api: PublicApisServer, fast_http: HttpSettings) -> None:
    collect(api, fast_http, instances=("mastodon.example",))

    paths = [request.path.rsplit("/", 1)[1] for request in api.requests_to("/mastodon/")]
    assert list(dict.fromkeys(paths)) == ["brightwave", "brightwavedown", "skylarkfibre", "tidewell"]
    brightwave = timeline_requests(api, "mastodon.example", "brightwave")
    # Page 1: the newest (16:20 and 30 Oct); the 30 October status ends the read: no page 2.
    assert brightwave == [{"limit": "40"}]
    brightwavedown = timeline_requests(api, "mastodon.example", "brightwavedown")
    assert brightwavedown == [{"limit": "40"}, {"limit": "2", "max_id": "113449001000000001"}]  # the Link "next"


def test_the_source_hashtags_replace_the_brands(api: PublicApisServer, fast_http: HttpSettings) -> None:
    run = collect(api, fast_http, hashtags=["#Tidewell"])

    assert ids(run) == ["113449003000000003"]
    assert {request.path.rsplit("/", 1)[1] for request in api.requests_to("/mastodon/")} == {"tidewell"}


def test_next_run_reads_forward_from_the_newest_status_seen(api: PublicApisServer, fast_http: HttpSettings) -> None:
    first = collect(api, fast_http)
    api.mastodon["mastodon.example"] += [
        status("113460000000000001", "2026-11-02T09:00:00.000Z", "<p>Brightwave is back up 🎉</p>"),
        status("113460000000000002", "2026-11-02T10:00:00.000Z", "<p>Still down here.</p>"),
        status("113460000000000003", "2026-11-02T11:00:00.000Z", "<p>And again.</p>"),
        status("113470000000000001", "2026-11-03T09:00:00.000Z", "<p>Tomorrow's news.</p>"),
    ]

    second = collect(api, fast_http, first.cursor, window=(NOV_2, NOV_3))
    third = collect(api, fast_http, second.cursor, window=(NOV_2, NOV_3))

    assert ids(second) == ["113460000000000001", "113460000000000002", "113460000000000003"]
    assert second.mentions[0].text == "Brightwave is back up 🎉"
    forward = timeline_requests(api, "mastodon.example", "brightwave")[-3:]
    assert forward == [{"limit": "40", "min_id": "113449006000000006"},  # second run: 09:00 and 10:00,
                       {"limit": "2", "min_id": "113460000000000002"},   # then the Link "prev" (newer): 11:00 and
                       {"limit": "40", "min_id": "113460000000000003"}]  # 3 Nov, which waits; third run
    assert (third.status, third.mentions) == ("empty", [])  # the 3 November status waits for its window
    assert third.cursor["min_ids"][api.url("mastodon", "mastodon.example")]["brightwave"] == "113460000000000003"


def test_a_run_that_stops_early_resumes_where_it_stopped(api: PublicApisServer, fast_http: HttpSettings) -> None:
    first = collect(api, fast_http)
    api.mastodon["mastodon.example"] += [
        status(f"11346{n:013d}", f"2026-11-02T{n:02d}:00:00.000Z", f"<p>Brightwave update {n}</p>") for n in range(12)
    ]

    second = collect(api, fast_http, first.cursor, window=(NOV_2, NOV_3), max_items_per_run=10)
    third = collect(api, fast_http, second.cursor, window=(NOV_2, NOV_3), max_items_per_run=10)

    assert [len(run.mentions) for run in (second, third)] == [10, 2]
    assert "max_items_per_run 10" in second.warnings[-1]
    assert sorted(ids(second) + ids(third)) == [f"11346{n:013d}" for n in range(12)]


def test_one_instance_down_is_a_warning_and_keeps_its_cursor(api: PublicApisServer, fast_http: HttpSettings) -> None:
    api.fail("/mastodon/toot.example/", 503, times=None)
    previous = {"min_ids": {api.url("mastodon", "toot.example"): {"brightwave": "113449000000000000"}}}

    run = collect(api, fast_http, previous)

    assert run.status == "ok"
    assert ids(run) == MASTODON_EXAMPLE
    assert len(run.warnings) == 1
    assert run.warnings[0].startswith(f"{api.url('mastodon', 'toot.example')} failed") and "HTTP 503" in run.warnings[0]
    assert run.cursor["min_ids"][api.url("mastodon", "toot.example")] == {"brightwave": "113449000000000000"}
    # The ledger: each instance asked with its hashtags; the one down is left out, to be read next run.
    assert run.asked == [f"{instance}: #brightwave #brightwavedown #skylarkfibre #tidewell" for instance in (
        api.url("mastodon", "mastodon.example"), api.url("mastodon", "toot.example"))]
    assert len(run.left_out) == 1 and run.left_out[0].startswith(f"{api.url('mastodon', 'toot.example')}: failed (")


@pytest.mark.parametrize(
    ("status_code", "body", "error"),
    [(503, b"", "HTTP 503 from"), (200, b"<html>Bad gateway</html>", "malformed JSON"),
     (200, b'{"error": "This method requires an authenticated user"}', "not a list of statuses")],
    ids=["persistent-5xx", "malformed-json", "not-a-timeline"],
)
def test_every_instance_failing_fails_the_source_naming_the_endpoints(
    api: PublicApisServer, fast_http: HttpSettings, status_code: int, body: bytes, error: str
) -> None:
    api.fail("/mastodon/", status_code, body, times=None)

    run = collect(api, fast_http)

    assert (run.status, run.mentions, run.cursor) == ("failed", [], None)
    assert error in run.error
    for name in ("mastodon.example", "toot.example"):
        assert f"{api.url('mastodon', name)}/api/v1/timelines/tag/brightwave?limit=40" in run.error


def test_a_server_error_then_success_is_retried(api: PublicApisServer, fast_http: HttpSettings) -> None:
    api.fail("/mastodon/mastodon.example/", 502)

    run = collect(api, fast_http)

    assert (run.status, run.warnings) == ("ok", [])
    assert ids(run) == sorted(MASTODON_EXAMPLE + TOOT_EXAMPLE)


def test_malformed_statuses_are_skipped_or_read_as_far_as_they_go(api: PublicApisServer, fast_http: HttpSettings) -> None:
    api.mastodon["mastodon.example"] += [
        {"id": "", "created_at": "2026-11-01T20:00:00.000Z", "tags": [{"name": "brightwave"}]},
        {"id": "113449009000000009", "created_at": "yesterday", "tags": [{"name": "brightwave"}], "account": None,
         "content": None, "replies_count": "many"},
    ]

    run = collect(api, fast_http, instances=("mastodon.example",))

    assert run.status == "ok"
    assert any("1 statuses without an id skipped" in warning for warning in run.warnings)
    bare = next(mention for mention in run.mentions if mention.native_id.endswith("113449009000000009"))
    assert (bare.text, bare.author_handle, bare.published_at, bare.engagement, bare.url) == ("", None, None, {}, None)
