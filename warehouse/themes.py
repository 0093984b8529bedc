"""Each week's themes per brand (`themes`, `mention_themes`; migration 018), computed from the warehouse.

For one ISO week: the earned mentions of each brand and competitor (`earned_brand_mentions_between`, in
mention-key order) are grouped by `enrich.themes.find_themes` (themes-v1), with every brand name of the
week left out of the features. Each theme is counted (mentions, distinct authors, potential reach, the
brand's own sentiment labels, corrections first), given its three most typical posts as examples, and
matched with the brand's themes of the week before (`enrich.themes.match_themes`: by their phrases), so
that it is `new` (no match), `growing` or `shrinking` (a two-sided binomial test of its mentions against
the matched theme's, p < `CHANGE_P_VALUE`), or `steady`. A week's rows are replaced in one transaction;
the same mentions give the same rows.

The pipeline recomputes the weeks a run touched (`run_weeks`: the weeks of the mentions it loaded or saw
again) after its stories; `overheard themes` recomputes chosen weeks, oldest first, since each week is
compared with the one before as it is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import duckdb
from scipy.stats import binomtest

from core.transactions import transaction
from enrich.themes import THEMES_MODEL, Theme, find_themes, match_themes

EXAMPLES = 3
CHANGE_P_VALUE = 0.05


@dataclass(frozen=True)
class ThemeWeek:
    """An ISO week in the configured time zone: its label (e.g. "2026-W45") and its UTC bounds [start, end)."""

    label: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class _BrandMention:
    mention_key: str
    role: str
    author: str
    reach: int
    sentiment_label: str | None
    text: str


def run_weeks(
    connection: duckdb.DuckDBPyConnection, run_id: str, timezone: str, since: datetime | None = None
) -> list[ThemeWeek]:
    """The weeks of the mentions a run loaded or saw again (their `last_run_id`), oldest first.

    Args:
        connection: the warehouse.
        run_id: the run.
        timezone: the configured IANA time zone the weeks are in.
        since: also the weeks of the mentions of every run whose window ended after this instant (the care
            fast lane's runs since the hourly run's window started, which compute no themes themselves).
    """
    rows = connection.execute(
        """
        WITH mondays AS (
            SELECT DISTINCT period_day(coalesce(published_at, first_seen_at), 'week', $zone) AS monday
            FROM mentions
            WHERE last_run_id = $run_id
               OR last_run_id IN (SELECT run_id FROM runs WHERE $since IS NOT NULL AND window_end > $since)
        )
        SELECT strftime(monday, '%G-W%V'), timezone($zone, CAST(monday AS TIMESTAMP)),
               timezone($zone, CAST(monday + INTERVAL 7 DAY AS TIMESTAMP))
        FROM mondays ORDER BY monday
        """,
        {"run_id": run_id, "zone": timezone, "since": since},
    ).fetchall()
    return [ThemeWeek(label, start, end) for label, start, end in rows]


def refresh_themes(connection: duckdb.DuckDBPyConnection, weeks: Sequence[ThemeWeek]) -> int:
    """Recompute the themes of each week, oldest first, each in its own transaction.

    Args:
        connection: the warehouse, outside any transaction.
        weeks: the weeks.

    Returns:
        How many themes the weeks have now.
    """
    return sum(refresh_week_themes(connection, week) for week in sorted(weeks, key=lambda week: week.start))


def refresh_week_themes(connection: duckdb.DuckDBPyConnection, week: ThemeWeek) -> int:
    """Recompute one week's themes of every brand and competitor: replace its rows of `themes` and
    `mention_themes`.

    Args:
        connection: the warehouse, outside any transaction.
        week: the week.

    Returns:
        How many themes the week has now.
    """
    per_brand = _week_mentions(connection, week)
    brand_words = sorted(per_brand)
    theme_rows: list[list[object]] = []
    members: dict[str, list[object]] = {"mention_key": [], "brand": [], "theme_id": [], "similarity": []}
    for brand in sorted(per_brand):
        mentions = per_brand[brand]
        themes = find_themes([mention.text for mention in mentions], brand_words=brand_words)
        earlier = _themes_before(connection, week, brand)
        matches = match_themes(
            [(theme.phrases, theme.weights) for theme in themes],
            [(phrases, weights) for _, _, _, phrases, weights in earlier],
        )
        for rank, (theme, match) in enumerate(zip(themes, matches, strict=True), start=1):
            theme_id = f"{week.label}/{brand}/{rank}"
            previous = earlier[match] if match is not None else None
            theme_rows.append(_theme_row(theme_id, week, brand, rank, theme, mentions, previous))
            members["mention_key"] += [mentions[position].mention_key for position in theme.members]
            members["brand"] += [brand] * len(theme.members)
            members["theme_id"] += [theme_id] * len(theme.members)
            members["similarity"] += list(theme.similarities)
    with transaction(connection):
        connection.execute("DELETE FROM mention_themes WHERE week = ?", [week.label])
        connection.execute("DELETE FROM themes WHERE week = ?", [week.label])
        if theme_rows:
            connection.executemany(
                f"INSERT INTO themes VALUES ({', '.join('?' * len(theme_rows[0]))})", theme_rows
            )
            connection.execute(
                """INSERT INTO mention_themes
                   SELECT unnest($keys), unnest($brands), $week, unnest($themes), unnest($similarities)""",
                {"keys": members["mention_key"], "brands": members["brand"], "week": week.label,
                 "themes": members["theme_id"], "similarities": members["similarity"]},
            )
    return len(theme_rows)


def _week_mentions(connection: duckdb.DuckDBPyConnection, week: ThemeWeek) -> dict[str, list[_BrandMention]]:
    """Each brand's earned mentions in the week, in mention-key order."""
    rows = connection.execute(
        """
        SELECT b.brand, b.mention_key, b.role, b.author, coalesce(b.reach_estimate, 0), b.sentiment_label,
               concat_ws('. ', m.title, m.text)
        FROM earned_brand_mentions_between($start, $end) AS b JOIN mentions AS m USING (mention_key)
        ORDER BY b.brand, b.mention_key
        """,
        {"start": week.start, "end": week.end},
    ).fetchall()
    per_brand: dict[str, list[_BrandMention]] = {}
    for brand, key, role, author, reach, label, text in rows:
        per_brand.setdefault(brand, []).append(_BrandMention(key, role, author, int(reach), label, text or ""))
    return per_brand


