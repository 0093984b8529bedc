"""The host name a task instance records in the Celery deployment: its worker's name.

The deployment's two Celery workers run on one machine, so the machine's name would not tell them
apart in Airflow (a task instance's `hostname`, its tries in `task_instance_history`). Each worker
process gets OVERHEARD_WORKER_NAME, and `[core] hostname_callable` points here.
"""

from __future__ import annotations

import os
import socket


def worker_hostname() -> str:
    """OVERHEARD_WORKER_NAME when set (a worker of the deployment), else the machine's name."""
    return os.environ.get("OVERHEARD_WORKER_NAME") or socket.getfqdn()
