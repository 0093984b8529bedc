"""The demo's month as a care team lived it: collection cycles at regular times, and agents at the desk.

Before `make demo` runs its Airflow cycle at 2 November 12:00 UTC, it replays the five weeks before, a
cycle every `CYCLE` from the opening of 2026-W40 to the hour before that run. Each cycle runs the
pipeline's own stage functions in-process, as the social_listening DAG's tasks call them
(dags/social_listening.py): `collect_unit` and `stage_unit` per unit, `enrich_unit`, `load_run`,
then stories, themes and the care step (`CareStep`, alerts through the configured channels), with the
cycle's window as the run's data interval and the fake X's clock at the cycle's end, so that X's
7-day reach covers each window. Between cycles, simulated people on the playbook's roster work the
items through the care desk's own rules (`care.desk.TriageDesk`, every action in the audit trail):
the item's assignee, or the lead for a queue without agents, claims it, answers it and closes it, at
seeded delays counted in the queue's business hours, some past the service level; praise is often
closed with nothing to answer. The answers are recorded as given in the mention's thread (its URL):
no platform is called, since the demo's reply path needs the desk server.

The replay collects the sources whose platforms answer for the replayed moment (`REPLAYED_KINDS`: the
fake APIs search a time window, X's and Reddit's clocks and rate windows follow the replay). The feeds
and blogs are static files the corpus server serves as of today (the whole month's items at once), and
the fake Jetstream and YouTube keep the demo's own "now": the replay leaves them to the final Airflow
cycle, whose first run of each reaches back `backfill_days` (Jetstream: as far as it keeps events), as a
new source's would.

Each cycle's run id names its window's end (`demo-month__2026-10-01T11:00Z`); a cycle already in the
warehouse's `runs` is not run again and the delays are seeded per item, so a second `make demo`
adds nothing.
"""

from __future__ import annotations

import heapq
import json
import math
import os
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb

from care.alerts import configured_notifiers, deliver_pending
from care.audit_trail import SYSTEM_ACTOR
from care.desk import TriageDesk
from care.triage import CareStep
from collectors.units import CollectionUnit, collect_unit, connections_of, plan_units, stage_unit
from config import Config
from config.playbook import Playbook
from core.staging import StagingArea
from transport.http import HttpClient
from enrich.pipeline import Enricher, enrich_unit
from enrich.stories.duckdb_store import assign_warehouse_stories
from warehouse.connection import open_warehouse
from warehouse.cursors import read_cursors
from warehouse.load import load_run
from warehouse.snapshot import publish_snapshot
from warehouse.themes import refresh_themes, run_weeks

# The first cycle's window starts on Sunday 27 September, 20:00 in Europe/London (BST), and each ends at 08:00
# or 20:00 (07:00 or 19:00 UTC; an hour earlier by the clock after the clocks go back on 25 October).
MONTH_START = datetime(2026, 9, 27, 19, tzinfo=UTC)
CYCLE = timedelta(hours=12)
RUN_ID_PREFIX = "demo-month__"
REPLAYED_KINDS = frozenset({"x", "reddit", "hackernews", "mastodon", "google_news", "bluesky", "app_reviews"})
SEED = 2026
# How busy each week was: the median first response as a share of the item's service level (the
# price rise of 2026-W42 brought a backlog; the team caught up after). Weeks not listed: the last one's.
WEEK_LOAD = {40: 0.45, 41: 0.5, 42: 0.95, 43: 0.7, 44: 0.5}
PRAISE_LEFT_UNANSWERED = 0.4  # share of praise closed with a like, no answer


@dataclass(frozen=True, order=True)
class DeskStep:
    """One thing a person does to an item at a time."""

    at: datetime
    mention_key: str
    order: int  # claim before respond before close, for one item
    action: str = field(compare=False)
    actor: str = field(compare=False)
    argument: str = field(compare=False, default="")


@dataclass
class ReplayOutcome:
    """What the replay did: cycles run (and skipped, already in the warehouse), desk actions applied."""

    cycles: int = 0
    skipped: int = 0
    desk_actions: int = 0
    mentions_new: int = 0


def cycle_ends(start: datetime, until: datetime, every: timedelta = CYCLE) -> list[datetime]:
    """The ends of the cycles' windows: `start + every`, ... up to `until`, which is always the last."""
    count = math.ceil((until - start) / every)
    return [min(start + every * number, until) for number in range(1, count + 1)]


def run_id_of(window_end: datetime) -> str:
    """The replay cycle's run id, which names its window's end."""
    return f"{RUN_ID_PREFIX}{window_end.astimezone(UTC):%Y-%m-%dT%H:%M}Z"


