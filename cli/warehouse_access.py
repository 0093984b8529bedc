"""How the commands open the warehouse: read the analysts' snapshot, or write, waiting for the lock."""

from __future__ import annotations

import duckdb

from config import Config


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


def open_for_writing(config: Config) -> duckdb.DuckDBPyConnection:
    """Open the warehouse for writing, waiting while a pipeline task holds DuckDB's write lock.

    DuckDB lets one process write at a time; a load holds the lock for seconds, so an agent's action
    waits for it (`warehouse.connection.LOCK_WAIT_SECONDS`) instead of failing.

    Raises:
        WarehouseLocked: the lock was still held after the wait (the message names the holder).
    """
    from warehouse import connection as warehouse_connection

    return warehouse_connection.open_warehouse(
        config.warehouse.path, config.warehouse.memory_limit, warehouse_connection.LOCK_WAIT_SECONDS
    )
