"""Loading a run: upsert mentions and their brands, record each source's outcome and advance the
cursors of the sources that succeeded, all in one transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb
import fsspec

from core.staging import read_json
from core.transactions import transaction
from warehouse.connection import open_warehouse
from warehouse.daily_aggregates import mention_days, refresh_daily_aggregates
from warehouse.snapshot import publish_snapshot

# The enriched rows as DuckDB reads them from staging (see enrich.pipeline).
STAGED_COLUMNS = {
    "key": "VARCHAR",
    "ordinal": "BIGINT",
    "platform": "VARCHAR",
    "source": "VARCHAR",
    "native_id": "VARCHAR",
    "url": "VARCHAR",
    "title": "VARCHAR",
    "text": "VARCHAR",
    "author_handle": "VARCHAR",
    "author_name": "VARCHAR",
    "author_followers": "BIGINT",
    "published_at": "TIMESTAMPTZ",
    "engagement": "JSON",
    "parent_id": "VARCHAR",
    "thread_id": "VARCHAR",
    "extras": "JSON",
    "lang": "VARCHAR",
    "lang_confidence": "DOUBLE",
    "lang_model": "VARCHAR",
    "sentiment_label": "VARCHAR",
    "sentiment_score": "DOUBLE",
    "sentiment_negative": "DOUBLE",
    "sentiment_neutral": "DOUBLE",
    "sentiment_positive": "DOUBLE",
    "sentiment_model": "VARCHAR",
    "reach_estimate": "BIGINT",
    "reach_low": "BIGINT",
    "reach_high": "BIGINT",
    "reach_model": "VARCHAR",
    "is_owned": "BOOLEAN",
    "owned_by": "VARCHAR",
    "brands": "STRUCT(brand VARCHAR, role VARCHAR, terms VARCHAR[])[]",
}

# Columns a later sighting of the same mention refreshes; the rest keep their first values.
_REFRESHED = [
    "title", "text", "author_handle", "author_name", "author_followers", "engagement", "extras",
    "lang", "lang_confidence", "lang_model", "sentiment_label", "sentiment_score", "sentiment_negative",
    "sentiment_neutral", "sentiment_positive", "sentiment_model", "reach_estimate", "reach_low", "reach_high",
    "reach_model", "is_owned", "owned_by", "last_run_id", "last_seen_at",
]
MENTION_COLUMNS = [
    "mention_key", "platform", "source", "native_id", "url", "title", "text", "author_handle", "author_name",
    "author_followers", "published_at", "engagement", "parent_id", "thread_id", "extras", "lang", "lang_confidence",
    "lang_model", "sentiment_label", "sentiment_score", "sentiment_negative", "sentiment_neutral",
    "sentiment_positive", "sentiment_model", "reach_estimate", "reach_low", "reach_high", "reach_model", "is_owned",
    "owned_by", "first_run_id", "first_seen_at", "last_run_id", "last_seen_at",
]
_RUN_COLUMNS = [
    "run_id", "source", "kind", "status", "items_fetched", "mentions_collected", "mentions_matched",
    "dropped_unmatched", "mentions_new", "mentions_deleted", "error", "warnings", "duration_seconds",
    "window_start", "window_end",
]
# What fills each of MENTION_COLUMNS from a staged row; $run_id and $seen_at are bound per load.
MENTION_VALUES = ", ".join(
    "key" if column == "mention_key"
    else "$run_id" if column in ("first_run_id", "last_run_id")
    else "$seen_at" if column in ("first_seen_at", "last_seen_at")
    else column
    for column in MENTION_COLUMNS
)
# The `columns` argument of read_json for staged rows.
STAGED_JSON_COLUMNS = "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in STAGED_COLUMNS.items()) + "}"


@dataclass
class LoadResult:
    """What one load changed.

    Attributes:
        mentions_new: mentions the warehouse did not have before.
        mentions_seen_again: mentions the warehouse had already; only those whose values changed are rewritten.
        mentions_deleted: mentions marked deleted because their platform says they are gone.
        cursors_advanced: sources whose cursor moved.
        sources: each source's outcome as recorded in `runs`.
    """

    mentions_new: int = 0
    mentions_seen_again: int = 0
    mentions_deleted: int = 0
    cursors_advanced: list[str] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)


def load_run(
    warehouse_path: str | Path,
    run_id: str,
    window: tuple[datetime, datetime],
    enriched_urls: Sequence[str],
    missing_sources: Sequence[dict[str, str]] = (),
    memory_limit: str | None = None,
) -> LoadResult:
    """Load a run's enriched units into the warehouse in one transaction.

    A failure anywhere rolls everything back: no mention, run record or cursor of this run is
    kept, and loading the same staged files again gives the same warehouse as loading them once.
    After the commit, the analysts' read-only snapshot is published (`warehouse.snapshot`).

    Args:
        warehouse_path: the DuckDB file.
        run_id: the Airflow run id.
        window: the run's data interval (start, end); `end` stamps first/last seen and cursors.
        enriched_urls: the manifests written by `enrich.pipeline.enrich_unit`, in plan order.
        missing_sources: sources whose unit never reached enrichment, as
            `{"source", "kind", "error"}`; they are recorded as failed and keep their cursors.
        memory_limit: DuckDB's memory limit for the load (the config's `warehouse.memory_limit`).

    Returns:
        Counts of what changed.
    """
    manifests = [read_json(url) for url in enriched_urls]
    outcomes = [outcome for manifest in manifests for outcome in manifest["sources"]]
    outcomes += [
        {"source": m["source"], "kind": m["kind"], "status": "failed", "error": m["error"], "items_fetched": 0,
         "mentions_collected": 0, "mentions_matched": 0, "dropped_unmatched": 0, "warnings": [],
         "duration_seconds": 0.0, "cursor": None}
        for m in missing_sources
    ]
    connection = open_warehouse(warehouse_path, memory_limit)
    try:
        with transaction(connection):
            result = _load(connection, run_id, window, [m["mentions"] for m in manifests], outcomes)
        publish_snapshot(connection, warehouse_path, run_id)
    finally:
        connection.close()
    return result


def _load(
    connection: duckdb.DuckDBPyConnection,
    run_id: str,
    window: tuple[datetime, datetime],
    row_urls: list[str],
    outcomes: list[dict[str, Any]],
) -> LoadResult:
    _stage(connection, row_urls)
    days = mention_days(connection, "SELECT key FROM staged")  # where staged mentions were before this load
    new_by_source = dict(
        connection.execute(
            "SELECT source, count(*) FROM staged WHERE key NOT IN (SELECT mention_key FROM mentions) GROUP BY source"
        ).fetchall()
    )
    staged_count = connection.execute("SELECT count(*) FROM staged").fetchone()[0]
    connection.execute(
        f"""
        INSERT INTO mentions ({", ".join(MENTION_COLUMNS)})
        SELECT {MENTION_VALUES} FROM staged
        ON CONFLICT (mention_key) DO UPDATE SET {", ".join(f"{c} = excluded.{c}" for c in _REFRESHED)}
        WHERE {" OR ".join(f"mentions.{c} IS DISTINCT FROM excluded.{c}" for c in _REFRESHED)}
        """,
        {"run_id": run_id, "seen_at": window[1]},
    )
    _replace_brand_matches(connection)
    result = LoadResult(mentions_new=sum(new_by_source.values()))
    result.mentions_seen_again = staged_count - result.mentions_new
    for outcome in outcomes:
        deleted = _mark_deleted(connection, outcome.get("deleted_keys", []), window[1])
        result.mentions_deleted += deleted
        recorded = {**outcome, "mentions_new": new_by_source.get(outcome["source"], 0), "mentions_deleted": deleted}
        connection.execute(
            f"INSERT OR REPLACE INTO runs ({', '.join(_RUN_COLUMNS)}) VALUES ({', '.join('?' * len(_RUN_COLUMNS))})",
            [
                run_id, recorded["source"], recorded["kind"], recorded["status"], recorded["items_fetched"],
                recorded["mentions_collected"], recorded.get("mentions_matched", 0), recorded.get("dropped_unmatched", 0),
                recorded["mentions_new"], recorded["mentions_deleted"], recorded.get("error"),
                recorded.get("warnings", []), recorded.get("duration_seconds", 0.0), window[0], window[1],
            ],
        )
        if recorded["status"] != "failed" and recorded.get("cursor") is not None:
            connection.execute(
                "INSERT OR REPLACE INTO source_cursors VALUES (?, ?, ?, ?)",
                [recorded["source"], json.dumps(recorded["cursor"]), run_id, window[1]],
            )
            result.cursors_advanced.append(recorded["source"])
        result.sources.append(recorded)
    days |= mention_days(connection, "SELECT key FROM staged")
    days |= mention_days(connection, "SELECT mention_key FROM mentions WHERE deleted_at = ?", [window[1]])
    refresh_daily_aggregates(connection, days)
    connection.execute("DROP TABLE staged")
    return result


def _mark_deleted(connection: duckdb.DuckDBPyConnection, keys: list[str], when: datetime) -> int:
    """Mark the mentions a platform says are gone as deleted; returns how many were not already."""
    if not keys:
        return 0
    return connection.execute(
        "UPDATE mentions SET is_deleted = true, deleted_at = ? WHERE mention_key IN (SELECT unnest(?)) AND NOT is_deleted",
        [when, keys],
    ).fetchone()[0]


def _replace_brand_matches(connection: duckdb.DuckDBPyConnection) -> None:
    """Make `mention_brands` say what the staged rows say, touching only the rows that differ."""
    connection.execute(
        """
        CREATE OR REPLACE TEMP TABLE staged_brands AS
        SELECT key AS mention_key, match.brand AS brand, match.role AS role, match.terms AS matched_terms
        FROM (SELECT key, unnest(brands) AS match FROM staged)
        """
    )
    connection.execute(
        """
        DELETE FROM mention_brands WHERE mention_key IN (SELECT key FROM staged)
        AND (mention_key, brand, role, matched_terms) NOT IN (SELECT * FROM staged_brands)
        """
    )
    connection.execute(
        """
        INSERT INTO mention_brands
        SELECT * FROM staged_brands WHERE (mention_key, brand, role, matched_terms) NOT IN (SELECT * FROM mention_brands)
        """
    )
    connection.execute("DROP TABLE staged_brands")


def _stage(connection: duckdb.DuckDBPyConnection, row_urls: list[str]) -> None:
    """Read the enriched rows into a temporary table `staged`, one row per key (the first seen wins)."""
    columns = ", ".join(f"{name} {kind}" for name, kind in STAGED_COLUMNS.items())
    connection.execute(f"CREATE OR REPLACE TEMP TABLE staged ({columns}, file_index INTEGER)")
    for file_index, url in enumerate(row_urls):
        if _is_empty(url):
            continue
        location = _duckdb_location(connection, url)
        connection.execute(
            f"""
            INSERT INTO staged
            SELECT *, {file_index} FROM read_json(?, format = 'newline_delimited', columns = {STAGED_JSON_COLUMNS})
            """,
            [location],
        )
    connection.execute(
        """
        DELETE FROM staged WHERE rowid IN (
            SELECT rowid FROM (
                SELECT rowid, row_number() OVER (PARTITION BY key ORDER BY file_index, ordinal) AS position
                FROM staged
            ) WHERE position > 1
        )
        """
    )


def _duckdb_location(connection: duckdb.DuckDBPyConnection, url: str) -> str:
    """A path DuckDB can read: local paths as they are, other fsspec URLs through a registered filesystem."""
    scheme = urlsplit(url).scheme
    if scheme in ("", "file"):
        return url.removeprefix("file://")
    if not connection.filesystem_is_registered(scheme):
        connection.register_filesystem(fsspec.filesystem(scheme))
    return url


def _is_empty(url: str) -> bool:
    filesystem, path = fsspec.core.url_to_fs(url)
    return filesystem.size(path) == 0
