"""Fakes of the keyless public APIs (and Bluesky) on one loopback port, for the demo and the tests.

Standard library only. One `ThreadingHTTPServer` serves each platform under its own path prefix,
from the sample data in `demo/corpus/public_apis/` (see its README), in the platform's wire format:

| prefix | fakes | base URL to configure |
| --- | --- | --- |
| `/hn/api/v1/search_by_date` | HN Algolia search | `hackernews.api_base_url` = `url("hackernews")` |
| `/mastodon/<instance>/api/v1/timelines/tag/<tag>` | one Mastodon instance per corpus key | `url("mastodon", "<instance>")` |
| `/gnews/rss/search` | Google News RSS search | `google_news.base_url` = `url("google_news")` |
| `/bsky/xrpc/com.atproto.server.createSession`, `/bsky/xrpc/app.bsky.feed.searchPosts` | Bluesky | `url("bluesky")` |

Search semantics, shared by HN, Google News and Bluesky: every term of a query must match (neither HN
nor Bluesky has OR; Google News's ` OR ` alternatives are honoured), case-insensitively: a
"quoted phrase" as a phrase, a #hashtag as that hashtag, any other word as the start of a word (so
"Tidewell" finds "the Tidewells", as loose as the real services; the matcher downstream drops it).

- HN: `query`, `tags` (`story`, `comment` or `(story,comment)`), `numericFilters` on `created_at_i`
  (`>`, `>=`, `<`, `<=`, `=`), `hitsPerPage`, `page`; newest first; `nbHits`, `nbPages`. A hit with
  `"deleted": true` is a tombstone the index still holds: it answers every query over its time.
- Mastodon: statuses carrying the tag; `max_id`, `since_id`, `min_id`, `limit` (at most 40);
  newest first; a `Link` header with `next` (older) and `prev` (newer) pages.
- Google News: RSS 2.0 with "Headline - Publisher" titles, Google redirect links, `<source url>`;
  an ETag, and 304 for `If-None-Match`.
- Bluesky: `createSession` checks the identifier (handle or DID) and app password against the
  corpus accounts (401 otherwise); `searchPosts` wants `Authorization: Bearer <accessJwt>` (401
  otherwise), filters `since` (inclusive) and `until` (exclusive) on sortAt (the earlier of
  createdAt and indexedAt), sorts latest first, pages with an opaque `cursor`.

Every page size is also capped at `page_size`, so tests can make pagination happen with a few
items. Tests change the data by editing the lists (`server.hackernews.append(hit)`), script failures
for the next requests under a path prefix with `fail(...)` (with `echo=True`, the failure quotes the
request back, credentials and all, as a misbehaving upstream does), and read `server.requests`.

Example:
    with PublicApisServer(page_size=2) as server:
        source = HackerNewsSource(kind="hackernews", name="hn", api_base_url=server.url("hackernews"))
        server.fail("/hn/", 503)              # the next HN request answers 503
        server.fail("/hn/", 200, b"{oops")    # the one after that, malformed JSON

Run `python -m demo.fake_apis.public_apis` to serve the sample data by hand.
"""

from __future__ import annotations

import argparse
import base64
import email.utils
import hashlib
import json
import re
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit
from xml.sax.saxutils import escape

from demo.fake_apis.loopback import LoopbackServer, QuietRequestHandler, request_echo, wait_until_interrupted

DEFAULT_CORPUS_DIR = Path(__file__).resolve().parents[1] / "corpus" / "public_apis"
MASTODON_MAX_LIMIT = 40
BLUESKY_MAX_LIMIT = 100

_Answer = tuple[int, dict[str, str], bytes]
_LATEST = datetime(2026, 11, 1, 23, 59, tzinfo=UTC)  # where a post without times sorts: inside the sample window
_NUMERIC_FILTER = re.compile(r"^\s*(\w+)\s*(>=|<=|>|<|=)\s*(-?\d+)\s*$")
_TERM = re.compile(r'"([^"]+)"|(\S+)')


@dataclass(frozen=True)
class SeenRequest:
    """A request the server received: method, path, query parameters (one value each), lowercase headers, body."""

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class _Failure:
    prefix: str
    status: int
    body: bytes
    remaining: int | None
    echo: bool = False


