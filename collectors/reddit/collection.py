"""Reddit: brand searches sitewide and in watched subreddits, posts and comments.

With credentials (a Reddit app's client id and secret in the source's connection) the collector reads
Reddit's API through praw, read-only (app-only OAuth): for each brand and competitor a search
(`/search`, `/r/{sub}/search`, newest first), the comments of the posts that name a brand
(`/comments/{id}`), and the comment streams of the watched subreddits (`/r/{sub}/comments`) matched
here against the brand terms. Without credentials (new API apps need Reddit's approval) it falls back
to Reddit's public search feeds (`search.rss`) through the shared HTTP client: posts only, no
comments, no scores, and the run says so in a warning.

The cursor is `{"created_utc": <newest second seen>, "seen_ids": [<fullnames seen at that second>]}`,
so an item created at the boundary second is neither lost nor collected twice. Nothing created at or
after the end of the run's window is collected; the first run starts at the window's start.

Reddit's rate limit is handled here, not by praw (which does not retry 429): a 429 or 5xx is retried
a bounded number of times, waiting what `Retry-After` or `x-ratelimit-reset` asks, through the
context's `sleep` and within its time budget. A rate limit that outlasts the budget stops the source
cleanly: what was collected is kept, the cursor stays, and the run carries a warning (or fails, if
nothing was collected at all).
"""

from __future__ import annotations

import calendar
import json
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote, urlencode, urlsplit

import feedparser
import lxml.etree
import lxml.html
import praw
import prawcore
import requests

from collectors.context import CollectionContext
from collectors.exceptions import HttpStatusError
from collectors.html_text import html_to_text
from collectors.http import HttpClient, retry_after_seconds
from collectors.source_run import SourceRun
from config.model import BrandConfig, HttpSettings, RedditSource
from core.errors import CollectorError, TerminalError, TransientError
from core.mention import Mention
from query.brand_matching import BrandMatcher
from query.platform_syntax import QueryCompileError, to_reddit_query

PLATFORM = "reddit"
# Reddit's largest page; its search stops after about 1,000 results whatever the paging.
PAGE_LIMIT = 100
# Comments asked for per thread; the rest sit behind "load more" stubs, which are counted, not expanded.
THREAD_COMMENT_LIMIT = 500
# Reddit rejects longer search queries.
MAX_QUERY_CHARS = 512
GONE_MARKERS = frozenset({"[deleted]", "[removed]"})

_SERVER_ERRORS = frozenset({500, 502, 503, 504, 520, 522})
_RATE_LIMIT_HEADERS = ("x-ratelimit-remaining", "x-ratelimit-used", "x-ratelimit-reset")
_NETWORK_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
# A subreddit that cannot be read (403 with one of these reasons) is skipped with a warning; any other
# 401/403 means the credentials.
_UNREADABLE_SUBREDDIT_REASONS = frozenset({"private", "quarantined", "gold_only", "banned"})


class RateLimitStop(TransientError):
    """Reddit's rate limit outlasts the source's time budget: stop, keep what was collected and the cursor."""


class RedditCredentialsError(TerminalError):
    """The connection's credentials are missing a part, or Reddit rejected them."""


class _SubredditUnreadable(CollectorError):
    """One watched subreddit cannot be read (private, banned, missing); the others still are."""


@dataclass(frozen=True)
class Page:
    """One page of a newest-first listing.

    Attributes:
        items: `(kind, data)` pairs: kind is t3 (post) or t1 (comment), data the object's fields.
        after: the token of the next page, None on the last one.
    """

    items: list[tuple[str, dict[str, Any]]]
    after: str | None


@dataclass(frozen=True)
class Thread:
    """A post as `/comments/{id}` returns it, with its comments flattened.

    Attributes:
        post: the post's fields, as fresh as the thread.
        comments: every comment in the thread, parents before replies.
        more: how many comments sat behind "load more" stubs and were not fetched.
    """

    post: dict[str, Any]
    comments: list[dict[str, Any]]
    more: int


