"""Benchmark: every analyst view on a large warehouse, as an analyst queries it (the read-only snapshot).

Uses the warehouse `bench/report_render.py` builds (10,000,000 synthetic mentions by default: build it
first with that script). Each view is computed in full, `CREATE TEMP TABLE t AS SELECT * FROM <view>`
(so nothing is skipped and no time goes to moving rows into Python), `--repeat` times after one
warm-up; the median is reported with the rows it gave. `earned_mentions` has every mention's every
column, so it is measured as analysts use it: its last 7 days. Then, what keeps the daily views fast
costs the writer: `refresh_daily_aggregates` for the last 2 days (what a load does) and for every day
(what the migration does), each in a transaction rolled back, so the warehouse is left as it was. The goal (issue 6): each view answers in under
1 s. The last line is `slowest_view=<name> slowest_s=<x> peak_rss_mb=<y>`.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
# How a view is queried, when not in full.
QUERIES = {
    "earned_mentions": """SELECT * FROM earned_mentions
                          WHERE published_at >= (SELECT max(published_at) FROM mentions) - INTERVAL 7 DAY""",
}


def main() -> None:
    """Time each view; print one line per view, then the summary line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", type=Path, default=ROOT / "var" / "bench" / "report-10000000.duckdb")
    parser.add_argument("--repeat", type=int, default=3)
    arguments = parser.parse_args()
    if not arguments.warehouse.exists():
        sys.exit(f"{arguments.warehouse} does not exist: build it with .venv/bin/python bench/report_render.py")
    connection = duckdb.connect(str(arguments.warehouse), read_only=True)
    [(mentions,)] = connection.execute("SELECT count(*) FROM mentions").fetchall()
    views = [name for (name,) in connection.execute(
        "SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY view_name"
    ).fetchall()]
    [(threads,)] = connection.execute("SELECT current_setting('threads')").fetchall()
    print(f"warehouse={arguments.warehouse} mentions={mentions:,} threads={threads}")
    timings = {}
    for view in views:
        seconds = []
        for attempt in range(arguments.repeat + 1):
            started = time.perf_counter()
            query = QUERIES.get(view, f"SELECT * FROM {view}")
            connection.execute(f"CREATE OR REPLACE TEMP TABLE measured AS {query}")
            if attempt:  # the first run warms the buffer cache
                seconds.append(time.perf_counter() - started)
        [(rows,)] = connection.execute("SELECT count(*) FROM measured").fetchall()
        timings[view] = statistics.median(seconds)
        print(f"{view:<28} {timings[view]:>7.3f} s  {rows:>12,} rows  (runs: {', '.join(f'{s:.3f}' for s in seconds)})")
    connection.close()
    _time_refresh(arguments.warehouse)
    slowest = max(timings, key=lambda view: timings[view])
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"slowest_view={slowest} slowest_s={timings[slowest]:.3f} peak_rss_mb={peak_mb:.0f}")


def _time_refresh(warehouse: Path) -> None:
    """Time recomputing the daily aggregates of the newest 2 days, then of every day (rolled back)."""
    from warehouse.daily_aggregates import refresh_daily_aggregates

    connection = duckdb.connect(str(warehouse))
    connection.execute("SET enable_progress_bar = false")
    [(newest,)] = connection.execute(
        "SELECT max(CAST(timezone('UTC', coalesce(published_at, first_seen_at)) AS DATE)) FROM mentions"
    ).fetchall()
    for label, days in (("2 days", [newest - timedelta(days=1), newest]), ("every day", None)):
        connection.execute("BEGIN TRANSACTION")
        started = time.perf_counter()
        refresh_daily_aggregates(connection, days)
        print(f"refresh_daily_aggregates, {label:<9} {time.perf_counter() - started:>7.2f} s")
        connection.execute("ROLLBACK")
    connection.close()


if __name__ == "__main__":
    main()
