"""A fake Reddit on loopback, for the demo and the tests. Standard library only.

`FakeRedditApi` serves, from posts and comments in Reddit's own wire format (the `data` of t3 and t1
objects; `demo/corpus/reddit/` holds a sample about Brightwave, Skylark Fibre and Tidewell), what a
Reddit collector talks to, on one address that stands for both `oauth_url` and `reddit_url`:

- `POST /api/v1/access_token`: app-only OAuth (HTTP Basic client id and secret, `grant_type`
  client_credentials or the installed-client grant); 401 for wrong credentials;
- `GET /search` and `/r/{sub}/search` (`q`, `sort=new`, `restrict_sr`, `limit`, `after`): a Listing of
  t3, newest first; the query is read loosely: its terms and "phrases" OR-ed, matched
  case-insensitively anywhere in the title or self-text, so "Brightwave" also finds "Brightwaves"
  as Reddit's stemming search does;
- `GET /comments/{id}` (and `/r/{sub}/comments/{id}/...`): `[post Listing, comment Listing]` with
  replies nested; 404 for a post that is gone;
- `GET /r/{sub}/comments`: the subreddit's newest comments, with `link_title` and `link_permalink`;
- `GET /search.rss` and `/r/{sub}/search.rss`: the same searches as Atom, the way Reddit's public
  feeds look (no scores, no comments), without OAuth;
- `x-ratelimit-used/-remaining/-reset` on every OAuth answer; a bearer token on every API request,
  else 401; 404 `{"reason": "banned"}` for an unknown subreddit, 403 `{"reason": "private"}` for a
  private one, and a bare 403 `{"message": "Forbidden", "error": 403}` for a quarantined one (its
  listings and threads; its posts left out of sitewide searches, as Reddit does).

Pages hold at most `page_size` items whatever `limit` asks, with `after` the last fullname. Tests
script the next answers of a path with `script(path, ...)`: `rate_limited`, `server_error`,
`malformed_json`, `unauthorized`, `forbidden` (with a reason, or without one as quarantined and
banned communities answer), `html_error` (the edge's HTML page), `echoed` (the request echoed back,
credentials and all), or None to answer normally. `delete` turns an item into Reddit's "[deleted]",
`delete_account` shows an author as "[deleted]" with their posts intact, and `remove` makes an item
vanish (its thread then answers 404). Items are served with the fields they were added with, so a
test adds a comment with `score_hidden` or without `permalink` as Reddit sends them.

Example:
    with FakeRedditApi.from_corpus() as reddit:
        ...  # point a RedditSource's oauth_url and reddit_url at reddit.base_url,
        ...  # credentials DEMO_CLIENT_ID / DEMO_CLIENT_SECRET
        assert reddit.searches[0]["q"].startswith("Brightwave")

Run `python -m demo.fake_apis.reddit_api` to serve the sample corpus by hand.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import html
import json
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit
from xml.sax.saxutils import escape, quoteattr

from demo.fake_apis.loopback import LoopbackServer, QuietRequestHandler, request_echo, wait_until_interrupted

CORPUS_DIR = Path(__file__).resolve().parents[1] / "corpus" / "reddit"
TOKEN_PATH = "/api/v1/access_token"
DEMO_CLIENT_ID = "overheard-demo"
DEMO_CLIENT_SECRET = "demo-secret-not-for-production"
INSTALLED_CLIENT_GRANT = "https://oauth.reddit.com/grants/installed_client"
RATE_WINDOW_SECONDS = 600
REQUESTS_PER_WINDOW = 1000
MAX_LIMIT = 100

_SEARCH = re.compile(r"^(?:/r/(?P<sub>[^/]+))?/search(?P<ext>\.json|\.rss)?/?$")
_STREAM = re.compile(r"^/r/(?P<sub>[^/]+)/comments(?:\.json)?/?$")
_THREAD = re.compile(r"^(?:/r/(?P<sub>[^/]+))?/comments/(?P<id>[0-9a-z]+)(?:/[^/]*)?(?:\.json)?/?$")


@dataclass
class Reply:
    """One scripted answer.

    Attributes:
        status: the HTTP status.
        body: the body bytes.
        headers: extra response headers.
    """

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SeenRequest:
    """A request the server received: method, path, query (or form) parameters and lowercase headers."""

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]


# One scripted answer: a reply, a function of the request that makes one, or None (answer normally).
Scripted = Reply | Callable[[SeenRequest], Reply] | None


def rate_limited(reset: int = 60, retry_after: int | None = None) -> Reply:
    """Reddit's 429: no requests left, the window resetting in `reset` seconds (and a Retry-After, if given)."""
    headers = {"x-ratelimit-used": str(REQUESTS_PER_WINDOW), "x-ratelimit-remaining": "0.0", "x-ratelimit-reset": str(reset)}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return Reply(429, _json({"message": "Too Many Requests", "error": 429}), headers)