def collect_reddit(source: RedditSource, cursor: Mapping[str, Any] | None, context: CollectionContext) -> SourceRun:
    """Collect the Reddit posts and comments created since the cursor, within the run's window.

    Args:
        source: which subreddits to watch, whether to search sitewide and read comments, the cap, the base URLs.
        cursor: the previous run's `{"created_utc", "seen_ids"}`, or None on the first run.
        context: the shared client (for the feed fallback), brands, window, credentials, time budget and sleep.

    Returns:
        The run outcome: ok with the mentions (deleted items in `deleted_keys`) and the next cursor;
        failed with what to fix (credentials, an endpoint that answered 5xx or malformed JSON) and the
        cursor unchanged. A rate limit beyond the time budget keeps what was collected and the old cursor.
    """
    started = time.perf_counter()
    bounds = CollectionBounds.from_cursor(cursor, context.window)
    harvest = Harvest(source, bounds, context.brands)
    credentials = context.credentials.get(source.connection)
    session: requests.Session | None = None
    try:
        if credentials:
            session = requests.Session()
            reader: RedditReader = ApiReader.connect(source, credentials, context, session)
        else:
            reader = FeedReader(source, context.client)
            harvest.warnings.append(
                f"no credentials in the {source.connection} connection, so Reddit was read through its public search "
                f"feeds (search.rss): posts only, no comments, no scores. For the API, {credentials_help(source.connection)}"
            )
        harvest.run(reader)
    except RateLimitStop as stop:
        harvest.stopped_by = stop
    except CollectorError as error:
        run = SourceRun.failed(source.name, source.kind, error)
        run.warnings = harvest.warnings
        run.duration_seconds = time.perf_counter() - started
        return run
    finally:
        if session is not None:
            session.close()
    run = harvest.outcome(cursor)
    run.duration_seconds = time.perf_counter() - started
    return run


def credentials_help(connection: str) -> str:
    """How to give a Reddit connection its credentials (never showing them)."""
    return (
        f"set the {connection} Airflow connection: login = client id, password = secret, "
        f'extra {{"user_agent": "<platform>:<app name>:<version> (by u/<your Reddit username>)"}}, '
        f"or AIRFLOW_CONN_{connection.upper()}"
    )


def search_queries(brand: BrandConfig) -> list[str]:
    """Reddit search queries for a brand: its aliases (quoted when multi-word), hashtags and handles, OR-ed.

    Hashtags lose their '#' and handles their '@'; terms repeated in another case are asked once.
    Terms that do not fit one query (512 characters) go into another. A brand with its own query
    is searched with that query in Reddit syntax (none when nothing on Reddit can match it).
    """
    if brand.query:
        try:
            compiled = to_reddit_query(brand.query)
        except QueryCompileError as error:
            raise TerminalError(f"the query of {brand.name} cannot be searched on Reddit: {error}") from None
        if compiled and len(compiled) > MAX_QUERY_CHARS:
            raise TerminalError(
                f"the query of {brand.name} is {len(compiled)} characters in Reddit syntax; Reddit takes "
                f"{MAX_QUERY_CHARS}: shorten it"
            )
        return [compiled] if compiled else []
    terms: list[str] = []
    seen: set[str] = set()
    for raw in [*brand.aliases, *(tag.lstrip("#") for tag in brand.hashtags), *(h.lstrip("@") for h in brand.handles)]:
        term = " ".join(raw.replace('"', " ").split())
        if term and term.casefold() not in seen:
            seen.add(term.casefold())
            terms.append(f'"{term}"' if " " in term else term)
    queries: list[str] = []
    for term in terms:
        if queries and len(queries[-1]) + len(" OR ") + len(term) <= MAX_QUERY_CHARS:
            queries[-1] += f" OR {term}"
        else:
            queries.append(term[:MAX_QUERY_CHARS])
    return queries


def is_gone(data: Mapping[str, Any]) -> bool:
    """Whether a post or comment was deleted by its author or removed by moderators."""
    if data.get("author") in GONE_MARKERS:
        return True
    text = data.get("body") if "body" in data else data.get("selftext")
    return isinstance(text, str) and text.strip() in GONE_MARKERS


def fullname(kind: str, data: Mapping[str, Any]) -> str:
    """The object's fullname (t3_abc, t1_def): Reddit's id, unique across kinds."""
    return str(data.get("name") or f"{kind}_{data['id']}")


def post_mention(post: Mapping[str, Any], source: str, reddit_url: str) -> Mention:
    """A mention from a post's fields (a t3 object's `data`).

    Args:
        post: the post as the API (or the feed fallback) gives it.
        source: the configured source name.
        reddit_url: the base of permalinks (https://www.reddit.com).

    Returns:
        The mention; text is the title and the self-text.
    """
    name = fullname("t3", post)
    title = post.get("title") or ""
    selftext = post.get("selftext") or ""
    return Mention(
        platform=PLATFORM,
        source=source,
        native_id=name,
        url=_permalink(reddit_url, post.get("permalink")),
        text=f"{title}\n\n{selftext}" if selftext else title,
        title=title,
        author_handle=f"u/{post['author']}" if post.get("author") else None,
        author_name=post.get("author"),
        author_followers=None,
        published_at=datetime.fromtimestamp(float(post["created_utc"]), tz=UTC),
        engagement=_counts(score=post.get("score"), comments=post.get("num_comments"), upvote_ratio=post.get("upvote_ratio")),
        thread_id=name,
        amplifies=f"{PLATFORM}:{post['crosspost_parent']}" if isinstance(post.get("crosspost_parent"), str) else None,
        shared_links=[link] if not post.get("is_self") and (link := post.get("url_overridden_by_dest") or post.get("url")) else [],
        community_size=_community_size(post),
        publisher=post.get("subreddit_name_prefixed"),
        extras=_extras(post),
    )


