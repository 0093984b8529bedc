"""Benchmark: publishing the analysts' snapshot (`warehouse.snapshot.publish_snapshot`), and what a reader sees.

For each size (default 100,000 and 1,000,000 synthetic mentions, each with one or two brand rows) it
builds a warehouse with DuckDB SQL, then, holding the write connection as a pipeline task does:

    publish   `publish_snapshot` (CHECKPOINT, copy the file's bytes in a child process, add `snapshot_info`,
              fsync, rename), `--repeat` times;
    db copy   the alternative: ATTACH a new file, COPY FROM DATABASE, add `snapshot_info`, fsync, rename;
              the same tables for readers, rebuilt rather than copied; timed for comparison only;
    reader    a separate process opens the snapshot with `warehouse.connection.read_warehouse` and runs
              count(*) of mentions and a brand join, in a loop: its latency for `--seconds` with the writer
              idle, then for `--seconds` while the writer publishes back to back.

It prints a table per size and, last, one line per size:
`mentions=<n> publish_s=<median> db_copy_s=<median> warehouse_mb=<..> snapshot_mb=<..>
reader_p50_ms_idle=<..> reader_p50_ms_publishing=<..> reader_max_ms_publishing=<..> reader_errors=<n>`.

Usage:
    .venv/bin/python bench/snapshot_publish.py                              # 100k and 1M, about 1 min
    .venv/bin/python bench/snapshot_publish.py --mentions 20000 --repeat 1 --seconds 1  # smoke check
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from warehouse.connection import open_warehouse, read_warehouse  # noqa: E402
from warehouse.snapshot import SNAPSHOT_INFO_COLUMNS, publish_snapshot, snapshot_path  # noqa: E402

READER_QUERIES = (
    "SELECT count(*) FROM mentions",
    """SELECT b.brand, count(*), sum(m.reach_estimate) FROM earned_mentions AS m
       JOIN mention_brands AS b USING (mention_key) GROUP BY b.brand ORDER BY b.brand""",
)

# n synthetic mentions: every NOT NULL column filled, texts of ~20 words, 5,000 authors, 2 months.
_MENTIONS_SQL = """
INSERT INTO mentions (mention_key, platform, source, native_id, url, title, text, author_handle, author_name,
    author_followers, published_at, engagement, lang, sentiment_label, sentiment_score, reach_estimate, reach_model,
    is_owned, first_run_id, first_seen_at, last_run_id, last_seen_at)
