"""Overheard on Airflow's Celery executor, on this machine: `python deploy/celery_deployment.py up|down|...`.

What `up` starts, each a process of its own with its data and logs under var/deploy/ (OVERHEARD_DEPLOY_HOME):

| process | what | where |
|---|---|---|
| postgres | Airflow's metadata database (Debian's `postgresql`, run as the `postgres` user) | 127.0.0.1:54329, var/deploy/postgres (see postgres_folder) |
| redis | the Celery broker (Debian's `redis-server`, append-only file so a restart keeps the queue) | 127.0.0.1:63799, var/deploy/redis |
| s3 | with `--staging s3`: moto's S3-compatible server, bucket `overheard-staging` (in memory) | 127.0.0.1:59000 |
| api-server | Airflow's API server and UI; tasks report to it | http://127.0.0.1:18080 |
| scheduler, dag-processor | Airflow's scheduler (CeleryExecutor) and DAG processor | |
| warehouse-worker | Celery worker serving the `default` and `warehouse` queues: the one that opens DuckDB | |
| any-worker | Celery worker serving the `default` queue: collect and enrich | |

The tasks that write the DuckDB file are on the `warehouse` queue and in the one-slot `warehouse` pool
(dags/social_listening.py, WAREHOUSE_WRITER); docs/deployment.md draws the layout. With `--staging s3`
the workers' S3 credentials and endpoint come from the Airflow connection `overheard_staging` (created
with the local server's when it does not exist), handed to fsspec (FSSPEC_S3_*) as each worker starts.

Commands:
    install                                                 PostgreSQL, Redis and var/deploy/venv, nothing started
    up [--staging local|s3] [--config C] [--no-schedule]   start what is not running (idempotent)
    down                                                    stop everything (data stays in var/deploy/)
    status                                                  which processes run
    run --logical-date D [--config C]                       a social_listening run as of D (its window ends at D), waited for
    stop PROCESS / start PROCESS / kill PROCESS             one process: graceful stop, start, SIGKILL

PostgreSQL and Redis are installed with apt-get when missing, and the Python packages of
requirements-distributed.txt into var/deploy/venv, a virtual environment layered over .venv.
Local only: PostgreSQL trusts connections from 127.0.0.1 and every port listens there alone.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
HOME = Path(os.environ.get("OVERHEARD_DEPLOY_HOME", REPO / "var" / "deploy"))
VENV = HOME / "venv"
PYTHON = VENV / "bin" / "python"
POSTGRES_PORT = 54329
REDIS_PORT = 63799
S3_PORT = 59000
API_PORT = 18080
S3_BUCKET = "overheard-staging"
STAGING_CONNECTION = "overheard_staging"
WAREHOUSE_POOL = "warehouse"
WAREHOUSE_QUEUE = "warehouse"
DATABASE_URL = f"postgresql://airflow:airflow@127.0.0.1:{POSTGRES_PORT}/airflow"
# SQLAlchemy 2.1 reads postgresql:// as psycopg 3; the driver installed is psycopg2 (the API server's async
# engine gets postgresql+asyncpg from Airflow).
SQLALCHEMY_URL = DATABASE_URL.replace("postgresql://", "postgresql+psycopg2://", 1)
# How long the scheduler waits for a running task's heartbeat before failing the try (Airflow's default is
# 5 minutes): a worker that dies is noticed within a minute, and the task retried on another.
HEARTBEAT_TIMEOUT_SECONDS = 60
# While the broker is down, the scheduler keeps a queued task and tries again on its next loops, up to
# this many times (about 2 s apart), instead of failing it at the first refused publish.
PUBLISH_TRIES = 300


@dataclass(frozen=True)
class Worker:
    """One Celery worker: its name (its Celery hostname and the host name its tasks record) and queues."""

    name: str
    queues: tuple[str, ...]


WORKERS = (Worker("warehouse-worker", ("default", WAREHOUSE_QUEUE)), Worker("any-worker", ("default",)))
AIRFLOW_PROCESSES = ("api-server", "scheduler", "dag-processor", *(worker.name for worker in WORKERS))


def log(message: str) -> None:
    """Say what the deployment is doing, with the time."""
    print(f"{datetime.now():%H:%M:%S} {message}", flush=True)


def postgres_bin() -> Path:
    """The folder of Debian's PostgreSQL server binaries (the newest installed)."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda path: int(path.parts[-3]))
    if not versions:
        raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql")
    return versions[-1].parent


