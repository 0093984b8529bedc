"""RSS and Atom feeds: conditional GET through the shared client, feedparser on the bytes."""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from collectors.context import CollectionContext
from collectors.html_text import html_to_text
from collectors.http import HttpClient, HttpResponse
from collectors.source_run import SourceRun
from config.model import FeedSource
from core.errors import CollectorError, TerminalError
from core.mention import Mention

# What feedparser flags on a well-formed feed: a charset it had to work out itself (text/xml without
# a charset, a wrong declaration) or a Content-Type that is not XML. The feed is fine; no warning.
_ENCODING_NOTICES = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)


@dataclass
class ParsedFeed:
    """A feed read from bytes: its mentions and anything odd about it.

    Attributes:
        mentions: one per distinct entry, in feed order.
        entries: how many entries the feed held, duplicates included.
        warnings: malformed XML that was read anyway, entries without a link, duplicate ids.
    """

    mentions: list[Mention] = field(default_factory=list)
    entries: int = 0
    warnings: list[str] = field(default_factory=list)


def collect_feed(source: FeedSource, cursor: Mapping[str, Any] | None, client: HttpClient) -> SourceRun:
    """Poll one feed, conditionally on what the last run saw.

    Args:
        source: the feed's config.
        cursor: the previous run's `{"etag": ..., "last_modified": ...}`, or None on the first run.
        client: the shared HTTP client.

    Returns:
        The run outcome; on any failure its status is failed and its cursor None (unchanged).
    """
    cursor = dict(cursor or {})
    try:
        response = client.get(source.url, headers=conditional_headers(cursor))
        if response.not_modified:
            return SourceRun(source.name, source.kind, "ok", cursor=cursor, warnings=[])
        parsed = parse_feed(response.body, source.name, response.final_url, response.headers)
    except CollectorError as error:
        return SourceRun.failed(source.name, source.kind, error)
    return SourceRun(
        source=source.name,
        kind=source.kind,
        status="ok" if parsed.mentions else "empty",
        mentions=parsed.mentions,
        items_fetched=parsed.entries,
        cursor=validators(response),
        warnings=parsed.warnings,
    )


def conditional_headers(cursor: Mapping[str, Any]) -> dict[str, str]:
    """The headers of a conditional GET from what the last answer said (`validators`): nothing when it said nothing."""
    headers = {}
    if cursor.get("etag"):
        headers["If-None-Match"] = cursor["etag"]
    if cursor.get("last_modified"):
        headers["If-Modified-Since"] = cursor["last_modified"]
    return headers


def validators(response: HttpResponse) -> dict[str, str | None]:
    """What to keep of an answer for the next conditional GET: `{"etag": ..., "last_modified": ...}`."""
    return {"etag": response.headers.get("ETag"), "last_modified": response.headers.get("Last-Modified")}


def collect_feed_in_context(source: FeedSource, cursor: Mapping[str, Any] | None, context: CollectionContext) -> SourceRun:
    """`collect_feed` with the shared collector signature (see `collectors.units`)."""
    return collect_feed(source, cursor, context.client)


def parse_feed(body: bytes, source: str, feed_url: str, headers: Mapping[str, str] | None = None) -> ParsedFeed:
    """Read RSS or Atom bytes into mentions.

    A malformed feed still yields the entries feedparser could read, with a warning. Bytes that
    are not a feed at all (an HTML page, an error page) raise.

    Args:
        body: the response body.
        source: the source name to stamp on each mention.
        feed_url: where the feed was fetched from, to resolve relative links.
        headers: the response headers (their charset helps decode non-UTF-8 feeds).

    Returns:
        The mentions and warnings.

    Raises:
        TerminalError: the body is not RSS or Atom.
    """
    response_headers = {key.lower(): value for key, value in (headers or {}).items()}
    response_headers.setdefault("content-location", feed_url)
    document = feedparser.parse(body, response_headers=response_headers, sanitize_html=True)
    if not document.version and not document.entries:
        content_type = response_headers.get("content-type", "no content type")
        reason = f": {document.bozo_exception}" if document.bozo else ""
        raise TerminalError(
            f"{feed_url} did not return RSS or Atom ({content_type}{reason}); "
            "check the feed URL (a site's home page is a blog source, not a feed)"
        )
    parsed = ParsedFeed(entries=len(document.entries))
    if document.bozo and not isinstance(document.bozo_exception, _ENCODING_NOTICES):
        parsed.warnings.append(
            f"malformed feed ({type(document.bozo_exception).__name__}: {document.bozo_exception}); "
            f"read {len(document.entries)} entries anyway"
        )
    feed_title = document.feed.get("title")
    seen: set[str] = set()
    for position, entry in enumerate(document.entries):
        link = entry.get("link")
        native_id = entry.get("id") or link
        if not link and not native_id:
            parsed.warnings.append(f"entry {position + 1} has neither a link nor an id; skipped")
            continue
        mention = Mention(
            platform="news",
            source=source,
            native_id=native_id,
            url=urljoin(feed_url, link) if link else None,
            title=entry.get("title"),
            text=_entry_text(entry),
            author_name=entry.get("author"),
            author_handle=entry.get("author"),
            published_at=_entry_time(entry),
            lang_hint=_declared_language(entry) or document.feed.get("language"),
            publisher=feed_title,
            extras={"tags": [tag.get("term") for tag in entry.get("tags", [])]},
        )
        key = mention.key
        if key in seen or native_id in seen:
            parsed.warnings.append(f"duplicate entry {native_id!r} skipped")
            continue
        seen.update((key, native_id))
        parsed.mentions.append(mention)
    return parsed


def _entry_text(entry: Any) -> str:
    """The fullest body the entry has (content:encoded or Atom content, else summary), as text."""
    html = entry["content"][0].get("value", "") if entry.get("content") else entry.get("summary", "")
    return html_to_text(html)


def _declared_language(entry: Any) -> str | None:
    """The language an entry's content declares (xml:lang), if any."""
    detail = entry["content"][0] if entry.get("content") else entry.get("summary_detail", {})
    return detail.get("language")


def _entry_time(entry: Any) -> datetime | None:
    moment = entry.get("published_parsed") or entry.get("updated_parsed")
    if not moment:
        return None
    return datetime.fromtimestamp(calendar.timegm(moment), tz=UTC)
