"""Reddit: brand searches sitewide and in watched subreddits, posts and comments.

With credentials (a Reddit app's client id and secret in the source's connection) the collector reads
Reddit's API through praw, read-only (app-only OAuth): for each brand and competitor a search
(`/search`, `/r/{sub}/search`, newest first), the comments of the posts that name a brand
(`/comments/{id}`), and the comment streams of the watched subreddits (`/r/{sub}/comments`) matched
here against the brand terms. Without credentials (new API apps need Reddit's approval) it falls back
to Reddit's public search feeds (`search.rss`) through the shared HTTP client: posts only, no
comments, no scores, and the run says so in a warning.

- `queries`: the searches, built from the brands (the one builder of Reddit's search syntax);
- `parsing`: listings, threads and feeds read into items and mentions;
- `transport`: praw on a session under the one retry policy, or the feeds; errors as collector errors;
- `collection`: the cursor's bounds, and one run over every listing.

Retries, rate-limit waits (`Retry-After`, `x-ratelimit-reset`) and the time budget are the retry
policy's (`transport.http.RetryPolicy`), waited through the context's `sleep`. A rate limit that
outlasts the budget, or any other transient failure, stops the source cleanly: what was collected is
kept, the cursor stays, and the run carries a warning (or fails, if nothing was collected at all). A
subreddit or thread Reddit will not show (a 403 on a quarantined, banned or private community) is
skipped with one warning and the rest are read; only the token endpoint refusing the client id and
secret blames the credentials.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from collectors.context import CollectionContext
from collectors.reddit.collection import CollectionBounds, Harvest
from collectors.reddit.transport import ApiReader, FeedReader, RedditReader, credentials_help
from collectors.source_run import SourceRun
from config.model import RedditSource
from core.errors import CollectorError


def collect_reddit(source: RedditSource, cursor: Mapping[str, Any] | None, context: CollectionContext) -> SourceRun:
    """Collect the Reddit posts and comments created since the cursor, within the run's window.

    Args:
        source: which subreddits to watch, whether to search sitewide and read comments, the cap, the base URLs.
        cursor: the previous run's `{"created_utc", "seen_ids"}`, or None on the first run.
        context: the shared client (its retry policy; the feed fallback), brands, window, credentials,
            time budget and sleep.

    Returns:
        The run outcome: ok with the mentions (deleted items in `deleted_keys`) and the next cursor, with
        a warning for each subreddit, thread or search that was skipped; failed with what to fix
        (credentials, an endpoint that kept failing before anything was read) and the cursor unchanged,
        keeping what was read. A transient failure after items were read keeps them and the old cursor.
    """
    started = time.perf_counter()
    budget = context.time_budget()
    harvest = Harvest(source, CollectionBounds.from_cursor(cursor, context.window), context.brands)
    credentials = context.credentials.get(source.connection)
    api: ApiReader | None = None
    try:
        reader: RedditReader
        if credentials:
            reader = api = ApiReader.connect(source, credentials, context, budget)
        else:
            reader = FeedReader(source, context.client)
            harvest.warnings.append(
                f"no credentials in the {source.connection} connection, so Reddit was read through its public search "
                f"feeds (search.rss): posts only, no comments, no scores. For the API, {credentials_help(source.connection)}"
            )
        harvest.run(reader)
    except CollectorError as error:
        run = SourceRun.failed(source.name, source.kind, error)
        run.warnings, run.asked, run.left_out = harvest.warnings, harvest.asked, harvest.left_out
        run.duration_seconds = time.perf_counter() - started
        return run
    finally:
        if api is not None:
            api.close()
    run = harvest.outcome(cursor)
    run.duration_seconds = time.perf_counter() - started
    return run
