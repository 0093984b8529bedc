"""Benchmark: rendering one week's mention report (`reports.render.render_weekly_report`) from a large warehouse.

Builds (once, kept at `--warehouse` for reuse) a warehouse of N synthetic mentions with DuckDB SQL: a
year of time-ordered mentions (as loads append them), 3 brands and 2 competitors in `mention_brands`
(10% of mentions name two), sentiment, reach, authors, platforms, 15% categorised, 2% triage items with
responses, a spike per brand and week with its explanation, hourly runs of 20 sources, and the themes of
the report week and the week before (`warehouse.themes.refresh_week_themes`, as the pipeline's themes
step computes them; their time is printed, not counted in the render's). Then renders
one ISO week (HTML + CSV) `--repeat` times, each in a fresh interpreter that opens the warehouse
read-only, as the weekly DAG task would (its summary, coverage and themes sections included); it reports
each render's time and the child's peak RSS (wait4).

The goal (issue 14): the weekly report renders in under 5 s on a warehouse of 10,000,000 mentions, with its
themes and its summary. The last
line printed is `render_median_s=<median> peak_rss_mb=<max> mentions=<N> week_mentions=<CSV rows>`.

Usage:
    .venv/bin/python bench/report_render.py                                 # 10,000,000 mentions (builds ~3 min once)
    .venv/bin/python bench/report_render.py --mentions 200000 --repeat 1   # smoke check, seconds
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

YEAR_START = "2025-11-03 00:00:00+00"  # a Monday; the mentions run for 52 weeks from here
YEAR_SECONDS = 52 * 7 * 24 * 3600
DEFAULT_WEEK = "2026-W40"
TIMEZONE = "Europe/London"
BRANDS = ("Brightwave", "Lumenfield", "Northstar")
COMPETITORS = ("Tidewell", "Harborline")
CATEGORIES = ("complaint", "outage", "purchase-intent", "praise")
QUEUES = {"complaint": "care", "outage": "care", "purchase-intent": "sales", "praise": "social"}
SOURCES = 20
GOAL_SECONDS = 5.0
_PHRASES = (
    "the new update broke my router again and support says a fix ships next week",
    "honestly the fibre speed is great when it works but the billing page is wrong",
    "customer service kept me on hold for forty minutes, love the app redesign though",
    "outage in my area since monday, anyone else seeing slow upload in the evenings",
    "price rise announced today and my contract ends soon so I am switching provider",
    "the installer arrived on time, friendly engineer explained everything clearly",
    "coverage map is wrong for our street, rural broadband rollout delayed again",
    "latency for gaming has been fine all week, no complaints from this household",
)


def main() -> None:
    """Parse the flags; build the warehouse if needed and measure, or (in a child) render once."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mentions", type=int, default=10_000_000, help="synthetic mentions (default 10,000,000)")
    parser.add_argument(
        "--warehouse", type=Path,
        help="the DuckDB file to build or reuse (default var/bench/report-<mentions>.duckdb)",
    )
    parser.add_argument("--week", default=DEFAULT_WEEK, help=f"ISO week to render (default {DEFAULT_WEEK})")
    parser.add_argument("--repeat", type=int, default=3, help="renders to time; the median is reported (default 3)")
    parser.add_argument("--rebuild", action="store_true", help="build the warehouse again even if it exists")
    parser.add_argument("--memory-limit", default="4GB", help="DuckDB memory limit while building (default 4GB)")
    parser.add_argument("--render-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--build-child", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.mentions < 1000 or arguments.repeat < 1:
        parser.error("--mentions must be at least 1000 and --repeat at least 1")
    warehouse = arguments.warehouse or ROOT / "var" / "bench" / f"report-{arguments.mentions}.duckdb"
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    if arguments.render_child:
        print(json.dumps(render_once(warehouse, arguments.week, arguments.render_child)))
        return
    if arguments.build_child:
        print(json.dumps(build_warehouse(warehouse, arguments.mentions, arguments.memory_limit, arguments.week)))
        return
    run_benchmark(warehouse, arguments)


def run_benchmark(warehouse: Path, arguments: argparse.Namespace) -> None:
    """Build (or reuse) the warehouse, render `repeat` times in child processes, print figures and the goal."""
    import duckdb
    import psutil

    print(f"overheard weekly report benchmark: {arguments.mentions:,} mentions, week {arguments.week}, "
          f"{arguments.repeat} render(s)")
    print(f"machine: {psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
          f"Python {sys.version.split()[0]}, DuckDB {duckdb.__version__}; load average {_load_average()}")
    if arguments.rebuild or not warehouse.exists():
        warehouse.unlink(missing_ok=True)
        warehouse.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        # In a child process: the renders are forked from this one, and would start with the builder's memory.
        built = subprocess.run(
            [sys.executable, __file__, "--warehouse", str(warehouse), "--mentions", str(arguments.mentions),
             "--memory-limit", arguments.memory_limit, "--week", arguments.week, "--build-child"],
            capture_output=True, text=True, check=False,
        )
        if built.returncode != 0:
            raise SystemExit(f"building the warehouse failed (exit {built.returncode}):\n{built.stderr}")
        counts = json.loads(built.stdout.strip().splitlines()[-1])
        print(f"built {warehouse} in {time.perf_counter() - started:.0f} s: "
              + ", ".join(f"{count:,} {table}" for table, count in counts.items()))
        for line in built.stderr.splitlines():
            if line.startswith(("daily aggregates", "themes of")):
                print(line)
    else:
        print(f"reusing {warehouse} (--rebuild to build it again)")
    print(f"warehouse file: {warehouse.stat().st_size / 1e6:,.0f} MB")
    print()
    print(f"{'render':<7} {'seconds':>8} {'process s':>10} {'CPU s':>6} {'peak RSS MB':>12} {'CSV rows':>10} "
          f"{'CSV MB':>7} {'HTML KB':>8}")
    renders = []
    with tempfile.TemporaryDirectory(prefix="overheard-bench-report-") as out:
        for number in range(1, arguments.repeat + 1):
            render = _render_child(warehouse, arguments.week, Path(out))
            renders.append(render)
            print(f"{number:<7} {render['seconds']:>8.2f} {render['process_seconds']:>10.2f} "
                  f"{render['cpu_seconds']:>6.2f} "
                  f"{render['peak_rss_mb']:>12.0f} {render['csv_rows']:>10,} {render['csv_bytes'] / 1e6:>7.1f} "
                  f"{render['html_bytes'] / 1e3:>8.0f}")
    print(f"load average after: {_load_average()}")
    median = statistics.median(render["seconds"] for render in renders)
    peak = max(render["peak_rss_mb"] for render in renders)
    print(f"goal {'met' if median < GOAL_SECONDS else 'MISSED'}: the weekly report renders in under "
          f"{GOAL_SECONDS:.0f} s ({median:.2f} s)")
    print(f"render_median_s={median:.2f} peak_rss_mb={peak:.0f} mentions={arguments.mentions} "
          f"week_mentions={renders[0]['csv_rows']}")


def render_once(warehouse: Path, week: str, out_dir: Path) -> dict[str, Any]:
    """Open the warehouse read-only and render the week's HTML and CSV; time connect to close."""
    import duckdb

    from reports.render import render_weekly_report

    config = bench_config(warehouse)
    started = time.perf_counter()
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        files = render_weekly_report(connection, config, week, out_dir)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds, "csv_rows": files.mentions, "csv_bytes": files.csv.stat().st_size,
        "html_bytes": files.html.stat().st_size,
    }


