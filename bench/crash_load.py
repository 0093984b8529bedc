"""Crash test: SIGKILL the load at random points of a 100,000-mention run, then check nothing was lost or doubled.

Writes two runs of synthetic enriched units with the writer of `bench/upsert_mentions.py`: run-1 of
`--mentions` mentions, run-2 of 20% more, partly the same mentions, marking 1,000 of run-1's deleted
and moving every cursor on. Then:

    reference  each run loaded once, uninterrupted, into a warehouse of its own (`load_run`, in a child
               process that reports the start of each phase: staging and upsert, the daily aggregate
               refresh, the snapshot publish, the publish's file copy);
    crashes    each run loaded into the crash warehouse by child processes killed with SIGKILL, half of
               the kills at a random moment of the whole load, the rest at a random moment of one phase
               (the aggregate refresh, the publish, the copy), until `--kills` kills landed; after each,
               the warehouse must hold all of the run or none of it (read-only, as DuckDB recovers it).
               Then the load runs to the end, as Airflow's retry does;
    rerun      both runs loaded again, in order (run-1 after run-2 is an older run loaded late).

and checks: no mention lost (every staged key is in the warehouse), none doubled (mentions and brand
rows unique), no leftover file beside the warehouse (only the file and its snapshot, no temporary
copy, no WAL), and each run's counts, the mentions, the brand rows, the cursors and the daily
aggregates equal to the reference's; the snapshot equal to the warehouse. The last line printed is
`kills=<n> landed_after_commit=<n> lost=<n> doubled=<n> leftover_files=<n> run_counts_changed=<n>
warehouse_differs=<0|1>`.

Usage:
    .venv/bin/python bench/crash_load.py                                # 100,000 mentions, 36 kills, ~5 min
    .venv/bin/python bench/crash_load.py --mentions 5000 --kills 8      # smoke check, under a minute
"""

from __future__ import annotations

import argparse
import io
import json
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.upsert_mentions import generate
from warehouse.snapshot import PUBLISHING_SUFFIX

RUNS = {
    "run-1": (datetime(2026, 11, 2, 9, tzinfo=UTC), datetime(2026, 11, 2, 10, tzinfo=UTC)),
    "run-2": (datetime(2026, 11, 2, 10, tzinfo=UTC), datetime(2026, 11, 2, 11, tzinfo=UTC)),
}
DELETED_IN_RUN_2 = 1000
# The phases a child load reports as it starts each: the interpreter and imports, opening the warehouse
# and reading the staged rows, ..., the publish's CHECKPOINT, the file copy (then snapshot_info, rename).
PHASES = ("started", "staging", "aggregates", "publish", "copy", "done")
# Where kills are aimed, in turn: anywhere in the load, or somewhere in one stage, as long as the reference's:
# the aggregate refresh (to the commit), the whole publish (CHECKPOINT, copy, snapshot_info, rename), the copy.
TARGETS = ("anywhere", "aggregates", "anywhere", "publish", "anywhere", "copy")
# The stages that must each receive at least a sixth of each run's kills, by the phases kills landed in.
REQUIRED_STAGES = {"aggregates": ("aggregates",), "publish": ("publish", "copy")}
MIN_SHARE_PER_STAGE = 1 / 6
# Compared between the crash warehouse and the reference: what a user of each would see.
COMPARED = {
    "runs": "SELECT * FROM runs ORDER BY run_id, source",
    "source_cursors": "SELECT * FROM source_cursors ORDER BY source",
    "mentions": "SELECT count(*), sum(hash(COLUMNS(*))) FROM mentions",
    "mention_brands": "SELECT count(*), sum(hash(COLUMNS(*))) FROM mention_brands",
    "daily_brand_volume": "SELECT * FROM daily_brand_volume ORDER BY ALL",
    "daily_brand_authors": "SELECT * FROM daily_brand_authors ORDER BY ALL",
}
RUN_COUNTS = "SELECT run_id, source, mentions_new, mentions_seen_before, mentions_deleted FROM runs"

