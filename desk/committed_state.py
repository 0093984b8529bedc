"""What the desk reads: the warehouse as last committed, i.e. its published snapshot, never a half-loaded file.

Each writer of the warehouse (a pipeline task, the CLI desk, the desk's own writer) publishes a
read-only snapshot after its commit (`warehouse.snapshot`). The desk keeps one open and hands out a
cursor per request; when a newer snapshot has been published, the next request opens that one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from warehouse.snapshot import open_snapshot, snapshot_path


class NothingPublishedYet(LookupError):
    """No run has published the warehouse's snapshot yet; the message says what to run."""


@dataclass(frozen=True)
class CommittedView:
    """A cursor on one published snapshot, and when that snapshot was published.

    Attributes:
        cursor: a read-only cursor whose default catalog is the snapshot (its own connection: close it).
        published_at: when the snapshot was published; actions applied after it are not in it.
    """

    cursor: duckdb.DuckDBPyConnection
    published_at: datetime


class CommittedState:
    """The warehouse's published snapshot, reopened when a newer one is published.

    Args:
        warehouse_path: the pipeline's DuckDB file (`warehouse.path` in the config).
    """

    def __init__(self, warehouse_path: str | Path):
        self.snapshot = snapshot_path(warehouse_path)
        self._lock = threading.Lock()
        self._open: tuple[tuple[int, int, int], duckdb.DuckDBPyConnection, datetime] | None = None

    def view(self) -> CommittedView:
        """A cursor on the newest published snapshot.

        Raises:
            NothingPublishedYet: there is no snapshot yet.
        """
        try:
            identity = self._identity()
        except FileNotFoundError:
            raise NothingPublishedYet(
                f"no published warehouse at {self.snapshot}: run a collection first (make demo, or overheard run)"
            ) from None
        with self._lock:
            if self._open is None or self._open[0] != identity:
                connection = open_snapshot(self.snapshot)
                row = connection.execute("SELECT max(published_at) FROM snapshot_info").fetchone()
                published_at = row[0] if row and row[0] else datetime.fromtimestamp(0, UTC)
                # Should a newer snapshot have been published meanwhile, the next view opens it.
                self._open = (identity, connection, published_at.astimezone(UTC))
            _, connection, published_at = self._open
            cursor = connection.cursor()
        cursor.execute("USE warehouse")
        return CommittedView(cursor, published_at)

    def _identity(self) -> tuple[int, int, int]:
        status = self.snapshot.stat()
        return status.st_ino, status.st_mtime_ns, status.st_size
