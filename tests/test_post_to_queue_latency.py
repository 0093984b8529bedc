"""The post-to-queue latency benchmark's rules, on cases worked out by hand, and through the real warehouse."""

from __future__ import annotations

from datetime import timedelta

from bench.post_to_queue_latency import (
    HOURLY,
    START,
    Lane,
    Post,
    collecting_runs,
    latency_seconds,
    latency_summary,
    run_through_warehouse,
)

# The hourly crawl collects X and Mastodon; its care commits 26 s after its start, its collect tasks start 4 s
# in, so X's end_time (the window's end) is accepted 11 s past it: 7 s more, 33 s in all.
HOURLY_LANE = Lane("hourly", HOURLY, frozenset({"x", "mastodon"}), seconds_to_care=26, seconds_to_collect=4)
# The fast lane every 5 minutes collects X; care 18 s after its start, collect 7 s in: 4 s of X's wait, 22 s.
FAST_LANE = Lane("fast5", timedelta(minutes=5), frozenset({"x"}), seconds_to_care=18, seconds_to_collect=7)


def at(hours: int, minutes: int, seconds: int = 0) -> Post:
    """An X post created at that time of START's day."""
    created = START + timedelta(hours=hours, minutes=minutes, seconds=seconds)
    return Post("x", f"x{hours:02d}{minutes:02d}{seconds:02d}", created)


def test_a_post_waits_for_the_end_of_its_window_and_then_its_run_to_the_care_commit():
    assert HOURLY_LANE.seconds_to_queue == 33 and FAST_LANE.seconds_to_queue == 22
    mastodon = Post("mastodon", "m1", START + timedelta(hours=10, minutes=2, seconds=30))
    posts = [at(10, 2, 30), at(10, 58), at(10, 5), mastodon]
    collected = collecting_runs(posts, [HOURLY_LANE, FAST_LANE])

    assert [(c.lane.name, c.window_end - START) for c in collected] == [
        ("fast5", timedelta(hours=10, minutes=5)),
        # 11:00 ends both lanes' windows: the fast run queues it 11 s sooner, and takes it (shared cursor).
        ("fast5", timedelta(hours=11)),
        # created on a window's edge: [10:05, 10:10) holds it.
        ("fast5", timedelta(hours=10, minutes=10)),
        ("hourly", timedelta(hours=11)),
    ]
    assert [latency_seconds(c) for c in collected] == [150 + 22, 120 + 22, 300 + 22, 57 * 60 + 30 + 33]
    # Without the fast lane, the X post of 10:02:30 waits for the hourly run of 11:00.
    assert latency_seconds(collecting_runs(posts[:1], [HOURLY_LANE])[0]) == 57 * 60 + 30 + 33


def test_percentiles_are_nearest_rank():
    assert latency_summary([float(n) for n in range(20, 0, -1)]) == {"p50": 10.0, "p95": 19.0, "max": 20.0}


def test_the_warehouse_opens_each_item_at_its_runs_window_end(tmp_path):
    posts = [at(10, 2, 30), at(10, 58), Post("mastodon", "m1", START + timedelta(hours=10, minutes=2, seconds=30))]
    collected = collecting_runs(posts, [HOURLY_LANE, FAST_LANE])

    latencies = run_through_warehouse(collected, tmp_path)

    assert latencies == {"x:x100230": 172.0, "x:x105800": 142.0, "mastodon:m1": 3483.0}
