"""Collect brand mentions from every configured source, enrich them, load them into DuckDB: the hourly
social_listening DAG, and the care fast lane (care_fast_lane) built by the same factory.

Each run plans the collection units (feeds in batches, one unit per blog or platform source); each
unit is collected then enriched by a task of its own (the mapped `collect_and_enrich` task), so a unit
whose task dies (an exception, out of memory, killed, past its time limit) costs only its own
sources. The load takes every unit that got through and records the others' sources as failed, with
the reason. Then the new mentions are grouped into stories and, when the config has a playbook,
triaged for the social-care team. A run in which no source was collected (every one failed or was
skipped) ends failed, after its summary. Tasks hand each other URLs of staged files, never mentions.
The config file comes from the `config` param, else the OVERHEARD_CONFIG environment variable, else
config/example.yaml.

The collection window is the run's data interval, an hour at least. A run without one (a manual trigger)
or with a single instant for one (`airflow dags test`) collects for the hour that ends when the run was
due (its data interval end, else its `run_after`).

The care fast lane: when the config's playbook names a `fast_lane` (sources and `every_minutes`), the
care_fast_lane DAG runs every `every_minutes` and collects only those sources, then loads them and runs
the care step (no stories or themes: the hourly run assigns those, themes included for the weeks the fast
lane loaded); the hourly DAG collects every other source. Each source is collected by one lane only, so
its cursor has one writer and two runs of different lanes never fetch the same posts; they share the
warehouse by its write lock. The fast lane's schedule is read, when the DAG file is parsed, from the config
OVERHEARD_CONFIG names (else config/example.yaml); without a fast lane there, the DAG has no schedule.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from airflow.sdk import DAG, Context, Param, get_current_context, task

from airflow_edge.assets import WAREHOUSE
from airflow_edge.lanes import LANE_DAGS, warehouse_run_id
from core.secret_scrubbing import SecretScrubber

if TYPE_CHECKING:
    from collectors.units import CollectionUnit
    from config.model import Config

EXAMPLE_CONFIG = Path(__file__).resolve().parents[1] / "config" / "example.yaml"
SCHEDULE_PERIOD = timedelta(hours=1)  # the length of an @hourly data interval, and the shortest window collected
FULL_LANE, CARE_LANE = "full", "care"  # the keys of config.model.LANES: what each DAG collects (Config.lane_sources)
# How long each task may run before Airflow stops it (its execution_timeout); README.md, "Time limits".
# A unit's task has its own limit, derived by the plan from its sources' time budgets (`_collect_time_limit`)
# plus the enrich limit; the collect limit here is the most any unit's collection gets.
TIME_LIMITS = {
    "plan": timedelta(minutes=10),
    "collect": timedelta(minutes=120),
    "enrich": timedelta(minutes=30),
    "load": timedelta(minutes=30),
    "stories": timedelta(minutes=20),
    "themes": timedelta(minutes=20),
    "care": timedelta(minutes=20),
    "summarize": timedelta(minutes=5),
    "check_sources": timedelta(minutes=5),
}
COLLECT_MARGIN = timedelta(minutes=5)  # a unit's collection time beyond its sources' budgets: start, read the plan, stage
UNIT_TASK = "collect_and_enrich"  # the mapped task of each unit: collect its sources, then enrich what they returned
# A unit task is retried once, soon: a lost worker or a blip of the staging store; what fails twice
# waits for the next run (its sources keep their cursors). A unit past its time limit is not retried.
UNIT_RETRIES: dict[str, Any] = {"retries": 1, "retry_delay": timedelta(seconds=10), "retry_exponential_backoff": False}
# The name of each mapped unit task in Airflow's UI: its unit id, from the plan.
UNIT_NAME = "{{ ti.xcom_pull(task_ids='plan')[ti.map_index]['unit'] }}"
FAILURE_KEY = "failure"  # the XCom in which a unit task that dies leaves why
# The tasks that open the DuckDB file run where it lives (docs/deployment.md): on the `warehouse` queue,
# which only that machine's Celery worker serves (the LocalExecutor ignores queues). Those that write it also
# take a slot of the pool OVERHEARD_WAREHOUSE_POOL names, one slot in the Celery deployment so that they
# run one at a time; Airflow's default pool when it is unset, as under `make standalone`, whose scheduler
# would not schedule a task of a pool that does not exist.
WAREHOUSE_QUEUE = "warehouse"
WAREHOUSE_WRITER: dict[str, Any] = {"queue": WAREHOUSE_QUEUE,
                                    "pool": os.environ.get("OVERHEARD_WAREHOUSE_POOL") or "default_pool"}


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


def _collect_time_limit(config: Config, unit: CollectionUnit) -> timedelta:
    """How long a unit's collection may take: its sources' time budgets as `collectors.units.collect_unit`
    spends them, plus COLLECT_MARGIN, at most TIME_LIMITS["collect"].

    Each source is cut off a little after its budget (`cut_off_seconds`); hosts are collected in
    parallel, `max_parallel_hosts` at a time, and a host's sources one after another, so the unit
    takes at most ⌈sources ÷ max_parallel_hosts⌉ plus the most sources one host has of those
    turns, and never more turns than it has sources.
    """
    from collectors.source_run import cut_off_seconds
    from collectors.units import TIME_BUDGET_SECONDS
    from transport.http import host_of

    per_host = Counter(host_of(config.source(name).endpoint) for name in unit.sources)
    turns = min(len(unit.sources), math.ceil(len(unit.sources) / config.http.max_parallel_hosts) + max(per_host.values()))
    limit = timedelta(seconds=turns * cut_off_seconds(TIME_BUDGET_SECONDS[unit.kind])) + COLLECT_MARGIN
    return min(limit, TIME_LIMITS["collect"])


def _unit_time_limit(context: Context) -> None:
    """Give a unit's task (before it runs) the time limit the plan derived for its unit: its collection's
    (`_collect_time_limit`) and its enrichment's (TIME_LIMITS["enrich"])."""
    ti = context["ti"]
    assignment = ti.xcom_pull(task_ids="plan")[ti.map_index]
    ti.task.execution_timeout = timedelta(seconds=assignment["time_limit_seconds"])


