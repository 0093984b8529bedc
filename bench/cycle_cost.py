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

With `--scheduler`, the cycles run as a 5-minute schedule would run them: Airflow's API server, scheduler
(LocalExecutor) and DAG processor start on the temporary AIRFLOW_HOME, as `airflow standalone` starts them,
with scheduled runs off; each cycle is a triggered run due at the demo's date. Its wall time is from the run
queued to ended (metadata DB); its CPU seconds are those of every Airflow process and its descendants (task
processes included, from /proc through psutil) during the run, less what those processes spend with no run
(measured for `--baseline-seconds` first). Each task's wall time then includes its process's start-up.

With `--lane care`, the config gets a care fast lane (`FAST_LANE`: the busy feed, X and Reddit) and the
cycles run the care_fast_lane DAG; `--new 50` makes its busy cycle 50 new posts.

The last line: `lane=<full|care> idle_wall_s=<x> idle_cpu_s=<y> busy_wall_s=<z> busy_cpu_s=<w>`.

Usage:
    .venv/bin/python bench/cycle_cost.py            # about 3 min on 2 cores (a fresh Airflow DB, 3 cycles)
    .venv/bin/python bench/cycle_cost.py --new 100  # a smaller busy cycle
    .venv/bin/python bench/cycle_cost.py --scheduler --startup-repeat 0                    # under the scheduler
    .venv/bin/python bench/cycle_cost.py --scheduler --startup-repeat 0 --lane care --new 50  # the fast lane
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import random
import resource
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from xml.sax.saxutils import escape

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import psutil
import yaml

from airflow_edge.lanes import LANE_DAGS
from cli.airflow_env import DagRunRecord, airflow_command, airflow_environment, dag_run_command, initialise_airflow
from config.model import LANES
from demo.__main__ import DEMO_CONFIG, LOGICAL_DATE, demo_services

FEED_NAME = "busy-feed"
# The care fast lane the --lane care cycles run (playbook.fast_lane): the busy feed and the demo's X and Reddit.
FAST_LANE = {"sources": [FEED_NAME, "x", "reddit"], "every_minutes": 5}

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
    # Under the scheduler: seconds from the run queued to its first unit task's start, and to care's end
    # (its commit: what the desk then shows).
    collect_starts_s: float | None = None
    care_ends_s: float | None = None

    @property
    def tasks_wall_s(self) -> float:
        return sum(cost.wall_s for cost in self.tasks.values())


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_cycle(name: str, dag_id: str, environment: dict[str, str], work: Path, warehouse: Path, feed: BusyFeed) -> CycleCost:
    """Run the DAG once (as `make demo` does) and measure it."""
    before_mentions = count_mentions(warehouse)
    answered = len(feed.requests)
    record_path = work / f"{name}.json"
    log_path = work / f"{name}.log"
    command = dag_run_command("run", dag_id, LOGICAL_DATE.isoformat(), str(record_path))
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
        cost.tasks = task_costs(Path(environment["AIRFLOW_HOME"]) / "airflow.db", dag_id, record.run_id)
    return cost


def run_scheduled_cycle(name: str, scheduler: Scheduler, idle_rate: float, warehouse: Path, feed: BusyFeed) -> CycleCost:
    """Trigger the DAG under the scheduler and measure it: wall from queued to ended, CPU of every Airflow
    process during it less their idle rate."""
    before_mentions = count_mentions(warehouse)
    answered = len(feed.requests)
    run_id = f"cycle-cost__{name.replace(' ', '-')}__{int(time.time())}"
    cpu_before, started = scheduler.cpu_seconds(), time.perf_counter()
    state, wall = scheduler.run(LOGICAL_DATE, run_id)
    cpu = scheduler.cpu_seconds() - cpu_before - idle_rate * (time.perf_counter() - started)
    if state != "success":
        print(f"  {name}: the run ended {state}; task logs under {scheduler.environment['AIRFLOW_HOME']}/logs", file=sys.stderr)
    cost = CycleCost(name, state, wall, cpu, count_mentions(warehouse) - before_mentions, feed.requests[answered:])
    cost.tasks = task_costs(scheduler.database, scheduler.dag_id, run_id)
    cost.collect_starts_s, cost.care_ends_s = milestones(scheduler.database, scheduler.dag_id, run_id)
    return cost