# The child's load, reporting each phase as it starts: `phase <name>` on stdout.
CHILD = """
import sys, json
from datetime import datetime
import warehouse.load, warehouse.snapshot

def report(phase, wrapped):
    def reporting(*arguments, **keywords):
        print("phase", phase, flush=True)
        return wrapped(*arguments, **keywords)
    return reporting

warehouse.load._stage = report("staging", warehouse.load._stage)
warehouse.load.refresh_daily_aggregates = report("aggregates", warehouse.load.refresh_daily_aggregates)
warehouse.load.publish_snapshot = report("publish", warehouse.load.publish_snapshot)
warehouse.snapshot._copy = report("copy", warehouse.snapshot._copy)
path, run_id, window, manifests = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
print("phase started", flush=True)
warehouse.load.load_run(path, run_id, tuple(datetime.fromisoformat(end) for end in window), manifests)
print("phase done", flush=True)
"""


@dataclass
class Attempt:
    """One child load.

    Attributes:
        phases: when each phase started, in seconds after the child was spawned.
        killed_at: when it was killed (seconds after spawn), or None when it ran to its end.
        killed_in: the last phase it had started when it was killed.
        committed: whether the warehouse held the run after the kill.
        exit_code: the child's exit code (-9 when killed).
    """

    phases: dict[str, float] = field(default_factory=dict)
    killed_at: float | None = None
    killed_in: str | None = None
    committed: bool = False
    exit_code: int | None = None


