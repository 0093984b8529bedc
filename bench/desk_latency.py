"""Benchmark: the care desk's inbox and item page under load, and a desk action during a big load.

1. Builds a warehouse with N open triage items (100,000 by default) on a care queue of 50 agents, and
   serves the desk from it (`desk.app.create_app` under uvicorn, in a child process, as
   `overheard desk` runs it).
2. Fifty signed-in agents poll their inbox's rows every 5 seconds, as their open inboxes do, while
   one lead loads the inbox page and item pages one after the other: p50 and p95 of each, in ms.
   Goal (issue 12): p95 of the inbox page under 200 ms.
3. Stages a run of M synthetic mentions (1,000,000 by default, `bench/upsert_mentions.py`'s
   generator) and loads it into the same warehouse with `warehouse.load.load_run` in a child process,
   which holds DuckDB's write lock for the load. During the load an agent signs in and claims an item:
   how long the sign-in and the claim take to answer, when the claim's author sees it (the item's
   status panel), when the claim is applied to the warehouse and visible in the published snapshot,
   and when the sign-in is in the warehouse's audit trail.

Usage:
    .venv/bin/python bench/desk_latency.py                                       # 100,000 items, 1M load
    .venv/bin/python bench/desk_latency.py --items 5000 --load-rows 20000 --requests 50   # smoke check
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.upsert_mentions import generate
from config.model import Config
from desk.accounts import desk_people, set_password
from desk.state import DeskState, desk_state_path
from warehouse.connection import open_warehouse, read_warehouse
from warehouse.snapshot import publish_snapshot

AGENTS = [f"agent{n:02d}" for n in range(1, 51)]
PASSWORD = "bench-password"
POLL_SECONDS = 5.0
_SERVE = """
import sys, uvicorn
from config import load_config
from cli.desk import KEEP_ALIVE_SECONDS
from desk.app import create_app
uvicorn.run(create_app(load_config(sys.argv[1])), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning",
            timeout_keep_alive=KEEP_ALIVE_SECONDS)
