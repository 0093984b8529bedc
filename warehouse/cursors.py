"""Reading the per-source cursors (they are written by `warehouse.load`, with the mentions)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from warehouse.connection import read_warehouse


def read_cursors(warehouse_path: str | Path) -> dict[str, Any]:
    """Every source's last cursor, keyed by source name; empty before the first load."""
    connection = read_warehouse(warehouse_path)
    if connection is None:
        return {}
    with connection:
        tables = {row[0] for row in connection.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if "source_cursors" not in tables:
            return {}
        return {source: json.loads(cursor) for source, cursor in connection.execute("SELECT source, cursor FROM source_cursors").fetchall()}
