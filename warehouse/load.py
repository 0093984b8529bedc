"""Loading a run: upsert mentions and their brands, record each source's outcome and advance the
cursors of the sources that succeeded, all in one transaction.

Loads can come twice and out of order: Airflow retries a load whose commit went through but whose
task failed later (in the snapshot publish, say), and a backfill or a late retry loads an older run
after a newer one. So:

- a run's counts are those of its first commit: each mention is counted new, and each deletion
  counted, in the attempt that made it, and a retry adds what it adds (nothing, when it loads the
  same files again);
- a mention changes only from an observation at least as recent as the one it holds (its
  `last_seen_at`): an older run's copy of it changes neither its text, engagement, brands or
  `last_seen_at`, nor marks it deleted;
- a cursor moves only forward: an older run's cursor never replaces a newer run's.

A mention seen again, by its own source or by another that shares its key (Bluesky's search and its
Jetstream stream, Reddit's search and a subreddit's listing), is refreshed with what the new sighting
knows and never with what it does not: a column it leaves unknown (NULL, or an empty list of links)
keeps the stored value, and its counts replace the stored ones count by count (`_REFRESHED_VALUES`).
The columns enrich derives from others, the reach (from the author's followers, the community's size
and the counts) and the ownership (from the author's handle), follow the new sighting only when it
knows every input the stored row knows; otherwise the stored ones stay, computed from more. So a
Jetstream post (the author's DID, no handle, no counts) after the search's copy keeps the handle, the
counts, the reach and the owner, and a Reddit post seen while its score is hidden keeps the score and
the reach it gave. The rule is the simplest that never degrades them: when the new sighting knows some
inputs better and lacks others (a grown score, the subscriber count missing), the stored reach stays,
a little stale until a sighting knows all its inputs again, rather than the reach formula living in
SQL as well as in `enrich.reach`. Sentiment and language are read from the text, which every sighting
has, and follow it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, is_dataclass
from datetime import datetime
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints
from urllib.parse import urlsplit

import duckdb
import fsspec

from core.enriched_mention import EnrichedMention
from core.staging import read_json
from core.transactions import transaction
from warehouse.connection import open_warehouse
from warehouse.daily_aggregates import mention_days, refresh_daily_aggregates
from warehouse.snapshot import publish_snapshot

# Fields of the staged row (`EnrichedMention.to_json()`) that are not columns of `mentions`, and why.
NOT_MENTION_COLUMNS = {
    "ordinal": "orders a unit's rows, so that the first sighting of a key in a run is the one loaded",
    "brands": "loaded into mention_brands, one row per brand",
}
# Columns a later sighting of the same mention leaves as they were; it refreshes all the others.
_KEPT_FROM_FIRST_SIGHTING = {
    "mention_key", "platform", "source", "native_id", "url", "published_at", "published_precision", "parent_id",
    "thread_id", "first_run_id", "first_seen_at",
}
# How a later sighting refreshes the others (`_REFRESHED_VALUES`): a value it knows replaces the stored one (a
# like count that grew, an edited text), a value it does not know keeps it. Not known is NULL, and for these
# lists and maps empty, why:
_UNKNOWN_WHEN_EMPTY = {
    "shared_links": "a source that does not read a post's links gives none (a feed's summary of a page)",
    "authors": "a source without the byline gives none (empty also says the one author is author_handle)",
    "extras": "a sighting's own are kept whole, never mixed from two platforms' answers",
}
# Merged count by count: each count the sighting reports replaces the stored one, a count it leaves out (a
# Reddit score while it is hidden, counts a source does not report) keeps it.
_MERGED_BY_NAME = {"engagement"}
# Refreshed even to NULL: scored from the text, so NULL (unscored) is what this text gives, not a value unknown.
_SCORED_FROM_THE_TEXT = {
    "sentiment_label", "sentiment_score", "sentiment_negative", "sentiment_neutral", "sentiment_positive",
    "sentiment_model", "sentiment_reason",
}
# Derived by enrich from the inputs named: refreshed together when the sighting knows every input the stored
# row knows, else kept together (`enrich.reach`; `enrich.ownership`, which reads the URL too, one every sighting has).
_DERIVED_FROM = {
    ("reach_estimate", "reach_low", "reach_high", "reach_model"): ("author_followers", "community_size", "engagement"),
    ("is_owned", "owned_by"): ("author_handle",),
}
_DUCKDB_SCALARS: dict[object, str] = {
    str: "VARCHAR", int: "BIGINT", float: "DOUBLE", bool: "BOOLEAN", datetime: "TIMESTAMPTZ",
}


def duckdb_type(python_type: object) -> str:
    """The DuckDB type that holds a staged field of this Python type.

    Args:
        python_type: a type hint of `EnrichedMention.row_types()`: a scalar, `X | None`, a Literal,
            `list[X]` or `tuple[X, ...]`, a dict (kept as JSON), or a record class (a struct of its
            dataclass fields or protocol properties).

    Returns:
        The DuckDB type, e.g. `VARCHAR[]` or `STRUCT(brand VARCHAR, ...)[]`.

    Raises:
        TypeError: for a type with no DuckDB counterpart here.
    """
    origin, arguments = get_origin(python_type), get_args(python_type)
    if origin in (Union, UnionType):
        (inner,) = [argument for argument in arguments if argument is not type(None)]
        return duckdb_type(inner)
    if origin is Literal:
        return duckdb_type(type(arguments[0]))
    if origin is dict:
        return "JSON"
    if origin in (list, tuple):
        return f"{duckdb_type(arguments[0])}[]"
    if python_type in _DUCKDB_SCALARS:
        return _DUCKDB_SCALARS[python_type]
    if isinstance(python_type, type) and (members := _record_members(python_type)):
        return "STRUCT(" + ", ".join(f"{name} {duckdb_type(kind)}" for name, kind in members.items()) + ")"
    raise TypeError(
        f"no DuckDB type for a staged field of type {python_type!r}: give it one in warehouse/load.py (duckdb_type)"
    )


def _record_members(record: type) -> dict[str, object]:
    """The typed members of a record class: a dataclass's fields, or a protocol's properties."""
    if is_dataclass(record):
        return get_type_hints(record)
    return {
        name: get_type_hints(member.fget)["return"]
        for name, member in vars(record).items()
        if isinstance(member, property) and member.fget is not None
    }


# The enriched rows as DuckDB reads them from staging, derived from the typed record enrichment writes.
STAGED_COLUMNS = {name: duckdb_type(python_type) for name, python_type in EnrichedMention.row_types().items()}
MENTION_COLUMNS = [
    *("mention_key" if name == "key" else name for name in STAGED_COLUMNS if name not in NOT_MENTION_COLUMNS),
    "first_run_id", "first_seen_at", "last_run_id", "last_seen_at",
]
_REFRESHED = [column for column in MENTION_COLUMNS if column not in _KEPT_FROM_FIRST_SIGHTING]
# The coverage and cost ledger (migration 021): the run's data interval, what the source was asked and left
# out, and its `SourceRun.quota` (`source_coverage` prices it).
_LEDGER_COLUMNS = (
    "interval_start", "interval_end", "asked", "left_out", "quota_unit", "quota_used", "quota_limit", "quota_left",
    "quota_period", "price_per_unit", "price_currency",
)
_RUN_COLUMNS = [
    "run_id", "source", "kind", "status", "items_fetched", "mentions_collected", "mentions_matched",
    "dropped_unmatched", "mentions_new", "mentions_seen_before", "mentions_deleted", "error", "warnings",
    "duration_seconds", "window_start", "window_end", *_LEDGER_COLUMNS,
]
# Counted in the attempt that made them, so they add up over the attempts of one run (a retry finds them done).
_ADDED_UP_OVER_ATTEMPTS = ("mentions_new", "mentions_deleted")
_RECORD_RUN = f"""
    INSERT INTO runs ({", ".join(_RUN_COLUMNS)}) VALUES ({", ".join("?" * len(_RUN_COLUMNS))})
    ON CONFLICT (run_id, source) DO UPDATE SET {", ".join(
        f"{column} = runs.{column} + excluded.{column}" if column in _ADDED_UP_OVER_ATTEMPTS
        else f"{column} = excluded.{column}"
        for column in _RUN_COLUMNS if column not in ("run_id", "source")
    )}
