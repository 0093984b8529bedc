"""The demo path through Airflow: `airflow dags test` on the sample corpus, loaded into DuckDB, twice."""

from __future__ import annotations

import json
import os
import subprocess
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from cli.airflow_env import airflow_command, airflow_environment
from cli.main import run_cycle
from config import load_config
from demo.__main__ import LOGICAL_DATE, demo_services
from demo.corpus_server import CorpusServer

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "demo" / "corpus"
# A fault for the Airflow run, loaded by every Python process on PYTHONPATH: the collect task of one
# unit dies writing its staged files, as on a full disk, whatever its sources returned.
DOOMED_UNIT_FAULT = """
import errno

import collectors.units


def stage_unit(staging, unit, runs, stage=collectors.units.stage_unit):
    if unit.id == "blog-doomed-blog":
        raise OSError(errno.ENOSPC, "No space left on device")
    return stage(staging, unit, runs)


collectors.units.stage_unit = stage_unit
"""


@pytest.fixture(scope="module")
def airflow_metadata() -> None:
    """The test Airflow home (see conftest) with its metadata database created."""
    subprocess.run(airflow_command("db", "migrate"), env=airflow_environment(), check=True, capture_output=True)


def expected_mentions(server: CorpusServer) -> list[tuple]:
    text = (CORPUS / "expected.json").read_text(encoding="utf-8")
    for site in ("news", "homefixers", "streamsetup"):
        text = text.replace("{{" + site + "}}", server.base_url(site))
    return sorted(
        (item["url"], item["source"], item["brands"], item["owned"], item["lang"])
        for item in json.loads(text) if item["brands"]
    )


def query(warehouse: str, sql: str) -> list[tuple]:
    with duckdb.connect(warehouse, read_only=True) as connection:
        return connection.execute(sql).fetchall()


