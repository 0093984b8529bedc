"""`overheard`: run a collection cycle through Airflow, check a config, print a run summary.

    overheard run --config config/example.yaml
    overheard check-config config/example.yaml
    overheard summary --config config/example.yaml [--run-id RUN_ID]
    overheard airflow-init
    overheard airflow standalone
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from cli.airflow_env import airflow_command, airflow_environment, initialise_airflow
from config import ConfigError, load_config

DAG_ID = "social_listening"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `overheard` command; returns the exit status."""
    parser = argparse.ArgumentParser(prog="overheard", description="Overheard social listening.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run one collection cycle through Airflow (airflow dags test)")
    run.add_argument("--config", required=True, type=Path, help="the config file")
    check = commands.add_parser("check-config", help="validate a config file and say what is wrong")
    check.add_argument("config", type=Path)
    summary = commands.add_parser("summary", help="print the summary of a run (default: the latest)")
    summary.add_argument("--config", required=True, type=Path)
    summary.add_argument("--run-id")
    commands.add_parser("airflow-init", help="create .airflow/ (metadata database, JWT secret)")
    passthrough = commands.add_parser("airflow", help="run an airflow command in Overheard's Airflow environment")
    passthrough.add_argument("arguments", nargs=argparse.REMAINDER)
    arguments = parser.parse_args(argv)

    if arguments.command == "airflow-init":
        print(f"Airflow home: {initialise_airflow()}")
        return 0
    if arguments.command == "airflow":
        return subprocess.run(airflow_command(*arguments.arguments), env=airflow_environment()).returncode
    try:
        config_path = getattr(arguments, "config")
        config = load_config(config_path)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    if arguments.command == "check-config":
        print(f"{config_path}: valid ({len(config.all_brands)} brands, {len(config.sources)} sources)")
        return 0
    from warehouse.summary import run_summary

    if arguments.command == "summary":
        print(run_summary(config.warehouse.path, arguments.run_id))
        return 0
    return run_cycle(config_path.resolve(), config.warehouse.path)


def run_cycle(config_path: Path, warehouse_path: str) -> int:
    """Run the social_listening DAG once through Airflow for a config, then print its summary.

    Airflow's own output goes to a log file under AIRFLOW_HOME; its tail is shown if the run fails.

    Returns:
        0 when the DAG run succeeded, 1 otherwise.
    """
    from warehouse.summary import latest_run_id, run_summary

    environment = airflow_environment({**os.environ, "OVERHEARD_CONFIG": str(config_path)})
    log_path = Path(environment["AIRFLOW_HOME"]) / "logs" / "overheard-run.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    before = latest_run_id(warehouse_path)
    print(f"Running the {DAG_ID} DAG through Airflow for {config_path} (Airflow log: {log_path}) ...", flush=True)
    with log_path.open("w", encoding="utf-8") as log:
        completed = subprocess.run(
            airflow_command("dags", "test", DAG_ID), env=environment, stdout=log, stderr=subprocess.STDOUT
        )
    after = latest_run_id(warehouse_path)
    if completed.returncode != 0 or after is None or after == before:
        tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-40:]
        print("\n".join(tail), file=sys.stderr)
        print(f"\nThe {DAG_ID} run did not complete; the full Airflow log is {log_path}", file=sys.stderr)
        return 1
    print(run_summary(warehouse_path, after))
    return 0


if __name__ == "__main__":
    sys.exit(main())