def server_error(status: int = 503) -> Reply:
    """A 5xx as Reddit's edge sends it (an HTML page, not JSON)."""
    page = f"<!doctype html><html><head><title>Reddit - {status}</title></head><body>Our CDN was unable to reach our servers.</body></html>"
    return Reply(status, page.encode(), {"Content-Type": "text/html; charset=utf-8"})


def malformed_json() -> Reply:
    """A 200 whose body is cut off mid-JSON."""
    return Reply(200, b'{"kind": "Listing", "data": {"after": "t3_1oq7b2x", "children": [{"kind": "t3", "data": {"title": "Bright',
                 {"Content-Type": "application/json; charset=UTF-8"})


def unauthorized() -> Reply:
    """The 401 Reddit sends for wrong client credentials or a bad token."""
    return Reply(401, _json({"message": "Unauthorized", "error": 401}),
                 {"www-authenticate": 'Bearer realm="reddit", error="invalid_token"'})


def forbidden(reason: str | None = None) -> Reply:
    """Reddit's 403, with a reason (private, ...) when it gives one; quarantined, banned and some private
    communities (and threads in them) answer `{"message": "Forbidden", "error": 403}` alone."""
    document: dict[str, Any] = {"message": "Forbidden", "error": 403}
    if reason:
        document["reason"] = reason
    return Reply(403, _json(document))


def html_error(status: int = 400) -> Reply:
    """An error page from Reddit's edge, as it answers a request it will not pass on (HTML, not JSON)."""
    titles = {400: "Bad request", 403: "Forbidden", 413: "Request Entity Too Large"}
    page = (f"<html><body><h1>{status} {titles.get(status, 'Error')}</h1>\n"
            "Your browser sent an invalid request.\n</body></html>\n")
    return Reply(status, page.encode(), {"Content-Type": "text/html", "Cache-Control": "no-cache"})


def echoed(status: int = 401) -> Callable[[SeenRequest], Reply]:
    """A script step that answers with the request it received echoed back, Authorization and all, as a
    broken proxy or gateway might: the whole request in the JSON `error`, its Authorization as the
    `message` (a title short enough to quote) and in a `WWW-Authenticate` header. With status 200 at
    the token endpoint it reads as an OAuth error."""

    def reply(request: SeenRequest) -> Reply:
        query = urlencode(request.params)
        target = f"{request.path}?{query}" if query and request.method == "GET" else request.path
        echo = request_echo(request.method, target, request.headers, query if request.method == "POST" else "")
        authorization = request.headers.get("authorization", "")
        return Reply(status, _json({"error": echo, "message": authorization or echo}),
                     {"WWW-Authenticate": f'Basic realm="reddit", error="{authorization}"'})

    return reply


