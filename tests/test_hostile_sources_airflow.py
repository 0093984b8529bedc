"""A hostile web beside good sources, in one config, through one Airflow run (`overheard run`).

Feeds and blogs on 127.0.0.1 hang, trickle their headers or bodies, send 50 MB, a gzip bomb, entity
bombs, redirect loops, wrong charsets, empty bodies, pages that are not feeds (`tests/hostile_web.py`);
a request of a source of every kind raises an exception no collector foresees, and two collectors hang
where no request deadline reaches. Every good source loads in full, every bad one is recorded with the
reason, secrets stay out, and the run's wall time stays within what the time budgets allow
(docs/benchmarks.md, "Reliability: one bad source or unit").
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import duckdb
import pytest

from cli.airflow_env import airflow_command, airflow_environment
from cli.main import run_cycle
from collectors.bluesky_jetstream import stream as jetstream_stream
from collectors.source_run import cut_off_seconds
from collectors.units import COLLECTORS, TIME_BUDGET_SECONDS, collect_unit, plan_units
from config import load_config
from config.model import Config
from dags.social_listening import COLLECT_MARGIN, UNIT_TASK, _collect_time_limit
from tests.hostile_web import (
    CRASH_REASONS,
    GOOD_MENTIONS,
    HOSTILE_BLOGS,
    HOSTILE_FEEDS,
    PLATFORM_CREDENTIALS,
    X_TOKEN,
    crashing_connect,
    crashing_send,
    good_sites,
    platform_source,
    refused_url,
    serving,
)
from transport.http import RetryingAdapter

REPO = Path(__file__).resolve().parents[1]
# The time budgets of this run, by kind (the defaults are 120 s for a feed, 600 s for most others:
# docs/configuration.md, "Time limits"). A blog needs more than 10 s to start a page at all.
BUDGETS = {"rss": 5.0, "blog": 20.0, "x": 5.0, "reddit": 5.0, "hackernews": 5.0, "mastodon": 5.0,
           "google_news": 5.0, "bluesky": 5.0, "app_reviews": 5.0, "youtube": 5.0, "bluesky_jetstream": 5.0}
HTTP = {"timeout_seconds": 2, "max_retries": 2, "backoff_seconds": 0, "politeness_delay_seconds": 0,
        "max_body_bytes": 2_000_000, "max_parallel_hosts": 8}
# Faults for the Airflow run, loaded by every Python process on PYTHONPATH: the budgets above, requests to
# the crash ports raising (`tests.hostile_web.CRASHES`), and collectors that hang beyond any request
# deadline (sources named `stuck-...`).
FAULTS = """
import sys
import time

sys.path.insert(0, {repo!r})

import collectors.bluesky_jetstream.stream
import collectors.units
import transport.http
from tests.hostile_web import crashing_connect, crashing_send

collectors.units.TIME_BUDGET_SECONDS.update({budgets!r})
transport.http.RetryingAdapter.send = crashing_send(transport.http.RetryingAdapter.send, {crash_ports!r})
collectors.bluesky_jetstream.stream.connect = crashing_connect(collectors.bluesky_jetstream.stream.connect, {crash_ports!r})
real_collector_for = collectors.units.collector_for


def collector_for(kind):
    collect = real_collector_for(kind)

    def stuck_or_not(source, cursor, context):
        if source.name.startswith("stuck-"):
            time.sleep(3600)
        return collect(source, cursor, context)

    return stuck_or_not


