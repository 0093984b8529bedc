"""X (Twitter): recent search through the API v2 with tweepy, built from the brand terms.

- `queries`: the searches, built from the brands (the one builder of X's search syntax);
- `parsing`: a recent-search page read into mentions;
- `transport`: tweepy on a session under the one retry policy, its errors as collector errors;
- `cursors`: where each query resumes, and the posts read this month;
- `collection`: one run over the queries, within the caps and the time budget.

Waits (rate-limit resets, 5xx backoff) go through `context.sleep` and only when they fit in
`context.time_budget_seconds`; otherwise the source stops cleanly and the next run resumes from the
cursor.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from collectors.context import CollectionContext
from collectors.source_run import SourceRun
from collectors.x.collection import RecentSearch
from collectors.x.queries import build_queries
from collectors.x.transport import RecentSearchApi, bearer_token
from config.model import XSource
from core.errors import TerminalError


def collect_x(source: XSource, cursor: Mapping[str, Any] | None, context: CollectionContext) -> SourceRun:
    """Search X for the brands' recent posts since the last run.

    Args:
        source: the X source's config.
        cursor: the previous run's `{"queries": {query: {"since_id": ...}}, "reads": {"month": "YYYY-MM",
            "count": N}}`, or None on the first run (which starts at the window start).
        context: brands, window (no post newer than its end is asked for), credentials, the retry
            policy (`context.client.policy`), time budget, sleep.

    Returns:
        The run outcome. Skipped without a bearer token. Failed (cursor unchanged) on rejected
        credentials, or on an error before any post was read; an error after posts were read keeps
        them, with a warning, and the cursor resumes the unfinished queries. The cursor counts the posts
        read this calendar month (of the window end) against `monthly_read_budget`; fewer than 10 posts
        left count as spent, since recent search cannot be asked for fewer.
    """
    started = time.monotonic()
    budget = context.time_budget()
    token = bearer_token(context.credentials.get(source.connection))
    if not token:
        return SourceRun(
            source.name, source.kind, "skipped",
            error=f"no credentials: set the {source.connection} Airflow connection (password = bearer token) or "
            f"AIRFLOW_CONN_{source.connection.upper()}",
        )
    try:
        queries = build_queries(context.brands, include_retweets=source.include_retweets, languages=source.languages)
    except ValueError as error:
        return SourceRun.failed(source.name, source.kind, TerminalError(str(error)))
    if not queries:
        return SourceRun(source.name, source.kind, "skipped", error="no search terms: give the brands aliases, hashtags, handles or cashtags")
    api = RecentSearchApi(
        source.api_base_url, token, source.connection, context.client.policy, budget, context.client.settings.user_agent
    )
    try:
        run = RecentSearch(source, api, context.window).run(queries, cursor)
    finally:
        api.close()
    run.error = _redact(run.error, token)
    run.warnings = [_redact(warning, token) or "" for warning in run.warnings]
    run.duration_seconds = time.monotonic() - started
    return run


def _redact(text: str | None, token: str) -> str | None:
    return text.replace(token, "***") if text and token else text