def comment_mention(comment: Mapping[str, Any], source: str, reddit_url: str) -> Mention:
    """A mention from a comment's fields (a t1 object's `data`); parent and thread point at Reddit fullnames."""
    parent = comment.get("parent_id")
    return Mention(
        platform=PLATFORM,
        source=source,
        native_id=fullname("t1", comment),
        url=_permalink(reddit_url, comment.get("permalink")),
        text=comment.get("body") or "",
        author_handle=f"u/{comment['author']}" if comment.get("author") else None,
        author_name=comment.get("author"),
        author_followers=None,
        published_at=datetime.fromtimestamp(float(comment["created_utc"]), tz=UTC),
        engagement=_counts(score=comment.get("score")),
        parent_id=f"{PLATFORM}:{parent}" if parent else None,
        thread_id=comment.get("link_id"),
        community_size=_community_size(comment),
        score_hidden=comment.get("score_hidden") is True,
        publisher=comment.get("subreddit_name_prefixed"),
        extras=_extras(comment),
    )


def parse_listing(payload: Any, endpoint: str) -> Page:
    """The items and next-page token of a Listing (`{"kind": "Listing", "data": {"children", "after"}}`).

    Raises:
        TransientError: the payload is not a Listing of objects with a creation time.
    """
    if not isinstance(payload, Mapping) or payload.get("kind") != "Listing" or not isinstance(payload.get("data"), Mapping):
        raise _unexpected(endpoint, "a Listing")
    data = payload["data"]
    children = data.get("children")
    if not isinstance(children, list):
        raise _unexpected(endpoint, "a Listing with children")
    items = []
    for child in children:
        if not isinstance(child, Mapping) or not isinstance(child.get("data"), Mapping):
            raise _unexpected(endpoint, "Listing children with data")
        kind, item = child.get("kind"), dict(child["data"])
        if kind in ("t1", "t3"):
            if not isinstance(item.get("created_utc"), int | float) or not (item.get("name") or item.get("id")):
                raise _unexpected(endpoint, f"{kind} objects with an id and created_utc")
            items.append((kind, item))
    after = data.get("after")
    return Page(items, after if isinstance(after, str) and after else None)


def parse_thread(payload: Any, endpoint: str) -> Thread:
    """A `/comments/{id}` answer (`[post Listing, comment Listing]`) with the comment tree flattened.

    Raises:
        TransientError: the payload does not have that shape.
    """
    if not isinstance(payload, list) or len(payload) != 2:
        raise _unexpected(endpoint, "a post Listing and a comment Listing")
    posts = [data for kind, data in parse_listing(payload[0], endpoint).items if kind == "t3"]
    if not posts:
        raise _unexpected(endpoint, "the thread's post")
    comments: list[dict[str, Any]] = []
    more = 0
    pending = deque([payload[1]])
    while pending:
        listing = pending.popleft()
        if not isinstance(listing, Mapping) or not isinstance(listing.get("data"), Mapping):
            raise _unexpected(endpoint, "comment Listings")
        for child in listing["data"].get("children") or []:
            if not isinstance(child, Mapping) or not isinstance(child.get("data"), Mapping):
                raise _unexpected(endpoint, "comment Listing children with data")
            data = child["data"]
            if child.get("kind") == "more":
                more += int(data.get("count") or 0)
            elif child.get("kind") == "t1":
                if not isinstance(data.get("created_utc"), int | float):
                    raise _unexpected(endpoint, "comments with created_utc")
                comments.append({key: value for key, value in data.items() if key != "replies"})
                if isinstance(data.get("replies"), Mapping):
                    pending.append(data["replies"])
    return Thread(posts[0], comments, more)


def parse_search_feed(body: bytes, feed_url: str, headers: Mapping[str, str] | None = None) -> Page:
    """Posts from a `search.rss` Atom feed, shaped like the API's t3 fields (no scores, no comment counts).

    The next-page token is the last entry's fullname; an empty feed is the last page.

    Raises:
        TerminalError: the body is not a feed.
    """
    # No content-location: feedparser would resolve the entries' ids (t3_...) against it as if they were URLs.
    response_headers = {key.lower(): value for key, value in (headers or {}).items() if key.lower() != "content-location"}
    document = feedparser.parse(body, response_headers=response_headers)
    if not document.version and not document.entries:
        raise TerminalError(f"{feed_url} did not return an Atom feed ({response_headers.get('content-type', 'no content type')})")
    items = []
    for entry in document.entries:
        name = entry.get("id") or ""
        moment = entry.get("published_parsed") or entry.get("updated_parsed")
        if not name.startswith("t3_") or not moment:
            continue
        tags = entry.get("tags") or []
        items.append((
            "t3",
            {
                "id": name[3:],
                "name": name,
                "title": entry.get("title") or "",
                "selftext": _feed_selftext(entry),
                "author": (entry.get("author") or "").strip().removeprefix("/").removeprefix("u/") or None,
                "created_utc": float(calendar.timegm(moment)),
                "permalink": urlsplit(entry.get("link") or "").path or None,
                "subreddit": tags[0].get("term") if tags else None,
            },
        ))
    return Page(items, items[-1][1]["name"] if items else None)


