"""The audit trail: every action on a triage item (`triage_actions`) and every sign-in to the desk
(`desk_sign_ins`), appended, never updated or deleted."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import duckdb

SYSTEM_ACTOR = "overheard"
"""Who acts when the pipeline routes, assigns or escalates an item."""
SIGN_IN_OUTCOMES = ("signed_in", "refused", "rate_limited", "signed_out")
"""How a sign-in attempt ended (`signed_out`: the person signed out)."""


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


@dataclass(frozen=True)
class SignIn:
    """One sign-in attempt to the desk, or a sign-out.

    Attributes:
        name: the name typed (a refused attempt's need be nobody's).
        client: the client's address.
        at: when.
        outcome: one of `SIGN_IN_OUTCOMES`.
    """

    name: str
    client: str
    at: datetime
    outcome: str


def record_sign_ins(connection: duckdb.DuckDBPyConnection, sign_ins: Sequence[SignIn]) -> None:
    """Append sign-ins to the audit trail; one recorded before is not recorded twice (its natural key).

    Args:
        connection: the warehouse, open for writing.
        sign_ins: the attempts, each with who, from where, when and how it ended (never a password).

    Raises:
        ValueError: an outcome that is not one of `SIGN_IN_OUTCOMES`.
    """
    unknown = {sign_in.outcome for sign_in in sign_ins} - set(SIGN_IN_OUTCOMES)
    if unknown:
        raise ValueError(f"unknown sign-in outcomes {sorted(unknown)}; outcomes: {', '.join(SIGN_IN_OUTCOMES)}")
    if not sign_ins:
        return
    connection.execute(
        """
        INSERT INTO desk_sign_ins (name, client, attempted_at, outcome)
        SELECT unnest($names), unnest($clients), unnest($times), unnest($outcomes)
        ON CONFLICT DO NOTHING
        """,
        {"names": [s.name for s in sign_ins], "clients": [s.client for s in sign_ins],
         "times": [s.at for s in sign_ins], "outcomes": [s.outcome for s in sign_ins]},
    )
