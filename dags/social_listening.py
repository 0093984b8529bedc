"""Collect brand mentions from every configured source, enrich them, load them into DuckDB.

Each run plans the collection units (feeds in batches, one unit per blog), collects them in
parallel, enriches each unit, loads everything in one transaction, then groups the new mentions
into stories and, when the config has a playbook, triages them for the social-care team. Tasks hand each other URLs of staged files, never mentions. The config file comes from the `config` param, else the
OVERHEARD_CONFIG environment variable, else config/example.yaml.

The collection window is the run's data interval. A run without one (a manual trigger) or with a
single instant for one (`airflow dags test`) collects for the schedule's hour that ends when the
run was due (its data interval end, else its `run_after`).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task

from airflow_edge.assets import WAREHOUSE

EXAMPLE_CONFIG = Path(__file__).resolve().parents[1] / "config" / "example.yaml"
SCHEDULE_PERIOD = timedelta(hours=1)  # the length of an @hourly data interval


def _config_path() -> str:
    """The config file: the run's `config` param, else OVERHEARD_CONFIG, else config/example.yaml."""
    chosen: str | None = get_current_context()["params"].get("config")
    return chosen or os.environ.get("OVERHEARD_CONFIG") or str(EXAMPLE_CONFIG)


def _window(plan: dict[str, Any]) -> tuple[datetime, datetime]:
    """The collection window written in the run plan."""
    start, end = plan["window"]
    return datetime.fromisoformat(start), datetime.fromisoformat(end)


