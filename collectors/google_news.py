"""Google News RSS search (no key): one search per brand and competitor, read with the feed parser.

Each search is polled like a feed (conditional GET on its ETag / Last-Modified) and remembers the
items its last answer held, so an article that stays in the results is collected once. Items are
web articles: their key is the canonical URL of the (Google News) link. Titles come as
"Headline - Publisher"; the publisher, from the item's `<source>`, goes to `author_name`.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

import feedparser

from collectors.context import CollectionContext
from collectors.rss import conditional_headers, parse_feed, validators
from collectors.search_terms import NO_SEARCH_TERMS, or_query
from collectors.source_run import SourceRun
from config.model import GoogleNewsSource
from core.errors import CollectorError
from core.mention import Mention


def search_url(source: GoogleNewsSource, query: str) -> str:
    """The RSS search URL for a query in the source's edition (`hl`, `gl`, `ceid`)."""
    language = source.language.split("-")[0]
    params = {"q": query, "hl": source.language, "gl": source.country, "ceid": f"{source.country}:{language}"}
    return f"{source.base_url.rstrip('/')}/rss/search?{urlencode(params, quote_via=quote, safe=':')}"


def collect_google_news(
    source: GoogleNewsSource, cursor: Mapping[str, Any] | None, context: CollectionContext
) -> SourceRun:
    """Search Google News for every brand and competitor.

    Args:
        source: the source's config.
        cursor: the previous run's `{"queries": {query: {"etag", "last_modified", "seen": [item digests]}}}`.
        context: client, brands and window.

    Returns:
        The run outcome. A search that fails keeps its cursor and adds a warning; the source fails
        only when every search failed.
    """
    queries = list(dict.fromkeys(query for brand in context.brands if (query := or_query(brand))))
    if not queries:
        return SourceRun.skipped(source.name, source.kind, NO_SEARCH_TERMS)
    stored: Mapping[str, Mapping[str, Any]] = (cursor or {}).get("queries", {})
    states: dict[str, Any] = {}
    run = SourceRun(source.name, source.kind, "empty", cursor={"queries": states},
                    asked=[f"search: {query}" for query in queries])
    mentions: dict[str, Mention] = {}
    failures: list[str] = []
    answered = False  # some search had items, or nothing new since last time
    for query in queries:
        state = dict(stored.get(query, {}))
        try:
            response = context.client.get(search_url(source, query), headers=conditional_headers(state))
            if response.not_modified:
                states[query] = state
                answered = True
                continue
            parsed = parse_feed(response.body, source.name, response.final_url, response.headers)
        except CollectorError as error:
            failures.append(str(error))
            run.warnings.append(f"search {query!r} failed; it is retried next run: {error}")
            run.left_out.append(f"search: {query}: failed ({error}); retried next run")
            if state:
                states[query] = state
            continue
        run.items_fetched += parsed.entries
        run.warnings.extend(f"search {query!r}: {warning}" for warning in parsed.warnings)
        publishers = _publishers(response.body)
        seen_before = set(state.get("seen", []))
        seen_now: list[str] = []
        deferred = False
        for mention in parsed.mentions:
            if mention.published_at and mention.published_at > context.window[1]:
                deferred = True  # after the window: the next run's
                continue
            item_id = mention.native_id or mention.url or ""
            digest = _digest(item_id)
            seen_now.append(digest)
            answered = True
            if digest not in seen_before:
                news = with_publisher(mention, *publishers.get(item_id, (None, None)), query=query)
                mentions.setdefault(news.key, news)
        # With items left for the next run, the next poll must not be answered 304.
        kept = {"etag": None, "last_modified": None} if deferred else validators(response)
        states[query] = {**kept, "seen": seen_now}
    if len(failures) == len(queries):
        failed = SourceRun.failed(source.name, source.kind, "; ".join(failures))
        failed.asked = run.asked
        return failed
    run.mentions = list(mentions.values())
    run.status = "ok" if answered else "empty"
    return run


def with_publisher(mention: Mention, publisher: str | None, publisher_url: str | None, query: str) -> Mention:
    """The mention with the publisher as author, its " - Publisher" title suffix and body tail removed.

    Args:
        mention: as `parse_feed` read it.
        publisher: the item's `<source>` text (None: taken from the title suffix, if any).
        publisher_url: the `<source url>`.
        query: the search that found it (kept in extras).
    """
    title = mention.title or ""
    if publisher is None and " - " in title:
        publisher = title.rsplit(" - ", 1)[1].strip() or None
    headline = title.removesuffix(f" - {publisher}") if publisher else title
    text = mention.text.removesuffix(publisher).rstrip() if publisher else mention.text
    return dataclasses.replace(
        mention,
        title=headline or None,
        text=text or headline,
        author_name=publisher,
        author_handle=None,
        publisher=publisher,
        extras={**mention.extras, "publisher_url": publisher_url, "query": query},
    )


def _publishers(body: bytes) -> dict[str, tuple[str | None, str | None]]:
    """Each entry's `<source>` (publisher name, URL), by the id `parse_feed` gives the entry."""
    found: dict[str, tuple[str | None, str | None]] = {}
    for entry in feedparser.parse(body).entries:
        origin = entry.get("source") or {}
        key = entry.get("id") or entry.get("link")
        if key and (origin.get("title") or origin.get("href")):
            found[key] = (origin.get("title"), origin.get("href"))
    return found


def _digest(item_id: str) -> str:
    """A short stable digest of an item id (Google's ids are long): what the cursor remembers."""
    return hashlib.sha256(item_id.encode("utf-8")).hexdigest()[:16]