def _themes_before(
    connection: duckdb.DuckDBPyConnection, week: ThemeWeek, brand: str,
) -> list[tuple[str, int, str, list[str], list[float]]]:
    """The brand's themes of the week that ends where this one starts: (theme_id, mentions, first_week,
    phrases, phrase_weights), by rank."""
    rows = connection.execute(
        """SELECT theme_id, mentions, first_week, phrases, phrase_weights FROM themes
           WHERE brand = ? AND week_end = ? ORDER BY rank""",
        [brand, week.start],
    ).fetchall()
    return [(theme_id, mentions, first, list(phrases), list(weights)) for theme_id, mentions, first, phrases, weights in rows]


def _theme_row(
    theme_id: str, week: ThemeWeek, brand: str, rank: int, theme: Theme, mentions: list[_BrandMention],
    previous: tuple[str, int, str, list[str], list[float]] | None,
) -> list[object]:
    """A row of `themes`, in its column order."""
    own = [mentions[position] for position in theme.members]
    labels = [mention.sentiment_label for mention in own]
    previous_id, previous_mentions, first_week = (previous[0], previous[1], previous[2]) if previous else (None, 0, week.label)
    return [
        theme_id, week.label, week.start, week.end, brand, own[0].role, rank, theme.label, list(theme.phrases),
        list(theme.weights), [mention.mention_key for mention in own[:EXAMPLES]],
        len(own), len(mentions), len({mention.author for mention in own}), sum(mention.reach for mention in own),
        labels.count("positive"), labels.count("neutral"), labels.count("negative"), labels.count(None),
        previous_id, previous_mentions, first_week, _status(len(own), previous_mentions if previous else None),
        THEMES_MODEL,
    ]


def _status(mentions: int, previous_mentions: int | None) -> str:
    """new, growing, shrinking or steady: the change counts only when a binomial test says it is beyond chance."""
    if previous_mentions is None:
        return "new"
    test = binomtest(mentions, mentions + previous_mentions, 0.5)
    if test.pvalue >= CHANGE_P_VALUE:
        return "steady"
    return "growing" if mentions > previous_mentions else "shrinking"
