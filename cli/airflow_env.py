"""The environment Airflow runs in for Overheard: project-local home, the repo's airflow.cfg."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def airflow_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """`base` (default: this process's environment) with Overheard's Airflow settings.

    OVERHEARD_HOME (where airflow.cfg finds the DAGs) is this repository; AIRFLOW_HOME and
    AIRFLOW_CONFIG default to `.airflow/` and the repository's `airflow.cfg`; PATH starts with
    this Python environment's scripts.
    """
    environment = dict(os.environ if base is None else base)
    environment["OVERHEARD_HOME"] = str(REPO_ROOT)
    # `airflow standalone` starts its components as `airflow ...` from PATH: this environment's first.
    environment["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), environment.get("PATH", "")])
    environment.setdefault("AIRFLOW_HOME", str(REPO_ROOT / ".airflow"))
    environment.setdefault("AIRFLOW_CONFIG", str(REPO_ROOT / "airflow.cfg"))
    return environment


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
