"""Benchmark: the cost of one social_listening cycle through Airflow, idle and busy (issue 15, item 5).

Runs the demo config's DAG the way `make demo` does (`demo.demo_services` serves the corpus and the fake
platform APIs on 127.0.0.1 and sets HTTP_PROXY and the demo credentials; `python -m cli.airflow_env run`
runs the DAG once, as `airflow dags test` does, at the demo's logical date), into a temporary warehouse,
staging and AIRFLOW_HOME. The config is config/demo.yaml plus one RSS feed, `busy-feed`, served by this
script on 127.0.0.1. Three cycles, all at the demo's logical date:

1. **first load**: the demo corpus (a few hundred mentions) while the busy feed is empty; it gives every
   source its cursor. Reported, not the point.
2. **busy**: the busy feed now holds `--new` entries (1,000) that each name a brand; every other source
   answers "nothing since your cursor" (304s, since_ids).
3. **idle**: the same sources again; every one answers "nothing since your cursor".

For each cycle: wall time and CPU seconds (user + system) of the run's process tree (this process's
children's rusage before and after), the mentions it added, and per task the wall time Airflow recorded
(task instances' start and end in the metadata database), mapped instances summed per task.
The run's process does more than its tasks (start Python, import Airflow, parse and sync the DAG, step
the run between tasks): that is "Airflow's own" time in the cycle, wall time minus the tasks' sum.

Under the LocalExecutor (airflow.cfg's `executor`; what `airflow standalone` and a scheduler run) each task
instance also starts a process of its own, which imports the task runner and parses the DAG file again,
then the task imports its stage's modules. `dags test` pays that once per run; so the script also
measures, in fresh processes, what that start-up costs (wall and CPU): bare Python, + Airflow's task
runner, + the DAG file, + each task's own imports.

The last line: `idle_wall_s=<x> idle_cpu_s=<y> busy_wall_s=<z> busy_cpu_s=<w>`.

Usage:
    .venv/bin/python bench/cycle_cost.py            # about 3 min on 2 cores (a fresh Airflow DB, 3 cycles)
    .venv/bin/python bench/cycle_cost.py --new 100  # a smaller busy cycle
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from xml.sax.saxutils import escape

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import yaml

from cli.airflow_env import DagRunRecord, airflow_environment, dag_run_command, initialise_airflow
from demo.__main__ import DEMO_CONFIG, LOGICAL_DATE, demo_services

DAG_ID = "social_listening"
FEED_NAME = "busy-feed"

_OPENINGS = ["Brightwave", "Brightwave Broadband", "Tidewell", "Skylark Fibre", "@brightwavehelp"]
_CLAUSES = [
    "dropped out again during the evening",
    "fixed my router in ten minutes, brilliant support",
    "billed me twice this month and nobody answers",
    "is thinking of a price rise for renewals",
    "how do I set up the new hub with mesh wifi",
    "installation was delayed a third time",
    "speeds are great since the upgrade",
    "outage in the north west for most of the day",
    "worth it for gamers? upload latency looks fine",
    "engineer went above and beyond, thank you",
    "I'm fed up and switching to another provider",
    "the app shows a fault but the line test passes",
]
_PLACES = ["Leeds", "Bristol", "Glasgow", "Cardiff", "Norwich", "York", "Bath", "Derby", "Exeter", "Hull"]


# --- the busy feed -----------------------------------------------------------------------------------

class BusyFeed:
    """An RSS feed on 127.0.0.1 that answers conditional GETs: empty at first, `fill()` gives it entries."""

    base = "http://busy-feed.example"  # the entries' links (never fetched)

    def __init__(self) -> None:
        self.body = self._render([])
        self.requests: list[int] = []  # the status of each answer
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # http.server's name
                etag = feed.etag
                if self.headers.get("If-None-Match") == etag:
                    feed.requests.append(304)
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                feed.requests.append(200)
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(feed.body)))
                self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(feed.body)

            def log_message(self, format: str, *args: Any) -> None:  # the base class's names
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/busy.xml"

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'

    def fill(self, entries: int, seed: int = 15) -> None:
        """Serve `entries` new items, each naming a brand, published in the hour before the logical date."""
        rng = random.Random(seed)
        items = []
        for number in range(entries):
            published = LOGICAL_DATE - timedelta(minutes=59) + timedelta(seconds=number * 3540 // max(entries, 1))
            text = (f"{rng.choice(_OPENINGS)} {rng.choice(_CLAUSES)} in {rng.choice(_PLACES)}; "
                    f"{rng.choice(_CLAUSES)} (report {number} of the day, ref {rng.randrange(10**6):06d}).")
            items.append((number, published, text))
        self.body = self._render(items)

    def _render(self, items: list[tuple[int, datetime, str]]) -> bytes:
        entries = "".join(
            f"<item><title>{escape(text[:60])}</title><link>{self.base}/posts/{number}</link>"
            f"<guid>{self.base}/posts/{number}</guid><pubDate>{format_datetime(published)}</pubDate>"
            f"<description>{escape(text)}</description></item>"
            for number, published, text in items)
        return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Busy feed</title>'
                f"<link>{self.base}/</link><description>generated</description>{entries}</channel></rss>").encode()

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- one cycle -------------------------------------------------------------------------------------

@dataclass
class TaskCost:
    instances: int = 0
    wall_s: float = 0.0
    longest_s: float = 0.0
    queued_to_start_s: float = 0.0


@dataclass
class CycleCost:
    name: str
    state: str
    wall_s: float
    cpu_s: float
    new_mentions: int
    feed_answers: list[int]
    tasks: dict[str, TaskCost] = field(default_factory=dict)

    @property
    def tasks_wall_s(self) -> float:
        return sum(cost.wall_s for cost in self.tasks.values())


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_cycle(name: str, environment: dict[str, str], work: Path, warehouse: Path, feed: BusyFeed) -> CycleCost:
    """Run the DAG once (as `make demo` does) and measure it."""
    before_mentions = count_mentions(warehouse)
    answered = len(feed.requests)
    record_path = work / f"{name}.json"
    log_path = work / f"{name}.log"
    command = dag_run_command("run", DAG_ID, LOGICAL_DATE.isoformat(), str(record_path))
    cpu_before, started = children_cpu(), time.perf_counter()
    with log_path.open("w", encoding="utf-8") as log:
        subprocess.run(command, env=environment, stdout=log, stderr=subprocess.STDOUT, check=False)
    wall, cpu = time.perf_counter() - started, children_cpu() - cpu_before
    record = DagRunRecord.read(record_path)
    state = record.state if record is not None and record.state else "never started"
    if state != "success":
        failed = {task: s for task, s in (record.tasks if record else {}).items() if s != "success"}
        print(f"  {name}: the run ended {state} (tasks not successful: {failed}); log: {log_path}", file=sys.stderr)
    cost = CycleCost(name, state, wall, cpu, count_mentions(warehouse) - before_mentions, feed.requests[answered:])
    if record is not None:
        cost.tasks = task_costs(Path(environment["AIRFLOW_HOME"]) / "airflow.db", record.run_id)
    return cost


def count_mentions(warehouse: Path) -> int:
    if not warehouse.exists():
        return 0
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        row = connection.execute("SELECT count(*) FROM mentions").fetchone()
    return int(row[0]) if row else 0


def task_costs(database: Path, run_id: str) -> dict[str, TaskCost]:
    """Each task's instances, summed wall time, longest instance and queued-to-start gap, from the metadata DB."""
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT task_id, start_date, end_date, queued_dttm FROM task_instance WHERE dag_id = ? AND run_id = ?",
            (DAG_ID, run_id)).fetchall()
    costs: dict[str, TaskCost] = defaultdict(TaskCost)
    for task_id, start, end, queued in rows:
        cost = costs[task_id]
        cost.instances += 1
        if start and end:
            seconds = (_time(end) - _time(start)).total_seconds()
            cost.wall_s += seconds
            cost.longest_s = max(cost.longest_s, seconds)
        if queued and start:
            cost.queued_to_start_s += max(0.0, (_time(start) - _time(queued)).total_seconds())
    return dict(costs)


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


