"""The post-to-queue latency benchmark's rules, on cases worked out by hand, and through the real warehouse."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bench.post_to_queue_latency import (
    START,
    Post,
    bench_config,
    collecting_runs,
    lanes_of,
    latency_seconds,
    latency_summary,
    run_through_warehouse,
)

# An hourly run's care commits 26 s after its start and its collect tasks start 4 s in, so when it collects X
# it waits until X accepts its end_time (11 s past the window's end): 7 s more, 33 s in all. A fast-lane run:
# care at 18 s, collect at 7 s: 4 s of X's wait, 22 s.
TIMINGS = {"full": (26.0, 4.0), "care": (18.0, 7.0)}


def at(hours: int, minutes: int, seconds: int = 0, platform: str = "x") -> Post:
    """A post created at that time of START's day."""
    created = START + timedelta(hours=hours, minutes=minutes, seconds=seconds)
    return Post(platform, f"{platform}{hours:02d}{minutes:02d}{seconds:02d}", created)


def test_each_source_waits_for_the_end_of_its_lanes_window_then_the_run_to_its_care_commit(tmp_path: Path):
    posts = [at(10, 2, 30), at(10, 58), at(10, 5), at(10, 2, 30, "mastodon")]

    hourly_only = lanes_of(bench_config(tmp_path, None), TIMINGS)
    assert [(lane.name, sorted(lane.sources), lane.seconds_to_queue) for lane in hourly_only] == [
        ("full", ["mastodon", "x"], 33.0)]
    collected = collecting_runs(posts, hourly_only)
    assert [c.window_end - START for c in collected] == [timedelta(hours=11)] * 4
    assert [latency_seconds(c) for c in collected] == [57 * 60 + 30 + 33, 2 * 60 + 33, 55 * 60 + 33, 57 * 60 + 30 + 33]

    # With the fast lane every 5 minutes X leaves the hourly run, which then no longer waits for X (26 s).
    with_fast_lane = lanes_of(bench_config(tmp_path, 5), TIMINGS)
    assert [(lane.name, sorted(lane.sources), lane.seconds_to_queue) for lane in with_fast_lane] == [
        ("full", ["mastodon"], 26.0), ("care", ["x"], 22.0)]
    collected = collecting_runs(posts, with_fast_lane)
    assert [(c.lane.name, c.window_end - START) for c in collected] == [
        ("care", timedelta(hours=10, minutes=5)),
        ("care", timedelta(hours=11)),
        ("care", timedelta(hours=10, minutes=10)),  # created on a window's edge: the next window holds it
        ("full", timedelta(hours=11)),
    ]
    assert [latency_seconds(c) for c in collected] == [150 + 22, 120 + 22, 300 + 22, 57 * 60 + 30 + 26]


def test_percentiles_are_nearest_rank():
    assert latency_summary([float(n) for n in range(20, 0, -1)]) == {"p50": 10.0, "p95": 19.0, "max": 20.0}


def test_the_desk_sees_each_item_opened_at_its_runs_window_end(tmp_path: Path):
    config = bench_config(tmp_path, 5)
    collected = collecting_runs([at(10, 2, 30), at(10, 58), at(10, 2, 30, "mastodon")], lanes_of(config, TIMINGS))

    latencies = run_through_warehouse(config, collected)

    assert latencies == {"x:x100230": 172.0, "x:x105800": 142.0, "mastodon:mastodon100230": 3476.0}
