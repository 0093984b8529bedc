"""Hacker News stories and comments through the Algolia HN Search API (no key).

The API has no OR, so each brand term is its own search (`separate_terms`), newest first, page by
page, filtered on the creation time (`created_at_i`). `collectors.search.RangeSearch` keeps each
term's cursor and reads it within the run's budget; this module builds the URLs, fetches a page and
parses hits into mentions.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from collectors.context import CollectionContext
from collectors.html_text import html_to_text
from collectors.search import PageItem, RangeSearch, SearchPage, SearchRange, Tombstone, collect_searches, json_body
from collectors.search_terms import NO_SEARCH_TERMS, separate_terms
from collectors.source_run import SourceRun
from config.model import HackerNewsSource
from core.errors import TerminalError
from core.mention import Mention
from transport.http import HttpClient

HITS_PER_PAGE = 100
ITEM_URL = "https://news.ycombinator.com/item?id={}"


def collect_hackernews(
    source: HackerNewsSource, cursor: Mapping[str, Any] | None, context: CollectionContext
) -> SourceRun:
    """Search Hacker News for every brand term, in the run's window and from where each term left off.

    Args:
        source: the source's config.
        cursor: the previous run's `{"terms": {term: [SearchRange as JSON, ...]}}`, or None.
        context: client, brands, window and budgets.

    Returns:
        The run outcome (see `collect_searches`); deleted items come back as `deleted_keys`.
    """
    terms = separate_terms(context.brands, hashtags_as_words=True)
    if not terms:
        return SourceRun.skipped(source.name, source.kind, NO_SEARCH_TERMS)
    window_start = math.floor(context.window[0].timestamp()) + 1  # the window is (start, end]
    window_end = math.floor(context.window[1].timestamp())
    search = RangeSearch(
        window_start,
        functools.partial(_fetch_page, context.client, source.api_base_url, window_end),
        functools.partial(mention_from_hit, source=source.name),
    )
    return collect_searches(source, context, terms, cursor, search)


def mention_from_hit(hit: Mapping[str, Any], source: str) -> Mention | Tombstone:
    """An Algolia hit as a mention, or a tombstone when the hit is a deleted item.

    Raises:
        KeyError, TypeError, ValueError: the hit lacks an id or a creation time.
    """
    item_id = str(hit["objectID"])
    created = datetime.fromtimestamp(int(hit["created_at_i"]), tz=UTC)
    is_comment = "comment" in (hit.get("_tags") or []) or hit.get("comment_text") is not None
    body = hit.get("comment_text") if is_comment else hit.get("story_text")
    if hit.get("deleted") or (hit.get("author") is None and not body and not hit.get("title")):
        return Tombstone(f"hackernews:{item_id}")
    title = None if is_comment else (hit.get("title") or None)
    text = " ".join(part for part in (title, html_to_text(body or "")) if part)
    story_id = hit.get("story_id") or (None if is_comment else item_id)
    return Mention(
        platform="hackernews",
        source=source,
        native_id=item_id,
        url=ITEM_URL.format(item_id),
        text=text,
        title=title,
        author_handle=hit.get("author"),
        published_at=created,
        engagement={
            name: value for name, value in (("points", hit.get("points")), ("comments", hit.get("num_comments")))
            if isinstance(value, int) and not isinstance(value, bool)
        },
        parent_id=f"hackernews:{hit['parent_id']}" if is_comment and hit.get("parent_id") else None,
        thread_id=f"hackernews:{story_id}" if story_id else None,
        extras={"story_url": hit.get("story_url") if is_comment else hit.get("url")}
        | ({"story_title": hit.get("story_title")} if is_comment else {}),
    )


def search_url(api_base_url: str, term: str, low: int, high: int, page: int) -> str:
    """The search_by_date URL for stories and comments created in [low, high] (epoch seconds)."""
    query = {
        "query": term,
        "tags": "(story,comment)",
        "numericFilters": f"created_at_i>={low},created_at_i<={high}",
        "hitsPerPage": HITS_PER_PAGE,
        "page": page,
    }
    return f"{api_base_url.rstrip('/')}/search_by_date?{urlencode(query, safe='(),')}"


def parse_search_page(document: Any, url: str, page: int) -> SearchPage[int, int]:
    """One search_by_date answer: its hits (a hit without objectID or created_at_i is skipped with a
    warning), and the next page number while the API has more pages.

    Raises:
        TerminalError: the answer has no hits list.
    """
    hits = document.get("hits") if isinstance(document, dict) else None
    if not isinstance(hits, list):
        raise TerminalError(f"{url} answered without a hits list; the API may have changed")
    items: list[PageItem[int]] = []
    warnings: list[str] = []
    for hit in hits:
        if isinstance(hit, dict) and isinstance(hit.get("created_at_i"), int) and hit.get("objectID"):
            items.append(PageItem(hit["created_at_i"], str(hit["objectID"]), hit))
        else:
            warnings.append(f"a hit without objectID or created_at_i skipped: {str(hit)[:120]}")
    pages, matched = document.get("nbPages"), document.get("nbHits")
    more = bool(hits) and isinstance(pages, int) and page + 1 < pages
    return SearchPage(
        items, len(hits), page + 1 if more else None, matched if isinstance(matched, int) else None, warnings
    )


def _fetch_page(
    client: HttpClient, api_base_url: str, window_end: int, term: str, search_range: SearchRange[int], page: int | None
) -> SearchPage[int, int]:
    """One page of a term's hits created in the range (the open range: up to the window's end)."""
    high = window_end if search_range.high is None else search_range.high
    if search_range.low > high:
        return SearchPage()
    url = search_url(api_base_url, term, search_range.low, high, page or 0)
    return parse_search_page(json_body(client.get(url)), url, page or 0)
