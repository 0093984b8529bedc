"""The care fast lane: its setting, its DAG, and the two lanes run one after the other on one warehouse.

A source of the playbook's `fast_lane` is collected by the care_fast_lane DAG only (load and care, no stories
or themes); the hourly social_listening DAG collects every other source, and recomputes the themes of the
weeks the fast lane loaded. So each source's cursor has one writer, and nothing is fetched, lost or loaded twice.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import duckdb
import pytest
import yaml

from cli.airflow_env import airflow_command, airflow_environment
from cli.main import main as overheard
from cli.main import run_cycle
from config import ConfigError, load_config
from tests.local_http import LocalHttpServer, Reply

REPO = Path(__file__).resolve().parents[1]
# A Monday, half past midnight: the runs collect the hour before, which straddles two ISO weeks.
DUE = datetime(2026, 11, 2, 0, 30, tzinfo=UTC)
PLAYBOOK = {
    "categories": [{"name": "complaint", "query": "(outage OR down OR billed)", "severity": 0.6, "sla_minutes": 60}],
    "queues": [{"name": "care"}], "default_queue": "care",
}


def feed(name: str, published: datetime, count: int) -> bytes:
    items = "".join(
        f"<item><title>Brightwave outage {name} {n}</title><link>http://127.0.0.1/{name}/{n}</link>"
        f"<description>Brightwave broadband is down again in {name} street {n}, billed for nothing.</description>"
        f"<pubDate>{format_datetime(published + timedelta(minutes=n))}</pubDate></item>"
        for n in range(count))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>{items}</channel></rss>'.encode()


def write_config(folder: Path, sources: list[dict], fast_lane: dict | None) -> Path:
    playbook = {**PLAYBOOK, **({"fast_lane": fast_lane} if fast_lane else {})}
    config = {
        "warehouse": {"path": str(folder / "overheard.duckdb")}, "staging": str(folder / "staging"),
        "brands": [{"name": "Brightwave", "aliases": ["Brightwave"]}], "sources": sources,
        "http": {"politeness_delay_seconds": 0, "max_retries": 0, "timeout_seconds": 5},
        "playbook": playbook,
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


RSS = [{"kind": "rss", "name": "fast-feed", "url": "http://127.0.0.1:9/fast.xml"},
       {"kind": "rss", "name": "slow-feed", "url": "http://127.0.0.1:9/slow.xml"}]


def test_the_fast_lane_names_configured_sources_once_and_a_sane_interval(tmp_path):
    with pytest.raises(ConfigError) as unknown:
        load_config(write_config(tmp_path, RSS, {"sources": ["fast-feed", "x"]}))
    assert ("playbook.fast_lane.sources: 'x' is not a configured source; name one of fast-feed, slow-feed"
            in str(unknown.value))
    with pytest.raises(ConfigError) as twice:
        load_config(write_config(tmp_path, RSS, {"sources": ["fast-feed", "fast-feed"]}))
    assert "fast-feed named twice" in str(twice.value)
    with pytest.raises(ConfigError) as hourly:
        load_config(write_config(tmp_path, RSS, {"sources": ["fast-feed"], "every_minutes": 60}))
    assert "every_minutes" in str(hourly.value)

    config = load_config(write_config(tmp_path, RSS, {"sources": ["fast-feed"]}))
    assert config.playbook and config.playbook.fast_lane and config.playbook.fast_lane.every_minutes == 5
    assert [source.name for source in config.lane_sources("care")] == ["fast-feed"]
    assert [source.name for source in config.lane_sources("full")] == ["slow-feed"]

    without = load_config(write_config(tmp_path, RSS, None))
    assert [source.name for source in without.lane_sources("full")] == ["fast-feed", "slow-feed"]
    with pytest.raises(ValueError, match="this config has none: add playbook.fast_lane"):
        without.lane_sources("care")


def test_overheard_run_lane_care_without_a_fast_lane_says_what_to_add(tmp_path, capsys):
    config = write_config(tmp_path, RSS, None)
    assert overheard(["run", "--config", str(config), "--lane", "care"]) == 2
    assert "add playbook.fast_lane: {sources: [...], every_minutes: 5}" in capsys.readouterr().err


def parsed_dags(config: Path | None) -> dict[str, dict]:
    """The DAG file's DAGs as Airflow parses it (a fresh process, OVERHEARD_CONFIG set): tasks and schedule."""
    probe = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(REPO / 'dags')!r})\n"
        "import social_listening as module\n"
        "print(json.dumps({dag.dag_id: {'tasks': sorted(dag.task_ids), 'schedule': str(dag.schedule)}\n"
        "                  for dag in (module.social_listening, module.care_fast_lane)}))\n"
    )
    environment = {**airflow_environment(), "OVERHEARD_CONFIG": str(config or "")}
    answer = subprocess.run([sys.executable, "-c", probe], env=environment, capture_output=True, text=True, check=True)
    return dict(json.loads(answer.stdout.splitlines()[-1]))


def test_the_fast_lane_dag_runs_every_few_minutes_without_stories_or_themes(tmp_path):
    (tmp_path / "seven").mkdir()
    dags = parsed_dags(write_config(tmp_path / "seven", RSS, {"sources": ["fast-feed"], "every_minutes": 7}))
    assert dags["care_fast_lane"] == {
        "tasks": ["care", "check_sources", "collect_and_enrich", "load", "plan", "summarize"],
        "schedule": str(timedelta(minutes=7)),
    }
    assert dags["social_listening"]["schedule"] == "@hourly"
    assert {"stories", "themes"} < set(dags["social_listening"]["tasks"])
    (tmp_path / "none").mkdir()
    assert parsed_dags(write_config(tmp_path / "none", RSS, None))["care_fast_lane"]["schedule"] == "None"


