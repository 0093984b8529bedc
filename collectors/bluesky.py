"""Bluesky post search (app.bsky.feed.searchPosts), which needs an account: handle + app password.

A run logs in once (com.atproto.server.createSession), then searches each brand term (the search
has no OR) latest first with `since`/`until`, following the API's cursor. Each term resumes from the
newest post it saw, by the time the search filters on (sortAt: the earlier of createdAt and
indexedAt), with the same gap-keeping cursor as Hacker News (`SearchRange`).
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from collectors.context import CollectionContext
from collectors.exceptions import HttpStatusError
from collectors.http import HttpClient
from collectors.search import Budget, SearchRange, search_terms
from collectors.source_run import SourceRun
from config.model import BlueskySource
from core.errors import CollectorError, TerminalError
from core.mention import Mention

SEARCH_LIMIT = 100  # the API's maximum page size
WEB_POST_URL = "https://bsky.app/profile/{profile}/post/{rkey}"
NO_CREDENTIALS = (
    "no credentials: set the {connection} Airflow connection (login = handle, password = app password) "
    "or AIRFLOW_CONN_{variable}"
)


class CredentialsRejected(TerminalError):
    """Bluesky refused the handle and app password, or the session they opened."""


def collect_bluesky(source: BlueskySource, cursor: Mapping[str, Any] | None, context: CollectionContext) -> SourceRun:
    """Search Bluesky for every brand term, if an app password is configured.

    Args:
        source: the source's config.
        cursor: the previous run's `{"terms": {term: [SearchRange as JSON, ...]}}`, or None.
        context: client, brands, window, budgets and the `source.connection` credentials.

    Returns:
        The run outcome: skipped without credentials; failed when the login is refused (the message
        never holds the password) or every term failed; otherwise a failed term is a warning.
    """
    credentials = context.credentials.get(source.connection) or {}
    handle = str(credentials.get("login") or "").strip().lstrip("@")
    password = str(credentials.get("password") or "")
    if not handle or not password:
        return SourceRun(source.name, source.kind, "skipped", error=NO_CREDENTIALS.format(
            connection=source.connection, variable=source.connection.upper()))
    terms = search_terms(context.brands, hashtags_as_words=False)
    if not terms:
        return SourceRun(source.name, source.kind, "skipped", error="no search terms: give the brands aliases or hashtags")
    try:
        token = create_session(context.client, source, handle, password)
    except CollectorError as error:
        return SourceRun.failed(source.name, source.kind, str(error).replace(password, "***"))

    stored: Mapping[str, Any] = (cursor or {}).get("terms", {})
    window_low, window_end = moment(context.window[0]), moment(context.window[1])
    budget = Budget(source.max_items_per_run, time.monotonic() + context.time_budget_seconds)
    run = SourceRun(source.name, source.kind, "empty", cursor={"terms": {}})
    mentions: dict[str, Mention] = {}
    failures: list[str] = []
    for term in terms:
        pending = SearchRange.pending(stored.get(term), window_low)
        search = functools.partial(_search, context.client, source, term, token)
        try:
            posts, left = _read_term(search, pending, window_end, budget, run.warnings)
        except CredentialsRejected as error:
            return SourceRun.failed(source.name, source.kind, f"{error}; check the {source.connection} connection")
        except CollectorError as error:
            failures.append(str(error))
            run.warnings.append(f"search for {term} failed; it is retried next run: {error}")
            run.cursor["terms"][term] = [r.to_json() for r in pending]
            continue
        run.items_fetched += len(posts)
        run.cursor["terms"][term] = [r.to_json() for r in left]
        for post in posts:
            try:
                mention = mention_from_post(post, source.name)
            except (KeyError, TypeError, ValueError) as error:
                run.warnings.append(f"post {post.get('uri')!r} skipped: {error!r}")
                continue
            mentions.setdefault(mention.key, mention)
    if len(failures) == len(terms):
        return SourceRun.failed(source.name, source.kind, "; ".join(failures))
    if budget.stopped:
        run.warnings.append(f"stopped after {run.items_fetched} posts (max_items_per_run {source.max_items_per_run}, "
                            "or the time budget); the rest is read next run")
    run.mentions = list(mentions.values())
    run.status = "ok" if run.mentions else "empty"
    return run


def create_session(client: HttpClient, source: BlueskySource, handle: str, password: str) -> str:
    """Log in with the handle and app password; returns the access token.

    Raises:
        CredentialsRejected: the login was refused (400/401).
        HttpStatusError, TransientError: the service failed through the retries.
        TerminalError: the answer had no access token.
    """
    url = f"{source.api_base_url.rstrip('/')}/xrpc/com.atproto.server.createSession"
    try:
        response = client.post(url, json={"identifier": handle, "password": password})
    except HttpStatusError as error:
        if error.status in (400, 401):
            raise CredentialsRejected(
                f"Bluesky refused the login of {handle} (HTTP {error.status} from {url}: {_xrpc_message(error.body)}); "
                f"create an app password under Settings > Privacy and security > App passwords and put it in the "
                f"{source.connection} connection (login = handle, password = app password)"
            ) from None
        raise
    try:
        return str(json.loads(response.body)["accessJwt"])
    except (ValueError, KeyError, TypeError) as error:
        raise TerminalError(f"{url} answered without an access token ({type(error).__name__}); is it a Bluesky PDS?") from None


def search_url(source: BlueskySource, term: str, **params: str) -> str:
    """The searchPosts URL for a term, latest first, with since/until/cursor as given."""
    query = {"q": term, "sort": "latest", **params, "limit": SEARCH_LIMIT}
    return f"{source.api_base_url.rstrip('/')}/xrpc/app.bsky.feed.searchPosts?{urlencode(query)}"


def mention_from_post(post: Mapping[str, Any], source: str) -> Mention:
    """A post view (from searchPosts) as a mention.

    Raises:
        KeyError, TypeError, ValueError: the post has no at:// uri.
    """
    uri = str(post["uri"])
    if not uri.startswith("at://") or uri.count("/") < 4:
        raise ValueError(f"not an at:// post uri: {uri!r}")
    record = post.get("record") or {}
    author = post.get("author") or {}
    handle = author.get("handle") if author.get("handle") not in (None, "", "handle.invalid") else None
    reply = record.get("reply") or {}
    parent, root = ((reply.get(name) or {}).get("uri") for name in ("parent", "root"))
    langs = record.get("langs") or []
    return Mention(
        platform="bluesky",
        source=source,
        native_id=uri,
        url=WEB_POST_URL.format(profile=handle or author.get("did") or uri.split("/")[2], rkey=uri.rsplit("/", 1)[1]),
        text=str(record.get("text") or ""),
        author_handle=f"@{handle}" if handle else None,
        author_name=author.get("displayName") or None,
        published_at=_instant(record.get("createdAt")),
        engagement={
            name: count for name, field in (("likes", "likeCount"), ("replies", "replyCount"),
                                            ("reposts", "repostCount"), ("quotes", "quoteCount"))
            if isinstance(count := post.get(field), int) and not isinstance(count, bool)
        },
        parent_id=f"bluesky:{parent}" if parent else None,
        thread_id=f"bluesky:{root or uri}",
        lang_hint=langs[0] if langs and isinstance(langs[0], str) else None,
        extras={"cid": post.get("cid"), "did": author.get("did")},
    )


def moment(instant: datetime) -> str:
    """An instant as the API's timestamp format, in UTC to the millisecond: these sort in time order."""
    instant = instant.astimezone(UTC)
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


