"""Analysts read while the pipeline writes: the writer publishes a snapshot after each commit, readers open it."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from collectors.source_run import SourceRun
from collectors.units import CollectionUnit, stage_unit
from core.mention import Mention
from core.staging import StagingArea
from enrich.pipeline import enrich_unit
from warehouse.connection import open_warehouse, read_warehouse
from warehouse.load import load_run
from warehouse.snapshot import PUBLISHING_SUFFIX, publish_snapshot, snapshot_path

REPO = Path(__file__).resolve().parents[1]
CYCLES = 20
BATCH = 50
# What an analyst checks: how many mentions, and how many earned mentions with their brands.
TOTALS_SQL = """
SELECT (SELECT count(*) FROM mentions),
       (SELECT count(*) FROM earned_mentions JOIN mention_brands USING (mention_key))
"""

# A reader process: opens the warehouse the way every reader in Overheard does, runs TOTALS_SQL, closes,
# again and again until it has seen the final totals (argv[2]); prints what it saw and every error.
READER = """
import json, sys, time
import duckdb
from warehouse.connection import read_warehouse
final = json.loads(sys.argv[2])
seen, errors = [], []
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        with read_warehouse(sys.argv[1]) as connection:
            totals = list(connection.execute(sys.argv[3]).fetchone())
    except duckdb.Error as error:
        errors.append(str(error))
        continue
    if not seen or seen[-1] != totals:
        seen.append(totals)
        if len(seen) == 1:
            print("ready", flush=True)
    if totals == final:
        break
print(json.dumps({"seen": seen, "errors": errors}))
"""

# What another process gets from each way of opening the warehouse while the test holds the writer.
PROBE = """
import json, sys
import duckdb
from warehouse.connection import read_warehouse
outcome = {}
for name, open_it in (
    ("main read-only", lambda: duckdb.connect(sys.argv[1], read_only=True)),
    ("main read-write", lambda: duckdb.connect(sys.argv[1])),
    ("read_warehouse", lambda: read_warehouse(sys.argv[1])),
):
    try:
        with open_it() as connection:
            outcome[name] = connection.execute("SELECT count(*) FROM mentions").fetchone()[0]
    except duckdb.IOException as error:
        outcome[name] = "lock" if "Conflicting lock" in str(error) else str(error)
print(json.dumps(outcome))
"""


def python(script: str, *arguments: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", script, *arguments],
        cwd=REPO,
        text=True,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def probe(warehouse: Path) -> dict:
    stdout, _ = python(PROBE, str(warehouse)).communicate(timeout=30)
    return json.loads(stdout)


def add_mentions(connection: duckdb.DuckDBPyConnection, first: int, count: int, run_id: str) -> None:
    """`count` earned Brightwave mentions, numbered from `first`, with their brand rows, in one transaction."""
    connection.execute("BEGIN TRANSACTION")
    connection.execute(
        """
        INSERT INTO mentions (mention_key, platform, source, text, is_owned, first_run_id, first_seen_at,
                              last_run_id, last_seen_at)
        SELECT 'https://techwire.example/' || i, 'news', 'techwire', 'Brightwave post ' || i, false,
               $run_id, $seen_at, $run_id, $seen_at
        FROM range($first, $first + $count) AS t(i)
        """,
        {"first": first, "count": count, "run_id": run_id, "seen_at": datetime(2026, 11, 2, 10, tzinfo=UTC)},
    )
    connection.execute(
        """
        INSERT INTO mention_brands (mention_key, brand, role, matched_terms)
        SELECT 'https://techwire.example/' || i, 'Brightwave', 'brand', ['Brightwave']
        FROM range($first, $first + $count) AS t(i)
        """,
        {"first": first, "count": count},
    )
    connection.execute("COMMIT")


def totals(connection: duckdb.DuckDBPyConnection) -> list[int]:
    return list(connection.execute(TOTALS_SQL).fetchone())


def staged_run(config, run_id: str) -> list[str]:
    """One enriched unit as the DAG's collect_and_enrich task leaves it: 3 matched articles, 1 owned."""

    def article(slug: str, text: str, host: str = "gazette.example") -> Mention:
        return Mention(
            "news",
            "gazette",
            slug,
            f"https://{host}/{slug}",
            text,
            title=slug,
            published_at=datetime(2026, 11, 2, 8, tzinfo=UTC),
        )

    outcome = SourceRun(
        "gazette",
        "rss",
        "ok",
        items_fetched=3,
        cursor={"etag": '"g1"'},
        mentions=[
            article("outage", "Brightwave is down across the north."),
            article("deal", "Tidewell and Brightwave sign a network sharing deal."),
            article("press", "Brightwave opens a new office.", host="brightwave.example"),
        ],
    )
    staging = StagingArea(config.staging, run_id)
    unit = CollectionUnit("rss-001", "rss", ("gazette",))
    return [enrich_unit(config, stage_unit(staging, unit, [outcome]), staging)]