def main() -> None:
    """Parse the flags and run the crash test."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mentions", type=int, default=100_000, help="mentions in run-1 (default 100000)")
    parser.add_argument("--kills", type=int, default=36, help="SIGKILLs that must land, over both runs (default 36)")
    parser.add_argument("--seed", type=int, default=11, help="seed of the kill points (default 11)")
    parser.add_argument("--workdir", type=Path, help="where to write (default: a temp dir, removed at the end)")
    arguments = parser.parse_args()
    if arguments.mentions < 1000 or arguments.kills < 2:
        parser.error("--mentions must be at least 1000 and --kills at least 2")
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    keep = arguments.workdir is not None
    workdir = arguments.workdir or Path(tempfile.mkdtemp(prefix="overheard-bench-crash-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        failures = run_crash_test(workdir, arguments.mentions, arguments.kills, random.Random(arguments.seed))
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    if failures:
        raise SystemExit(1)


def run_crash_test(workdir: Path, mentions: int, kills: int, chance: random.Random) -> int:
    """Generate, load the reference, crash and retry, rerun, check; print the figures. Returns the failures."""
    import duckdb

    print(f"overheard crash test: run-1 of {mentions:,} mentions, run-2 of {mentions * 6 // 5:,}, {kills} kills")
    print(f"workdir: {workdir}; DuckDB {duckdb.__version__}; load average {_load_average()}")
    manifests = _generate(workdir, mentions)
    reference = workdir / "reference" / "warehouse.duckdb"
    timings: dict[str, Attempt] = {}
    loaded: dict[str, tuple[int, int]] = {}  # (mentions, the run's rows in runs) once each run is loaded
    for run_id in RUNS:
        timings[run_id] = _attempt(reference, run_id, manifests[run_id])
        if timings[run_id].exit_code != 0:
            print(f"the reference load of {run_id} failed (exit {timings[run_id].exit_code}): see its error above")
            return 1
        loaded[run_id] = _totals(reference, run_id)
        phases = ", ".join(f"{phase} {seconds:.2f}s" for phase, seconds in timings[run_id].phases.items())
        print(f"reference {run_id}: {phases}")
    warehouse = workdir / "crash" / "warehouse.duckdb"
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    saved = workdir / "before-run"
    attempts: list[tuple[str, str, Attempt]] = []
    most_copies = copies_after_retry = 0
    kills_per_run = [kills // len(RUNS) + (1 if index < kills % len(RUNS) else 0) for index in range(len(RUNS))]
    for run_id, wanted in zip(RUNS, kills_per_run, strict=True):
        _copy_files(warehouse.parent, saved)  # the warehouse before this run: each kill hits a whole load
        before = _totals(warehouse, run_id)
        reference_counts = _run_counts(reference, run_id)
        landed: Counter[str] = Counter()
        least = max(1, int(wanted * MIN_SHARE_PER_STAGE))
        tries = 0
        while landed.total() < wanted or _short_stages(landed, least):
            if tries == wanted * 5:
                print(f"{run_id}: the kills did not land in every phase after {tries} attempts: {dict(landed)}")
                return 1
            tries += 1
            missing = _short_stages(landed, least)
            # Once enough kills landed, only the stages still short of theirs are aimed at.
            target = missing[0] if missing and landed.total() >= wanted - len(missing) else TARGETS[tries % len(TARGETS)]
            attempt = _attempt(warehouse, run_id, manifests[run_id], _kill_point(target, timings[run_id], chance))
            attempts.append((run_id, target, attempt))
            if attempt.killed_in is not None:
                landed[attempt.killed_in] += 1
                found = _totals(warehouse, run_id)
                attempt.committed = found == loaded[run_id]
                if not attempt.committed and found != before:
                    print(f"PARTIAL LOAD after a kill in {attempt.killed_in}: (mentions, run rows) {found}; "
                          f"expected {before} or {loaded[run_id]}")
                    return 1
                most_copies = max(most_copies, len(list(warehouse.parent.glob(f"*{PUBLISHING_SUFFIX}"))))
                if not attempt.committed:
                    continue  # the next attempt is the retry of a load that never happened
                # Committed, then killed: Airflow retries the load; it must find it done and count nothing twice.
                if _attempt(warehouse, run_id, manifests[run_id]).exit_code != 0:
                    print(f"the retry of {run_id} after a kill in {attempt.killed_in} failed")
                    return 1
                copies_after_retry = max(copies_after_retry, len(list(warehouse.parent.glob(f"*{PUBLISHING_SUFFIX}"))))
            if (counts := _run_counts(warehouse, run_id)) != reference_counts:
                print(f"run counts (new, seen before, deleted) after a kill in {attempt.killed_in} and a retry: "
                      f"{_per_run(counts)}; the reference's: {_per_run(reference_counts)}")
                return 1
            _copy_files(saved, warehouse.parent)  # back to before the run, for the next kill
        if _attempt(warehouse, run_id, manifests[run_id]).exit_code != 0:  # the run, to the end
            print(f"the load of {run_id} after the kills failed")
            return 1
    for run_id in RUNS:  # the rerun: run-1 now loads after run-2, as a late retry or backfill would
        if _attempt(warehouse, run_id, manifests[run_id]).exit_code != 0:
            print(f"the rerun of {run_id} failed")
            return 1

    _print_kills(attempts)
    print(f"temporary snapshot copies beside the warehouse: at most {most_copies} after a kill, "
          f"{copies_after_retry} after the retry that followed it (a copy stays while its copying process runs on "
          "after the kill; the next publish after that removes it)")
    return _check(workdir, warehouse, reference, manifests, attempts)


def _short_stages(landed: Counter[str], least: int) -> list[str]:
    """The required stages that fewer than `least` kills landed in."""
    return [stage for stage, phases in REQUIRED_STAGES.items() if sum(landed[phase] for phase in phases) < least]


def _copy_files(source: Path, target: Path) -> None:
    """Make the folder `target` hold exactly the files of `source` (a folder of files)."""
    target.mkdir(parents=True, exist_ok=True)
    for path in target.iterdir():
        path.unlink()
    for path in source.iterdir():
        shutil.copyfile(path, target / path.name)


def _run_counts(path: Path, run_id: str) -> list[tuple[Any, ...]]:
    import duckdb

    with duckdb.connect(str(path), read_only=True) as connection:
        return connection.execute(f"{RUN_COUNTS} WHERE run_id = ? ORDER BY source", [run_id]).fetchall()


def _generate(workdir: Path, mentions: int) -> dict[str, list[str]]:
    """Both runs' manifests, through the upsert benchmark's writer; run-2 deletes some of run-1 and moves cursors."""
    import duckdb

    started = time.perf_counter()
    manifests: dict[str, list[str]] = {}
    for run_id, rows in (("run-1", mentions), ("run-2", mentions * 6 // 5)):
        generate(workdir / run_id, rows)
        manifests[run_id] = json.loads((workdir / run_id / "manifests.json").read_text(encoding="utf-8"))
    keys = {run_id: _staged_keys(urls) for run_id, urls in manifests.items()}
    with duckdb.connect() as connection:
        [(overlap,)] = connection.execute(
            f"SELECT count(*) FROM ({keys['run-1']} INTERSECT {keys['run-2']})"
        ).fetchall()
        deleted = [key for (key,) in connection.execute(
            f"SELECT * FROM ({keys['run-1']} EXCEPT {keys['run-2']}) ORDER BY 1 LIMIT {DELETED_IN_RUN_2}"
        ).fetchall()]
    for position, url in enumerate(manifests["run-2"]):
        manifest = json.loads(Path(url).read_text(encoding="utf-8"))
        for outcome in manifest["sources"]:
            outcome["cursor"] = {"etag": f'"{outcome["source"]}-v3"', "last_modified": "Mon, 02 Nov 2026 10:55:00 GMT"}
        if position == 0:
            manifest["sources"][0]["deleted_keys"] = deleted
        Path(url).write_text(json.dumps(manifest), encoding="utf-8")
    print(f"generated in {time.perf_counter() - started:.1f}s: {overlap:,} mentions in both runs, "
          f"{len(deleted):,} of run-1 deleted by run-2")
    return manifests


def _staged_keys(manifest_urls: list[str]) -> str:
    """SQL selecting the keys of a run's staged rows."""
    files = [json.loads(Path(url).read_text(encoding="utf-8"))["mentions"] for url in manifest_urls]
    return f"SELECT key FROM read_json({files!r}, format = 'newline_delimited', columns = {{'key': 'VARCHAR'}})"


