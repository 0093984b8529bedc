"""RSS and Atom feeds: conditional GET through the shared client, feedparser on the bytes.

What a feed sends is read defensively, so that one bad entry costs only itself and one bad feed only
its own source: bytes in an undeclared legacy charset are detected and decoded (`_as_utf8`); entities
the feed declares are not expanded when they would blow it up (`_without_entity_bomb`); character
references to code points no text can hold become U+FFFD (`_without_impossible_characters`); and an
entry whose link, id or date cannot be read is skipped, or keeps no date, with a warning naming it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import charset_normalizer
import feedparser
from feedparser.sanitizer import RE_ENTITY_PATTERN, RE_SAFE_ENTITY_PATTERN
from requests.structures import CaseInsensitiveDict

from collectors.context import CollectionContext
from collectors.html_text import html_to_text
from collectors.source_run import SourceRun
from config.model import FeedSource
from core.errors import CollectorError, TerminalError
from core.mention import MAX_TEXT_CHARS, Mention
from transport.http import HttpClient, HttpResponse, server_time

# What feedparser flags on a well-formed feed: a charset it had to work out itself (text/xml without
# a charset, a wrong declaration) or a Content-Type that is not XML. The feed is fine; no warning.
_ENCODING_NOTICES = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)
# A publication date later than this after the feed was served is impossible: it is dropped, with a warning.
FUTURE_DATE_TOLERANCE = timedelta(days=1)
# Entities a feed declares may expand it by this many characters at most (or by its own size, if larger).
MAX_ENTITY_EXPANSION_CHARS = 1_000_000
# HTML of an entry read into text, at most: several times what a mention keeps, so markup cannot crowd text out.
_MAX_ENTRY_HTML_CHARS = 8 * MAX_TEXT_CHARS
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"^\s*<\?xml[^>]*?\bencoding\s*=", re.IGNORECASE)
_BYTE_ORDER_MARKS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_CHARACTER_REFERENCE = re.compile(rb"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));")


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
        The run outcome; on any failure its status is failed and its cursor None (unchanged). It asked
        for the feed (`without_login`).
    """
    cursor = dict(cursor or {})
    asked = [f"feed {without_login(source.url)}"]
    try:
        response = client.get(source.url, headers=conditional_headers(cursor))
        if response.not_modified:
            return SourceRun(source.name, source.kind, "ok", cursor=cursor, warnings=[], asked=asked)
        parsed = parse_feed(response.body, source.name, response.final_url, response.headers)
    except CollectorError as error:
        run = SourceRun.failed(source.name, source.kind, error)
        run.asked = asked
        return run
    return SourceRun(
        source=source.name,
        kind=source.kind,
        status="ok" if parsed.mentions else "empty",
        mentions=parsed.mentions,
        items_fetched=parsed.entries,
        cursor=validators(response),
        warnings=parsed.warnings,
        asked=asked,
    )