SELECT
    'https://news' || (i % 50) || '.example/' || i AS mention_key,
    CASE WHEN i % 3 = 0 THEN 'x' ELSE 'news' END,
    'feed-' || (i % 26),
    i::VARCHAR,
    'https://news' || (i % 50) || '.example/' || i || '?utm_source=rss',
    'Brightwave headline ' || i,
    'Brightwave ' || array_to_string([words[1 + (hash(i * 31 + k) % len(words))::INTEGER] FOR k IN range(20)], ' '),
    'author' || (i % 5000),
    'Author ' || (i % 5000),
    (hash(i) % 100000)::BIGINT,
    TIMESTAMPTZ '2026-09-01 00:00:00+00' + INTERVAL (i % 86400 * 60) SECOND,
    json_object('likes', i % 97, 'reposts', i % 13),
    'en',
    ['negative', 'neutral', 'positive'][1 + i % 3],
    ((i % 201) - 100) / 100,
    (hash(i) % 100000)::BIGINT,
    'reach-v2',
    i % 100 = 0,
    'run-' || (i // 10000),
    TIMESTAMPTZ '2026-09-01 00:00:00+00' + INTERVAL (i // 10000) HOUR,
    'run-' || (i // 10000),
    TIMESTAMPTZ '2026-09-01 00:00:00+00' + INTERVAL (i // 10000) HOUR
FROM range($n) AS t(i), (SELECT string_split($words, ' ') AS words)
"""
_BRANDS_SQL = """
INSERT INTO mention_brands (mention_key, brand, role, matched_terms)
SELECT mention_key, brand, role, [brand] FROM (
    SELECT mention_key, 'Brightwave' AS brand, 'brand' AS role FROM mentions
    UNION ALL
    SELECT mention_key, 'Tidewell', 'competitor' FROM mentions WHERE hash(mention_key) % 5 = 0
)
"""
_WORDS = (
    "the new update broke my router again and support says a fix ships next week fibre speed is great when it "
    "works but billing page still shows last month's charge customer service kept me on hold for forty minutes "
    "love the app redesign outage in my area since monday slow upload latency price rise contract ends switching"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--mentions", type=int, nargs="+", default=[100_000, 1_000_000], help="warehouse sizes (default 100000 1000000)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed publishes per method and size (default 3)")
    parser.add_argument(
        "--seconds", type=float, default=5.0, help="seconds of reader queries with the writer idle, then publishing"
    )
    parser.add_argument("--reader", metavar="WAREHOUSE", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.reader:
        read_in_a_loop(Path(arguments.reader))
        return
    print(f"overheard snapshot benchmark: DuckDB {duckdb.__version__}, {os.cpu_count()} cores")
    summaries = []
    with tempfile.TemporaryDirectory(prefix="overheard-snapshot-bench-") as workdir:
        for mentions in arguments.mentions:
            summaries.append(run_size(Path(workdir) / f"w{mentions}" / "overheard.duckdb", mentions, arguments))
    print()
    for summary in summaries:
        print(" ".join(f"{name}={value}" for name, value in summary.items()))


def run_size(warehouse: Path, mentions: int, arguments: argparse.Namespace) -> dict[str, object]:
    """Build a warehouse of `mentions`, time both ways of publishing it, and a reader during publishes."""
    connection = open_warehouse(warehouse, memory_limit="1GB")
    started = time.perf_counter()
    connection.execute(_MENTIONS_SQL, {"n": mentions, "words": _WORDS})
    connection.execute(_BRANDS_SQL)
    connection.execute("CHECKPOINT")
    [(brand_rows,)] = connection.execute("SELECT count(*) FROM mention_brands").fetchall()
    print(f"\n{mentions:,} mentions, {brand_rows:,} brand rows: built in {time.perf_counter() - started:.1f} s")

    publish = [_timed(lambda: publish_snapshot(connection, warehouse, "bench")) for _ in range(arguments.repeat)]
    db_copy = [_timed(lambda: publish_by_database_copy(connection, warehouse)) for _ in range(arguments.repeat)]
    publish_snapshot(connection, warehouse, "bench")
    snapshot = snapshot_path(warehouse)
    with _read(warehouse) as snapshot_reader:
        assert snapshot_reader.execute("SELECT count(*) FROM mentions").fetchall() == [(mentions,)]

    reader = subprocess.Popen(
        [sys.executable, __file__, "--reader", str(warehouse)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert reader.stdout is not None  # stdout=PIPE
    reader.stdout.readline()  # "ready": it has opened the snapshot once
    time.sleep(arguments.seconds)
    publishing_from = time.time()
    during = []
    while time.time() < publishing_from + arguments.seconds:
        during.append(_timed(lambda: publish_snapshot(connection, warehouse, "bench")))
    publishing_until = time.time()
    output, _ = reader.communicate()  # closes its stdin: it prints its samples and exits
    samples = json.loads(output)
    connection.close()

    idle = [ms for at, ms in samples["latencies"] if at < publishing_from]
    busy = [ms for at, ms in samples["latencies"] if publishing_from <= at < publishing_until]
    print(f"{'method':<10} {'seconds per publish':<32} {'median':>8}")
    print(f"{'publish':<10} {', '.join(f'{s:.2f}' for s in publish):<32} {statistics.median(publish):>8.2f}")
    print(f"{'db copy':<10} {', '.join(f'{s:.2f}' for s in db_copy):<32} {statistics.median(db_copy):>8.2f}")
    print(f"publishes while the reader ran: {len(during)}, median {statistics.median(during):.2f} s")
    print(f"warehouse {_mb(warehouse):.0f} MB, snapshot {_mb(snapshot):.0f} MB")
    print(f"{'reader (open + 2 queries + close)':<36} {'queries':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name, latencies in (("writer idle", idle), ("writer publishing", busy)):
        print(
            f"{name:<36} {len(latencies):>8} {_percentile(latencies, 50):>8.1f} {_percentile(latencies, 95):>8.1f} "
            f"{max(latencies):>8.1f}"
        )
    print(f"reader errors: {len(samples['errors'])} {samples['errors'][:3]}")
    return {
        "mentions": mentions,
        "publish_s": f"{statistics.median(publish):.2f}",
        "db_copy_s": f"{statistics.median(db_copy):.2f}",
        "warehouse_mb": f"{_mb(warehouse):.0f}",
        "snapshot_mb": f"{_mb(snapshot):.0f}",
        "reader_p50_ms_idle": f"{_percentile(idle, 50):.1f}",
        "reader_p50_ms_publishing": f"{_percentile(busy, 50):.1f}",
        "reader_max_ms_publishing": f"{max(busy):.1f}",
        "reader_errors": len(samples["errors"]),
    }


def publish_by_database_copy(connection: duckdb.DuckDBPyConnection, warehouse: Path) -> None:
    """The alternative: ATTACH a new file, COPY FROM DATABASE into it, add snapshot_info, fsync, rename."""
    target = snapshot_path(warehouse)
    copying = target.with_name(target.name + ".copying")
    [(source,)] = connection.execute("SELECT current_database()").fetchall()
    connection.execute(f"ATTACH '{copying}' AS copied")
    connection.execute("BEGIN TRANSACTION")
    connection.execute(f'COPY FROM DATABASE "{source}" TO copied')
    connection.execute(f"CREATE TABLE copied.snapshot_info ({SNAPSHOT_INFO_COLUMNS})")
    connection.execute("INSERT INTO copied.snapshot_info VALUES (now(), 'bench')")
    connection.execute("COMMIT")
    connection.execute("DETACH copied")
    descriptor = os.open(copying, os.O_RDONLY)
    os.fsync(descriptor)
    os.close(descriptor)
    os.replace(copying, target)


def read_in_a_loop(warehouse: Path) -> None:
    """The reader process: open, query, close, until stdin closes; then print latencies and errors as JSON."""
    stop = threading.Event()

    def stop_when_stdin_closes() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=stop_when_stdin_closes, daemon=True).start()
    latencies: list[tuple[float, float]] = []
    errors: list[str] = []
    print("ready", flush=True)
    while not stop.is_set():
        started_at, started = time.time(), time.perf_counter()
        try:
            with _read(warehouse) as connection:
                for query in READER_QUERIES:
                    connection.execute(query).fetchall()
        except duckdb.Error as error:
            errors.append(str(error))
            continue
        latencies.append((started_at, (time.perf_counter() - started) * 1000))
    print(json.dumps({"latencies": latencies, "errors": errors}))


def _read(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """The warehouse as an analyst opens it: its snapshot, published before any reader starts."""
    connection = read_warehouse(warehouse)
    if connection is None:
        raise FileNotFoundError(f"no warehouse at {warehouse}: build and publish one first")
    return connection


def _timed(step: Callable[[], object]) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def _percentile(values: list[float], percent: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(percent / 100 * (len(ordered) - 1)))]


def _mb(path: Path) -> float:
    return path.stat().st_size / 1e6


if __name__ == "__main__":
    main()
