"""How often the sentiment model agrees with the people who corrected it: precision and recall per label.

Each correction in force (`latest_sentiment_corrections`: the latest per mention and brand) is one checked
label: the person's `label` is the truth, `model_label` what the model had said. A correction of a mention
the model had left unscored (`model_label` NULL) checks no prediction: it is counted apart, as unscored.
Corrections are grouped overall, per brand and per language (`mentions.lang`); a correction of a
mention as a whole belongs to the mention's brand when it names one, else to "(whole mention)".

For each label L of a group:

    precision(L) = corrections where the model said L and the person said L / corrections where the model said L
    recall(L)    = corrections where the model said L and the person said L / corrections where the person said L
    agreement    = corrections where the model said what the person said / scored corrections

each with its 95% Wilson score interval (`wilson_interval`): with a handful of corrections the interval
says how little they prove. `accuracy-v1` is this definition; the weekly report's line
"sentiment checked against N corrections: X% agreement" is `agreement` over the corrections made in the
report's week, from the same query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from enrich.sentiment_training import wilson_interval as score_interval

ACCURACY_VERSION = "accuracy-v1"
LABELS = ("negative", "neutral", "positive")
WHOLE_MENTION = "(whole mention)"
_Z_95 = 1.959963984540054

# One row per correction in force made in [since, until): its group keys, the person's and the model's label.
_CHECKED = """
    SELECT coalesce(c.brand, single.brand, $whole) AS brand, coalesce(m.lang, 'unknown') AS lang,
           c.label, c.model_label
    FROM latest_sentiment_corrections AS c
    LEFT JOIN mentions AS m USING (mention_key)
    LEFT JOIN (  -- only the corrected mentions' brands: grouping every mention's took seconds at 10 million
        SELECT mention_key, any_value(brand) AS brand FROM mention_brands
        WHERE mention_key IN (SELECT mention_key FROM latest_sentiment_corrections)
        GROUP BY mention_key HAVING count(*) = 1
    ) AS single USING (mention_key)
    WHERE ($since IS NULL OR c.corrected_at >= $since) AND ($until IS NULL OR c.corrected_at < $until)
"""


@dataclass(frozen=True)
class Proportion:
    """k of n, with its 95% Wilson score interval (None when n is 0)."""

    hits: int
    total: int

    @property
    def value(self) -> float | None:
        """hits / total, or None when there is nothing to divide."""
        return self.hits / self.total if self.total else None

    @property
    def interval(self) -> tuple[float, float] | None:
        """The 95% Wilson score interval, or None when total is 0."""
        return wilson_interval(self.hits, self.total)


@dataclass(frozen=True)
class LabelAccuracy:
    """The model's precision and recall for one label."""

    label: str
    precision: Proportion
    """Of the corrections where the model said this label, how many the person confirmed."""
    recall: Proportion
    """Of the corrections where the person said this label, how many the model had found."""


@dataclass(frozen=True)
class GroupAccuracy:
    """The model against the corrections of one group: overall, a brand or a language."""

    group: str
    """`overall`, `brand` or `lang`."""
    name: str
    """The brand or language ('' for overall)."""
    agreement: Proportion
    """Scored corrections where the model had said what the person said, of all scored corrections."""
    unscored: int
    """Corrections of mentions the model had left unscored (not in the figures)."""
    labels: tuple[LabelAccuracy, ...]


def wilson_interval(hits: int, total: int, z: float = _Z_95) -> tuple[float, float] | None:
    """The Wilson score interval of hits/total (95% with the default z), or None when total is 0.

    Args:
        hits: successes.
        total: trials.
        z: the normal quantile (1.96 for 95%).
    """
    return score_interval(hits, total, z) if total > 0 else None


def sentiment_accuracy(
    connection: duckdb.DuckDBPyConnection, since: datetime | None = None, until: datetime | None = None
) -> list[GroupAccuracy]:
    """The model's precision and recall per label against the corrections, overall, per brand and per language.

    Args:
        connection: the warehouse or its snapshot.
        since: only corrections made at or after this time (None: all).
        until: only corrections made before this time (None: all).

    Returns:
        The overall figures first, then each brand, then each language, by name.
    """
    rows = connection.execute(
        f"""
        WITH checked AS ({_CHECKED}),
        grouped AS (
            SELECT 'overall' AS kind, '' AS name, label, model_label FROM checked
            UNION ALL SELECT 'brand', brand, label, model_label FROM checked
            UNION ALL SELECT 'lang', lang, label, model_label FROM checked
        ),
        labels AS (SELECT unnest($labels::VARCHAR[]) AS l)
        SELECT g.kind, g.name, l.l,
               count(*) FILTER (WHERE g.model_label = l.l AND g.label = l.l) AS hits,
               count(*) FILTER (WHERE g.model_label = l.l) AS predicted,
               count(*) FILTER (WHERE g.model_label IS NOT NULL AND g.label = l.l) AS actual,
               count(*) FILTER (WHERE g.model_label IS NOT NULL AND g.model_label = g.label) AS agreed,
               count(*) FILTER (WHERE g.model_label IS NOT NULL) AS scored,
               count(*) FILTER (WHERE g.model_label IS NULL) AS unscored
        FROM grouped AS g CROSS JOIN labels AS l
        GROUP BY g.kind, g.name, l.l
        ORDER BY CASE g.kind WHEN 'overall' THEN 0 WHEN 'brand' THEN 1 ELSE 2 END, g.name, l.l
        """,
        {"since": since, "until": until, "whole": WHOLE_MENTION, "labels": list(LABELS)},
    ).fetchall()
    groups: dict[tuple[str, str], list[tuple]] = {}
    for row in rows:
        groups.setdefault((row[0], row[1]), []).append(row)
    return [
        GroupAccuracy(
            group=grouping, name=name, agreement=Proportion(members[0][6], members[0][7]), unscored=members[0][8],
            labels=tuple(LabelAccuracy(label, Proportion(hits, predicted), Proportion(hits, actual))
                         for _, _, label, hits, predicted, actual, *_ in members),
        )
        for (grouping, name), members in groups.items()
    ]


def sentiment_agreement(
    connection: duckdb.DuckDBPyConnection, since: datetime | None = None, until: datetime | None = None
) -> GroupAccuracy | None:
    """The overall figures of `sentiment_accuracy` (None: no correction in the period)."""
    overall = [group for group in sentiment_accuracy(connection, since, until) if group.group == "overall"]
    return overall[0] if overall else None
