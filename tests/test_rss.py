"""RSS and Atom: `parse_feed` on a corpus of fixture feeds, `collect_feed` against a local server.

Each file in tests/fixtures/feeds/ carries its own expectation in a leading XML comment, in the file's
own encoding (feedparser's test corpus does the same):

    Description: what the case is about
    Content-Type: a header to parse it under (one line per header; each is a test case)
    Expect: JSON {"mentions": [fields of each mention, as in Mention.to_json()],
                  "warnings": [a fragment of each warning, in order]}

Adding a case is adding a file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from collectors.http import HttpClient
from collectors.rss import collect_feed, parse_feed
from config.model import FeedSource, HttpSettings
from tests.local_http import LocalHttpServer, Reply, Request

FEEDS = Path(__file__).parent / "fixtures" / "feeds"
FEED_URL = "https://news.example.com/feeds/main.xml"
ACME_FEED = (FEEDS / "relative_links.xml").read_bytes()
LAST_MODIFIED = "Wed, 01 May 2024 10:00:00 GMT"


def _case(path: Path) -> dict[str, Any]:
    """The Description, Content-Types and Expect that a corpus file declares about itself."""
    body = path.read_bytes()
    declared = re.search(rb'<\?xml[^>]*encoding="([\w.-]+)"', body)
    comment = body.decode(declared.group(1).decode() if declared else "utf-8").split("<!--", 1)[1].split("-->", 1)[0]
    head, expect = comment.split("Expect:", 1)
    return {
        "content_types": re.findall(r"^Content-Type:\s*(.+?)\s*$", head, re.MULTILINE),
        "expect": json.loads(expect),
    }


def _corpus() -> Iterator[Any]:
    for path in sorted(FEEDS.iterdir()):
        for content_type in _case(path)["content_types"]:
            yield pytest.param(path, content_type, id=f"{path.name} as {content_type}")


@pytest.mark.parametrize(("path", "content_type"), list(_corpus()))
def test_feed_corpus(path: Path, content_type: str) -> None:
    expect = _case(path)["expect"]

    parsed = parse_feed(path.read_bytes(), "acme-news", FEED_URL, {"Content-Type": content_type})

    mentions = [mention.to_json() for mention in parsed.mentions]
    assert len(mentions) == len(expect["mentions"]), [mention["title"] for mention in mentions]
    assert [{name: actual[name] for name in wanted} for actual, wanted in zip(mentions, expect["mentions"])] == expect[
        "mentions"
    ]
    assert len(parsed.warnings) == len(expect["warnings"]), parsed.warnings
    for fragment, warning in zip(expect["warnings"], parsed.warnings):
        assert fragment in warning


def test_second_poll_is_conditional_and_not_modified_changes_nothing(
    http_server: LocalHttpServer, fast_http: HttpSettings
) -> None:
    def feed(request: Request) -> Reply:
        if request.headers.get("if-none-match") == '"v1"' and request.headers.get("if-modified-since") == LAST_MODIFIED:
            return Reply(304)
        headers = {"Content-Type": "application/rss+xml", "ETag": '"v1"', "Last-Modified": LAST_MODIFIED}
        return Reply(200, ACME_FEED, headers)

    source = FeedSource(kind="rss", name="acme-news", url=http_server.route("/feed.xml", feed))
    client = HttpClient(fast_http)

    first = collect_feed(source, None, client)
    second = collect_feed(source, first.cursor, client)

    assert (first.status, [mention.title for mention in first.mentions]) == (
        "ok",
        ["Acme launches its reusable rocket", "Review: Acme boosters"],
    )
    assert first.cursor == {"etag": '"v1"', "last_modified": LAST_MODIFIED}
    unconditional, conditional = (request.headers for request in http_server.requests_for("/feed.xml"))
    assert "if-none-match" not in unconditional and "if-modified-since" not in unconditional
    assert (conditional["if-none-match"], conditional["if-modified-since"]) == ('"v1"', LAST_MODIFIED)
    assert (second.status, second.mentions, second.cursor, second.warnings) == ("ok", [], first.cursor, [])


HTML_PAGE = b"<!DOCTYPE html><html><head><title>Acme</title></head><body><h1>Welcome to Acme</h1></body></html>"


@pytest.mark.parametrize(
    ("reply", "settings", "error", "attempts"),
    [
        (Reply(200, HTML_PAGE, {"Content-Type": "text/html; charset=utf-8"}), {}, "did not return RSS or Atom", 1),
        (Reply(500, b"Internal Server Error"), {}, "HTTP 500 from", 3),
        (Reply(200, ACME_FEED, delay=0.6), {"timeout_seconds": 0.2, "max_retries": 1}, "after 2 attempts: timed out", 2),
        (Reply(200, ACME_FEED), {"max_body_bytes": 1000}, "sent more than 1,000 bytes; raise http.max_body_bytes", 1),
    ],
    ids=["html-page", "http-500", "timeout", "body-too-large"],
)
def test_failed_poll_says_why_and_keeps_the_stored_cursor(
    http_server: LocalHttpServer,
    fast_http: HttpSettings,
    reply: Reply,
    settings: dict[str, Any],
    error: str,
    attempts: int,
) -> None:
    url = http_server.route("/feed.xml", reply)
    source = FeedSource(kind="rss", name="acme-news", url=url)

    run = collect_feed(source, {"etag": '"v0"', "last_modified": None}, HttpClient(fast_http.model_copy(update=settings)))

    assert (run.status, run.mentions, run.cursor) == ("failed", [], None)
    assert error in run.error and url in run.error
    assert len(http_server.requests_for("/feed.xml")) == attempts