def without_login(url: str) -> str:
    """A configured URL as the ledger names it: without the `login:password@` a private feed may carry."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=host))


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

    A malformed feed still yields the entries feedparser could read, with a warning; an entry that
    cannot be read is skipped with a warning naming it, and the others load. Bytes that are not a
    feed at all (an empty body, an HTML page, an error page) raise.

    Args:
        body: the response body.
        source: the source name to stamp on each mention.
        feed_url: where the feed was fetched from, to resolve relative links.
        headers: the response headers (their charset helps decode non-UTF-8 feeds; their Date is
            when the feed was served, which no publication date may be much later than).

    Returns:
        The mentions and warnings.

    Raises:
        TerminalError: the body is not RSS or Atom.
    """
    if not body.strip():
        raise TerminalError(
            f"{feed_url} answered with an empty body, not RSS or Atom; check the feed URL (the site may be failing, "
            "or the feed may have moved)"
        )
    response_headers = {key.lower(): value for key, value in (headers or {}).items()}
    response_headers.setdefault("content-location", feed_url)
    warnings: list[str] = []
    body = _as_utf8(body, response_headers, warnings)
    body = _without_entity_bomb(body, warnings)
    body = _without_impossible_characters(body, warnings)
    document = feedparser.parse(body, response_headers=response_headers, sanitize_html=True)
    if not document.get("version") and not document.entries:
        content_type = response_headers.get("content-type", "no content type")
        reason = str(document.bozo_exception) if document.bozo else ""
        # feedparser's reason for an HTML page names the content type already ("text/html is not an XML media type").
        described = reason if content_type in reason else f"{content_type}: {reason}" if reason else content_type
        raise TerminalError(
            f"{feed_url} did not return RSS or Atom ({described}); "
            "check the feed URL (a site's home page is a blog source, not a feed)"
        )
    parsed = ParsedFeed(entries=len(document.entries), warnings=warnings)
    if document.bozo and not isinstance(document.bozo_exception, _ENCODING_NOTICES):
        parsed.warnings.append(
            f"malformed feed ({type(document.bozo_exception).__name__}: {document.bozo_exception}); "
            f"read {len(document.entries)} entries anyway"
        )
    served_at = datetime.fromtimestamp(server_time(CaseInsensitiveDict(response_headers)), tz=UTC)
    kept_at: dict[str, int] = {}  # position of the entry kept, by mention key and by id
    for position, entry in enumerate(document.entries, start=1):
        label = _entry_label(position, entry)
        try:
            mention = _entry_mention(entry, document, source, feed_url, served_at, label, parsed.warnings)
            key = mention.key
        except (ValueError, TypeError, KeyError, OverflowError) as error:
            parsed.warnings.append(f"{feed_url}: {label} skipped: {error}")
            continue
        if mention.native_id in kept_at:
            parsed.warnings.append(
                f"{feed_url}: duplicate entry {mention.native_id!r} skipped: {label} repeats the id of entry "
                f"{kept_at[mention.native_id]}, which was kept"
            )
            continue
        if key in kept_at:
            parsed.warnings.append(
                f"{feed_url}: {label} skipped: it links to {key}, the page entry {kept_at[key]} links to, and one "
                "page is one mention (links that differ only by #fragment or tracking parameters are the same page)"
            )
            continue
        kept_at.update({key: position, mention.native_id or key: position})
        parsed.mentions.append(mention)
    return parsed


def _entry_mention(
    entry: Any, document: Any, source: str, feed_url: str, served_at: datetime, label: str, warnings: list[str]
) -> Mention:
    """One entry as a mention.

    An entry without link or id is known by a hash of its title and text (`content_digest`).

    Raises:
        ValueError: the entry has nothing to know it by, or its link cannot be read.
    """
    link = entry.get("link")
    text = _entry_text(entry)
    title = entry.get("title")
    native_id = entry.get("id") or link
    if not native_id:
        if not title and not text:
            raise ValueError("it has no link, no id, no title and no text")
        native_id = content_digest(title, text)
    return Mention(
        platform="news",
        source=source,
        native_id=native_id,
        url=urljoin(feed_url, link) if link else None,
        title=title,
        text=text,
        author_name=entry.get("author"),
        author_handle=entry.get("author"),
        published_at=_entry_time(entry, served_at, f"{feed_url}: {label}", warnings),
        lang_hint=_declared_language(entry) or document.feed.get("language"),
        publisher=document.feed.get("title"),
        extras={"tags": [tag.get("term") for tag in entry.get("tags", [])]},
    )


def content_digest(title: str | None, text: str) -> str:
    """The id of a feed entry with neither link nor id: `sha256:` and a digest of its title and text.

    The same entry gets the same id every run; an entry edited later is a new mention.
    """
    return "sha256:" + hashlib.sha256(f"{title or ''}\n{text}".encode()).hexdigest()[:32]


def _entry_label(position: int, entry: Any) -> str:
    """How warnings name an entry: its position, and its id, link or title."""
    name = entry.get("id") or entry.get("link") or entry.get("title")
    return f"entry {position}" + (f" ({str(name)[:100]!r})" if name else "")


def _entry_text(entry: Any) -> str:
    """The fullest body the entry has (content:encoded or Atom content, else summary), as text."""
    html = entry["content"][0].get("value", "") if entry.get("content") else entry.get("summary", "")
    return html_to_text(html[:_MAX_ENTRY_HTML_CHARS])


def _declared_language(entry: Any) -> str | None:
    """The language an entry's content declares (xml:lang), if any."""
    detail = entry["content"][0] if entry.get("content") else entry.get("summary_detail", {})
    return detail.get("language")


