"""Opening the warehouse: the pipeline's file for writing, the analysts' snapshot (or the file) for reading."""

from __future__ import annotations

from pathlib import Path

import duckdb

from warehouse.schema import migrate
from warehouse.snapshot import open_snapshot, snapshot_path


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


def read_warehouse(path: str | Path, prefer_snapshot: bool = True) -> duckdb.DuckDBPyConnection | None:
    """Open the warehouse read-only: its published snapshot when there is one, else the file itself.

    The snapshot (`warehouse.snapshot`) can be read while a pipeline task writes; the file itself
    cannot (DuckDB refuses to open a file another process is writing, even read-only).

    Args:
        path: the pipeline's DuckDB file (`warehouse.path` in the config).
        prefer_snapshot: read `<stem>.read.duckdb` beside it when it exists; False reads the file itself.

    Returns:
        A read-only connection, or None when no run has created the warehouse yet.
    """
    path = Path(path)
    snapshot = snapshot_path(path)
    if prefer_snapshot and snapshot.exists():
        return open_snapshot(snapshot)
    if not path.exists():
        return None
    return duckdb.connect(str(path), read_only=True)
