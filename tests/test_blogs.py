"""Blogs: `extract_post` on fixture pages (publish times and bylines as real pages state them, each
page carrying its expectation), bounded extraction, discovery and `collect_blog` against a local site."""

from __future__ import annotations

import json
import re
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lxml.html
import pytest

from collectors.blogs import MAX_EXTRACTED_MARKUP_CHARS, bounded_page, collect_blog, discover_post_urls, extract_post
from collectors.source_run import QuotaUse
from config.model import BlogSource, HttpSettings
from core.time_budget import TimeBudget
from tests.local_http import LocalHttpServer, Reply
from transport.http import HttpClient

PAGES = Path(__file__).parent / "fixtures" / "pages"
# Post pages shaped like real ones, each opening with `<!-- expected: {json} -->`: the URL it was
# fetched from, and the publish time, its precision and the authors it states.
BLOG_PAGES = Path(__file__).parent / "fixtures" / "blogs"
HTML = {"Content-Type": "text/html; charset=utf-8"}
XML = {"Content-Type": "application/xml"}


def _post(title: str) -> Reply:
    body = (
        f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
        f"<p>{title} is about Acme rockets and the launches they flew this spring.</p></article></body></html>"
    )
    return Reply(200, body.encode(), HTML)


def _urlset(server: LocalHttpServer, *paths: str) -> Reply:
    urls = "".join(f"<url><loc>{server.base_url}{path}</loc></url>" for path in paths)
    body = f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
    return Reply(200, body.encode(), XML)


def _blog(server: LocalHttpServer, **settings: Any) -> BlogSource:
    return BlogSource(kind="blog", name="launch-notes", url=f"{server.base_url}/", **settings)


