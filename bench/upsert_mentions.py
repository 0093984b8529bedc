"""Benchmark: upserting one run's enriched mentions into DuckDB with `warehouse.load.load_run`.

Writes synthetic enriched units (JSONL rows plus manifests, as `enrich.pipeline.enrich_unit` writes
them) and then, each step in its own child process so that its peak RSS is its own:

    baseline  a fresh warehouse, the same files put in with a bare `INSERT INTO ... SELECT` per table
              (mentions, mention_brands) and no conflict handling;
    load      `load_run` of the same manifests into another fresh warehouse;
    rerun     `load_run` of the same manifests again into that warehouse (every row a conflict).

The goal (issue): load within 3x of the baseline, the rerun no slower than the load, peak RSS under
2 GB, at 1,000,000 mentions. The last line printed is
`upsert_ratio=<load/baseline> rerun_ratio=<rerun/load> peak_rss_mb=<max of the three>`.

Usage:
    .venv/bin/python bench/upsert_mentions.py                           # 1,000,000 rows, 3 repetitions, ~2 min
    .venv/bin/python bench/upsert_mentions.py --rows 20000 --repeat 1   # smoke check, seconds
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RUN_ID = "scheduled__2026-11-02T09:00:00+00:00"
WINDOW = (datetime(2026, 11, 2, 9, tzinfo=UTC), datetime(2026, 11, 2, 10, tzinfo=UTC))

# A run like a real one: feeds in batches (units of several sources) and a couple of crawled blogs.
UNITS: list[dict[str, Any]] = [
    *(
        {
            "id": f"rss-{number:03d}",
            "kind": "rss",
            "platform": "news",
            "sources": [f"feed-{(number - 1) * 4 + offset + 1:02d}" for offset in range(4)],
        }
        for number in range(1, 7)
    ),
    {"id": "blog-broadband-forum", "kind": "blog", "platform": "blog", "sources": ["broadband-forum"]},
    {"id": "blog-telecom-weekly", "kind": "blog", "platform": "blog", "sources": ["telecom-weekly"]},
]

_WORDS = (
    "the new update broke my router again and support says a fix ships next week honestly the fibre speed "
    "is great when it works but the billing page still shows last month's charge customer service kept me "
    "on hold for forty minutes love the app redesign though outage in my area since monday anyone else "
    "seeing slow upload latency for gaming in the evenings price rise announced today my contract ends soon "
    "so I am switching provider maybe the installer arrived on time friendly engineer explained everything "
    "coverage map is wrong for our street engineers on strike rural broadband rollout delayed again regulator "
    "fines operator over misleading speeds"
).split()

# One enriched row per range value, with every field of `EnrichedMention.to_json()` (so every column of
# warehouse.load.STAGED_COLUMNS). $first is the unit's first global row number, $sources its sources.
_ROWS_SQL = """
SELECT
    'https://' || domain || '/' || strftime(published, '%Y/%m/') || slug AS key,
    i AS ordinal,
    $platform AS platform,
    source,
    CASE WHEN $platform = 'news' THEN 'https://' || domain || '/?p=' || g ELSE NULL END AS native_id,
    'https://' || domain || '/' || strftime(published, '%Y/%m/') || slug || '?utm_source=rss&utm_medium=feed'
        AS url,
    upper(title[1]) || title[2:] AS title,
    brand_phrase || ' ' || body AS text,
    false AS text_truncated,
    'second' AS published_precision,
    ['Author ' || (g % 5000)] AS authors,
    'author' || (g % 5000) AS author_handle,
    'Author ' || (g % 5000) AS author_name,
    NULL::BIGINT AS author_followers,
    strftime(published, '%Y-%m-%dT%H:%M:%S+00:00') AS published_at,
    CASE WHEN $platform = 'blog' THEN json_object('comments', (h % 40)::INTEGER) ELSE '{}'::JSON END
        AS engagement,
    NULL::VARCHAR AS parent_id,
    NULL::VARCHAR AS thread_id,
    NULL::VARCHAR AS lang_hint,
    NULL::VARCHAR AS amplifies,
    CASE WHEN h % 4 = 0 THEN ['https://regulator.example/report-' || (h % 50)] ELSE []::VARCHAR[] END
        AS shared_links,
    NULL::BIGINT AS community_size,
    false AS score_hidden,
    'The ' || source || ' feed' AS publisher,
    json_object('tags', ['broadband', CASE WHEN h % 2 = 0 THEN 'outage' ELSE 'pricing' END]) AS extras,
    CASE h % 20 WHEN 0 THEN 'de' WHEN 1 THEN 'fr' ELSE 'en' END AS lang,
    round(0.80 + (h % 200) / 1000.0, 3) AS lang_confidence,
    'py3langid-0.4.0' AS lang_model,
    CASE WHEN score < -0.05 THEN 'negative' WHEN score > 0.05 THEN 'positive' ELSE 'neutral' END AS sentiment_label,
    score AS sentiment_score,
    round(greatest(0.0, -score) * 0.9 + 0.05, 4) AS sentiment_negative,
    round(0.9 - abs(score) * 0.9, 4) AS sentiment_neutral,
    round(greatest(0.0, score) * 0.9 + 0.05, 4) AS sentiment_positive,
    'vader-3.3.2' AS sentiment_model,
    (CASE WHEN $platform = 'news' THEN 5000 ELSE 1000 END)::BIGINT AS reach_estimate,
    (CASE WHEN $platform = 'news' THEN 50 ELSE 10 END)::BIGINT AS reach_low,
    (CASE WHEN $platform = 'news' THEN 1000 ELSE 200 END)::BIGINT AS reach_high,
    'reach-v2' AS reach_model,
    h % 100 = 0 AS is_owned,
    CASE WHEN h % 100 = 0 THEN 'Brightwave' ELSE NULL END AS owned_by,
    brands
