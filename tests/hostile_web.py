"""Feeds and blogs on 127.0.0.1 that misbehave as real ones have, and good ones to load beside them.

Shared by the tests that collect them directly (`tests/test_source_isolation.py`) and through Airflow
(`tests/test_hostile_sources_airflow.py`). Each hostile case carries its own expectation: the status
the source must end with and words its recorded reason must contain, so adding a case is adding a
line to `HOSTILE_FEEDS` or `HOSTILE_BLOGS`.
"""

from __future__ import annotations

import functools
import gzip
import socket
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tests.local_http import LocalHttpServer, Reply

RSS = {"Content-Type": "application/rss+xml"}
HTML = {"Content-Type": "text/html; charset=utf-8"}


def feed(more_items: bytes = b"", prolog: bytes = b"", site: str = "news") -> bytes:
    """A news feed with one good entry (mentioning Brightwave, linking to https://`site`.example.com/prices),
    then `more_items`."""
    return (b'<?xml version="1.0" encoding="utf-8"?>' + prolog + b'<rss version="2.0"><channel><title>Example News</title>'
            b"<item><title>Brightwave raises prices</title><link>https://%s.example.com/prices</link>"
            b"<description>Brightwave raises prices by 12%%.</description></item>" % site.encode()
            + more_items + b"</channel></rss>")


def entity_bomb_feed(site: str = "news") -> bytes:
    """A 40 KB feed whose one declared entity, used 5,000 times, would expand it to 55 MB."""
    return feed(b"<item><title>Boom</title><link>https://%s.example.com/boom</link><description>" % site.encode()
                + b"&boom;" * 5_000 + b"</description></item>",
                prolog=b'\n<!DOCTYPE rss [\n<!ENTITY boom "' + b"Brightwave " * 1_000 + b'">\n]>\n', site=site)


def billion_laughs_feed(site: str = "news") -> bytes:
    """The classic nested-entity bomb: ten levels of ten references, a billion "lol"s from 1 KB."""
    entities = b'<!ENTITY lol0 "lol">' + b"".join(
        b"<!ENTITY lol%d \"%s\">" % (level, b"&lol%d;" % (level - 1) * 10) for level in range(1, 10)
    )
    return feed(b"<item><title>Laughs &lol9;</title><link>https://%s.example.com/lol</link></item>" % site.encode(),
                prolog=b"\n<!DOCTYPE rss [" + entities + b"]>\n", site=site)


@functools.cache
def gzip_bomb(megabytes: int = 100) -> bytes:
    """A gzip body of about `megabytes` / 1000 MB that inflates to `megabytes` MB of spaces."""
    return gzip.compress(b" " * (megabytes * 1_000_000), compresslevel=9)


def huge(body: bytes) -> bytes:
    """`body` with 50 MB of spaces before its end."""
    return body[:-10] + b" " * 50_000_000 + body[-10:]


def post_page(title: str) -> bytes:
    """A blog post page about Brightwave, titled `title`."""
    return (f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
            f"<p>{title}: Brightwave customers tell us what changed this month, and why it matters to them.</p>"
            "</article></body></html>").encode()


def blog_home(feed_path: str = "/feed.xml") -> bytes:
    """A blog's home page that links its feed, as blogs announce it (`<link rel="alternate">`)."""
    return (f'<html><head><title>A blog</title><link rel="alternate" type="application/rss+xml" href="{feed_path}">'
            "</head><body><h1>A blog</h1></body></html>").encode()


def post_feed(base_url: str, paths: list[str]) -> bytes:
    """A blog's feed listing its posts at `paths`."""
    items = "".join(f"<item><title>Post {path}</title><link>{base_url}{path}</link></item>" for path in paths)
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>A blog</title>{items}</channel></rss>'.encode()