"""
_LOAD = """
import json, sys
from bench.upsert_mentions import RUN_ID, WINDOW
from warehouse.load import load_run
manifests = json.loads(open(sys.argv[2]).read())
print("loading", flush=True)
load_run(sys.argv[1], RUN_ID, WINDOW, manifests, memory_limit="4GB")
print("loaded", flush=True)
"""
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def bench_config(workdir: Path) -> Config:
    """A playbook with one care queue of 50 agents and a lead."""
    return Config.model_validate({
        "warehouse": {"path": str(workdir / "desk.duckdb")}, "staging": str(workdir / "staging"),
        "brands": [{"name": "Brightwave", "aliases": ["Brightwave"]}],
        "sources": [{"kind": "rss", "name": "news", "url": "https://n.example/feed"}],
        "playbook": {
            "categories": [{"name": "complaint", "query": "outage", "sla_minutes": 60}],
            "queues": [{"name": "care", "agents": [{"name": name} for name in AGENTS]}, {"name": "sales"}],
            "default_queue": "care", "leads": ["lead"],
        },
    })


def build_warehouse(config: Config, items: int) -> None:
    """N open triage items with their mentions (one in 50 escalated), published as the snapshot."""
    now = datetime.now(UTC)
    with open_warehouse(config.warehouse.path) as warehouse:
        warehouse.execute(
            """
            INSERT INTO mentions (mention_key, platform, source, native_id, url, text, author_handle, author_followers,
                published_at, lang, sentiment_label, sentiment_score, reach_estimate, is_owned, first_run_id,
                first_seen_at, last_run_id, last_seen_at)
            SELECT 'x:' || i, 'x', 'x', i::VARCHAR, 'https://x.com/u/status/' || i,
                   'Brightwave outage again in street ' || (i % 977) || ', day ' || (i % 31) || ' of no service',
                   'user' || (i % 20000), (i * 37) % 100000, $now - to_minutes(i % 2880), 'en', 'negative', -0.5,
                   1000 + i % 5000, false, 'bench', $now - to_minutes(i % 2880), 'bench', $now - to_minutes(i % 2880)
            FROM range($items) AS t(i)
            """,
            {"now": now, "items": items},
        )
        warehouse.execute(
            "INSERT INTO mention_brands (mention_key, brand, role, matched_terms) SELECT 'x:' || i, 'Brightwave', 'brand', ['Brightwave'] FROM range(?) AS t(i)",
            [items],
        )
        warehouse.execute(
            """
            INSERT INTO triage_items (mention_key, brand, category, queue, routed_by, priority, priority_model,
                escalated, status, assignee, required_skills, opened_at, sla_minutes, due_at, updated_at)
            SELECT 'x:' || i, 'Brightwave', 'complaint', 'care', 'default_queue', (i * 7919 % 1000) / 1000.0,
                   'priority-v1', i % 50 = 0, 'open', 'agent' || lpad(CAST(i % 50 + 1 AS VARCHAR), 2, '0'), [],
                   $now - to_minutes(i % 2880), 60, $now - to_minutes(i % 2880) + INTERVAL 60 MINUTE, $now
            FROM range($items) AS t(i)
            """,
            {"now": now, "items": items},
        )
        publish_snapshot(warehouse, config.warehouse.path, "bench")
    assert config.playbook is not None
    state = DeskState(desk_state_path(config.warehouse.path))
    people = desk_people(config.playbook)
    for name in ["lead", *AGENTS]:
        set_password(state, people, name, PASSWORD, now)
    state.item_numbers([f"x:{i}" for i in range(0, items, max(1, items // 2000))])


def sign_in(base: str, name: str) -> requests.Session:
    session = requests.Session()
    token = _CSRF.search(session.get(f"{base}/login").text)
    assert token
    answer = session.post(f"{base}/login", data={"csrf_token": token.group(1), "name": name, "password": PASSWORD},
                          allow_redirects=False)
    assert answer.status_code == 303, answer.text
    return session


def timed_get(session: requests.Session, url: str) -> float:
    started = time.perf_counter()
    answer = session.get(url)
    answer.raise_for_status()
    return (time.perf_counter() - started) * 1000


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered):.0f} ms, p95 {p95:.0f} ms (n={len(ordered)})"


def live_agents(base: str, stop: threading.Event, polls: list[float]) -> list[threading.Thread]:
    """Fifty signed-in agents whose inboxes refresh every 5 seconds, spread evenly over the interval."""
    threads = []
    for index, name in enumerate(AGENTS):
        session = sign_in(base, name)

        def poll(session: requests.Session = session, offset: float = index * POLL_SECONDS / len(AGENTS)) -> None:
            if stop.wait(offset):
                return
            while not stop.is_set():
                started = time.perf_counter()
                polls.append(timed_get(session, f"{base}/inbox/rows"))
                stop.wait(max(0.0, POLL_SECONDS - (time.perf_counter() - started)))

        threads.append(threading.Thread(target=poll, daemon=True))
    for thread in threads:
        thread.start()
    return threads


def sign_in_audited(config: Config, name: str) -> bool:
    """Whether the desk's writer has copied the person's latest sign-in to the warehouse's audit trail."""
    with DeskState(desk_state_path(config.warehouse.path)).connect() as state:
        row = state.execute(
            "SELECT audited_at FROM sign_in_attempts WHERE name = ? AND outcome = 'signed_in' "
            "ORDER BY attempt_id DESC LIMIT 1", [name]).fetchone()
    return bool(row and row[0])


