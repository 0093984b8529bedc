"""The report week's mentions, and the week before's, staged once in temporary tables.

Every number of the weekly report comes from earned mentions of the configured brands and competitors
whose `mentioned_at` falls in the report week or the week before: the rows of the warehouse's
`earned_mentions_between` macro (migration 008), read once with filters DuckDB answers from its
per-row-group minimum and maximum, so a report reads two weeks of a warehouse however much history it
holds. Their brands are joined once too, in the shape of `earned_brand_mentions_between`, so the brand
figures come from the same formula macros the analyst views use; every other section aggregates the
small tables.

The tables are temporary (they live in memory, per connection, and work on a read-only connection) and
are dropped on leaving the `with` block.
"""

from __future__ import annotations

import uuid
from types import TracebackType
from typing import Self

import duckdb

from reports.weeks import ReportWeek


class WeekMentions:
    """A context manager staging two weeks of earned mentions in temporary tables.

    Inside the `with` block:
    - `mentions` (table name) has one row per earned mention of a configured brand or competitor in the
      two weeks (`earned_mentions_between`): `mention_key, platform, source, url, title, text` (title and
      text of the report week's mentions only: NULL for the week before's, which nothing reads), `
      author_handle, author_name, author_followers, publisher` (a site's or feed's name, Google News's
      outlet, a subreddit), `publisher_url` (Google News's outlet's address), `published_at,
      first_seen_at, mentioned_at` (=
      `coalesce(published_at, first_seen_at)`), `this_week` (false: the week before), `author`
      (`platform:handle`, or `platform:source` for web items), `byline` (as the report names the author:
      `platform:handle`, or for web items `platform:` and their byline, else publisher, else source), `sentiment_label, sentiment_score,
      reach_estimate, reach_low, reach_high, story_id` and the model columns.
    - `brands` has one row per mention and configured brand: the columns of `earned_brand_mentions_between`
      (so the formula macros such as `brand_volume_of` take it as it is) and `this_week`. Its
      `sentiment_label` is the brand's own, as that macro's: a person's correction of the brand, else of
      the mention, else the model's label for the brand, else for the mention (NULL: unscored).
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

    def __enter__(self) -> Self:
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
        # The mentions first: the brand join then knows how few they are and hashes them, not mention_brands.
        self.connection.execute(
            f"""
            CREATE TEMP TABLE {self.mentions} AS
            SELECT
                mention_key, platform, source, url,
                -- Texts only for the report week: nothing reads the week before's, and they are most of its bytes.
                CASE WHEN mentioned_at >= $start THEN title END AS title,
                CASE WHEN mentioned_at >= $start THEN text END AS text,
                author_handle, author_name, author_followers,
                nullif(trim(publisher), '') AS publisher, extras->>'publisher_url' AS publisher_url,
                published_at, first_seen_at, mentioned_at, mentioned_at >= $start AS this_week, author,
                -- As the report names who wrote it: a web item has no handle, so its byline, else its
                -- publisher (Google News's outlet, not Google), else its source.
                CASE WHEN author_handle IS NULL
                     THEN platform || ':' || coalesce(nullif(trim(author_name), ''), nullif(trim(publisher), ''), source)
                     ELSE author END AS byline,
                sentiment_label, sentiment_score, reach_estimate, reach_low, reach_high, story_id,
                sentiment_model, lang_model, reach_model, story_model
            FROM earned_mentions_between($from, $to)
            """,
            {"from": week.previous_start, "to": week.end, "start": week.start},
        )
        self.connection.execute(
            f"""
            CREATE TEMP TABLE {self.brands} AS
            SELECT m.mention_key, b.brand, b.role, m.platform, m.mentioned_at, m.author,
                   m.reach_estimate, m.reach_low, m.reach_high,
                   -- As earned_brand_mentions_between (migration 013); m.sentiment_label is the mention's
                   -- correction, else the model's label for the mention.
                   coalesce(for_brand.label, for_mention.label, b.sentiment_label, m.sentiment_label) AS sentiment_label,
                   m.this_week
            FROM {self.mentions} AS m JOIN mention_brands AS b USING (mention_key)
            LEFT JOIN latest_sentiment_corrections AS for_brand
                ON for_brand.mention_key = m.mention_key AND for_brand.brand = b.brand
            LEFT JOIN latest_sentiment_corrections AS for_mention
                ON for_mention.mention_key = m.mention_key AND for_mention.brand IS NULL
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
