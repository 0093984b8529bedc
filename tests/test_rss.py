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
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from collectors.rss import collect_feed, content_digest, parse_feed
from config.model import FeedSource, HttpSettings
from core.mention import MAX_TEXT_CHARS
from tests.local_http import LocalHttpServer, Reply, Request
from transport.http import HttpClient

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
        (Reply(200, b"", {"Content-Type": "application/rss+xml"}), {}, "answered with an empty body, not RSS or Atom", 1),
        (Reply(500, b"Internal Server Error"), {}, "HTTP 500 from", 3),
        (Reply(200, ACME_FEED, delay=0.6), {"timeout_seconds": 0.2, "max_retries": 1}, "after 2 attempts: timed out", 2),
        (Reply(200, ACME_FEED), {"max_body_bytes": 1000}, "sent more than 1,000 bytes; raise http.max_body_bytes", 1),
    ],
    ids=["html-page", "empty-body", "http-500", "timeout", "body-too-large"],
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


def rss(*items: str, prolog: str = "", encoding: str = "utf-8", declare: bool = True) -> bytes:
    """An RSS 2.0 feed of the given `<item>` elements, in `encoding` (declared in the XML declaration or not)."""
    declaration = f'<?xml version="1.0" encoding="{encoding}"?>' if declare else '<?xml version="1.0"?>'
    channel = "<title>Example News</title><link>https://news.example.com/</link>" + "".join(items)
    return f'{declaration}{prolog}<rss version="2.0"><channel>{channel}</channel></rss>'.encode(encoding)


def item(title: str, link: str | None = None, description: str = "", extra: str = "") -> str:
    """One RSS `<item>`."""
    return (f"<item><title>{title}</title>" + (f"<link>{link}</link>" if link else "")
            + f"<description>{description}</description>{extra}</item>")


GOOD = item("Acme opens a factory", "https://news.example.com/acme-factory", "Acme builds rockets in Ohio.")
SERVED = {"Date": "Mon, 02 Nov 2026 12:00:00 GMT"}


