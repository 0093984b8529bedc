"""The lead's live board: per queue, the backlog, its oldest item, today's service level and breaches, who
is online with how many open items; escalations and spikes as they happen; this week's staffing
forecast against the roster.

Backlog, oldest item and the agents' open items count the queued desk actions (replayed on top of
the snapshot); today's service level and breaches are the `service_levels` view of the snapshot (the
formula analysts read), for items opened today (UTC day, as the view counts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb

from care.staffing import daily_staffing, queue_staffing, staffing_plan
from config.playbook import Playbook
from desk.actions import ItemState
from desk.inbox import ITEMS_WITH_OVERLAY, overlay_parameters

SPIKES_SHOWN_FOR = timedelta(hours=24)


@dataclass(frozen=True)
class AgentLoad:
    """An agent of a queue: online or not, and the items they hold or were given that are still open."""

    name: str
    online: bool
    open_items: int


@dataclass(frozen=True)
class QueueBoard:
    """One queue on the board."""

    queue: str
    backlog: int
    oldest_opened_at: datetime | None
    items_today: int
    within_sla_today: int
    breaches_today: int
    agents: list[AgentLoad]
    agents_needed_today: int | None
    """The staffing forecast's peak agents for today (None: no forecast)."""

    @property
    def share_within_sla_today(self) -> float | None:
        """Share of today's items answered within their SLA (None: no items today)."""
        return self.within_sla_today / self.items_today if self.items_today else None


@dataclass(frozen=True)
class Escalation:
    """An escalated item still waiting for a person."""

    mention_key: str
    queue: str
    category: str
    brand: str
    priority: float
    status: str
    assignee: str | None
    due_at: datetime
    text: str


@dataclass(frozen=True)
class SpikeSeen:
    """A volume spike found in the last 24 hours."""

    brand: str
    category: str
    hour_start: datetime
    mentions: int
    baseline: float


@dataclass(frozen=True)
class StaffingCell:
    """Agents the forecast needs at a queue's busiest hour of a day, against its roster."""

    queue: str
    day: date
    peak_agents: int
    on_roster: int


@dataclass(frozen=True)
class Board:
    """The whole board."""

    queues: list[QueueBoard]
    escalations: list[Escalation]
    spikes: list[SpikeSeen]
    staffing: list[StaffingCell]


def week_staffing(cursor: duckdb.DuckDBPyConnection, playbook: Playbook, today: date, timezone: str) -> list[StaffingCell]:
    """This week's staffing forecast (from Monday), each queue and day against the queue's roster.

    Args:
        cursor: a cursor on the committed snapshot.
        playbook: the playbook (queues, handle times, service-level targets, rosters).
        today: today in `timezone`.
        timezone: the config's timezone.
    """
    monday = today - timedelta(days=today.weekday())
    plan = staffing_plan(cursor, monday, queues=queue_staffing(playbook), timezone=timezone)
    roster = {queue.name: len(queue.agents) for queue in playbook.queues}
    return [StaffingCell(day.queue, day.day, day.peak_agents, roster.get(day.queue, 0)) for day in daily_staffing(plan)]


def lead_board(
    cursor: duckdb.DuckDBPyConnection,
    overlay: dict[str, ItemState],
    playbook: Playbook,
    online: set[str],
    now: datetime,
    staffing: list[StaffingCell],
    timezone: str,
) -> Board:
    """The board as it stands now.

    Args:
        cursor: a cursor on the committed snapshot.
        overlay: items as queued actions leave them.
        playbook: the playbook.
        online: who was seen on the desk in the last minutes.
        now: now.
        staffing: this week's forecast (`week_staffing`).
        timezone: the zone whose today the staffing column shows.
    """
    parameters = overlay_parameters(overlay)
    backlog = {
        queue: (count, oldest)
        for queue, count, oldest in cursor.execute(
            f"{ITEMS_WITH_OVERLAY} SELECT queue, count(*), min(opened_at) FROM items "
            "WHERE status IN ('open', 'claimed') GROUP BY queue",
            parameters,
        ).fetchall()
    }
    held = dict(cursor.execute(
        f"{ITEMS_WITH_OVERLAY} SELECT assignee, count(*) FROM items "
        "WHERE status IN ('open', 'claimed') AND assignee IS NOT NULL GROUP BY assignee",
        parameters,
    ).fetchall())
    today = {
        queue: (items, within, breaches)
        for queue, items, within, breaches in cursor.execute(
            "SELECT queue, sum(items), sum(within_sla), sum(breaches) FROM service_levels "
            "WHERE day = CAST(timezone('UTC', ?::TIMESTAMPTZ) AS DATE) GROUP BY queue",
            [now],
        ).fetchall()
    }
    local_today = now.astimezone(ZoneInfo(timezone)).date()
    needed = {cell.queue: cell.peak_agents for cell in staffing if cell.day == local_today}
    queues = []
    for queue in playbook.queues:
        count, oldest = backlog.get(queue.name, (0, None))
        items, within, breaches = today.get(queue.name, (0, 0, 0))
        queues.append(QueueBoard(
            queue=queue.name, backlog=count, oldest_opened_at=oldest, items_today=int(items or 0),
            within_sla_today=int(within or 0), breaches_today=int(breaches or 0),
            agents=[AgentLoad(agent.name, agent.name in online, held.get(agent.name, 0)) for agent in queue.agents],
            agents_needed_today=needed.get(queue.name),
        ))
    escalated = [key for (key,) in cursor.execute(
        f"{ITEMS_WITH_OVERLAY} SELECT mention_key FROM items WHERE escalated AND status IN ('open', 'claimed') "
        "ORDER BY due_at, mention_key LIMIT 20",
        parameters,
    ).fetchall()]
    escalations = [Escalation(*row) for row in cursor.execute(
        f"""{ITEMS_WITH_OVERLAY}
        SELECT i.mention_key, i.queue, i.category, i.brand, i.priority, i.status, i.assignee, i.due_at, m.text
        FROM (SELECT * FROM items WHERE mention_key IN (SELECT unnest($keys::VARCHAR[]))) AS i
        JOIN (SELECT * FROM mentions WHERE mention_key IN (SELECT unnest($keys::VARCHAR[]))) AS m USING (mention_key)
        ORDER BY i.due_at, i.mention_key""",
        {**parameters, "keys": escalated},
    ).fetchall()]
    spikes = [SpikeSeen(*row) for row in cursor.execute(
        "SELECT brand, category, hour_start, mentions, baseline FROM spikes WHERE detected_at >= ? "
        "ORDER BY hour_start DESC LIMIT 10",
        [now - SPIKES_SHOWN_FOR],
    ).fetchall()]
    return Board(queues=queues, escalations=escalations, spikes=spikes, staffing=staffing)