def test_readers_in_other_processes_see_only_whole_loads_while_20_loads_run(config):
    warehouse = Path(config.warehouse.path)
    committed = []
    with open_warehouse(warehouse) as connection:
        add_mentions(connection, 0, BATCH, "run-00")
        publish_snapshot(connection, warehouse, "run-00")
        committed.append(totals(connection))
    load_cycle = CYCLES // 2
    # Before the runs, so that the readers know when they have seen the last one.
    final = [committed[0][0] + (CYCLES - 1) * BATCH + 3, committed[0][1] + (CYCLES - 1) * BATCH + 3]
    readers = [python(READER, str(warehouse), json.dumps(final), TOTALS_SQL) for _ in range(2)]
    for reader in readers:
        assert reader.stdout.readline() == "ready\n"

    for cycle in range(1, CYCLES + 1):
        run_id = f"run-{cycle:02d}"
        if cycle == load_cycle:
            # The real load (one transaction), then the publish its task does after it.
            window = (datetime(2026, 11, 2, 9, tzinfo=UTC), datetime(2026, 11, 2, 10, tzinfo=UTC))
            load_run(warehouse, run_id, window, staged_run(config, run_id))
            with open_warehouse(warehouse) as connection:
                publish_snapshot(connection, warehouse, run_id)
                committed.append(totals(connection))
            continue
        with open_warehouse(warehouse) as connection:
            add_mentions(connection, cycle * BATCH, BATCH, run_id)
            publish_snapshot(connection, warehouse, run_id)
            committed.append(totals(connection))

    assert committed[-1] == final
    reports = [json.loads(reader.communicate(timeout=60)[0]) for reader in readers]
    for report in reports:
        assert report["errors"] == []
        seen = report["seen"]
        assert all(totals in committed for totals in seen), f"a reader saw a partial load: {seen}"
        assert seen == sorted(seen), "a reader's counts went backwards"
        assert seen[0] == committed[0] and seen[-1] == final
    with read_warehouse(warehouse) as connection:
        assert totals(connection) == final
        assert connection.execute("SELECT run_id FROM snapshot_info").fetchall() == [(f"run-{CYCLES:02d}",)]
    assert sorted(path.name for path in warehouse.parent.iterdir() if "overheard" in path.name) == [
        "overheard.duckdb",
        "overheard.read.duckdb",
    ]


def test_a_reader_keeps_its_snapshot_across_a_publish_and_the_next_one_gets_the_new_data(tmp_path):
    warehouse = tmp_path / "overheard.duckdb"
    with open_warehouse(warehouse) as connection:
        add_mentions(connection, 0, 10, "run-1")
        before = datetime.now(UTC)
        assert publish_snapshot(connection, warehouse, "run-1") == tmp_path / "overheard.read.duckdb"
        after = datetime.now(UTC)
    old = read_warehouse(warehouse)
    assert totals(old) == [10, 10]
    ((published_at, run_id),) = old.execute("SELECT published_at, run_id FROM snapshot_info").fetchall()
    assert (before <= published_at <= after, run_id) == (True, "run-1")

    with open_warehouse(warehouse) as connection:
        add_mentions(connection, 10, 5, "run-2")
        publish_snapshot(connection, warehouse, "run-2")
        add_mentions(connection, 15, 1, "triage")  # committed, not published yet

    assert totals(old) == [10, 10]
    with read_warehouse(warehouse) as new:
        assert totals(new) == [15, 15]
        assert new.execute("SELECT run_id FROM snapshot_info").fetchall() == [("run-2",)]
    with read_warehouse(warehouse, prefer_snapshot=False) as main:
        assert totals(main) == [16, 16]
    old.close()


def test_while_a_writer_holds_the_file_only_the_snapshot_opens_elsewhere_and_the_writer_keeps_its_lock(tmp_path):
    warehouse = tmp_path / "overheard.duckdb"
    assert read_warehouse(warehouse) is None
    with open_warehouse(warehouse) as connection:
        add_mentions(connection, 0, 7, "run-1")
        wal = Path(f"{warehouse}.wal")
        assert wal.stat().st_size > 0  # the committed rows are in the WAL, not yet in the file

        # DuckDB: a file open for writing cannot be opened by another process, not even read-only.
        assert probe(warehouse) == {"main read-only": "lock", "main read-write": "lock", "read_warehouse": "lock"}

        publish_snapshot(connection, warehouse, "run-1")

        assert not wal.exists()  # CHECKPOINT moved them into the file before it was copied
        # The copy was made without releasing the writer's lock; the snapshot opens, with the rows.
        assert probe(warehouse) == {"main read-only": "lock", "main read-write": "lock", "read_warehouse": 7}
        connection.execute("INSERT INTO runs SELECT * FROM runs")  # still the writer