def load_corpus(directory: Path = CORPUS_DIR) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The posts and comments (t3 and t1 `data` objects) of a corpus folder."""
    posts = json.loads((directory / "posts.json").read_text(encoding="utf-8"))
    comments = json.loads((directory / "comments.json").read_text(encoding="utf-8"))
    return posts, comments


def query_matcher(query: str) -> Callable[[Mapping[str, Any]], bool]:
    """A loose reading of a Reddit search query: does a post's title or self-text contain any of its terms?

    Terms and "quoted phrases" are OR-ed whatever the operators; `AND`, `OR`, `NOT`, parentheses and
    `field:value` operators are ignored. Matching is case-insensitive and not on word boundaries.
    """
    terms = []
    for token in re.findall(r'"[^"]*"|[^\s()]+', query):
        if token in ("AND", "OR", "NOT") or (":" in token and not token.startswith('"')):
            continue
        term = " ".join(token.strip('"').split()).casefold()
        if term:
            terms.append(term)

    def matches(post: Mapping[str, Any]) -> bool:
        text = " ".join(f"{post.get('title') or ''} {post.get('selftext') or ''}".split()).casefold()
        return any(term in text for term in terms)

    return matches


class FakeRedditApi(LoopbackServer):
    """Reddit's search, comment and OAuth endpoints over a fixed set of posts and comments, on 127.0.0.1.

    Args:
        posts: t3 `data` objects (id, name, subreddit, title, selftext, author, created_utc, permalink, ...).
        comments: t1 `data` objects (id, name, link_id, parent_id, author, body, created_utc, ...).
        client_id: the app's client id to accept.
        client_secret: its secret.
        page_size: the most items on one page, whatever `limit` asks.
        shift_seconds: added to every `created_utc` (the demo moves the corpus into its window).
        private_subreddits: subreddits that answer 403 private.
        quarantined_subreddits: subreddits that answer a 403 without a reason, threads included.
        host: the loopback address to bind.
        port: the port; 0 picks a free one.
    """

    def __init__(
        self,
        posts: Iterable[Mapping[str, Any]] = (),
        comments: Iterable[Mapping[str, Any]] = (),
        *,
        client_id: str = DEMO_CLIENT_ID,
        client_secret: str = DEMO_CLIENT_SECRET,
        page_size: int = MAX_LIMIT,
        shift_seconds: float = 0.0,
        private_subreddits: Iterable[str] = (),
        quarantined_subreddits: Iterable[str] = (),
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self.client_id = client_id
        self.client_secret = client_secret
        self.page_size = page_size
        self.shift_seconds = shift_seconds
        self.private_subreddits = {name.lower() for name in private_subreddits}
        self.quarantined_subreddits = {name.lower() for name in quarantined_subreddits}
        self.requests: list[SeenRequest] = []
        self._posts: dict[str, dict[str, Any]] = {}
        self._comments: dict[str, dict[str, Any]] = {}
        self._removed: set[str] = set()
        self._tokens: set[str] = set()
        self._scripts: defaultdict[str, deque[Scripted]] = defaultdict(deque)
        self._window_started = time.monotonic()
        self._window_used = 0
        self._lock = threading.Lock()
        self.add(posts, comments)
        self._bind(host, port, self._handler_class())

    @classmethod
    def from_corpus(cls, directory: Path = CORPUS_DIR, **options: Any) -> FakeRedditApi:
        """A server over a corpus folder (by default the demo's `demo/corpus/reddit/`)."""
        posts, comments = load_corpus(directory)
        return cls(posts, comments, **options)

    @property
    def searches(self) -> list[dict[str, str]]:
        """The parameters of every JSON search request received, in order, with `path`."""
        return [
            {"path": request.path, **request.params}
            for request in self.requests
            if (match := _SEARCH.match(request.path)) and match["ext"] != ".rss"
        ]

    def requests_to(self, path: str) -> list[SeenRequest]:
        """The requests received for one path, in order."""
        return [request for request in self.requests if request.path == path]

    def add(self, posts: Iterable[Mapping[str, Any]] = (), comments: Iterable[Mapping[str, Any]] = ()) -> None:
        """Publish more posts and comments (`shift_seconds` applies to them too)."""
        with self._lock:
            for post in posts:
                item = {**post, "created_utc": float(post["created_utc"]) + self.shift_seconds}
                item.setdefault("name", f"t3_{item['id']}")
                self._posts[item["name"]] = item
            for comment in comments:
                item = {**comment, "created_utc": float(comment["created_utc"]) + self.shift_seconds}
                item.setdefault("name", f"t1_{item['id']}")
                self._comments[item["name"]] = item

    def delete(self, fullname: str) -> None:
        """Make a post or comment look deleted by its author: "[deleted]" author and text, still listed."""
        with self._lock:
            if fullname in self._posts:
                self._posts[fullname].update(author="[deleted]", selftext="[deleted]", removed_by_category="deleted")
            else:
                self._comments[fullname].update(author="[deleted]", body="[deleted]")

    def delete_account(self, username: str) -> None:
        """Make an account look deleted: its posts and comments stay, their author shown as "[deleted]"."""
        with self._lock:
            for item in [*self._posts.values(), *self._comments.values()]:
                if item.get("author") == username:
                    item["author"] = "[deleted]"
                    item.pop("author_fullname", None)

    def remove(self, fullname: str) -> None:
        """Make a post or comment vanish: gone from listings, and a post's thread answers 404."""
        with self._lock:
            self._removed.add(fullname)

    def start_rate_window(self) -> None:
        """Start a new rate-limit window, all its requests left (the demo's replay of its month: its cycles are
        hours apart on the platforms' clock, seconds apart on this one)."""
        with self._lock:
            self._window_started, self._window_used = time.monotonic(), 0

    def script(self, path: str, *replies: Scripted) -> None:
        """Answer the next requests for `path` (exact, without query) with these replies in turn.

        A reply is a `Reply`, a function of the request that makes one (`echoed`), or None: answer normally.
        """
        with self._lock:
            self._scripts[path].extend(replies)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(QuietRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes; with Nagle on, each keep-alive answer waits ~40 ms.
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                self._respond("GET", urlsplit(self.path).query)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self._respond("POST", self.rfile.read(length).decode("utf-8", errors="replace"))

            def _respond(self, method: str, query: str) -> None:
                params = {name: values[-1] for name, values in parse_qs(query, keep_blank_values=True).items()}
                request = SeenRequest(method, urlsplit(self.path).path, params, {k.lower(): v for k, v in self.headers.items()})
                reply = api._answer(request)
                self.send_response(reply.status)
                headers = {"Content-Type": "application/json; charset=UTF-8", "Content-Length": str(len(reply.body)), **reply.headers}
                if request.headers.get("connection", "").lower() == "close":
                    headers["Connection"] = "close"  # say so, or the client may reuse the socket we are about to close
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(reply.body)

        return Handler

    def _answer(self, request: SeenRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            scripted = self._scripts[request.path].popleft() if self._scripts[request.path] else None
            if callable(scripted):
                return scripted(request)
            if scripted is not None:
                return scripted
            if request.path == TOKEN_PATH:
                return self._token(request) if request.method == "POST" else Reply(405, _json({"message": "Method Not Allowed", "error": 405}))
            search = _SEARCH.match(request.path)
            if search and search["ext"] == ".rss":
                return self._feed(search["sub"], request)
            if request.headers.get("authorization", "").removeprefix("bearer ").removeprefix("Bearer ") not in self._tokens:
                return unauthorized()
            headers = self._rate_limit_headers()
            if search:
                reply = self._subreddit_check(search["sub"]) or Reply(200, _json(self._search(search["sub"], request.params)))
            elif stream := _STREAM.match(request.path):
                reply = self._subreddit_check(stream["sub"]) or Reply(200, _json(self._stream(stream["sub"], request.params)))
            elif thread := _THREAD.match(request.path):
                reply = self._thread_reply(f"t3_{thread['id']}")
            else:
                reply = Reply(404, _json({"message": "Not Found", "error": 404}))
            reply.headers = {**headers, **reply.headers}
            return reply

    def _token(self, request: SeenRequest) -> Reply:
        try:
            scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return unauthorized()
        if scheme.lower() != "basic" or client_id != self.client_id:
            return unauthorized()
        grant = request.params.get("grant_type")
        if grant == "client_credentials" and secret != self.client_secret:
            return unauthorized()
        if grant not in ("client_credentials", INSTALLED_CLIENT_GRANT):
            return Reply(200, _json({"error": "unsupported_grant_type"}))
        token = f"fake-reddit-token-{len(self._tokens) + 1}"
        self._tokens.add(token)
        return Reply(200, _json({"access_token": token, "token_type": "bearer", "expires_in": 86400, "scope": "*"}))

    def _rate_limit_headers(self) -> dict[str, str]:
        now = time.monotonic()
        if now - self._window_started >= RATE_WINDOW_SECONDS:
            self._window_started, self._window_used = now, 0
        self._window_used += 1
        return {
            "x-ratelimit-used": str(self._window_used),
            "x-ratelimit-remaining": f"{max(REQUESTS_PER_WINDOW - self._window_used, 0):.1f}",
            "x-ratelimit-reset": str(int(self._window_started + RATE_WINDOW_SECONDS - now)),
        }

    def _subreddit_check(self, subreddit: str | None) -> Reply | None:
        if subreddit is None:
            return None
        if subreddit.lower() in self.private_subreddits:
            return forbidden("private")
        if subreddit.lower() in self.quarantined_subreddits:
            return forbidden()
        if not any(post.get("subreddit", "").lower() == subreddit.lower() for post in self._posts.values()):
            return Reply(404, _json({"message": "Not Found", "error": 404, "reason": "banned"}))
        return None

    def _found(self, subreddit: str | None, params: Mapping[str, str]) -> list[dict[str, Any]]:
        matches = query_matcher(params.get("q", ""))
        restrict = subreddit is not None and params.get("restrict_sr", "").lower() in ("on", "1", "true")
        found = [
            post for name, post in self._posts.items()
            if name not in self._removed and matches(post)
            and (not restrict or post.get("subreddit", "").lower() == (subreddit or "").lower())
            and (restrict or post.get("subreddit", "").lower() not in self.quarantined_subreddits)
        ]
        return sorted(found, key=lambda post: (post["created_utc"], post["name"]), reverse=True)

    def _search(self, subreddit: str | None, params: Mapping[str, str]) -> dict[str, Any]:
        posts = [self._post_data(post) for post in self._found(subreddit, params)]
        return self._listing([("t3", post) for post in posts], params)

    def _stream(self, subreddit: str, params: Mapping[str, str]) -> dict[str, Any]:
        comments = [
            comment for name, comment in self._comments.items()
            if name not in self._removed and comment.get("link_id") not in self._removed
            and self._posts.get(comment.get("link_id", ""), {}).get("subreddit", "").lower() == subreddit.lower()
        ]
        comments.sort(key=lambda comment: (comment["created_utc"], comment["name"]), reverse=True)
        return self._listing([("t1", self._stream_comment(comment)) for comment in comments], params)

    def _thread_reply(self, post_name: str) -> Reply:
        post = self._posts.get(post_name)
        if post is None or post_name in self._removed:
            return Reply(404, _json({"message": "Not Found", "error": 404}))
        if post.get("subreddit", "").lower() in self.quarantined_subreddits:
            return forbidden()
        children: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        for name, comment in self._comments.items():
            if comment.get("link_id") == post_name and name not in self._removed:
                children[comment.get("parent_id", post_name)].append(comment)

        def tree(parent: str, depth: int) -> dict[str, Any] | str:
            replies = sorted(children.get(parent, []), key=lambda comment: comment["created_utc"], reverse=True)
            if not replies:
                return ""
            return _listing_document([
                ("t1", {**self._comment_data(comment), "depth": depth, "replies": tree(comment["name"], depth + 1)})
                for comment in replies
            ])

        comments = tree(post_name, 0) or _listing_document([])
        return Reply(200, _json([_listing_document([("t3", self._post_data(post))]), comments]))

    def _feed(self, subreddit: str | None, request: SeenRequest) -> Reply:
        if subreddit and (check := self._subreddit_check(subreddit)):
            return Reply(check.status, b"", {"Content-Type": "text/html; charset=utf-8"})
        listing = self._listing([("t3", self._post_data(post)) for post in self._found(subreddit, request.params)], request.params)
        entries = "".join(self._feed_entry(child["data"]) for child in listing["data"]["children"])
        path = f"/r/{quote(subreddit)}/search.rss" if subreddit else "/search.rss"
        self_url = f"{self.base_url}{path}?{urlencode(request.params)}"
        category = f'<category term={quoteattr(subreddit)} label={quoteattr("r/" + subreddit)}/>' if subreddit else ""
        document = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/">'
            f"{category}<updated>{_iso(time.time())}</updated><icon>https://www.redditstatic.com/icon.png/</icon>"
            f"<id>{escape(self_url)}</id><link rel=\"self\" href={quoteattr(self_url)} type=\"application/atom+xml\" />"
            f"<title>reddit.com: search results - {escape(request.params.get('q', ''))}</title>{entries}</feed>"
        )
        return Reply(200, document.encode("utf-8"), {"Content-Type": "application/atom+xml; charset=UTF-8"})

    def _feed_entry(self, post: Mapping[str, Any]) -> str:
        link = f"{self.base_url}{post.get('permalink', '')}"
        user = f"{self.base_url}/user/{quote(post.get('author') or '')}"
        body = ""
        if post.get("selftext"):
            paragraphs = "".join(f"<p>{html.escape(part)}</p>" for part in post["selftext"].split("\n\n"))
            body = f'<!-- SC_OFF --><div class="md">{paragraphs}</div><!-- SC_ON -->'
        content = (
            f'{body} &#32; submitted by &#32; <a href="{user}"> /u/{html.escape(post.get("author") or "")} </a> <br/> '
            f'<span><a href="{link}">[link]</a></span> &#32; <span><a href="{link}">[comments]</a></span>'
        )
        subreddit = post.get("subreddit") or ""
        return (
            f"<entry><author><name>/u/{escape(post.get('author') or '')}</name><uri>{escape(user)}</uri></author>"
            f"<category term={quoteattr(subreddit)} label={quoteattr('r/' + subreddit)}/>"
            f'<content type="html">{escape(content)}</content><id>{post["name"]}</id><link href={quoteattr(link)} />'
            f"<updated>{_iso(post['created_utc'])}</updated><published>{_iso(post['created_utc'])}</published>"
            f"<title>{escape(post.get('title') or '')}</title></entry>"
        )

    def _listing(self, items: list[tuple[str, dict[str, Any]]], params: Mapping[str, str]) -> dict[str, Any]:
        try:
            limit = int(params.get("limit", "25"))
        except ValueError:
            limit = 25
        limit = max(1, min(limit, MAX_LIMIT, self.page_size))
        names = [data["name"] for _, data in items]
        after = params.get("after")
        start = names.index(after) + 1 if after in names else 0
        page = items[start : start + limit]
        document = _listing_document(page)
        document["data"]["after"] = page[-1][1]["name"] if page and start + limit < len(items) else None
        return document

    def _post_data(self, post: Mapping[str, Any]) -> dict[str, Any]:
        comments = sum(
            1 for name, comment in self._comments.items() if comment.get("link_id") == post["name"] and name not in self._removed
        )
        return {**post, "num_comments": comments}

    def _comment_data(self, comment: Mapping[str, Any]) -> dict[str, Any]:
        post = self._posts.get(comment.get("link_id", ""), {})
        return {"subreddit": post.get("subreddit"), "subreddit_name_prefixed": f"r/{post.get('subreddit')}", **comment}

    def _stream_comment(self, comment: Mapping[str, Any]) -> dict[str, Any]:
        post = self._posts.get(comment.get("link_id", ""), {})
        return {
            **self._comment_data(comment),
            "link_title": post.get("title"),
            "link_author": post.get("author"),
            "link_permalink": f"{self.base_url}{post.get('permalink', '')}",
            "num_comments": self._post_data(post)["num_comments"] if post else 0,
            "over_18": post.get("over_18", False),
        }


def _listing_document(items: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    return {
        "kind": "Listing",
        "data": {"after": None, "before": None, "dist": len(items), "modhash": "", "geo_filter": "",
                 "children": [{"kind": kind, "data": data} for kind, data in items]},
    }


def _iso(created_utc: float) -> str:
    return datetime.fromtimestamp(created_utc, tz=UTC).isoformat()


def _json(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def main() -> None:
    """Serve the sample corpus until Ctrl+C."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--page-size", type=int, default=25)
    arguments = parser.parse_args()
    api = FakeRedditApi.from_corpus(page_size=arguments.page_size, port=arguments.port)
    print(f"Fake Reddit at {api.base_url} (client id {DEMO_CLIENT_ID}, secret {DEMO_CLIENT_SECRET}); Ctrl+C to stop")
    with api:
        wait_until_interrupted()


if __name__ == "__main__":
    main()