def refused_url(path: str = "/") -> str:
    """A URL on 127.0.0.1 that nothing listens on: connections to it are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}{path}"


@dataclass(frozen=True)
class HostileCase:
    """One misbehaving source and what must become of it.

    Attributes:
        name: the source name.
        serve: scripts its site on a fresh server and returns the source's URL.
        status: the status it must end with (failed, empty, or ok when it loads despite the fault).
        reason: words the source's recorded error (or, when ok, one of its warnings) must contain.
    """

    name: str
    serve: Callable[[LocalHttpServer], str]
    status: str
    reason: str


def _route(path: str, reply: Callable[[], Reply]) -> Callable[[LocalHttpServer], str]:
    """Serve what `reply` builds (when the case is served, not when this module is imported) at `path`."""
    return lambda server: server.route(path, reply())


def _blog(feed_reply: Callable[[], Reply] | None = None, post: Callable[[], Reply] | None = None
          ) -> Callable[[LocalHttpServer], str]:
    """A blog site (home, linked feed, two posts) whose feed or posts answer what the functions given
    build (a good one where not given)."""

    def serve(server: LocalHttpServer) -> str:
        paths = ["/posts/one", "/posts/two"]
        server.route("/", Reply(200, blog_home(), HTML))
        server.route("/feed.xml", feed_reply() if feed_reply else Reply(200, post_feed(server.base_url, paths), RSS))
        for path in paths:
            server.route(path, post() if post else Reply(200, post_page(f"Post {path}"), HTML))
        return server.base_url + "/"

    return serve


# The reasons below assume what tests/test_hostile_sources_airflow.py configures: http.timeout_seconds 2 with
# max_retries 2, a feed's time budget of 5 s (three attempts of a feed that hangs would take 6 s: the budget
# ends the third), a blog's of 20 s (each post page hanging gets its three attempts), http.max_body_bytes 2 MB.
# Every feed that loads links to a site of its own name, so that no two sources share a mention.
NO_LENGTH = {"Content-Length": "", "Connection": "close"}  # the body runs until the server hangs up
HOSTILE_FEEDS: list[HostileCase] = [
    HostileCase("hangs", _route("/feed.xml", lambda: Reply(200, feed(), RSS, delay=3600)),
                "failed", "timed out; the source's 5 s time budget is spent"),
    HostileCase("slow-headers", _route("/feed.xml", lambda: Reply(200, feed(), RSS, delay=1, drip_headers=3600)),
                "failed", "timed out; the source's 5 s time budget is spent"),
    HostileCase("trickling-body", _route("/feed.xml", lambda: Reply(200, feed(), RSS, delay=1, drip=len(feed()))),
                "failed", "timed out; the source's 5 s time budget is spent"),
    HostileCase("body-50mb", _route("/feed.xml", lambda: Reply(200, huge(feed()), RSS)),
                "failed", "raise http.max_body_bytes"),
    HostileCase("body-50mb-no-length", _route("/feed.xml", lambda: Reply(200, huge(feed()), {**RSS, **NO_LENGTH})),
                "failed", "raise http.max_body_bytes"),
    HostileCase("gzip-bomb", _route("/feed.xml", lambda: Reply(200, gzip_bomb(), {**RSS, "Content-Encoding": "gzip"})),
                "failed", "raise http.max_body_bytes"),
    HostileCase("entity-bomb", _route("/feed.xml", lambda: Reply(200, entity_bomb_feed("entity-bomb"), RSS)),
                "ok", "they were left unexpanded"),
    HostileCase("billion-laughs", _route("/feed.xml", lambda: Reply(200, billion_laughs_feed("billion-laughs"), RSS)),
                "ok", "malformed feed"),
    HostileCase("redirect-loop", lambda server: server.route("/loop", Reply(302, b"", {"Location": "/loop"})),
                "failed", "Exceeded 30 redirects"),
    HostileCase("wrong-charset", _route("/feed.xml", lambda: Reply(200, feed(
        b"<item><title>Brightwave \xe9t\xe9</title><link>https://wrong-charset.example.com/ete</link></item>",
        site="wrong-charset"), {"Content-Type": "application/rss+xml; charset=utf-8"})), "ok", ""),
    HostileCase("unknown-charset", _route("/feed.xml", lambda: Reply(
        200, feed(site="unknown-charset").replace(b'encoding="utf-8"', b'encoding="x-no-such-charset"'),
        {"Content-Type": "application/rss+xml; charset=x-no-such-charset"})), "ok", ""),
    HostileCase("undeclared-big5", _route("/feed.xml", lambda: Reply(200, feed(
        "<item><title>Brightwave 價格上漲，用戶不滿</title><link>https://undeclared-big5.example.com/big5</link></item>"
        .encode("big5"), site="undeclared-big5").replace(b' encoding="utf-8"', b""), {"Content-Type": "application/rss+xml"})),
        "ok", "declares no character encoding and is not UTF-8; read as big5"),
    HostileCase("empty-body", _route("/feed.xml", lambda: Reply(200, b"", RSS)), "failed", "empty body, not RSS or Atom"),
    HostileCase("no-items", _route("/feed.xml", lambda: Reply(
        200, b'<?xml version="1.0"?><rss version="2.0"><channel><title>Quiet</title></channel></rss>', RSS)),
        "empty", ""),
    HostileCase("not-a-feed", _route("/feed.xml", lambda: Reply(200, b"<html><body>Welcome</body></html>", HTML)),
                "failed", "did not return RSS or Atom (text/html; charset=utf-8 is not an XML media type)"),
    HostileCase("server-error", _route("/feed.xml", lambda: Reply(500, b"<html><body>Internal error</body></html>")),
                "failed", "HTTP 500"),
    HostileCase("refused", lambda server: refused_url("/feed.xml"), "failed", "Connection refused"),
]

HOSTILE_BLOGS: list[HostileCase] = [
    HostileCase("blog-empty-feed", _blog(feed_reply=lambda: Reply(200, b"", RSS)), "failed", "is empty; check the site's feed"),
    HostileCase("blog-feed-not-a-feed", _blog(feed_reply=lambda: Reply(200, b"<html><body>Hi</body></html>", HTML)),
                "failed", "is not RSS or Atom"),
    HostileCase("blog-pages-hang", _blog(post=lambda: Reply(200, post_page("Late"), HTML, delay=3600)),
                "failed", "timed out"),
    HostileCase("blog-pages-50mb", _blog(post=lambda: Reply(200, huge(post_page("Huge")), HTML)),
                "failed", "raise http.max_body_bytes"),
    HostileCase("blog-pages-gzip-bomb", _blog(post=lambda: Reply(200, gzip_bomb(), {**HTML, "Content-Encoding": "gzip"})),
                "failed", "raise http.max_body_bytes"),
    HostileCase("blog-no-posts", _blog(feed_reply=lambda: Reply(200, post_feed("", []), RSS)), "empty",
                "discovery through sitemap: HTTP 404"),
    HostileCase("blog-redirect-loop", lambda server: server.route("/", Reply(302, b"", {"Location": "/"})),
                "failed", "Exceeded 30 redirects"),
    HostileCase("blog-refused", lambda server: refused_url("/"), "failed", "Connection refused"),
]


@contextmanager
def serving(cases: list[HostileCase]) -> Iterator[dict[str, str]]:
    """Serve each case on a server of its own on 127.0.0.1 (each its own host, as real sites are);
    yields each case's source URL by name."""
    with ExitStack() as stack:
        yield {case.name: case.serve(stack.enter_context(LocalHttpServer())) for case in cases}


