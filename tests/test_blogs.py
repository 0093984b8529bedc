"""Blogs: `extract_post` on a fixture page, discovery and `collect_blog` against a local site."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from collectors.blogs import collect_blog, discover_post_urls, extract_post
from collectors.http import HttpClient
from config.model import BlogSource, HttpSettings
from tests.local_http import LocalHttpServer, Reply

PAGES = Path(__file__).parent / "fixtures" / "pages"
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


def _blog(server: LocalHttpServer, **settings: object) -> BlogSource:
    return BlogSource(kind="blog", name="launch-notes", url=f"{server.base_url}/", **settings)


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
    assert f"feed: {http_server.base_url}/feed, linked as the feed of {http_server.base_url}/, is not RSS or Atom" in run.error
