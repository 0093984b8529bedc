"""deploy/docker-compose.yaml (not runnable on the development machine) stays in step with the deployment
the tests run (deploy/celery_deployment.py): the same Airflow settings, workers, queues and pool."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.distributed  # `make test-distributed` only

REPO = Path(__file__).resolve().parents[2]
# Settings whose values differ between containers and processes on one machine (addresses, ports, paths).
PER_PLACE = {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__RESULT_BACKEND", "AIRFLOW__CELERY__BROKER_URL",
             "AIRFLOW__CORE__EXECUTION_API_SERVER_URL", "AIRFLOW_CONFIG", "PYTHONPATH"}


def compose() -> dict[str, Any]:
    import yaml

    document: dict[str, Any] = yaml.safe_load((REPO / "deploy" / "docker-compose.yaml").read_text(encoding="utf-8"))
    return document


def test_the_compose_file_has_the_deployments_airflow_settings() -> None:
    from deploy.celery_deployment import airflow_environment

    composed = compose()["x-airflow-common"]["environment"]
    deployed = airflow_environment()
    shared = {name for name in composed if name.startswith(("AIRFLOW__", "OVERHEARD_WAREHOUSE"))} - PER_PLACE
    assert "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT" in shared
    for name in sorted(shared & set(deployed)):
        want, got = deployed[name], str(composed[name])
        if name == "AIRFLOW__CELERY__EXTRA_CELERY_CONFIG":
            want, got = json.loads(want), json.loads(got)
        elif want.lower() in ("true", "false"):  # Airflow reads booleans in any case
            want, got = want.lower(), got.lower()
        assert got == want, f"{name}: {got!r} in docker-compose.yaml, {want!r} in celery_deployment.py"
    assert [name for name in deployed if name.startswith("AIRFLOW__CELERY") and name not in composed] == []


def test_the_compose_file_has_the_deployments_workers_queues_and_pool() -> None:
    from deploy.celery_deployment import WAREHOUSE_POOL, WORKERS

    services = compose()["services"]
    for worker in WORKERS:
        command = shlex.split(services[worker.name]["command"])
        assert command[command.index("--queues") + 1].split(",") == list(worker.queues)
        assert services[worker.name]["environment"]["OVERHEARD_WORKER_NAME"] == worker.name
    init = " ".join(services["airflow-init"]["command"])
    assert re.search(rf"airflow pools set {WAREHOUSE_POOL} 1 ", init)
    assert {"--appendonly", "yes", "--appendfsync", "always"} <= set(services["redis"]["command"])