def _kill_point(target: str, reference: Attempt, chance: random.Random) -> tuple[str, float]:
    """(phase to wait for, seconds after it): anywhere in the load, or in one phase, as long as the reference's."""
    if target == "anywhere":
        return "started", chance.uniform(0, reference.phases["done"] - reference.phases["started"])
    following = "done" if target == "publish" else PHASES[PHASES.index(target) + 1]
    return target, chance.uniform(0, reference.phases[following] - reference.phases[target])


def _attempt(path: Path, run_id: str, manifests: list[str], kill: tuple[str, float] | None = None) -> Attempt:
    """Load a run in a child process; with `kill`, SIGKILL it that many seconds after it reports that phase."""
    path.parent.mkdir(parents=True, exist_ok=True)
    window = json.dumps([end.isoformat() for end in RUNS[run_id]])
    started = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), run_id, window, json.dumps(manifests)],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    attempt = Attempt()
    reports: queue.Queue[tuple[str, float]] = queue.Queue()
    reader = threading.Thread(target=_read_phases, args=(child, reports, started), daemon=True)
    reader.start()
    deadline: float | None = None
    while child.poll() is None:
        try:
            phase, at = reports.get(timeout=0.005)
            attempt.phases[phase] = at
            if kill is not None and phase == kill[0]:
                deadline = started + at + kill[1]
        except queue.Empty:
            pass
        if deadline is not None and time.monotonic() >= deadline:
            child.send_signal(signal.SIGKILL)
            attempt.killed_at = time.monotonic() - started
            break
    attempt.exit_code = child.wait()
    reader.join(timeout=30)  # to the end of what the child wrote
    while not reports.empty():
        phase, at = reports.get()
        attempt.phases.setdefault(phase, at)
    last = max(attempt.phases, key=lambda phase: attempt.phases[phase], default=None)
    if attempt.killed_at is not None and attempt.exit_code == -signal.SIGKILL and last != "done":
        attempt.killed_in = last
    else:
        attempt.killed_at = None  # it had finished the load: not a kill during it
    return attempt


def _read_phases(child: subprocess.Popen[str], reports: queue.Queue[tuple[str, float]], started: float) -> None:
    assert child.stdout is not None
    for line in child.stdout:
        if line.startswith("phase "):
            reports.put((line.split()[1], time.monotonic() - started))


def _totals(path: Path, run_id: str) -> tuple[int, int]:
    """(mentions, rows of `run_id` in runs), as DuckDB recovers the file (read-only: the WAL replayed in memory)."""
    import duckdb

    if not path.exists():
        return 0, 0
    with duckdb.connect(str(path), read_only=True) as connection:
        [(mentions, runs)] = connection.execute(
            "SELECT (SELECT count(*) FROM mentions), (SELECT count(*) FROM runs WHERE run_id = ?)", [run_id]
        ).fetchall()
    return int(mentions), int(runs)


def _leftovers(warehouse: Path) -> list[str]:
    """Files beside the warehouse other than the file and its snapshot."""
    return sorted(path.name for path in warehouse.parent.iterdir()
                  if path.name not in (warehouse.name, f"{warehouse.stem}.read.duckdb"))