@contextmanager
def good_sites() -> Iterator[dict[str, str]]:
    """Two good feeds and a good blog, each on a server of its own; yields their URLs by source name.

    good-feed-a has two entries about Brightwave, good-feed-b one about Brightwave and one about
    nothing we listen for, good-blog two posts about Brightwave (`GOOD_MENTIONS`)."""
    with ExitStack() as stack:
        servers = [stack.enter_context(LocalHttpServer()) for _ in range(3)]
        a, b, blog = servers
        yield {
            "good-feed-a": a.route("/feed.xml", Reply(200, feed(
                b"<item><title>Brightwave outage</title><link>https://a.example.com/outage</link></item>"), RSS)),
            "good-feed-b": b.route("/feed.xml", Reply(200, feed(
                b"<item><title>Weather today</title><link>https://b.example.com/weather</link></item>"
            ).replace(b"news.example.com/prices", b"b.example.com/prices"), RSS)),
            "good-blog": _blog()(blog),
        }


GOOD_MENTIONS = {"good-feed-a": 2, "good-feed-b": 1, "good-blog": 2}


X_TOKEN = "x-bearer-token-7Hq2-do-not-print"  # a fake X secret the X crash echoes, as upstream errors do


def _raise(error: BaseException) -> None:
    raise error


def _recurse() -> None:
    _recurse()


