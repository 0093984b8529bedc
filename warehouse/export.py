"""Parquet export of the mentions, for tools that do not read DuckDB (Spark, pandas, BI tools).

    overheard export --config C --to exports/ [--since 2026-11-01] [--until 2026-12-01]

Writes `mentions.parquet` (mentions that are not deleted, owned ones flagged by `is_owned`, each
with `brands` and `roles` lists) and `mention_brands.parquet` (one row per mention and brand, with
the matched terms), compressed with zstd. Each file is written beside its final name and renamed
into place, so a reader never opens half a file. Times filter on
`coalesce(published_at, first_seen_at)`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb


@dataclass(frozen=True)
class ParquetExport:
    """What `export_parquet` wrote."""

    mentions: Path
    mention_brands: Path
    rows: int


def export_parquet(
    connection: duckdb.DuckDBPyConnection, folder: str | Path, since: datetime | None = None, until: datetime | None = None
) -> ParquetExport:
    """Write the mentions (and their brands) published in [since, until) as Parquet files in `folder`.

    Args:
        connection: the warehouse (read-only is enough).
        folder: where to write; created if missing.
        since: first instant included (default: the beginning).
        until: first instant excluded (default: no end).

    Returns:
        The two files and the number of mentions written.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    selected = """
        SELECT m.* FROM mentions AS m
        WHERE NOT m.is_deleted
          AND ($since IS NULL OR coalesce(m.published_at, m.first_seen_at) >= $since)
          AND ($until IS NULL OR coalesce(m.published_at, m.first_seen_at) < $until)
    """
    window = {"since": since, "until": until}
    mentions = _write(connection, folder / "mentions.parquet", f"""
        SELECT s.*, b.brands, b.roles
        FROM ({selected}) AS s
        LEFT JOIN (SELECT mention_key, list(brand ORDER BY brand) AS brands, list(role ORDER BY brand) AS roles
                   FROM mention_brands GROUP BY mention_key) AS b USING (mention_key)
        ORDER BY coalesce(s.published_at, s.first_seen_at), s.mention_key
    """, window)
    brands = _write(connection, folder / "mention_brands.parquet", f"""
        SELECT b.* FROM mention_brands AS b WHERE b.mention_key IN (SELECT mention_key FROM ({selected}))
        ORDER BY b.mention_key, b.brand
    """, window)
    [(rows,)] = connection.execute(f"SELECT count(*) FROM read_parquet('{_quoted(mentions)}')").fetchall()
    return ParquetExport(mentions, brands, rows)


def _write(connection: duckdb.DuckDBPyConnection, target: Path, query: str, parameters: dict) -> Path:
    partial = target.with_name(f".{target.name}.partial")
    connection.execute(
        f"COPY ({query}) TO '{_quoted(partial)}' (FORMAT parquet, COMPRESSION zstd)", parameters
    )
    os.replace(partial, target)
    return target


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")