def replay_month(config: Config, set_platform_clock: Callable[[datetime], None], until: datetime,
                 start: datetime = MONTH_START, every: timedelta = CYCLE) -> ReplayOutcome:
    """Run the month's cycles and the desk's work between them, up to `until`.

    Args:
        config: the demo's config (with a playbook).
        set_platform_clock: moves the platforms' "now" (the fake X's clock, Reddit's rate window) to a moment.
        until: the last cycle's end (the final Airflow cycle's window start).
        start: the first cycle's window start.
        every: the cycles' period.

    Returns:
        What was done.
    """
    if config.playbook is None:
        raise ValueError("the demo's replay needs the config's playbook: its people work the items")
    playbook = config.playbook
    ends = cycle_ends(start, until, every)
    outcome = ReplayOutcome()
    with open_warehouse(config.warehouse.path, config.warehouse.memory_limit) as connection:
        done = {run_id for (run_id,) in connection.execute(
            "SELECT DISTINCT run_id FROM runs WHERE starts_with(run_id, ?)", [RUN_ID_PREFIX]).fetchall()}
    units = [unit for unit in plan_units(config) if unit.kind in REPLAYED_KINDS]
    credentials = {unit.id: _demo_credentials(connections_of(config, unit)) for unit in units}
    enrichment = _Enrichment(config)
    pending: list[DeskStep] = []
    planned: set[str] = set()
    for window_start, window_end, next_end in zip([start, *ends[:-1]], ends, [*ends[1:], until], strict=True):
        run_id = run_id_of(window_end)
        if run_id in done:
            outcome.skipped += 1
            continue
        set_platform_clock(window_end + timedelta(minutes=5))
        outcome.mentions_new += _collect_and_load(config, run_id, (window_start, window_end), units, credentials,
                                                  enrichment)
        outcome.cycles += 1
        with open_warehouse(config.warehouse.path, config.warehouse.memory_limit) as connection:
            _care(connection, config, run_id, window_end)
            for step in _plan_new_items(connection, playbook, planned):
                heapq.heappush(pending, step)
            # What the team does before the next cycle.
            outcome.desk_actions += _work_the_desk(connection, playbook, pending, next_end)
    if outcome.cycles:
        with open_warehouse(config.warehouse.path, config.warehouse.memory_limit) as connection:
            # Each week's themes once, from all its mentions: what the themes task of the week's last cycle finds.
            weeks = {week.label: week for end in ends for week in run_weeks(connection, run_id_of(end), config.timezone)}
            refresh_themes(connection, list(weeks.values()))
            publish_snapshot(connection, config.warehouse.path)
    return outcome


class _Enrichment:
    """Builds each cycle's enricher (its counts are the cycle's own) around one sentiment model and one
    language identifier, loaded by the first cycle that collects a mention.

    The model scores a few mentions a cycle, on one thread: torch's threads contending with the demo's
    servers in this process made each small batch about ten times slower (6 texts: 0.03 s on one thread,
    0.2 to 0.6 s on two, at a load average of 8)."""

    def __init__(self, config: Config):
        self.config = config
        self.first: Enricher | None = None

    def enricher(self) -> Enricher:
        """A new enricher, sharing the first one's models."""
        if self.first is None:
            import torch

            torch.set_num_threads(1)
            self.first = Enricher(self.config)
            return self.first
        enricher = Enricher(self.config, sentiment=self.first.sentiment)
        enricher.language = self.first.language
        return enricher


def _collect_and_load(config: Config, run_id: str, window: tuple[datetime, datetime], units: list[CollectionUnit],
                      credentials: Mapping[str, dict[str, dict[str, Any]]], enrichment: _Enrichment) -> int:
    """A cycle's collect, enrich and load tasks, in turn; returns the mentions it loaded that were new.

    The platforms are fakes on loopback, and the replay runs a month of cycles in a minute: the client
    waits no politeness delay between requests (retries and their waits are as configured)."""
    client = HttpClient(config.http.model_copy(update={"politeness_delay_seconds": 0.0}))
    staging = StagingArea(config.staging, run_id)
    cursors = read_cursors(config.warehouse.path)
    collected = []
    for unit in units:
        runs = collect_unit(config, unit, cursors, window, credentials[unit.id], client)
        collected.append((stage_unit(staging, unit, runs), sum(len(run.mentions) for run in runs)))
    enricher = enrichment.enricher() if any(count for _, count in collected) else None
    enriched = [enrich_unit(config, url, staging, enricher) for url, _ in collected]
    return load_run(config.warehouse.path, run_id, window, enriched, (), config.warehouse.memory_limit).mentions_new