collectors.units.collector_for = collector_for
"""
WINDOW = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))


@pytest.fixture(scope="module")
def airflow_metadata() -> None:
    """The test Airflow home (see conftest) with its metadata database created."""
    subprocess.run(airflow_command("db", "migrate"), env=airflow_environment(), check=True, capture_output=True)


def crash_sources() -> tuple[list[dict[str, object]], dict[int, str]]:
    """A source of every kind, each on a port of 127.0.0.1 of its own, and which kind each port is for."""
    sources, ports = [], {}
    for kind in COLLECTORS:
        url = refused_url()
        ports[urlsplit(url).port] = kind
        name = f"crash-{kind}"
        sources.append({"kind": kind, "name": name, "url": f"{url}feed.xml" if kind == "rss" else url}
                       if kind in ("rss", "blog") else platform_source(kind, name, url))
    return sources, ports


def test_an_exception_no_collector_foresees_below_any_kind_is_its_sources_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Raised in the request every collector sends, SDKs' included (tweepy, praw): no collector swallows it or
    # passes it off as something else (Reddit's blamed oauth_url and reddit_url for any of them).
    sources, ports = crash_sources()
    monkeypatch.setattr(RetryingAdapter, "send", crashing_send(RetryingAdapter.send, ports))
    monkeypatch.setattr(jetstream_stream, "connect", crashing_connect(jetstream_stream.connect, ports))
    config = Config.model_validate({
        "warehouse": {"path": str(tmp_path / "w.duckdb")}, "staging": str(tmp_path / "staging"), "http": HTTP,
        "brands": [{"name": "Brightwave", "aliases": ["Brightwave"]}], "sources": sources,
    })

    runs = [run for unit in plan_units(config)
            for run in collect_unit(config, unit, {}, WINDOW, PLATFORM_CREDENTIALS, time_budget_seconds=5)]

    failures = {run.source.removeprefix("crash-"): (run.status, run.error or "") for run in runs}
    assert {kind: status for kind, (status, _) in failures.items()} == dict.fromkeys(COLLECTORS, "failed")
    assert {kind: error for kind, (_, error) in failures.items() if CRASH_REASONS[kind] not in error} == {}
    assert all(X_TOKEN not in error and "\n" not in error for _, error in failures.values())


def collect_seconds(run_id: str) -> dict[str, float]:
    """How long each unit's task (collect, then enrich) of a run took, by unit id, from Airflow's metadata database."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        return {
            ti.rendered_map_index: (ti.end_date - ti.start_date).total_seconds()
            for ti in session.query(TaskInstance).filter(
                TaskInstance.dag_id == "social_listening", TaskInstance.run_id == run_id,
                TaskInstance.task_id == UNIT_TASK)
        }


def query(warehouse: str, sql: str) -> list[tuple]:
    with duckdb.connect(warehouse, read_only=True) as connection:
        return connection.execute(sql).fetchall()