def milestones(database: Path, dag_id: str, run_id: str) -> tuple[float | None, float | None]:
    """Seconds from a run queued to its first unit task's start and to its care task's end (metadata DB)."""
    with contextlib.closing(sqlite3.connect(database)) as connection:
        row = connection.execute(
            "SELECT r.queued_at, (SELECT min(start_date) FROM task_instance t WHERE t.dag_id = r.dag_id "
            "AND t.run_id = r.run_id AND t.task_id = 'collect_and_enrich'), (SELECT end_date FROM task_instance t "
            "WHERE t.dag_id = r.dag_id AND t.run_id = r.run_id AND t.task_id = 'care') "
            "FROM dag_run r WHERE r.dag_id = ? AND r.run_id = ?", (dag_id, run_id)).fetchone()
    queued, collect, care = row

    def since_queued(moment: str | None) -> float | None:
        return None if moment is None else (_time(moment) - _time(queued)).total_seconds()

    return since_queued(collect), since_queued(care)


def count_mentions(warehouse: Path) -> int:
    if not warehouse.exists():
        return 0
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        row = connection.execute("SELECT count(*) FROM mentions").fetchone()
    return int(row[0]) if row else 0


def task_costs(database: Path, dag_id: str, run_id: str) -> dict[str, TaskCost]:
    """Each task's instances, summed wall time, longest instance and queued-to-start gap, from the metadata DB."""
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT task_id, start_date, end_date, queued_dttm FROM task_instance WHERE dag_id = ? AND run_id = ?",
            (dag_id, run_id)).fetchall()
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


# --- under the scheduler ---------------------------------------------------------------------------