def _care(connection: duckdb.DuckDBPyConnection, config: Config, run_id: str, now: datetime) -> None:
    """A cycle's stories and care tasks (themes: once a week's mentions are all in, `replay_month`)."""
    assign_warehouse_stories(connection)
    if config.playbook is not None:
        CareStep(connection, config, run_id, now).run()
        notifiers = configured_notifiers(config.playbook.alerts)
        if notifiers:
            deliver_pending(connection, notifiers, now)


def _demo_credentials(connection_ids: set[str]) -> dict[str, dict[str, Any]]:
    """The demo's connections (its AIRFLOW_CONN_* variables, JSON) in the shape collectors take."""
    found = {}
    for connection_id in connection_ids:
        value = os.environ.get(f"AIRFLOW_CONN_{connection_id.upper()}")
        if value:
            connection = json.loads(value)
            found[connection_id] = {"login": connection.get("login"), "password": connection.get("password"),
                                    "host": connection.get("host"), "extra": connection.get("extra", {})}
    return found


def _plan_new_items(connection: duckdb.DuckDBPyConnection, playbook: Playbook, planned: set[str]) -> list[DeskStep]:
    """The desk's work on items no person has touched yet: who does what, when (seeded per item)."""
    rows = connection.execute(
        """
        SELECT t.mention_key, t.queue, t.category, t.escalated, t.assignee, t.opened_at, t.sla_minutes, m.url
        FROM triage_items AS t JOIN mentions AS m USING (mention_key)
        WHERE t.status = 'open' AND NOT EXISTS (
            SELECT 1 FROM triage_actions AS a WHERE a.mention_key = t.mention_key AND a.actor <> ?)
        ORDER BY t.opened_at, t.mention_key
        """,
        [SYSTEM_ACTOR],
    ).fetchall()
    steps = []
    for key, queue, category, escalated, assignee, opened_at, sla_minutes, url in rows:
        if key in planned:
            continue
        planned.add(key)
        steps += handling(playbook, key, queue, category, escalated, assignee, opened_at, sla_minutes, url)
    return steps


def handling(playbook: Playbook, mention_key: str, queue: str, category: str, escalated: bool, assignee: str | None,
             opened_at: datetime, sla_minutes: int, url: str | None) -> list[DeskStep]:
    """How the team handles one item: its assignee (the lead, for a queue without agents or an escalated
    item) claims it, answers in the mention's thread and closes it; praise is often closed unanswered.
    Delays are business minutes on the queue's calendar, drawn from a generator seeded by the item.

    Returns:
        The steps, in time order.
    """
    draw = random.Random(f"{SEED}:{mention_key}")
    calendar = playbook.business_calendar(queue)
    actor = assignee if assignee and not escalated else playbook.leads[0]
    week = opened_at.astimezone(UTC).isocalendar().week
    median = WEEK_LOAD.get(week, WEEK_LOAD[max(WEEK_LOAD)]) * sla_minutes
    respond_after = max(1.0, median * draw.lognormvariate(0, 0.7))
    claimed_at = calendar.due_at(opened_at, max(0.5, respond_after * draw.uniform(0.1, 0.5)))
    steps = [DeskStep(claimed_at, mention_key, 0, "claim", actor)]
    if category == "praise" and draw.random() < PRAISE_LEFT_UNANSWERED:
        return [*steps, DeskStep(calendar.due_at(claimed_at, draw.uniform(1, 10)), mention_key, 2, "close", actor,
                                 "liked; nothing to answer")]
    responded_at = calendar.due_at(opened_at, respond_after)
    closed_at = calendar.due_at(responded_at, draw.uniform(15, 240))
    reason = "answered in public" if category in ("praise", "purchase-intent", "competitor-complaint") \
        else "resolved by DM"
    return [*steps, DeskStep(responded_at, mention_key, 1, "respond", actor, url or mention_key),
            DeskStep(closed_at, mention_key, 2, "close", actor, reason)]


def _work_the_desk(connection: duckdb.DuckDBPyConnection, playbook: Playbook, pending: list[DeskStep],
                   until: datetime) -> int:
    """Apply the pending steps due by `until`, oldest first, through the desk; returns how many."""
    applied = 0
    while pending and pending[0].at <= until:
        step = heapq.heappop(pending)
        desk = TriageDesk(connection, step.actor, playbook)
        if step.action == "claim":
            desk.claim(step.mention_key, at=step.at)
        elif step.action == "respond":
            desk.respond(step.mention_key, step.argument, at=step.at)
        else:
            desk.close(step.mention_key, step.argument, at=step.at)
        applied += 1
    return applied