# --- a task process's start-up ---------------------------------------------------------------------

# What each task's body imports (dags/social_listening.py), beyond the DAG file.
TASK_IMPORTS = {
    "plan": "collectors.units, config, core.staging, warehouse.cursors",
    "collect": "collectors.units, config, core.staging",
    "enrich": "config, core.staging, enrich.pipeline",
    "load": "config, core.staging, warehouse.load",
    "stories": "config, enrich.stories.duckdb_store, warehouse.connection, warehouse.snapshot",
    "themes": "config, warehouse.connection, warehouse.snapshot, warehouse.themes",
    "care": "care.alerts, care.helpdesk, care.triage, config, warehouse.connection, warehouse.snapshot",
    "summarize": "config, warehouse.summary",
}


@dataclass
class StartupCost:
    step: str
    wall_s: float
    cpu_s: float


def startup_costs(environment: dict[str, str], repeat: int) -> list[StartupCost]:
    """Median wall and CPU of fresh processes doing more and more of what a LocalExecutor task process does."""
    dag_file = REPO / "dags" / "social_listening.py"
    parse = (f"import importlib.util; spec = importlib.util.spec_from_file_location('social_listening', {str(dag_file)!r}); "
             "spec.loader.exec_module(importlib.util.module_from_spec(spec))")
    runner = "import airflow.sdk.execution_time.task_runner"
    steps = [("bare Python", "pass"),
             ("+ Airflow's task runner", runner),
             ("+ parse the DAG file", f"{runner}; {parse}")]
    steps += [(f"+ {task}'s imports", f"{runner}; {parse}; import {modules}") for task, modules in TASK_IMPORTS.items()]
    costs = []
    for step, code in steps:
        walls, cpus = [], []
        for _ in range(repeat):
            cpu_before, started = children_cpu(), time.perf_counter()
            subprocess.run([sys.executable, "-c", code], env=environment, cwd=REPO, check=True,
                           stdout=subprocess.DEVNULL)
            walls.append(time.perf_counter() - started)
            cpus.append(children_cpu() - cpu_before)
        costs.append(StartupCost(step, sorted(walls)[len(walls) // 2], sorted(cpus)[len(cpus) // 2]))
    return costs


# --- the run ---------------------------------------------------------------------------------------

def write_config(work: Path, feed_url: str) -> Path:
    config: dict[str, Any] = yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8"))
    config["warehouse"]["path"] = str(work / "warehouse" / "overheard.duckdb")
    config["staging"] = str(work / "staging")
    config["sources"].append({"kind": "rss", "name": FEED_NAME, "url": feed_url})
    path = work / "demo-busy.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--new", type=int, default=1000, help="entries of the busy feed in the busy cycle")
    parser.add_argument("--startup-repeat", type=int, default=3, help="runs of each start-up step (median)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, warehouse)")
    arguments = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="overheard-cycle-cost-"))
    os.environ["AIRFLOW_HOME"] = str(work / "airflow")
    os.environ.setdefault("AIRFLOW_CONFIG", str(REPO / "airflow.cfg"))
    print(f"Working in {work}; a fresh Airflow metadata DB ...", flush=True)
    started = time.perf_counter()
    initialise_airflow()
    print(f"  airflow db migrate: {time.perf_counter() - started:.1f} s", flush=True)

    cycles: list[CycleCost] = []
    with BusyFeed() as feed, demo_services(0):
        config_path = write_config(work, feed.url)
        environment = airflow_environment({**os.environ, "OVERHEARD_CONFIG": str(config_path)})
        warehouse = work / "warehouse" / "overheard.duckdb"
        for name in ["first load", "busy", "idle"]:
            if name == "busy":
                feed.fill(arguments.new)
            print(f"Cycle '{name}' ...", flush=True)
            cycles.append(run_cycle(name, environment, work, warehouse, feed))
            cycle = cycles[-1]
            print(f"  {cycle.state}: {cycle.wall_s:.1f} s wall, {cycle.cpu_s:.1f} CPU-s, "
                  f"{cycle.new_mentions} new mentions, busy feed answered {cycle.feed_answers}", flush=True)
        print("Task process start-up (fresh processes) ...", flush=True)
        startup = startup_costs(environment, arguments.startup_repeat)

    print_report(cycles, startup)
    if not arguments.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    busy, idle = cycles[1], cycles[2]
    print(f"idle_wall_s={idle.wall_s:.1f} idle_cpu_s={idle.cpu_s:.1f} busy_wall_s={busy.wall_s:.1f} busy_cpu_s={busy.cpu_s:.1f}")
    return 0 if all(cycle.state == "success" for cycle in cycles) else 1