def test_demo_cycle_through_airflow_loads_the_corpus_once(tmp_path, capsys, monkeypatch, airflow_metadata):
    (tmp_path / "config").mkdir()
    config_path = tmp_path / "config" / "demo.yaml"
    # Beside the demo's sources, a blog whose unit's collect task dies in every attempt.
    demo_config = (REPO / "config" / "demo.yaml").read_text(encoding="utf-8")
    config_path.write_text(demo_config.replace("\nsources:\n", "\nsources:\n  - {kind: blog, name: doomed-blog, url: "
                                               "\"http://127.0.0.3:${OVERHEARD_DEMO_PORT:-8765}/\"}\n"), encoding="utf-8")
    (tmp_path / "fault").mkdir()
    (tmp_path / "fault" / "sitecustomize.py").write_text(DOOMED_UNIT_FAULT, encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path / "fault"), os.environ.get("PYTHONPATH", "")]))
    began = datetime.now(UTC)
    with demo_services(0) as server:
        warehouse = load_config(config_path).warehouse.path

        started = time.monotonic()
        assert run_cycle(config_path, warehouse, LOGICAL_DATE.isoformat()) == 0
        wall_seconds = time.monotonic() - started
        summary = capsys.readouterr().out

        mentions_sql = """
            SELECT m.mention_key, m.source, list(b.brand ORDER BY b.brand), m.is_owned, m.lang
            FROM mentions m JOIN mention_brands b USING (mention_key) WHERE m.platform IN ('news', 'blog')
              AND m.source <> 'google-news' GROUP BY ALL ORDER BY 1"""
        assert query(warehouse, mentions_sql) == expected_mentions(server)
        first_runs = query(warehouse, "SELECT source, status, mentions_matched, mentions_new FROM runs ORDER BY source")
        new = {}
        for url, source, *_ in expected_mentions(server):
            new[source] = new.get(source, 0) + 1
        # telecom-daily also matched its copy of a techwire article (same URL plus utm_*): one mention, techwire's.
        matched = {**new, "telecom-daily": new["telecom-daily"] + 1}
        # The platform samples' own READMEs (demo/corpus/x, reddit, public_apis) list what each should yield.
        matched.update({"bluesky": 5, "google-news": 4, "hacker-news": 6, "mastodon": 8, "reddit": 21, "x": 17})
        new.update({"bluesky": 5, "google-news": 4, "hacker-news": 6, "mastodon": 8, "reddit": 21, "x": 17})
        assert [row for row in first_runs if row[1] != "failed"] == [
            (source, "ok", matched[source], count) for source, count in sorted(new.items())
        ]
        assert ("regional-gazette", "failed", 0, 0) in first_runs
        # The unit whose task died cost only its own source, said why, and held the run for one quick retry.
        assert ("doomed-blog", "failed", 0, 0) in first_runs
        assert ("doomed-blog: the collect task of unit blog-doomed-blog failed: OSError: [Errno 28] No space left on "
                "device; the unit's sources keep their cursors") in summary
        print(f"demo run with a unit that dies: {wall_seconds:.1f} s")
        assert wall_seconds < 150
        assert query(warehouse, "SELECT count(*) FROM mentions WHERE mention_key LIKE 'x:%' AND author_followers > 0") == [(17,)]
        assert query(warehouse, "SELECT count(*) FROM mentions WHERE story_id IS NULL") == [(0,)]
        # The quote post joins the story of the happy customer's post it quotes (demo/corpus/x/README.md).
        assert query(warehouse, "SELECT story_id, mentions, links FROM stories WHERE mentions > 1") == [
            ("x:2117198102787928064", 2, 1)
        ]
        # Facts the stages share are typed columns, filled by the collectors (docs/data-dictionary.md):
        # per platform, mentions with a publisher, a declared language, a shared link, a community size.
        assert query(warehouse, """
            SELECT platform, count(publisher), count(lang_hint), count(*) FILTER (WHERE len(shared_links) > 0),
                   count(community_size)
            FROM mentions GROUP BY platform ORDER BY platform""") == [
            ("blog", 5, 0, 0, 0), ("bluesky", 0, 5, 0, 0), ("hackernews", 0, 0, 0, 0), ("mastodon", 0, 8, 0, 0),
            ("news", 21, 21, 0, 0), ("reddit", 21, 0, 0, 8), ("x", 0, 17, 3, 0),
        ]
        assert query(warehouse, "SELECT shared_links FROM mentions WHERE story_id = 'x:2117198102787928064' "
                                "AND story_reason = 'link'") == [(["https://x.com/i/web/status/2117198102787928064"],)]
        # The demo playbook triages the new earned mentions (docs/social-care.md).
        assert query(warehouse, "SELECT queue, count(*) FROM triage_items GROUP BY 1 ORDER BY 1") == [
            ("care", 12), ("retention", 4), ("sales", 4)
        ]
        spanish = "SELECT mention_key FROM mentions WHERE lang = 'es' AND platform = 'news'"
        assert query(warehouse, f"SELECT category, queue, routed_by, assignee FROM triage_items WHERE mention_key = ({spanish})") == [
            ("competitor-complaint", "care", "routing[1]", "bo")  # the Spanish rule holds first; bo speaks Spanish
        ]
        assert "Triage: new items care 12, retention 4, sales 4; open backlog 20 (0 overdue)" in summary
        assert "regional-gazette: HTTP 404 from" in summary
        assert f"Warehouse: {warehouse}" in summary
        assert not any(path.startswith("/drafts/") for site, path in server.requests if site == "streamsetup")
        everything_sql = "SELECT * FROM mentions ORDER BY mention_key"
        before = query(warehouse, everything_sql)

        assert run_cycle(config_path, warehouse, LOGICAL_DATE.isoformat()) == 0

        assert query(warehouse, everything_sql) == before
        routed = "SELECT count(*), count(DISTINCT mention_key) FROM triage_actions WHERE action = 'routed'"
        assert query(warehouse, routed) == [(20, 20)]
        second_run = query(
            warehouse,
            """SELECT source, status, items_fetched, mentions_new FROM runs
               WHERE run_id = (SELECT max(run_id) FROM runs) ORDER BY source""",
        )
        assert [(source, status, new) for source, status, _, new in second_run] == [
            ("bluesky", "empty", 0),
            ("consumer-watch", "ok", 0),
            ("doomed-blog", "failed", 0),
            ("forum-digest", "ok", 0),
            ("google-news", "ok", 0),
            ("hacker-news", "empty", 0),
            ("homefixers", "ok", 0),
            ("mastodon", "empty", 0),
            ("reddit", "ok", 0),
            ("regional-gazette", "failed", 0),
            ("streamsetup", "ok", 0),
            ("techwire", "ok", 0),
            ("telecom-daily", "ok", 0),
            ("x", "ok", 0),
        ]
    # Airflow shows the run's real start and end, and the demo's data interval.
    listed = subprocess.run(airflow_command("dags", "list-runs", "social_listening", "-o", "json"),
                            env=airflow_environment(), capture_output=True, text=True, check=True).stdout
    [demo_run] = [run for run in json.loads(listed.splitlines()[-1])  # warnings come first
                  if datetime.fromisoformat(run["logical_date"]) == LOGICAL_DATE]
    assert began <= datetime.fromisoformat(demo_run["start_date"]) < datetime.fromisoformat(demo_run["end_date"])
    assert datetime.fromisoformat(demo_run["end_date"]) - datetime.fromisoformat(demo_run["start_date"]) < timedelta(
        minutes=5)

    # The weekly_mention_report DAG, as the warehouse asset would trigger it: the demo ran on Monday
    # 2 November at noon, so the week due is 2026-W44 (26 October to 1 November, Europe/London).
    report_folder = Path(load_config(config_path).report.folder)
    log = subprocess.run(
        airflow_command("dags", "test", "weekly_mention_report", LOGICAL_DATE.isoformat(),
                        "--conf", json.dumps({"config": str(config_path)})),
        env=airflow_environment(), capture_output=True, text=True, check=False,
    )
    assert "state=success" in log.stdout + log.stderr, (log.stdout + log.stderr)[-3000:]
    assert sorted(path.name for path in report_folder.iterdir()) == [
        "overheard-2026-W44-mentions.csv", "overheard-2026-W44.html"
    ]
    assert "Brightwave" in (report_folder / "overheard-2026-W44.html").read_text(encoding="utf-8")


def test_a_run_whose_plan_fails_is_reported_failed(tmp_path, capsys, airflow_metadata):
    missing = tmp_path / "gone.yaml"  # validated by `overheard run`, then deleted before Airflow reads it

    assert run_cycle(missing, str(tmp_path / "w.duckdb")) == 1

    error = capsys.readouterr().err
    assert "gone.yaml is not a valid Overheard config" in error
    assert "The social_listening run ended failed (manual__" in error


def test_installing_the_package_warns_about_nothing():
    """`make demo` installs the project; setuptools reads its metadata without a deprecation warning."""
    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        distribution = apply_configuration(Distribution(), REPO / "pyproject.toml")

    assert [str(warning.message).splitlines()[0] for warning in caught] == []
    assert distribution.metadata.license_expression == "Apache-2.0"