# The Airflow processes `airflow standalone` starts besides the triggerer (the pipeline defers nothing).
AIRFLOW_PROCESSES = ("api-server", "scheduler", "dag-processor")
# Trigger a run due at a moment (its run_after) with no logical date, so that several runs can be due at the
# demo's date: the pipeline collects the hour before run_after. `airflow dags trigger` would run it as of now,
# and the demo's sources answer as of the demo's date.
_TRIGGER = """
import sys
from datetime import datetime
from airflow.api.common.trigger_dag import trigger_dag
from airflow.utils.types import DagRunTriggeredByType
dag_id, run_id, run_after = sys.argv[1:4]
trigger_dag(dag_id, triggered_by=DagRunTriggeredByType.CLI, run_id=run_id, logical_date=None,
            run_after=datetime.fromisoformat(run_after))
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Scheduler:
    """Airflow's API server, scheduler (LocalExecutor) and DAG processor on a temporary AIRFLOW_HOME, as
    `airflow standalone` runs them, with no scheduled runs (only the cycles this script triggers)."""

    def __init__(self, dag_id: str, environment: dict[str, str], work: Path) -> None:
        self.dag_id = dag_id
        port = free_port()
        self.environment = {
            **environment,
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        }
        self.health_url = f"http://127.0.0.1:{port}/api/v2/monitor/health"
        self.database = Path(environment["AIRFLOW_HOME"]) / "airflow.db"
        self.work = work
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def __enter__(self) -> Self:
        for name in AIRFLOW_PROCESSES:
            with (self.work / f"{name}.log").open("wb") as log:
                self.processes[name] = subprocess.Popen(
                    airflow_command(name), env=self.environment, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True)
        self._wait_for("the API server", self._api_ready, 300)
        self._wait_for(f"the {self.dag_id} DAG in the metadata database", self._dag_parsed, 300)
        return self

    def __exit__(self, *exc: object) -> None:
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def _wait_for(self, what: str, ready: Callable[[], bool], seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not ready():
            exited = [name for name, process in self.processes.items() if process.poll() is not None]
            if exited:
                raise RuntimeError(f"airflow {exited[0]} exited while waiting for {what}: see {self.work / exited[0]}.log")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} was not ready after {seconds:g} s: see the logs in {self.work}")
            time.sleep(1)

    def _api_ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.health_url, timeout=5) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    def _dag_parsed(self) -> bool:
        with contextlib.closing(sqlite3.connect(self.database)) as connection:
            try:
                row = connection.execute("SELECT count(*) FROM serialized_dag WHERE dag_id = ?", (self.dag_id,)).fetchone()
            except sqlite3.OperationalError:  # the table is being written
                return False
        return bool(row and row[0])

    def cpu_seconds(self) -> float:
        """User + system CPU of every Airflow process and its descendants so far, the ended ones that their
        parent reaped included (a task process's CPU moves to its executor worker's when it ends)."""
        total = 0.0
        for process in self.processes.values():
            try:
                root = psutil.Process(process.pid)
                tree = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            for member in tree:
                with contextlib.suppress(psutil.NoSuchProcess, psutil.ZombieProcess):
                    times = member.cpu_times()
                    total += times.user + times.system + times.children_user + times.children_system
        return total

    def idle_cpu_rate(self, seconds: float) -> float:
        """CPU-s per second the Airflow processes spend with no run: the baseline a cycle's CPU is net of."""
        before = self.cpu_seconds()
        time.sleep(seconds)
        return (self.cpu_seconds() - before) / seconds

    def run(self, run_after: datetime, run_id: str) -> tuple[str, float]:
        """Trigger a run due at `run_after`, wait for it to end; its state and its wall time (queued to ended,
        from the metadata DB)."""
        subprocess.run([sys.executable, "-c", _TRIGGER, self.dag_id, run_id, run_after.isoformat()],
                       env=self.environment, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
        while True:
            with contextlib.closing(sqlite3.connect(self.database)) as connection:
                row = connection.execute("SELECT state, queued_at, end_date FROM dag_run WHERE dag_id = ? AND run_id = ?",
                                         (self.dag_id, run_id)).fetchone()
            if row and row[0] in ("success", "failed") and row[2]:
                return str(row[0]), (_time(row[2]) - _time(row[1])).total_seconds()
            if any(process.poll() is not None for process in self.processes.values()):
                raise RuntimeError(f"an Airflow process exited during the run {run_id}: see the logs in {self.work}")
            time.sleep(0.5)


# --- a task process's start-up ---------------------------------------------------------------------

# What each task's body imports (dags/social_listening.py), beyond the DAG file.
TASK_IMPORTS = {
    "plan": "collectors.units, config, core.staging, warehouse.cursors",
    "collect_and_enrich": "collectors.units, config, core.staging, enrich.pipeline",
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

def write_config(work: Path, feed_url: str, lane: str) -> Path:
    config: dict[str, Any] = yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8"))
    config["warehouse"]["path"] = str(work / "warehouse" / "overheard.duckdb")
    config["staging"] = str(work / "staging")
    config["sources"].append({"kind": "rss", "name": FEED_NAME, "url": feed_url})
    if lane == "care":
        config["playbook"]["fast_lane"] = FAST_LANE
    path = work / "demo-busy.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--new", type=int, default=1000, help="entries of the busy feed in the busy cycle")
    parser.add_argument("--lane", choices=LANES, default="full",
                        help="the DAG: full (social_listening) or care (care_fast_lane, with FAST_LANE in the config)")
    parser.add_argument("--scheduler", action="store_true",
                        help="run the cycles under Airflow's scheduler and the LocalExecutor, not `dags test`")
    parser.add_argument("--baseline-seconds", type=float, default=30.0,
                        help="with --scheduler: how long to measure the Airflow processes' idle CPU first")
    parser.add_argument("--startup-repeat", type=int, default=3,
                        help="runs of each start-up step (median); 0 skips the start-up table")
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
    startup: list[StartupCost] = []
    idle_rate = None
    with contextlib.ExitStack() as stack:
        feed = stack.enter_context(BusyFeed())
        stack.enter_context(demo_services(0))
        config_path = write_config(work, feed.url, arguments.lane)
        environment = airflow_environment({**os.environ, "OVERHEARD_CONFIG": str(config_path)})
        warehouse = work / "warehouse" / "overheard.duckdb"
        scheduler = None
        if arguments.scheduler:
            print("Starting the API server, scheduler and DAG processor ...", flush=True)
            scheduler = stack.enter_context(Scheduler(LANE_DAGS[arguments.lane], environment, work))
            idle_rate = scheduler.idle_cpu_rate(arguments.baseline_seconds)
            print(f"  Airflow's processes with no run: {idle_rate * 60:.1f} CPU-s a minute", flush=True)
        for name in ["first load", "busy", "idle"]:
            if name == "busy":
                feed.fill(arguments.new)
            print(f"Cycle '{name}' ...", flush=True)
            if scheduler is not None and idle_rate is not None:
                cycles.append(run_scheduled_cycle(name, scheduler, idle_rate, warehouse, feed))
            else:
                cycles.append(run_cycle(name, LANE_DAGS[arguments.lane], environment, work, warehouse, feed))
            cycle = cycles[-1]
            print(f"  {cycle.state}: {cycle.wall_s:.1f} s wall, {cycle.cpu_s:.1f} CPU-s, "
                  f"{cycle.new_mentions} new mentions, busy feed answered {cycle.feed_answers}", flush=True)
        if arguments.startup_repeat:
            print("Task process start-up (fresh processes) ...", flush=True)
            startup = startup_costs(environment, arguments.startup_repeat)

    print_report(cycles, startup, idle_rate)
    if not arguments.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    busy, idle = cycles[1], cycles[2]
    print(f"lane={arguments.lane} idle_wall_s={idle.wall_s:.1f} idle_cpu_s={idle.cpu_s:.1f} busy_wall_s={busy.wall_s:.1f} "
          f"busy_cpu_s={busy.cpu_s:.1f}")
    return 0 if all(cycle.state == "success" for cycle in cycles) else 1


def print_report(cycles: list[CycleCost], startup: list[StartupCost], idle_rate: float | None) -> None:
    print()
    if idle_rate is not None:
        print(f"Under the scheduler (LocalExecutor); CPU net of the Airflow processes' idle {idle_rate * 60:.1f} CPU-s a minute; "
              "wall from the run queued to ended. A task's wall time includes its process's start-up.")
    if idle_rate is None:  # one process runs the tasks one after another
        print("| cycle | state | new mentions | wall s | CPU s | task instances | tasks' wall s | Airflow's own wall s |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
    else:  # a stage's mapped instances run side by side: the chain is each task's longest instance, summed
        print("| cycle | state | new mentions | wall s | CPU s | task instances | tasks' wall s | tasks' chain s | "
              "between tasks s | to first collect s | to care's end s |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for cycle in cycles:
        instances = sum(cost.instances for cost in cycle.tasks.values())
        chain = sum(cost.longest_s for cost in cycle.tasks.values())
        tail = (f"{cycle.wall_s - cycle.tasks_wall_s:.1f} |" if idle_rate is None
                else f"{chain:.1f} | {cycle.wall_s - chain:.1f} | {_seconds(cycle.collect_starts_s)} | "
                     f"{_seconds(cycle.care_ends_s)} |")
        print(f"| {cycle.name} | {cycle.state} | {cycle.new_mentions} | {cycle.wall_s:.1f} | {cycle.cpu_s:.1f} | "
              f"{instances} | {cycle.tasks_wall_s:.1f} | {tail}")
    print()
    names = list(dict.fromkeys(task for cycle in cycles for task in cycle.tasks))
    header = " | ".join(f"{cycle.name} s (longest)" for cycle in cycles)
    print(f"| task | instances | {header} |")
    print("|---|---:|" + "---:|" * len(cycles))
    for task in names:
        instances = max(cycle.tasks.get(task, TaskCost()).instances for cycle in cycles)
        cells = " | ".join(_task_cell(cycle.tasks.get(task)) for cycle in cycles)
        print(f"| {task} | {instances} | {cells} |")
    if not startup:
        return
    print()
    print("| a task process's start-up (fresh process, median) | wall s | CPU s |")
    print("|---|---:|---:|")
    for cost in startup:
        print(f"| {cost.step} | {cost.wall_s:.2f} | {cost.cpu_s:.2f} |")
    print()


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _task_cell(cost: TaskCost | None) -> str:
    if cost is None:
        return "-"
    return f"{cost.wall_s:.1f} ({cost.longest_s:.1f})" if cost.instances > 1 else f"{cost.wall_s:.1f}"


if __name__ == "__main__":
    sys.exit(main())
