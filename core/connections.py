"""A connection as collectors, reply senders and helpdesks take it: `{"login", "password", "host", "extra"}`,
resolved from Airflow (`airflow_edge.connections`). Its `extra` comes as a mapping or as JSON text."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def connection_extra(credentials: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """A connection's `extra` as a mapping (empty when it has none), or None when it is not a JSON object:
    each caller says what that means for it (an error naming the connection, or no extras)."""
    extra = credentials.get("extra") or {}
    if isinstance(extra, str):
        try:
            extra = json.loads(extra)
        except ValueError:
            return None
    return extra if isinstance(extra, Mapping) else None