class RedditReader(Protocol):
    """Where Reddit items come from: the API, or the public feeds."""

    reads_comments: bool

    def search(self, query: str, subreddit: str | None, after: str | None) -> Page:
        """One page of posts matching `query`, newest first, sitewide or in one subreddit."""
        ...

    def comment_stream(self, subreddit: str, after: str | None) -> Page:
        """One page of a subreddit's newest comments."""
        ...

    def thread(self, post_fullname: str) -> Thread | None:
        """A post with its comments; None when the post is gone (404)."""
        ...


class ApiReader:
    """Reddit's API through praw, read-only, with our waits and retries (see `BudgetedRequestor`).

    Args:
        reddit: a praw client for an app-only (read-only) OAuth session.
        connection: the connection id, for error messages.
    """

    reads_comments = True

    def __init__(self, reddit: praw.Reddit, connection: str):
        self._reddit = reddit
        self._connection = connection

    @classmethod
    def connect(
        cls, source: RedditSource, credentials: Mapping[str, Any], context: CollectionContext, session: requests.Session
    ) -> ApiReader:
        """A reader for the source's connection; raises RedditCredentialsError if a part is missing."""
        client_id = credentials.get("login")
        client_secret = credentials.get("password")
        missing = [part for part, value in (("login (client id)", client_id), ("password (secret)", client_secret)) if not value]
        if missing:
            raise RedditCredentialsError(
                f"the {source.connection} connection has no {' and no '.join(missing)}; {credentials_help(source.connection)}"
            )
        user_agent = _extra(credentials, source.connection).get("user_agent") or context.client.settings.user_agent
        try:
            reddit = praw.Reddit(
                client_id=client_id,
                client_secret=client_secret,
                user_agent=user_agent,
                username=None,
                password=None,
                oauth_url=source.oauth_url.rstrip("/"),
                reddit_url=source.reddit_url.rstrip("/"),
                check_for_updates=False,
                check_for_async=False,
                requestor_class=BudgetedRequestor,
                requestor_kwargs={
                    "session": session,
                    "timeout": context.client.settings.timeout_seconds,
                    "waits": WaitBudget(context.time_budget_seconds, context.sleep),
                    "settings": context.client.settings,
                },
            )
        except (prawcore.exceptions.InvalidInvocation, praw.exceptions.ClientException) as error:
            raise RedditCredentialsError(
                f"the {source.connection} connection cannot be used ({error}); {credentials_help(source.connection)}"
            ) from None
        reddit.read_only = True
        return cls(reddit, source.connection)

    def search(self, query: str, subreddit: str | None, after: str | None) -> Page:
        path = f"/r/{subreddit}/search" if subreddit else "/search"
        params: dict[str, str | int] = {"q": query, "sort": "new", "t": "all", "limit": PAGE_LIMIT, "type": "link",
                                        "include_over_18": "on"}
        if subreddit:
            params["restrict_sr"] = "on"
        if after:
            params["after"] = after
        return parse_listing(self._get(path, params), path)

    def comment_stream(self, subreddit: str, after: str | None) -> Page:
        path = f"/r/{subreddit}/comments"
        params: dict[str, str | int] = {"limit": PAGE_LIMIT}
        if after:
            params["after"] = after
        return parse_listing(self._get(path, params), path)

    def thread(self, post_fullname: str) -> Thread | None:
        path = f"/comments/{post_fullname.removeprefix('t3_')}"
        try:
            payload = self._get(path, {"sort": "new", "limit": THREAD_COMMENT_LIMIT})
        except prawcore.exceptions.NotFound:
            return None
        return parse_thread(payload, path)

    def _get(self, path: str, params: dict[str, str | int]) -> Any:
        try:
            return self._reddit.request(method="GET", path=path, params=params)
        except prawcore.exceptions.NotFound:
            if path.startswith("/comments/"):
                raise
            raise _SubredditUnreadable(f"{_subreddit_of(path)} was not found (HTTP 404 from {path}); check source.subreddits") from None
        except prawcore.exceptions.Redirect:
            raise _SubredditUnreadable(f"{_subreddit_of(path)} does not exist (Reddit redirected {path}); check source.subreddits") from None
        except prawcore.exceptions.BadJSON as error:
            raise TransientError(f"Reddit answered {path} with malformed JSON ({_brief_body(error.response)}); "
                                 "it will be tried again next run") from None
        except prawcore.exceptions.OAuthException as error:
            raise RedditCredentialsError(
                f"Reddit refused a token for the {self._connection} connection ({error.error}); {credentials_help(self._connection)}"
            ) from None
        except prawcore.exceptions.ResponseException as error:
            raise self._translate(error.response, path) from None
        except praw.exceptions.RedditAPIException as error:
            raise TerminalError(f"Reddit refused {path} ({error}); check the source's settings") from None

    def _translate(self, response: requests.Response, path: str) -> CollectorError:
        status = response.status_code
        endpoint = urlsplit(response.url or "").path or path
        if status in (401, 403):
            reason = _json_field(response, "reason")
            if status == 403 and reason in _UNREADABLE_SUBREDDIT_REASONS:
                return _SubredditUnreadable(f"{_subreddit_of(path)} cannot be read ({reason}); it was skipped")
            return RedditCredentialsError(
                f"Reddit rejected the {self._connection} credentials (HTTP {status} from {endpoint}); "
                f"{credentials_help(self._connection)}"
            )
        if status == 429:
            return RateLimitStop(f"Reddit kept answering {endpoint} with 429 Too Many Requests; the next run resumes from the same cursor")
        if status >= 500:
            return TransientError(f"Reddit answered {endpoint} with HTTP {status}; it will be tried again next run")
        return TerminalError(f"Reddit answered {endpoint} with HTTP {status}; check the source's settings")


