"""Render the weekly mention report once a week has been loaded to its end.

Scheduled on the warehouse asset: it runs after every `social_listening` run and renders the report
of the latest ISO week (in the config's timezone) whose last load has happened, unless that report
already exists; so each week's report is made on Monday, after the week's last load. Triggered by
hand with the `week` param (e.g. "2026-W45"), it renders that week again. The report goes to
`report.folder`, with a PDF when `report.pdf` is set, and by email when `report.email` is set.
"""

from __future__ import annotations

import os
from pathlib import Path

from airflow.sdk import Param, dag, get_current_context, task

from airflow_edge.assets import WAREHOUSE

EXAMPLE_CONFIG = Path(__file__).resolve().parents[1] / "config" / "example.yaml"


@dag(
    dag_id="weekly_mention_report",
    schedule=[WAREHOUSE],
    catchup=False,
    max_active_runs=1,
    tags=["overheard", "report"],
    default_args={"retries": 2},
    params={
        "config": Param(None, type=["null", "string"], description="config file (default: OVERHEARD_CONFIG)"),
        "week": Param(None, type=["null", "string"], description="ISO week to render, e.g. 2026-W45 (default: the one due)"),
    },
)
def weekly_mention_report() -> None:
    # On the warehouse's machine (the queue its Celery worker alone serves): it reads the snapshot beside the
    # file and writes report.folder there.
    @task(queue="warehouse")
    def render() -> dict[str, str]:
        """Render (and email) the due week's report, or the week asked for; nothing when none is due."""
        from config import load_config
        from reports.publishing import due_week, publish_weekly_report
        from warehouse.connection import read_warehouse

        params = get_current_context()["params"]
        config = load_config(params.get("config") or os.environ.get("OVERHEARD_CONFIG") or str(EXAMPLE_CONFIG))
        connection = read_warehouse(config.warehouse.path)
        if connection is None:
            print(f"No warehouse at {config.warehouse.path} yet; nothing to report")
            return {}
        with connection:
            week = params.get("week") or due_week(connection, config)
            if week is None:
                print("No report due: the latest complete week's report exists, or no week has been loaded to its end")
                return {}
            files = publish_weekly_report(connection, config, week, email=True)
        print("\n".join([f"Report {files.week}: {files.html}", *files.summary]))
        return {"week": files.week, "html": str(files.html), "csv": str(files.csv)}

    render()


weekly_mention_report()
