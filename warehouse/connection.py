"""Opening the warehouse file."""

from __future__ import annotations

from pathlib import Path

import duckdb

from warehouse.schema import migrate


def open_warehouse(path: str | Path, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the DuckDB file for writing, with the schema up to date.

    Args:
        path: the DuckDB file.
        memory_limit: DuckDB's memory limit (e.g. "1GB"); past it, DuckDB spills to disk beside the file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(str(path))
    if memory_limit:
        connection.execute(f"SET memory_limit = '{memory_limit}'")
    migrate(connection)
    return connection


def read_warehouse(path: str | Path) -> duckdb.DuckDBPyConnection | None:
    """Open the DuckDB file read-only, or None when no run has created it yet."""
    path = Path(path)
    if not path.exists():
        return None
    return duckdb.connect(str(path), read_only=True)
