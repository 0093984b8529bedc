"""Benchmark: what collecting a platform source costs per mention, for the scaling table (issue 15).

Serves N posts naming a brand (real tweet texts from ../shared/data/sentiment/train.tsv, 500 authors)
from the demo's fake X API v2 (`demo.fake_apis.x_api.FakeXApi`, the recent-search wire format, 100 posts a
page) in a child process on 127.0.0.1, then collects them as a collect task does:
`collectors.units.collect_unit` on the X source's unit (first run: the whole window, every page) and
`collectors.units.stage_unit` (the JSONL the enrich task reads). Timed: wall time and this process's CPU
seconds (user + system; the server's are its own process's), over `--repeat` runs into fresh staging.
A second pass asks again with the cursor the first left: the idle poll ("nothing since your since_id").

Politeness between requests to one host is 0 here (the fake API is on one host); wall time against a
real API is set by its latency and rate limits (X: 450 searches per 15 minutes for an app), not measured.

The last line: `mentions_per_cpu_second=<x> idle_poll_cpu_s=<y>`.

Usage:
    .venv/bin/python bench/platform_collect_cost.py                 # 10,000 posts, 3 runs, about 30 s
    .venv/bin/python bench/platform_collect_cost.py --posts 1000 --repeat 1   # smoke check
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collectors.units import collect_unit, plan_units, stage_unit
from config.model import Config
from core.staging import StagingArea
from demo.fake_apis.x_api import FakeXApi, snowflake_id

TWEETS = Path(__file__).resolve().parents[2] / "shared" / "data" / "sentiment" / "train.tsv"
TOKEN = "bench-bearer-token"
WINDOW = (datetime(2026, 11, 2, 11, tzinfo=UTC), datetime(2026, 11, 2, 12, tzinfo=UTC))
AUTHORS = 500


def posts_and_users(count: int, seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """`count` posts in the recent-search wire format, spread over WINDOW, each naming Brightwave."""
    rng = random.Random(seed)
    texts = [line.rsplit("\t", 1)[0] for line in TWEETS.read_text(encoding="utf-8").splitlines() if "\t" in line]
    users = [
        {"id": str(1_400_000_000_000_000_000 + n), "username": f"customer{n}", "name": f"Customer {n}",
         "verified": False, "public_metrics": {"followers_count": rng.randint(0, 5000), "following_count": 100,
                                               "tweet_count": 1000, "listed_count": 0}}
        for n in range(AUTHORS)
    ]
    span = (WINDOW[1] - WINDOW[0]).total_seconds() - 1
    posts = []
    for n in range(count):
        created = WINDOW[0] + timedelta(seconds=span * n / count)
        post_id = snowflake_id(created, n % 4096)
        posts.append({
            "id": post_id, "text": f"Brightwave {rng.choice(texts)}", "author_id": users[n % AUTHORS]["id"],
            "created_at": created.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "lang": "en", "conversation_id": post_id,
            "public_metrics": {"retweet_count": rng.randint(0, 5), "reply_count": rng.randint(0, 5),
                               "like_count": rng.randint(0, 50), "quote_count": 0,
                               "impression_count": rng.randint(0, 5000)},
        })
    return posts, users


def serve(posts: list[dict[str, Any]], users: list[dict[str, Any]], pipe: Connection) -> None:
    """The fake X API in this (child) process until the parent says stop."""
    clock = WINDOW[1] + timedelta(minutes=1)  # X's recent search reaches 7 days back from its clock
    with FakeXApi(posts, users, bearer_token=TOKEN, now=clock, requests_per_window=1_000_000) as api:
        pipe.send(api.base_url)
        pipe.recv()


def cpu_seconds() -> float:
    """This process's CPU seconds so far, user + system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()

    posts, users = posts_and_users(args.posts, args.seed)
    ours, theirs = multiprocessing.Pipe()
    server = multiprocessing.Process(target=serve, args=(posts, users, theirs), daemon=True)
    server.start()
    base_url = ours.recv()
    credentials: dict[str, dict[str, Any]] = {
        "twitter_default": {"login": None, "password": TOKEN, "host": None, "extra": {}},
    }
    runs: list[tuple[float, float]] = []
    idle: list[tuple[float, float]] = []
    try:
        for repetition in range(args.repeat):
            with tempfile.TemporaryDirectory(prefix="overheard-collect-") as directory:
                config = Config.model_validate({
                    "warehouse": {"path": f"{directory}/w.duckdb"}, "staging": f"{directory}/staging",
                    "brands": [{"name": "Brightwave", "aliases": ["Brightwave"]}],
                    "sources": [{"kind": "x", "name": "x", "api_base_url": base_url, "max_posts_per_run": 10_000}],
                    "http": {"politeness_delay_seconds": 0},
                })
                (unit,) = plan_units(config)
                wall, cpu = time.perf_counter(), cpu_seconds()
                (outcome,) = collect_unit(config, unit, {}, WINDOW, credentials)
                stage_unit(StagingArea(config.staging, f"bench-{repetition}"), unit, [outcome])
                runs.append((time.perf_counter() - wall, cpu_seconds() - cpu))
                if outcome.status != "ok" or len(outcome.mentions) != args.posts:
                    raise SystemExit(f"collected {len(outcome.mentions)} of {args.posts} posts ({outcome.status}: "
                                     f"{outcome.error}); the benchmark measures nothing")
                wall, cpu = time.perf_counter(), cpu_seconds()
                (again,) = collect_unit(config, unit, {"x": outcome.cursor}, WINDOW, credentials)
                idle.append((time.perf_counter() - wall, cpu_seconds() - cpu))
                if again.mentions:
                    raise SystemExit(f"the second pass collected {len(again.mentions)} posts again: "
                                     "its cursor was not used")
    finally:
        ours.send("stop")
        server.join(timeout=10)
    cpu_median = statistics.median(cpu for _, cpu in runs)
    print(f"{args.posts} posts, {-(-args.posts // 100)} pages of 100")
    print("| pass | wall s (runs) | CPU s (runs) | mentions per CPU-second (median) |")
    print("|---|---|---|---:|")
    for name, passes, places, rate in (("collect and stage", runs, 2, f"{args.posts / cpu_median:,.0f}"),
                                       ("idle poll (since_id)", idle, 3, "")):
        walls = ", ".join(f"{wall:.{places}f}" for wall, _ in passes)
        cpus = ", ".join(f"{cpu:.{places}f}" for _, cpu in passes)
        print(f"| {name} | {walls} | {cpus} | {rate} |")
    idle_cpu = statistics.median(cpu for _, cpu in idle)
    print(f"mentions_per_cpu_second={args.posts / cpu_median:.0f} idle_poll_cpu_s={idle_cpu:.3f}")


if __name__ == "__main__":
    main()