def bench_config(warehouse: Path) -> Any:
    """The configuration the synthetic warehouse was built for: its brands, sources and playbook."""
    from config.model import Config

    return Config.model_validate({
        "timezone": TIMEZONE,
        "warehouse": {"path": str(warehouse)},
        "staging": str(warehouse.parent / "staging"),
        "brands": [{"name": name, "aliases": [name]} for name in BRANDS],
        "competitors": [{"name": name, "aliases": [name]} for name in COMPETITORS],
        "sources": [
            {"kind": "rss", "name": f"feed-{n:02d}", "url": f"https://feed{n}.example/rss"} for n in range(SOURCES)
        ],
        "playbook": {
            "categories": [
                {"name": name, "query": "(outage OR down)", "queue": queue, "sla_minutes": 60}
                for name, queue in QUEUES.items()
            ],
            "queues": [{"name": queue} for queue in dict.fromkeys(QUEUES.values())],
            "default_queue": "care",
        },
    })


def build_warehouse(path: Path, mentions: int, memory_limit: str, week: str = DEFAULT_WEEK) -> dict[str, int]:
    """Create the schema and fill it with synthetic rows, all in SQL, then the themes of `week` and the week
    before; returns row counts per table."""
    from warehouse.connection import open_warehouse

    connection = open_warehouse(path, memory_limit=memory_limit)
    step_us = YEAR_SECONDS * 1_000_000 // mentions
    phrases = "[" + ", ".join(f"'{phrase}'" for phrase in _PHRASES) + "]"
    names = [*BRANDS, *COMPETITORS]
    brand_list = "[" + ", ".join(f"'{name}'" for name in names) + "]"
    connection.execute(f"""
        INSERT INTO mentions (mention_key, platform, source, native_id, url, title, text, author_handle, author_name,
            author_followers, published_at, lang, lang_confidence, lang_model, sentiment_label, sentiment_score,
            sentiment_model, reach_estimate, reach_model, is_owned, is_deleted, first_run_id, first_seen_at,
            last_run_id, last_seen_at, story_id, story_model)
        WITH base AS (
            SELECT range AS i, {_hash("range")} AS h, {_hash("range + 7919")} AS g,
                   TIMESTAMPTZ '{YEAR_START}' + to_microseconds(range * {step_us}) AS seen
            FROM range({mentions})
        ), placed AS (
            SELECT *, ['x', 'x', 'x', 'x', 'x', 'reddit', 'reddit', 'news', 'mastodon', 'blog'][h % 10 + 1] AS platform
            FROM base
        ), shaped AS (
            SELECT *,
                   CASE WHEN platform IN ('news', 'blog') THEN 'https://www.site' || (h >> 8) % 300 || '.example/'
                        || md5(CAST(i AS VARCHAR)) ELSE platform || ':' || i END AS mention_key,
                   CASE WHEN platform IN ('news', 'blog') THEN NULL ELSE '@user' || (h >> 16) % 400000 END AS handle,
                   (h >> 40) % 50 AS mood
            FROM placed
        )
        SELECT mention_key, platform,
               CASE platform WHEN 'x' THEN 'x_search'
                    WHEN 'news' THEN 'feed-' || lpad(CAST((h >> 8) % {SOURCES} AS VARCHAR), 2, '0')
                    ELSE platform END,
               CAST(i AS VARCHAR),
               CASE WHEN platform IN ('news', 'blog') THEN mention_key
                    WHEN platform = 'x' THEN 'https://x.com/' || substr(handle, 2) || '/status/' || i
                    WHEN platform = 'reddit' THEN 'https://www.reddit.com/r/broadband/comments/' || i
                    ELSE 'https://mastodon.social/' || handle || '/' || i END,
               CASE WHEN platform IN ('news', 'blog') THEN 'Broadband news ' || i END,
               {phrases}[(h >> 50) % 8 + 1] || '. ' || {phrases}[(g >> 3) % 8 + 1] || ' #' || i,
               handle, CASE WHEN handle IS NOT NULL THEN 'User ' || (h >> 16) % 400000 END,
               CASE WHEN handle IS NOT NULL THEN CAST(pow(10, (g % 6000) / 1000.0) AS BIGINT) END,
               CASE WHEN (h >> 24) % 20 = 0 THEN NULL ELSE seen - to_seconds(CAST((h >> 32) % 21600 AS BIGINT)) END,
               'en', 0.99, 'py3langid-0.4.0',
               CASE WHEN mood = 0 THEN NULL WHEN mood < 16 THEN 'negative' WHEN mood < 36 THEN 'neutral'
                    ELSE 'positive' END,
               CASE WHEN mood = 0 THEN NULL ELSE (mood - 25) / 25.0 END,
               CASE WHEN mood = 0 THEN NULL ELSE 'vader-3.3.2' END,
               CAST(pow(10, (g % 6000) / 1000.0) AS BIGINT), 'reach-v2',
               (g >> 20) % 100 = 0, (g >> 28) % 200 = 0,
               'bench', seen, 'bench', seen,
               platform || ':' || (i // 4), 'stories-v1'
        FROM shaped
    """)
    connection.execute(f"""
        INSERT INTO mention_brands (mention_key, brand, role, matched_terms)
        WITH keyed AS (SELECT mention_key, {_hash("mention_key")} AS h FROM mentions),
        named AS (
            SELECT mention_key, [0, 0, 0, 0, 1, 1, 2, 3, 3, 4][h % 10 + 1] AS first, (h >> 12) % 5 AS second,
                   (h >> 8) % 10 = 0 AS two
            FROM keyed
        )
        SELECT mention_key, {brand_list}[first + 1], CASE WHEN first < 3 THEN 'brand' ELSE 'competitor' END,
               [{brand_list}[first + 1]]
        FROM named
        UNION ALL
        SELECT mention_key, {brand_list}[second + 1], CASE WHEN second < 3 THEN 'brand' ELSE 'competitor' END,
               [{brand_list}[second + 1]]
        FROM named WHERE two AND second <> first
    """)
    categories = "[" + ", ".join(f"'{name}'" for name in CATEGORIES) + "]"
    connection.execute(f"""
        INSERT INTO mention_categories
        SELECT mention_key, {categories}[({_hash("mention_key")} >> 20) % 4 + 1] FROM mentions
        WHERE ({_hash("mention_key")} >> 16) % 100 < 15
    """)
    queue_of = "CASE category " + " ".join(f"WHEN '{name}' THEN '{queue}'" for name, queue in QUEUES.items()) + " END"
    connection.execute(f"""
        INSERT INTO triage_items (mention_key, brand, category, queue, routed_by, priority, priority_model, escalated,
            status, assignee, required_skills, opened_at, sla_minutes, due_at, first_response_at,
            first_response_minutes, closed_at, updated_at)
        WITH picked AS (
            SELECT c.mention_key, c.category, m.first_seen_at AS opened, {_hash("c.mention_key")} AS h,
                   (SELECT min(brand) FROM mention_brands AS b WHERE b.mention_key = c.mention_key) AS brand
            FROM mention_categories AS c JOIN mentions AS m USING (mention_key)
            WHERE ({_hash("c.mention_key")} >> 24) % 8 = 0
        )
        SELECT mention_key, brand, category, {queue_of}, 'category', (h % 1000) / 1000.0, 'priority-v1', h % 1000 > 950,
               CASE WHEN (h >> 10) % 100 < 85 THEN 'responded' ELSE 'open' END, NULL, [], opened, 60,
               opened + INTERVAL 60 MINUTE,
               CASE WHEN (h >> 10) % 100 < 85 THEN opened + to_minutes(CAST((h >> 20) % 120 AS BIGINT)) END,
               CASE WHEN (h >> 10) % 100 < 85 THEN CAST((h >> 20) % 120 AS DOUBLE) END,
               NULL, opened
        FROM picked
    """)
    explanation = json.dumps({
        "mentions": 80, "baseline_mentions": 120,
        "terms": [{"term": "outage", "mentions": 40, "baseline_mentions": 3, "keyness": 90.0},
                  {"term": "router down", "mentions": 12, "baseline_mentions": 0, "keyness": 30.0}],
        "authors": [{"name": "x:@user1", "mentions": 6}], "sources": [{"name": "x_search", "mentions": 70}],
        "examples": [{"mention_key": "x:1", "url": "https://x.com/user1/status/1", "author": "x:@user1",
                      "published_at": "2026-01-01T10:00:00+00:00", "reach_estimate": 5000,
                      "text": "Total outage across the city since 9am"}],
    })
    connection.execute(f"""
        INSERT INTO spikes
        SELECT brand, '', TIMESTAMPTZ '{YEAR_START}' + to_hours(week * 168 + 60 + b * 7),
               TIMESTAMPTZ '{YEAR_START}' + to_hours(week * 168 + 61 + b * 7), 60, 12.0, 6.5, 'spikes-v1', ?,
               TIMESTAMPTZ '{YEAR_START}' + to_hours(week * 168 + 62 + b * 7)
        FROM range(52) AS weeks(week), (SELECT unnest({brand_list}) AS brand, generate_subscripts({brand_list}, 1) AS b)
    """, [explanation])
    connection.execute(f"""
        INSERT INTO runs (run_id, source, kind, status, items_fetched, mentions_collected, mentions_matched,
            dropped_unmatched, mentions_new, error, warnings, duration_seconds, window_start, window_end)
        WITH slots AS (
            SELECT hour, feed, {_hash("hour * 100 + feed")} AS h
            FROM range({52 * 168}) AS hours(hour), range({SOURCES}) AS feeds(feed)
        )
        SELECT 'scheduled__' || hour, 'feed-' || lpad(CAST(feed AS VARCHAR), 2, '0'), 'rss',
               CASE WHEN h % 50 = 0 THEN 'failed' WHEN h % 7 = 0 THEN 'empty' ELSE 'ok' END,
               20, 12, 10, 2, 8, CASE WHEN h % 50 = 0 THEN 'HTTP 503' END, [], 1.5,
               TIMESTAMPTZ '{YEAR_START}' + to_hours(hour), TIMESTAMPTZ '{YEAR_START}' + to_hours(hour + 1)
        FROM slots
    """)
    from warehouse.daily_aggregates import refresh_daily_aggregates

    started = time.perf_counter()
    refresh_daily_aggregates(connection)  # what the loads would have kept up to date, built at once
    print(f"daily aggregates built in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    from reports.weeks import report_week
    from warehouse.themes import ThemeWeek, refresh_week_themes

    the_week = report_week(week, TIMEZONE)
    for label, start, end in ((the_week.previous_label, the_week.previous_start, the_week.start),
                              (the_week.label, the_week.start, the_week.end)):
        started = time.perf_counter()
        themes = refresh_week_themes(connection, ThemeWeek(label, start, end))
        print(f"themes of {label}: {themes} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    counts = {
        table: connection.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
        for table in ("mentions", "mention_brands", "mention_categories", "triage_items", "spikes", "runs", "themes")
    }
    connection.execute("CHECKPOINT")
    connection.close()
    return counts


def _hash(expression: str) -> str:
    """SQL for a non-negative BIGINT hash of `expression` (list indexes and shifts want BIGINT, not UBIGINT)."""
    return f"CAST(hash({expression}) >> 1 AS BIGINT)"


def _render_child(warehouse: Path, week: str, out_dir: Path) -> dict[str, Any]:
    """Render once in a fresh interpreter; its own peak RSS comes from wait4."""
    started = time.perf_counter()
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as output:
        process = subprocess.Popen(
            [sys.executable, __file__, "--warehouse", str(warehouse), "--week", week, "--render-child", str(out_dir)],
            stdout=output,
        )
        _, status, usage = os.wait4(process.pid, 0)
        output.seek(0)
        text = output.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"the render failed (exit {os.waitstatus_to_exitcode(status)}); its output:\n{text}")
    report = json.loads(text.strip().splitlines()[-1])
    return {**report, "process_seconds": time.perf_counter() - started, "peak_rss_mb": usage.ru_maxrss * 1024 / 1e6,
            "cpu_seconds": usage.ru_utime + usage.ru_stime}


def _load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


if __name__ == "__main__":
    main()
