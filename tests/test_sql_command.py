"""`overheard sql`: one statement against the analysts' snapshot, and the interactive shell (Harlequin) on it."""

from __future__ import annotations

import pytest
from harlequin_duckdb import DuckDbAdapter

from cli import sql
from cli.main import main
from tests.test_views import mention
from warehouse.connection import open_warehouse
from warehouse.snapshot import publish_snapshot, snapshot_path


@pytest.fixture
def config(tmp_path):
    config = tmp_path / "config.yaml"
    warehouse_path = tmp_path / "w.duckdb"
    config.write_text(
        f"warehouse: {{path: {warehouse_path}}}\nstaging: {tmp_path / 'staging'}\n"
        "brands: [{name: Brightwave, aliases: [Brightwave]}]\n"
        "sources: [{kind: rss, name: n, url: 'https://n.example/f'}]\n"
    )
    with open_warehouse(warehouse_path) as connection:
        for number in range(3):
            mention(connection, f"x:{number}", "Brightwave", day=number)
        publish_snapshot(connection, warehouse_path, "r")
    return config


def test_one_statement_prints_its_rows_from_the_snapshot(config, tmp_path, capsys):
    # A mention written after the publish is in the pipeline's file, not yet in what analysts read.
    with open_warehouse(tmp_path / "w.duckdb") as connection:
        mention(connection, "x:late", "Brightwave", day=4)

    assert main(["sql", "--config", str(config), "-c", "SELECT count(*) AS mentions FROM earned_mentions"]) == 0
    assert capsys.readouterr().out.split() == ["mentions", "3", "(1", "row)"]

    assert main(["sql", "--config", str(config), "-c", "SELECT * FROM range(250)"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("(250 rows; the first 200 shown")

    assert main(["sql", "--config", str(config), "-c", "SELEC 1"]) == 1
    assert 'SQL error: Parser Error: syntax error at or near "SELEC"' in capsys.readouterr().err

    assert main(["sql", "--config", str(config), "-c", "DELETE FROM mentions"]) == 1
    assert "read-only" in capsys.readouterr().err


def test_the_shell_is_harlequin_on_the_snapshot_read_only(config, tmp_path, monkeypatch):
    started: list[list[str]] = []
    monkeypatch.setattr(sql.os, "execv", lambda program, argv: started.append(argv))

    assert main(["sql", "--config", str(config)]) == 0
    snapshot = str(snapshot_path(tmp_path / "w.duckdb"))
    assert started == [[started[0][0], "--read-only", "--no-init", snapshot]]
    assert started[0][0].endswith("/harlequin")
    # What the shell then does with those arguments: Harlequin's own DuckDB adapter opens the snapshot.
    connection = DuckDbAdapter((snapshot,), read_only=True, no_init=True).connect()
    cursor = connection.execute("SELECT count(*) FROM earned_mentions")
    assert cursor is not None and cursor.fetchall().to_pylist() == [{"count_star()": 3}]


def test_no_warehouse_yet_says_so(tmp_path, capsys):
    config = tmp_path / "config.yaml"
    config.write_text(
        f"warehouse: {{path: {tmp_path / 'none.duckdb'}}}\nstaging: {tmp_path / 'staging'}\n"
        "brands: [{name: Brightwave, aliases: [Brightwave]}]\n"
        "sources: [{kind: rss, name: n, url: 'https://n.example/f'}]\n"
    )
    assert main(["sql", "--config", str(config), "-c", "SELECT 1"]) == 1
    assert "run a collection first" in capsys.readouterr().err
