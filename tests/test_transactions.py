"""The one transaction helper: work commits together, or not at all, and the real cause is reported."""

from __future__ import annotations

import duckdb
import pytest

from core.transactions import CommitFailed, transaction


def test_a_failing_block_writes_nothing_and_raises_its_own_error():
    connection = duckdb.connect()
    connection.execute("CREATE TABLE t (x INTEGER)")
    with pytest.raises(ZeroDivisionError):
        with transaction(connection):
            connection.execute("INSERT INTO t VALUES (1)")
            1 / 0
    with transaction(connection):
        connection.execute("INSERT INTO t VALUES (2)")
    assert connection.execute("SELECT list(x) FROM t").fetchone() == ([2],)


class _DiskFullOnCommit:
    """A connection whose COMMIT fails the way DuckDB's does when the disk is full."""

    def __init__(self):
        self.statements: list[str] = []

    def execute(self, query, parameters=None):
        self.statements.append(query)
        if query == "COMMIT":
            raise duckdb.IOException('IO Error: Could not write file "w.duckdb.wal": No space left on device')
        if query == "ROLLBACK":
            raise duckdb.TransactionException("TransactionContext Error: cannot rollback - no transaction is active")


def test_a_failed_commit_names_the_real_cause_not_the_rollback():
    connection = _DiskFullOnCommit()
    with pytest.raises(CommitFailed, match="No space left on device") as failed:
        with transaction(connection):
            connection.execute("INSERT INTO t VALUES (1)")
    assert "cannot rollback" not in str(failed.value)
    assert connection.statements == ["BEGIN TRANSACTION", "INSERT INTO t VALUES (1)", "COMMIT", "ROLLBACK"]
