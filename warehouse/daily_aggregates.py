"""Daily aggregates behind the analyst views, kept up to date by every write that changes mentions.

`daily_volume`, `share_of_voice`, `net_sentiment` and `daily_unique_author_reach` read two tables,
`daily_brand_volume` and `daily_brand_authors`, instead of aggregating every mention on each query:
on 10,000,000 mentions the aggregation takes seconds, reading the tables milliseconds
(docs/benchmarks.md). The tables hold the formula macros `brand_volume_of` and `unique_author_reach_of`
(warehouse/migrations/008_formulas_once.sql) per UTC day; this module only says which days to
recompute: the load recomputes the days its mentions fall on, in its own transaction; erasing an author
recomputes the days of the erased mentions; migrating a warehouse that had mentions before the tables
existed builds them for every day. Every recomputation also takes in the days of the mentions whose
sentiment someone corrected without recomputing them (an analyst's `INSERT INTO sentiment_corrections`:
`counted_at` is NULL), and marks those corrections counted; so the next load counts them.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta

import duckdb

# The rows the two tables aggregate, restricted to the days being recomputed.
_BRAND_MENTIONS = """
    WITH brand_mentions AS (
        SELECT * FROM earned_brand_mentions_between($start::TIMESTAMPTZ, $end::TIMESTAMPTZ)
    )
"""

# Corrections recorded without recomputing the aggregates (by SQL): their mentions' days are recomputed next.
_UNCOUNTED_CORRECTIONS = "SELECT mention_key FROM sentiment_corrections WHERE counted_at IS NULL"


def mention_days(connection: duckdb.DuckDBPyConnection, keys_table_sql: str, parameters: object = None) -> set[date]:
    """The UTC days of the mentions whose keys `keys_table_sql` selects (one column of mention keys)."""
    rows = connection.execute(
        f"""
        SELECT DISTINCT period_day(coalesce(published_at, first_seen_at), 'day', 'UTC')
        FROM mentions WHERE mention_key IN ({keys_table_sql})
        """,
        parameters,
    ).fetchall()
    return {day for (day,) in rows}


def refresh_daily_aggregates(connection: duckdb.DuckDBPyConnection, days: Collection[date] | None = None) -> None:
    """Recompute the daily aggregates of `days` (every day when None), inside the caller's transaction.

    Args:
        connection: the warehouse, open for writing.
        days: the UTC days whose mentions changed (the days of uncounted sentiment corrections are added).
    """
    if days is not None:
        days = set(days) | mention_days(connection, _UNCOUNTED_CORRECTIONS)
        if not days:
            _mark_corrections_counted(connection)  # of mentions no longer there, if any
            return
    if days is None:
        chosen, chosen_days = "", {}
        bounds: dict[str, object] = {"start": "-infinity", "end": "infinity"}
    else:
        chosen, chosen_days = "WHERE day IN (SELECT unnest($days::DATE[]))", {"days": sorted(days)}
        # One range from the first day to the last, so DuckDB reads only the row groups that can hold them.
        bounds = {"start": _utc_midnight(min(days)), "end": _utc_midnight(max(days) + timedelta(days=1))}
    for table in ("daily_brand_volume", "daily_brand_authors"):
        connection.execute(f"DELETE FROM {table} {chosen}", chosen_days)
    connection.execute(
        f"""
        INSERT INTO daily_brand_volume BY NAME
        {_BRAND_MENTIONS}
        SELECT * FROM brand_volume_of('brand_mentions', 'day', 'UTC') {chosen}
        """,
        {**bounds, **chosen_days},
    )
    connection.execute(
        f"""
        INSERT INTO daily_brand_authors BY NAME
        {_BRAND_MENTIONS}
        SELECT * FROM unique_author_reach_of('brand_mentions', 'day', 'UTC') {chosen}
        """,
        {**bounds, **chosen_days},
    )
    _mark_corrections_counted(connection)


def _mark_corrections_counted(connection: duckdb.DuckDBPyConnection) -> None:
    connection.execute("UPDATE sentiment_corrections SET counted_at = current_timestamp WHERE counted_at IS NULL")


def _utc_midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)
