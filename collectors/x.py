"""X (Twitter): recent search through the API v2 with tweepy, built from the brand terms.

The search terms of every brand and competitor (aliases, hashtags, handles, cashtags) are OR-ed into
queries of at most 512 characters (the limit of X's Basic and pay-per-use tiers), each followed by
the same filters: `-from:` every owned account, `-is:retweet` unless retweets are wanted, and the
configured languages. Each query is polled with its own `since_id`.

Requests go through the real `tweepy.Client` (`wait_on_rate_limit=False`). Its host is fixed, so
its session carries a transport adapter that sends every request to `XSource.api_base_url` (tests
and the demo point it at `demo.fake_apis.x_api`), with the shared HTTP settings' timeout, body cap
and User-Agent. The bearer token is added by the session rather than given to tweepy, because
tweepy logs request headers at DEBUG level: the token never reaches a log, an error, a warning or the
cursor.

Waits (rate-limit resets, 5xx backoff) go through `context.sleep` and only when they fit in
`context.time_budget_seconds`; otherwise the source stops cleanly and the next run resumes from the
cursor.
"""

from __future__ import annotations

import email.utils
import html
import json
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import requests.auth
import tweepy
from requests.adapters import HTTPAdapter

from collectors.context import CollectionContext
from collectors.exceptions import BodyTooLargeError
from collectors.source_run import SourceRun
from config.model import BrandConfig, HttpSettings, XSource
from core.errors import CollectorError, TerminalError, TransientError
from core.mention import Mention
from query.platform_syntax import to_x_query

QUERY_MAX_CHARS = 512
SEARCH_PATH = "/2/tweets/search/recent"
PAGE_MIN = 10  # recent search's smallest max_results: fewer posts than this cannot be asked for
PAGE_MAX = 100
EXPANSIONS = ("author_id",)
TWEET_FIELDS = (
    "author_id", "created_at", "lang", "public_metrics", "conversation_id", "referenced_tweets", "entities",
    "in_reply_to_user_id", "note_tweet",
)
USER_FIELDS = ("username", "name", "public_metrics", "verified", "verified_type")

# (engagement name, public_metrics field); impressions only where X reports them.
_ENGAGEMENT = (
    ("likes", "like_count"), ("replies", "reply_count"), ("retweets", "retweet_count"),
    ("quotes", "quote_count"), ("impressions", "impression_count"),
)
# X's `lang` values that name no language: undetermined, no text, and its own q* codes.
_NO_LANGUAGE = frozenset({"und", "zxx", "art", "qam", "qct", "qht", "qme", "qst"})
_CHUNK_BYTES = 64 * 1024
_TOKEN_PLACEHOLDER = "(added by the session)"
_RESET_MARGIN_SECONDS = 1.0
_MAX_RATE_LIMIT_WAITS = 3  # per request: a reset that does not reset is not waited for forever
_END_TIME_MIN_AGE_SECONDS = 10.0  # X refuses an end_time less than 10 s before the request


class XCredentialsError(TerminalError):
    """X rejected the bearer token (401) or the app's access to recent search (403)."""


class XRateLimitedError(TransientError):
    """The rate limit resets later than this run's time budget allows waiting for."""


class _StaleCursorError(Exception):
    """X refused a since_id, until_id or start_time older than the 7 days recent search reaches."""


# --- Queries ------------------------------------------------------------------------------------


def search_terms(brands: Iterable[BrandConfig]) -> list[str]:
    """The OR-able search terms of the brands, in config order, without duplicates.

    Single-word aliases are keywords; multi-word aliases (or any with punctuation) become "exact
    phrases"; hashtags, handles and cashtags are used as configured.

    Args:
        brands: brands then competitors.

    Returns:
        Terms such as `Brightwave`, `"Skylark Fibre"`, `#brightwave`, `@tidewell`, `$TDW`.
    """
    terms: list[str] = []
    seen: set[str] = set()
    for brand in brands:
        for term in [*(_keyword(alias) for alias in brand.aliases), *brand.hashtags, *brand.handles, *brand.cashtags]:
            term = term.strip()
            if term and term.lower() not in seen and term != '""':
                seen.add(term.lower())
                terms.append(term)
    return terms


def query_filters(brands: Iterable[BrandConfig], *, include_retweets: bool, languages: Sequence[str]) -> str:
    """The filters every query ends with: owned accounts out, retweets out (unless wanted), languages.

    Args:
        brands: brands then competitors; every `owned_handles` entry becomes `-from:handle`.
        include_retweets: False adds `-is:retweet`.
        languages: ISO 639-1 codes; one becomes `lang:xx`, several `(lang:xx OR lang:yy)`.

    Returns:
        The filters, space-separated (empty when there are none).
    """
    parts: list[str] = []
    for handle in dict.fromkeys(handle.strip().lower() for brand in brands for handle in brand.owned_handles):
        parts.append(f"-from:{handle.lstrip('@')}")
    if not include_retweets:
        parts.append("-is:retweet")
    codes = list(dict.fromkeys(code.strip().lower() for code in languages if code.strip()))
    if len(codes) == 1:
        parts.append(f"lang:{codes[0]}")
    elif codes:
        parts.append("(" + " OR ".join(f"lang:{code}" for code in codes) + ")")
    return " ".join(parts)