def snapshot_has_claim(config: Config, key: str, actor: str) -> bool:
    connection = read_warehouse(config.warehouse.path)
    assert connection is not None
    with connection:
        row = connection.execute(
            "SELECT count(*) FROM triage_actions WHERE mention_key = ? AND action = 'claimed' AND actor = ?", [key, actor]
        ).fetchone()
    return bool(row and row[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=100_000, help="open triage items (default 100,000)")
    parser.add_argument("--load-rows", type=int, default=1_000_000, help="mentions in the load (default 1,000,000)")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per page (default 200)")
    parser.add_argument("--port", type=int, default=8779)
    arguments = parser.parse_args()
    repo = Path(__file__).resolve().parents[1]
    environment = {**os.environ, "PYTHONPATH": str(repo)}
    with tempfile.TemporaryDirectory(prefix="overheard-desk-bench-") as directory:
        workdir = Path(directory)
        config = bench_config(workdir)
        config_file = workdir / "config.json"
        config_file.write_text(config.model_dump_json(exclude_none=True))
        started = time.perf_counter()
        build_warehouse(config, arguments.items)
        print(f"Warehouse with {arguments.items:,} open items built in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        generate(workdir, arguments.load_rows)
        print(f"Staged a run of {arguments.load_rows:,} mentions in {time.perf_counter() - started:.1f} s")

        stop, polls, agents = threading.Event(), list[float](), list[threading.Thread]()
        server = subprocess.Popen([sys.executable, "-c", _SERVE, str(config_file), str(arguments.port)],
                                  cwd=repo, env=environment)
        base = f"http://127.0.0.1:{arguments.port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    requests.get(f"{base}/login", timeout=1)
                    break
                except requests.ConnectionError:
                    assert time.monotonic() < deadline and server.poll() is None, "the desk did not start"
                    time.sleep(0.2)
            agents.extend(live_agents(base, stop, polls))
            lead = sign_in(base, "lead")
            listed = re.findall(r'data-number="(\d+)" data-key="([^"]+)"', lead.get(f"{base}/inbox").text)
            numbers = [int(number) for number, _ in listed]
            for warm_up in range(5):
                timed_get(lead, f"{base}/inbox?page={warm_up + 1}")
            inbox = [timed_get(lead, f"{base}/inbox?page={1 + n % 20}") for n in range(arguments.requests)]
            search = [timed_get(lead, f"{base}/inbox?q=street+{n % 977}") for n in range(arguments.requests // 4)]
            item = [timed_get(lead, f"{base}/items/{numbers[n % len(numbers)]}") for n in range(arguments.requests)]
            print(f"\n{arguments.items:,} open items, {len(AGENTS)} agents polling every {POLL_SECONDS:.0f} s:")
            print(f"  inbox page:            {percentiles(inbox)}")
            print(f"  inbox search:          {percentiles(search)}")
            print(f"  item page:             {percentiles(item)}")
            print(f"  agents' inbox refresh: {percentiles(polls)}")

            loader = subprocess.Popen(
                [sys.executable, "-c", _LOAD, config.warehouse.path, str(workdir / "manifests.json")],
                cwd=repo, env=environment, stdout=subprocess.PIPE, text=True,
            )
            assert loader.stdout is not None and loader.stdout.readline().strip() == "loading"
            loaded_at: list[float] = []
            threading.Thread(target=lambda: loaded_at.extend(
                time.perf_counter() for line in loader.stdout or [] if line.strip() == "loaded"), daemon=True).start()
            time.sleep(3)  # well into the load: it holds the write lock
            signing = time.perf_counter()
            agent = sign_in(base, "agent07")
            signed_in = time.perf_counter() - signing
            number, mention_key = int(listed[3][0]), listed[3][1]
            token = _CSRF.search(agent.get(f"{base}/inbox").text)
            assert token
            acted = time.perf_counter()
            answer = agent.post(f"{base}/items/{number}/claim", data={"csrf_token": token.group(1)},
                                allow_redirects=False)
            answered = time.perf_counter() - acted
            status = agent.get(f"{base}/items/{number}/status").text
            seen = time.perf_counter() - acted
            assert answer.status_code == 303 and 'claimed by <strong class="holder">you</strong>' in status
            assert not snapshot_has_claim(config, mention_key, "agent07"), "the load ended before the claim"
            while not snapshot_has_claim(config, mention_key, "agent07"):
                time.sleep(0.1)
            applied = time.perf_counter() - acted
            while not sign_in_audited(config, "agent07"):
                time.sleep(0.1)
            audited = time.perf_counter() - signing
            assert loader.wait() == 0 and loaded_at, "the load failed"
            print(f"\nA claim pressed 3 s into a {arguments.load_rows:,}-mention load, which holds the write lock:")
            print(f"  answered in {answered * 1000:.0f} ms; its author saw it claimed {seen * 1000:.0f} ms after "
                  "pressing (the item's status panel, read from the snapshot with queued actions replayed)")
            print(f"  the load committed and published {loaded_at[0] - acted:.1f} s after the claim was pressed; the claim "
                  f"was applied and visible in the published snapshot {applied:.1f} s after it was pressed")
            print(f"  the agent's sign-in just before it was answered in {signed_in * 1000:.0f} ms and was in the "
                  f"warehouse's audit trail {audited:.1f} s after it ({loaded_at[0] - signing:.1f} s in, the load "
                  "had published)")
        finally:
            stop.set()
            for thread in agents:
                thread.join(timeout=10)
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
