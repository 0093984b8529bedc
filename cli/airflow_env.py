"""The environment Airflow runs in for Overheard, and one DAG run driven in it.

The environment: a project-local AIRFLOW_HOME, the repository's airflow.cfg, and the API server's
URL derived from its host and port (so changing the port is one setting).

One DAG run: `overheard run` starts `python -m cli.airflow_env run DAG_ID LOGICAL_DATE RECORD` in
that environment. It runs the DAG once in that process, as `airflow dags test` does, and writes
RECORD (JSON): the run id before the run starts, then its final state and each task's. So every
caller knows which run is its own, two at once included. The run's start is the moment it started,
not its logical date as `airflow dags test` records it (apache/airflow#66127), so Airflow shows
the run's real duration while its data interval is the one asked for. A caller that stops the run
(Ctrl-C) marks it failed with `python -m cli.airflow_env fail DAG_ID RUN_ID`.
"""

from __future__ import annotations

import configparser
import json
import os
import secrets
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def airflow_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """`base` (default: this process's environment) with Overheard's Airflow settings.

    OVERHEARD_HOME (where airflow.cfg finds the DAGs) is this repository; AIRFLOW_HOME and
    AIRFLOW_CONFIG default to `.airflow/` and the repository's `airflow.cfg`; PATH starts with
    this Python environment's scripts; AIRFLOW__API__BASE_URL defaults to the API server's own
    address (`api_base_url`), which is where tasks reach Airflow's execution API.
    """
    environment = dict(os.environ if base is None else base)
    environment["OVERHEARD_HOME"] = str(REPO_ROOT)
    # `airflow standalone` starts its components as `airflow ...` from PATH: this environment's first.
    environment["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), environment.get("PATH", "")])
    environment.setdefault("AIRFLOW_HOME", str(REPO_ROOT / ".airflow"))
    environment.setdefault("AIRFLOW_CONFIG", str(REPO_ROOT / "airflow.cfg"))
    environment.setdefault("AIRFLOW__API__BASE_URL", api_base_url(environment))
    return environment


def api_base_url(environment: dict[str, str]) -> str:
    """The URL of the API server: `[api] host` and `port` as AIRFLOW__API__HOST / AIRFLOW__API__PORT or
    the config file (AIRFLOW_CONFIG) set them. A server listening on every address is reached on 127.0.0.1."""
    config = configparser.ConfigParser(interpolation=None)
    config.read(environment.get("AIRFLOW_CONFIG", REPO_ROOT / "airflow.cfg"), encoding="utf-8")
    host = environment.get("AIRFLOW__API__HOST") or config.get("api", "host", fallback="127.0.0.1")
    port = environment.get("AIRFLOW__API__PORT") or config.get("api", "port", fallback="8080")
    return f"http://{'127.0.0.1' if host in ('0.0.0.0', '::', '') else host}:{port}"


def airflow_command(*arguments: str) -> list[str]:
    """The `airflow` executable of this Python environment with its arguments."""
    return [str(Path(sys.executable).with_name("airflow")), *arguments]


def initialise_airflow() -> Path:
    """Create AIRFLOW_HOME, its JWT secret (once; kept out of git) and the metadata database.

    Returns:
        The AIRFLOW_HOME folder.
    """
    environment = airflow_environment()
    home = Path(environment["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    secret = home / "jwt_secret"
    if not secret.exists():
        secret.touch(mode=0o600)
        secret.write_text(secrets.token_urlsafe(48), encoding="utf-8")
    subprocess.run(airflow_command("db", "migrate"), env=environment, check=True, stdout=subprocess.DEVNULL)
    return home


@dataclass
class DagRunRecord:
    """What `run_dag` writes about its run.

    Attributes:
        run_id: the run's id, known before the run starts.
        state: the run's final state (success, failed); None while it runs, or when it never ended.
        tasks: each task instance's final state, by task id (a mapped one as `group.task[map name]`).
    """

    run_id: str
    state: str | None = None
    tasks: dict[str, str | None] = field(default_factory=dict)

    def write(self, path: Path) -> None:
        """Write the record to `path` (JSON)."""
        path.write_text(json.dumps(asdict(self)), encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> DagRunRecord | None:
        """The record at `path`; None when the run never got as far as having an id."""
        try:
            return cls(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return None


def dag_run_command(verb: str, *arguments: str) -> list[str]:
    """The command that runs `verb` ("run" or "fail") of this module in a new Python process."""
    return [sys.executable, "-m", "cli.airflow_env", verb, *arguments]


def run_dag(dag_id: str, logical_date: datetime, record_path: Path) -> DagRunRecord:
    """Run a DAG once in this process (as `airflow dags test` does), recording the run in `record_path`.

    Run in Airflow's environment (`airflow_environment`); the tasks run in this process, one at a time.

    Args:
        dag_id: the DAG.
        logical_date: the run's logical date; its data interval is the schedule's for that date.
        record_path: where the `DagRunRecord` goes: the run id first, the outcome at the end.

    Returns:
        The final record.
    """
    from airflow.models.dagrun import DagRun
    from airflow.providers_manager import ProvidersManager
    from airflow.utils.cli import get_bagged_dag
    from airflow.utils.types import DagRunType

    ProvidersManager().initialize_providers_configuration()  # as every airflow command does first
    _write_dags_to_metadata_one_at_a_time()
    dag = get_bagged_dag(None, dag_id)
    run_after = datetime.now(UTC)
    record = DagRunRecord(DagRun.generate_run_id(run_type=DagRunType.MANUAL, logical_date=logical_date,
                                                 run_after=run_after))
    record.write(record_path)
    dag.test(logical_date=logical_date, run_after=run_after)
    record = _ended_run(dag_id, record.run_id)
    record.write(record_path)
    return record


def _write_dags_to_metadata_one_at_a_time() -> None:
    """Write the DAG files' DAGs (and the assets they share) to the metadata database, one process at a time.

    `dag.test` does the same as it starts, but two runs starting at once on a metadata database that lacks
    a DAG's asset both insert it, and the second fails ("UNIQUE constraint failed: asset.name, asset.uri").
    Done here first under a lock on a file in AIRFLOW_HOME, the write `dag.test` then makes finds every DAG
    up to date.
    """
    import fcntl

    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
    from airflow.utils.session import create_session

    with open(Path(os.environ["AIRFLOW_HOME"]) / "dag-sync.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or the process dies
        manager = DagBundlesManager()
        with create_session() as session:
            manager.sync_bundles_to_db(session=session)
        for bundle in manager.get_all_dag_bundles():
            if not bundle.is_initialized:
                bundle.initialize()
            bag = BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, bundle_name=bundle.name)
            sync_bag_to_db(bag, bundle.name, bundle.version)


def fail_dag_run(dag_id: str, run_id: str) -> None:
    """Mark a run that was stopped as failed, as Airflow's "mark failed" does: its running tasks failed,
    the ones not started skipped. Nothing happens when the run was never created."""
    from airflow.api.common.mark_tasks import set_dag_run_state_to_failed
    from airflow.models.dagbag import DBDagBag
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        if session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)) is None:
            return
        dag = DBDagBag().get_latest_version_of_dag(dag_id, session=session)
        if dag is None:
            raise LookupError(f"the DAG {dag_id} is not in Airflow's metadata database")
        set_dag_run_state_to_failed(dag=dag, run_id=run_id, commit=True, session=session)
    _ended_run(dag_id, run_id)


def _ended_run(dag_id: str, run_id: str) -> DagRunRecord:
    """Give an ended run its real start (the moment it was started: its `run_after`) and read its outcome."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        run = session.scalars(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)).one()
        run.start_date = run.run_after
        tasks = {
            ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.rendered_map_index or ti.map_index}]": ti.state
            for ti in run.get_task_instances(session=session)
        }
        return DagRunRecord(run_id, str(run.state), {name: str(state) if state else None for name, state in tasks.items()})


def main(argv: list[str]) -> int:
    """`python -m cli.airflow_env run DAG_ID LOGICAL_DATE RECORD` or `... fail DAG_ID RUN_ID`; returns the exit status."""
    if argv[:1] == ["run"] and len(argv) == 4:
        record = run_dag(argv[1], datetime.fromisoformat(argv[2]), Path(argv[3]))
        return 0 if record.state == "success" else 1
    if argv[:1] == ["fail"] and len(argv) == 3:
        fail_dag_run(argv[1], argv[2])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
