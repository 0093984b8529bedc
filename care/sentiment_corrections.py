"""Corrections of sentiment: a person says what a mention, or one brand in it, really feels.

A correction is checked (the mention exists, the brand is one it names, the label is one of the three,
the person is on the playbook's roster), then in one transaction: kept in `sentiment_corrections` with
what the model had said, recorded in the audit trail (`triage_actions`, action `sentiment_corrected`),
and the daily aggregates of the mention's day recomputed, so that `daily_volume`, `net_sentiment` and
`share_of_voice` count the corrected label as soon as it commits. The desk (through its action queue)
and `overheard sentiment correct` both record corrections here; an analyst may also insert a row by
SQL (docs/data-dictionary.md), which the next recomputation of the aggregates counts.

The label in force for a mention and brand is, in order: the correction of that brand, the correction
of the mention as a whole, the model's label for the brand, the model's label for the mention
(migration 013's `earned_brand_mentions_between`; `LABEL_IN_FORCE` here says the same for the desk).

    correct_sentiment(connection, "x:2117", "positive", "ana", playbook, now, via="cli", brand="Brightwave")
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from care.audit_trail import record_action
from care.desk import TriageError
from config.playbook import Playbook
from core.transactions import transaction
from warehouse.daily_aggregates import mention_days, refresh_daily_aggregates

LABELS = ("negative", "neutral", "positive")
VIA = ("desk", "cli", "sql")
AUDIT_ACTION = "sentiment_corrected"
"""The audit trail's name for a correction (`triage_actions.action`)."""

LABEL_IN_FORCE = """
    coalesce(
        (SELECT c.label FROM latest_sentiment_corrections AS c WHERE c.mention_key = {mention} AND c.brand = {brand}),
        (SELECT c.label FROM latest_sentiment_corrections AS c WHERE c.mention_key = {mention} AND c.brand IS NULL),
        (SELECT b.sentiment_label FROM mention_brands AS b WHERE b.mention_key = {mention} AND b.brand = {brand}),
        (SELECT m.sentiment_label FROM mentions AS m WHERE m.mention_key = {mention})
    )"""
"""A SQL expression: the label in force for the mention and brand given by the two SQL expressions
`{mention}` and `{brand}` (fill them with `str.format`)."""


class CorrectionRefused(TriageError):
    """A correction that cannot be recorded (no such mention, a brand it does not name, a label or person
    that is not allowed); the message says why and what would be."""


@dataclass(frozen=True)
class SentimentCorrection:
    """One correction, as kept in `sentiment_corrections`."""

    mention_key: str
    brand: str | None
    """The brand or competitor corrected; None: the mention as a whole."""
    label: str
    model_label: str | None
    """What the model had said for that brand (or the mention); None: it had left it unscored."""
    model: str | None
    corrected_by: str
    corrected_at: datetime
    via: str


@dataclass(frozen=True)
class BrandSentiment:
    """The sentiment of one brand a mention names, as the views count it."""

    brand: str
    role: str
    model_label: str | None
    """The model's label for the brand (its label for the mention when it scored the brand alone)."""
    label: str | None
    """The label in force: the latest correction, else the model's (None: unscored)."""
    corrected_by: str | None = None
    """Who made the correction in force (of this brand, else of the whole mention); None: not corrected."""
    corrected_at: datetime | None = None
    via: str | None = None


def check_correction(
    connection: duckdb.DuckDBPyConnection,
    mention_key: str,
    label: str,
    person: str,
    playbook: Playbook | None,
    brand: str | None = None,
) -> tuple[str | None, str | None]:
    """Check that a correction can be recorded, and say what the model had said.

    Args:
        connection: the warehouse (read-only is enough).
        mention_key: the mention.
        label: negative, neutral or positive.
        person: who corrects it.
        playbook: the playbook whose roster (leads, agents and admins) may correct; None: anyone may.
        brand: the brand or competitor corrected; None: the mention as a whole.

    Returns:
        The model's label for the brand (or the mention) and the model that scored it.

    Raises:
        CorrectionRefused: the message says what is wrong and what would be right.
    """
    if label not in LABELS:
        raise CorrectionRefused(f"{label!r} is not a sentiment label; labels: {', '.join(LABELS)}")
    if not person.strip():
        raise CorrectionRefused("say who corrects it: a name on the playbook's roster")
    if playbook is not None:
        allowed = list(dict.fromkeys([*playbook.roster, *playbook.admins]))
        if person not in allowed:
            raise CorrectionRefused(
                f"{person!r} cannot correct sentiment: not on the playbook's roster (its leads, agents and admins); "
                f"on it: {', '.join(allowed) or 'nobody yet'}"
            )
    row = connection.execute(
        "SELECT sentiment_label, sentiment_model FROM mentions WHERE mention_key = ? AND NOT is_deleted", [mention_key]
    ).fetchone()
    if row is None:
        raise CorrectionRefused(f"no mention {mention_key!r} in the warehouse")
    mention_label, model = row
    if brand is None:
        return mention_label, model
    named = dict(connection.execute(
        "SELECT brand, sentiment_label FROM mention_brands WHERE mention_key = ? ORDER BY brand", [mention_key]
    ).fetchall())
    if brand not in named:
        raise CorrectionRefused(
            f"{mention_key} does not name {brand!r}; it names: {', '.join(named) or 'no brand'}"
        )
    return named[brand] or mention_label, model


