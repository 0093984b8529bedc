"""What the Celery deployment does when a worker dies or the broker goes away in the middle of a run.

Each run collects two feeds served by the test on 127.0.0.1: `slow` answers its first request late (the
moment the test acts on), `steady` at once. Every item names Brightwave, so every item is a mention:
after the run the warehouse must hold each item exactly once.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.distributed.conftest import WrittenConfig, write_config
from tests.local_http import LocalHttpServer, Reply, Request

pytestmark = pytest.mark.distributed  # `make test-distributed` only

RSS = {"Content-Type": "application/rss+xml"}


def feed(name: str, items: int, window_end: datetime) -> tuple[bytes, set[str]]:
    """An RSS feed of `items` entries naming Brightwave, published in the hour before `window_end`; and their links."""
    links = {f"https://{name}.example/{window_end:%Y%m%d}/{number}" for number in range(items)}
    entries = "".join(
        f"<item><title>Brightwave story {number} on {name}</title><link>https://{name}.example/{window_end:%Y%m%d}/{number}</link>"
        f"<guid>https://{name}.example/{window_end:%Y%m%d}/{number}</guid>"
        f"<description>Brightwave broadband item {number} from {name}.</description>"
        f"<pubDate>{format_datetime(window_end - timedelta(minutes=50 - 5 * number))}</pubDate></item>"
        for number in range(items)
    )
    body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title><link>https://{name}.example/</link>{entries}</channel></rss>'
    return body.encode("utf-8"), links


def feeds_config(runs_folder: Path, name: str, server: LocalHttpServer, bucket: str) -> WrittenConfig:
    """A config watching Brightwave on the test's two feeds, staging in the deployment's bucket."""
    document: dict[str, Any] = {
        "timezone": "UTC",
        "brands": [{"name": "Brightwave", "aliases": ["Brightwave"]}],
        "sources": [
            {"kind": "rss", "name": "slow", "url": f"{server.base_url}/slow.xml"},
            {"kind": "rss", "name": "steady", "url": f"{server.base_url}/steady.xml"},
        ],
        "http": {"politeness_delay_seconds": 0, "max_retries": 0, "timeout_seconds": 60},
        "sentiment": {"backend": "lexicon"},
    }
    return write_config(runs_folder, name, document, f"s3://{bucket}/{name}")


def first_late(delay: float, body: bytes) -> Callable[[Request], Reply]:
    """A route answering its first request after `delay` seconds and every later one at once."""
    seen: list[Request] = []

    def reply(request: Request) -> Reply:
        seen.append(request)
        return Reply(200, body, RSS, delay=delay if len(seen) == 1 else 0.0)

    return reply


def wait_until(what: str, condition: Callable[[], Any], timeout_seconds: float) -> Any:
    """Poll `condition` every half second until it gives something true; returns it."""
    deadline = time.monotonic() + timeout_seconds
    while not (found := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout_seconds:g} s")
        time.sleep(0.5)
    return found


def warehouse_links(warehouse: Path) -> list[str]:
    """The URL of every mention in a warehouse, duplicates included."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return [row[0] for row in connection.execute("SELECT url FROM mentions ORDER BY url").fetchall()]


def test_a_worker_killed_in_a_collect_task_gets_it_retried_on_the_other(
    deployment: ModuleType, runs_folder: Path
) -> None:
    window_end = datetime(2026, 11, 9, 12, tzinfo=UTC)
    slow_body, slow_links = feed("slow", 5, window_end)
    steady_body, steady_links = feed("steady", 3, window_end)
    with LocalHttpServer() as server:
        server.route("/slow.xml", first_late(300, slow_body))  # the first try never gets its answer
        server.route("/steady.xml", Reply(200, steady_body, RSS))
        config = feeds_config(runs_folder, "worker-kill", server, deployment.S3_BUCKET)
        started = time.monotonic()
        run_id = deployment.trigger(window_end.isoformat(), str(config.path))

        wait_until("the unit task's request", lambda: server.requests_for("/slow.xml"), 600)
        victim = wait_until("the unit task's worker", lambda: running_host(deployment, run_id, "collect_and_enrich"), 60)
        killed = time.monotonic()
        deployment.signal_process(victim, signal.SIGKILL)
        survivor = wait_until("the unit task's retry", lambda: running_host(deployment, run_id, "collect_and_enrich", 2), 600)
        retried_after = time.monotonic() - killed
        deployment.restart(victim)  # the lost machine comes back (the warehouse tasks need it when it served them)
        state = deployment.wait_for_run(run_id, timeout_seconds=1200)
        took = time.monotonic() - started
        slow_requests = len(server.requests_for("/slow.xml"))

    tries = deployment.task_tries(run_id)
    print(f"\nworker kill: {victim} killed, collect retried on {survivor} {retried_after:.0f} s later; run {took:.0f} s")
    assert state == "success"
    collect = sorted((attempt["try_number"], attempt["hostname"], attempt["state"])
                     for attempt in tries if attempt["task_id"] == "collect_and_enrich")
    assert collect == [(1, victim, "failed"), (2, survivor, "success")]
    assert survivor != victim
    assert slow_requests == 2
    # Nothing lost, nothing doubled.
    assert warehouse_links(config.warehouse) == sorted(slow_links | steady_links)