def test_hostile_sources_beside_good_ones_through_airflow(tmp_path, capsys, monkeypatch, airflow_metadata):
    crashing, crash_ports = crash_sources()
    (tmp_path / "fault").mkdir()
    (tmp_path / "fault" / "sitecustomize.py").write_text(
        FAULTS.format(repo=str(REPO), budgets=BUDGETS, crash_ports=crash_ports), encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path / "fault"), os.environ.get("PYTHONPATH", "")]))
    for connection, fields in PLATFORM_CREDENTIALS.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{connection.upper()}", json.dumps(
            {"conn_type": "http", "login": fields["login"], "password": fields["password"]}))
    nowhere = refused_url()
    with serving(HOSTILE_FEEDS) as feeds, serving(HOSTILE_BLOGS) as blogs, good_sites() as good:
        sources = [{"kind": "rss", "name": name, "url": good[name]} for name in ("good-feed-a", "good-feed-b")]
        sources += [{"kind": "rss", "name": name, "url": url} for name, url in feeds.items()]
        sources += [{"kind": "rss", "name": "stuck-rss", "url": nowhere}]
        sources += [{"kind": "blog", "name": "good-blog", "url": good["good-blog"], "discover": ["feed"]}]
        sources += [{"kind": "blog", "name": name, "url": url} for name, url in blogs.items()]
        sources += crashing + [platform_source("hackernews", "stuck-hackernews", nowhere)]
        config_path = tmp_path / "hostile.yaml"
        config_path.write_text(json.dumps({
            "warehouse": {"path": str(tmp_path / "overheard.duckdb")}, "staging": str(tmp_path / "staging"),
            "brands": [{"name": "Brightwave", "aliases": ["Brightwave"]}], "http": HTTP, "sources": sources,
        }), encoding="utf-8")
        config = load_config(config_path)

        started = time.monotonic()
        exit_status = run_cycle(config_path, config.warehouse.path)
        wall_seconds = time.monotonic() - started
        summary = capsys.readouterr().out

    assert exit_status == 0, summary
    warehouse = config.warehouse.path
    # Every good source loaded in full, and so did the hostile feeds that still had entries to read.
    assert dict(query(warehouse, "SELECT source, count(*) FROM mentions GROUP BY source")) == {
        **GOOD_MENTIONS, "entity-bomb": 1, "billion-laughs": 1, "wrong-charset": 2, "unknown-charset": 1,
        "undeclared-big5": 2,
    }  # the bombs' own entries name no brand once their entities stay unexpanded
    assert query(warehouse, """SELECT title FROM mentions WHERE source IN ('wrong-charset', 'undeclared-big5')
                               AND title <> 'Brightwave raises prices' ORDER BY 1""") == [
        ("Brightwave été",), ("Brightwave 價格上漲，用戶不滿",)]  # Latin-1 declared UTF-8; Big5 declared nothing
    case_of = {case.name: case for case in HOSTILE_FEEDS + HOSTILE_BLOGS}
    runs = {source: (status, error, warnings) for source, status, error, warnings in query(
        warehouse, "SELECT source, status, error, warnings FROM runs")}
    assert set(runs) == {source["name"] for source in sources}
    assert {name: runs[name][0] for name in GOOD_MENTIONS} == dict.fromkeys(GOOD_MENTIONS, "ok")
    # Each hostile source ended as its case says, for the reason it says (in its error, or a warning when it loaded).
    outcomes = {case.name: (runs[case.name][0], runs[case.name][1] or " ".join(runs[case.name][2]))
                for case in HOSTILE_FEEDS + HOSTILE_BLOGS}
    assert {name: outcome for name, outcome in outcomes.items() if outcome[0] != case_of[name].status
            or case_of[name].reason.lower() not in outcome[1].lower()} == {}
    # A request of a source of every kind raised what no collector foresees: its own failure, named.
    assert {kind: runs[f"crash-{kind}"][:2] for kind in COLLECTORS if runs[f"crash-{kind}"][0] != "failed"
            or CRASH_REASONS[kind] not in runs[f"crash-{kind}"][1]} == {}
    for kind in ("rss", "hackernews"):
        assert runs[f"stuck-{kind}"][:2] == ("failed", (
            f"cut off after {cut_off_seconds(BUDGETS[kind]):.0f} s: still running past its {BUDGETS[kind]:g} s time "
            "budget (a server too slow, or a response too heavy to parse); nothing of this source was kept this run "
            "and its cursor stays, so the next run tries again"))
    # Reasons are one line each, without tracebacks or secrets; the summary lists every failed source with its reason.
    recorded = [text for _, error, warnings in runs.values() for text in [error or "", *warnings]]
    assert not [text for text in recorded if "Traceback" in text or "\n" in text or X_TOKEN in text]
    for name, (status, error, _) in runs.items():
        if status == "failed":
            assert f"  {name}: {error}" in summary
    log = Path(summary.split("(Airflow log: ")[1].split(")")[0]).read_text(encoding="utf-8")
    assert X_TOKEN not in log and X_TOKEN not in summary
    files = [path for path in (tmp_path / "staging").rglob("*") if path.is_file()] + [Path(warehouse)]
    assert [path for path in files if X_TOKEN.encode() in path.read_bytes()] == []
    # A failed source keeps its cursor where it was (here: none yet), so the next run tries it again.
    failed = {name for name, (status, _, _) in runs.items() if status == "failed"}
    assert failed & {source for (source,) in query(warehouse, "SELECT source FROM source_cursors")} == set()

    # Each unit's task ends within what its sources' budgets allow (`_collect_time_limit` without its margin:
    # hosts in parallel, a host's sources in turn, each cut off a little after its budget), plus time to start,
    # stage and enrich the few mentions the good sources gave; and the run within the sum of those
    # (`overheard run` runs one task at a time) plus Airflow's own time per task.
    for kind, seconds in BUDGETS.items():
        monkeypatch.setitem(TIME_BUDGET_SECONDS, kind, seconds)
    allowed = {unit.id: (_collect_time_limit(config, unit) - COLLECT_MARGIN).total_seconds() for unit in plan_units(config)}
    run_id = summary.split("Run ", 1)[1].split(" ", 1)[0]
    took = collect_seconds(run_id)
    assert set(took) == set(allowed)
    assert {unit: seconds for unit, seconds in took.items() if seconds > allowed[unit] + 20} == {}
    bound = sum(allowed.values()) + 60 + 3 * (2 * len(allowed) + 7)
    slowest = sorted(took, key=took.__getitem__)[-3:]
    print(f"hostile run: {len(sources)} sources in {len(allowed)} units, {wall_seconds:.1f} s (bound {bound:.0f} s); "
          "slowest unit tasks: " + ", ".join(f"{unit} {took[unit]:.1f} s (allowed {allowed[unit]:.0f} s)"
                                                for unit in slowest))
    assert wall_seconds < bound
