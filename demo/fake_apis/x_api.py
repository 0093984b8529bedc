"""A fake X API v2 recent search on loopback, for the demo and the tests. Standard library only.

`FakeXApi` serves `GET /2/tweets/search/recent` from tweet and user objects in the API's own wire
format (`demo/corpus/x/tweets.json` holds a sample about Brightwave, Skylark Fibre and Tidewell),
and answers the way the real endpoint does where a collector can tell the difference:

- a bearer token (`Authorization: Bearer ...`), else 401 with the API's problem body;
- the query honoured loosely: any of its terms (keywords, "exact phrases", #hashtags, @handles,
  $cashtags, matched case-insensitively on word boundaries), less `-from:` authors, `-is:retweet`
  and `lang:` filters; other operators are ignored;
- `since_id`, `until_id`, `start_time` and `end_time`; newest first; pages of `max_results` (at most
  `page_size`) with `meta.next_token`, `meta.newest_id`, `meta.oldest_id` and `meta.result_count`;
- `includes.users` for the authors (expansions=author_id), unless `include_users=False`;
- `x-rate-limit-limit/-remaining/-reset` on every answer, `requests_per_window` requests per
  15-minute window (then 429 until the reset), and a `Date` header from the fake clock;
- the API's 400s for what a collector must handle: `max_results` outside 10..100, a query longer than
  `max_query_chars`, an `end_time` less than 10 s before now, a `start_time` or `since_id` older
  than the 7 days recent search reaches.

The clock is `now` when given (tests move it with `advance`), else the real time. Tests script
failures for the next requests with `script(...)`: `rate_limited`, `server_error`,
`malformed_json`, `unauthorized`, `forbidden`, `echoed` (the request echoed back, bearer token and
all), or None to answer normally. Partial errors (deleted
posts, suspended authors) come from `partial_errors`, built with `deleted_post_error` and
`suspended_user_error`.

Example:
    with FakeXApi.from_corpus(now=datetime(2026, 11, 2, 12, 5, tzinfo=UTC)) as api:
        ...  # point an XSource's api_base_url at api.base_url, bearer token DEMO_TOKEN
        assert api.searches[0]["query"].startswith("(Brightwave")

Run `python -m demo.fake_apis.x_api` to serve the sample corpus by hand.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import email.utils
import json
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from demo.fake_apis.loopback import LoopbackServer, QuietRequestHandler, request_echo, wait_until_interrupted

CORPUS_FILE = Path(__file__).resolve().parents[1] / "corpus" / "x" / "tweets.json"
SEARCH_PATH = "/2/tweets/search/recent"
DEMO_TOKEN = "demo-bearer-token"
RATE_WINDOW_SECONDS = 900
RECENT_SEARCH_REACH = timedelta(days=7)
END_TIME_MIN_AGE = timedelta(seconds=10)
# X's ids are snowflakes: milliseconds since this instant, shifted left by 22 bits.
SNOWFLAKE_EPOCH_MS = 1288834974657

_PROBLEM = "https://api.twitter.com/2/problems"


@dataclass
class Reply:
    """One scripted answer.

    Attributes:
        status: the HTTP status.
        body: the body bytes.
        headers: extra response headers.
        reset_after: for a 429, seconds from the fake clock's now to `x-rate-limit-reset`.
    """

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    reset_after: float | None = None


@dataclass(frozen=True)
class SeenRequest:
    """A request the server received: path, query parameters (one value each) and lowercase headers."""

    path: str
    params: dict[str, str]
    headers: dict[str, str]


# One scripted answer: a reply, a function of the request that makes one, or None (answer normally).
Scripted = Reply | Callable[[SeenRequest], Reply] | None


def rate_limited(reset_after: float) -> Reply:
    """A 429 whose `x-rate-limit-reset` lies `reset_after` seconds after the server's now."""
    return Reply(429, _json({"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}),
                 reset_after=reset_after)


def server_error(status: int = 503) -> Reply:
    """A 5xx with the API's problem body."""
    title = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}.get(status, "Server Error")
    return Reply(status, _json({"title": title, "detail": title, "type": "about:blank", "status": status}))


def malformed_json() -> Reply:
    """A 200 whose body is cut off mid-JSON."""
    return Reply(200, b'{"data": [{"id": "2117211503589208064", "text": "Update: @tidewell fin', {"Content-Type": "application/json"})


def unauthorized() -> Reply:
    """The 401 X sends for a missing or invalid bearer token."""
    return Reply(401, _json({"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}))


def forbidden() -> Reply:
    """The 403 X sends when the app's access level does not include the endpoint."""
    return Reply(403, _json({
        "client_id": "28659504",
        "detail": "When authenticating requests to the Twitter API v2 endpoints, you must use keys and tokens from a "
                  "Twitter developer App that is attached to a Project. You can create a project via the developer portal.",
        "registration_url": "https://developer.twitter.com/en/docs/projects/overview",
        "title": "Client Forbidden",
        "required_enrollment": "Appropriate Level of API Access",
        "reason": "client-not-enrolled",
        "type": f"{_PROBLEM}/client-forbidden",
    }))


def echoed(status: int = 403) -> Callable[[SeenRequest], Reply]:
    """A script step that answers with the request it received echoed back, bearer token and all, as a
    broken gateway might: the whole request in the problem body's `detail` and `errors`, its
    Authorization as the `title` (short enough to quote) and in a `WWW-Authenticate` header."""

    def reply(request: SeenRequest) -> Reply:
        target = f"{request.path}?{urlencode(request.params)}" if request.params else request.path
        echo = request_echo("GET", target, request.headers)
        authorization = request.headers.get("authorization", "")
        problem = {"title": authorization or echo, "detail": echo, "type": "about:blank", "status": status,
                   "errors": [{"message": echo}]}
        return Reply(status, _json(problem), {"WWW-Authenticate": f'Bearer realm="x", error="{authorization}"'})

    return reply


def deleted_post_error(post_id: str, parameter: str = "referenced_tweets.id") -> dict[str, str]:
    """The partial error X returns for a post that no longer exists."""
    return {
        "value": post_id,
        "detail": f"Could not find tweet with {parameter}: [{post_id}].",
        "title": "Not Found Error",
        "resource_type": "tweet",
        "parameter": parameter,
        "resource_id": post_id,
        "type": f"{_PROBLEM}/resource-not-found",
    }


def suspended_user_error(user_id: str, parameter: str = "author_id") -> dict[str, str]:
    """The partial error X returns for a suspended author."""
    return {
        "value": user_id,
        "detail": f"User has been suspended: [{user_id}].",
        "title": "Forbidden",
        "resource_type": "user",
        "parameter": parameter,
        "resource_id": user_id,
        "type": f"{_PROBLEM}/resource-not-found",
    }


def snowflake_time(post_id: str) -> datetime:
    """When a post (or any snowflake id) was created."""
    return datetime.fromtimestamp(((int(post_id) >> 22) + SNOWFLAKE_EPOCH_MS) / 1000, tz=UTC)


def snowflake_id(moment: datetime, sequence: int = 0) -> str:
    """A snowflake id for an instant (the inverse of `snowflake_time`, for building test posts)."""
    return str(((int(moment.timestamp() * 1000) - SNOWFLAKE_EPOCH_MS) << 22) | sequence)


def load_corpus(path: Path = CORPUS_FILE) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The tweets and users of a corpus file `{"users": [...], "tweets": [...]}`."""
    document = json.loads(path.read_text(encoding="utf-8"))
    return document["tweets"], document["users"]


def query_matcher(query: str) -> Callable[[Mapping[str, Any], str | None], bool]:
    """A loose reading of a search query: does a post (and its author's username) match it?

    Positive terms are OR-ed whatever the grouping; `-from:`, `-is:retweet` and `lang:` filter;
    other operators are ignored.
    """
    patterns: list[re.Pattern[str]] = []
    authors: set[str] = set()
    excluded_authors: set[str] = set()
    languages: set[str] = set()
    no_retweets = False
    for token in re.findall(r'-?"[^"]*"|[()]|[^\s()]+', query):
        lowered = token.lower()
        if token in ("(", ")", "OR"):
            continue
        if lowered.startswith("-from:"):
            excluded_authors.add(lowered[6:])
        elif lowered.startswith("from:"):
            authors.add(lowered[5:])
        elif lowered == "-is:retweet":
            no_retweets = True
        elif lowered.startswith("lang:"):
            languages.add(lowered[5:])
        elif token.startswith("-") or (":" in token and not token.startswith('"')):
            continue
        else:
            term = token.strip('"')
            patterns.append(re.compile(rf"(?<!\w){re.escape(term)}(?!\w)", re.IGNORECASE))

    def matches(post: Mapping[str, Any], username: str | None) -> bool:
        author = (username or "").lower()
        if author in excluded_authors:
            return False
        if no_retweets and any(ref.get("type") == "retweeted" for ref in post.get("referenced_tweets") or []):
            return False
        if languages and post.get("lang") not in languages:
            return False
        if not patterns and not authors:
            return True
        return author in authors or any(pattern.search(post.get("text", "")) for pattern in patterns)

    return matches


class FakeXApi(LoopbackServer):
    """X API v2 recent search over a fixed set of posts, on 127.0.0.1 until stopped.

    Args:
        tweets: post objects in the API's wire format (id, text, author_id, created_at, ...).
        users: user objects (id, username, name, verified, public_metrics).
        bearer_token: the token to accept; None accepts any request.
        page_size: the most posts on one page, whatever `max_results` asks.
        now: the fake clock's start (timezone-aware); None follows the real clock.
        requests_per_window: search requests allowed per 15-minute window before 429s.
        include_users: False leaves `includes` out (authors not expanded).
        partial_errors: entries for the `errors` array of every first page that has posts.
        max_query_chars: the query length limit (512 on the Basic and pay-per-use tiers).
        host: the loopback address to bind.
        port: the port; 0 picks a free one.
    """

    def __init__(
        self,
        tweets: Iterable[Mapping[str, Any]] = (),
        users: Iterable[Mapping[str, Any]] = (),
        *,
        bearer_token: str | None = DEMO_TOKEN,
        page_size: int = 100,
        now: datetime | None = None,
        requests_per_window: int = 450,
        include_users: bool = True,
        partial_errors: Iterable[Mapping[str, Any]] = (),
        max_query_chars: int = 512,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self.bearer_token = bearer_token
        self.page_size = page_size
        self.requests_per_window = requests_per_window
        self.include_users = include_users
        self.partial_errors = [dict(error) for error in partial_errors]
        self.max_query_chars = max_query_chars
        self.requests: list[SeenRequest] = []
        self._tweets: list[dict[str, Any]] = []
        self._users: dict[str, dict[str, Any]] = {}
        self._now = now
        self._script: deque[Scripted] = deque()
        self._window_start: datetime | None = None
        self._window_used = 0
        self._lock = threading.Lock()
        self.add(tweets, users)
        self._bind(host, port, self._handler_class())

    @classmethod
    def from_corpus(cls, path: Path = CORPUS_FILE, **options: Any) -> FakeXApi:
        """A server over a corpus file (by default the demo's `demo/corpus/x/tweets.json`)."""
        tweets, users = load_corpus(path)
        return cls(tweets, users, **options)

    @property
    def now(self) -> datetime:
        """The fake clock."""
        return self._now or datetime.now(UTC)

    @property
    def searches(self) -> list[dict[str, str]]:
        """The query parameters of every search request received, in order."""
        return [request.params for request in self.requests if request.path == SEARCH_PATH]

    def add(self, tweets: Iterable[Mapping[str, Any]] = (), users: Iterable[Mapping[str, Any]] = ()) -> None:
        """Publish more posts (and their authors)."""
        with self._lock:
            self._tweets.extend(dict(tweet) for tweet in tweets)
            self._users.update({str(user["id"]): dict(user) for user in users})

    def script(self, *replies: Scripted) -> None:
        """Answer the next search requests with these replies in turn: a `Reply`, a function of the
        request that makes one (`echoed`), or None (answer normally)."""
        with self._lock:
            self._script.extend(replies)

    def advance(self, seconds: float) -> None:
        """Move the fake clock forward (tests pass this as the collector's sleep)."""
        with self._lock:
            if self._now is None:
                raise RuntimeError("advance() needs a server started with now=...")
            self._now += timedelta(seconds=seconds)

    def set_clock(self, now: datetime) -> None:
        """Put the fake clock at `now` (the demo's replay of its month moves it cycle by cycle)."""
        with self._lock:
            if self._now is None:
                raise RuntimeError("set_clock() needs a server started with now=...")
            self._now = now

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(QuietRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as separate writes

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                params = {name: values[-1] for name, values in parse_qs(parts.query, keep_blank_values=True).items()}
                request = SeenRequest(parts.path, params, {k.lower(): v for k, v in self.headers.items()})
                status, headers, body = api._answer(request)
                self.send_response_only(status)  # not send_response: it would add a second, real-clock Date
                for name, value in {"Content-Type": "application/json; charset=utf-8", "Content-Length": str(len(body)), **headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

        return Handler

    def _answer(self, request: SeenRequest) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.requests.append(request)
            now = self.now
            headers = {"Date": email.utils.format_datetime(now, usegmt=True)}
            if request.path != SEARCH_PATH:
                return 404, headers, _json({"title": "Not Found Error", "detail": f"No route for {request.path}", "type": "about:blank", "status": 404})
            scripted = self._script.popleft() if self._script else None
            if callable(scripted):
                scripted = scripted(request)
            if scripted is not None:
                if scripted.reset_after is not None:
                    reset = int(now.timestamp() + scripted.reset_after)
                    headers.update({"x-rate-limit-limit": str(self.requests_per_window), "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)})
                return scripted.status, {**headers, **scripted.headers}, scripted.body
            if self.bearer_token is not None and request.headers.get("authorization") != f"Bearer {self.bearer_token}":
                return 401, headers, unauthorized().body
            if self._window_start is None or now >= self._window_start + timedelta(seconds=RATE_WINDOW_SECONDS):
                self._window_start, self._window_used = now, 0
            reset = int(self._window_start.timestamp()) + RATE_WINDOW_SECONDS
            headers.update({"x-rate-limit-limit": str(self.requests_per_window), "x-rate-limit-reset": str(reset)})
            if self._window_used >= self.requests_per_window:
                headers["x-rate-limit-remaining"] = "0"
                return 429, headers, rate_limited(0).body
            self._window_used += 1
            headers["x-rate-limit-remaining"] = str(self.requests_per_window - self._window_used)
            status, document = self._search(request.params, now)
            return status, headers, _json(document)

    def _search(self, params: Mapping[str, str], now: datetime) -> tuple[int, dict[str, Any]]:
        query = params.get("query", "")
        if not query:
            return _invalid("query", query, "The `query` query parameter can not be empty")
        if len(query) > self.max_query_chars:
            return _invalid("query", query, f"Query is too long: {len(query)} characters, the limit is {self.max_query_chars}")
        try:
            max_results = int(params.get("max_results", "10"))
        except ValueError:
            max_results = -1
        if not 10 <= max_results <= 100:
            return _invalid("max_results", params.get("max_results", ""), "The `max_results` query parameter value is not between 10 and 100")
        since_id, until_id = params.get("since_id"), params.get("until_id")
        start_time, end_time = _parse_time(params.get("start_time")), _parse_time(params.get("end_time"))
        oldest = now - RECENT_SEARCH_REACH
        if end_time and end_time > now - END_TIME_MIN_AGE:
            return _invalid("end_time", params["end_time"], f"Invalid 'end_time':'{params['end_time']}'. 'end_time' must be a minimum of 10 seconds prior to the request time.")
        if start_time and start_time < oldest:
            return _invalid("start_time", params["start_time"], f"Invalid 'start_time':'{params['start_time']}'. 'start_time' must be on or after {oldest:%Y-%m-%dT%H:%MZ}")
        if since_id and snowflake_time(since_id) < oldest:
            return _invalid("since_id", since_id, f"'since_id' must be a tweet id created after {oldest:%Y-%m-%dT%H:%MZ}. Please use a 'since_id' that is larger than {snowflake_id(oldest)}")
        token = params.get("next_token") or params.get("pagination_token")
        try:
            offset = int(base64.urlsafe_b64decode(token + "==").decode()) if token else 0
        except (ValueError, binascii.Error):
            return _invalid("next_token", token or "", "The `next_token` query parameter value is not valid")

        matches = query_matcher(query)
        found = []
        for post in self._tweets:
            created = _parse_time(post.get("created_at"))
            author = self._users.get(str(post.get("author_id")))
            if since_id and int(post["id"]) <= int(since_id):
                continue
            if until_id and int(post["id"]) >= int(until_id):
                continue
            if created and ((start_time and created < start_time) or (end_time and created >= end_time)):
                continue
            if matches(post, author.get("username") if author else None):
                found.append(post)
        found.sort(key=lambda post: int(post["id"]), reverse=True)
        page = found[offset : offset + min(max_results, self.page_size)]
        meta: dict[str, Any] = {"result_count": len(page)}
        document: dict[str, Any] = {}
        if page:
            document["data"] = page
            meta.update(newest_id=page[0]["id"], oldest_id=page[-1]["id"])
            authors = {str(post.get("author_id")) for post in page}
            users = [user for user_id, user in self._users.items() if user_id in authors]
            if self.include_users and users:
                document["includes"] = {"users": users}
            if offset == 0 and self.partial_errors:
                document["errors"] = self.partial_errors
        if offset + len(page) < len(found):
            meta["next_token"] = base64.urlsafe_b64encode(str(offset + len(page)).encode()).decode().rstrip("=")
        document["meta"] = meta
        return 200, document


def _invalid(parameter: str, value: str, message: str) -> tuple[int, dict[str, Any]]:
    return 400, {
        "errors": [{"parameters": {parameter: [value]}, "message": message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": f"{_PROBLEM}/invalid-request",
    }


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _json(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def main() -> None:
    """Serve the sample corpus until Ctrl+C."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--token", default=DEMO_TOKEN, help="the bearer token to accept")
    parser.add_argument("--page-size", type=int, default=10)
    arguments = parser.parse_args()
    api = FakeXApi.from_corpus(bearer_token=arguments.token, page_size=arguments.page_size, port=arguments.port)
    print(f"Fake X API at {api.base_url}{SEARCH_PATH} (bearer token: {arguments.token}); Ctrl+C to stop")
    with api:
        wait_until_interrupted()


if __name__ == "__main__":
    main()
