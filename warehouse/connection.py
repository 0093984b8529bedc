"""Opening the warehouse: the pipeline's file for writing (waiting for DuckDB's write lock), its
committed state for reading, and the analysts' snapshot (or the file) for reading.

DuckDB lets one process open a file for writing, and while it does no other process can open it at
all. Every writer (the load, stories, care, `overheard triage`) and the reader of committed state
(`read_committed`, behind the cursors) therefore waits for the file, up to `LOCK_WAIT_SECONDS`; past
that, `WarehouseLocked` names the process that holds it and what to do.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import duckdb

from core.errors import OverheardError
from warehouse.schema import migrate
from warehouse.snapshot import open_snapshot, snapshot_path

# How long an opener waits for another process to let go of the file: a load holds it for seconds,
# an agent's action for less; two minutes is far beyond either.
LOCK_WAIT_SECONDS = 120.0
_LOCK_POLL_SECONDS = 0.25
# DuckDB 1.1+: 'IO Error: Could not set lock on file "<path>": Conflicting lock is held in <program> (PID <pid>)...'
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")

logger = logging.getLogger(__name__)


class WarehouseLocked(OverheardError):
    """Another process held the warehouse file for longer than the wait; the message names it and says what to do."""


def open_warehouse(
    path: str | Path, memory_limit: str | None = None, lock_wait_seconds: float = LOCK_WAIT_SECONDS
) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the DuckDB file for writing, with the schema up to date.

    Args:
        path: the DuckDB file.
        memory_limit: DuckDB's memory limit (e.g. "1GB"); past it, DuckDB spills to disk beside the file.
        lock_wait_seconds: how long to wait while another process has the file open.

    Raises:
        WarehouseLocked: another process still had the file open after `lock_wait_seconds`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = _connect(path, read_only=False, lock_wait_seconds=lock_wait_seconds)
    if memory_limit:
        connection.execute(f"SET memory_limit = '{memory_limit}'")
    migrate(connection)
    return connection


def read_committed(
    path: str | Path, lock_wait_seconds: float = LOCK_WAIT_SECONDS
) -> duckdb.DuckDBPyConnection | None:
    """Open the pipeline's file itself read-only: everything committed, whether or not a snapshot was published.

    For the pipeline's own reads that must not lag behind a commit (the cursors); analysts read the
    snapshot (`read_warehouse`). While it is open, writers wait for it.

    Args:
        path: the pipeline's DuckDB file.
        lock_wait_seconds: how long to wait while a writer has the file open.

    Returns:
        A read-only connection, or None when no run has created the warehouse yet.

    Raises:
        WarehouseLocked: a writer still had the file open after `lock_wait_seconds`.
    """
    path = Path(path)
    if not path.exists():
        return None
    return _connect(path, read_only=True, lock_wait_seconds=lock_wait_seconds)


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


def _connect(path: Path, read_only: bool, lock_wait_seconds: float) -> duckdb.DuckDBPyConnection:
    """`duckdb.connect`, trying again while another process holds the file's lock, up to the wait."""
    deadline = time.monotonic() + lock_wait_seconds
    waiting = False
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as error:
            if "Could not set lock" not in str(error):
                raise
            holder = _LOCK_HOLDER.search(str(error))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WarehouseLocked(_locked_message(path, holder, lock_wait_seconds)) from error
            if not waiting:
                logger.warning("%s is held by %s: waiting up to %.0f s for it", path, _holder(holder), remaining)
                waiting = True
            time.sleep(min(_LOCK_POLL_SECONDS, remaining))


def _holder(found: re.Match[str] | None) -> str:
    return f"PID {found['pid']} ({found['program']})" if found else "another process (DuckDB did not say which)"


def _locked_message(path: Path, holder: re.Match[str] | None, waited: float) -> str:
    return (
        f"the warehouse {path} is held by {_holder(holder)}, and still was after waiting {waited:.0f} s. "
        "A pipeline task or an `overheard triage` action lets go within seconds: try again once it has "
        "(an Airflow task retries by itself). If that process is stuck, or is a DuckDB session someone opened "
        f"on the pipeline's file, end it: analysts query the snapshot {snapshot_path(path)} instead."
    )