def _refused_port() -> int:
    """A port on 127.0.0.1 that nothing listens on: connections to it are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _posts_requested(server: LocalHttpServer) -> list[str]:
    return [request.path for request in server.requests if request.path.startswith(("/posts/", "/drafts/"))]


def test_extract_post_keeps_the_article_and_drops_navigation_sidebar_and_footer() -> None:
    html = (PAGES / "post.html").read_bytes()

    mention = extract_post(html, "https://launch-notes.example/posts/acme?utm_source=rss", "launch-notes")

    assert mention is not None
    assert (mention.title, mention.author_name, mention.published_at, mention.url) == (
        "Why we switched to Acme rockets",
        "Dana Okafor",
        datetime(2024, 3, 5, 9, 30, tzinfo=UTC),
        "https://launch-notes.example/posts/acme",
    )
    assert mention.text.splitlines() == [
        "After three failed launches with our old supplier, the team moved every mission to Acme rockets in January.",
        "The first Acme launch reached orbit on schedule, and the payload arrived without a scratch.",
        "We still miss the old mission patches, but nobody misses the delays.",
    ]
    for boilerplate in ("Archive of every rocket", "Ten sidebar teasers", "footer newsletter", "Copyright"):
        assert boilerplate not in mention.text


def test_robots_sitemap_index_and_second_run_fetching_only_new_posts(
    http_server: LocalHttpServer, fast_http: HttpSettings
) -> None:
    base = http_server.base_url
    robots = f"User-agent: *\nDisallow: /drafts/\n\nSitemap: {base}/sitemaps/index.xml\n"
    http_server.route("/robots.txt", Reply(200, robots.encode()))
    index = (
        '<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{base}/sitemaps/posts.xml</loc></sitemap></sitemapindex>"
    )
    http_server.route("/sitemaps/index.xml", Reply(200, index.encode(), XML))
    http_server.route(
        "/sitemaps/posts.xml",
        _urlset(http_server, "/", "/posts/first", "/drafts/unannounced", "/posts/second"),
        _urlset(http_server, "/", "/posts/first", "/drafts/unannounced", "/posts/second", "/posts/third"),
    )
    for path, title in [("/posts/first", "First"), ("/posts/second", "Second"), ("/posts/third", "Third")]:
        http_server.route(path, _post(title))
    http_server.route("/drafts/unannounced", _post("Unannounced"))
    source = _blog(http_server, discover=["sitemap"])

    first = collect_blog(source, None, HttpClient(fast_http))
    second = collect_blog(source, first.cursor, HttpClient(fast_http))

    assert (first.status, [mention.title for mention in first.mentions]) == ("ok", ["First", "Second"])
    assert first.warnings == []  # the disallowed draft is passed over, not a post that "failed"
    assert first.cursor == {"seen_urls": [f"{base}/posts/first", f"{base}/posts/second"]}
    assert (second.status, [mention.title for mention in second.mentions]) == ("ok", ["Third"])
    assert second.cursor == {"seen_urls": [f"{base}/posts/first", f"{base}/posts/second", f"{base}/posts/third"]}
    assert _posts_requested(http_server) == ["/posts/first", "/posts/second", "/posts/third"]
    assert len(http_server.requests_for("/robots.txt")) == 2  # once per run


def test_discovers_posts_through_the_autodiscovered_feed_and_the_sitemap_fallback(
    http_server: LocalHttpServer, fast_http: HttpSettings
) -> None:
    home = (
        '<html><head><title>Launch Notes</title><link rel="stylesheet" href="/style.css">'
        '<link rel="alternate" type="application/rss+xml" title="Posts" href="/feeds/posts.xml"></head>'
        "<body><h1>Launch Notes</h1></body></html>"
    )
    http_server.route("/", Reply(200, home.encode(), HTML))
    feed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Launch Notes</title>'
        "<item><title>From the feed</title><link>/posts/from-feed?utm_source=rss&amp;utm_medium=feed</link></item>"
        "<item><title>In both</title><link>/posts/in-both</link></item></channel></rss>"
    )
    http_server.route("/feeds/posts.xml", Reply(200, feed.encode(), {"Content-Type": "application/rss+xml"}))
    http_server.route("/sitemap.xml", _urlset(http_server, "/posts/in-both", "/posts/from-sitemap"))

    discovery = discover_post_urls(_blog(http_server), HttpClient(fast_http))

    base = http_server.base_url
    assert discovery.urls == [f"{base}/posts/from-feed", f"{base}/posts/in-both", f"{base}/posts/from-sitemap"]
    assert discovery.warnings == []


def test_max_pages_per_run_caps_fetching_and_warns_that_more_wait(
    http_server: LocalHttpServer, fast_http: HttpSettings
) -> None:
    http_server.route("/sitemap.xml", _urlset(http_server, "/posts/one", "/posts/two", "/posts/three"))
    for path, title in [("/posts/one", "One"), ("/posts/two", "Two"), ("/posts/three", "Three")]:
        http_server.route(path, _post(title))

    run = collect_blog(_blog(http_server, discover=["sitemap"], max_pages_per_run=2), None, HttpClient(fast_http))

    assert [mention.title for mention in run.mentions] == ["One", "Two"]
    assert _posts_requested(http_server) == ["/posts/one", "/posts/two"]
    assert run.warnings == ["1 more new posts wait for later runs (max_pages_per_run=2)"]
    assert run.cursor == {"seen_urls": [f"{http_server.base_url}/posts/one", f"{http_server.base_url}/posts/two"]}
    # The coverage ledger: the sitemap asked, 2 pages read of the run's 2, the third left out.
    assert run.asked == [f"sitemap of {http_server.base_url}/"]
    assert run.quota == QuotaUse("pages read", 2, 2, 0, "run")
    assert run.left_out == ["1 new posts past max_pages_per_run (2): read by later runs"]


def test_a_post_that_fails_stays_unseen_and_is_fetched_next_run(
    http_server: LocalHttpServer, fast_http: HttpSettings
) -> None:
    base = http_server.base_url
    http_server.route("/sitemap.xml", _urlset(http_server, "/posts/flaky", "/posts/steady"))
    failing = [Reply(500, b"Internal Server Error")] * (1 + fast_http.max_retries)
    http_server.route("/posts/flaky", *failing, _post("Flaky"))
    http_server.route("/posts/steady", _post("Steady"))
    source = _blog(http_server, discover=["sitemap"])

    first = collect_blog(source, None, HttpClient(fast_http))
    second = collect_blog(source, first.cursor, HttpClient(fast_http))

    assert (first.status, [mention.title for mention in first.mentions]) == ("ok", ["Steady"])
    assert first.warnings == [
        (f"post skipped until next run: HTTP 500 from {base}/posts/flaky; "
         "the server may be down; it will be tried again next run")
    ]
    assert first.cursor == {"seen_urls": [f"{base}/posts/steady"]}
    assert (second.status, [mention.title for mention in second.mentions]) == ("ok", ["Flaky"])
    assert second.cursor == {"seen_urls": [f"{base}/posts/flaky", f"{base}/posts/steady"]}


def test_a_site_where_every_discovery_route_fails_is_failed_naming_the_site(
    http_server: LocalHttpServer, fast_http: HttpSettings
) -> None:
    source = _blog(http_server)  # nothing routed: home page, robots.txt and sitemap.xml are all 404

    run = collect_blog(source, {"seen_urls": [f"{http_server.base_url}/posts/old"]}, HttpClient(fast_http))

    assert (run.status, run.mentions, run.cursor) == ("failed", [], None)
    assert run.error is not None
    assert run.error.startswith(f"no posts could be discovered on {source.url} (feed: HTTP 404 from {source.url};")
    assert f"sitemap: HTTP 404 from {http_server.base_url}/sitemap.xml;" in run.error


def test_a_post_that_is_gone_is_not_asked_for_again(http_server: LocalHttpServer, fast_http: HttpSettings) -> None:
    base = http_server.base_url
    http_server.route("/sitemap.xml", _urlset(http_server, "/posts/deleted", "/posts/steady"))
    http_server.route("/posts/steady", _post("Steady"))
    source = _blog(http_server, discover=["sitemap"])

    first = collect_blog(source, None, HttpClient(fast_http))
    second = collect_blog(source, first.cursor, HttpClient(fast_http))

    assert first.warnings == [f"post skipped for good: HTTP 404 from {base}/posts/deleted; check the URL in the config"]
    assert first.cursor == {"seen_urls": [f"{base}/posts/deleted", f"{base}/posts/steady"]}
    assert (second.status, second.mentions, second.warnings) == ("ok", [], [])
    assert _posts_requested(http_server) == ["/posts/deleted", "/posts/steady"]


def test_an_autodiscovered_feed_that_is_not_a_feed_fails_the_route(
    http_server: LocalHttpServer, fast_http: HttpSettings
) -> None:
    home = b'<html><head><link rel="alternate" type="application/rss+xml" href="/feed"></head><body>Hi</body></html>'
    http_server.route("/", Reply(200, home, HTML))
    http_server.route("/feed", Reply(200, b"<html><body>Log in to see the feed</body></html>", HTML))

    run = collect_blog(_blog(http_server, discover=["feed"]), None, HttpClient(fast_http))

    assert run.status == "failed"
    assert run.error is not None
    assert f"feed: {http_server.base_url}/feed, linked as the feed of {http_server.base_url}/, is not RSS or Atom" in run.error


@pytest.mark.parametrize("page", sorted(BLOG_PAGES.glob("*.html")), ids=lambda page: page.stem)
def test_publish_time_and_authors_are_what_the_page_states(page: Path) -> None:
    html = page.read_bytes()
    expected = json.loads(re.match(rb"<!-- expected: (.*?) -->", html).group(1))  # type: ignore[union-attr]

    mention = extract_post(html, expected["url"], "launch-notes")

    assert mention is not None
    assert (mention.published_at, mention.published_precision) == (
        datetime.fromisoformat(expected["published_at"]), expected["published_precision"]
    )
    assert mention.authors == expected["authors"]
    assert mention.author_handle == (expected["authors"] or [None])[0]


REPORT = [
    f"Paragraph {number} of the launch report: Acme rockets flew their {number}th mission of the season, and the "
    "crew wrote down what went right, what went wrong, and what the next flight will change before it leaves the pad."
    for number in range(1, 13)
]


def _big_post(size: int) -> bytes:
    """A post of about `size` bytes, shaped like a big real one: a large inline script, navigation, the
    article, then readers' updates and sidebars until the size."""
    head = (
        '<html><head><title>Launch report</title><meta property="article:published_time" content="2024-03-05T09:30:00-08:00">'
        '<script type="application/ld+json">{"@type": "BlogPosting", "author": {"@type": "Person", "name": "Dana Okafor"}}</script>'
        f"<script>var telemetry = [{'1,' * (size // 10)}0];</script></head>"
        '<body><header><nav><a href="/">Home</a> <a href="/news">News</a></nav></header><main><article><h1>Launch report</h1>'
        + "".join(f"<p>{paragraph}</p>" for paragraph in REPORT)
        + '</article><section class="updates">'
    )
    update = (
        '<div class="update"><span class="who">reader{n}</span> wrote at <time datetime="2024-03-05T10:00:00+00:00">'
        '10:00</time>: launch {n} was loud, and <a href="/u/{n}">this photo</a> shows the plume over the bay.</div>\n'
    )
    sidebar = '<aside class="sidebar"><ul><li><a href="/posts/{n}">More from the launch notes archive</a></li></ul></aside>\n'
    blocks = "".join((update if n % 4 else sidebar).format(n=n) for n in range(size // len(update)))
    return f"{head}{blocks}</section></main></body></html>".encode()


def test_a_huge_page_is_extracted_from_its_bounded_start() -> None:
    html = _big_post(8 * 1024 * 1024)

    mention = extract_post(html, "https://launch-notes.example/2024/03/05/launch-report", "launch-notes")
    page = bounded_page(html)

    assert mention is not None
    assert mention.text.splitlines()[:12] == REPORT
    assert (mention.text_truncated, mention.authors) == (True, ["Dana Okafor"])
    assert mention.published_at == datetime(2024, 3, 5, 17, 30, tzinfo=UTC)
    assert page is not None
    kept = lxml.html.tostring(page.tree, encoding="unicode")
    assert "telemetry" not in kept and '"Dana Okafor"' in kept  # scripts dropped, JSON-LD kept
    assert MAX_EXTRACTED_MARKUP_CHARS * 0.9 < len(lxml.html.tostring(page.tree.find("body"))) < MAX_EXTRACTED_MARKUP_CHARS * 1.1


def test_a_page_over_its_extraction_time_is_extracted_again_in_fast_mode_or_skipped_and_the_others_load(
    http_server: LocalHttpServer, fast_http: HttpSettings
) -> None:
    base = http_server.base_url
    http_server.route("/sitemap.xml", _urlset(http_server, "/posts/one", "/posts/launch-log", "/posts/two"))
    rows = "".join(f"<tr><td>Launch {n}</td><td>Acme rocket</td><td>{n * 3} kg</td></tr>\n" for n in range(8000))
    launch_log = (
        "<html><head><title>Launch log</title></head><body><main><article><h1>Launch log</h1>"
        + "".join(f"<p>{paragraph}</p>" for paragraph in REPORT)
        + f"</article><table>{rows}</table></main></body></html>"
    )
    # Here, 13 s of CPU in full (jusText's paragraph revision is quadratic in the rows), 0.4 s in fast mode.
    http_server.route("/posts/launch-log", Reply(200, launch_log.encode(), HTML))
    http_server.route("/posts/one", _post("One"))
    http_server.route("/posts/two", _post("Two"))
    roomy = HttpClient(fast_http.model_copy(update={"max_body_bytes": 1_000_000}))
    source = _blog(http_server, discover=["sitemap"])

    run = collect_blog(source, None, roomy, extraction_seconds=5)
    http_server.route("/sitemap.xml", _urlset(http_server, "/posts/launch-log"))
    hurried = collect_blog(source, None, roomy, extraction_seconds=0.01)

    assert (run.status, [mention.title for mention in run.mentions]) == ("ok", ["One", "Launch log", "Two"])
    assert run.mentions[1].text.splitlines()[:12] == REPORT
    assert run.warnings == [
        (f"{base}/posts/launch-log: extracting its text took longer than 5 s, the limit per page; it was extracted "
         "again in trafilatura's fast mode (no fallback extractors)")
    ]
    assert (hurried.status, hurried.mentions, hurried.cursor) == ("ok", [], {"seen_urls": [f"{base}/posts/launch-log"]})
    assert hurried.warnings == [
        (f"{base}/posts/launch-log: extracting its text took longer than 0.01 s, the limit per page; it was "
         "extracted again in trafilatura's fast mode (no fallback extractors)"),
        (f"post skipped for good: {base}/posts/launch-log: extracting its text in fast mode took longer than "
         "0.01 s, the limit per page"),
    ]


def test_posts_the_time_budget_has_no_room_for_wait_for_the_next_run(
    http_server: LocalHttpServer, fast_http: HttpSettings
) -> None:
    http_server.route("/sitemap.xml", _urlset(http_server, "/posts/one", "/posts/two"))
    http_server.route("/posts/one", _post("One"))
    source = _blog(http_server, discover=["sitemap"])

    run = collect_blog(source, {"seen_urls": []}, HttpClient(fast_http), budget=TimeBudget(5), extraction_seconds=10)

    assert (run.status, run.mentions, run.cursor) == ("failed", [], None)
    assert run.error == (
        "none of the 2 new posts could be fetched; last problem: 2 new posts wait for the next run: less than 10 s is "
        "left of the source's 5 s time budget"
    )
    assert _posts_requested(http_server) == []


def test_an_empty_linked_feed_and_bad_sitemap_entries_cost_only_themselves(
    http_server: LocalHttpServer, fast_http: HttpSettings
) -> None:
    base, gone = http_server.base_url, f"http://127.0.0.1:{_refused_port()}"
    home = b'<html><head><link rel="alternate" type="application/rss+xml" href="/feed"></head><body>Hi</body></html>'
    http_server.route("/", Reply(200, home, HTML))
    http_server.route("/feed", Reply(200, b"", {"Content-Type": "application/rss+xml; charset=UTF-8"}))
    bad_entries = (
        f"<url><loc>http://launch-notes:80x/posts/bad</loc></url><url><loc>{gone}/posts/a</loc></url>"
        f"<url><loc>{gone}/posts/b</loc></url></urlset>"
    )
    http_server.route("/sitemap.xml", Reply(200, _urlset(http_server, "/posts/one").body.replace(b"</urlset>", bad_entries.encode()), XML))
    http_server.route("/posts/one", _post("One"))

    run = collect_blog(_blog(http_server), None, HttpClient(fast_http))

    assert (run.status, [mention.title for mention in run.mentions]) == ("ok", ["One"])
    assert run.warnings == [
        (f"discovery through feed: {base}/feed, linked as the feed of {base}/, is empty; check the site's feed "
         "link, or set discover: [sitemap]"),
        (f"{base}/sitemap.xml: entry skipped: 'http://launch-notes:80x/posts/bad' is not a valid URL "
         "(Port could not be cast to integer value as '80x')"),
        (f"2 new posts on {gone} skipped until next run: its robots.txt could not be read ({gone}/posts/a could not "
         "be fetched after 3 attempts: connection refused)"),
    ]
    assert run.cursor == {"seen_urls": [f"{base}/posts/one"]}


def test_bad_entries_of_a_linked_feed_cost_only_themselves(http_server: LocalHttpServer, fast_http: HttpSettings) -> None:
    base = http_server.base_url
    home = b'<html><head><link rel="alternate" type="application/atom+xml" href="/feed.atom"></head><body>Hi</body></html>'
    http_server.route("/", Reply(200, home, HTML))
    feed = (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Launch Notes</title>'
        "<entry><title>Bad &#xD800; title</title><link href=\"/posts/surrogate\"/><id>1</id></entry>"
        "<entry><title>Bad port</title><link href=\"http://launch-notes:80x/posts/bad\"/><id>2</id></entry>"
        "<entry><title>Good</title><link href=\"/posts/good\"/><id>3</id></entry></feed>"
    )
    http_server.route("/feed.atom", Reply(200, feed.encode(), {"Content-Type": "application/atom+xml"}))

    discovery = discover_post_urls(_blog(http_server, discover=["feed"]), HttpClient(fast_http))

    assert discovery.urls == [f"{base}/posts/surrogate", f"{base}/posts/good"]
    assert discovery.warnings == [
        f"{base}/feed.atom: 1 character references to code points no text can hold (&#xD800;) were read as U+FFFD",
        (f"{base}/feed.atom: entry 2 ('{base}/2') skipped: 'http://launch-notes:80x/posts/bad' is not a valid URL "
         "(Port could not be cast to integer value as '80x')"),
    ]


def test_a_host_refusing_connections_is_reported_with_the_connection_error(fast_http: HttpSettings) -> None:
    source = BlogSource(kind="blog", name="launch-notes", url=f"http://127.0.0.1:{_refused_port()}/", discover=["feed"])

    run = collect_blog(source, None, HttpClient(fast_http))

    assert (run.status, run.cursor) == ("failed", None)
    assert run.error == (
        f"no posts could be discovered on {source.url} (feed: {source.url} could not be fetched after 3 attempts: "
        "connection refused)"
    )