@contextmanager
def _failure_recorded(credentials: Mapping[str, Mapping[str, Any]] | None = None) -> Iterator[list[str]]:
    """Run a unit task's body; when it raises, leave why (the step it was in, the error's type and message
    with the secrets of `credentials` scrubbed) in the task's `failure` XCom for the load to record, then fail
    the task. The body says which step it is in by setting the yielded list's one item (first "collect").
    A unit past its time limit fails without a retry: it would run out of time again."""
    from airflow.sdk.exceptions import AirflowFailException, AirflowTaskTimeout

    step = ["collect"]
    try:
        yield step
    except BaseException as error:
        context = get_current_context()
        if isinstance(error, AirflowTaskTimeout):
            limit = context["task"].execution_timeout or timedelta()
            reason = f"ran past its time limit of {limit.total_seconds() / 60:g} minutes"
        else:
            reason = SecretScrubber.for_connections(credentials or {}).scrub(f"{type(error).__name__}: {error}")
        context["ti"].xcom_push(key=FAILURE_KEY, value={"step": step[0], "reason": reason})
        if isinstance(error, AirflowTaskTimeout):
            raise AirflowFailException(reason) from error
        raise


def _unit_failure(index: int, unit_id: str) -> str:
    """Why the unit at map index `index` reached no load: what its task left (the step and the error), or that
    it died silently."""
    failure = get_current_context()["ti"].xcom_pull(task_ids=UNIT_TASK, key=FAILURE_KEY, map_indexes=index)
    if failure:
        return (f"unit {unit_id} failed in its {failure['step']} step: {failure['reason']}; the unit's sources keep "
                "their cursors (see the task's Airflow log)")
    return (f"the task of unit {unit_id} ended without a result (killed, e.g. out of memory, or its worker was "
            "lost); the unit's sources keep their cursors (see the task's Airflow log)")


