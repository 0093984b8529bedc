"""The Celery deployment (deploy/celery_deployment.py) under test: `make test-distributed`.

One deployment for the session, staging on the local S3 server, scheduled runs off (only the runs the
tests trigger happen). Each test writes a config of its own (its own warehouse, its own staging prefix)
and hands it to its run through the DAG's `config` param. Set OVERHEARD_DEPLOY_KEEP=1 to leave the
deployment running afterwards (`python deploy/celery_deployment.py down` stops it).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
# Ports of the demo's corpus and fake APIs for these tests (the demo's own are 8765-8768).
DEMO_PORT = 18765


@dataclass
class WrittenConfig:
    """A config file a test wrote, with its warehouse."""

    path: Path
    warehouse: Path


@pytest.fixture(scope="session")
def demo_world() -> Iterator[None]:
    """The demo's corpus and fake platform APIs on 127.0.0.1, with what `make demo` sets for them in this
    process's environment (their addresses, the HTTP proxy that serves the corpus's sites by name, the demo
    credentials as AIRFLOW_CONN_* connections), which the deployment's processes then inherit."""
    from demo.__main__ import demo_services

    with demo_services(DEMO_PORT):
        yield


@pytest.fixture(scope="session")
def deployment(demo_world: None) -> Iterator[ModuleType]:
    """The running deployment (the `deploy.celery_deployment` module, its functions bound to it), its
    processes started in this environment: workers left running by an earlier session are restarted."""
    import signal

    from deploy import celery_deployment

    for worker in celery_deployment.WORKERS:
        celery_deployment.signal_process(worker.name, signal.SIGTERM)
    started = time.monotonic()
    celery_deployment.up(staging="s3", schedule=False)
    print(f"deployment up in {time.monotonic() - started:.0f} s")
    with celery_deployment.metadata() as cursor:  # runs of an earlier session (OVERHEARD_DEPLOY_KEEP) would clash
        cursor.execute("DELETE FROM dag_run WHERE dag_id = 'social_listening'")
    try:
        yield celery_deployment
    finally:
        if not os.environ.get("OVERHEARD_DEPLOY_KEEP"):
            celery_deployment.down()


@pytest.fixture(scope="session")
def runs_folder() -> Path:
    """Where the tests' warehouses and local staging go (var/deploy/tests/, emptied at the start)."""
    import shutil

    folder = REPO / "var" / "deploy" / "tests"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def write_config(folder: Path, name: str, document: dict[str, Any], staging: str) -> WrittenConfig:
    """Write a config `name` under `folder` with its own warehouse and the given staging location."""
    import yaml

    own = folder / name
    own.mkdir(parents=True, exist_ok=True)
    warehouse = own / "overheard.duckdb"
    document = {**document, "warehouse": {**document.get("warehouse", {}), "path": str(warehouse)}, "staging": staging}
    path = own / "config.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return WrittenConfig(path, warehouse)


def demo_config_document() -> dict[str, Any]:
    """config/demo.yaml with the addresses of the running demo services written in."""
    import yaml

    text = (REPO / "config" / "demo.yaml").read_text(encoding="utf-8")
    text = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda match: os.environ.get(match.group(1), match.group(2)), text)
    document: dict[str, Any] = yaml.safe_load(text)
    return document