def print_report(cycles: list[CycleCost], startup: list[StartupCost]) -> None:
    print()
    print("| cycle | state | new mentions | wall s | CPU s | task instances | tasks' wall s | Airflow's own wall s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for cycle in cycles:
        instances = sum(cost.instances for cost in cycle.tasks.values())
        print(f"| {cycle.name} | {cycle.state} | {cycle.new_mentions} | {cycle.wall_s:.1f} | {cycle.cpu_s:.1f} | "
              f"{instances} | {cycle.tasks_wall_s:.1f} | {cycle.wall_s - cycle.tasks_wall_s:.1f} |")
    print()
    names = list(dict.fromkeys(task for cycle in cycles for task in cycle.tasks))
    header = " | ".join(f"{cycle.name} s (longest)" for cycle in cycles)
    print(f"| task | instances | {header} |")
    print("|---|---:|" + "---:|" * len(cycles))
    for task in names:
        instances = max(cycle.tasks.get(task, TaskCost()).instances for cycle in cycles)
        cells = " | ".join(_task_cell(cycle.tasks.get(task)) for cycle in cycles)
        print(f"| {task} | {instances} | {cells} |")
    print()
    print("| a task process's start-up (fresh process, median) | wall s | CPU s |")
    print("|---|---:|---:|")
    for cost in startup:
        print(f"| {cost.step} | {cost.wall_s:.2f} | {cost.cpu_s:.2f} |")
    print()


def _task_cell(cost: TaskCost | None) -> str:
    if cost is None:
        return "-"
    return f"{cost.wall_s:.1f} ({cost.longest_s:.1f})" if cost.instances > 1 else f"{cost.wall_s:.1f}"


if __name__ == "__main__":
    sys.exit(main())