class FeedReader:
    """Reddit's public search feeds (`search.rss`) through the shared HTTP client: posts, no comments.

    Args:
        source: the source (its reddit_url).
        client: the shared HTTP client.
    """

    reads_comments = False

    def __init__(self, source: RedditSource, client: HttpClient):
        self._base = source.reddit_url.rstrip("/")
        self._client = client

    def search(self, query: str, subreddit: str | None, after: str | None) -> Page:
        path = f"/r/{quote(subreddit)}/search.rss" if subreddit else "/search.rss"
        params = {"q": query, "sort": "new", "t": "all", "limit": PAGE_LIMIT}
        if subreddit:
            params["restrict_sr"] = "on"
        if after:
            params["after"] = after
        url = f"{self._base}{path}?{urlencode(params)}"
        try:
            response = self._client.get(url)
        except HttpStatusError as error:
            if error.status == 429:
                raise RateLimitStop(f"Reddit kept answering {path} with 429 Too Many Requests; "
                                    "the next run resumes from the same cursor") from None
            if subreddit and error.status in (403, 404):
                raise _SubredditUnreadable(f"r/{subreddit} cannot be read (HTTP {error.status} from {path}); it was skipped") from None
            raise
        return parse_search_feed(response.body, response.final_url, response.headers)

    def comment_stream(self, subreddit: str, after: str | None) -> Page:
        return Page([], None)

    def thread(self, post_fullname: str) -> Thread | None:
        raise NotImplementedError("the search feeds carry no comments")


@dataclass(frozen=True)
class CollectionBounds:
    """Which items a run collects: created in [start, end), less those seen at the `start` second.

    Attributes:
        start: the cursor's second (or the window's start on the first run), as a Unix time.
        seen_at_start: fullnames already collected at the `start` second.
        end: the window's end, as a Unix time; nothing created at or after it is collected.
    """

    start: float
    seen_at_start: frozenset[str]
    end: float

    @classmethod
    def from_cursor(cls, cursor: Mapping[str, Any] | None, window: tuple[datetime, datetime]) -> CollectionBounds:
        """Bounds from the previous cursor, else from the run's window."""
        end = window[1].timestamp()
        if cursor and cursor.get("created_utc") is not None:
            return cls(float(cursor["created_utc"]), frozenset(cursor.get("seen_ids") or ()), end)
        return cls(window[0].timestamp(), frozenset(), end)

    def admits(self, created: float, name: str) -> bool:
        """Whether an item created at `created` with this fullname is new and inside the window."""
        if created >= self.end:
            return False
        return created > self.start or (created == self.start and name not in self.seen_at_start)

    def passed(self, created: float) -> bool:
        """Whether a newest-first listing that reached `created` has gone past everything new."""
        return created < self.start