def test_redis_stopped_for_30_seconds_delays_the_run_and_loses_nothing(
    deployment: ModuleType, runs_folder: Path
) -> None:
    baseline_seconds = undisturbed_run_seconds(deployment, runs_folder)
    window_end = datetime(2026, 11, 16, 12, tzinfo=UTC)
    slow_body, slow_links = feed("slow", 5, window_end)
    steady_body, steady_links = feed("steady", 3, window_end)
    with LocalHttpServer() as server:
        server.route("/slow.xml", first_late(10, slow_body))  # the collect task ends while Redis is down
        server.route("/steady.xml", Reply(200, steady_body, RSS))
        config = feeds_config(runs_folder, "redis-stop", server, deployment.S3_BUCKET)
        started = time.monotonic()
        run_id = deployment.trigger(window_end.isoformat(), str(config.path))

        wait_until("the unit task's request", lambda: server.requests_for("/slow.xml"), 600)
        deployment.signal_process("redis", signal.SIGTERM)
        stopped = time.monotonic()
        time.sleep(30)
        deployment.restart("redis")
        outage = time.monotonic() - stopped
        state = deployment.wait_for_run(run_id, timeout_seconds=1200)
        took = time.monotonic() - started
        slow_requests = len(server.requests_for("/slow.xml"))

    tries = deployment.task_tries(run_id)
    print(f"\nredis stop: broker down {outage:.0f} s during the run; run {took:.0f} s "
          f"(the same run undisturbed: {baseline_seconds:.0f} s)")
    for attempt in tries:
        print(f"  {attempt['task_id']}[{attempt['map_index']}] try {attempt['try_number']} {attempt['state']} "
              f"on {attempt['hostname']} {attempt['start_date']} - {attempt['end_date']}")
    assert state == "success"
    assert took > outage
    # No task failed or ran twice: one try each, all successful.
    assert all(attempt["try_number"] == 1 and attempt["state"] == "success" for attempt in tries), tries
    assert slow_requests == 1
    assert warehouse_links(config.warehouse) == sorted(slow_links | steady_links)


def undisturbed_run_seconds(deployment: ModuleType, runs_folder: Path) -> float:
    """How long the Redis test's run takes with nothing stopped (another week, its own warehouse)."""
    window_end = datetime(2026, 11, 23, 12, tzinfo=UTC)
    slow_body, slow_links = feed("slow", 5, window_end)
    steady_body, steady_links = feed("steady", 3, window_end)
    with LocalHttpServer() as server:
        server.route("/slow.xml", first_late(10, slow_body))
        server.route("/steady.xml", Reply(200, steady_body, RSS))
        config = feeds_config(runs_folder, "undisturbed", server, deployment.S3_BUCKET)
        started = time.monotonic()
        state = deployment.wait_for_run(deployment.trigger(window_end.isoformat(), str(config.path)), 1200)
        took = time.monotonic() - started
    assert state == "success"
    assert warehouse_links(config.warehouse) == sorted(slow_links | steady_links)
    return took


def running_host(deployment: ModuleType, run_id: str, task_id: str, try_number: int = 1) -> str | None:
    """The worker running try `try_number` of a task of the run, None while none is."""
    with deployment.metadata() as cursor:
        cursor.execute(
            "SELECT hostname FROM task_instance WHERE run_id = %s AND task_id = %s AND try_number = %s "
            "AND state IN ('running', 'success') AND hostname <> ''", (run_id, task_id, try_number))
        row = cursor.fetchone()
    return None if row is None else str(row[0])
