"""Hacker News: `collect_hackernews` against the fake Algolia API, and the search-range cursor."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from collectors.context import CollectionContext
from collectors.hackernews import collect_hackernews
from collectors.search import SearchRange
from collectors.search_terms import separate_terms
from config.loading import load_config
from config.model import HackerNewsSource, HttpSettings
from demo.fake_apis.public_apis import PublicApisServer
from transport.http import HttpClient

BRANDS = tuple(load_config(Path(__file__).resolve().parents[1] / "config" / "demo.yaml").all_brands)
NOV_1, NOV_2, NOV_3 = (datetime(2026, 11, day, tzinfo=UTC) for day in (1, 2, 3))
IN_WINDOW = ["45210001", "45210042", "45210077", "45211500", "45211620", "45212000", "45212100"]


@pytest.fixture
def api() -> Iterator[PublicApisServer]:
    """The fake APIs, answering two items a page so that every search pages."""
    with PublicApisServer(page_size=2) as server:
        yield server


def collect(api: PublicApisServer, http: HttpSettings, cursor: Any = None, window: tuple[datetime, datetime] = (NOV_1, NOV_2),
            **settings: Any):
    source = HackerNewsSource(kind="hackernews", name="hn", api_base_url=api.url("hackernews"), **settings)
    return collect_hackernews(source, cursor, CollectionContext(HttpClient(http), BRANDS, window))


def hit(item_id: str, created: int, text: str, **fields: Any) -> dict[str, Any]:
    return {"objectID": item_id, "_tags": ["comment"], "created_at_i": created, "author": "newcomer",
            "comment_text": text, "parent_id": 45210001, "story_id": 45210001, **fields}


def test_first_run_collects_stories_and_comments_of_the_window(api: PublicApisServer, fast_http: HttpSettings) -> None:
    run = collect(api, fast_http)

    assert (run.status, run.error, run.warnings) == ("ok", None, [])
    # Out of the window (45190000) and not matching any term ("a bright wave", 45212200): absent.
    # "Brightwaves" and "the Tidewells" come back, as loose as Algolia's prefix search: enrich drops them.
    assert sorted(mention.native_id for mention in run.mentions) == IN_WINDOW
    assert run.deleted_keys == ["hackernews:45211900"]
    by_id = {mention.native_id: mention for mention in run.mentions}
    story, comment, reply, ask = by_id["45210001"], by_id["45210042"], by_id["45210077"], by_id["45211500"]
    assert (story.url, story.title, story.text, story.author_handle, story.engagement, story.thread_id, story.extras) == (
        "https://news.ycombinator.com/item?id=45210001",
        "Brightwave Broadband raises prices 12% mid-contract",
        "Brightwave Broadband raises prices 12% mid-contract",
        "pcollins",
        {"points": 142, "comments": 4},
        "hackernews:45210001",
        {"story_url": "https://techwire.example/articles/brightwave-price-rise"},
    )
    assert story.published_at == datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
    assert (comment.title, comment.text, comment.parent_id, comment.thread_id, comment.engagement) == (
        None,
        "Switched from Brightwave to Tidewell last spring. Tidewell's support actually answers the phone.",
        "hackernews:45210001",
        "hackernews:45210001",
        {},
    )
    assert comment.extras["story_title"] == "Brightwave Broadband raises prices 12% mid-contract"
    assert reply.parent_id == "hackernews:45210042"
    # Unicode and emoji survive; HTML becomes text, entities included.
    assert reply.text == "Tidewell's router firmware is a mess though 😬 — mine reboots every night at 03:00."
    assert ask.text == ("Ask HN: Is Skylark Fibre actually symmetric? Thinking of moving to Skylark Fibre in Leeds. "
                        "Has anyone measured upload speeds at peak time? Ça m’intéresse 🚀")


def test_one_search_per_term_paged_and_filtered_on_the_window(api: PublicApisServer, fast_http: HttpSettings) -> None:
    collect(api, fast_http)

    searches = [request.params for request in api.requests_to("/hn/api/v1/search_by_date")]
    terms = separate_terms(BRANDS, hashtags_as_words=True)
    assert terms == ['Brightwave', 'brightwavedown', '"Skylark Fibre"', 'skylarkfibre', 'Tidewell']
    assert list(dict.fromkeys(params["query"] for params in searches)) == terms
    assert {(params["tags"], params["numericFilters"], params["hitsPerPage"]) for params in searches} == {
        ("(story,comment)", "created_at_i>=1793491201,created_at_i<=1793577600", "100")
    }
    # "Brightwave" matches 4 items: two pages of two.
    assert [params["page"] for params in searches if params["query"] == "Brightwave"] == ["0", "1"]


def test_next_run_reads_only_what_is_new_including_items_in_the_same_second(
    api: PublicApisServer, fast_http: HttpSettings
) -> None:
    first = collect(api, fast_http)
    # 45212000 ("Show HN: Brightwaves") was the newest "Brightwave" item, at 1793545200: one more in
    # that very second, and one on the next day.
    api.hackernews += [hit("45212001", 1793545200, "Brightwave again, same second"),
                       hit("45230000", 1793606400, "Brightwave fixed it overnight 🎉")]

    second = collect(api, fast_http, first.cursor, window=(NOV_2, NOV_3))
    third = collect(api, fast_http, second.cursor, window=(NOV_2, NOV_3))

    assert sorted(mention.native_id for mention in second.mentions) == ["45212001", "45230000"]
    assert second.deleted_keys == []
    latest = [r.params for r in api.requests_to("/hn/") if r.params["query"] == "Brightwave"][-1]
    assert latest["numericFilters"] == "created_at_i>=1793606400,created_at_i<=1793664000"
    assert (third.status, third.mentions) == ("empty", [])


def test_a_run_that_stops_early_leaves_a_gap_the_next_run_reads(api: PublicApisServer, fast_http: HttpSettings) -> None:
    api.hackernews += [hit(f"4530{n:04d}", 1793520000 + n * 60, f"Brightwave comment number {n}") for n in range(12)]

    first = collect(api, fast_http, max_items_per_run=10)
    second = collect(api, fast_http, first.cursor, max_items_per_run=10)
    third = collect(api, fast_http, second.cursor, max_items_per_run=10)

    collected = [mention.native_id for run in (first, second, third) for mention in run.mentions]
    assert sorted(set(collected)) == sorted(IN_WINDOW + [f"4530{n:04d}" for n in range(12)])
    # Each term reads an item once. An item two terms find ("Switched from Brightwave to Tidewell")
    # comes back once per term when their searches reach it in different runs; its key upserts.
    assert sorted(collected) == sorted([*set(collected), "45210042"])
    assert first.items_fetched == 10 and "max_items_per_run 10" in first.warnings[-1]
    # The ledger: one search per term asked; what the cap left is left out of this run, read by the next.
    assert first.asked == [
        "search for Brightwave", "search for brightwavedown", 'search for "Skylark Fibre"', "search for skylarkfibre",
        "search for Tidewell",
    ]
    assert first.left_out == ["items past the first 10: max_items_per_run (10) or the time budget reached; read next run"]
    assert first.cursor["terms"]["Brightwave"][0]["high"] is not None  # the gap, read first next time
    assert third.cursor["terms"]["Brightwave"] == [{"low": 1793545200, "high": None, "seen": ["45212000"]}]


def test_a_spent_time_budget_reads_nothing_and_keeps_every_term_where_it_was(
    api: PublicApisServer, fast_http: HttpSettings
) -> None:
    source = HackerNewsSource(kind="hackernews", name="hn", api_base_url=api.url("hackernews"))
    context = CollectionContext(HttpClient(fast_http), BRANDS, (NOV_1, NOV_2), time_budget_seconds=0)

    run = collect_hackernews(source, None, context)

    assert (run.status, run.mentions, api.requests) == ("empty", [], [])
    assert run.cursor == {"terms": {term: [{"low": 1793491201, "high": None, "seen": []}]
                                    for term in separate_terms(BRANDS, hashtags_as_words=True)}}
    assert run.warnings == ["stopped after 0 items (max_items_per_run 500, or the time budget); the rest is read next run"]


def test_a_server_error_then_success_is_retried(api: PublicApisServer, fast_http: HttpSettings) -> None:
    api.fail("/hn/", 503)

    run = collect(api, fast_http)

    assert (run.status, run.warnings) == ("ok", [])
    assert sorted(mention.native_id for mention in run.mentions) == IN_WINDOW
    assert [r.params["page"] for r in api.requests_to("/hn/")][:2] == ["0", "0"]


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [(503, b"", "HTTP 503 from http://127.0.0.1"), (200, b'{"hits": [{"objectID": "1"', "malformed JSON")],
    ids=["persistent-5xx", "malformed-json"],
)
def test_a_failing_api_fails_the_source_naming_the_endpoint(
    api: PublicApisServer, fast_http: HttpSettings, status: int, body: bytes, error: str
) -> None:
    api.fail("/hn/", status, body, times=None)

    run = collect(api, fast_http, {"terms": {}})

    assert (run.status, run.mentions, run.cursor) == ("failed", [], None)
    assert error in run.error and f"{api.url('hackernews')}/search_by_date?query=" in run.error


def test_one_failing_term_is_a_warning_and_keeps_its_place(api: PublicApisServer, fast_http: HttpSettings) -> None:
    api.fail("/hn/", 404)  # the first search, for "Brightwave"

    run = collect(api, fast_http)

    assert run.status == "ok"
    assert "search for Brightwave failed" in run.warnings[0] and "HTTP 404" in run.warnings[0]
    assert run.cursor["terms"]["Brightwave"] == [{"low": 1793491201, "high": None, "seen": []}]
    assert "45212000" not in {mention.native_id for mention in run.mentions}  # only "Brightwave" found it


def test_malformed_hits_are_skipped_with_a_warning(api: PublicApisServer, fast_http: HttpSettings) -> None:
    api.hackernews += [
        {"_tags": ["comment"], "created_at_i": 1793520000, "comment_text": "Brightwave without an id"},
        hit("45220002", 1793520000, "Brightwave with odd counts", points="lots", num_comments=None, story_id=None),
    ]

    run = collect(api, fast_http)

    assert run.status == "ok"
    assert any("without objectID" in warning and "Brightwave without an id" in warning for warning in run.warnings)
    odd = next(mention for mention in run.mentions if mention.native_id == "45220002")
    assert (odd.engagement, odd.thread_id, odd.text) == ({}, None, "Brightwave with odd counts")


@pytest.mark.parametrize(
    ("search_range", "read", "complete", "left"),
    [
        # The open range read to its end moves up to the newest item, remembering who was there.
        (SearchRange(100), [(150, "a"), (150, "b"), (120, "c")], True, [SearchRange(150, None, ["a", "b"])]),
        # Nothing new: the open range stays.
        (SearchRange(100, None, ["x"]), [], True, [SearchRange(100, None, ["x"])]),
        # Stopped early: the older part is a gap, kept before the open range.
        (SearchRange(100), [(150, "a"), (140, "b")], False, [SearchRange(100, 140, ["b"]), SearchRange(150, None, ["a"])]),
        # A gap read to its end is gone; one read in part shrinks.
        (SearchRange(100, 140, ["b"]), [(130, "c")], True, []),
        (SearchRange(100, 140, ["b"]), [(130, "c"), (130, "d")], False, [SearchRange(100, 130, ["b", "c", "d"])]),
    ],
    ids=["open-complete", "open-nothing-new", "open-stopped", "gap-complete", "gap-stopped"],
)
def test_search_range_after_reading(search_range: SearchRange[int], read: list[tuple[int, str]], complete: bool,
                                    left: list[SearchRange[int]]) -> None:
    assert search_range.after_reading(read, complete) == left


def test_an_unreadable_stored_cursor_starts_from_the_window(api: PublicApisServer, fast_http: HttpSettings) -> None:
    run = collect(api, fast_http, {"terms": {"Brightwave": "not ranges", "Tidewell": [{"high": 5}]}})

    assert sorted(mention.native_id for mention in run.mentions) == IN_WINDOW