@dataclass
class Harvest:
    """What one run collects, and the round-robin over its listings that collects it.

    Every search (a brand's query, sitewide and per subreddit) and every comment stream is a listing
    read a page at a time, in turn, so that when `max_items_per_run` cuts collection short it cuts
    the oldest pages of all listings rather than whole listings.
    """

    source: RedditSource
    bounds: CollectionBounds
    brands: Sequence[BrandConfig]
    mentions: dict[str, Mention] = field(default_factory=dict)
    deleted_keys: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    items_fetched: int = 0
    cut: bool = False
    stopped_by: RateLimitStop | None = None
    more_comments: int = 0
    _newest: float = 0.0
    _newest_names: set[str] = field(default_factory=set)
    _threads: set[str] = field(default_factory=set)
    _gone: set[str] = field(default_factory=set)
    _listings: deque[Iterator[None]] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self._newest = self.bounds.start
        self._newest_names = set(self.bounds.seen_at_start)
        self._matcher = BrandMatcher(list(self.brands), [])

    def run(self, reader: RedditReader) -> None:
        """Read every listing until each reaches the cursor, or the cap is reached."""
        self._reader = reader
        # "r/UKBroadband" and "/r/UKBroadband" in a config mean "UKBroadband".
        subreddits = [name.strip().lstrip("/").removeprefix("r/").strip("/") for name in self.source.subreddits]
        for brand in self.brands:
            for query in search_queries(brand):
                if self.source.sitewide:
                    self._listings.append(self._search(query, None))
                for subreddit in subreddits:
                    self._listings.append(self._search(query, subreddit))
        if self.source.include_comments and reader.reads_comments:
            for subreddit in subreddits:
                self._listings.append(self._comment_stream(subreddit))
        while self._listings and not self.cut:
            listing = self._listings.popleft()
            try:
                next(listing)
            except StopIteration:
                continue
            except _SubredditUnreadable as unreadable:
                self.warnings.append(str(unreadable))
                continue
            self._listings.append(listing)

    def outcome(self, previous_cursor: Mapping[str, Any] | None) -> SourceRun:
        """The run's result: the mentions, deleted keys, warnings and the next cursor."""
        warnings = list(self.warnings)
        if self.cut:
            warnings.append(
                f"stopped at max_items_per_run ({self.source.max_items_per_run}): older items in this window were "
                "left out; raise max_items_per_run to collect them"
            )
        if self.more_comments:
            warnings.append(f"{self.more_comments} comments behind 'load more' links in long threads were not collected")
        cursor: dict[str, Any] | None = {"created_utc": self._newest, "seen_ids": sorted(self._newest_names)}
        if self.stopped_by is not None:
            if not self.mentions:
                run = SourceRun.failed(self.source.name, self.source.kind, self.stopped_by)
                run.warnings = warnings
                return run
            warnings.append(f"{self.stopped_by}; kept the {len(self.mentions)} items collected before it")
            cursor = dict(previous_cursor) if previous_cursor else None
        return SourceRun(
            source=self.source.name,
            kind=self.source.kind,
            status="ok" if self.mentions or self.items_fetched else "empty",
            mentions=list(self.mentions.values()),
            items_fetched=self.items_fetched,
            cursor=cursor,
            warnings=warnings,
            deleted_keys=self.deleted_keys,
        )

    def _search(self, query: str, subreddit: str | None) -> Iterator[None]:
        for page in self._pages(lambda after: self._reader.search(query, subreddit, after)):
            for kind, post in page.items:
                if kind == "t3" and self.bounds.admits(float(post["created_utc"]), fullname(kind, post)):
                    if self._take_post(post):
                        self._handled(kind, post)
            yield

    def _comment_stream(self, subreddit: str) -> Iterator[None]:
        for page in self._pages(lambda after: self._reader.comment_stream(subreddit, after)):
            for kind, comment in page.items:
                if kind != "t1" or not self.bounds.admits(float(comment["created_utc"]), fullname(kind, comment)):
                    continue
                if is_gone(comment):
                    self._forget(f"{PLATFORM}:{fullname(kind, comment)}")
                elif self._matcher.match(comment.get("body") or ""):
                    if not self._keep(comment_mention(comment, self.source.name, self.source.reddit_url)):
                        continue
                self._handled(kind, comment)
            yield

    def _thread(self, post_fullname: str) -> Iterator[None]:
        """The post's thread: refreshes the post (or finds it gone) and keeps every comment in the window."""
        thread = self._reader.thread(post_fullname)
        key = f"{PLATFORM}:{post_fullname}"
        if thread is None or is_gone(thread.post):
            self.mentions.pop(key, None)
            self._forget(key)
            yield
            return
        if key in self.mentions:
            self.mentions[key] = post_mention(thread.post, self.source.name, self.source.reddit_url)
        self.items_fetched += len(thread.comments)
        self.more_comments += thread.more
        for comment in thread.comments:
            if not self.bounds.admits(float(comment["created_utc"]), fullname("t1", comment)):
                continue
            if is_gone(comment):
                self._forget(f"{PLATFORM}:{fullname('t1', comment)}")
            elif not self._keep(comment_mention(comment, self.source.name, self.source.reddit_url)):
                break
            self._handled("t1", comment)
        yield

    def _pages(self, fetch: Callable[[str | None], Page]) -> Iterator[Page]:
        """Pages of a newest-first listing until it passes the cursor or ends; yields after each fetch."""
        after: str | None = None
        while not self.cut:
            page = fetch(after)
            self.items_fetched += len(page.items)
            yield page
            if not page.items or page.after is None:
                return
            if any(self.bounds.passed(float(data["created_utc"])) for _, data in page.items):
                return
            after = page.after

    def _take_post(self, post: dict[str, Any]) -> bool:
        """Keep a post (or note it gone) and queue its thread if it names a brand; False if the cap refused it."""
        name = fullname("t3", post)
        if is_gone(post):
            self._forget(f"{PLATFORM}:{name}")
            return True
        mention = post_mention(post, self.source.name, self.source.reddit_url)
        if not self._keep(mention):
            return False
        wants_thread = self.source.include_comments and self._reader.reads_comments and post.get("num_comments") != 0
        if wants_thread and name not in self._threads and self._matcher.match(mention.text):
            self._threads.add(name)
            self._listings.appendleft(self._thread(name))
        return True

    def _handled(self, kind: str, data: Mapping[str, Any]) -> None:
        """Move the cursor over an item that was dealt with (kept, noted gone, or not about a brand)."""
        created, name = float(data["created_utc"]), fullname(kind, data)
        if created > self._newest:
            self._newest, self._newest_names = created, {name}
        elif created == self._newest:
            self._newest_names.add(name)

    def _keep(self, mention: Mention) -> bool:
        """Hold a mention (once per key, never one found gone); False when `max_items_per_run` refuses it."""
        if mention.key not in self.mentions and mention.key not in self._gone:
            if len(self.mentions) >= self.source.max_items_per_run:
                self.cut = True
                return False
            self.mentions[mention.key] = mention
        return True

    def _forget(self, key: str) -> None:
        if key not in self._gone:
            self._gone.add(key)
            self.deleted_keys.append(key)


