"""The report week's mentions, and the week before's, staged once in temporary tables.

Every number of the weekly report comes from earned mentions (`earned_mentions`: not owned, not
deleted) of the configured brands and competitors whose `coalesce(published_at, first_seen_at)` falls in
the report week or the week before. Those rows are read once, with filters DuckDB can answer from its
per-row-group minimum and maximum (`published_at` in range, or `published_at` missing and
`first_seen_at` in range), so a report reads two weeks of a warehouse however much history it holds.
Their brands and categories are joined once too; every section then aggregates the small tables.

The tables are temporary (they live in memory, per connection, and work on a read-only connection) and
are dropped on leaving the `with` block.
"""

from __future__ import annotations

import uuid
from types import TracebackType

import duckdb

from reports.weeks import ReportWeek


class WeekMentions:
    """A context manager staging two weeks of earned mentions in temporary tables.

    Inside the `with` block:
    - `mentions` (table name) has one row per earned mention of a configured brand or competitor in the
      two weeks: `mention_key, platform, source, url, title, text, author_handle, author_name,
      author_followers, published_at, first_seen_at, mentioned_at` (= `coalesce(published_at,
      first_seen_at)`), `this_week` (false: the week before), `local_day` (the day in the report's time
      zone), `author` (`platform:handle`, or `platform:source` for web items), `sentiment_label,
      sentiment_score, reach_estimate, story_id` and the model columns.
    - `brands` has one row per mention and configured brand: `mention_key, brand, role, this_week,
      local_day, author, reach_estimate, sentiment_label, author_followers, platform`.
    - `categories` has one row per mention and playbook category: `mention_key, category, this_week,
      sentiment_label`.

    Args:
        connection: the warehouse (read-only is fine).
        week: the report week.
        brand_names: the configured brands and competitors; mentions of other brands are left out.
    """

    def __init__(self, connection: duckdb.DuckDBPyConnection, week: ReportWeek, brand_names: list[str]):
        self.connection = connection
        self.week = week
        self.brand_names = list(brand_names)
        suffix = uuid.uuid4().hex[:12]
        self.mentions = f"overheard_report_mentions_{suffix}"
        self.brands = f"overheard_report_brands_{suffix}"
        self.categories = f"overheard_report_categories_{suffix}"

    def __enter__(self) -> WeekMentions:
        try:
            self._stage()
        except BaseException:
            self._drop()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._drop()

    def _stage(self) -> None:
        week = self.week
        bounds = {"from": week.previous_start, "to": week.end}
        self.connection.execute(
            f"""
            CREATE TEMP TABLE {self.mentions} AS
            WITH in_range AS (
                SELECT * FROM earned_mentions WHERE published_at >= $from AND published_at < $to
                UNION ALL
                SELECT * FROM earned_mentions
                WHERE published_at IS NULL AND first_seen_at >= $from AND first_seen_at < $to
            )
            SELECT
                mention_key, platform, source, url, title, text, author_handle, author_name, author_followers,
                published_at, first_seen_at,
                coalesce(published_at, first_seen_at) AS mentioned_at,
                coalesce(published_at, first_seen_at) >= $start AS this_week,
                CAST(timezone($timezone, coalesce(published_at, first_seen_at)) AS DATE) AS local_day,
                platform || ':' || coalesce(author_handle, source) AS author,
                sentiment_label, sentiment_score, reach_estimate, story_id,
                sentiment_model, lang_model, reach_model, story_model
            FROM in_range
            """,
            {**bounds, "start": week.start, "timezone": week.timezone},
        )
        self.connection.execute(
            f"""
            CREATE TEMP TABLE {self.brands} AS
            SELECT b.mention_key, b.brand, b.role, m.this_week, m.local_day, m.author, m.reach_estimate,
                   m.sentiment_label, m.author_followers, m.platform
            FROM mention_brands AS b JOIN {self.mentions} AS m USING (mention_key)
            WHERE list_contains($brands, b.brand)
            """,
            {"brands": self.brand_names},
        )
        self.connection.execute(
            f"DELETE FROM {self.mentions} WHERE mention_key NOT IN (SELECT mention_key FROM {self.brands})"
        )
        self.connection.execute(
            f"""
            CREATE TEMP TABLE {self.categories} AS
            SELECT c.mention_key, c.category, m.this_week, m.sentiment_label
            FROM mention_categories AS c JOIN {self.mentions} AS m USING (mention_key)
            """
        )

    def _drop(self) -> None:
        for table in (self.categories, self.brands, self.mentions):
            self.connection.execute(f"DROP TABLE IF EXISTS {table}")