def _fast_lane_schedule() -> timedelta | None:
    """The care fast lane's schedule: every `playbook.fast_lane.every_minutes` of the config OVERHEARD_CONFIG
    names (else config/example.yaml); None (triggered runs only) when it has no fast lane or cannot be read.

    Read with nothing but YAML, as the DAG file is parsed: the plan task validates the whole config and
    fails the run with the config's error.
    """
    path = os.environ.get("OVERHEARD_CONFIG") or str(EXAMPLE_CONFIG)
    try:
        fast_lane = ((yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}).get("playbook") or {}).get("fast_lane")
        minutes = fast_lane.get("every_minutes", 5) if isinstance(fast_lane, dict) else None
    except (OSError, yaml.YAMLError, AttributeError):
        return None
    return timedelta(minutes=minutes) if isinstance(minutes, int) and 1 <= minutes <= 59 else None


def collection_dag(lane: str) -> DAG:
    """The DAG of a collection lane: `full` (social_listening, hourly, every source but the fast lane's, then
    stories and themes) or `care` (care_fast_lane, the fast lane's sources every few minutes, no stories or themes).
    """
    with DAG(
        dag_id=LANE_DAGS[lane],
        schedule="@hourly" if lane == FULL_LANE else _fast_lane_schedule(),
        start_date=datetime(2026, 1, 1, tzinfo=UTC),
        catchup=False,
        max_active_runs=1,
        tags=["overheard", "collection"] if lane == FULL_LANE else ["overheard", "collection", "care"],
        default_args={
            "retries": 2,
            "retry_delay": timedelta(minutes=1),
            "retry_exponential_backoff": True,
            "max_retry_delay": timedelta(minutes=10),
        },
        params={"config": Param(None, type=["null", "string"], description="Path of the Overheard config file")},
        doc_md=__doc__,
    ) as collection:
        _collection_tasks(lane)
    return collection