def build_queries(
    brands: Sequence[BrandConfig],
    *,
    include_retweets: bool,
    languages: Sequence[str],
    max_chars: int = QUERY_MAX_CHARS,
) -> list[str]:
    """The recent-search queries for the brands: OR-ed terms, then the filters, each within `max_chars`.

    Terms are packed in config order into as few queries as fit; every query carries the full
    filters, so splitting never lets an owned account, a retweet or another language in.

    Args:
        brands: brands then competitors.
        include_retweets: whether retweets are searched too.
        languages: languages to keep (none: all).
        max_chars: the API's query length limit (512 on Basic and pay-per-use, 4,096 on Pro).

    Returns:
        The queries, e.g. `(Brightwave OR "Brightwave Broadband" OR #brightwave) -from:brightwave -is:retweet`;
        empty when the brands have no terms.

    Raises:
        ValueError: a single term does not fit in a query next to the filters.
    """
    filters = query_filters(brands, include_retweets=include_retweets, languages=languages)
    queries: list[str] = []
    for brand in brands:
        compiled = to_x_query(brand.query) if brand.query else None
        if compiled:  # a brand's own query is searched on its own; None: nothing on X can match it
            query = _query([compiled], filters)
            if len(query) > max_chars:
                raise ValueError(
                    f"the query of {brand.name} is {len(query)} characters in X syntax with the filters; "
                    f"X takes {max_chars}: shorten it"
                )
            queries.append(query)
    group: list[str] = []
    for term in search_terms([brand for brand in brands if not brand.query]):
        if len(_query([term], filters)) > max_chars:
            raise ValueError(
                f"the search term {term[:60]!r} does not fit in a {max_chars}-character X query next to the "
                f"filters ({len(filters)} characters: owned handles, retweets, languages); shorten it"
            )
        if group and len(_query([*group, term], filters)) > max_chars:
            queries.append(_query(group, filters))
            group = []
        group.append(term)
    if group:
        queries.append(_query(group, filters))
    return queries


def _keyword(alias: str) -> str:
    text = " ".join(alias.replace('"', " ").split())
    if re.fullmatch(r"\w+", text) and text.upper() not in ("OR", "AND", "NOT"):
        return text
    return f'"{text}"'


def _query(terms: Sequence[str], filters: str) -> str:
    return f"({' OR '.join(terms)})" + (f" {filters}" if filters else "")


# --- Parsing ------------------------------------------------------------------------------------


@dataclass
class SearchPage:
    """One page of recent search results, read into mentions.

    Attributes:
        mentions: one per post, in the page's order (newest first), less posts whose author is gone.
        posts: how many posts the page held (what X bills for), including those left out.
        newest_id: the newest post id on the page.
        oldest_id: the oldest post id on the page.
        next_token: the token for the next page; None on the last page.
        deleted_keys: keys of posts X reports as deleted, or whose author is suspended or deleted.
        authors_missing: posts whose author was not in `includes.users`.
        warnings: partial errors that are not deletions.
    """

    mentions: list[Mention] = field(default_factory=list)
    posts: int = 0
    newest_id: str | None = None
    oldest_id: str | None = None
    next_token: str | None = None
    deleted_keys: list[str] = field(default_factory=list)
    authors_missing: int = 0
    warnings: list[str] = field(default_factory=list)


def parse_search_page(payload: Any, source: str) -> SearchPage:
    """Read a recent-search response body (already JSON-decoded) into mentions.

    Args:
        payload: the decoded JSON: `data`, `includes.users`, `errors`, `meta`.
        source: the source name to stamp on each mention.

    Returns:
        The page's mentions, paging state, deletions and warnings.

    Raises:
        ValueError: the body is not a recent-search response.
    """
    if not isinstance(payload, Mapping) or not isinstance(payload.get("meta"), Mapping):
        raise ValueError("the answer is not a recent-search response (no `meta` object)")
    posts = payload.get("data") or []
    if not isinstance(posts, list) or not all(isinstance(post, Mapping) and post.get("id") for post in posts):
        raise ValueError("`data` is not a list of posts with ids")
    includes = payload.get("includes") or {}
    users = {
        str(user.get("id")): user
        for user in (includes.get("users") or [] if isinstance(includes, Mapping) else [])
        if isinstance(user, Mapping)
    }
    gone_posts, gone_authors, warnings = _partial_errors(payload.get("errors") or [])
    page = SearchPage(posts=len(posts), next_token=payload["meta"].get("next_token") or None, warnings=warnings)
    page.deleted_keys = [f"x:{post_id}" for post_id in gone_posts]
    ids = [str(post["id"]) for post in posts]
    if ids:
        page.newest_id = max(ids, key=int)
        page.oldest_id = min(ids, key=int)
    for post in posts:
        author_id = str(post.get("author_id") or "")
        if author_id in gone_authors:
            page.deleted_keys.append(f"x:{post['id']}")
            continue
        author = users.get(author_id)
        if author is None:
            page.authors_missing += 1
        page.mentions.append(post_to_mention(post, author, source))
    return page