def _print_kills(attempts: list[tuple[str, str, Attempt]]) -> None:
    killed = [(run_id, target, attempt) for run_id, target, attempt in attempts if attempt.killed_in]
    by_phase = Counter(attempt.killed_in for _, _, attempt in killed)
    print()
    print(f"{len(killed)} kills ({len(attempts) - len(killed)} loads finished before their kill point):")
    print(f"{'run':<7} {'aimed at':<11} {'killed in':<11} {'seconds after spawn':>20}  warehouse after")
    for run_id, target, attempt in killed:
        print(f"{run_id:<7} {target:<11} {attempt.killed_in!s:<11} {attempt.killed_at:>20.2f}  "
              f"{'committed' if attempt.committed else 'rolled back'}")
    print("kills by the phase they landed in: " + ", ".join(f"{phase} {by_phase[phase]}" for phase in PHASES[:-1]))


def _check(
    workdir: Path, warehouse: Path, reference: Path, manifests: dict[str, list[str]],
    attempts: list[tuple[str, str, Attempt]],
) -> int:
    """Compare the crash warehouse with the reference; print each check and the summary line; return the failures."""
    import duckdb

    staged = " UNION ".join(_staged_keys(urls) for urls in manifests.values())
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        [(lost,)] = connection.execute(
            f"SELECT count(*) FROM ({staged}) AS staged WHERE key NOT IN (SELECT mention_key FROM mentions)"
        ).fetchall()
        [(doubled,)] = connection.execute(
            "SELECT (SELECT count(*) - count(DISTINCT mention_key) FROM mentions) "
            "+ (SELECT count(*) - count(DISTINCT (mention_key, brand)) FROM mention_brands)"
        ).fetchall()
        found = {name: connection.execute(sql).fetchall() for name, sql in COMPARED.items()}
        counts = connection.execute(RUN_COUNTS).fetchall()
    with duckdb.connect(str(reference), read_only=True) as connection:
        expected = {name: connection.execute(sql).fetchall() for name, sql in COMPARED.items()}
        reference_counts = connection.execute(RUN_COUNTS).fetchall()
    snapshot = warehouse.with_name(f"{warehouse.stem}.read.duckdb")
    with duckdb.connect(str(snapshot), read_only=True) as connection:
        published = {name: connection.execute(sql).fetchall() for name, sql in COMPARED.items()}
    leftovers = _leftovers(warehouse)
    changed = sorted(set(counts) ^ set(reference_counts))
    differs = [name for name in COMPARED if found[name] != expected[name]]
    stale = [name for name in COMPARED if published[name] != found[name]]
    killed = [attempt for _, _, attempt in attempts if attempt.killed_in]
    # A kill after the commit leaves the run loaded: its retry is the case whose counts used to be zeroed.
    after_commit = sum(1 for attempt in killed if attempt.committed)
    print()
    print(f"mentions {found['mentions'][0][0]:,}, brand rows {found['mention_brands'][0][0]:,}, "
          f"runs rows {len(found['runs'])}; reference: {expected['mentions'][0][0]:,}, "
          f"{expected['mention_brands'][0][0]:,}, {len(expected['runs'])}")
    print(f"run counts (new, seen before, deleted) of the crash warehouse: {_per_run(counts)}")
    print(f"lost {lost}, doubled {doubled}, leftover files {leftovers or 0}, run counts changed {changed or 0}, "
          f"tables differing from the reference {differs or 0}, snapshot differing from the warehouse {stale or 0}")
    print(f"load average after: {_load_average()}")
    print(f"kills={len(killed)} landed_after_commit={after_commit} lost={lost} doubled={doubled} "
          f"leftover_files={len(leftovers)} run_counts_changed={len(changed)} warehouse_differs={int(bool(differs))}")
    return int(lost > 0) + int(doubled > 0) + len(leftovers) + len(changed) + len(differs) + len(stale)


def _per_run(counts: list[tuple[Any, ...]]) -> str:
    totals: dict[str, list[int]] = {}
    for run_id, _, new, seen_before, deleted in counts:
        summed = totals.setdefault(run_id, [0, 0, 0])
        for position, value in enumerate((new, seen_before, deleted)):
            summed[position] += value
    return "; ".join(f"{run_id} {new:,}, {seen:,}, {deleted:,}" for run_id, (new, seen, deleted) in sorted(totals.items()))


def _load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


if __name__ == "__main__":
    main()
