"""Benchmark: a week's themes for 200,000 mentions of one brand, read from and written to a DuckDB warehouse.

    nice -n 10 .venv/bin/python bench/themes_speed.py                      # 200,000 mentions
    nice -n 10 .venv/bin/python bench/themes_speed.py --mentions 20000     # smoke check

The mentions are bench/themes_corpus.py's labelled posts (8 topics, 30% real tweets as noise), all of one
brand, spread over one ISO week (2026-W45, Europe/London) of a fresh warehouse; inserting them is not timed.
Timed: `warehouse.themes.refresh_week_themes`, as the pipeline's themes step runs it for a week (read the
week's earned mentions of each brand, `enrich.themes.find_themes`, count, match with the week before,
write `themes` and `mention_themes`), twice: the second run must write the same rows (themes are
deterministic). Also printed: the adjusted Rand index of the themes against the topics (noise and the
unthemed each one more class) and the peak RSS. The last line is `seconds=<first run> ari=<ari>`; the goal
is under 60 s on this 2-core machine.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sklearn.metrics import adjusted_rand_score

from bench.themes_corpus import BRAND, labelled_posts
from warehouse.connection import open_warehouse
from warehouse.themes import ThemeWeek, refresh_week_themes

WEEK = ThemeWeek("2026-W45", datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 9, tzinfo=UTC))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mentions", type=int, default=200_000)
    arguments = parser.parse_args()
    posts = labelled_posts(arguments.mentions, seed=45)
    keys = [f"x:{n:07d}" for n in range(len(posts))]
    spacing = (WEEK.end - WEEK.start) / len(posts)
    with tempfile.TemporaryDirectory() as folder, open_warehouse(Path(folder) / "w.duckdb") as connection:
        connection.execute(
            """INSERT INTO mentions (mention_key, platform, source, text, author_handle, published_at, sentiment_label,
                   reach_estimate, is_owned, first_run_id, first_seen_at, last_run_id, last_seen_at)
               SELECT key, 'x', 'x', text, 'user' || (n % 50000), $start + n * $spacing,
                      ['negative', 'neutral', 'positive'][n % 3 + 1], 100 + n % 1000, false, 'r', $end, 'r', $end
               FROM (SELECT unnest($keys) AS key, unnest($texts) AS text, unnest(range(len($keys))) AS n)""",
            {"keys": keys, "texts": [post.text for post in posts], "start": WEEK.start, "end": WEEK.end,
             "spacing": timedelta(microseconds=spacing // timedelta(microseconds=1))},
        )
        connection.execute("INSERT INTO mention_brands (mention_key, brand, role, matched_terms) "
                           "SELECT mention_key, ?, 'brand', [] FROM mentions", [BRAND])
        timings = []
        snapshots = []
        for _ in range(2):
            started = time.perf_counter()
            themes = refresh_week_themes(connection, WEEK)
            timings.append(time.perf_counter() - started)
            snapshots.append((connection.execute("SELECT * EXCLUDE (week_start, week_end) FROM themes ORDER BY theme_id").fetchall(),
                              connection.execute("SELECT * FROM mention_themes ORDER BY mention_key").fetchall()))
        labels = connection.execute("SELECT label, mentions FROM themes ORDER BY rank").fetchall()
        found = dict(connection.execute("SELECT mention_key, theme_id FROM mention_themes").fetchall())
    ari = adjusted_rand_score([post.topic or "(noise)" for post in posts], [found.get(key, "") for key in keys])
    print(f"{len(posts):,} mentions of {BRAND} in {WEEK.label}: {themes} themes")
    for label, mentions in labels:
        print(f"  {mentions:>7,}  {label}")
    print(f"runs: {', '.join(f'{seconds:.1f} s' for seconds in timings)}; same rows both runs: {snapshots[0] == snapshots[1]}")
    print(f"themed: {len(found):,} of {len(posts):,}; peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB")
    print(f"seconds={timings[0]:.1f} ari={ari:.3f}")


if __name__ == "__main__":
    main()
