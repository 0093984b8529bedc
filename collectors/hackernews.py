"""Hacker News stories and comments through the Algolia HN Search API (no key).

The API has no OR, so each brand term is its own search (`search_terms`), newest first, page by page.
Each term keeps its own cursor: the stretches of time still to read (`SearchRange`). The first run
reads the window; later runs read from the newest item already seen up to the window's end. When a
run stops early (`max_items_per_run`, the time budget), the older part it did not reach stays in the
cursor as a gap that the next run reads first, so nothing is read twice or skipped.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from collectors.context import CollectionContext
from collectors.html_text import html_to_text
from collectors.http import HttpClient
from collectors.search import Budget, SearchRange, search_terms
from collectors.source_run import SourceRun
from config.model import HackerNewsSource
from core.errors import CollectorError, TerminalError
from core.mention import Mention

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
        The run outcome. A term that fails keeps its cursor and adds a warning; the source fails
        only when every term failed.
    """
    terms = search_terms(context.brands)
    if not terms:
        return SourceRun(source.name, source.kind, "skipped", error="no search terms: give the brands aliases or hashtags")
    stored: Mapping[str, Any] = (cursor or {}).get("terms", {})
    window_low = math.floor(context.window[0].timestamp()) + 1  # the window is (start, end]
    window_high = math.floor(context.window[1].timestamp())
    budget = Budget(source.max_items_per_run, time.monotonic() + context.time_budget_seconds)
    run = SourceRun(source.name, source.kind, "empty", cursor={"terms": {}})
    mentions: dict[str, Mention] = {}
    deleted: set[str] = set()
    failures: list[str] = []
    for term in terms:
        pending = SearchRange.pending(stored.get(term), window_low)
        try:
            hits, left = _read_term(context.client, source.api_base_url, term, pending, window_high, budget, run.warnings)
        except CollectorError as error:
            failures.append(str(error))
            run.warnings.append(f"search for {term} failed; it is retried next run: {error}")
            run.cursor["terms"][term] = [r.to_json() for r in pending]
            continue
        run.items_fetched += len(hits)
        run.cursor["terms"][term] = [r.to_json() for r in left]
        for hit in hits:
            try:
                mention = mention_from_hit(hit, source.name)
            except (KeyError, TypeError, ValueError) as error:
                run.warnings.append(f"item {hit.get('objectID')!r} skipped: {error}")
                continue
            if mention is None:
                deleted.add(f"hackernews:{hit['objectID']}")
            else:
                mentions.setdefault(mention.key, mention)
    if len(failures) == len(terms):
        return SourceRun.failed(source.name, source.kind, "; ".join(failures))
    if budget.stopped:
        run.warnings.append(
            f"stopped after {run.items_fetched} items (max_items_per_run {source.max_items_per_run}, or the time "
            "budget); the rest is read next run"
        )
    run.mentions = list(mentions.values())
    run.deleted_keys = sorted(deleted)
    run.status = "ok" if run.mentions or run.deleted_keys else "empty"
    return run


def mention_from_hit(hit: Mapping[str, Any], source: str) -> Mention | None:
    """An Algolia hit as a mention; None when the hit is a deleted item.

    Raises:
        KeyError, TypeError, ValueError: the hit lacks an id or a creation time.
    """
    item_id = str(hit["objectID"])
    created = datetime.fromtimestamp(int(hit["created_at_i"]), tz=UTC)
    is_comment = "comment" in (hit.get("_tags") or []) or hit.get("comment_text") is not None
    body = hit.get("comment_text") if is_comment else hit.get("story_text")
    if hit.get("deleted") or (hit.get("author") is None and not body and not hit.get("title")):
        return None
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


def _read_term(
    client: HttpClient,
    api_base_url: str,
    term: str,
    pending: list[SearchRange[int]],
    window_high: int,
    budget: Budget,
    warnings: list[str],
) -> tuple[list[dict[str, Any]], list[SearchRange[int]]]:
    """Read a term's pending ranges, oldest range first, until done or out of budget.

    Returns:
        The hits read and the ranges still pending.
    """
    hits: list[dict[str, Any]] = []
    left: list[SearchRange[int]] = []
    for position, search_range in enumerate(pending):
        if budget.spent():
            left.extend(pending[position:])
            break
        read, complete = _read_range(client, api_base_url, term, search_range, window_high, budget, warnings)
        hits.extend(read)
        left.extend(search_range.after_reading([(hit["created_at_i"], str(hit["objectID"])) for hit in read], complete))
    return hits, left


def _read_range(
    client: HttpClient,
    api_base_url: str,
    term: str,
    search_range: SearchRange[int],
    window_high: int,
    budget: Budget,
    warnings: list[str],
) -> tuple[list[dict[str, Any]], bool]:
    """Page through one range newest first. Returns the new hits and whether the range was read to its end."""
    high = window_high if search_range.high is None else search_range.high
    read: list[dict[str, Any]] = []
    ids = set(search_range.seen)
    served = 0
    page = 0
    while search_range.low <= high:
        url = search_url(api_base_url, term, search_range.low, high, page)
        document = _get_json(client, url)
        page_hits = document.get("hits") if isinstance(document, dict) else None
        if not isinstance(page_hits, list):
            raise TerminalError(f"{url} answered without a hits list; the API may have changed")
        served += len(page_hits)
        for hit in page_hits:
            if not isinstance(hit, dict) or not isinstance(hit.get("created_at_i"), int) or not hit.get("objectID"):
                warnings.append(f"a hit without objectID or created_at_i skipped: {str(hit)[:120]}")
                continue
            if str(hit["objectID"]) in ids:
                continue
            if budget.spent():
                return read, False
            budget.items -= 1
            ids.add(str(hit["objectID"]))
            read.append(hit)
        page += 1
        pages = document.get("nbPages")
        if not page_hits or not isinstance(pages, int) or page >= pages:
            total = document.get("nbHits")
            if isinstance(total, int) and total > served:
                warnings.append(f"search for {term} matched {total} items but the API pages through only {served}; "
                                "the rest is read next run")
                return read, False
            return read, True
        if budget.spent():
            return read, False
    return read, True


def _get_json(client: HttpClient, url: str) -> Any:
    response = client.get(url)
    try:
        return json.loads(response.body)
    except ValueError as error:
        raise TerminalError(f"{url} answered with malformed JSON ({error}); the API may be failing or have changed") from error

