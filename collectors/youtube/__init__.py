"""YouTube: comments on the videos of the brands' own channels and on videos their searches find, through
the Data API v3 with an API key, within a daily quota budget.

- `quota`: the day's quota units (the day ends at midnight Pacific time) and this run's share;
- `api`: the list methods on the shared HTTP client, each call charged to the quota, errors translated;
- `parsing`: answers read into videos and comments into mentions (pure);
- `collection`: one run: uploads, comments of followed videos, searches, comments of new videos.

The searches are built by `collectors.search_terms.pipe_query`, one per brand and competitor. Comments
on a configured channel's videos carry the channel's brand as `about_brand` (a complaint under
Brightwave's own video is about Brightwave whether or not it says so); comments on videos found by
search are matched to brands by their own words, like any post, since a video that names a brand draws
comments about everything.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from collectors.context import CollectionContext
from collectors.search_terms import pipe_query
from collectors.source_run import SourceRun
from collectors.youtube.api import DataApi, api_key
from collectors.youtube.collection import YouTubeRun
from collectors.youtube.quota import DailyQuota
from config.model import YouTubeSource


def collect_youtube(source: YouTubeSource, cursor: Mapping[str, Any] | None, context: CollectionContext) -> SourceRun:
    """Collect the new comments of the videos the source follows, and find new videos, within the day's quota.

    Args:
        source: the source's config.
        cursor: the previous run's `{"quota": {"day", "used"}, "channels": {id: {"uploads", "newest"}},
            "searches": {query: {"after"}}, "videos": {id: {...}}}`, or None on the first run.
        context: brands (the searches), window, credentials, the HTTP client and time budget.

    Returns:
        The run outcome, with the coverage ledger (`asked`, `quota`, `left_out`). Skipped without an API
        key, or with neither channels nor searches. Failed (cursor unchanged) when the key is refused, or
        when the first call already failed (a `quotaExceeded` message says when the quota resets and how
        to raise it); a failure after calls were answered keeps what was read, with a warning.
    """
    started = time.monotonic()
    key = api_key(context.credentials.get(source.connection))
    if not key:
        return SourceRun.skipped(
            source.name, source.kind,
            f"no credentials: set the {source.connection} Airflow connection (password = a YouTube Data API key) or "
            f"AIRFLOW_CONN_{source.connection.upper()}",
        )
    queries = [query for brand in context.brands if (query := pipe_query(brand))] if source.search else []
    if not queries and not source.channels:
        return SourceRun.skipped(
            source.name, source.kind,
            "nothing to ask YouTube: give the brands aliases or hashtags to search for, or the source channels",
        )
    quota = DailyQuota.for_run((cursor or {}).get("quota"), context.window, source.daily_quota_units)
    api = DataApi(context.client, source.api_base_url, key, source.connection, source.name, quota)
    run = YouTubeRun(source, api, queries, context.window, context.time_budget()).run(cursor)
    run.duration_seconds = time.monotonic() - started
    return run