def install_system_packages() -> None:
    """apt-get install PostgreSQL and Redis when they are missing."""
    missing = [package for package, found in (("postgresql", list(Path("/usr/lib/postgresql").glob("*/bin/postgres"))),
                                               ("redis-server", shutil.which("redis-server"))) if not found]
    if missing:
        log(f"Installing {', '.join(missing)} with apt-get")
        environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=environment)
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=environment, stdout=subprocess.DEVNULL)


def install_python_packages() -> None:
    """Create var/deploy/venv over .venv and install requirements-distributed.txt into it (again when it changed)."""
    requirements = REPO / "requirements-distributed.txt"
    marker = VENV / ".installed"
    if marker.exists() and marker.stat().st_mtime >= requirements.stat().st_mtime:
        return
    base = REPO / ".venv" / "lib" / "python3.11" / "site-packages"
    if not base.is_dir():
        raise RuntimeError("run `make test` or `make demo` once first: .venv is missing")
    log(f"Creating {VENV} over .venv with {requirements.name}")
    subprocess.run([str(REPO / ".venv" / "bin" / "python"), "-m", "venv", str(VENV)], check=True)
    site_packages = VENV / "lib" / "python3.11" / "site-packages"
    # .venv's packages (Airflow, DuckDB, Overheard's editable install) come after this environment's own.
    (site_packages / "zz_overheard_base.pth").write_text(f"import site; site.addsitedir({str(base)!r})\n", encoding="utf-8")
    pins = [line for line in (REPO / "requirements.txt").read_text(encoding="utf-8").splitlines()
            if line.startswith(("apache-airflow==", "fastapi==", "cadwyn==", "fsspec=="))]
    constraints = HOME / "constraints.txt"
    constraints.write_text("\n".join(pins) + "\n", encoding="utf-8")
    subprocess.run([str(VENV / "bin" / "pip"), "install", "--quiet", "-r", str(requirements), "-c", str(constraints)], check=True)
    # `airflow` of this environment (Airflow's own script is .venv's, which would run without these packages).
    script = VENV / "bin" / "airflow"
    script.write_text(f"#!{PYTHON}\nimport sys\nfrom airflow.__main__ import main\nsys.exit(main())\n", encoding="utf-8")
    script.chmod(0o755)
    marker.touch()


def airflow_environment(config: str | None = None, schedule: bool = True) -> dict[str, str]:
    """The environment of every Airflow process of the deployment."""
    environment = {
        key: value for key, value in os.environ.items()
        if not key.startswith("AIRFLOW__") and key not in ("AIRFLOW_HOME", "AIRFLOW_CONFIG")
    }
    saved = _saved_settings()
    config = config or saved.get("config") or os.environ.get("OVERHEARD_CONFIG")
    environment.update({
        "OVERHEARD_HOME": str(REPO),
        "PYTHONPATH": str(REPO),
        "PATH": os.pathsep.join([str(VENV / "bin"), environment.get("PATH", "")]),
        "AIRFLOW_HOME": str(HOME / "airflow"),
        "AIRFLOW_CONFIG": str(REPO / "airflow.cfg"),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "deploy.worker_name.worker_hostname",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": SQLALCHEMY_URL,
        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{REDIS_PORT}/0",
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{SQLALCHEMY_URL}",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4",
        "AIRFLOW__CELERY__SYNC_PARALLELISM": "1",
        "AIRFLOW__CELERY__TASK_PUBLISH_MAX_RETRIES": str(PUBLISH_TRIES),
        # kombu retries a refused publish for longer than [celery] operation_timeout (1 s), so that the
        # scheduler sees a timeout (keep the task queued, try again) rather than an error (fail the task).
        "AIRFLOW__CELERY__EXTRA_CELERY_CONFIG": json.dumps({"task_publish_retry_policy": {
            "max_retries": 3, "interval_start": 1, "interval_step": 1, "interval_max": 1}}),
        # Longer than any task may run (collect: 2 hours): a message is redelivered only when its worker
        # never acknowledged it for that long; Airflow ignores a redelivered task that already ran.
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "21600",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(API_PORT),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{API_PORT}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{API_PORT}/execution/",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT_SECONDS),
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": str(schedule and saved.get("schedule", True)),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": "18793",
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": "18794",
        "OVERHEARD_WAREHOUSE_POOL": WAREHOUSE_POOL,
    })
    if config:
        environment["OVERHEARD_CONFIG"] = str(Path(config).resolve())
    return environment


