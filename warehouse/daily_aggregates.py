"""Daily aggregates behind the analyst views, kept up to date by every write that changes mentions.

`daily_volume`, `share_of_voice`, `net_sentiment` and `daily_unique_author_reach` read two tables,
`daily_brand_volume` and `daily_brand_authors`, instead of aggregating every mention on each query:
on 10,000,000 mentions the aggregation takes seconds, reading the tables milliseconds
(docs/benchmarks.md). This module holds the aggregation, the one place it is written: the load
recomputes the days its mentions fall on, in its own transaction; erasing an author recomputes the
days of the erased mentions; the migration that created the tables builds them for the mentions
already there. Days are UTC days of `coalesce(published_at, first_seen_at)`.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

import duckdb

_DAY = "CAST(timezone('UTC', coalesce(m.published_at, m.first_seen_at)) AS DATE)"


def mention_days(connection: duckdb.DuckDBPyConnection, keys_table_sql: str, parameters: object = None) -> set[date]:
    """The UTC days of the mentions whose keys `keys_table_sql` selects (one column of mention keys)."""
    rows = connection.execute(
        f"SELECT DISTINCT {_DAY} FROM mentions AS m WHERE m.mention_key IN ({keys_table_sql})", parameters
    ).fetchall()
    return {day for (day,) in rows}


def refresh_daily_aggregates(connection: duckdb.DuckDBPyConnection, days: Collection[date] | None = None) -> None:
    """Recompute the daily aggregates of `days` (every day when None), inside the caller's transaction.

    Args:
        connection: the warehouse, open for writing.
        days: the UTC days whose mentions changed.
    """
    if days is not None and not days:
        return
    chosen = "" if days is None else f"WHERE {_DAY} IN (SELECT unnest($days::DATE[]))"
    where_day = "" if days is None else "WHERE day IN (SELECT unnest($days::DATE[]))"
    parameters = {} if days is None else {"days": sorted(days)}
    for table in ("daily_brand_volume", "daily_brand_authors"):
        connection.execute(f"DELETE FROM {table} {where_day}", parameters)
    connection.execute(
        f"""
        INSERT INTO daily_brand_volume
        SELECT
            {_DAY} AS day, b.brand, any_value(b.role), m.platform,
            count(*),
            count(DISTINCT m.platform || ':' || coalesce(m.author_handle, m.source)),
            coalesce(sum(m.reach_estimate), 0),
            count(*) FILTER (WHERE m.sentiment_label = 'positive'),
            count(*) FILTER (WHERE m.sentiment_label = 'neutral'),
            count(*) FILTER (WHERE m.sentiment_label = 'negative')
        FROM earned_mentions AS m JOIN mention_brands AS b USING (mention_key)
        {chosen}
        GROUP BY ALL
        """,
        parameters,
    )
    connection.execute(
        f"""
        INSERT INTO daily_brand_authors
        WITH per_author AS (
            SELECT
                b.brand, {_DAY} AS day,
                m.platform || ':' || coalesce(m.author_handle, m.source) AS author,
                max(m.reach_estimate) AS author_reach,
                max(m.reach_low) AS author_reach_low,
                max(m.reach_high) AS author_reach_high,
                count(*) AS mentions
            FROM earned_mentions AS m JOIN mention_brands AS b USING (mention_key)
            {chosen}
            GROUP BY ALL
        )
        SELECT day, brand, sum(mentions), count(*), coalesce(sum(author_reach), 0),
               coalesce(sum(author_reach_low), 0), coalesce(sum(author_reach_high), 0)
        FROM per_author GROUP BY day, brand
        """,
        parameters,
    )
