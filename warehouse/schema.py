"""Versioned migrations: `migrations/NNN_name.sql`, each applied once, in order, in a transaction."""

from __future__ import annotations

import re
from importlib.resources import files

import duckdb

from core.transactions import transaction
from warehouse.daily_aggregates import refresh_daily_aggregates

_MIGRATION_NAME = re.compile(r"^(\d{3})_(\w+)\.sql$")


def migrations() -> list[tuple[int, str, str]]:
    """Every migration shipped with Overheard as (version, name, sql), in order."""
    found = []
    for entry in files("warehouse.migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    return sorted(found)


def migrate(connection: duckdb.DuckDBPyConnection) -> list[int]:
    """Bring the schema up to date; safe to run any number of times.

    Returns:
        The versions applied by this call (empty when already current).
    """
    connection.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL)"
    )
    applied = {row[0] for row in connection.execute("SELECT version FROM schema_migrations").fetchall()}
    newly_applied = []
    for version, name, sql in migrations():
        if version in applied:
            continue
        with transaction(connection):
            connection.execute(sql)
            connection.execute("INSERT INTO schema_migrations VALUES (?, ?)", [version, name])
        newly_applied.append(version)
    if 6 in newly_applied:
        # 006 created the daily aggregate tables; build them for the mentions already there.
        with transaction(connection):
            refresh_daily_aggregates(connection)
    return newly_applied
