"""One way to run work in a DuckDB transaction, so that the error a caller sees is the real cause."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol


class Executes(Protocol):
    """A connection that runs SQL (a `duckdb.DuckDBPyConnection`)."""

    def execute(self, query: str, parameters: Any = None) -> Any: ...


class CommitFailed(RuntimeError):
    """COMMIT failed (for example the disk is full): nothing of the transaction was written."""


@contextmanager
def transaction(connection: Executes) -> Iterator[None]:
    """Run the block in one transaction: COMMIT when it ends, ROLLBACK when it raises.

    A failure of the block is re-raised as it is, even when the rollback fails too. A failed COMMIT
    raises `CommitFailed` naming DuckDB's reason (a disk-full COMMIT would otherwise surface as
    "cannot rollback - no transaction is active").

    Args:
        connection: the connection, outside any transaction.
    """
    connection.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        try:
            connection.execute("ROLLBACK")
        except Exception:  # noqa: BLE001 - the block's own error is the one to report
            pass
        raise
    try:
        connection.execute("COMMIT")
    except Exception as error:
        try:
            connection.execute("ROLLBACK")
        except Exception:  # noqa: BLE001 - DuckDB has usually ended the transaction already
            pass
        raise CommitFailed(f"the warehouse could not commit, so nothing of this step was written: {error}") from error