@pytest.fixture(scope="module")
def airflow_metadata() -> None:
    subprocess.run(airflow_command("db", "migrate"), env=airflow_environment(), check=True, capture_output=True)


def themes_weeks(run_id: str) -> list[str]:
    """The weeks the social_listening run's themes task recomputed (its XCom in Airflow's metadata DB)."""
    database = Path(airflow_environment()["AIRFLOW_HOME"]) / "airflow.db"
    with sqlite3.connect(database) as connection:
        (value,) = connection.execute(
            "SELECT value FROM xcom WHERE dag_id = 'social_listening' AND task_id = 'themes' AND run_id = ? "
            "AND key = 'return_value'", (run_id,)).fetchone()
    return list(json.loads(value)["themes"]["weeks"])


def test_each_lane_collects_its_own_sources_and_the_hourly_run_computes_the_fast_lanes_themes(
        tmp_path, airflow_metadata, capsys):
    with LocalHttpServer() as server:
        # The fast lane's posts are in Sunday's week (2026-W44), the hourly lane's in Monday's (2026-W45).
        fast_body, slow_body = feed("fast", DUE - timedelta(minutes=50), 6), feed("slow", DUE - timedelta(minutes=25), 6)
        sources = [
            {"kind": "rss", "name": "fast-feed", "url": server.route("/fast.xml", Reply(200, fast_body))},
            {"kind": "rss", "name": "slow-feed", "url": server.route("/slow.xml", Reply(200, slow_body))},
        ]
        config = write_config(tmp_path, sources, {"sources": ["fast-feed"], "every_minutes": 5})
        warehouse = tmp_path / "overheard.duckdb"

        def loaded() -> dict[str, tuple[str, ...]]:
            with duckdb.connect(str(warehouse), read_only=True) as connection:
                runs = connection.execute(
                    "SELECT run_id, list(source ORDER BY source), sum(mentions_new) FROM runs GROUP BY run_id").fetchall()
                return {
                    "mentions": tuple(url for (url,) in connection.execute("SELECT url FROM mentions ORDER BY url").fetchall()),
                    "triaged": tuple(url for (url,) in connection.execute(
                        "SELECT m.url FROM triage_items t JOIN mentions m USING (mention_key) ORDER BY m.url").fetchall()),
                    # Each run's sources and new mentions.
                    "runs": tuple(sorted((tuple(sources), int(new)) for _, sources, new in runs)),
                }

        assert run_cycle(config, str(warehouse), DUE.isoformat(), lane="care") == 0
        after_fast = loaded()
        fast_urls = tuple(f"http://127.0.0.1/fast/{n}" for n in range(6))
        assert after_fast["mentions"] == fast_urls
        assert after_fast["triaged"] == fast_urls  # the fast lane's care step triaged them
        assert after_fast["runs"] == ((("fast-feed",), 6),)
        assert server.requests_for("/slow.xml") == []

        assert run_cycle(config, str(warehouse), DUE.isoformat(), lane="full") == 0
        after_full = loaded()
        slow_urls = tuple(f"http://127.0.0.1/slow/{n}" for n in range(6))
        assert after_full["mentions"] == fast_urls + slow_urls
        assert after_full["runs"] == ((("fast-feed",), 6), (("slow-feed",), 6))
        assert len(server.requests_for("/fast.xml")) == 1  # the hourly run left the fast lane's source alone
        with duckdb.connect(str(warehouse), read_only=True) as connection:
            full_run = connection.execute("SELECT run_id FROM runs WHERE source = 'slow-feed'").fetchone()[0]
        # The hourly run recomputed its own week and the fast lane's.
        assert themes_weeks(full_run) == ["2026-W44", "2026-W45"]

        assert run_cycle(config, str(warehouse), DUE.isoformat(), lane="care") == 0
        again = loaded()
        assert again["mentions"] == after_full["mentions"]  # nothing doubled
        assert again["triaged"] == fast_urls + tuple(url for url in slow_urls)
        assert again["runs"] == ((("fast-feed",), 0), (("fast-feed",), 6), (("slow-feed",), 6))
        assert len(server.requests_for("/fast.xml")) == 2 and len(server.requests_for("/slow.xml")) == 1
    capsys.readouterr()


def test_an_hourly_run_that_loads_nothing_recomputes_no_themes_and_one_that_loads_does(tmp_path, airflow_metadata,
                                                                                       capsys):
    with LocalHttpServer() as server:
        etag = {"ETag": '"v1"'}
        url = server.route("/slow.xml", Reply(200, feed("slow", DUE - timedelta(minutes=25), 6), etag), Reply(304, b"", etag))
        config = write_config(tmp_path, [{"kind": "rss", "name": "slow-feed", "url": url}], None)
        warehouse = tmp_path / "overheard.duckdb"

        def run_ids() -> set[str]:
            with duckdb.connect(str(warehouse), read_only=True) as connection:
                return {run_id for (run_id,) in connection.execute("SELECT run_id FROM runs").fetchall()}

        assert run_cycle(config, str(warehouse), DUE.isoformat()) == 0
        [loading] = run_ids()
        # Due an hour later (`dags test` replaces a run with the same logical date, and its XComs with it).
        assert run_cycle(config, str(warehouse), (DUE + timedelta(hours=1)).isoformat()) == 0
        [idle] = run_ids() - {loading}
        assert server.requests_for("/slow.xml")[1].headers.get("if-none-match") == '"v1"'
    assert themes_weeks(loading) == ["2026-W45"]
    assert themes_weeks(idle) == []
    capsys.readouterr()