def post_to_mention(post: Mapping[str, Any], author: Mapping[str, Any] | None, source: str) -> Mention:
    """One post (and its expanded author, when X sent it) as a mention.

    Args:
        post: a post object: id, text, author_id, created_at, lang, public_metrics, conversation_id,
            referenced_tweets, entities, and note_tweet for long posts.
        author: its user object (username, name, verified, public_metrics), or None when missing.
        source: the source name.

    Returns:
        The mention; author fields are None when the author is missing.
    """
    post_id = str(post["id"])
    username = author.get("username") if author else None
    followers = ((author or {}).get("public_metrics") or {}).get("followers_count")
    metrics = post.get("public_metrics") or {}
    referenced = [
        {"type": str(reference.get("type")), "id": str(reference.get("id"))}
        for reference in post.get("referenced_tweets") or []
        if isinstance(reference, Mapping) and reference.get("id")
    ]
    replied_to = next((reference["id"] for reference in referenced if reference["type"] == "replied_to"), None)
    retweet_of = next((reference["id"] for reference in referenced if reference["type"] == "retweeted"), None)
    note = post.get("note_tweet") if isinstance(post.get("note_tweet"), Mapping) else {}
    extras: dict[str, Any] = {
        "author_id": str(post["author_id"]) if post.get("author_id") else None,
        "verified": author.get("verified") if author else None,
        "referenced_tweets": referenced,
        "entities": _entities(post.get("entities")),
    }
    if author and author.get("verified_type"):
        extras["verified_type"] = author["verified_type"]
    quoted = [reference["id"] for reference in referenced if reference["type"] == "quoted"]
    expanded_urls = [url for url in (extras["entities"] or {}).get("urls") or [] if isinstance(url, str)]
    return Mention(
        platform="x",
        source=source,
        native_id=post_id,
        url=f"https://x.com/{username}/status/{post_id}" if username else f"https://x.com/i/web/status/{post_id}",
        text=html.unescape(note.get("text") or post.get("text") or ""),
        author_handle=f"@{username}" if username else None,
        author_name=author.get("name") if author else None,
        author_followers=followers if isinstance(followers, int) else None,
        published_at=_timestamp(post.get("created_at")),
        engagement={name: metrics[key] for name, key in _ENGAGEMENT if isinstance(metrics.get(key), int)},
        parent_id=f"x:{replied_to}" if replied_to else None,
        thread_id=str(post["conversation_id"]) if post.get("conversation_id") else None,
        lang_hint=_language(post.get("lang")),
        amplifies=f"x:{retweet_of}" if retweet_of else None,
        shared_links=[*(f"https://x.com/i/web/status/{post_id}" for post_id in quoted), *expanded_urls],
        extras=extras,
    )


def _partial_errors(errors: Iterable[Any]) -> tuple[list[str], set[str], list[str]]:
    """Deleted post ids, gone author ids, and warnings for the rest of a response's `errors` array.

    X reports a post that no longer exists as `resource_type: tweet` and a suspended or deleted
    account as `resource_type: user`, both with type `.../problems/resource-not-found`.
    """
    gone_posts: list[str] = []
    gone_authors: set[str] = set()
    warnings: list[str] = []
    for error in errors:
        if not isinstance(error, Mapping):
            continue
        resource = str(error.get("resource_id") or error.get("value") or "")
        if str(error.get("type", "")).endswith("/resource-not-found") and resource:
            if error.get("resource_type") == "tweet":
                gone_posts.append(resource)
                continue
            if error.get("resource_type") == "user":
                gone_authors.add(resource)
                continue
        warnings.append(f"X reported a partial error: {error.get('title') or 'error'}: {error.get('detail') or error.get('message')}")
    return gone_posts, gone_authors, warnings


def _entities(entities: Any) -> dict[str, list[str]]:
    entities = entities if isinstance(entities, Mapping) else {}

    def values(kind: str, *keys: str) -> list[str]:
        found = []
        for entity in entities.get(kind) or []:
            value = next((entity.get(key) for key in keys if isinstance(entity, Mapping) and entity.get(key)), None)
            if value:
                found.append(str(value))
        return found

    return {
        "urls": values("urls", "expanded_url", "url"),
        "mentions": values("mentions", "username"),
        "hashtags": values("hashtags", "tag"),
        "cashtags": values("cashtags", "tag"),
    }


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).astimezone(UTC)
    except ValueError:
        return None


