"""The demo corpus through the Celery deployment gives exactly the warehouse `make demo` gives.

The reference is `make demo`'s own path (`overheard run`: the DAG run in one process with
`dags test`, staging on local disk); the other run goes through the scheduler, Redis and both Celery
workers, staging in the S3 bucket. Their mentions, brand matches and triage items must be equal,
column by column, but for what says when and in which run a row was written.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.distributed.conftest import WrittenConfig, demo_config_document, write_config

pytestmark = pytest.mark.distributed  # `make test-distributed` only

# The tasks that open the DuckDB file, and those that write it (the pool's).
WAREHOUSE_TASKS = {"plan", "load", "stories", "themes", "care", "summarize"}
WAREHOUSE_WRITERS = {"plan", "load", "stories", "themes", "care"}
# Columns that record when or in which Airflow run a row was written, not what it holds.
RUN_COLUMNS = {"first_run_id", "first_seen_at", "last_run_id", "last_seen_at", "updated_at"}
COMPARED_TABLES = {"mentions": "mention_key", "mention_brands": "mention_key, brand", "triage_items": "mention_key"}


def table_rows(warehouse: Path, table: str, order: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """A table's columns (less RUN_COLUMNS) and its rows in key order."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        columns = [row[0] for row in connection.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position", [table]
        ).fetchall() if row[0] not in RUN_COLUMNS]
        rows = connection.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}").fetchall()
    return columns, rows


def test_the_demo_through_celery_gives_the_warehouse_make_demo_gives(
    deployment: ModuleType, demo_world: None, runs_folder: Path
) -> None:
    from cli.airflow_env import initialise_airflow
    from cli.main import run_cycle
    from demo.__main__ import LOGICAL_DATE

    document = demo_config_document()
    reference = write_config(runs_folder, "reference", document, str(runs_folder / "reference" / "staging"))
    celery = write_config(runs_folder, "celery-demo", document, f"s3://{deployment.S3_BUCKET}/celery-demo")

    initialise_airflow()  # the test session's own Airflow home (SQLite), as `make demo` has .airflow
    started = time.monotonic()
    assert run_cycle(reference.path, str(reference.warehouse), LOGICAL_DATE.isoformat()) == 0
    reference_seconds = time.monotonic() - started

    started = time.monotonic()
    run_id = deployment.trigger(LOGICAL_DATE.isoformat(), str(celery.path))
    state = deployment.wait_for_run(run_id, timeout_seconds=1800)
    celery_seconds = time.monotonic() - started
    tries = deployment.task_tries(run_id)
    print(f"\nreference (make demo's path) {reference_seconds:.0f} s; through Celery {celery_seconds:.0f} s (trigger to end)")
    for attempt in tries:
        print(f"  {attempt['task_id']}[{attempt['map_index']}] try {attempt['try_number']} {attempt['state']} "
              f"on {attempt['hostname']} ({attempt['queue']}, {attempt['pool']})")
    assert state == "success"

    # Where the tasks ran: DuckDB only on the warehouse worker, its writers in the one-slot pool; the
    # units on any worker.
    assert {attempt["hostname"] for attempt in tries if attempt["task_id"] in WAREHOUSE_TASKS} == {"warehouse-worker"}
    assert {attempt["pool"] for attempt in tries if attempt["task_id"] in WAREHOUSE_WRITERS} == {"warehouse"}
    unit_hosts = {attempt["hostname"] for attempt in tries if attempt["task_id"] == "collect_and_enrich"}
    assert unit_hosts <= {"warehouse-worker", "any-worker"} and "any-worker" in unit_hosts

    # Staged in the bucket, and nothing on the workers' disks.
    assert staged_files(deployment, "celery-demo"), "nothing was staged in the S3 bucket"
    assert not (runs_folder / "celery-demo" / "staging").exists()

    assert_same_warehouse(reference, celery)


def staged_files(deployment: ModuleType, prefix: str) -> list[str]:
    """The staged files under a prefix of the deployment's bucket, read with the staging connection's credentials."""
    import s3fs

    settings = deployment.staging_credentials(deployment.airflow_environment())
    filesystem = s3fs.S3FileSystem(key=settings["FSSPEC_S3_KEY"], secret=settings["FSSPEC_S3_SECRET"],
                                   endpoint_url=settings["FSSPEC_S3_ENDPOINT_URL"])
    return list(filesystem.find(f"{deployment.S3_BUCKET}/{prefix}"))


def assert_same_warehouse(reference: WrittenConfig, other: WrittenConfig) -> None:
    """The mentions, brand matches and triage items of two warehouses are the same, row for row."""
    for table, order in COMPARED_TABLES.items():
        columns, expected = table_rows(reference.warehouse, table, order)
        other_columns, found = table_rows(other.warehouse, table, order)
        assert other_columns == columns
        assert len(found) == len(expected), f"{table}: {len(found)} rows through Celery, {len(expected)} by make demo's path"
        for want, got in zip(expected, found, strict=True):
            differing = {name: (a, b) for name, a, b in zip(columns, want, got, strict=True) if a != b}
            assert not differing, f"{table} row {want[0]} differs: {differing}"
    assert len(expected_keys := table_rows(reference.warehouse, "mentions", "mention_key")[1]) > 0, expected_keys