class WaitBudget:
    """Waits for Reddit through the context's `sleep`, within the source's time budget.

    Time spent counts both the wall clock and the waits asked for, so a recording `sleep` in tests
    uses up the budget as a real one would.

    Args:
        seconds: the source's time budget.
        sleep: how to wait.
    """

    def __init__(self, seconds: float, sleep: Callable[[float], None]):
        self.seconds = seconds
        self._sleep = sleep
        self._started = time.monotonic()
        self._waited = 0.0

    @property
    def left(self) -> float:
        """Seconds of the budget not yet spent."""
        return self.seconds - max(time.monotonic() - self._started, self._waited)

    def wait(self, seconds: float) -> bool:
        """Wait `seconds` if the budget allows; False (without waiting) if it does not."""
        if seconds > self.left:
            return False
        self._sleep(seconds)
        self._waited += seconds
        return True


class BudgetedRequestor(prawcore.Requestor):
    """prawcore's requestor with Overheard's retries and rate-limit waits.

    A 429 or 5xx is retried up to `settings.max_retries` times, waiting `Retry-After`, else
    `x-ratelimit-reset` (for 429), else exponential backoff, all through `waits`. When Reddit says no
    requests remain in the window, the next request first waits for its reset. prawcore only ever
    sees the final answer, without the `x-ratelimit-*` headers: it would otherwise sleep on them with
    `time.sleep`, outside the time budget, and retry 5xx on its own.

    Raises (from `request`, passing through praw untouched):
        RateLimitStop: a wait does not fit in the budget, or 429 persisted through the retries.
        TransientError: a 5xx or network failure persisted through the retries.
    """

    def __init__(self, *, waits: WaitBudget, settings: HttpSettings, **kwargs: Any):
        super().__init__(**kwargs)
        self._waits = waits
        self._settings = settings
        self._until_reset: float | None = None

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        """Send a request (as `prawcore.Requestor.request`), retrying 429, 5xx and network failures."""
        endpoint = urlsplit(str(args[1] if len(args) > 1 else kwargs.get("url", ""))).path
        attempt = 0
        while True:
            if self._until_reset is not None:
                wait, self._until_reset = self._until_reset, None
                self._wait_or_stop(wait, endpoint, "no requests left in Reddit's rate-limit window")
            try:
                response = super().request(*args, **kwargs)
            except prawcore.exceptions.RequestException as error:
                if not isinstance(error.original_exception, _NETWORK_ERRORS):
                    raise
                if attempt >= self._settings.max_retries or not self._waits.wait(self._backoff(attempt)):
                    raise TransientError(
                        f"Reddit could not be reached at {endpoint} after {attempt + 1} attempts "
                        f"({type(error.original_exception).__name__}); it will be tried again next run"
                    ) from None
                attempt += 1
                continue
            status = response.status_code
            if status == 429 or status in _SERVER_ERRORS:
                response.close()
                wait = self._retry_wait(response, attempt)
                if status == 429:
                    if attempt >= self._settings.max_retries:
                        raise RateLimitStop(f"Reddit kept answering {endpoint} with 429 Too Many Requests after "
                                            f"{attempt + 1} attempts; the next run resumes from the same cursor")
                    self._wait_or_stop(wait, endpoint, "Reddit answered 429 Too Many Requests")
                elif attempt >= self._settings.max_retries or not self._waits.wait(wait):
                    raise TransientError(f"Reddit answered {endpoint} with HTTP {status} after {attempt + 1} attempts; "
                                         "it will be tried again next run")
                attempt += 1
                continue
            self._note_rate_limit(response)
            return response

    def _wait_or_stop(self, seconds: float, endpoint: str, why: str) -> None:
        if not self._waits.wait(seconds):
            raise RateLimitStop(
                f"{why} on {endpoint} and asked to wait {seconds:.0f} s, more than the {max(self._waits.left, 0):.0f} s "
                f"left of the source's {self._waits.seconds:.0f} s time budget; stopped, and the next run resumes "
                "from the same cursor"
            )

    def _retry_wait(self, response: requests.Response, attempt: int) -> float:
        headers = response.headers
        if "Retry-After" in headers:
            wait = retry_after_seconds(headers)
            if wait is not None:
                return wait
        if response.status_code == 429:
            reset = _seconds(headers.get("x-ratelimit-reset"))
            if reset is not None:
                return reset
        return self._backoff(attempt)

    def _backoff(self, attempt: int) -> float:
        return min(self._settings.backoff_seconds * (2**attempt), self._settings.max_retry_wait_seconds)

    def _note_rate_limit(self, response: requests.Response) -> None:
        remaining = _seconds(response.headers.get("x-ratelimit-remaining"))
        reset = _seconds(response.headers.get("x-ratelimit-reset"))
        if remaining is not None and remaining < 1 and reset:
            self._until_reset = reset
        for name in _RATE_LIMIT_HEADERS:
            response.headers.pop(name, None)