def _language(code: Any) -> str | None:
    return code if isinstance(code, str) and code and code not in _NO_LANGUAGE else None


# --- Transport ----------------------------------------------------------------------------------


class ApiBaseAdapter(HTTPAdapter):
    """Sends every request of a session to another base URL, with a timeout and a body cap.

    tweepy's Client always builds `https://api.twitter.com/2/...`; mounted on its session, this
    adapter keeps the path and query and swaps scheme, host and port for the configured API base URL
    (a path prefix in it is kept too).

    Args:
        api_base_url: e.g. `https://api.x.com` or `http://127.0.0.1:8766`.
        timeout_seconds: used when the caller sets none (tweepy sets none).
        max_body_bytes: a longer body raises BodyTooLargeError.
    """

    def __init__(self, api_base_url: str, timeout_seconds: float, max_body_bytes: int):
        super().__init__()
        base = urlsplit(api_base_url)
        self._scheme, self._netloc, self._prefix = base.scheme, base.netloc, base.path.rstrip("/")
        self._timeout = timeout_seconds
        self._max_body_bytes = max_body_bytes

    def rewrite(self, url: str) -> str:
        """The URL at the configured base: same path and query."""
        parts = urlsplit(url)
        return urlunsplit((self._scheme, self._netloc, self._prefix + parts.path, parts.query, ""))

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None, verify: Any = True,
             cert: Any = None, proxies: Mapping[str, str] | None = None) -> requests.Response:
        """Send to the rewritten URL and read the body within the cap."""
        request.url = self.rewrite(request.url or "")
        # The session chose proxies for tweepy's host; choose again for the real one (honours NO_PROXY).
        proxies = requests.utils.get_environ_proxies(request.url)
        response = super().send(request, stream=True, timeout=timeout or self._timeout, verify=verify, cert=cert, proxies=proxies)
        if stream:
            return response
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(_CHUNK_BYTES):
                size += len(chunk)
                if size > self._max_body_bytes:
                    raise BodyTooLargeError(request.url, self._max_body_bytes)
                chunks.append(chunk)
        finally:
            response.close()
        response._content = b"".join(chunks)  # noqa: SLF001 (how requests holds a body read in full)
        response._content_consumed = True  # noqa: SLF001
        return response


class _BearerAuth(requests.auth.AuthBase):
    """Adds the bearer token as the request is prepared (after tweepy has logged its headers)."""

    def __init__(self, token: str):
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "_BearerAuth(***)"


def x_client(api_base_url: str, token: str, settings: HttpSettings) -> tweepy.Client:
    """A tweepy Client that talks to `api_base_url` within the shared HTTP settings.

    Args:
        api_base_url: where the X API v2 is.
        token: the app's bearer token.
        settings: timeout, body cap and User-Agent.

    Returns:
        A Client returning raw `requests.Response`s (so rate-limit headers and malformed bodies
        can be seen), never waiting on rate limits itself.
    """
    client = tweepy.Client(bearer_token=_TOKEN_PLACEHOLDER, return_type=requests.Response, wait_on_rate_limit=False)
    client.session.close()
    session = requests.Session()
    session.auth = _BearerAuth(token)
    adapter = ApiBaseAdapter(api_base_url, settings.timeout_seconds, settings.max_body_bytes)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    client.session = session
    client.user_agent = settings.user_agent
    return client


def bearer_token(credentials: Mapping[str, Any] | None) -> str | None:
    """The bearer token in a connection: its password, else `extra["bearer_token"]`.

    Args:
        credentials: `{"login", "password", "host", "extra"}`; extra may be a dict or JSON text.

    Returns:
        The token without a pasted "Bearer " prefix, or None when there is none.
    """
    if not credentials:
        return None
    extra = credentials.get("extra") or {}
    if isinstance(extra, str):
        try:
            extra = json.loads(extra)
        except ValueError:
            extra = {}
    token = credentials.get("password") or (extra.get("bearer_token") if isinstance(extra, Mapping) else None)
    if not isinstance(token, str):
        return None
    token = token.strip()
    if token.lower().startswith("bearer "):
        token = token[len("bearer "):].strip()
    return token or None


