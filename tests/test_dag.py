"""The social_listening DAG: it parses cleanly and light, and its shape is what operators rely on."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dag_bag():
    from airflow.dag_processing.dagbag import DagBag

    sys.path.insert(0, str(REPO / "dags"))  # as Airflow does for its DAG folder
    try:
        return DagBag(dag_folder=str(REPO / "dags"))
    finally:
        sys.path.remove(str(REPO / "dags"))


def test_dags_import_without_errors(dag_bag):
    assert dag_bag.import_errors == {}
    assert set(dag_bag.dag_ids) >= {"social_listening", "care_fast_lane", "weekly_mention_report"}


def test_the_care_fast_lane_is_the_hourly_dags_shape_less_stories_and_themes(dag_bag):
    hourly, fast = dag_bag.dags["social_listening"], dag_bag.dags["care_fast_lane"]
    assert set(fast.task_ids) == set(hourly.task_ids) - {"stories", "themes"}
    assert fast.get_task("care").upstream_task_ids == {"load"}
    assert fast.get_task("care").outlets == []  # the weekly report follows the hourly runs only
    for task_id in fast.task_ids:
        same, other = fast.get_task(task_id), hourly.get_task(task_id)
        assert (same.execution_timeout, same.retries, same.queue, same.pool) == (
            other.execution_timeout, other.retries, other.queue, other.pool), task_id
    assert fast.max_active_runs == 1 and fast.catchup is False and "care" in fast.tags


def test_social_listening_shape(dag_bag):
    dag = dag_bag.dags["social_listening"]
    assert set(dag.tags) == {"overheard", "collection"}
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert dag.timetable.expression == "0 * * * *"
    assert set(dag.task_ids) == {
        "plan", "collect_and_enrich", "load", "stories", "themes", "care", "summarize", "check_sources"
    }
    unit_tasks = {"collect_and_enrich"}
    for task in dag.tasks:
        # A unit's task is retried once, soon; what it could not do waits for the next run.
        assert (task.retries, task.retry_delay) == ((1, timedelta(seconds=10)) if task.task_id in unit_tasks
                                                    else (2, timedelta(minutes=1))), task.task_id
        assert task.execution_timeout is not None, task.task_id
    assert dag.get_task("load").trigger_rule == "all_done"
    assert dag.get_task("collect_and_enrich").upstream_task_ids == {"plan"}
    assert dag.get_task("load").upstream_task_ids == {"plan", "collect_and_enrich"}
    assert dag.get_task("stories").upstream_task_ids == {"load"}
    assert dag.get_task("themes").upstream_task_ids == {"stories"}
    assert dag.get_task("care").upstream_task_ids == {"themes"}
    assert dag.get_task("summarize").upstream_task_ids == {"care"}
    assert dag.get_task("check_sources").upstream_task_ids == {"care", "summarize"}


def test_the_readme_states_each_tasks_time_limit(dag_bag):
    dag = dag_bag.dags["social_listening"]
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Time limits"):]
    stated = dict(re.findall(r"^\| `([\w.]+)` \| (?:[^|]*? )?(\d+) minutes \|", section, re.MULTILINE))

    assert stated == {task.task_id: str(int(task.execution_timeout.total_seconds() // 60))
                      for task in dag.tasks}


def test_the_weekly_report_runs_after_each_collection_run_updates_the_warehouse(dag_bag):
    collection, report = dag_bag.dags["social_listening"], dag_bag.dags["weekly_mention_report"]

    [warehouse] = collection.get_task("care").outlets
    assert warehouse.name == "overheard_warehouse"
    assert list(report.timetable.asset_condition.objects) == [warehouse]
    assert set(report.task_ids) == {"render"} and report.get_task("render").retries == 2
    assert set(report.params.keys()) == {"config", "week"}


@pytest.mark.parametrize("dag_file", ["social_listening.py", "weekly_mention_report.py"])
def test_parsing_a_dag_imports_nothing_heavy(dag_file):
    heavy = ["duckdb", "feedparser", "trafilatura", "vaderSentiment", "py3langid", "collectors", "enrich", "warehouse",
             "config", "care", "reports"]
    probe = (
        "import importlib.util, sys\n"
        f"sys.path.insert(0, {str(REPO / 'dags')!r})\n"  # as Airflow puts the DAG folder on sys.path
        f"spec = importlib.util.spec_from_file_location('dag_file', {str(REPO / 'dags' / dag_file)!r})\n"
        "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        f"print(','.join(name for name in {heavy!r} if name in sys.modules))\n"
    )
    imported = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert imported == ""


def test_a_units_collect_task_may_run_as_long_as_its_sources_budgets_allow():
    from collectors.units import plan_units
    from config.model import Config

    spec = importlib.util.spec_from_file_location("social_listening_dag", REPO / "dags" / "social_listening.py")
    dag_file = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dag_file)

    def minutes(sources: list[dict], **settings) -> list[float]:
        config = Config.model_validate({"warehouse": {"path": "w.duckdb"}, "staging": "s", "sources": sources,
                                        "brands": [{"name": "Brightwave", "aliases": ["Brightwave"]}], **settings})
        return [dag_file._collect_time_limit(config, unit).total_seconds() / 60 for unit in plan_units(config)]

    def feeds(count: int, host: str | None = None) -> list[dict]:
        return [{"kind": "rss", "name": f"f{n}", "url": f"https://{host or f'news{n}.example'}/feed{n}"}
                for n in range(count)]

    # A feed is cut off at 132 s, any other source at 660 s; the task gets 5 minutes more.
    assert minutes(feeds(25)) == [16.0]  # 8 hosts at a time: 4 turns, plus 1
    assert minutes([{"kind": "blog", "name": "b", "url": "https://blog.example/"}]) == [16.0]  # 1 turn
    assert minutes(feeds(25, "feeds.example")) == [60.0]  # one host: 25 turns
    assert minutes(feeds(60, "feeds.example"), feeds_per_task=60) == [120.0]  # 137 minutes: at most 120
