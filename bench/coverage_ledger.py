"""Benchmark: the coverage and cost ledger and source health on a year of hourly runs.

Builds a warehouse (the current migrations) whose `runs` hold `--weeks` weeks of hourly runs of `--sources`
sources (52 and 20 by default: 174,720 runs, as `bench/report_render.py` builds): one in 50 failed, one in 7
empty, the rest ok with 20 items seen and 10 matched; a third of the sources metered and priced like X (posts
read against a monthly budget, at a price), each with its asked and left-out lines. The last 4 weeks of one
source see their usual volume but match nothing, so `not matching` has a streak to find. Then it times, `--repeat`
times after a warm-up, median shown:

    source_health             the view over every run (the run summary's "Connector health" reads it)
    source_health (008)       the same view with migration 008's macro, before `not matching`, for comparison
    source_health_between     one week (what the weekly report's source health reads)
    source_coverage           the ledger view in full
    run_summary               the whole run summary of the latest run (ledger lines included)
    week_listening            the weekly report's "What we listened to" for the last week

The last line is `runs=<n> source_health_s=<x> source_health_008_s=<y> source_coverage_s=<z> run_summary_s=<u>
week_listening_s=<v>`.

Usage:
    .venv/bin/python bench/coverage_ledger.py                           # about 15 s
    .venv/bin/python bench/coverage_ledger.py --weeks 4 --repeat 1      # smoke check
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reports.coverage import week_coverage
from reports.listening import week_listening
from reports.weeks import report_week
from warehouse.connection import open_warehouse, read_warehouse
from warehouse.summary import latest_run_id, run_summary

MIGRATIONS = Path(__file__).resolve().parents[1] / "warehouse" / "migrations"
YEAR_START = "2026-01-05 00:00:00+00"  # a Monday


def main() -> None:
    """Build the runs, time each query, print one line per query, then the summary line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--sources", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ledger.duckdb"
        writer = open_warehouse(path)
        build_runs(writer, arguments.weeks, arguments.sources)
        writer.execute(_macro_of_008())
        writer.execute("""
            CREATE VIEW source_health_008 AS
            SELECT source, kind, last_status, last_error, last_run_at, runs, consecutive_failures,
                   consecutive_zero_runs, has_produced, last_matched_at, health
            FROM source_health_between_008(TIMESTAMPTZ '-infinity', TIMESTAMPTZ 'infinity')
        """)
        [(runs,)] = writer.execute("SELECT count(*) FROM runs").fetchall()
        flagged = writer.execute("SELECT source, health FROM source_health WHERE health <> 'healthy'").fetchall()
        print(f"runs={runs:,} flagged={flagged}")
        writer.close()

        run_id = latest_run_id(path)
        connection = read_warehouse(path)
        if connection is None:
            raise SystemExit(f"{path} was not written")
        week = report_week(_last_week(connection), "UTC")
        configured = [f"feed-{n:02d}" for n in range(arguments.sources)]
        timed: dict[str, float] = {}

        def measure(name: str, work: Callable[[], object]) -> None:
            seconds = []
            for attempt in range(arguments.repeat + 1):
                started = time.perf_counter()
                work()
                if attempt:  # the first run warms the buffer cache
                    seconds.append(time.perf_counter() - started)
            timed[name] = statistics.median(seconds)
            print(f"{name:<24} {timed[name]:>7.3f} s  (runs: {', '.join(f'{s:.3f}' for s in seconds)})")

        def whole(query: str) -> Callable[[], object]:
            return lambda: connection.execute(f"CREATE OR REPLACE TEMP TABLE measured AS {query}")

        measure("source_health", whole("SELECT * FROM source_health"))
        measure("source_health (008)", whole("SELECT * FROM source_health_008"))
        measure("source_health_between", lambda: connection.execute(
            "CREATE OR REPLACE TEMP TABLE measured AS SELECT * FROM source_health_between(?, ?)", [week.start, week.end]))
        measure("source_coverage", whole("SELECT * FROM source_coverage"))
        measure("run_summary", lambda: run_summary(path, run_id, alert_channels=[]))
        measure("week_listening", lambda: week_listening(connection, week, week_coverage(connection, week, configured)))
        connection.close()
    print(
        f"runs={runs} source_health_s={timed['source_health']:.3f} "
        f"source_health_008_s={timed['source_health (008)']:.3f} source_coverage_s={timed['source_coverage']:.3f} "
        f"run_summary_s={timed['run_summary']:.3f} week_listening_s={timed['week_listening']:.3f}"
    )