def _credentials(connection_ids: set[str]) -> dict[str, dict[str, Any]]:
    """The Airflow connections that exist among `connection_ids` (from the metadata database, a
    secrets backend or AIRFLOW_CONN_* variables), in the shape collectors take. Missing ones are
    left out: their sources report "skipped: no credentials"."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    found = {}
    for connection_id in sorted(connection_ids):
        try:
            connection = Connection.get(connection_id)
        except AirflowNotFoundException:
            continue
        found[connection_id] = {
            "login": connection.login, "password": connection.password, "host": connection.host,
            "extra": connection.extra_dejson,
        }
    return found


@dag(
    dag_id="social_listening",
    schedule="@hourly",
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    tags=["overheard", "collection"],
    default_args={
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
    },
    params={"config": Param(None, type=["null", "string"], description="Path of the Overheard config file")},
    doc_md=__doc__,
)
def social_listening() -> None:
    @task
    def plan() -> list[dict[str, str]]:
        """Validate the config, read the cursors, write the run plan; one assignment per unit."""
        from airflow.sdk.exceptions import AirflowFailException

        from collectors.units import plan_units
        from config import ConfigError, load_config
        from core.staging import StagingArea
        from warehouse.cursors import read_cursors

        context = get_current_context()
        run_id = context["run_id"]
        config_path = _config_path()
        try:
            config = load_config(config_path)
        except ConfigError as error:
            raise AirflowFailException(str(error)) from None  # retrying will not fix the file
        staging = StagingArea(config.staging, run_id)
        units = plan_units(config)
        window_end = context.get("data_interval_end") or context["dag_run"].run_after
        window_start = min(context.get("data_interval_start") or window_end, window_end - SCHEDULE_PERIOD)
        plan_url = staging.write_json(
            "plan.json",
            {
                "config": config_path,
                "run_id": run_id,
                "window": [window_start.isoformat(), window_end.isoformat()],
                "units": [unit.to_json() for unit in units],
                "cursors": read_cursors(config.warehouse.path),
            },
        )
        return [{"plan": plan_url, "unit": unit.id} for unit in units]

    @task(map_index_template="{{ task.op_kwargs['assignment']['unit'] }}")
    def collect(assignment: dict[str, str]) -> str:
        """Collect one unit's sources and stage what they returned."""
        from collectors.units import CollectionUnit, collect_unit, connections_of, stage_unit
        from config import load_config
        from core.staging import StagingArea, read_json

        plan = read_json(assignment["plan"])
        config = load_config(plan["config"])
        unit = next(CollectionUnit.from_json(u) for u in plan["units"] if u["id"] == assignment["unit"])
        credentials = _credentials(connections_of(config, unit))
        runs = collect_unit(config, unit, plan["cursors"], _window(plan), credentials)
        return stage_unit(StagingArea(config.staging, plan["run_id"]), unit, runs)

    @task
    def enrich(collected_url: str) -> str:
        """Match brands and add ownership, language, sentiment and reach to one unit."""
        from config import load_config
        from core.staging import StagingArea
        from enrich.pipeline import enrich_unit

        config = load_config(_config_path())
        return enrich_unit(config, collected_url, StagingArea(config.staging, get_current_context()["run_id"]))

    @task(trigger_rule="all_done")
    def load(assignments: list[dict[str, str]], enriched_urls: list[str]) -> dict[str, Any]:
        """Load every unit that got through enrichment; record the others' sources as failed."""
        from airflow.sdk.exceptions import AirflowFailException

        from config import load_config
        from core.staging import read_json
        from warehouse.load import load_run

        if not assignments:
            raise AirflowFailException("there is no run plan: the plan task failed (see its log); nothing was collected")
        plan = read_json(assignments[0]["plan"])
        config = load_config(plan["config"])
        enriched_urls = [url for url in enriched_urls if url]
        loaded_units = {read_json(url)["unit"]["id"] for url in enriched_urls}
        missing = [
            {"source": name, "kind": unit["kind"],
             "error": f"the collect or enrich task of unit {unit['id']} failed; see its Airflow log"}
            for unit in plan["units"] if unit["id"] not in loaded_units for name in unit["sources"]
        ]
        result = load_run(
            config.warehouse.path, plan["run_id"], _window(plan), enriched_urls, missing, config.warehouse.memory_limit
        )
        return {"mentions_new": result.mentions_new, "mentions_seen_again": result.mentions_seen_again,
                "config": plan["config"], "run_id": plan["run_id"], "window_end": plan["window"][1]}

    @task
    def stories(loaded: dict[str, Any]) -> dict[str, Any]:
        """Group the warehouse's new mentions into stories (retweets, shared links, near-duplicates).

        After the load, in transactions of its own: a failure here keeps the load, and the next run
        assigns what this one did not.
        """
        from config import load_config
        from enrich.stories.duckdb_store import assign_warehouse_stories
        from warehouse.connection import open_warehouse
        from warehouse.snapshot import publish_snapshot

        config = load_config(loaded["config"])
        with open_warehouse(config.warehouse.path, config.warehouse.memory_limit) as connection:
            assigned = assign_warehouse_stories(connection)
            publish_snapshot(connection, config.warehouse.path, loaded["run_id"])
        return {**loaded, "stories_assigned": assigned}

    @task(outlets=[WAREHOUSE])
    def care(loaded: dict[str, Any]) -> dict[str, Any]:
        """Triage the run's new mentions with the playbook (if the config has one): categories, priority,
        queues and service levels; re-score open items; raise escalation, breach and spike alerts, and
        deliver them through the configured channels (email, webhook). An alert a channel could not take
        stays pending for the next run."""
        from care.alerts import configured_notifiers, deliver_pending
        from care.triage import CareStep
        from config import load_config
        from warehouse.connection import open_warehouse
        from warehouse.snapshot import publish_snapshot

        config = load_config(loaded["config"])
        if config.playbook is None:
            return loaded
        now = datetime.fromisoformat(loaded["window_end"])
        with open_warehouse(config.warehouse.path, config.warehouse.memory_limit) as connection:
            outcome = CareStep(connection, config, loaded["run_id"], now).run()
            notifiers = configured_notifiers(config.playbook.alerts)
            report = deliver_pending(connection, notifiers, now) if notifiers else None
            publish_snapshot(connection, config.warehouse.path, loaded["run_id"])
        if report and report.failed:
            print(f"{len(report.failed)} alerts not delivered yet (retried next run): {report.failed}")
        return {**loaded, "care": outcome.as_dict()}

    @task
    def summarize(loaded: dict[str, Any]) -> None:
        """Log the run summary: mentions per source and brand, failures and why."""
        from config import load_config
        from warehouse.summary import run_summary

        config = load_config(loaded["config"])
        print(run_summary(config.warehouse.path, loaded["run_id"]))

    assignments = plan()
    enriched = enrich.expand(collected_url=collect.expand(assignment=assignments))
    # Airflow types a task's call as taking its function's arguments, but here they are XComArgs that
    # Airflow resolves when the task runs (apache/airflow#39514): the one place the types cannot meet.
    summarize(care(stories(load(assignments, enriched))))  # type: ignore[arg-type]


social_listening()