def test_publishing_inside_a_transaction_is_refused_and_publishes_nothing(tmp_path):
    warehouse = tmp_path / "overheard.duckdb"
    with open_warehouse(warehouse) as connection:
        add_mentions(connection, 0, 3, "run-1")
        publish_snapshot(connection, warehouse, "run-1")
        connection.execute("BEGIN TRANSACTION")
        connection.execute("DELETE FROM mention_brands")
        with pytest.raises(duckdb.TransactionException):
            publish_snapshot(connection, warehouse, "run-2")
        connection.execute("ROLLBACK")
    with read_warehouse(warehouse) as reader:
        assert totals(reader) == [3, 3]
        assert reader.execute("SELECT run_id FROM snapshot_info").fetchall() == [("run-1",)]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["overheard.duckdb", "overheard.read.duckdb"]


def test_a_wal_left_beside_the_snapshot_by_a_read_write_session_does_not_break_the_next_snapshot(tmp_path):
    warehouse = tmp_path / "overheard.duckdb"
    with open_warehouse(warehouse) as connection:
        add_mentions(connection, 0, 3, "run-1")
        publish_snapshot(connection, warehouse, "run-1")
    # An analyst forgot -readonly, changed the snapshot and their session died before it checkpointed.
    careless = (
        "import duckdb, os, sys; session = duckdb.connect(sys.argv[1]); "
        "session.execute(\"UPDATE snapshot_info SET run_id = 'me'\"); os._exit(0)"
    )
    python(careless, str(snapshot_path(warehouse))).wait(timeout=30)
    assert Path(f"{snapshot_path(warehouse)}.wal").exists()

    with open_warehouse(warehouse) as connection:
        add_mentions(connection, 3, 2, "run-2")
        publish_snapshot(connection, warehouse, "run-2")

    with read_warehouse(warehouse) as reader:
        assert totals(reader) == [5, 5]
        assert reader.execute("SELECT run_id FROM snapshot_info").fetchall() == [("run-2",)]


# A writer killed (SIGKILL) while publishing, once its copy of the warehouse is written: what a task killed
# for memory, or a worker lost mid-publish, leaves behind.
KILLED_WHILE_PUBLISHING = """
import os, signal, sys
import warehouse.snapshot
from warehouse.connection import open_warehouse
warehouse.snapshot._record_publication = lambda *arguments: os.kill(os.getpid(), signal.SIGKILL)
connection = open_warehouse(sys.argv[1])
connection.execute("INSERT INTO runs SELECT * FROM runs")
warehouse.snapshot.publish_snapshot(connection, sys.argv[1], "run-killed")
"""


def test_copies_left_by_publishers_killed_mid_publish_are_removed_by_the_next_publisher(tmp_path):
    warehouse = tmp_path / "overheard.duckdb"
    with open_warehouse(warehouse) as connection:
        add_mentions(connection, 0, 3, "run-1")
        publish_snapshot(connection, warehouse, "run-1")
    for _ in range(3):
        assert python(KILLED_WHILE_PUBLISHING, str(warehouse)).wait(timeout=60) == -9
        # Each killed publisher left its full copy, and removed the one the previous killed publisher left.
        [left] = tmp_path.glob(f"overheard.read.duckdb.*{PUBLISHING_SUFFIX}")
        assert left.stat().st_size == warehouse.stat().st_size
    # A publisher at work holds an flock on its copy (here: this test, on a copy of its own).
    working = tmp_path / f"overheard.read.duckdb.{'0' * 32}{PUBLISHING_SUFFIX}"
    working.write_bytes(b"being copied")
    claim = os.open(working, os.O_RDONLY)
    fcntl.flock(claim, fcntl.LOCK_EX)

    with open_warehouse(warehouse) as connection:
        add_mentions(connection, 3, 2, "run-2")
        publish_snapshot(connection, warehouse, "run-2")

    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        ["overheard.duckdb", "overheard.read.duckdb", working.name]
    )
    os.close(claim)
    with open_warehouse(warehouse) as connection:
        publish_snapshot(connection, warehouse, "run-3")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["overheard.duckdb", "overheard.read.duckdb"]
    with read_warehouse(warehouse) as reader:
        assert totals(reader) == [5, 5]