class PublicApisServer(LoopbackServer):
    """The four fake APIs on `host`, on `port` (0: a free one), until closed.

    Args:
        corpus_dir: where the sample data is.
        host: the loopback address to bind.
        port: the port; 0 picks a free one.
        page_size: the largest page any endpoint answers with, whatever the request asks.

    Attributes:
        hackernews: HN Algolia hits.
        mastodon: statuses by instance name.
        google_news: articles (headline, publisher, publisher_url, article_url, published).
        bluesky: post views.
        bluesky_accounts: by handle: {"handle", "did", "app_password"}.
        requests: every request received, in order.
        base_url: `http://host:port`.
    """

    def __init__(self, corpus_dir: Path = DEFAULT_CORPUS_DIR, host: str = "127.0.0.1", port: int = 0, page_size: int = 100):
        def load(name: str) -> dict[str, Any]:
            return json.loads((Path(corpus_dir) / name).read_text(encoding="utf-8"))

        self.page_size = page_size
        self.hackernews: list[dict[str, Any]] = load("hackernews.json")["hits"]
        self.mastodon: dict[str, list[dict[str, Any]]] = load("mastodon.json")["instances"]
        self.google_news: list[dict[str, Any]] = load("google_news.json")["articles"]
        bluesky = load("bluesky.json")
        self.bluesky: list[dict[str, Any]] = bluesky["posts"]
        self.bluesky_accounts: dict[str, dict[str, str]] = {account["handle"]: account for account in bluesky["accounts"]}
        self.requests: list[SeenRequest] = []
        self._failures: list[_Failure] = []
        self._tokens: set[str] = set()
        self._lock = threading.Lock()
        self._bind(host, port, _handler_for(self))

    def url(self, platform: str, instance: str | None = None) -> str:
        """The base URL a source of `platform` (hackernews, mastodon, google_news, bluesky) is configured with."""
        paths = {"hackernews": "/hn/api/v1", "google_news": "/gnews", "bluesky": "/bsky", "mastodon": f"/mastodon/{instance}"}
        return self.base_url + paths[platform]

    def fail(
        self, path_prefix: str, status: int = 503, body: bytes = b"", times: int | None = 1, echo: bool = False
    ) -> None:
        """Answer the next `times` requests under `path_prefix` (None: all of them) with `status` and `body`.

        A 200 with a body that is not JSON stands for a malformed answer. Scripts queue in order. With
        `echo`, the body is instead the request quoted whole (line, headers, body) as the JSON `error`
        and `message`, and its Authorization comes back in a `WWW-Authenticate` header.
        """
        with self._lock:
            self._failures.append(
                _Failure(path_prefix, status, body or _json({"error": "scripted", "status": status}), times, echo)
            )

    def requests_to(self, path_prefix: str) -> list[SeenRequest]:
        """The requests received under a path prefix, in order."""
        return [request for request in self.requests if request.path.startswith(path_prefix)]

    # --- dispatch ---------------------------------------------------------------------------

    def answer(self, request: SeenRequest) -> _Answer:
        """What the fake says to a request (scripted failures first)."""
        with self._lock:
            self.requests.append(request)
            for failure in self._failures:
                if request.path.startswith(failure.prefix) and failure.remaining != 0:
                    if failure.remaining is not None:
                        failure.remaining -= 1
                    if failure.echo:
                        return _echo(failure.status, request)
                    return failure.status, {"Content-Type": "application/json"}, failure.body
        parts = request.path.strip("/").split("/")
        if request.method == "GET" and request.path == "/hn/api/v1/search_by_date":
            return self._hn_search(request.params)
        if request.method == "GET" and len(parts) == 7 and parts[0] == "mastodon" and parts[2:6] == ["api", "v1", "timelines", "tag"]:
            return self._mastodon_tag(parts[1], unquote(parts[6]), request.params)
        if request.method == "GET" and request.path == "/gnews/rss/search":
            return self._google_news_search(request.params, request.headers)
        if request.method == "POST" and request.path == "/bsky/xrpc/com.atproto.server.createSession":
            return self._bluesky_create_session(request.body)
        if request.method == "GET" and request.path == "/bsky/xrpc/app.bsky.feed.searchPosts":
            return self._bluesky_search(request.params, request.headers)
        return 404, {"Content-Type": "application/json"}, _json({"error": "NotFound", "message": f"no route {request.path}"})

    # --- Hacker News (Algolia) --------------------------------------------------------------

    def _hn_search(self, params: dict[str, str]) -> _Answer:
        kinds = set(params.get("tags", "story,comment").strip("()").split(","))
        filters = [_NUMERIC_FILTER.match(part) for part in params.get("numericFilters", "").split(",") if part.strip()]
        if not all(filters):
            return 400, {"Content-Type": "application/json"}, _json({"message": "invalid numericFilters", "status": 400})
        hits = [
            hit for hit in self.hackernews
            if kinds & set(hit.get("_tags", []))
            and all(_compare(hit.get(match[1]), match[2], int(match[3])) for match in filters if match)
            and (hit.get("deleted") or matches(params.get("query", ""), _hn_text(hit)))
        ]
        hits.sort(key=lambda hit: hit["created_at_i"], reverse=True)
        per_page = max(1, min(int(params.get("hitsPerPage", 20)), self.page_size))
        page = int(params.get("page", 0))
        document = {
            "hits": hits[page * per_page : (page + 1) * per_page],
            "nbHits": len(hits),
            "page": page,
            "nbPages": -(-len(hits) // per_page),
            "hitsPerPage": per_page,
            "query": params.get("query", ""),
            "params": urlencode(params),
        }
        return 200, {"Content-Type": "application/json; charset=utf-8"}, _json(document)

    # --- Mastodon -----------------------------------------------------------------------------

    def _mastodon_tag(self, instance: str, tag: str, params: dict[str, str]) -> _Answer:
        if instance not in self.mastodon:
            return 404, {"Content-Type": "application/json"}, _json({"error": "Record not found"})
        tagged = sorted(
            (status for status in self.mastodon[instance] if tag.lower() in {t["name"].lower() for t in status.get("tags", [])}),
            key=_status_order,
            reverse=True,
        )
        limit = max(1, min(int(params.get("limit", 20)), MASTODON_MAX_LIMIT, self.page_size))
        after, before = params.get("min_id") or params.get("since_id"), params.get("max_id")
        page = [status for status in tagged if (after is None or _status_order(status) > _status_order({"id": after}))
                and (before is None or _status_order(status) < _status_order({"id": before}))]
        # min_id: the page immediately newer than it; otherwise the newest. Newest first either way.
        page = page[-limit:] if "min_id" in params else page[:limit]
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if page:
            here = f"{self.base_url}/mastodon/{instance}/api/v1/timelines/tag/{quote(tag)}"
            headers["Link"] = (
                f'<{here}?{urlencode({"limit": limit, "max_id": page[-1]["id"]})}>; rel="next", '
                f'<{here}?{urlencode({"limit": limit, "min_id": page[0]["id"]})}>; rel="prev"'
            )
        return 200, headers, _json(page)

    # --- Google News --------------------------------------------------------------------------

    def _google_news_search(self, params: dict[str, str], headers: dict[str, str]) -> _Answer:
        query = params.get("q", "")
        found = [a for a in self.google_news if any(matches(part, a["headline"]) for part in query.split(" OR "))]
        found.sort(key=lambda article: article["published"], reverse=True)
        items = "".join(_rss_item(article) for article in found)
        body = (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>'
            "<generator>NFE/5.0</generator>"
            f"<title>{escape(query)} - Google News</title>"
            f"<link>https://news.google.com/search?{escape(urlencode(params))}</link>"
            f"<language>{escape(params.get('hl', 'en-GB'))}</language>"
            "<description>Google News</description>"
            f"{items}</channel></rss>"
        ).encode()
        etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"'
        if headers.get("if-none-match") == etag:
            return 304, {"ETag": etag}, b""
        return 200, {"Content-Type": "application/rss+xml; charset=utf-8", "ETag": etag}, body

    # --- Bluesky ------------------------------------------------------------------------------

    def _bluesky_create_session(self, body: bytes) -> _Answer:
        try:
            login = json.loads(body)
            identifier, password = str(login["identifier"]), str(login["password"])
        except (ValueError, KeyError, TypeError):
            return _xrpc_error(400, "InvalidRequest", "Input must have the properties identifier and password")
        account = next((a for a in self.bluesky_accounts.values() if identifier in (a["handle"], a["did"])), None)
        if account is None or password != account["app_password"]:
            return _xrpc_error(401, "AuthenticationRequired", "Invalid identifier or password")
        token = secrets.token_urlsafe(16)
        with self._lock:
            self._tokens.add(token)
        session = {"accessJwt": f"access.{token}", "refreshJwt": f"refresh.{token}", "handle": account["handle"],
                   "did": account["did"], "active": True}
        return 200, {"Content-Type": "application/json; charset=utf-8"}, _json(session)

    def _bluesky_search(self, params: dict[str, str], headers: dict[str, str]) -> _Answer:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme != "Bearer" or token.removeprefix("access.") not in self._tokens:
            return _xrpc_error(401, "AuthenticationRequired", "Authentication Required")
        if not params.get("q"):
            return _xrpc_error(400, "InvalidRequest", 'Error: Params must have the property "q"')
        since = _instant(params["since"]) if "since" in params else None
        until = _instant(params["until"]) if "until" in params else None
        found = [
            post for post in self.bluesky
            if matches(params["q"], (post.get("record") or {}).get("text", ""))
            and (since is None or _sort_at(post) >= since) and (until is None or _sort_at(post) < until)
        ]
        found.sort(key=_sort_at, reverse=True)
        limit = max(1, min(int(params.get("limit", 25)), BLUESKY_MAX_LIMIT, self.page_size))
        offset = int(params.get("cursor", "0"))
        document: dict[str, Any] = {"posts": found[offset : offset + limit], "hitsTotal": len(found)}
        if offset + limit < len(found):
            document["cursor"] = str(offset + limit)
        return 200, {"Content-Type": "application/json; charset=utf-8"}, _json(document)


def matches(query: str, text: str) -> bool:
    """Whether every term of a search query is in the text (see the module docstring for the rules)."""
    text = text or ""
    for phrase, word in _TERM.findall(query):
        if phrase:
            pattern = rf"(?<!\w){re.escape(phrase)}(?!\w)"
        elif word.startswith("#"):
            pattern = rf"(?<![\w#]){re.escape(word)}(?!\w)"
        else:
            pattern = rf"(?<!\w){re.escape(word)}"
        if not re.search(pattern, text, re.IGNORECASE):
            return False
    return True


def google_news_guid(article_url: str) -> str:
    """The article id a Google News link carries (the real ones also encode the publisher URL)."""
    return "CBMi" + base64.urlsafe_b64encode(article_url.encode("utf-8")).decode("ascii").rstrip("=")


def _rss_item(article: dict[str, Any]) -> str:
    guid = google_news_guid(article["article_url"])
    link = f"https://news.google.com/rss/articles/{guid}?oc=5"
    published = email.utils.format_datetime(datetime.fromisoformat(article["published"]), usegmt=True)
    description = (
        f'<a href="{link}" target="_blank">{escape(article["headline"])}</a>&nbsp;&nbsp;'
        f'<font color="#6f6f6f">{escape(article["publisher"])}</font>'
    )
    return (
        f"<item><title>{escape(article['headline'] + ' - ' + article['publisher'])}</title>"
        f'<link>{link}</link><guid isPermaLink="false">{guid}</guid><pubDate>{published}</pubDate>'
        f"<description>{escape(description)}</description>"
        f'<source url="{escape(article["publisher_url"])}">{escape(article["publisher"])}</source></item>'
    )


def _status_order(status: dict[str, Any]) -> tuple[int, str]:
    """Mastodon ids are numeric strings: longer is newer, then by text."""
    return len(str(status.get("id"))), str(status.get("id"))


def _hn_text(hit: dict[str, Any]) -> str:
    return " ".join(str(hit.get(name) or "") for name in ("title", "story_text", "comment_text", "url"))


def _compare(value: Any, operator: str, bound: int) -> bool:
    if not isinstance(value, int):
        return False
    return {">": value > bound, ">=": value >= bound, "<": value < bound, "<=": value <= bound, "=": value == bound}[operator]


def _instant(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _sort_at(post: dict[str, Any]) -> datetime:
    """The earlier of createdAt and indexedAt; a post with neither (malformed data) sorts as the newest."""
    times = []
    for value in ((post.get("record") or {}).get("createdAt"), post.get("indexedAt")):
        try:
            times.append(_instant(str(value)))
        except ValueError:  # absent (None) or not ISO 8601
            pass
    return min(times) if times else _LATEST


def _echo(status: int, request: SeenRequest) -> _Answer:
    """An error answer that quotes the request back whole, as a misbehaving upstream does."""
    target = f"{request.path}?{urlencode(request.params)}" if request.params else request.path
    echo = request_echo(request.method, target, request.headers, request.body)
    challenge = f'Basic realm="echo", error="{request.headers.get("authorization", "")}"'
    headers = {"Content-Type": "application/json", "WWW-Authenticate": challenge}
    return status, headers, _json({"error": echo, "message": echo})


def _xrpc_error(status: int, error: str, message: str) -> _Answer:
    return status, {"Content-Type": "application/json; charset=utf-8"}, _json({"error": error, "message": message})


def _json(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def _handler_for(server: PublicApisServer) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms wait between them

        def do_GET(self) -> None:  # http.server's naming
            self._respond(b"")

        def do_POST(self) -> None:
            self._respond(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

        def _respond(self, body: bytes) -> None:
            parts = urlsplit(self.path)
            request = SeenRequest(
                self.command, parts.path, dict(parse_qsl(parts.query, keep_blank_values=True)),
                {name.lower(): value for name, value in self.headers.items()}, body,
            )
            status, headers, payload = server.answer(request)
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(payload))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

    return Handler


def main(argv: Iterable[str] | None = None) -> None:
    """Serve the sample data until interrupted, printing what to configure each source with."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8766, help="port on 127.0.0.1 (default 8766)")
    arguments = parser.parse_args(list(argv) if argv is not None else None)
    with PublicApisServer(port=arguments.port) as server:
        print(f"hackernews   api_base_url: {server.url('hackernews')}")
        for instance in server.mastodon:
            print(f"mastodon     instance:     {server.url('mastodon', instance)}")
        print(f"google_news  base_url:     {server.url('google_news')}")
        account = next(iter(server.bluesky_accounts.values()))
        print(f"bluesky      api_base_url: {server.url('bluesky')}")
        print(f"             login {account['handle']}, app password {account['app_password']}")
        wait_until_interrupted()


if __name__ == "__main__":
    main()
