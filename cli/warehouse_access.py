"""How the commands open the warehouse: read the analysts' snapshot, or write, waiting for the lock."""

from __future__ import annotations

import time

import duckdb

from config import Config

LOCK_WAIT_SECONDS = 120


class NoWarehouseYet(LookupError):
    """No run has created the warehouse yet; the message says so."""


def open_for_reading(config: Config) -> duckdb.DuckDBPyConnection:
    """Open the warehouse read-only (its published snapshot when there is one).

    Raises:
        NoWarehouseYet: no collection has run yet.
    """
    from warehouse.connection import read_warehouse

    connection = read_warehouse(config.warehouse.path)
    if connection is None:
        raise NoWarehouseYet(f"No warehouse at {config.warehouse.path} yet: run a collection first.")
    return connection


def open_for_writing(config: Config, wait_seconds: float = LOCK_WAIT_SECONDS) -> duckdb.DuckDBPyConnection:
    """Open the warehouse for writing, waiting while a pipeline task holds DuckDB's write lock.

    DuckDB lets one process write at a time; a load holds the lock for seconds, so an agent's action
    waits for it instead of failing.
    """
    from warehouse.connection import open_warehouse

    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return open_warehouse(config.warehouse.path)
        except duckdb.IOException as error:
            if "lock" not in str(error).lower() or time.monotonic() > deadline:
                raise
            time.sleep(0.5)