# --- Cursor -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueryCursor:
    """Where one query resumes.

    Recent search returns the newest posts first, so when a run stops before the last page (the
    per-run cap, the monthly budget, a rate limit that outlasts the time budget, a failure), the posts
    read are the newest and the unread ones lie between the old `since_id` and the oldest post read.
    Advancing `since_id` then would skip them for good; keeping it alone would make the next run read
    the same newest posts again (paid twice) and, under steady volume, never reach the older ones.
    So the cursor records the gap instead: the next run first reads posts newer than `since_id` (or
    from `start_time`) and older than `until_id`, and only when that backlog is read does `since_id`
    jump to `newest_id`, the newest post read before the stop. Ids are used rather than a saved
    `next_token`, which X documents as possibly expiring.

    Attributes:
        since_id: every post up to this id has been read; newer ones are owed.
        start_time: without a since_id, where reading starts (ISO 8601); else the run's window start.
        until_id: set while a backlog is owed: posts older than this one are still unread.
        newest_id: set with until_id: the newest post read; since_id once the backlog is read.
    """

    since_id: str | None = None
    start_time: str | None = None
    until_id: str | None = None
    newest_id: str | None = None

    def to_json(self) -> dict[str, str]:
        """The JSON form, without empty fields."""
        return {name: value for name, value in vars(self).items() if value}

    @classmethod
    def from_json(cls, record: Any) -> QueryCursor:
        """The inverse of `to_json`; anything unreadable is a fresh start."""
        if not isinstance(record, Mapping):
            return cls()
        values = {name: str(record[name]) for name in ("since_id", "start_time", "until_id", "newest_id") if record.get(name)}
        if bool(values.get("until_id")) != bool(values.get("newest_id")):
            values.pop("until_id", None)
            values.pop("newest_id", None)
        return cls(**values)


# --- Collection ---------------------------------------------------------------------------------


def collect_x(source: XSource, cursor: Mapping[str, Any] | None, context: CollectionContext) -> SourceRun:
    """Search X for the brands' recent posts since the last run.

    Args:
        source: the X source's config.
        cursor: the previous run's `{"queries": {query: {"since_id": ...}}, "reads": {"month": "YYYY-MM",
            "count": N}}`, or None on the first run (which starts at the window start).
        context: brands, window (no post newer than its end is asked for), credentials, time budget, sleep.

    Returns:
        The run outcome. Skipped without a bearer token. Failed (cursor unchanged) on rejected
        credentials, or on an error before any post was read; an error after posts were read keeps
        them, with a warning, and the cursor resumes the unfinished queries. The cursor counts the posts
        read this calendar month (of the window end) against `monthly_read_budget`; fewer than 10 posts
        left count as spent, since recent search cannot be asked for fewer.
    """
    started = time.monotonic()
    env_name = f"AIRFLOW_CONN_{source.connection.upper()}"
    token = bearer_token(context.credentials.get(source.connection))
    if not token:
        return SourceRun(
            source.name, source.kind, "skipped",
            error=f"no credentials: set the {source.connection} Airflow connection (password = bearer token) or {env_name}",
        )
    try:
        queries = build_queries(context.brands, include_retweets=source.include_retweets, languages=source.languages)
    except ValueError as error:
        return SourceRun.failed(source.name, source.kind, TerminalError(str(error)))
    if not queries:
        return SourceRun(source.name, source.kind, "skipped", error="no search terms: give the brands aliases, hashtags, handles or cashtags")
    search = _RecentSearch(source, context, token, started)
    try:
        run = search.run(queries, cursor)
    finally:
        search.close()
    run.error = _redact(run.error, token)
    run.warnings = [_redact(warning, token) or "" for warning in run.warnings]
    run.duration_seconds = time.monotonic() - started
    return run


@dataclass
class _Pass:
    """One paginated search (a backlog or the new posts of a query)."""

    posts: int = 0
    newest_id: str | None = None
    oldest_id: str | None = None
    complete: bool = False
    interruption: CollectorError | None = None


@dataclass
class _Reads:
    """Posts read against the monthly budget, and this run's allowance."""

    month: str
    count: int
    budget: int | None
    allowance: int
    this_run: int = 0

    @property
    def left(self) -> int:
        """Posts this run may still read."""
        return self.allowance - self.this_run