def build_runs(connection: duckdb.DuckDBPyConnection, weeks: int, sources: int) -> None:
    """Hourly runs of every source for `weeks` weeks, with the ledger filled (see the module's docstring)."""
    hash_of = "hash(hour * 100 + feed)"
    last_month = (weeks - 4) * 168
    connection.execute(f"""
        INSERT INTO runs (run_id, source, kind, status, items_fetched, mentions_collected, mentions_matched,
            dropped_unmatched, mentions_new, error, warnings, duration_seconds, window_start, window_end,
            interval_start, interval_end, asked, left_out, quota_unit, quota_used, quota_limit, quota_left,
            quota_period, price_per_unit, price_currency)
        WITH slots AS (
            SELECT hour, feed, {hash_of} AS h, feed % 3 = 0 AS metered,
                   feed = 1 AND hour >= {last_month} AS stopped_matching
            FROM range({weeks * 168}) AS hours(hour), range({sources}) AS feeds(feed)
        ),
        outcomes AS (
            SELECT *, CASE WHEN h % 50 = 0 THEN 'failed' WHEN h % 7 = 0 AND NOT stopped_matching THEN 'empty'
                           ELSE 'ok' END AS status
            FROM slots
        )
        SELECT 'scheduled__' || hour, 'feed-' || lpad(CAST(feed AS VARCHAR), 2, '0'),
               CASE WHEN metered THEN 'x' ELSE 'rss' END, status,
               CASE WHEN status = 'ok' THEN 20 ELSE 0 END, CASE WHEN status = 'ok' THEN 12 ELSE 0 END,
               CASE WHEN status = 'ok' AND NOT stopped_matching THEN 10 ELSE 0 END, 2, 8,
               CASE WHEN status = 'failed' THEN 'HTTP 503' END, [], 1.5,
               TIMESTAMPTZ '{YEAR_START}' + to_hours(hour), TIMESTAMPTZ '{YEAR_START}' + to_hours(hour + 1),
               TIMESTAMPTZ '{YEAR_START}' + to_hours(hour), TIMESTAMPTZ '{YEAR_START}' + to_hours(hour + 1),
               ['search: (Brightwave OR #brightwave) -is:retweet', 'r/UKBroadband: the brands'' searches'],
               CASE WHEN h % 11 = 0 THEN ['r/private: HTTP 403 (Forbidden); it was skipped'] ELSE [] END,
               CASE WHEN metered THEN 'posts read' END, CASE WHEN metered THEN 20 END,
               CASE WHEN metered THEN 20000 END, CASE WHEN metered THEN 20000 - 20 * (hour % 720) END,
               CASE WHEN metered THEN 'month' END, CASE WHEN metered THEN 0.005 END,
               CASE WHEN metered THEN 'USD' END
        FROM outcomes
    """)


def _macro_of_008() -> str:
    """Migration 008's `source_health_between`, as `source_health_between_008`."""
    text = (MIGRATIONS / "008_formulas_once.sql").read_text(encoding="utf-8")
    macro = re.search(r"CREATE MACRO source_health_between\(.*?WHERE latest\.recency = 1;", text, re.DOTALL)
    if macro is None:
        raise SystemExit("migration 008 no longer holds source_health_between: update this benchmark")
    return macro.group(0).replace("source_health_between(", "source_health_between_008(", 1)


def _last_week(connection: duckdb.DuckDBPyConnection) -> str:
    """The ISO week of the last run's start."""
    [(last,)] = connection.execute("SELECT max(window_start) FROM runs").fetchall()
    year, week, _ = last.isocalendar()
    return f"{year}-W{week:02d}"


if __name__ == "__main__":
    main()
