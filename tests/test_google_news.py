"""Google News: `collect_google_news` against the fake RSS search."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from collectors.context import CollectionContext
from collectors.google_news import collect_google_news, search_url
from collectors.search_terms import or_query
from config.loading import load_config
from config.model import GoogleNewsSource, HttpSettings
from demo.fake_apis.public_apis import PublicApisServer, google_news_guid
from transport.http import HttpClient

BRANDS = tuple(load_config(Path(__file__).resolve().parents[1] / "config" / "demo.yaml").all_brands)
NOV_1, NOV_2, NOV_3 = (datetime(2026, 11, day, tzinfo=UTC) for day in (1, 2, 3))
QUERIES = ['Brightwave OR "Brightwave Broadband" OR #brightwave OR #brightwavedown', '"Skylark Fibre" OR #skylarkfibre',
           'Tidewell OR "Tidewell Telecom" OR #tidewell']


@pytest.fixture
def api() -> Iterator[PublicApisServer]:
    with PublicApisServer() as server:
        yield server


def collect(api: PublicApisServer, http: HttpSettings, cursor: Any = None, window: tuple[datetime, datetime] = (NOV_1, NOV_2),
            **settings: Any):
    source = GoogleNewsSource(kind="google_news", name="gnews", base_url=api.url("google_news"), **settings)
    return collect_google_news(source, cursor, CollectionContext(HttpClient(http), BRANDS, window))


def link(article_url: str) -> str:
    return f"https://news.google.com/rss/articles/{google_news_guid(article_url)}?oc=5"


def headlines(run: Any) -> list[str]:
    return sorted(mention.title for mention in run.mentions)


def test_one_search_per_brand_in_the_configured_edition(api: PublicApisServer, fast_http: HttpSettings) -> None:
    collect(api, fast_http, language="en-US", country="US")

    searches = api.requests_to("/gnews/rss/search")
    assert [or_query(brand) for brand in BRANDS] == QUERIES
    assert [request.params for request in searches] == [
        {"q": query, "hl": "en-US", "gl": "US", "ceid": "US:en"} for query in QUERIES
    ]
    source = GoogleNewsSource(kind="google_news", name="gnews", base_url="https://news.google.com/")
    assert search_url(source, QUERIES[1]) == (
        "https://news.google.com/rss/search?q=%22Skylark%20Fibre%22%20OR%20%23skylarkfibre&hl=en-GB&gl=GB&ceid=GB:en"
    )


def test_items_are_news_mentions_keyed_by_link_with_the_publisher_as_author(
    api: PublicApisServer, fast_http: HttpSettings
) -> None:
    run = collect(api, fast_http)

    assert (run.status, run.error, run.warnings, run.items_fetched) == ("ok", None, [], 6)
    # "A bright wave of interest" is not found; "the Tidewells' garden" is, as loosely as Google
    # finds it (enrich drops it). The article naming Brightwave and Tidewell is one mention.
    assert headlines(run) == [
        "Brightwave Broadband to raise prices by 12% from January",
        "Brightwave and Tidewell both miss Ofcom’s repair-time targets",
        "Skylark Fibre passes one million homes 🎉 as its rollout speeds up",
        "Tidewell Telecom results: customer churn falls to 1.1%",
        "Why the Tidewells’ garden wins ‘best on the street’ every year",
    ]
    price_rise = next(mention for mention in run.mentions if mention.title.startswith("Brightwave Broadband"))
    assert (price_rise.platform, price_rise.key, price_rise.url, price_rise.text, price_rise.author_name) == (
        "news",
        link("https://telecomdesk.example/2026/11/01/brightwave-price-rise"),
        link("https://telecomdesk.example/2026/11/01/brightwave-price-rise"),
        "Brightwave Broadband to raise prices by 12% from January",
        "The Telecom Desk",
    )
    assert price_rise.published_at == datetime(2026, 11, 1, 7, 30, tzinfo=UTC)
    assert (price_rise.publisher, price_rise.extras["publisher_url"], price_rise.extras["query"]) == (
        "The Telecom Desk", "https://telecomdesk.example", QUERIES[0]
    )


def test_next_poll_is_conditional_and_collects_only_new_articles(api: PublicApisServer, fast_http: HttpSettings) -> None:
    first = collect(api, fast_http)
    unchanged = collect(api, fast_http, first.cursor)
    api.google_news.append({
        "headline": "Brightwave restores service after overnight outage 😌", "publisher": "The Telecom Desk",
        "publisher_url": "https://telecomdesk.example", "article_url": "https://telecomdesk.example/brightwave-restored",
        "published": "2026-11-02T08:00:00Z",
    })

    changed = collect(api, fast_http, unchanged.cursor, window=(NOV_2, NOV_3))

    assert (unchanged.status, unchanged.mentions, unchanged.cursor) == ("ok", [], first.cursor)
    conditional = api.requests_to("/gnews/")[len(QUERIES):]
    assert [request.headers.get("if-none-match") for request in conditional] == [
        first.cursor["queries"][query]["etag"] for query in QUERIES * 2
    ]
    assert headlines(changed) == ["Brightwave restores service after overnight outage 😌"]
    assert len(changed.cursor["queries"][QUERIES[0]]["seen"]) == 3


def test_articles_after_the_window_wait_for_the_next_run(api: PublicApisServer, fast_http: HttpSettings) -> None:
    api.google_news.append({
        "headline": "Skylark Fibre announces Welsh expansion", "publisher": "North Star News",
        "publisher_url": "https://northstar.example", "article_url": "https://northstar.example/skylark-wales",
        "published": "2026-11-02T06:00:00Z",
    })

    first = collect(api, fast_http)
    second = collect(api, fast_http, first.cursor, window=(NOV_2, NOV_3))

    assert "Skylark Fibre announces Welsh expansion" not in headlines(first)
    assert headlines(second) == ["Skylark Fibre announces Welsh expansion"]


def test_a_server_error_then_success_is_retried(api: PublicApisServer, fast_http: HttpSettings) -> None:
    api.fail("/gnews/", 503)

    run = collect(api, fast_http)

    assert (run.status, run.warnings, len(run.mentions)) == ("ok", [], 5)


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [(503, b"", "HTTP 503 from"), (200, b"<html><body>Sorry, unusual traffic</body></html>", "did not return RSS or Atom")],
    ids=["persistent-5xx", "not-a-feed"],
)
def test_a_failing_search_fails_the_source_naming_the_endpoint(
    api: PublicApisServer, fast_http: HttpSettings, status: int, body: bytes, error: str
) -> None:
    api.fail("/gnews/", status, body, times=None)

    run = collect(api, fast_http)

    assert (run.status, run.mentions, run.cursor) == ("failed", [], None)
    assert error in run.error and f"{api.url('google_news')}/rss/search?q=Brightwave%20OR" in run.error


def test_one_failing_search_is_a_warning_and_keeps_its_cursor(api: PublicApisServer, fast_http: HttpSettings) -> None:
    first = collect(api, fast_http)
    api.google_news.append({
        "headline": "Tidewell cuts prices", "publisher": "Market Ledger", "publisher_url": "https://marketledger.example",
        "article_url": "https://marketledger.example/tidewell-cuts", "published": "2026-11-02T07:00:00Z",
    })
    api.fail("/gnews/", 404)  # the Brightwave search

    second = collect(api, fast_http, first.cursor, window=(NOV_2, NOV_3))

    assert (second.status, headlines(second)) == ("ok", ["Tidewell cuts prices"])
    assert "HTTP 404" in second.warnings[0] and QUERIES[0] in second.warnings[0]
    assert second.cursor["queries"][QUERIES[0]] == first.cursor["queries"][QUERIES[0]]