def _read_term(
    search: Callable[[dict[str, str]], Any],
    pending: list[SearchRange[str]],
    window_end: str,
    budget: Budget,
    warnings: list[str],
) -> tuple[list[dict[str, Any]], list[SearchRange[str]]]:
    """Read a term's pending ranges, oldest range first, until done or out of budget."""
    posts: list[dict[str, Any]] = []
    left: list[SearchRange[str]] = []
    for position, search_range in enumerate(pending):
        if budget.spent():
            left.extend(pending[position:])
            break
        read, complete = _read_range(search, search_range, window_end, budget, warnings)
        posts.extend(post for _, post in read)
        left.extend(search_range.after_reading([(sort_at, str(post["uri"])) for sort_at, post in read], complete))
    return posts, left


def _read_range(
    search: Callable[[dict[str, str]], Any],
    search_range: SearchRange[str],
    window_end: str,
    budget: Budget,
    warnings: list[str],
) -> tuple[list[tuple[str, dict[str, Any]]], bool]:
    """Page through one range latest first: the new (sortAt, post) pairs and whether it was read to its end."""
    # since is inclusive, until exclusive: a range's own newest edge is inclusive, so one millisecond on.
    until = window_end if search_range.high is None else moment(_instant(search_range.high) + timedelta(milliseconds=1))
    read: list[tuple[str, dict[str, Any]]] = []
    uris = set(search_range.seen)
    params = {"since": search_range.low, "until": until}
    while search_range.low < until:
        document = search(params)
        posts = document.get("posts") if isinstance(document, dict) else None
        if not isinstance(posts, list):
            raise TerminalError(f"searchPosts answered without a posts list: {str(document)[:120]}")
        for post in posts:
            sort_at = _sort_at(post)
            if sort_at is None:
                warnings.append(f"a post without uri or createdAt skipped: {str(post)[:120]}")
                continue
            if str(post["uri"]) in uris:
                continue
            if budget.spent():
                return read, False
            budget.items -= 1
            uris.add(str(post["uri"]))
            read.append((sort_at, post))
        if not posts or not isinstance(document.get("cursor"), str) or not document["cursor"]:
            return read, True
        if budget.spent():
            return read, False
        params = {**params, "cursor": document["cursor"]}
    return read, True


def _search(client: HttpClient, source: BlueskySource, term: str, token: str, params: Mapping[str, str]) -> Any:
    """One searchPosts page as JSON."""
    url = search_url(source, term, **params)
    try:
        response = client.get(url, headers={"Authorization": f"Bearer {token}"})
    except HttpStatusError as error:
        if error.status == 401:
            raise CredentialsRejected(f"Bluesky refused the session (HTTP 401 from {url})") from error
        raise
    try:
        return json.loads(response.body)
    except ValueError as error:
        raise TerminalError(f"{url} answered with malformed JSON ({error}); the service may be failing") from error


def _sort_at(post: Any) -> str | None:
    """When the search files a post: the earlier of createdAt and indexedAt (a post cannot date itself later)."""
    if not isinstance(post, dict) or not post.get("uri"):
        return None
    created = _instant((post.get("record") or {}).get("createdAt"))
    indexed = _instant(post.get("indexedAt"))
    known = [instant for instant in (created, indexed) if instant]
    return moment(min(known)) if known else None


def _instant(value: Any) -> datetime | None:
    try:
        instant = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def _xrpc_message(body: bytes) -> str:
    """The `error: message` of an XRPC error body, or a short excerpt of it."""
    try:
        problem = json.loads(body)
        return f"{problem.get('error')}: {problem.get('message')}"
    except (ValueError, AttributeError):
        return body[:120].decode("utf-8", errors="replace")