def _collection_tasks(lane: str) -> None:
    """The tasks of a collection lane's DAG, in the DAG being defined."""
    @task(execution_timeout=TIME_LIMITS["plan"], **WAREHOUSE_WRITER)
    def plan() -> list[dict[str, Any]]:
        """Validate the config, read the cursors, write the run plan of the lane's sources; one assignment per unit."""
        from airflow.sdk.exceptions import AirflowFailException

        from collectors.units import plan_units
        from config import ConfigError, load_config
        from core.staging import StagingArea
        from warehouse.cursors import read_cursors

        context = get_current_context()
        run_id = warehouse_run_id(lane, context["run_id"])
        config_path = _config_path()
        try:
            config = load_config(config_path)
        except ConfigError as error:
            raise AirflowFailException(str(error)) from None  # retrying will not fix the file
        try:
            sources = config.lane_sources(lane)
        except ValueError as error:
            raise AirflowFailException(str(error)) from None
        staging = StagingArea(config.staging, run_id)
        units = plan_units(config.model_copy(update={"sources": sources}))
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
        return [
            {"plan": plan_url, "unit": unit.id,
             "time_limit_seconds": (_collect_time_limit(config, unit) + TIME_LIMITS["enrich"]).total_seconds()}
            for unit in units
        ]

    @task(task_id=UNIT_TASK, map_index_template=UNIT_NAME, execution_timeout=TIME_LIMITS["collect"] + TIME_LIMITS["enrich"],
          pre_execute=_unit_time_limit, **UNIT_RETRIES)
    def collect_and_enrich(assignment: dict[str, Any]) -> str:
        """Collect one unit's sources and stage what they returned; then match brands and add ownership, language,
        sentiment and reach, and stage that. A retry enriches what its first attempt collected and staged, if it
        got that far, so a source is never read twice in a run (X bills every post read)."""
        from collectors.units import CollectionUnit, collect_unit, connections_of, stage_unit, staged_unit
        from config import load_config
        from core.staging import StagingArea, read_json
        from enrich.pipeline import enrich_unit

        credentials: dict[str, dict[str, Any]] = {}
        with _failure_recorded(credentials) as step:
            plan = read_json(assignment["plan"])
            config = load_config(plan["config"])
            unit = next(CollectionUnit.from_json(u) for u in plan["units"] if u["id"] == assignment["unit"])
            staging = StagingArea(config.staging, plan["run_id"])
            collected_url = staged_unit(staging, unit)
            if collected_url is None:
                credentials.update(_credentials(connections_of(config, unit)))
                runs = collect_unit(config, unit, plan["cursors"], _window(plan), credentials)
                collected_url = stage_unit(staging, unit, runs)
            step[0] = "enrich"
            return enrich_unit(config, collected_url, staging)

    @task(trigger_rule="all_done", execution_timeout=TIME_LIMITS["load"], **WAREHOUSE_WRITER)
    def load(assignments: list[dict[str, Any]]) -> dict[str, Any]:
        """Load every unit that got through enrichment; record the others' sources as failed, with why."""
        from airflow.sdk.exceptions import AirflowFailException

        from config import load_config
        from core.staging import read_json
        from warehouse.load import load_run

        if not assignments:
            raise AirflowFailException("there is no run plan: the plan task failed (see its log); nothing was collected")
        plan = read_json(assignments[0]["plan"])
        config = load_config(plan["config"])
        units = {unit["id"]: unit for unit in plan["units"]}
        # Each unit's enriched manifest by map index, None where its chain did not get through.
        enriched_urls: list[str | None] = get_current_context()["ti"].xcom_pull(
            task_ids=UNIT_TASK, map_indexes=range(len(assignments))
        )
        missing = [
            {"source": name, "kind": units[assignment["unit"]]["kind"], "error": _unit_failure(index, assignment["unit"])}
            for index, (assignment, url) in enumerate(zip(assignments, enriched_urls, strict=True)) if url is None
            for name in units[assignment["unit"]]["sources"]
        ]
        result = load_run(
            config.warehouse.path, plan["run_id"], _window(plan), [url for url in enriched_urls if url is not None],
            missing, config.warehouse.memory_limit,
        )
        return {"mentions_new": result.mentions_new, "mentions_seen_again": result.mentions_seen_again,
                "sources": len(result.sources),
                "sources_collected": sum(source["status"] in ("ok", "empty") for source in result.sources),
                "config": plan["config"], "run_id": plan["run_id"], "window_start": plan["window"][0],
                "window_end": plan["window"][1]}

    @task(execution_timeout=TIME_LIMITS["stories"], **WAREHOUSE_WRITER)
    def stories(loaded: dict[str, Any]) -> dict[str, Any]:
        """Group the warehouse's new mentions into stories (retweets, shared links, near-duplicates), and
        publish the snapshot when it assigned any (the load published its own rows).

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
            if assigned:
                publish_snapshot(connection, config.warehouse.path, loaded["run_id"])
        return {**loaded, "stories_assigned": assigned}

    @task(execution_timeout=TIME_LIMITS["themes"], **WAREHOUSE_WRITER)
    def themes(loaded: dict[str, Any]) -> dict[str, Any]:
        """Recompute the themes of each week (ISO, in the config's time zone) with a mention the run loaded
        or saw again, or, with a care fast lane, that its runs loaded since this run's window started: what
        each brand's mentions are about, and what is new or growing (warehouse.themes). With neither, there
        is nothing to recompute, and the task ends without opening the warehouse.

        After the stories, in transactions of its own: a failure here keeps the load and the stories.
        """
        from config import load_config

        config = load_config(loaded["config"])
        fast_lane = config.playbook is not None and config.playbook.fast_lane is not None
        if not (loaded["mentions_new"] or loaded["mentions_seen_again"] or fast_lane):
            return {**loaded, "themes": {"weeks": [], "themes": 0}}

        from warehouse.connection import open_warehouse
        from warehouse.snapshot import publish_snapshot
        from warehouse.themes import refresh_themes, run_weeks

        since = datetime.fromisoformat(loaded["window_start"]) if fast_lane else None
        with open_warehouse(config.warehouse.path, config.warehouse.memory_limit) as connection:
            weeks = run_weeks(connection, loaded["run_id"], config.timezone, since)
            themes_now = refresh_themes(connection, weeks)
            if weeks:
                publish_snapshot(connection, config.warehouse.path, loaded["run_id"])
        return {**loaded, "themes": {"weeks": [week.label for week in weeks], "themes": themes_now}}

    # The hourly run's care step tells the weekly report that the warehouse changed; the fast lane's does not
    # (the report would render every few minutes for what the next hourly run tells it anyway).
    @task(outlets=[WAREHOUSE] if lane == FULL_LANE else [], execution_timeout=TIME_LIMITS["care"], **WAREHOUSE_WRITER)
    def care(loaded: dict[str, Any]) -> dict[str, Any]:
        """Triage the run's new mentions with the playbook (if the config has one): categories, priority,
        queues and service levels; re-score open items; raise escalation, breach and spike alerts, and
        deliver them through the configured channels (email, webhook). An alert a channel could not take
        stays pending for the next run. With a helpdesk in the playbook, hand off the items its rules name
        and close the items whose ticket was solved."""
        from care.alerts import configured_notifiers, deliver_pending
        from care.helpdesk import playbook_helpdesk_step
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
            helpdesk = playbook_helpdesk_step(connection, config, now)
            publish_snapshot(connection, config.warehouse.path, loaded["run_id"])
        if helpdesk:
            print(helpdesk)
        if report and report.failed:
            print(f"{len(report.failed)} alerts not delivered yet (retried next run): {report.failed}")
        return {**loaded, "care": outcome.as_dict()}

    @task(execution_timeout=TIME_LIMITS["summarize"], queue=WAREHOUSE_QUEUE)
    def summarize(loaded: dict[str, Any]) -> None:
        """Log the run summary: mentions per source and brand, failures and why."""
        from config import load_config
        from warehouse.summary import run_summary

        config = load_config(loaded["config"])
        channels = config.playbook.alerts.channels if config.playbook else []
        print(run_summary(config.warehouse.path, loaded["run_id"], alert_channels=channels))

    @task(execution_timeout=TIME_LIMITS["check_sources"])
    def check_sources(loaded: dict[str, Any]) -> None:
        """Fail the run, once it is loaded and summarized, when no source was collected: every one failed or
        was skipped. A run that collected nothing is a failed run, not a quiet one."""
        from airflow.sdk.exceptions import AirflowFailException

        if loaded["sources_collected"] == 0:
            raise AirflowFailException(
                f"every source failed or was skipped ({loaded['sources']} of {loaded['sources']}): the run is recorded, "
                "and its summary says why each one failed"
            )

    assignments = plan()
    loading = load(assignments)  # type: ignore[arg-type]  # XComArgs resolved when the task runs (apache/airflow#39514)
    # The load reads each unit's result by map index itself: Airflow hands a mapped task's results to a
    # task as one value, not a list, when a single unit got through.
    collect_and_enrich.expand(assignment=assignments) >> loading
    # The care fast lane leaves the stories and themes of what it loads to the hourly run (see the module's doc).
    loaded = care(themes(stories(loading)) if lane == FULL_LANE else loading)  # type: ignore[arg-type]
    summarize(loaded) >> check_sources(loaded)  # type: ignore[arg-type]


social_listening = collection_dag(FULL_LANE)
care_fast_lane = collection_dag(CARE_LANE)