@pytest.mark.parametrize(
    ("body", "warning"),
    [
        (rss(item("Acme \u2013 bad &#xD800; title", "https://news.example.com/bad-title"), GOOD),
         "1 character references to code points no text can hold (&#xD800;) were read as U+FFFD"),
        (rss(item("Acme on a bad port", "http://news.example.com:80x/acme"), GOOD),
         (f"{FEED_URL}: entry 1 ('http://news.example.com:80x/acme') skipped: 'http://news.example.com:80x/acme' "
         "is not a valid URL (Port could not be cast to integer value as '80x')")),
        (b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Example News</title>
<entry><id>tag:news.example.com,2026:far</id><title>Acme in the far future</title>
<link href="https://news.example.com/far"/><updated>9999-12-31T23:00:00-05:00</updated></entry>
<entry><id>tag:news.example.com,2026:factory</id><title>Acme opens a factory</title>
<link href="https://news.example.com/acme-factory"/><updated>2026-11-02T09:30:00Z</updated></entry></feed>""",
         (f"{FEED_URL}: entry 1 ('tag:news.example.com,2026:far') says it was published at '9999-12-31T23:00:00-05:00', "
         "more than a day after the feed was served (2026-11-02 12:00 UTC); that date is impossible and was dropped")),
        (rss(item("Acme next week", "https://news.example.com/next-week",
                  extra="<pubDate>Mon, 09 Nov 2026 12:00:00 GMT</pubDate>"),
             item("Acme opens a factory", "https://news.example.com/acme-factory",
                  extra="<pubDate>Mon, 02 Nov 2026 20:00:00 GMT</pubDate>")),  # 8 hours ahead: within the tolerance
         (f"{FEED_URL}: entry 1 ('https://news.example.com/next-week') says it was published at "
         "'Mon, 09 Nov 2026 12:00:00 GMT', more than a day after the feed was served")),
    ],
    ids=["surrogate-character-reference", "link-with-bad-port", "atom-date-in-year-10000", "date-a-week-ahead"],
)
def test_a_bad_entry_costs_only_itself(body: bytes, warning: str) -> None:
    parsed = parse_feed(body, "acme-news", FEED_URL, {"Content-Type": "application/rss+xml", **SERVED})

    assert "Acme opens a factory" in [mention.title for mention in parsed.mentions]
    assert [warning in found for found in parsed.warnings] == [True], parsed.warnings
    for mention in parsed.mentions:
        assert mention.published_at is None or mention.published_at <= datetime(2026, 11, 3, 12, tzinfo=UTC)
        assert mention.key  # every mention kept can be loaded


def test_one_entity_repeated_cannot_blow_a_feed_up() -> None:
    # 40 KB: an entity of 10,000 characters used 5,000 times would make one entry of 50 million.
    bomb = '\n<!DOCTYPE rss [\n<!ENTITY boom "' + "Acme " * 2_000 + '">\n]>\n'
    body = rss(GOOD, item("Acme boom", "https://news.example.com/boom", "&boom;" * 5_000),
               item("Acme hires", "https://news.example.com/hires", "Acme hires 200 engineers."), prolog=bomb)
    assert 35_000 < len(body) < 45_000

    started = time.perf_counter()
    parsed = parse_feed(body, "acme-news", FEED_URL, {"Content-Type": "application/rss+xml"})
    seconds = time.perf_counter() - started
    tracemalloc.start()  # a second parse, its memory traced (tracing slows it down many times over)
    parse_feed(body, "acme-news", FEED_URL, {"Content-Type": "application/rss+xml"})
    _, peak_bytes = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert [mention.title for mention in parsed.mentions] == ["Acme opens a factory", "Acme boom", "Acme hires"]
    assert all(len(mention.text) <= MAX_TEXT_CHARS for mention in parsed.mentions)
    assert parsed.warnings == [
        "the feed declares entities that would expand it by 50,000,000 characters; they were left unexpanded",
        "malformed feed (SAXParseException: <unknown>:3:331: undefined entity); read 3 entries anyway",
    ]
    assert seconds < 1 and peak_bytes < 20_000_000  # unguarded: 1.7 s and a 205 MB process


def test_text_beyond_the_cap_is_cut_and_marked() -> None:
    long_text = "Acme " * 30_000  # 150,000 characters
    body = rss(item("Acme at length", "https://news.example.com/long", long_text), GOOD)

    long, short = parse_feed(body, "acme-news", FEED_URL).mentions

    assert (len(long.text), long.text_truncated, long.to_json()["text_truncated"]) == (MAX_TEXT_CHARS, True, True)
    assert (short.text, short.text_truncated) == ("Acme builds rockets in Ohio.", False)


LEGACY_TEXT = {
    "big5": "台灣寬頻服務商 Acme 宣布漲價，用戶抱怨網路速度變慢。客服回應將在下週修復問題。",
    "euc_jp": "アクメの光回線が昨夜から不通になっています。サポートに電話してもつながりません。",
    "euc_kr": "아크미 인터넷이 어젯밤부터 끊겼습니다. 고객센터에 전화해도 연결이 되지 않습니다.",
    "gb2312": "宽带服务商 Acme 宣布涨价，用户抱怨网速变慢。客服表示将在下周修复问题。",
    "koi8_r": "Провайдер Acme повысил цены, пользователи жалуются на медленный интернет. Поддержка обещает исправить.",
}


@pytest.mark.parametrize("encoding", sorted(LEGACY_TEXT))
def test_an_undeclared_legacy_charset_is_detected_not_garbled(encoding: str) -> None:
    text = LEGACY_TEXT[encoding]
    body = rss(item(text[:20], "https://news.example.com/1", text), item(text[5:25], "https://news.example.com/2", text[::-1]),
               encoding=encoding, declare=False)

    parsed = parse_feed(body, "acme-news", FEED_URL, {"Content-Type": "application/rss+xml"})

    assert [(mention.title, mention.text) for mention in parsed.mentions] == [(text[:20], text), (text[5:25].strip(), text[::-1])]
    assert len(parsed.warnings) == 1
    assert parsed.warnings[0].startswith("the feed declares no character encoding and is not UTF-8; read as ")


def test_one_page_is_one_mention_and_an_entry_without_link_or_id_is_known_by_its_content() -> None:
    body = rss(
        item("Acme launches", "https://news.example.com/launch#top", "The launch."),
        item("Acme launches: comments", "https://news.example.com/launch#comments", "The comments."),
        item("Acme without a link", None, "No link, no guid."),
        item("Acme without a link", None, "No link, no guid, another text."),
    )

    first, second = (parse_feed(body, "acme-news", FEED_URL) for _ in range(2))

    assert [mention.key for mention in first.mentions] == [
        "https://news.example.com/launch",
        f"news:{content_digest('Acme without a link', 'No link, no guid.')}",
        f"news:{content_digest('Acme without a link', 'No link, no guid, another text.')}",
    ]
    assert [mention.key for mention in second.mentions] == [mention.key for mention in first.mentions]
    assert first.warnings == [
        (f"{FEED_URL}: entry 2 ('https://news.example.com/launch#comments') skipped: it links to "
        "https://news.example.com/launch, the page entry 1 links to, and one page is one mention (links that differ "
        "only by #fragment or tracking parameters are the same page)")
    ]