def _entry_time(entry: Any, served_at: datetime, label: str, warnings: list[str]) -> datetime | None:
    """When the entry says it was published (else updated), in UTC; None, with a warning, when that is impossible."""
    moment = entry.get("published_parsed") or entry.get("updated_parsed")
    if not moment:
        return None
    stated = entry.get("published") or entry.get("updated")
    year, month, day, hour, minute, second = moment[:6]
    try:
        published = datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
    except (ValueError, OverflowError):
        published = None
    if published is None or published > served_at + FUTURE_DATE_TOLERANCE:
        warnings.append(
            f"{label} says it was published at {stated!r}, more than a day after the feed was served "
            f"({served_at:%Y-%m-%d %H:%M} UTC); that date is impossible and was dropped"
        )
        return None
    return published


def _as_utf8(body: bytes, headers: dict[str, str], warnings: list[str]) -> bytes:
    """The feed in UTF-8 when it declares no charset and is not UTF-8: the charset detected, with a warning.

    A charset the Content-Type, the XML declaration or a byte-order mark states is left to feedparser;
    without one, feedparser would read a Big5, EUC-JP, EUC-KR, GB2312 or KOI8-R feed as windows-1252
    and garble it without a word.
    """
    if _CHARSET.search(headers.get("content-type", "")) or _XML_ENCODING.match(body) or body.startswith(_BYTE_ORDER_MARKS):
        return body
    try:
        body.decode("utf-8")
        return body
    except UnicodeDecodeError:
        pass
    detected = charset_normalizer.from_bytes(body).best()
    if detected is None:
        return body
    headers["content-type"] = f"{headers.get('content-type', 'application/xml').split(';')[0]}; charset=utf-8"
    warnings.append(f"the feed declares no character encoding and is not UTF-8; read as {detected.encoding} (detected)")
    return str(detected).encode("utf-8")


def _without_entity_bomb(body: bytes, warnings: list[str]) -> bytes:
    """The feed without the entities it declares, when expanding them would blow it up.

    feedparser expands the simple entities a feed's DOCTYPE declares (its `RE_SAFE_ENTITY_PATTERN`),
    without a limit: one entity of 10 KB used 10,000 times makes a 40 KB feed 100 MB. When they would
    add more than `MAX_ENTITY_EXPANSION_CHARS` (or the feed's own size, if larger), the declarations
    are removed and the references stay as written.
    """
    first_element = re.search(rb"<\w", body)
    prolog_end = first_element.start() if first_element else 0
    prolog = body[:prolog_end]
    declared = [
        found.groups() for declaration in RE_ENTITY_PATTERN.findall(prolog)
        if (found := RE_SAFE_ENTITY_PATTERN.match(declaration))
    ]
    expansion = sum(body.count(b"&" + name + b";", prolog_end) * len(value) for name, value in declared)
    if expansion <= max(MAX_ENTITY_EXPANSION_CHARS, len(body)):
        return body
    warnings.append(
        f"the feed declares entities that would expand it by {expansion:,} characters; they were left unexpanded"
    )
    return RE_ENTITY_PATTERN.sub(b"", prolog) + body[prolog_end:]


def _without_impossible_characters(body: bytes, warnings: list[str]) -> bytes:
    """The feed with character references to code points no text can hold (`&#xD800;`, a surrogate; past
    U+10FFFF) replaced by U+FFFD: feedparser's fallback parser raises on them, losing the whole feed."""
    replaced: list[bytes] = []

    def replace(reference: re.Match[bytes]) -> bytes:
        hexadecimal, decimal = reference.groups()
        digits = hexadecimal or decimal
        code_point = int(digits, 16 if hexadecimal else 10) if len(digits) < 12 else -1
        if 0 < code_point <= 0x10FFFF and not 0xD800 <= code_point <= 0xDFFF:
            return reference.group()
        replaced.append(reference.group())
        return b"&#xFFFD;"

    body = _CHARACTER_REFERENCE.sub(replace, body)
    if replaced:
        examples = ", ".join(sorted({reference.decode() for reference in replaced})[:3])
        warnings.append(
            f"{len(replaced)} character references to code points no text can hold ({examples}) were read as U+FFFD"
        )
    return body