class _RecentSearch:
    """One run of one X source: the queries in turn, within the cap, the budget and the time budget."""

    def __init__(self, source: XSource, context: CollectionContext, token: str, started: float):
        self.source = source
        self.context = context
        self.settings = context.client.settings
        self.endpoint = source.api_base_url.rstrip("/") + SEARCH_PATH
        self.client = x_client(source.api_base_url, token, self.settings)
        self.window_start, self.window_end = context.window
        self.started = started
        self.waited = 0.0
        self.mentions: dict[str, Mention] = {}
        self.deleted_keys: dict[str, None] = {}
        self.warnings: dict[str, None] = {}
        self.authors_missing = 0
        self.rate_limit_wait: float | None = None  # set when the last response spent the rate-limit window

    def close(self) -> None:
        """Release the connections."""
        self.client.session.close()

    def run(self, queries: list[str], cursor: Mapping[str, Any] | None) -> SourceRun:
        """Read every query (fair shares of the run's allowance) and assemble the outcome."""
        previous = cursor if isinstance(cursor, Mapping) else {}
        saved = previous.get("queries") if isinstance(previous.get("queries"), Mapping) else {}
        states = {query: QueryCursor.from_json(saved.get(query)) for query in queries}
        reads = self._reads(previous.get("reads"))
        budget_note = (
            f"monthly read budget of {reads.budget} posts is spent; X collection resumes on {_next_month(self.window_end)}"
        )
        if reads.budget is not None and reads.allowance < PAGE_MIN:
            return SourceRun(self.source.name, self.source.kind, "ok", cursor=self._cursor(queries, states, reads), warnings=[budget_note])

        unfinished: list[str] = []
        stop: CollectorError | None = None
        for position, query in enumerate(queries):
            if stop is not None or reads.left < PAGE_MIN:
                unfinished.append(query)
                continue
            share = max(PAGE_MIN, reads.left // (len(queries) - position))
            try:
                states[query], finished, interruption = self._read_query(query, states[query], share, reads)
            except XCredentialsError as error:
                return SourceRun.failed(self.source.name, self.source.kind, error)
            if not finished:
                unfinished.append(query)
            stop = interruption

        budget_spent = reads.budget is not None and reads.budget - reads.count - reads.this_run < PAGE_MIN
        if stop is not None:
            if reads.this_run == 0:
                return SourceRun.failed(self.source.name, self.source.kind, stop)
            self._warn(f"{stop}; {len(unfinished)} of {len(queries)} queries resume next run")
        elif unfinished and not budget_spent:
            self._warn(
                f"max_posts_per_run ({self.source.max_posts_per_run}) reached; "
                f"{len(unfinished)} of {len(queries)} queries have older posts left for the next run"
            )
        if budget_spent:
            self._warn(budget_note)
        if self.authors_missing:
            self._warn(f"X sent {self.authors_missing} posts without their author (includes.users missing); their author fields are empty")
        # Nothing new since the last poll is normal; nothing at all on a first search is "empty".
        polled_before = any(QueryCursor.from_json(saved.get(query)).since_id for query in queries)
        status = "ok" if self.mentions or self.deleted_keys or polled_before or unfinished else "empty"
        return SourceRun(
            source=self.source.name,
            kind=self.source.kind,
            status=status,
            mentions=list(self.mentions.values()),
            items_fetched=reads.this_run,
            cursor=self._cursor(queries, states, reads),
            warnings=list(self.warnings),
            deleted_keys=list(self.deleted_keys),
        )

    def _reads(self, record: Any) -> _Reads:
        month = self.window_end.astimezone(UTC).strftime("%Y-%m")
        count = 0
        if isinstance(record, Mapping) and record.get("month") == month and isinstance(record.get("count"), int):
            count = record["count"]
        budget = self.source.monthly_read_budget
        allowance = self.source.max_posts_per_run if budget is None else min(self.source.max_posts_per_run, max(0, budget - count))
        return _Reads(month=month, count=count, budget=budget, allowance=allowance)

    @staticmethod
    def _cursor(queries: list[str], states: Mapping[str, QueryCursor], reads: _Reads) -> dict[str, Any]:
        return {
            "queries": {query: states[query].to_json() for query in queries},
            "reads": {"month": reads.month, "count": reads.count + reads.this_run},
        }

    def _read_query(
        self, query: str, state: QueryCursor, share: int, reads: _Reads
    ) -> tuple[QueryCursor, bool, CollectorError | None]:
        """Read one query's backlog, then its new posts. Returns (cursor, finished, interruption).

        A cursor older than the 7 days recent search reaches is dropped once, with a warning, and the
        query starts again at the window start.
        """
        before = reads.this_run
        out_of_reach = TerminalError(
            f"X recent search at {self.endpoint} reaches only 7 days back and this run's window starts "
            f"{self.window_start:%Y-%m-%d %H:%M} UTC; collect older posts another way"
        )
        try:
            return self._read_query_from(query, state, share, reads)
        except _StaleCursorError:
            if state == QueryCursor():
                return state, False, out_of_reach
        self._warn(
            f"the cursor of X query {_short(query)} is older than the 7 days recent search reaches; restarted at the "
            f"window start ({self.window_start:%Y-%m-%d %H:%M} UTC), posts in between were not collected"
        )
        try:
            return self._read_query_from(query, QueryCursor(), share - (reads.this_run - before), reads)
        except _StaleCursorError:
            return state, False, out_of_reach

    def _read_query_from(
        self, query: str, state: QueryCursor, share: int, reads: _Reads
    ) -> tuple[QueryCursor, bool, CollectorError | None]:
        start_time = None if state.since_id else (state.start_time or self.window_start.astimezone(UTC).isoformat())
        if state.until_id:
            backlog = self._paginate(query, state.since_id, start_time, state.until_id, share, reads)
            share -= backlog.posts
            if not backlog.complete:
                oldest = backlog.oldest_id or state.until_id
                return QueryCursor(state.since_id, start_time, oldest, state.newest_id), False, backlog.interruption
            state, start_time = QueryCursor(since_id=state.newest_id), None
        if min(share, reads.left) < PAGE_MIN:
            return state, False, None
        if start_time and datetime.fromisoformat(start_time) >= self.window_end:
            return state, True, None
        fresh = self._paginate(query, state.since_id, start_time, None, share, reads)
        if fresh.complete:
            return QueryCursor(since_id=fresh.newest_id or state.since_id), True, None
        if fresh.posts:
            return QueryCursor(state.since_id, start_time, fresh.oldest_id, fresh.newest_id), False, fresh.interruption
        return QueryCursor(state.since_id, start_time), False, fresh.interruption

    def _paginate(
        self, query: str, since_id: str | None, start_time: str | None, until_id: str | None, limit: int, reads: _Reads
    ) -> _Pass:
        """Page through one search until its last page, `limit` posts, or an interruption."""
        passed = _Pass()
        next_token: str | None = None
        while True:
            size = min(PAGE_MAX, limit - passed.posts, reads.left)
            if size < PAGE_MIN:
                return passed
            params = {
                "query": query,
                "max_results": size,
                "end_time": self.window_end,
                "since_id": since_id,
                "start_time": datetime.fromisoformat(start_time) if start_time else None,
                "until_id": until_id,
                "next_token": next_token,
                "sort_order": "recency",
                "expansions": list(EXPANSIONS),
                "tweet_fields": list(TWEET_FIELDS),
                "user_fields": list(USER_FIELDS),
            }
            try:
                body = self._request(params)
                try:
                    page = parse_search_page(body, self.source.name)
                except ValueError as error:
                    raise TransientError(f"X API at {self.endpoint} sent an unexpected answer: {error}") from error
            except _StaleCursorError:
                if passed.posts:
                    passed.interruption = TransientError(f"X API at {self.endpoint} refused to continue a search")
                    return passed
                raise
            except XCredentialsError:
                raise
            except CollectorError as error:
                passed.interruption = error
                return passed
            self._keep(page)
            reads.this_run += page.posts
            passed.posts += page.posts
            if page.newest_id and (passed.newest_id is None or int(page.newest_id) > int(passed.newest_id)):
                passed.newest_id = page.newest_id
            if page.oldest_id and (passed.oldest_id is None or int(page.oldest_id) < int(passed.oldest_id)):
                passed.oldest_id = page.oldest_id
            if not page.next_token:
                passed.complete = True
                return passed
            next_token = page.next_token

    def _keep(self, page: SearchPage) -> None:
        for mention in page.mentions:
            self.mentions.setdefault(mention.key, mention)
        for key in page.deleted_keys:
            self.deleted_keys[key] = None
        for warning in page.warnings:
            self._warn(warning)
        self.authors_missing += page.authors_missing

    def _request(self, params: dict[str, Any]) -> Any:
        """One search request through tweepy, retried within bounds; the decoded JSON body."""
        attempt = 0
        rate_limit_waits = 0
        end_time_waited = False
        while True:
            self._await_rate_limit()
            try:
                response = self.client.search_recent_tweets(**params)
            except tweepy.TooManyRequests as error:
                wait = _reset_wait(error.response)
                if wait is None:
                    wait = self._backoff(rate_limit_waits)
                if rate_limit_waits >= _MAX_RATE_LIMIT_WAITS:
                    raise XRateLimitedError(
                        f"X rate limit reached at {self.endpoint} (HTTP 429) and still reached after {rate_limit_waits} "
                        "waits for its reset"
                    ) from None
                if not self._can_wait(wait):
                    raise XRateLimitedError(
                        f"X rate limit reached at {self.endpoint} (HTTP 429); it resets in {wait:.0f}s, beyond this "
                        f"run's time budget of {self.context.time_budget_seconds:g}s"
                    ) from None
                self._wait(wait)
                rate_limit_waits += 1
                continue
            except tweepy.Unauthorized:
                raise XCredentialsError(
                    f"X rejected the bearer token of connection '{self.source.connection}' (HTTP 401 Unauthorized); "
                    f"{self._credentials_fix()}"
                ) from None
            except tweepy.Forbidden as error:
                raise XCredentialsError(
                    f"X refused recent search to the app of connection '{self.source.connection}' "
                    f"(HTTP 403 {_api_reason(error)}); check that the app is attached to a Project whose access level "
                    f"includes recent search, then {self._credentials_fix()}"
                ) from None
            except tweepy.TwitterServerError as error:
                wait = self._backoff(attempt)
                if attempt >= self.settings.max_retries or not self._can_wait(wait):
                    raise TransientError(
                        f"X API answered HTTP {error.response.status_code} at {self.endpoint} after {attempt + 1} attempts; "
                        "it will be tried again next run"
                    ) from None
                self._wait(wait)
                attempt += 1
                continue
            except tweepy.BadRequest as error:
                parameters = _invalid_parameters(error)
                if parameters & {"since_id", "until_id", "start_time"}:
                    raise _StaleCursorError() from None
                if "end_time" in parameters and not end_time_waited:
                    # A run that starts right at its window's end: wait until X accepts that end_time.
                    wait = _end_time_wait(error.response, self.window_end)
                    if wait is not None and self._can_wait(wait):
                        self._wait(wait)
                        end_time_waited = True
                        continue
                raise TerminalError(
                    f"X API rejected the search at {self.endpoint} (HTTP 400: {_api_reason(error)}); "
                    "check the brand terms and the X source settings"
                ) from None
            except tweepy.HTTPException as error:
                raise TerminalError(
                    f"X API answered HTTP {error.response.status_code} at {self.endpoint} ({_api_reason(error)}); "
                    "check api_base_url in the X source"
                ) from None
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as error:
                wait = self._backoff(attempt)
                if attempt >= self.settings.max_retries or not self._can_wait(wait):
                    raise TransientError(
                        f"X API at {self.endpoint} could not be reached after {attempt + 1} attempts "
                        f"({type(error).__name__}); it will be tried again next run"
                    ) from None
                self._wait(wait)
                attempt += 1
                continue
            except requests.RequestException as error:
                raise TerminalError(f"X API at {self.endpoint} could not be asked ({type(error).__name__}); check api_base_url") from None
            self._note_rate_limit(response)
            try:
                return response.json()
            except ValueError:
                raise TransientError(
                    f"X API at {self.endpoint} answered HTTP {response.status_code} with malformed JSON "
                    f"({len(response.content):,} bytes); it will be tried again next run"
                ) from None

    def _note_rate_limit(self, response: requests.Response) -> None:
        """Remember how long until the window resets if this response used its last request."""
        spent = response.headers.get("x-rate-limit-remaining") == "0"
        self.rate_limit_wait = _reset_wait(response) if spent else None

    def _await_rate_limit(self) -> None:
        """Before a request: if the last one spent the window, wait for its reset or stop."""
        wait = self.rate_limit_wait
        if wait is None:
            return
        if not self._can_wait(wait):
            raise XRateLimitedError(
                f"X rate limit spent at {self.endpoint}; it resets in {wait:.0f}s, beyond this run's time budget "
                f"of {self.context.time_budget_seconds:g}s"
            )
        self._wait(wait)
        self.rate_limit_wait = None

    def _credentials_fix(self) -> str:
        connection = self.source.connection
        return f"set the {connection} Airflow connection's password to a valid bearer token, or AIRFLOW_CONN_{connection.upper()}"

    def _can_wait(self, seconds: float) -> bool:
        # A recording sleep does not move the monotonic clock, a real one does: count whichever is more.
        spent = max(time.monotonic() - self.started, self.waited)
        return spent + seconds <= self.context.time_budget_seconds

    def _wait(self, seconds: float) -> None:
        self.context.sleep(seconds)
        self.waited += seconds

    def _backoff(self, attempt: int) -> float:
        return min(self.settings.backoff_seconds * (2**attempt), self.settings.max_retry_wait_seconds)

    def _warn(self, warning: str) -> None:
        self.warnings[warning] = None


def _reset_wait(response: requests.Response | None) -> float | None:
    """Seconds until `x-rate-limit-reset`, measured against the response's own Date header."""
    if response is None:
        return None
    try:
        reset = float(response.headers["x-rate-limit-reset"])
    except (KeyError, TypeError, ValueError):
        return None
    now = _server_time(response)
    return max(0.0, reset - now) + _RESET_MARGIN_SECONDS


def _end_time_wait(response: requests.Response | None, end_time: datetime) -> float | None:
    """Seconds until X accepts `end_time` (it must be 10 s old), by the response's Date header."""
    if response is None or "Date" not in response.headers:
        return None
    return max(0.0, end_time.timestamp() + _END_TIME_MIN_AGE_SECONDS - _server_time(response)) + _RESET_MARGIN_SECONDS


def _server_time(response: requests.Response) -> float:
    try:
        return email.utils.parsedate_to_datetime(response.headers["Date"]).timestamp()
    except (KeyError, TypeError, ValueError):
        return time.time()  # no Date header: the local clock is the only reference for a reset instant


def _invalid_parameters(error: tweepy.HTTPException) -> set[str]:
    """The request parameters a 400 names, from `errors[].parameters`."""
    names: set[str] = set()
    for api_error in error.api_errors:
        if isinstance(api_error, Mapping) and isinstance(api_error.get("parameters"), Mapping):
            names.update(api_error["parameters"])
    return names


def _api_reason(error: tweepy.HTTPException) -> str:
    """The API's own title, reason and messages for an error response, briefly."""
    try:
        body = error.response.json()
    except ValueError:
        body = None
    body = body if isinstance(body, Mapping) else {}
    title = body.get("title") or error.response.reason or "error"
    head = f"{title} ({body['reason']})" if body.get("reason") else str(title)
    messages = [str(message) for message in error.api_messages if message and message != title]
    return (head + (": " + "; ".join(messages) if messages else ""))[:300]


def _next_month(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return f"{year:04d}-{month:02d}-01"


def _short(query: str) -> str:
    return repr(query if len(query) <= 60 else query[:57] + "...")


def _redact(text: str | None, token: str) -> str | None:
    return text.replace(token, "***") if text and token else text
