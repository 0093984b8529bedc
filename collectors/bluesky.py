"""Bluesky post search (app.bsky.feed.searchPosts), which needs an account: handle + app password.

A run logs in once (com.atproto.server.createSession), then searches each brand term (the search
has no OR) latest first with `since`/`until`, following the API's cursor. Each term resumes from the
newest post it saw, by the time the search filters on (sortAt: the earlier of createdAt and
indexedAt), with the same gap-keeping cursor as Hacker News (`collectors.search.RangeSearch`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from collectors.bluesky_posts import instant, mention_from_record
from collectors.context import CollectionContext
from collectors.search import PageItem, RangeSearch, SearchPage, SearchRange, collect_searches, json_body
from collectors.search_terms import NO_SEARCH_TERMS, separate_terms
from collectors.source_run import SourceRun
from config.model import BlueskySource
from core.errors import CollectorError, CredentialsRejected, TerminalError
from core.mention import Mention
from transport.exceptions import HttpStatusError
from transport.http import HttpClient

SEARCH_LIMIT = 100  # the API's maximum page size
NO_CREDENTIALS = (
    "no credentials: set the {connection} Airflow connection (login = handle, password = app password) "
    "or AIRFLOW_CONN_{variable}"
)


def collect_bluesky(source: BlueskySource, cursor: Mapping[str, Any] | None, context: CollectionContext) -> SourceRun:
    """Search Bluesky for every brand term, if an app password is configured.

    Args:
        source: the source's config.
        cursor: the previous run's `{"terms": {term: [SearchRange as JSON, ...]}}`, or None.
        context: client, brands, window, budgets and the `source.connection` credentials.

    Returns:
        The run outcome (see `collect_searches`): skipped without credentials; failed when the
        login or the session is refused (the message never holds the password).
    """
    credentials = context.credentials.get(source.connection) or {}
    handle = str(credentials.get("login") or "").strip().lstrip("@")
    password = str(credentials.get("password") or "")
    if not handle or not password:
        return SourceRun.skipped(source.name, source.kind, NO_CREDENTIALS.format(
            connection=source.connection, variable=source.connection.upper()))
    terms = separate_terms(context.brands, hashtags_as_words=False)
    if not terms:
        return SourceRun.skipped(source.name, source.kind, NO_SEARCH_TERMS)
    try:
        token = create_session(context.client, source, handle, password)
    except CollectorError as error:
        return SourceRun.failed(source.name, source.kind, str(error).replace(password, "***"))
    search = RangeSearch(
        moment(context.window[0]),
        functools.partial(_fetch_page, context.client, source, token, moment(context.window[1])),
        functools.partial(mention_from_post, source=source.name),
    )
    return collect_searches(source, context, terms, cursor, search)


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
    """A post view (from searchPosts) as a mention (`collectors.bluesky_posts.mention_from_record`, with
    the view's author and counts).

    Raises:
        KeyError, TypeError, ValueError: the post has no at:// uri.
    """
    author = post.get("author") or {}
    handle = author.get("handle") if author.get("handle") not in (None, "", "handle.invalid") else None
    return mention_from_record(
        str(post["uri"]),
        post.get("record") or {},
        source,
        handle=handle,
        author_name=author.get("displayName"),
        engagement={
            name: count for name, field in (("likes", "likeCount"), ("replies", "replyCount"),
                                            ("reposts", "repostCount"), ("quotes", "quoteCount"))
            if isinstance(count := post.get(field), int) and not isinstance(count, bool)
        },
        extras={"cid": post.get("cid"), "did": author.get("did")},
    )


def moment(instant: datetime) -> str:
    """An instant as the API's timestamp format, in UTC to the millisecond: these sort in time order."""
    instant = instant.astimezone(UTC)
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


def parse_search_page(document: Any, url: str) -> SearchPage[str, str]:
    """One searchPosts answer: its posts by sortAt (a post without uri or createdAt is skipped with a
    warning), and the API's cursor for the next page, if any.

    Raises:
        TerminalError: the answer has no posts list.
    """
    posts = document.get("posts") if isinstance(document, dict) else None
    if not isinstance(posts, list):
        raise TerminalError(f"{url} answered without a posts list: {str(document)[:120]}")
    items: list[PageItem[str]] = []
    warnings: list[str] = []
    for post in posts:
        sort_at = _sort_at(post)
        if sort_at is None:
            warnings.append(f"a post without uri or createdAt skipped: {str(post)[:120]}")
        else:
            items.append(PageItem(sort_at, str(post["uri"]), post))
    next_page = document.get("cursor")
    return SearchPage(items, len(posts), next_page if posts and isinstance(next_page, str) and next_page else None,
                      warnings=warnings)


def _fetch_page(
    client: HttpClient, source: BlueskySource, token: str, window_end: str, term: str, search_range: SearchRange[str],
    page: str | None,
) -> SearchPage[str, str]:
    """One searchPosts page of a term's posts in the range (the open range: up to the window's end).

    Raises:
        CredentialsRejected: the session was refused (401).
    """
    # since is inclusive, until exclusive: a range's own newest edge is inclusive, so one millisecond on.
    high = instant(search_range.high) if search_range.high is not None else None
    until = moment(high + timedelta(milliseconds=1)) if high else window_end
    if search_range.low >= until:
        return SearchPage()
    url = search_url(source, term, since=search_range.low, until=until, **({"cursor": page} if page else {}))
    try:
        response = client.get(url, headers={"Authorization": f"Bearer {token}"})
    except HttpStatusError as error:
        if error.status == 401:
            raise CredentialsRejected(
                f"Bluesky refused the session (HTTP 401 from {url}); check the {source.connection} connection"
            ) from error
        raise
    return parse_search_page(json_body(response), url)


def _sort_at(post: Any) -> str | None:
    """When the search files a post: the earlier of createdAt and indexedAt (a post cannot date itself later)."""
    if not isinstance(post, dict) or not post.get("uri"):
        return None
    created = instant((post.get("record") or {}).get("createdAt"))
    indexed = instant(post.get("indexedAt"))
    known = [instant for instant in (created, indexed) if instant]
    return moment(min(known)) if known else None


def _xrpc_message(body: bytes) -> str:
    """The `error: message` of an XRPC error body, or a short excerpt of it."""
    try:
        problem = json.loads(body)
        return f"{problem.get('error')}: {problem.get('message')}"
    except (ValueError, AttributeError):
        return body[:120].decode("utf-8", errors="replace")
