"""Benchmark: post-to-queue latency, from a post's creation to its triage item on the care desk, for the
hourly crawl alone and with the care fast lane every few minutes (issue 15).

A seeded simulation of a day: posts arrive at random times (a Poisson process whose rate peaks in the
afternoon) on X, the source the fast lane collects (`playbook.fast_lane`), and on Mastodon, which the
hourly crawl collects. Which run collects a post follows the pipeline's rules:

- Each source is collected by one lane (`Config.lane_sources`): the fast lane's sources by the care_fast_lane
  DAG every `every_minutes`, every other source by the hourly social_listening DAG.
- A run for the window ending at t starts at t (`dags/social_listening.py`: the window ends at the data
  interval's end, and a run is due then). Every collector takes what was created before the window's end
  and after its cursor (X: `since_id` with `end_time` = the window's end; Mastodon: `min_id`, up to the
  window's end), so a post created at c is collected by the first run of its source's lane whose window
  ends after c.
- X refuses an `end_time` less than 10 s before the request, and the collector then waits until 11 s past
  the window's end (`collectors/x/transport.py`); this simulation assumes X's search has every post by then
  (none is skipped by a `since_id` that moved past it). A run
  that collects X starts its collect tasks `--hourly-collect-at` / `--fast-collect-at` seconds after the run
  starts (the run's creation and its plan task), so it waits max(0, 11 - that) seconds more.
- The run's care task commits the triage item `--hourly-seconds` / `--fast-seconds` after the run starts
  (docs/benchmarks.md, "Post-to-queue latency", says where the defaults come from).

The runs then go through the real code on a temporary warehouse: each run's posts are staged as its
collect tasks would stage them (`collectors.units.stage_unit`), enriched (`enrich.pipeline.enrich_unit`,
lexicon sentiment), loaded (`warehouse.load.load_run` with the run's window) and triaged
(`care.triage.CareStep` at the window's end, then the snapshot published, as the care task does), in the
order the runs start, under the warehouse run ids the DAGs give them. The latency is read back from the
snapshot the desk reads: the triage item's `opened_at` (the end of the window of the run that
first saw the mention) plus that run's time to its care commit, minus the mention's `published_at`.
The script checks that every post got exactly one item, opened at the window end the rules above give.

Usage:
    .venv/bin/python bench/post_to_queue_latency.py                         # a day, hourly / 10 / 5 / 2 min
    .venv/bin/python bench/post_to_queue_latency.py --days 7 --arithmetic   # a week, without the warehouse
    .venv/bin/python bench/post_to_queue_latency.py --x-posts 100 --mastodon-posts 30 --fast-every 5   # smoke
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from airflow_edge.lanes import warehouse_run_id
from care.triage import CareStep
from collectors.source_run import SourceRun
from collectors.units import CollectionUnit, plan_units, stage_unit
from config.model import LANES, Config
from core.mention import Mention
from core.staging import StagingArea
from enrich.pipeline import Enricher, enrich_unit
from warehouse.connection import open_warehouse, read_warehouse
from warehouse.load import load_run
from warehouse.snapshot import publish_snapshot

START = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday
HOURLY = timedelta(hours=1)
# X refuses an end_time less than 10 s before the request; the collector waits until 1 s past that.
X_END_TIME_READY_SECONDS = 11.0
# The afternoon peak: the hour's rate is the day's mean times 1 + PEAK_AMPLITUDE * cos(2π (hour - PEAK_HOUR) / 24).
PEAK_HOUR = 15.0
PEAK_AMPLITUDE = 0.6
PERCENTS = (50, 95)
TEXTS = (
    "@Brightwave outage again, no internet since this morning",
    "Is Brightwave down for anyone else? Outage in Leeds",
    "Brightwave outage #{n}: third time this week, fix it",
    "another Brightwave outage, working from the cafe today",
)
PLAYBOOK = {
    "categories": [{"name": "outage", "query": "outage", "severity": 0.6, "sla_minutes": 60}],
    "queues": [{"name": "care", "agents": [{"name": "ana"}, {"name": "bo"}]}],
    "default_queue": "care",
}


@dataclass(frozen=True)
class Lane:
    """A collection lane: its period, the sources its runs collect, and how long a run takes to its care commit.

    Attributes:
        name: the lane (`config.model.LANES`: `full` hourly, `care` the fast lane).
        period: the schedule's interval; runs start at multiples of it from midnight UTC.
        sources: the sources its runs collect (this benchmark names each source after its platform).
        seconds_to_care: seconds from a run's start to its care task's commit, before any wait for X.
        seconds_to_collect: seconds from a run's start to its collect tasks' start (the run's creation, the plan).
    """

    name: str
    period: timedelta
    sources: frozenset[str]
    seconds_to_care: float
    seconds_to_collect: float

    def window_end(self, created_at: datetime) -> datetime:
        """The end of the window that holds `created_at`: [end - period, end) starts the run that collects it."""
        elapsed = (created_at - START) // self.period
        return START + (elapsed + 1) * self.period

    @property
    def seconds_to_queue(self) -> float:
        """Seconds from a run's start to its triage items on the desk, with X's end_time wait when it collects X."""
        x_wait = max(0.0, X_END_TIME_READY_SECONDS - self.seconds_to_collect) if "x" in self.sources else 0.0
        return self.seconds_to_care + x_wait

    def run_id(self, window_end: datetime) -> str:
        """The warehouse run id of the scheduled run whose window ends at `window_end`."""
        return warehouse_run_id(self.name, f"scheduled__{window_end.isoformat()}")


@dataclass(frozen=True)
class Post:
    """A post as its platform creates it."""

    platform: str
    native_id: str
    created_at: datetime


@dataclass(frozen=True)
class Collected:
    """Which run collects a post: its lane and its window's end."""

    post: Post
    lane: Lane
    window_end: datetime


def arrivals(rng: random.Random, platform: str, per_day: float, days: int) -> list[Post]:
    """Posts of one platform over `days` days from START: a Poisson process of `per_day` a day on
    average, its rate peaking at PEAK_HOUR (thinning of a homogeneous process at the peak rate)."""
    peak_rate = per_day * (1 + PEAK_AMPLITUDE) / 86_400  # per second
    posts: list[Post] = []
    elapsed = 0.0
    while True:
        elapsed += rng.expovariate(peak_rate)
        if elapsed >= days * 86_400:
            return posts
        hour = (elapsed / 3600) % 24
        rate_share = (1 + PEAK_AMPLITUDE * math.cos(2 * math.pi * (hour - PEAK_HOUR) / 24)) / (1 + PEAK_AMPLITUDE)
        if rng.random() < rate_share:
            created = START + timedelta(seconds=round(elapsed, 3))
            posts.append(Post(platform, f"{platform}{len(posts):07d}", created))


def lanes_of(config: Config, timings: dict[str, tuple[float, float]]) -> list[Lane]:
    """The config's collection lanes: `full` hourly, and `care` every `playbook.fast_lane.every_minutes` when
    the playbook has a fast lane, each with its sources (`Config.lane_sources`).

    Args:
        config: the config.
        timings: by lane, (seconds to the care commit, seconds to the collect tasks) of its runs.
    """
    fast_lane = config.playbook.fast_lane if config.playbook else None
    periods = {"full": HOURLY, "care": timedelta(minutes=fast_lane.every_minutes) if fast_lane else None}
    return [
        Lane(lane, period, frozenset(source.name for source in config.lane_sources(lane)), *timings[lane])
        for lane in LANES if (period := periods[lane])
    ]


def collecting_runs(posts: Sequence[Post], lanes: Sequence[Lane]) -> list[Collected]:
    """For each post, the run that collects it: the first run of its source's lane whose window ends after it."""
    lane_of = {source: lane for lane in lanes for source in lane.sources}
    collected = []
    for post in posts:
        if post.platform not in lane_of:
            raise ValueError(f"no lane collects source {post.platform}: configure it")
        lane = lane_of[post.platform]
        collected.append(Collected(post, lane, lane.window_end(post.created_at)))
    return collected


def latency_seconds(collected: Collected) -> float:
    """Seconds from the post's creation to its triage item on the desk."""
    queued = collected.window_end + timedelta(seconds=collected.lane.seconds_to_queue)
    return (queued - collected.post.created_at).total_seconds()


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """p50, p95 and max, in seconds; a percentile is the nearest rank: the smallest latency that at least that
    share of the posts do not exceed."""
    p50, p95 = numpy.percentile(seconds, PERCENTS, method="inverted_cdf")
    return {"p50": float(p50), "p95": float(p95), "max": max(seconds)}


def bench_config(directory: Path, fast_every_minutes: int | None) -> Config:
    """A brand, an X and a Mastodon source, and a playbook with one category every simulated post matches;
    with `fast_every_minutes`, its fast lane collects X that often."""
    fast_lane = {"fast_lane": {"sources": ["x"], "every_minutes": fast_every_minutes}} if fast_every_minutes else {}
    return Config.model_validate({
        "warehouse": {"path": str(directory / "warehouse.duckdb")}, "staging": str(directory / "staging"),
        "brands": [{"name": "Brightwave", "aliases": ["Brightwave"]}],
        "sources": [{"kind": "x", "name": "x", "api_base_url": "http://127.0.0.1:9/x"},
                    {"kind": "mastodon", "name": "mastodon", "instances": ["http://127.0.0.1:9/"]}],
        "sentiment": {"backend": "lexicon"},
        "playbook": PLAYBOOK | fast_lane,
    })


def mention_of(post: Post) -> Mention:
    """The mention a collector makes of a simulated post."""
    number = int(post.created_at.timestamp())  # picks a text and an author
    return Mention(
        platform=post.platform, source=post.platform, native_id=post.native_id,
        url=f"https://{post.platform}.example/{post.native_id}", text=TEXTS[number % len(TEXTS)].format(n=number),
        author_handle=f"customer{number % 97}", published_at=post.created_at,
    )


def run_through_warehouse(config: Config, collected: Sequence[Collected]) -> dict[str, float]:
    """Stage, enrich, load and triage each run's posts in the order the runs start; return each mention's
    latency as the desk sees it (opened_at plus its run's time to the care commit, minus published_at)."""
    units = {unit.sources[0]: unit for unit in plan_units(config)}
    runs: dict[tuple[datetime, str], list[Post]] = defaultdict(list)
    lanes = {c.lane.name: c.lane for c in collected}
    for c in collected:
        runs[(c.window_end, c.lane.name)].append(c.post)
    enricher = Enricher(config)
    for (window_end, lane_name), posts in sorted(runs.items()):
        lane = lanes[lane_name]
        run_id = lane.run_id(window_end)
        staging = StagingArea(config.staging, run_id)
        enriched = []
        for source in sorted(lane.sources):
            unit: CollectionUnit = units[source]
            mentions = [mention_of(post) for post in posts if post.platform == source]
            source_run = SourceRun(source=source, kind=unit.kind, status="ok", mentions=mentions,
                                   items_fetched=len(mentions))
            enriched.append(enrich_unit(config, stage_unit(staging, unit, [source_run]), staging, enricher))
        # The DAGs' window: it ends at the run's data interval end and reaches back an hour at least.
        load_run(config.warehouse.path, run_id, (window_end - max(lane.period, HOURLY), window_end), enriched)
        with open_warehouse(config.warehouse.path) as connection:  # the care task, as dags/social_listening.py runs it
            CareStep(connection, config, run_id, window_end).run()
            publish_snapshot(connection, config.warehouse.path, run_id)
    desk_view = read_warehouse(config.warehouse.path)  # the snapshot the desk reads
    if desk_view is None:
        raise SystemExit("no run created the warehouse: the simulation collected no post (raise --x-posts)")
    with desk_view:
        rows = desk_view.execute(
            """SELECT m.mention_key, t.opened_at, m.first_run_id, m.published_at
               FROM triage_items t JOIN mentions m USING (mention_key)"""
        ).fetchall()
    expected = {f"{c.post.platform}:{c.post.native_id}": c for c in collected}
    if len(rows) != len(expected) or {row[0] for row in rows} != set(expected):
        raise SystemExit(f"triage opened {len(rows)} items for {len(expected)} posts: "
                         "the simulation and the care step disagree")
    latencies = {}
    for key, opened_at, first_run_id, published_at in rows:
        c = expected[key]
        if opened_at != c.window_end or first_run_id != c.lane.run_id(c.window_end):
            raise SystemExit(f"{key}: opened at {opened_at} by {first_run_id}, the rules say {c.window_end} by "
                             f"{c.lane.run_id(c.window_end)}")
        latencies[key] = (opened_at - published_at).total_seconds() + c.lane.seconds_to_queue
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--x-posts", type=float, default=1000, help="X posts a day (the fast lane's platform)")
    parser.add_argument("--mastodon-posts", type=float, default=300, help="Mastodon posts a day (hourly crawl only)")
    parser.add_argument("--fast-every", type=int, nargs="*", default=[10, 5, 2], help="fast-lane periods, minutes")
    parser.add_argument("--hourly-seconds", type=float, default=26.0,
                        help="an hourly run's start to its care commit (docs/benchmarks.md, 'Post-to-queue latency')")
    parser.add_argument("--hourly-collect-at", type=float, default=4.0,
                        help="an hourly run's start to its collect tasks")
    parser.add_argument("--fast-seconds", type=float, default=31.6,
                        help="a fast-lane run's start to its care commit ('The care fast lane's cycle')")
    parser.add_argument("--fast-collect-at", type=float, default=4.3,
                        help="a fast-lane run's start to its collect tasks")
    parser.add_argument("--arithmetic", action="store_true", help="the rules only, without the warehouse")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    posts = arrivals(rng, "x", args.x_posts, args.days) + arrivals(rng, "mastodon", args.mastodon_posts, args.days)
    timings = {"full": (args.hourly_seconds, args.hourly_collect_at), "care": (args.fast_seconds, args.fast_collect_at)}
    counts = {platform: sum(post.platform == platform for post in posts) for platform in ("x", "mastodon")}
    print(f"seed {args.seed}, {args.days} day(s) from {START:%Y-%m-%d}: {counts['x']} X posts, {counts['mastodon']} "
          f"Mastodon posts; a run's care commit after its start (X's end_time wait included): hourly "
          f"{args.hourly_seconds:g} s, +{X_END_TIME_READY_SECONDS - args.hourly_collect_at:g} s with X; fast lane "
          f"{args.fast_seconds:g} s +{X_END_TIME_READY_SECONDS - args.fast_collect_at:g} s")
    print("| schedule | platform | posts | p50 min | p95 min | max min | runs | warehouse s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for minutes in [None, *args.fast_every]:
        name = f"fast lane every {minutes} min" if minutes else "hourly only"
        with tempfile.TemporaryDirectory(prefix="overheard-latency-") as directory:
            config = bench_config(Path(directory), minutes)
            collected = collecting_runs(posts, lanes_of(config, timings))
            latencies = {f"{c.post.platform}:{c.post.native_id}": latency_seconds(c) for c in collected}
            seconds = ""
            if not args.arithmetic:
                started = time.perf_counter()
                measured = run_through_warehouse(config, collected)
                seconds = f"{time.perf_counter() - started:.0f}"
                if any(abs(measured[key] - latencies[key]) > 0.001 for key in latencies):
                    raise SystemExit(f"{name}: the warehouse's latencies differ from the rules'")
                latencies = measured
        runs = len({(c.lane.name, c.window_end) for c in collected})
        for platform in ("x", "mastodon"):
            values = [value for key, value in latencies.items() if key.startswith(f"{platform}:")]
            summary = latency_summary(values)
            print(f"| {name} | {platform} | {len(values)} | {summary['p50'] / 60:.1f} | {summary['p95'] / 60:.1f} | "
                  f"{summary['max'] / 60:.1f} | {runs} | {seconds} |")

if __name__ == "__main__":
    main()