FROM (
    SELECT
        *,
        CASE
            WHEN h % 10 < 7 THEN [{'brand': 'Brightwave', 'role': 'brand', 'terms': ['Brightwave']}]
            WHEN h % 10 < 9 THEN [{'brand': 'Tidewell', 'role': 'competitor', 'terms': ['Tidewell']}]
            ELSE [{'brand': 'Brightwave', 'role': 'brand', 'terms': ['Brightwave', '#brightwave']},
                  {'brand': 'Tidewell', 'role': 'competitor', 'terms': ['Tidewell']}]
        END AS brands,
        CASE
            WHEN h % 10 < 7 THEN 'Brightwave'
            WHEN h % 10 < 9 THEN 'Tidewell'
            ELSE '#brightwave vs Tidewell:'
        END AS brand_phrase,
        round((((h >> 8) % 2001)::INTEGER - 1000) / 1000.0, 4) AS score
    FROM (
        SELECT
            i,
            g,
            h,
            $sources[(1 + i % len($sources))::BIGINT] AS source,
            replace($sources[(1 + i % len($sources))::BIGINT], 'feed-', 'news') || '.example' AS domain,
            TIMESTAMP '2026-11-01 00:00:00' + to_seconds((g * 37) % 86400) AS published,
            array_to_string(
                list_transform(
                    range(6 + (h % 7)::BIGINT), lambda j: $words[(1 + hash(g, j, 't') % len($words))::BIGINT]
                ),
                ' '
            ) AS title,
            array_to_string(
                list_transform(
                    range(36 + (h % 36)::BIGINT), lambda j: $words[(1 + hash(g, j) % len($words))::BIGINT]
                ),
                ' '
            ) AS body,
            'story-' || g AS slug
        FROM (SELECT i, $first + i AS g, hash($first + i) AS h FROM range($count) AS numbers(i))
    )
)
"""


@dataclass
class Step:
    """One measured child process.

    Attributes:
        name: baseline, load or rerun.
        seconds: the timed work as the child measured it (connect to close).
        process_seconds: the child's whole life, interpreter start and imports included.
        peak_rss_mb: the child's peak resident set (getrusage via wait4), in MB (10^6 bytes).
        report: what the child printed.
    """

    name: str
    seconds: float
    process_seconds: float
    peak_rss_mb: float
    report: dict[str, Any]


def main() -> None:
    """Parse the flags; run the whole benchmark, or (in a child) one step of it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="synthetic mentions in the run (default 1000000)")
    parser.add_argument(
        "--workdir", type=Path, help="where to write staging and warehouses (default: a temp dir, removed at the end)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="measure baseline, load and rerun this many times; medians are reported"
    )
    parser.add_argument("--step", choices=["generate", "baseline", "load", "rerun"], help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.rows < 1 or arguments.repeat < 1:
        parser.error("--rows and --repeat must be at least 1")
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    if arguments.step:
        report = STEPS[arguments.step](arguments.workdir, arguments.rows)
        print(json.dumps(report))
        return
    keep = arguments.workdir is not None
    workdir = arguments.workdir or Path(tempfile.mkdtemp(prefix="overheard-bench-upsert-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        run_benchmark(workdir, arguments.rows, arguments.repeat)
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


def run_benchmark(workdir: Path, rows: int, repeat: int) -> None:
    """Generate, measure the three steps `repeat` times, check the warehouse, print the table and the summary."""
    import duckdb
    import psutil

    print(f"overheard upsert benchmark: {rows:,} mentions, {len(UNITS)} units, {repeat} repetition(s)")
    print(f"workdir: {workdir}")
    print(
        f"machine: {psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
        f"Python {sys.version.split()[0]}, DuckDB {duckdb.__version__}; load average {_load_average()}"
    )
    generated = _child("generate", workdir, rows)
    print(
        f"generated {generated.report['rows']:,} rows, {generated.report['jsonl_mb']:.0f} MB of JSONL, "
        f"mean text {generated.report['mean_text_chars']:.0f} chars, in {generated.seconds:.1f}s"
    )
    print()
    print(f"{'step':<10} {'seconds':>9} {'process s':>10} {'peak RSS MB':>12} {'rows/s':>10}  detail")
    measured: dict[str, list[Step]] = {"baseline": [], "load": [], "rerun": []}
    for _ in range(repeat):
        for name, steps in measured.items():
            step = _child(name, workdir, rows)
            steps.append(step)
            print(
                f"{step.name:<10} {step.seconds:>9.2f} {step.process_seconds:>10.2f} {step.peak_rss_mb:>12.0f} "
                f"{rows / step.seconds:>10,.0f}  {_detail(step)}"
            )
        _check(workdir, rows, generated.report, measured["load"][-1].report, measured["rerun"][-1].report)
    print(f"load average after: {_load_average()}")
    baseline, load, rerun = (statistics.median(step.seconds for step in measured[name]) for name in measured)
    baseline_mentions = statistics.median(step.report["mentions_seconds"] for step in measured["baseline"])
    upsert_ratio = load / baseline
    rerun_ratio = rerun / load
    peak = max(step.peak_rss_mb for steps in measured.values() for step in steps)
    print()
    print(f"median seconds: baseline {baseline:.2f}, load {load:.2f}, rerun {rerun:.2f}")
    if repeat > 1:
        pairs = zip(measured["baseline"], measured["load"], measured["rerun"], strict=True)
        ratios = [f"({b.seconds / a.seconds:.2f}, {c.seconds / b.seconds:.2f})" for a, b, c in pairs]
        print(f"per repetition (load/baseline, rerun/load): {', '.join(ratios)}")
    print(f"load / baseline of the mentions table alone: {load / baseline_mentions:.2f}")
    goals = [
        ("load within 3x of the bare insert", round(upsert_ratio, 2) <= 3.0),
        ("rerun no slower than the load", round(rerun_ratio, 2) <= 1.0),
        ("peak RSS under 2 GB", peak < 2000.0),
    ]
    for goal, met in goals:
        print(f"goal {'met' if met else 'MISSED'}: {goal}")
    print(f"upsert_ratio={upsert_ratio:.2f} rerun_ratio={rerun_ratio:.2f} peak_rss_mb={peak:.0f}")


def _load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _detail(step: Step) -> str:
    report = step.report
    if step.name == "baseline":
        return f"mentions {report['mentions_seconds']:.2f}s + brands {report['brands_seconds']:.2f}s"
    changed = f"new {report['mentions_new']:,}, seen again {report['mentions_seen_again']:,}"
    return f"{changed}, file {report['file_mb']:.0f} MB"


def _child(name: str, workdir: Path, rows: int) -> Step:
    """Run one step in a fresh interpreter; its own peak RSS comes from wait4."""
    output = workdir / f"{name}.out"
    started = time.perf_counter()
    with open(output, "w", encoding="utf-8") as handle:
        process = subprocess.Popen(
            [sys.executable, __file__, "--step", name, "--workdir", str(workdir), "--rows", str(rows)],
            stdout=handle,
        )
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    process_seconds = time.perf_counter() - started
    text = output.read_text(encoding="utf-8")
    if process.returncode != 0:
        raise SystemExit(f"step {name} failed (exit {process.returncode}); its output:\n{text}")
    report = json.loads(text.strip().splitlines()[-1])
    return Step(name, report["seconds"], process_seconds, usage.ru_maxrss * 1024 / 1e6, report)


def _staging_root(workdir: Path) -> str:
    return str(workdir / "staging")


def _manifest_urls(workdir: Path) -> list[str]:
    return json.loads((workdir / "manifests.json").read_text(encoding="utf-8"))


def generate(workdir: Path, rows: int) -> dict[str, Any]:
    """Write each unit's enriched rows (with DuckDB) and its manifest (with StagingArea)."""
    import duckdb

    from core.staging import StagingArea

    started = time.perf_counter()
    staging = StagingArea(_staging_root(workdir), RUN_ID)
    connection = duckdb.connect()
    manifests = []
    first = 0
    for position, unit in enumerate(UNITS):
        count = rows // len(UNITS) + (1 if position < rows % len(UNITS) else 0)
        rows_url = staging.url(unit["id"], "enriched.jsonl")
        Path(rows_url).parent.mkdir(parents=True, exist_ok=True)
        connection.execute(
            f"COPY ({_ROWS_SQL}) TO '{rows_url}' (FORMAT json)",
            {"first": first, "count": count, "platform": unit["platform"], "sources": unit["sources"], "words": _WORDS},
        )
        per_source = dict(
            connection.execute(
                "SELECT source, count(*) FROM read_json(?, format = 'newline_delimited') GROUP BY source", [rows_url]
            ).fetchall()
        )
        outcomes = [
            {
                "source": source,
                "kind": unit["kind"],
                "status": "ok",
                "items_fetched": per_source.get(source, 0),
                "mentions_collected": per_source.get(source, 0),
                "cursor": {"etag": f'"{source}-v2"', "last_modified": "Mon, 02 Nov 2026 09:55:00 GMT"},
                "error": None,
                "warnings": [],
                "duration_seconds": 1.5,
                "mentions_matched": per_source.get(source, 0),
                "dropped_unmatched": 0,
            }
            for source in unit["sources"]
        ]
        manifests.append(
            staging.write_json(
                f"{unit['id']}/enriched.json",
                {
                    "unit": {"id": unit["id"], "kind": unit["kind"], "sources": unit["sources"]},
                    "mentions": rows_url,
                    "sources": outcomes,
                },
            )
        )
        first += count
    files = [staging.url(unit["id"], "enriched.jsonl") for unit in UNITS]
    [(brand_rows, mean_text)] = connection.execute(
        "SELECT sum(len(brands)), avg(length(text)) FROM read_json(?, format = 'newline_delimited', "
        "columns = {'brands': 'STRUCT(brand VARCHAR, role VARCHAR, terms VARCHAR[])[]', 'text': 'VARCHAR'})",
        [files],
    ).fetchall()
    connection.close()
    (workdir / "manifests.json").write_text(json.dumps(manifests), encoding="utf-8")
    return {
        "seconds": time.perf_counter() - started,
        "rows": first,
        "brand_rows": int(brand_rows),
        "sources": sum(len(unit["sources"]) for unit in UNITS),
        "mean_text_chars": mean_text,
        "jsonl_mb": sum(os.path.getsize(path) for path in files) / 1e6,
    }


def baseline(workdir: Path, rows: int) -> dict[str, Any]:
    """The same files into a fresh warehouse with plain INSERT ... SELECT: no staging, no conflicts."""
    import duckdb

    from core.staging import read_json
    from warehouse.load import MENTION_COLUMNS, MENTION_VALUES, STAGED_JSON_COLUMNS
    from warehouse.schema import migrate

    files = [read_json(url)["mentions"] for url in _manifest_urls(workdir)]
    path = workdir / "baseline.duckdb"
    path.unlink(missing_ok=True)
    source = f"read_json($files, format = 'newline_delimited', columns = {STAGED_JSON_COLUMNS}) AS staged"
    started = time.perf_counter()
    connection = duckdb.connect(str(path))
    migrate(connection)
    connection.execute("BEGIN TRANSACTION")
    mentions_started = time.perf_counter()
    connection.execute(
        f"INSERT INTO mentions ({', '.join(MENTION_COLUMNS)}) SELECT {', '.join(MENTION_VALUES.values())} FROM {source}",
        {"files": files, "run_id": RUN_ID, "seen_at": WINDOW[1]},
    )
    mentions_seconds = time.perf_counter() - mentions_started
    brands_started = time.perf_counter()
    connection.execute(
        f"INSERT INTO mention_brands (mention_key, brand, role, matched_terms) SELECT key, match.brand, match.role, match.terms "
        f"FROM (SELECT key, unnest(brands) AS match FROM {source})",
        {"files": files},
    )
    brands_seconds = time.perf_counter() - brands_started
    connection.execute("COMMIT")
    connection.close()
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "mentions_seconds": mentions_seconds,
        "brands_seconds": brands_seconds,
        "file_mb": path.stat().st_size / 1e6,
    }


def load(workdir: Path, rows: int) -> dict[str, Any]:
    """`load_run` into a fresh warehouse."""
    path = workdir / "warehouse.duckdb"
    path.unlink(missing_ok=True)
    return _load_run(path, workdir)


def rerun(workdir: Path, rows: int) -> dict[str, Any]:
    """`load_run` of the same manifests into the warehouse `load` wrote."""
    return _load_run(workdir / "warehouse.duckdb", workdir)


def _load_run(path: Path, workdir: Path) -> dict[str, Any]:
    from config.model import WarehouseSettings
    from warehouse.load import load_run

    manifests = _manifest_urls(workdir)
    started = time.perf_counter()
    result = load_run(path, RUN_ID, WINDOW, manifests, memory_limit=WarehouseSettings(path=str(path)).memory_limit)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "mentions_new": result.mentions_new,
        "mentions_seen_again": result.mentions_seen_again,
        "cursors_advanced": len(result.cursors_advanced),
        "file_mb": path.stat().st_size / 1e6,
    }


STEPS = {"generate": generate, "baseline": baseline, "load": load, "rerun": rerun}


def _check(
    workdir: Path, rows: int, generated: dict[str, Any], first: dict[str, Any], second: dict[str, Any]
) -> None:
    """The load and the rerun did what they say: every row new, then every row seen again, nothing doubled."""
    import duckdb

    expected = {
        "mentions": rows,
        "mention_brands": generated["brand_rows"],
        "runs": generated["sources"],
        "source_cursors": generated["sources"],
    }
    problems = []
    for step, report, wanted in (("load", first, (rows, 0)), ("rerun", second, (0, rows))):
        found = (report["mentions_new"], report["mentions_seen_again"])
        if found != wanted:
            problems.append(f"{step}: {found[0]:,} new, {found[1]:,} seen again; expected {wanted[0]:,}, {wanted[1]:,}")
    for name in ("baseline.duckdb", "warehouse.duckdb"):
        with duckdb.connect(str(workdir / name), read_only=True) as connection:
            for table, count in expected.items():
                if name == "baseline.duckdb" and table in ("runs", "source_cursors"):
                    continue
                [(found,)] = connection.execute(f"SELECT count(*) FROM {table}").fetchall()
                if found != count:
                    problems.append(f"{name}: {table} has {found:,} rows, expected {count:,}")
    if problems:
        raise SystemExit("the warehouse is not what the run should have left:\n  " + "\n  ".join(problems))


if __name__ == "__main__":
    main()
