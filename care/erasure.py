"""Erasing an author, for data-subject requests.

`erase_author` deletes every mention the author wrote (and its brands, categories, engagement
observations, near-duplicate index rows and daily-aggregate counts) and pseudonymises what the
care team's records keep: each erased mention's key becomes `erased:<random>` in triage items, the audit trail, alerts,
stories and sentiment corrections (which still count in the model's accuracy), the author's handle becomes `[erased author]` in notes, alert texts and spike
explanations, and alerts about an erased mention lose their text. The triage history stays
(counts and service levels still add up) but can no longer be tied to the person. One `erased`
action per mention records who erased it and when, without the handle.

Not covered: files already staged by earlier runs (`staging`), which a retention policy on that
folder removes, and copies outside the warehouse (exports, reports already sent).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime

import duckdb

from care.audit_trail import record_action
from core.transactions import transaction
from warehouse.daily_aggregates import mention_days, refresh_daily_aggregates

ERASED_AUTHOR = "[erased author]"


@dataclass(frozen=True)
class Erasure:
    """What `erase_author` did."""

    mentions_deleted: int
    triage_items_pseudonymised: int
    actions_pseudonymised: int


def erase_author(
    connection: duckdb.DuckDBPyConnection, platform: str, handle: str, actor: str, at: datetime
) -> Erasure:
    """Delete an author's mentions and pseudonymise them in the triage history, in one transaction.

    Args:
        connection: the warehouse, open for writing, outside a transaction.
        platform: the author's platform (`x`, `reddit`, `mastodon`, `bluesky`, `hackernews`, `news`, `blog`).
        handle: their handle as stored in `mentions.author_handle`, or one of the names in `mentions.authors`
            (a co-author of a page: the page is deleted); case-insensitive, with or without `@`.
        actor: who carries out the request (recorded).
        at: when.

    Returns:
        The counts.
    """
    handle = handle.removeprefix("@")
    if not handle:
        raise ValueError("give the author's handle, e.g. --handle alice")
    with transaction(connection):
        keys = [key for (key,) in connection.execute(
            """SELECT mention_key FROM mentions WHERE platform = $platform
               AND (lower(ltrim(author_handle, '@')) = lower($handle)
                    OR list_contains(list_transform(authors, lambda name: lower(ltrim(name, '@'))), lower($handle)))""",
            {"platform": platform, "handle": handle},
        ).fetchall()]
        pseudonyms = {key: f"erased:{secrets.token_hex(8)}" for key in keys}
        days = mention_days(connection, "SELECT unnest(?::VARCHAR[])", [keys])
        items = actions = 0
        for key, pseudonym in pseudonyms.items():
            items += _rename(connection, "triage_items", "mention_key", key, pseudonym)
            actions += _rename(connection, "triage_actions", "mention_key", key, pseudonym)
            _rename(connection, "helpdesk_tickets", "mention_key", key, pseudonym)
            _rename(connection, "sentiment_corrections", "mention_key", key, pseudonym)
            for column in ("story_id", "story_via"):
                _rename(connection, "mentions", column, key, pseudonym)
            connection.execute(
                "UPDATE alerts SET alert_key = replace(alert_key, ?, ?), subject = replace(subject, ?, ?), "
                "body = 'The mention of this alert was erased at its author''s request.' "
                "WHERE alert_key IN (?, ?)",
                [key, pseudonym, key, pseudonym, f"breach:{key}", f"escalation:{key}"],
            )
        for table in ("mention_brands", "mention_categories", "engagement_observations", "story_bands",
                      "mention_themes"):
            connection.execute(f"DELETE FROM {table} WHERE mention_key IN (SELECT unnest(?::VARCHAR[]))", [keys])
        # A theme's examples name mentions; its counts stay as computed until its week is recomputed.
        connection.execute(
            "UPDATE themes SET example_keys = list_filter(example_keys, lambda key: NOT list_contains(?::VARCHAR[], key)) "
            "WHERE list_has_any(example_keys, ?::VARCHAR[])",
            [keys, keys],
        )
        connection.execute("DELETE FROM mentions WHERE mention_key IN (SELECT unnest(?::VARCHAR[]))", [keys])
        refresh_daily_aggregates(connection, days)
        _scrub_texts(connection, handle)
        _scrub_spike_explanations(connection, handle, set(keys))
        for pseudonym in pseudonyms.values():
            record_action(connection, pseudonym, "erased", actor, at, {"reason": "data-subject request"})
    return Erasure(len(keys), items, actions)


def _rename(connection: duckdb.DuckDBPyConnection, table: str, column: str, key: str, pseudonym: str) -> int:
    [(renamed,)] = connection.execute(f"UPDATE {table} SET {column} = ? WHERE {column} = ?", [pseudonym, key]).fetchall()
    return renamed


def _scrub_texts(connection: duckdb.DuckDBPyConnection, handle: str) -> None:
    """Replace the handle (with or without @, any case) in notes and alert texts."""
    pattern = f"(?i)@?\\b{_regex_escape(handle)}\\b"
    connection.execute(
        "UPDATE triage_actions SET detail = regexp_replace(detail::VARCHAR, ?, ?, 'g')::JSON "
        "WHERE regexp_matches(detail::VARCHAR, ?)",
        [pattern, ERASED_AUTHOR, pattern],
    )
    connection.execute(
        "UPDATE alerts SET subject = regexp_replace(subject, ?, ?, 'g'), body = regexp_replace(body, ?, ?, 'g') "
        "WHERE regexp_matches(subject || body, ?)",
        [pattern, ERASED_AUTHOR, pattern, ERASED_AUTHOR, pattern],
    )


def _scrub_spike_explanations(connection: duckdb.DuckDBPyConnection, handle: str, keys: set[str]) -> None:
    """Drop the author's examples and contributions from spike explanations."""
    rows = connection.execute("SELECT brand, category, hour_start, explanation FROM spikes").fetchall()
    for brand, category, hour_start, explanation in rows:
        document = json.loads(explanation)
        examples = [e for e in document.get("examples", []) if e.get("mention_key") not in keys]
        authors = [a for a in document.get("authors", []) if not str(a.get("name", "")).lower().endswith(
            ":" + handle.lower())]
        if len(examples) == len(document.get("examples", [])) and len(authors) == len(document.get("authors", [])):
            continue
        document.update(examples=examples, authors=authors)
        connection.execute(
            "UPDATE spikes SET explanation = ? WHERE brand = ? AND category = ? AND hour_start = ?",
            [json.dumps(document, ensure_ascii=False), brand, category, hour_start],
        )


def _regex_escape(text: str) -> str:
    """Escape RE2 metacharacters (DuckDB's regular expressions are RE2)."""
    return "".join(f"\\{char}" if char in r".^$*+?()[]{}|\\" else char for char in text)