def correct_sentiment(
    connection: duckdb.DuckDBPyConnection,
    mention_key: str,
    label: str,
    person: str,
    playbook: Playbook | None,
    at: datetime,
    via: str,
    brand: str | None = None,
) -> SentimentCorrection:
    """Record a correction, audit it and recompute the aggregates of the mention's day, in one transaction.

    The caller publishes the snapshot afterwards (the desk's writer and the CLI do).

    Args:
        connection: the warehouse, open for writing, outside a transaction.
        mention_key: the mention.
        label: negative, neutral or positive.
        person: who corrects it (on the playbook's roster when there is a playbook).
        playbook: the playbook (None: no name is checked).
        at: when the person corrected it.
        via: desk or cli (an analyst's SQL does not come through here).
        brand: the brand or competitor corrected; None: the mention as a whole.

    Returns:
        The correction as kept.

    Raises:
        CorrectionRefused: see `check_correction`.
    """
    if via not in VIA:
        raise ValueError(f"via must be one of {', '.join(VIA)}, not {via!r}")
    with transaction(connection):
        model_label, model = check_correction(connection, mention_key, label, person, playbook, brand)
        correction = SentimentCorrection(mention_key, brand, label, model_label, model, person, at, via)
        connection.execute(
            """
            INSERT INTO sentiment_corrections
                (mention_key, brand, label, model_label, model, corrected_by, corrected_at, via, counted_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [mention_key, brand, label, model_label, model, person, at, via, at],
        )
        record_action(connection, mention_key, AUDIT_ACTION, person, at,
                      {"brand": brand, "label": label, "model_label": model_label, "via": via})
        refresh_daily_aggregates(connection, mention_days(connection, "SELECT ?", [mention_key]))
    return correction


def count_pending_corrections(connection: duckdb.DuckDBPyConnection) -> int:
    """Recompute the aggregates of the days of corrections inserted by SQL and not counted yet.

    Args:
        connection: the warehouse, open for writing, outside a transaction.

    Returns:
        How many corrections were waiting.
    """
    with transaction(connection):
        (waiting,) = connection.execute(
            "SELECT count(*) FROM sentiment_corrections WHERE counted_at IS NULL"
        ).fetchone() or (0,)
        refresh_daily_aggregates(connection, set())
    return int(waiting)


def brand_sentiments(connection: duckdb.DuckDBPyConnection, mention_key: str) -> list[BrandSentiment]:
    """Each brand the mention names with its model label, the label in force and who corrected it.

    Args:
        connection: the warehouse or its snapshot.
        mention_key: the mention.
    """
    rows = connection.execute(
        """
        SELECT b.brand, b.role, coalesce(b.sentiment_label, m.sentiment_label),
               coalesce(for_brand.label, for_mention.label, b.sentiment_label, m.sentiment_label),
               coalesce(for_brand.corrected_by, for_mention.corrected_by),
               coalesce(for_brand.corrected_at, for_mention.corrected_at),
               coalesce(for_brand.via, for_mention.via)
        FROM mention_brands AS b JOIN mentions AS m USING (mention_key)
        LEFT JOIN latest_sentiment_corrections AS for_brand
            ON for_brand.mention_key = b.mention_key AND for_brand.brand = b.brand
        LEFT JOIN latest_sentiment_corrections AS for_mention
            ON for_mention.mention_key = b.mention_key AND for_mention.brand IS NULL
        WHERE b.mention_key = ?
        ORDER BY b.role = 'competitor', b.brand
        """,
        [mention_key],
    ).fetchall()
    return [BrandSentiment(*row) for row in rows]
