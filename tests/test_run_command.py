"""`overheard run` as a user meets it: its own run's summary, a failed run when nothing was collected, Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from cli.airflow_env import airflow_command, airflow_environment
from tests.local_http import LocalHttpServer, Reply

FEED = """<?xml version="1.0"?>
<rss version="2.0"><channel><title>{name}</title><link>http://127.0.0.1/</link>
<item><title>Brightwave fibre reaches {name}</title><link>http://127.0.0.1/{name}/1</link>
<description>Brightwave says the {name} exchange is live.</description><pubDate>{date}</pubDate></item>
</channel></rss>"""


@pytest.fixture(scope="module")
def airflow_metadata() -> None:
    """The test Airflow home (see conftest) with its metadata database created."""
    subprocess.run(airflow_command("db", "migrate"), env=airflow_environment(), check=True, capture_output=True)


def write_config(folder: Path, feeds: dict[str, str], timeout_seconds: float = 5.0) -> Path:
    """A config watching Brightwave in `feeds` (name: URL), with its own warehouse and staging under `folder`."""
    folder.mkdir()
    sources = ", ".join(f'{{kind: rss, name: {name}, url: "{url}"}}' for name, url in feeds.items())
    config = folder / "config.yaml"
    config.write_text(
        f"warehouse: {{path: {folder / 'overheard.duckdb'}}}\n"
        f"staging: {folder / 'staging'}\n"
        "brands: [{name: Brightwave, aliases: [Brightwave]}]\n"
        f"sources: [{sources}]\n"
        f"http: {{politeness_delay_seconds: 0, max_retries: 0, timeout_seconds: {timeout_seconds}}}\n",
        encoding="utf-8",
    )
    return config


def overheard_run(config: Path) -> subprocess.Popen[str]:
    """`overheard run --config CONFIG` in a process group of its own, as a shell starts a foreground job."""
    return subprocess.Popen([sys.executable, "-m", "cli.main", "run", "--config", str(config)], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def dag_runs() -> dict[str, dict]:
    """Airflow's social_listening runs by run id, as `airflow dags list-runs` shows them."""
    listed = subprocess.run(airflow_command("dags", "list-runs", "social_listening", "-o", "json"),
                            env=airflow_environment(), capture_output=True, text=True, check=True).stdout
    return {run["run_id"]: run for run in json.loads(listed.splitlines()[-1])}  # warnings come first


def statuses(summary: str) -> dict[str, str]:
    """The status of each source in a printed run summary (its rows start with a source of these tests)."""
    return dict(re.findall(r"^((?:harbour|gone|moved)-news)\s+(\w+)\s", summary, re.MULTILINE))


def test_two_runs_at_once_each_print_their_own_summary_and_a_run_that_collected_nothing_fails(
    tmp_path, airflow_metadata
):
    published = format_datetime(datetime.now(UTC) - timedelta(minutes=30))
    with LocalHttpServer() as server:
        good = write_config(tmp_path / "good", {"harbour-news": server.route(
            "/harbour.xml", Reply(body=FEED.format(name="harbour", date=published).encode()))})
        broken = write_config(tmp_path / "broken", {"gone-news": server.base_url + "/gone.xml",
                                                    "moved-news": server.base_url + "/moved.xml"})
        started = time.monotonic()
        runs = [overheard_run(good), overheard_run(broken)]
        (good_out, good_err), (broken_out, broken_err) = (run.communicate(timeout=240) for run in runs)
        wall_seconds = time.monotonic() - started

    assert runs[0].returncode == 0, good_err
    assert statuses(good_out) == {"harbour-news": "ok"}
    # Every source failed: the run is recorded and summarized, and it is a failed run.
    assert runs[1].returncode == 1
    assert statuses(broken_out) == {"gone-news": "failed", "moved-news": "failed"}
    assert "gone-news: HTTP 404 from" in broken_out
    assert "every source failed or was skipped (2 of 2)" in broken_err
    assert "The social_listening run ended failed" in broken_err
    [good_run] = [line.split()[1] for line in good_out.splitlines() if line.startswith("Run manual__")]
    [broken_run] = [line.split()[1] for line in broken_out.splitlines() if line.startswith("Run manual__")]
    states = {run_id: run["state"] for run_id, run in dag_runs().items()}
    assert (states[good_run], states[broken_run]) == ("success", "failed")
    print(f"two runs at once: {wall_seconds:.1f} s")


def test_ctrl_c_stops_the_run_marks_it_failed_and_says_so_in_one_line(tmp_path, airflow_metadata):
    with LocalHttpServer() as server:
        # The feed answers after 30 s: the run is collecting when Ctrl-C comes.
        config = write_config(tmp_path / "slow", {"slow-news": server.route("/slow.xml", Reply(delay=30))},
                              timeout_seconds=60)
        run = overheard_run(config)
        deadline = time.monotonic() + 120
        while not server.requests_for("/slow.xml") and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.2)
        assert server.requests_for("/slow.xml"), "the run never reached the feed"

        os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C does: SIGINT to the terminal's foreground job
        err = run.communicate(timeout=60)[1]

    assert run.returncode == 130
    [line] = err.splitlines()
    assert line.startswith("Interrupted: the social_listening run manual__")
    assert "is stopped and marked failed in Airflow" in line
    run_id = line.split()[4]
    assert dag_runs()[run_id]["state"] == "failed"
    tasks = subprocess.run(airflow_command("tasks", "states-for-dag-run", "social_listening", run_id, "-o", "json"),
                           env=airflow_environment(), capture_output=True, text=True, check=True).stdout
    states = {task["task_id"]: task["state"] for task in json.loads(tasks.splitlines()[-1])}
    assert states["collect_and_enrich"] == "failed" and states["load"] == "skipped"
    assert "running" not in states.values()


def test_tasks_reach_the_api_server_on_its_port_and_wait_for_it_to_start():
    # Changing the port alone moves the URL tasks reach Airflow's execution API at (airflow.cfg's [api] by default).
    assert airflow_environment({"AIRFLOW__API__PORT": "9090"})["AIRFLOW__API__BASE_URL"] == "http://127.0.0.1:9090"
    assert airflow_environment({})["AIRFLOW__API__BASE_URL"] == "http://127.0.0.1:8080"
    proxied = {"AIRFLOW__API__PORT": "9090", "AIRFLOW__API__BASE_URL": "https://airflow.example"}
    assert airflow_environment(proxied)["AIRFLOW__API__BASE_URL"] == "https://airflow.example"
    # A task started before the API server is up keeps trying for minutes, not Airflow's default 5 tries (~30 s).
    retries = subprocess.run(airflow_command("config", "get-value", "workers", "execution_api_retries"),
                             env=airflow_environment(), capture_output=True, text=True, check=True).stdout
    assert int(retries.splitlines()[-1]) >= 10