"""
_ADVANCE_CURSOR = """
    INSERT INTO source_cursors VALUES (?, ?, ?, ?)
    ON CONFLICT (source) DO UPDATE SET cursor = excluded.cursor, run_id = excluded.run_id, updated_at = excluded.updated_at
    WHERE source_cursors.updated_at <= excluded.updated_at
"""
# What fills each of MENTION_COLUMNS from a staged row (`staged`); $run_id and $seen_at are bound per load.
MENTION_VALUES = {
    column: "$run_id" if column in ("first_run_id", "last_run_id")
    else "$seen_at" if column in ("first_seen_at", "last_seen_at")
    else "staged.key" if column == "mention_key"
    else f"staged.{column}"
    for column in MENTION_COLUMNS
}
# The staged fields typed `X | None`.
_MAY_BE_NULL = {name for name, kind in EnrichedMention.row_types().items() if type(None) in get_args(kind)}


def _knows_all_of(column: str) -> str:
    """SQL that is true when the sighting (`staged`) knows every part of `column` the stored mention knows."""
    if column in _MERGED_BY_NAME:
        return f"list_has_all(coalesce(json_keys(staged.{column}), []), coalesce(json_keys(mentions.{column}), []))"
    return f"(staged.{column} IS NOT NULL OR mentions.{column} IS NULL)"


def _refreshed_value(column: str) -> str:
    """The SQL value a later sighting (`staged`) gives one of `_REFRESHED` of the stored mention (`mentions`).

    Raises:
        TypeError: a list or map column with no rule for when it is empty.
    """
    new, stored = MENTION_VALUES[column], f"mentions.{column}"
    for derived, inputs in _DERIVED_FROM.items():
        if column in derived:
            return f"CASE WHEN {' AND '.join(map(_knows_all_of, inputs))} THEN {new} ELSE {stored} END"
    if column in _MERGED_BY_NAME:
        return f"CASE WHEN {_knows_all_of(column)} THEN {new} ELSE json_merge_patch({stored}, {new}) END"
    if column in _UNKNOWN_WHEN_EMPTY:
        length = f"len(json_keys({new}))" if STAGED_COLUMNS[column] == "JSON" else f"len({new})"
        return f"CASE WHEN {length} > 0 THEN {new} ELSE {stored} END"
    if STAGED_COLUMNS.get(column, "").endswith("[]") or STAGED_COLUMNS.get(column) == "JSON":
        raise TypeError(
            f"mentions.{column} is a list or map: say in warehouse/load.py whether a sighting that leaves it empty "
            "keeps the stored value (_UNKNOWN_WHEN_EMPTY) or merges with it (_MERGED_BY_NAME)"
        )
    if column in _MAY_BE_NULL and column not in _SCORED_FROM_THE_TEXT:
        return f"coalesce({new}, {stored})"
    return new


_REFRESHED_VALUES = {column: _refreshed_value(column) for column in _REFRESHED}
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
    seen = {"run_id": run_id, "seen_at": window[1]}
    # Per source: (staged rows, new to the warehouse, in the warehouse from an earlier run than this one).
    staged_by_source = {
        source: (int(staged), int(new), int(seen_before))
        for source, staged, new, seen_before in connection.execute(
            """
            SELECT staged.source, count(*), count(*) FILTER (WHERE mentions.mention_key IS NULL),
                   count(*) FILTER (WHERE mentions.first_run_id <> $run_id)
            FROM staged LEFT JOIN mentions ON mentions.mention_key = staged.key
            GROUP BY staged.source
            """,
            {"run_id": run_id},
        ).fetchall()
    }
    # An older observation than the warehouse holds (a backfill, a late retry) changes nothing of the mention.
    connection.execute("DELETE FROM staged WHERE key IN (SELECT mention_key FROM mentions WHERE last_seen_at > $seen_at)",
                       {"seen_at": window[1]})
    days = mention_days(connection, "SELECT key FROM staged")  # where staged mentions were before this load
    # An upsert in two statements, the mentions seen again then the new ones: several times faster in
    # DuckDB than INSERT ... ON CONFLICT DO UPDATE, whose conflict checks are slow with list columns.
    connection.execute(
        f"""
        UPDATE mentions SET {", ".join(f"{c} = {value}" for c, value in _REFRESHED_VALUES.items())}
        FROM staged WHERE mentions.mention_key = staged.key
        AND ({" OR ".join(f"mentions.{c} IS DISTINCT FROM {value}" for c, value in _REFRESHED_VALUES.items())})
        """,
        seen,
    )
    connection.execute(
        f"""
        INSERT INTO mentions ({", ".join(MENTION_COLUMNS)})
        SELECT {", ".join(MENTION_VALUES.values())} FROM staged
        WHERE staged.key NOT IN (SELECT mention_key FROM mentions)
        """,
        seen,
    )
    _replace_brand_matches(connection)
    result = LoadResult(mentions_new=sum(new for _, new, _ in staged_by_source.values()))
    result.mentions_seen_again = sum(staged for staged, _, _ in staged_by_source.values()) - result.mentions_new
    for outcome in outcomes:
        deleted = _mark_deleted(connection, outcome.get("deleted_keys", []), window[1])
        result.mentions_deleted += deleted
        _, new, seen_before = staged_by_source.get(outcome["source"], (0, 0, 0))
        recorded = {**outcome, "mentions_new": new, "mentions_seen_before": seen_before, "mentions_deleted": deleted}
        connection.execute(
            _RECORD_RUN,
            [
                run_id, recorded["source"], recorded["kind"], recorded["status"], recorded["items_fetched"],
                recorded["mentions_collected"], recorded.get("mentions_matched", 0), recorded.get("dropped_unmatched", 0),
                recorded["mentions_new"], recorded["mentions_seen_before"], recorded["mentions_deleted"],
                recorded.get("error"), recorded.get("warnings", []), recorded.get("duration_seconds", 0.0),
                *_searched_window(recorded, window), *_ledger(recorded, window),
            ],
        )
        if recorded["status"] != "failed" and recorded.get("cursor") is not None:
            [(moved,)] = connection.execute(
                _ADVANCE_CURSOR, [recorded["source"], json.dumps(recorded["cursor"]), run_id, window[1]]
            ).fetchall()
            if moved:
                result.cursors_advanced.append(recorded["source"])
        result.sources.append(recorded)
    days |= mention_days(connection, "SELECT key FROM staged")
    days |= mention_days(connection, "SELECT mention_key FROM mentions WHERE deleted_at = ?", [window[1]])
    refresh_daily_aggregates(connection, days)
    connection.execute("DROP TABLE staged")
    return result


def _mark_deleted(connection: duckdb.DuckDBPyConnection, keys: list[str], when: datetime) -> int:
    """Mark the mentions a platform says are gone as deleted; returns how many were not already.

    Not those seen after `when`: a later run found them there (a removed post restored, say).
    """
    if not keys:
        return 0
    [(marked,)] = connection.execute(
        """
        UPDATE mentions SET is_deleted = true, deleted_at = $when
        WHERE mention_key IN (SELECT unnest($keys)) AND NOT is_deleted AND last_seen_at <= $when
        """,
        {"when": when, "keys": keys},
    ).fetchall()
    return int(marked)


def _replace_brand_matches(connection: duckdb.DuckDBPyConnection) -> None:
    """Make `mention_brands` say what the staged rows say, touching only the rows that differ.

    A brand's own sentiment (set when the mention names several, NULL otherwise) is updated in place
    when a later sighting scores it differently.
    """
    connection.execute(
        """
        CREATE OR REPLACE TEMP TABLE staged_brands AS
        SELECT key AS mention_key, match.brand AS brand, match.role AS role, match.terms AS matched_terms,
               match.sentiment_label AS sentiment_label, match.sentiment_score AS sentiment_score,
               match.sentiment_model AS sentiment_model
        FROM (SELECT key, unnest(brands) AS match FROM staged)
        """
    )
    connection.execute(
        """
        DELETE FROM mention_brands WHERE mention_key IN (SELECT key FROM staged)
        AND (mention_key, brand, role, matched_terms) NOT IN (SELECT mention_key, brand, role, matched_terms FROM staged_brands)
        """
    )
    connection.execute(
        """
        INSERT INTO mention_brands BY NAME
        SELECT * FROM staged_brands
        WHERE (mention_key, brand, role, matched_terms) NOT IN (SELECT mention_key, brand, role, matched_terms FROM mention_brands)
        """
    )
    connection.execute(
        """
        UPDATE mention_brands
        SET sentiment_label = s.sentiment_label, sentiment_score = s.sentiment_score, sentiment_model = s.sentiment_model
        FROM staged_brands AS s
        WHERE mention_brands.mention_key = s.mention_key AND mention_brands.brand = s.brand
          AND (mention_brands.sentiment_label IS DISTINCT FROM s.sentiment_label
               OR mention_brands.sentiment_score IS DISTINCT FROM s.sentiment_score
               OR mention_brands.sentiment_model IS DISTINCT FROM s.sentiment_model)
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


def _ledger(outcome: dict[str, Any], window: tuple[datetime, datetime]) -> tuple[Any, ...]:
    """The values of `_LEDGER_COLUMNS` for a source's outcome (`SourceRun.summary`) in a run over `window`."""
    quota = outcome.get("quota") or {}
    return (
        *window, outcome.get("asked", []), outcome.get("left_out", []),
        *(quota.get(key) for key in ("unit", "used", "limit", "left", "period", "price_per_unit", "currency")),
    )


def _searched_window(outcome: dict[str, Any], window: tuple[datetime, datetime]) -> tuple[datetime, datetime]:
    """The period a source was searched over: its own (`SourceRun.window`: a first run's backfill) or the run's."""
    own = outcome.get("window")
    if not own:
        return window
    return datetime.fromisoformat(own[0]), datetime.fromisoformat(own[1])