# What a request of a source of each kind raises when something no collector foresees goes wrong below it
# (`crashing_send`), and how the source's failure must name it: the collector failed unexpectedly, with the
# exception's type and message (secrets masked). A blog names it per discovery route instead (its routes
# fail alone by design), and so is failed with both routes' reasons.
CRASHES: dict[str, Callable[[], None]] = {
    "rss": lambda: _raise(KeyError("version")),
    "blog": lambda: None.version,  # type: ignore[attr-defined]
    "x": lambda: _raise(ValueError(f"the API answered: bearer {X_TOKEN} is not allowed here")),
    "reddit": _recurse,
    "hackernews": lambda: _raise(ZeroDivisionError("division by zero")),
    "mastodon": lambda: b"\xff".decode("utf-8"),
    "google_news": lambda: _raise(ValueError("invalid literal for int() with base 10: 'twelve'")),
    "bluesky": lambda: _raise(SystemExit(3)),
    "app_reviews": lambda: _raise(OverflowError("int too large to convert to float")),
    "youtube": lambda: _raise(LookupError("no item 'snippet' in the answer")),
    "bluesky_jetstream": lambda: _raise(MemoryError("cannot allocate the frame buffer")),
}
CRASH_REASONS: dict[str, str] = {
    "rss": "the rss collector failed unexpectedly (KeyError: 'version'",
    "blog": "(feed: AttributeError: 'NoneType' object has no attribute 'version'; "
            "sitemap: AttributeError: 'NoneType' object has no attribute 'version')",
    "x": "the x collector failed unexpectedly (ValueError: the API answered: bearer *** is not allowed here",
    "reddit": "the reddit collector failed unexpectedly (RecursionError: maximum recursion depth exceeded",
    "hackernews": "the hackernews collector failed unexpectedly (ZeroDivisionError: division by zero",
    "mastodon": "the mastodon collector failed unexpectedly (UnicodeDecodeError: 'utf-8' codec can't decode byte 0xff",
    "google_news": "the google_news collector failed unexpectedly (ValueError: invalid literal for int() with base 10",
    "bluesky": "the bluesky collector failed unexpectedly (SystemExit: 3",
    "app_reviews": "the app_reviews collector failed unexpectedly (OverflowError: int too large to convert to float",
    "youtube": "the youtube collector failed unexpectedly (LookupError: no item 'snippet' in the answer",
    "bluesky_jetstream": "the bluesky_jetstream collector failed unexpectedly (MemoryError: cannot allocate the frame buffer",
}


def crashing_send(send: Callable[..., Any], crash_ports: Mapping[int, str]) -> Callable[..., Any]:
    """`send` (the retry policy's `RetryingAdapter.send`, which every request of every collector goes
    through, SDKs' included) raising `CRASHES[kind]` for a request to a port of 127.0.0.1 in `crash_ports`."""

    def send_or_crash(adapter: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        kind = crash_ports.get(urlsplit(request.url).port or 0)
        if kind is not None:
            CRASHES[kind]()
        return send(adapter, request, *args, **kwargs)

    return send_or_crash


def crashing_connect(connect: Callable[..., Any], crash_ports: Mapping[int, str]) -> Callable[..., Any]:
    """`connect` (websockets' client, which the Jetstream collector opens its stream with, and so sends no
    request through `crashing_send`) raising `CRASHES[kind]` for a URL on a port of 127.0.0.1 in `crash_ports`."""

    def connect_or_crash(url: str, *args: Any, **kwargs: Any) -> Any:
        kind = crash_ports.get(urlsplit(url).port or 0)
        if kind:
            CRASHES[kind]()
        return connect(url, *args, **kwargs)

    return connect_or_crash


def platform_source(kind: str, name: str, url: str) -> dict[str, Any]:
    """The config of a source of a platform kind whose every URL is `url`."""
    if kind == "mastodon":
        return {"kind": kind, "name": name, "instances": [url], "hashtags": ["#brightwave"]}
    if kind == "app_reviews":
        return {"kind": kind, "name": name, "base_url": url, "apps": [{"id": "1111111111", "brand": "Brightwave"}]}
    if kind == "bluesky_jetstream":
        return {"kind": kind, "name": name, "url": url.replace("http://", "ws://", 1) + "subscribe"}
    urls = {"x": ["api_base_url"], "reddit": ["oauth_url", "reddit_url"], "hackernews": ["api_base_url"],
            "google_news": ["base_url"], "bluesky": ["api_base_url"], "youtube": ["api_base_url"]}
    return {"kind": kind, "name": name, **dict.fromkeys(urls[kind], url)}


# Credentials for the platforms that need them, so that their collectors send requests (fake: nothing answers).
PLATFORM_CREDENTIALS: dict[str, dict[str, Any]] = {
    "twitter_default": {"login": None, "password": X_TOKEN, "host": None, "extra": {}},
    "reddit_default": {"login": "reddit-client-id", "password": "reddit-secret-4Qx9", "host": None, "extra": {}},
    "bluesky_default": {"login": "brightwave.bsky.social", "password": "app-password-4Qx9", "host": None, "extra": {}},
    "youtube_default": {"login": None, "password": "youtube-key-4Qx9", "host": None, "extra": {}},
}

