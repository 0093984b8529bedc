"""The triage audit trail: every action on a triage item, appended to `triage_actions`, never updated or deleted."""

from __future__ import annotations

import json
from datetime import datetime

import duckdb

SYSTEM_ACTOR = "overheard"
"""Who acts when the pipeline routes, assigns or escalates an item."""


def record_action(
    connection: duckdb.DuckDBPyConnection, mention_key: str, action: str, actor: str, at: datetime, detail: dict
) -> None:
    """Append one action to the audit trail.

    Args:
        connection: the warehouse, open for writing (inside the caller's transaction).
        mention_key: the item.
        action: what was done (`routed`, `claimed`, `note`, ... see the data dictionary).
        actor: who did it.
        at: when.
        detail: what, as JSON (times are written as strings).
    """
    connection.execute(
        "INSERT INTO triage_actions (mention_key, action, actor, acted_at, detail) VALUES (?, ?, ?, ?, ?)",
        [mention_key, action, actor, at, json.dumps(detail, default=str)],
    )
