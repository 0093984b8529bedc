"""`overheard sql`: query the analysts' snapshot of the warehouse, interactively or one statement at a time.

    overheard sql --config C                   # an interactive SQL shell (Harlequin) on the snapshot, read-only
    overheard sql --config C -c "SELECT ..."   # run one statement, print its result as a table

The snapshot (`<warehouse>.read.duckdb`) is what analysts read: it can be open while the pipeline writes the
warehouse itself. Both forms open it read-only. The shell is Harlequin (a terminal SQL IDE on DuckDB's own
Python package, so it reads the files DuckDB 2.0 writes; the `duckdb-cli` package on PyPI cannot).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import duckdb

from cli.warehouse_access import NoWarehouseYet, open_for_reading
from config import Config

MAX_ROWS_PRINTED = 200
"""`-c` prints at most this many rows (and says how many there were); export with COPY for more."""


def add_sql_command(commands: argparse._SubParsersAction) -> None:
    """Add `sql` to the `overheard` parser."""
    sql = commands.add_parser("sql", help="query the warehouse snapshot: an interactive SQL shell, or -c SQL")
    sql.add_argument("--config", required=True, type=Path, help="the config file")
    sql.add_argument("-c", "--command", dest="statement", help="run this one SQL statement and print its result")


def run_sql_command(config: Config, arguments: argparse.Namespace) -> int:
    """Run one statement, or start the shell; returns the exit status."""
    try:
        connection = open_for_reading(config)
    except NoWarehouseYet as missing:
        print(missing, file=sys.stderr)
        return 1
    if arguments.statement is not None:
        with connection:
            return _run_statement(connection, arguments.statement)
    database = _database_file(connection)
    connection.close()
    return _start_shell(database)


def _run_statement(connection: duckdb.DuckDBPyConnection, statement: str) -> int:
    try:
        relation = connection.sql(statement)
    except duckdb.Error as error:
        print(f"SQL error: {error}", file=sys.stderr)
        return 1
    if relation is None:  # a statement that returns no rows (SET, PRAGMA ...)
        return 0
    shown = relation.limit(MAX_ROWS_PRINTED).to_arrow_table().to_pandas()
    print(shown.to_string(index=False) if len(shown.columns) else "")
    rows = len(shown)
    if rows == MAX_ROWS_PRINTED:
        rows = relation.aggregate("count(*)").fetchall()[0][0]
    if rows > MAX_ROWS_PRINTED:
        print(f"({rows:,} rows; the first {MAX_ROWS_PRINTED} shown: add LIMIT/OFFSET, or COPY (...) TO 'file.csv')")
    else:
        print(f"({rows:,} row{'s' if rows != 1 else ''})")
    return 0


def _database_file(connection: duckdb.DuckDBPyConnection) -> str:
    """The file a read connection is on (the snapshot is attached as the default catalog)."""
    row = connection.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    if row is None or row[0] is None:
        raise NoWarehouseYet("the warehouse connection is not on a file")
    return str(row[0])


def _start_shell(database: str) -> int:
    harlequin = shutil.which("harlequin", path=str(Path(sys.executable).parent)) or shutil.which("harlequin")
    if harlequin is None:
        print("the SQL shell (harlequin) is not installed: run `make demo` or `pip install -r requirements.txt`",
              file=sys.stderr)
        return 1
    print(f"Opening {database} read-only in Harlequin (ctrl+q quits).", file=sys.stderr)
    os.execv(harlequin, [harlequin, "--read-only", "--no-init", database])
    return 0  # not reached: execv replaces this process