def _saved_settings() -> dict[str, Any]:
    path = HOME / "settings.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def airflow(*arguments: str, environment: dict[str, str] | None = None, capture: bool = False) -> str:
    """Run one `airflow` command of the deployment and return its output."""
    result = subprocess.run([str(PYTHON), "-m", "airflow", *arguments], env=environment or airflow_environment(),
                            check=True, cwd=REPO, text=True, stdout=subprocess.PIPE if capture else subprocess.DEVNULL)
    return result.stdout or ""


# Processes -------------------------------------------------------------------------------------------

def _pid_file(name: str) -> Path:
    return HOME / "run" / f"{name}.pid"


def pid_of(name: str) -> int | None:
    """The process id of a running process of the deployment, None when it does not run."""
    try:
        pid = int(_pid_file(name).read_text(encoding="utf-8"))
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    try:  # a zombie (exited, not yet reaped by its parent) does not run
        if Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").split()[2] == "Z":
            return None
    except OSError:
        return None
    return pid


def start_process(name: str, command: Sequence[str], environment: dict[str, str]) -> int:
    """Start `command` in a session of its own (so that it and its children can be signalled together)."""
    if (pid := pid_of(name)) is not None:
        return pid
    (HOME / "logs").mkdir(parents=True, exist_ok=True)
    (HOME / "run").mkdir(parents=True, exist_ok=True)
    with (HOME / "logs" / f"{name}.log").open("a", encoding="utf-8") as output:
        output.write(f"\n--- {datetime.now().isoformat()} starting: {' '.join(command)}\n")
        output.flush()
        process = subprocess.Popen(command, env=environment, cwd=REPO, stdout=output, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    _pid_file(name).write_text(str(process.pid), encoding="utf-8")
    log(f"started {name} (pid {process.pid}; log {HOME / 'logs' / f'{name}.log'})")
    return process.pid


def signal_process(name: str, signum: int, wait_seconds: float = 60) -> None:
    """Stop a process of the deployment and everything it started; wait for them to end.

    SIGTERM goes to its process group (a Celery worker then finishes its tasks: a warm shutdown), and
    what still runs after `wait_seconds` is killed. SIGKILL goes at once to every process of its session,
    the task processes included (Airflow runs each task in a process group of its own): a machine lost.
    """
    pid = pid_of(name)
    if pid is None:
        return
    if signum == signal.SIGKILL:
        _kill_session(pid)
    else:
        try:
            os.killpg(pid, signum)
        except ProcessLookupError:
            return
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline and _session_members(pid):
        _reap(pid)
        time.sleep(0.2)
    if _session_members(pid):
        _kill_session(pid)
        time.sleep(0.5)
    _reap(pid)
    log(f"{name} ended ({signal.Signals(signum).name})")


def _kill_session(session: int) -> None:
    for member in _session_members(session):
        try:
            os.kill(member, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _session_members(session: int) -> list[int]:
    """The processes of the session `session` that still run."""
    members = []
    # Listed, then each read: a process may end between the two (pathlib's glob would stat it, and fail
    # with ESRCH on a /proc entry that is going away).
    for pid in (entry for entry in os.listdir("/proc") if entry.isdigit()):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
        except OSError:  # FileNotFoundError, ProcessLookupError: it ended
            continue
        if int(fields[3]) == session and fields[0] not in ("Z", "X"):  # fields: state, ppid, pgrp, session
            members.append(int(pid))
    return members


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def wait_for(what: str, ready: Any, timeout_seconds: float = 180) -> None:
    """Wait until `ready()` is true, saying what is awaited; RuntimeError after the timeout."""
    deadline = time.monotonic() + timeout_seconds
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} was not ready after {timeout_seconds:g} s (logs in {HOME / 'logs'})")
        time.sleep(1)


# PostgreSQL, Redis, S3 ---------------------------------------------------------------------------------

def start_postgres() -> None:
    """Initialise (once) and start PostgreSQL as the `postgres` user, with an `airflow` role and database."""
    data = postgres_folder() / "data"
    binaries = postgres_bin()
    if not (data / "PG_VERSION").exists():
        data.mkdir(parents=True, exist_ok=True)
        shutil.chown(data.parent, "postgres", "postgres")
        shutil.chown(data, "postgres", "postgres")
        subprocess.run(["runuser", "-u", "postgres", "--", str(binaries / "initdb"), "-D", str(data), "-U", "postgres",
                        "--auth=trust", "-E", "UTF8"], check=True, stdout=subprocess.DEVNULL)
    status = subprocess.run(["runuser", "-u", "postgres", "--", str(binaries / "pg_ctl"), "-D", str(data), "status"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    if status.returncode != 0:
        (HOME / "logs").mkdir(parents=True, exist_ok=True)
        logfile = data.parent / "postgres.log"
        subprocess.run(["runuser", "-u", "postgres", "--", str(binaries / "pg_ctl"), "-D", str(data), "-l", str(logfile),
                        "-w", "-o", f"-p {POSTGRES_PORT} -k {data.parent} -c listen_addresses=127.0.0.1 -c max_connections=200",
                        "start"], check=True, stdout=subprocess.DEVNULL)
        log(f"started postgres on 127.0.0.1:{POSTGRES_PORT} (log {logfile})")
    import psycopg2

    connection = psycopg2.connect(host="127.0.0.1", port=POSTGRES_PORT, user="postgres", dbname="postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = 'airflow'")
        if cursor.fetchone() is None:
            cursor.execute("CREATE ROLE airflow LOGIN PASSWORD 'airflow'")
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = 'airflow'")
        if cursor.fetchone() is None:
            cursor.execute("CREATE DATABASE airflow OWNER airflow")
    connection.close()


def postgres_folder() -> Path:
    """Where PostgreSQL keeps its data and socket: var/deploy/postgres, reachable by the `postgres` user.

    PostgreSQL runs as that user, who must pass every folder above its data. Folders of this repository it
    cannot pass get o+x (a checkout made with umask 077); when a folder above the repository blocks it (a
    checkout under /root), the data goes to /var/lib/postgresql/overheard-<hash of this folder> instead.
    """
    wanted = HOME / "postgres"
    for ancestor in [*reversed(wanted.parents)]:
        if not ancestor.exists() or ancestor.stat().st_mode & 0o001:
            continue
        if ancestor == REPO or REPO in ancestor.parents:
            ancestor.chmod(ancestor.stat().st_mode | 0o001)
        else:
            fallback = Path("/var/lib/postgresql") / f"overheard-{hashlib.sha256(str(HOME).encode()).hexdigest()[:12]}"
            if not fallback.exists():
                log(f"the postgres user cannot pass {ancestor}: PostgreSQL's data goes to {fallback}")
            fallback.mkdir(parents=True, exist_ok=True)
            shutil.chown(fallback, "postgres", "postgres")
            return fallback
    wanted.mkdir(parents=True, exist_ok=True)
    shutil.chown(wanted, "postgres", "postgres")
    return wanted


def stop_postgres() -> None:
    """Stop PostgreSQL (fast shutdown)."""
    data = postgres_folder() / "data"
    if (data / "postmaster.pid").exists():
        subprocess.run(["runuser", "-u", "postgres", "--", str(postgres_bin() / "pg_ctl"), "-D", str(data), "-m", "fast",
                        "-w", "stop"], stdout=subprocess.DEVNULL, check=False)
        log("postgres stopped")


def start_redis() -> None:
    """Start Redis with an append-only file, fsynced at every write: what was queued survives a restart."""
    folder = HOME / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    redis_server = shutil.which("redis-server") or "/usr/bin/redis-server"
    start_process("redis", [redis_server, "--bind", "127.0.0.1", "--port", str(REDIS_PORT), "--dir", str(folder),
                            "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no"],
                  dict(os.environ))
    wait_for("redis", lambda: _port_open(REDIS_PORT), 30)


def start_s3() -> None:
    """Start moto's S3-compatible server and create the staging bucket."""
    start_process("s3", [str(PYTHON), "-m", "moto.server", "-H", "127.0.0.1", "-p", str(S3_PORT)], dict(os.environ))
    wait_for("the S3 server", lambda: _port_open(S3_PORT), 60)
    request = urllib.request.Request(f"http://127.0.0.1:{S3_PORT}/{S3_BUCKET}", method="PUT")
    urllib.request.urlopen(request, timeout=10).close()


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return bool(response.status == 200)
    except OSError:
        return False


# Airflow -------------------------------------------------------------------------------------------------

@contextmanager
def metadata() -> Iterator[Any]:
    """A cursor on Airflow's metadata database."""
    import psycopg2

    connection = psycopg2.connect(DATABASE_URL)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            yield cursor
    finally:
        connection.close()


def prepare_airflow(environment: dict[str, str], staging: str) -> None:
    """Migrate the metadata database; the one-slot warehouse pool; the staging connection (s3)."""
    home = Path(environment["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    secret = home / "jwt_secret"
    if not secret.exists():
        import secrets

        secret.touch(mode=0o600)
        secret.write_text(secrets.token_urlsafe(48), encoding="utf-8")
    log("airflow db migrate")
    airflow("db", "migrate", environment=environment)
    airflow("pools", "set", WAREHOUSE_POOL, "1", "the tasks that write the DuckDB warehouse, one at a time",
            environment=environment)
    if staging == "s3":
        with metadata() as cursor:
            cursor.execute("SELECT 1 FROM connection WHERE conn_id = %s", (STAGING_CONNECTION,))
            exists = cursor.fetchone() is not None
        if not exists:
            airflow("connections", "add", STAGING_CONNECTION, "--conn-type", "aws", "--conn-login", "overheard-local",
                    "--conn-password", "overheard-local-secret",
                    "--conn-extra", json.dumps({"endpoint_url": f"http://127.0.0.1:{S3_PORT}", "region_name": "us-east-1"}),
                    environment=environment)


def staging_credentials(environment: dict[str, str]) -> dict[str, str]:
    """fsspec's settings for s3:// (FSSPEC_S3_*) from the Airflow connection `overheard_staging`."""
    found = json.loads(airflow("connections", "get", STAGING_CONNECTION, "-o", "json", environment=environment,
                               capture=True))
    connection = found[0] if isinstance(found, list) else found
    extra = connection.get("extra_dejson") or json.loads(connection.get("extra") or "{}")
    settings = {"FSSPEC_S3_KEY": connection["login"], "FSSPEC_S3_SECRET": connection["password"]}
    if extra.get("endpoint_url"):
        settings["FSSPEC_S3_ENDPOINT_URL"] = extra["endpoint_url"]
    if extra.get("region_name"):
        settings["AWS_DEFAULT_REGION"] = extra["region_name"]
    return settings


def start_airflow(environment: dict[str, str], staging: str) -> None:
    """Start the API server, scheduler, DAG processor and the two workers; wait until all are ready."""
    python_airflow = [str(PYTHON), "-m", "airflow"]
    start_process("api-server", [*python_airflow, "api-server", "--port", str(API_PORT), "--host", "127.0.0.1"], environment)
    start_process("scheduler", [*python_airflow, "scheduler"], environment)
    start_process("dag-processor", [*python_airflow, "dag-processor"], environment)
    worker_environment = dict(environment)
    if staging == "s3":
        worker_environment.update(staging_credentials(environment))
    for worker in WORKERS:
        start_worker(worker, worker_environment)
    wait_for("the API server", lambda: _http_ok(f"http://127.0.0.1:{API_PORT}/api/v2/monitor/health"), 240)
    for worker in WORKERS:
        wait_for(f"the Celery worker {worker.name}", lambda worker=worker: _worker_ready(worker), 240)
    wait_for("the social_listening DAG in the metadata database", _dag_parsed, 300)
    log(f"Airflow ready: UI at http://127.0.0.1:{API_PORT} (user admin, password in {HOME / 'airflow'})")


def start_worker(worker: Worker, environment: dict[str, str]) -> int:
    """Start one Celery worker, its tasks recording its name as their host."""
    return start_process(worker.name, [
        str(PYTHON), "-m", "airflow", "celery", "worker", "--celery-hostname", f"{worker.name}@%h",
        "--queues", ",".join(worker.queues), "--skip-serve-logs",
    ], {**environment, "OVERHEARD_WORKER_NAME": worker.name})


def _worker_ready(worker: Worker) -> bool:
    if pid_of(worker.name) is None:
        raise RuntimeError(f"the Celery worker {worker.name} exited: see {HOME / 'logs' / f'{worker.name}.log'}")
    text = (HOME / "logs" / f"{worker.name}.log").read_text(encoding="utf-8", errors="replace")
    return f"{worker.name}@" in text.rsplit("--- ", 1)[-1] and " ready." in text.rsplit("--- ", 1)[-1]


def _dag_parsed() -> bool:
    with metadata() as cursor:
        cursor.execute("SELECT count(*) FROM serialized_dag WHERE dag_id IN ('social_listening', 'weekly_mention_report')")
        return bool(cursor.fetchone()[0] == 2)


def up(staging: str = "local", config: str | None = None, schedule: bool = True) -> None:
    """Start every process of the deployment that is not running."""
    install_system_packages()
    install_python_packages()
    HOME.mkdir(parents=True, exist_ok=True)
    settings = {"staging": staging, "schedule": schedule, "config": str(Path(config).resolve()) if config else None}
    (HOME / "settings.json").write_text(json.dumps(settings), encoding="utf-8")
    start_postgres()
    start_redis()
    if staging == "s3":
        start_s3()
    environment = airflow_environment(config, schedule)
    prepare_airflow(environment, staging)
    start_airflow(environment, staging)


def down() -> None:
    """Stop every process of the deployment; their data stays."""
    for name in reversed(AIRFLOW_PROCESSES):
        signal_process(name, signal.SIGTERM)
    for name in ("s3", "redis"):
        signal_process(name, signal.SIGTERM)
    stop_postgres()


def status() -> dict[str, int | None]:
    """Each process of the deployment and its process id (None: not running)."""
    return {name: pid_of(name) for name in ("redis", "s3", *AIRFLOW_PROCESSES)}


def restart(name: str) -> None:
    """Start one stopped process again with the settings `up` recorded."""
    settings = _saved_settings()
    if name == "redis":
        start_redis()
        return
    environment = airflow_environment()
    if name in {worker.name for worker in WORKERS}:
        worker = next(worker for worker in WORKERS if worker.name == name)
        if settings.get("staging") == "s3":
            environment.update(staging_credentials(environment))
        start_worker(worker, environment)
        wait_for(f"the Celery worker {name}", lambda: _worker_ready(worker), 240)
    else:
        up(settings.get("staging", "local"), settings.get("config"), settings.get("schedule", True))


# Runs ------------------------------------------------------------------------------------------------------

# `airflow dags trigger` runs a manual run as of now (its run_after), whatever its logical date; the pipeline's
# window ends at run_after when the run has no data interval. A run as of its logical date, as `overheard run`
# (`dags test`) makes, is triggered through Airflow's own trigger_dag with run_after set.
_TRIGGER = """
import json, sys
from datetime import datetime
from airflow.api.common.trigger_dag import trigger_dag
from airflow.utils.types import DagRunTriggeredByType
dag_id, run_id, logical_date, conf = sys.argv[1:5]
when = datetime.fromisoformat(logical_date)
trigger_dag(dag_id, triggered_by=DagRunTriggeredByType.CLI, run_id=run_id, logical_date=when, run_after=when,
            conf=json.loads(conf))
"""


def trigger(logical_date: str, config: str | None = None, run_id: str | None = None,
            dag_id: str = "social_listening") -> str:
    """Trigger a DAG run as of `logical_date` (its run_after too), with the `config` param when given.

    Returns:
        The run id.
    """
    run_id = run_id or f"manual__{logical_date}__{int(time.time())}"
    conf = {"config": str(Path(config).resolve())} if config else {}
    subprocess.run([str(PYTHON), "-c", _TRIGGER, dag_id, run_id, logical_date, json.dumps(conf)],
                   env=airflow_environment(), cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    return run_id


def run_state(run_id: str, dag_id: str = "social_listening") -> str | None:
    """A DAG run's state in the metadata database."""
    with metadata() as cursor:
        cursor.execute("SELECT state FROM dag_run WHERE dag_id = %s AND run_id = %s", (dag_id, run_id))
        row = cursor.fetchone()
    return None if row is None else str(row[0])


def wait_for_run(run_id: str, timeout_seconds: float = 1800, dag_id: str = "social_listening") -> str:
    """Wait until a DAG run ends; returns its final state."""
    deadline = time.monotonic() + timeout_seconds
    while (state := run_state(run_id, dag_id)) not in ("success", "failed"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the run {run_id} was still {state} after {timeout_seconds:g} s")
        time.sleep(2)
    return str(state)


def task_tries(run_id: str, dag_id: str = "social_listening") -> list[dict[str, Any]]:
    """Every try of every task of a run: task, map index, try number, state, host (worker), queue, pool, duration."""
    columns = "task_id, map_index, try_number, state, hostname, queue, pool, start_date, end_date"
    with metadata() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM task_instance WHERE dag_id = %s AND run_id = %s "
            f"UNION ALL SELECT {columns} FROM task_instance_history WHERE dag_id = %s AND run_id = %s "
            "ORDER BY 8 NULLS LAST, 1, 2, 3", (dag_id, run_id, dag_id, run_id))
        rows = cursor.fetchall()
    names = [name.strip() for name in columns.split(",")]
    return [dict(zip(names, row, strict=True)) for row in rows]


def main(argv: list[str]) -> int:
    """The command line; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("up", help="start the deployment")
    start.add_argument("--staging", choices=["local", "s3"], default="local")
    start.add_argument("--config", help="the Overheard config (default: OVERHEARD_CONFIG)")
    start.add_argument("--no-schedule", action="store_true", help="run triggered DAG runs only (the tests)")
    commands.add_parser("down", help="stop the deployment")
    commands.add_parser("install", help="install PostgreSQL, Redis and var/deploy/venv only")
    commands.add_parser("status", help="which processes run")
    run = commands.add_parser("run", help="trigger social_listening and wait for it")
    run.add_argument("--logical-date", required=True)
    run.add_argument("--config")
    for verb in ("stop", "start", "kill"):
        one = commands.add_parser(verb, help=f"{verb} one process")
        one.add_argument("process", choices=["redis", "s3", *AIRFLOW_PROCESSES])
    arguments = parser.parse_args(argv)
    if arguments.command == "up":
        up(arguments.staging, arguments.config, not arguments.no_schedule)
    elif arguments.command == "down":
        down()
    elif arguments.command == "status":
        for name, pid in status().items():
            print(f"{name:18} {'running, pid ' + str(pid) if pid else 'stopped'}")
    elif arguments.command == "run":
        started = time.monotonic()
        run_id = trigger(arguments.logical_date, arguments.config)
        state = wait_for_run(run_id)
        for attempt in task_tries(run_id):
            took = (attempt["end_date"] - attempt["start_date"]).total_seconds() if attempt["end_date"] and attempt["start_date"] else None
            index = f"[{attempt['map_index']}]" if attempt["map_index"] >= 0 else ""
            print(f"{attempt['task_id'] + index:24} try {attempt['try_number']} {attempt['state'] or '-':10} "
                  f"{attempt['hostname'] or '-':18} {attempt['queue']:10} {attempt['pool']:13} "
                  f"{'' if took is None else f'{took:.1f} s'}")
        print(f"run {run_id}: {state} in {time.monotonic() - started:.0f} s")
        return 0 if state == "success" else 1
    elif arguments.command == "stop":
        signal_process(arguments.process, signal.SIGTERM)
    elif arguments.command == "kill":
        signal_process(arguments.process, signal.SIGKILL)
    elif arguments.command == "start":
        restart(arguments.process)
    return 0


if __name__ == "__main__":
    if Path(sys.prefix).resolve() != VENV.resolve() and "--help" not in sys.argv and "-h" not in sys.argv:
        # Everything runs in the deployment's environment: create it, then continue there.
        install_system_packages()
        install_python_packages()
        os.execv(str(PYTHON), [str(PYTHON), *sys.argv])
    sys.exit(main(sys.argv[1:]))
