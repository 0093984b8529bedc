"""The command line as a new user meets it: a wrong name is an error listing the right ones, and
changes nothing."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from care.triage import CareStep
from cli.main import main as overheard
from config.model import Config
from tests.test_care import MONDAY_NOON, PLAYBOOK, first_batch
from warehouse.connection import open_warehouse

REPO = Path(__file__).resolve().parents[1]
NOT_ON_ROSTER = "not on the playbook's roster (playbook.leads and each queue's agents); on it: lead, ana, bo"


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config.model_validate({
        "timezone": "Europe/London", "warehouse": {"path": str(tmp_path / "w.duckdb")}, "staging": str(tmp_path / "s"),
        "brands": [{"name": "Brightwave", "aliases": ["Brightwave"]}],
        "competitors": [{"name": "Tidewell", "aliases": ["Tidewell"]}],
        "sources": [{"kind": "rss", "name": "news", "url": "https://n.example/feed"}], "playbook": PLAYBOOK,
    })


@pytest.fixture
def triaged(config: Config, tmp_path: Path) -> Path:
    """A config file whose warehouse holds the six triage items of `first_batch`."""
    with open_warehouse(config.warehouse.path) as warehouse:
        first_batch(warehouse)
        CareStep(warehouse, config, "run-1", MONDAY_NOON).run()
    path = tmp_path / "config.json"
    path.write_text(config.model_dump_json(exclude_none=True))
    return path


def _trail(config: Config) -> list[tuple]:
    with open_warehouse(config.warehouse.path) as connection:
        return connection.execute(
            "SELECT i.mention_key, i.queue, i.status, i.assignee, a.actor, a.action FROM triage_items AS i "
            "JOIN triage_actions AS a USING (mention_key) ORDER BY a.action_id"
        ).fetchall()


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        (["reassign", "x:2", "--to", "zed", "--as", "lead"], f"x:2 cannot be given to 'zed': {NOT_ON_ROSTER}"),
        (["claim", "x:6", "--as", "zed"], f"'zed' cannot act on triage items: {NOT_ON_ROSTER}"),
        (["history", "x:1", "--as", "Ana"], f"'Ana' cannot act on triage items: {NOT_ON_ROSTER}"),
        (["list", "--mine", "--as", "zed"], f"'zed' cannot act on triage items: {NOT_ON_ROSTER}"),
        (["list", "--queue", "nosuch"], "no queue named 'nosuch'; queues: care, escalations, sales"),
        (["reassign", "x:2", "--to", "ana", "--queue", "billing", "--as", "lead"],
         "no queue named 'billing'; queues: care, escalations, sales"),
        (["history", "nosuch:key"], "no triage item 'nosuch:key'; list a queue to see the items"),
    ],
)
def test_an_unknown_agent_queue_or_item_is_an_error_listing_the_known_ones(config, triaged, capsys, arguments, error):
    before = _trail(config)
    action, *rest = arguments

    assert overheard(["triage", action, *rest, "--config", str(triaged)]) == 2

    output = capsys.readouterr()
    assert (output.err.strip(), output.out) == (error, "")
    assert _trail(config) == before


def test_known_names_act_and_the_history_shows_it(config, triaged, capsys):
    assert overheard(["triage", "reassign", "x:2", "--to", "ana", "--config", str(triaged), "--as", "lead"]) == 0
    assert overheard(["triage", "history", "x:2", "--config", str(triaged)]) == 0

    assert capsys.readouterr().out.splitlines()[-1].startswith("20")  # the history's last line: the reassignment
    assert _trail(config)[-1] == ("x:2", "care", "open", "ana", "lead", "reassigned")


def test_a_response_time_without_an_offset_is_read_in_the_configs_timezone(config, triaged, capsys):
    madrid = config.model_copy(update={"timezone": "Europe/Madrid"})  # UTC+1 in November
    triaged.write_text(madrid.model_dump_json(exclude_none=True))
    respond = ["triage", "respond", "x:1", "https://x.example/r/1", "--config", str(triaged), "--as", "ana", "--at"]

    # x:1 was opened at 12:00 UTC: 12:30 in Madrid is before it, 13:30 half an hour after.
    assert overheard([*respond, "2026-11-02T12:30"]) == 2
    assert capsys.readouterr().err.strip() == "the response time 2026-11-02 12:30 CET is before the item was opened"
    assert overheard([*respond, "2026-11-02T13:30"]) == 0

    with open_warehouse(config.warehouse.path) as connection:
        assert connection.execute(
            "SELECT first_response_at, first_response_minutes FROM triage_items WHERE mention_key = 'x:1'"
        ).fetchone() == (MONDAY_NOON + timedelta(minutes=30), 30.0)


def test_an_action_while_another_process_holds_the_warehouse_says_who_and_changes_nothing(
    config, triaged, capsys, monkeypatch
):
    hold = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(60)"
    holder = subprocess.Popen([sys.executable, "-c", hold, config.warehouse.path], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        monkeypatch.setattr("warehouse.connection.LOCK_WAIT_SECONDS", 0.5)

        assert overheard(["triage", "claim", "x:6", "--config", str(triaged), "--as", "ana"]) == 1
    finally:
        holder.kill()
        holder.wait()

    error = capsys.readouterr().err
    assert error.startswith(f"the warehouse {config.warehouse.path} is held by PID {holder.pid} (")
    assert "still was after waiting 0 s" in error and "Traceback" not in error
    assert ("x:6", "care", "open", "ana", "overheard", "assigned") == _trail(config)[-1]


@pytest.mark.parametrize("command", [["check-config"], ["triage", "list", "--config"]], ids=["check-config", "triage"])
def test_a_reader_that_goes_away_ends_the_command_quietly(triaged, command):
    """`overheard ... | head`: head exits after its lines and the pipe closes under the command."""
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", *command, str(triaged)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader is gone before the command writes

    errors = process.stderr.read().decode()

    assert (process.wait(timeout=60), errors) == (1, "")