def _feed_selftext(entry: Any) -> str:
    """The self-text of a feed entry: the `<div class="md">` of its content, without Reddit's "submitted by" footer."""
    html = entry["content"][0].get("value", "") if entry.get("content") else entry.get("summary", "")
    if not html.strip():
        return ""
    try:
        fragment = lxml.html.fragment_fromstring(html, create_parent="div")
    except (ValueError, lxml.etree.ParserError):
        return ""
    bodies = fragment.xpath('.//div[contains(concat(" ", normalize-space(@class), " "), " md ")]')
    return html_to_text(lxml.html.tostring(bodies[0], encoding="unicode")) if bodies else ""


def _permalink(reddit_url: str, permalink: Any) -> str | None:
    if not isinstance(permalink, str) or not permalink:
        return None
    if permalink.startswith(("http://", "https://")):
        return permalink
    return f"{reddit_url.rstrip('/')}/{permalink.lstrip('/')}"


def _counts(**values: Any) -> dict[str, Any]:
    return {name: value for name, value in values.items() if isinstance(value, int | float) and not isinstance(value, bool)}


def _extras(data: Mapping[str, Any]) -> dict[str, Any]:
    return {name: data.get(name) for name in ("subreddit", "over_18", "link_flair_text")}


def _community_size(data: Mapping[str, Any]) -> int | None:
    subscribers = data.get("subreddit_subscribers")
    return subscribers if isinstance(subscribers, int) and not isinstance(subscribers, bool) else None


def _extra(credentials: Mapping[str, Any], connection: str) -> Mapping[str, Any]:
    extra = credentials.get("extra") or {}
    if isinstance(extra, str):
        try:
            extra = json.loads(extra)
        except ValueError:
            raise RedditCredentialsError(f"the extra of the {connection} connection is not JSON; {credentials_help(connection)}") from None
    if not isinstance(extra, Mapping):
        raise RedditCredentialsError(f"the extra of the {connection} connection is not a JSON object; {credentials_help(connection)}")
    return extra


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _json_field(response: requests.Response, name: str) -> Any:
    try:
        document = response.json()
    except ValueError:
        return None
    return document.get(name) if isinstance(document, Mapping) else None


def _subreddit_of(path: str) -> str:
    parts = path.split("/")
    return f"r/{parts[2]}" if len(parts) > 2 and parts[1] == "r" else path


def _brief_body(response: requests.Response) -> str:
    text = response.text.strip()
    return f"starts {text[:60]!r}" if text else "empty body"


def _unexpected(endpoint: str, expected: str) -> TransientError:
    return TransientError(f"Reddit answered {endpoint} with JSON that is not {expected}; it will be tried again next run")
