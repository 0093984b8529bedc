"""The triage desk: what agents and leads do with triage items, each action kept in the audit trail.

Every action updates the item in `triage_items` and appends a row to `triage_actions` (who, when,
what) in one transaction. Nothing is deleted: closing and reopening are actions too. With a playbook,
names are checked against it: only people on its roster (`leads` and each queue's `agents`) act or
are given items, and a queue must be one of its queues; a wrong name is an error listing the right ones.

    desk = TriageDesk(connection, actor="ana")
    desk.queue("care")                          # open items, escalated first, then priority, then due time
    desk.claim("x:2117")                        # ana takes it
    desk.respond("x:2117", "https://x.com/brightwavehelp/status/2118")
    desk.close("x:2117", "resolved by DM")
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from care.audit_trail import record_action
from config.playbook import Playbook
from core.business_calendar import ALWAYS_OPEN, BusinessCalendar
from core.transactions import transaction

STATUSES = ("open", "claimed", "responded", "closed")


class TriageError(ValueError):
    """An action that cannot be done (unknown item, queue or person, wrong status); the message says why."""


@dataclass(frozen=True)
class QueueEntry:
    """One line of a queue listing."""

    mention_key: str
    queue: str
    category: str
    brand: str
    priority: float
    escalated: bool
    status: str
    assignee: str | None
    due_at: datetime
    url: str | None
    author: str | None
    text: str


class TriageDesk:
    """Triage actions on the warehouse, by one person.

    Args:
        connection: the warehouse, open for writing (read-only is enough for `queue` and `history`),
            outside a transaction.
        actor: who acts (an agent's or lead's name), recorded with every action; None for a desk that
            only reads (`queue`, `history`).
        playbook: the playbook: its roster and queues (names are checked against them) and the queues'
            business calendars (first-response time is counted on them); without it no name is checked
            and the clock is always open.
        clock: the time of an action when none is given (default: now, UTC).

    Raises:
        TriageError: the actor is blank, or not on the playbook's roster.
    """

    def __init__(
        self,
        connection: duckdb.DuckDBPyConnection,
        actor: str | None,
        playbook: Playbook | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.connection = connection
        self.actor = actor
        self.playbook = playbook
        self.clock = clock
        if actor is not None:
            if not actor.strip():
                raise TriageError("say who is acting: an agent's or lead's name")
            self._check_on_roster(actor, f"{actor!r} cannot act on triage items")

    def queue(
        self, queue: str | None = None, assignee: str | None = None, include_claimed: bool = True
    ) -> list[QueueEntry]:
        """Open items, escalated first, then by priority, then by due time.

        Args:
            queue: only this queue.
            assignee: only items assigned to this agent ("my queue").
            include_claimed: also items someone has claimed but not yet answered.

        Raises:
            TriageError: the queue is not one of the playbook's, or the assignee is not on its roster.
        """
        if queue is not None:
            self._check_queue(queue)
        if assignee is not None:
            self._check_on_roster(assignee, f"no items can be assigned to {assignee!r}")
        statuses = ["open", "claimed"] if include_claimed else ["open"]
        rows = self.connection.execute(
            """
            SELECT t.mention_key, t.queue, t.category, t.brand, t.priority, t.escalated, t.status, t.assignee,
                   t.due_at, m.url, m.author_handle, m.text
            FROM triage_items AS t JOIN mentions AS m USING (mention_key)
            WHERE t.status IN (SELECT unnest($statuses::VARCHAR[]))
              AND ($queue IS NULL OR t.queue = $queue) AND ($assignee IS NULL OR t.assignee = $assignee)
            ORDER BY t.escalated DESC, t.priority DESC, t.due_at, t.mention_key
            """,
            {"statuses": statuses, "queue": queue, "assignee": assignee},
        ).fetchall()
        return [QueueEntry(*row) for row in rows]

    def claim(self, mention_key: str, at: datetime | None = None) -> None:
        """Take an open item (or one assigned to you)."""
        status, assignee = self._item(mention_key, allowed=("open", "claimed"))
        if status == "claimed" and assignee != self.actor:
            raise TriageError(f"{mention_key} is already claimed by {assignee}; a lead can reassign it")
        self._act(mention_key, "claimed", at, {"from": assignee}, status="claimed", assignee=self.actor)

    def note(self, mention_key: str, text: str, at: datetime | None = None) -> None:
        """Add a note to an item, whatever its status."""
        if not text.strip():
            raise TriageError("a note needs some text")
        self._item(mention_key, allowed=STATUSES)
        self._act(mention_key, "note", at, {"text": text})

    def respond(self, mention_key: str, response_url: str, at: datetime | None = None) -> None:
        """Record a response (its URL and time). The first response stops the service-level clock."""
        self._item(mention_key, allowed=("open", "claimed", "responded"))
        at = at or self.clock()
        [(first_response_at, opened_at, queue, assignee)] = self.connection.execute(
            "SELECT first_response_at, opened_at, queue, assignee FROM triage_items WHERE mention_key = ?", [mention_key]
        ).fetchall()
        first = first_response_at is None
        changes: dict[str, object] = {"status": "responded"}
        if first:
            if at < opened_at:
                raise TriageError(f"the response time {at:%Y-%m-%d %H:%M %Z} is before the item was opened")
            changes.update(
                first_response_at=at, first_response_url=response_url,
                first_response_minutes=round(self._calendar(queue).business_minutes_between(opened_at, at), 2),
            )
        if assignee is None:
            changes["assignee"] = self.actor
        self._act(mention_key, "responded", at, {"url": response_url, "first": first}, **changes)

    def close(self, mention_key: str, reason: str = "", at: datetime | None = None) -> None:
        """Close an item (answered, or nothing to do)."""
        self._item(mention_key, allowed=("open", "claimed", "responded"))
        at = at or self.clock()
        self._act(mention_key, "closed", at, {"reason": reason}, status="closed", closed_at=at)

    def reopen(self, mention_key: str, reason: str = "", at: datetime | None = None) -> None:
        """Reopen a closed item: it is open again (back in the inbox) and keeps its first-response time."""
        self._item(mention_key, allowed=("closed",))
        self._act(mention_key, "reopened", at, {"reason": reason}, status="open", closed_at=None)

    def reassign(self, mention_key: str, to: str, queue: str | None = None, at: datetime | None = None) -> None:
        """Give an item to another agent (and, optionally, another queue)."""
        status, assignee = self._item(mention_key, allowed=("open", "claimed", "responded"))
        self._check_on_roster(to, f"{mention_key} cannot be given to {to!r}")
        if queue is not None:
            self._check_queue(queue)
        changes: dict[str, object] = {"assignee": to}
        if queue is not None:
            changes["queue"] = queue
        if status == "claimed":
            changes["status"] = "open"
        self._act(mention_key, "reassigned", at, {"from": assignee, "to": to, "queue": queue}, **changes)

    def history(self, mention_key: str) -> list[tuple[datetime, str, str, str]]:
        """The item's audit trail: (when, who, action, detail JSON), oldest first.

        Raises:
            TriageError: there is no triage item with this key.
        """
        self._item(mention_key, allowed=STATUSES)
        return self.connection.execute(
            "SELECT acted_at, actor, action, detail FROM triage_actions WHERE mention_key = ? ORDER BY action_id",
            [mention_key],
        ).fetchall()

    def _item(self, mention_key: str, allowed: tuple[str, ...]) -> tuple[str, str | None]:
        row = self.connection.execute(
            "SELECT status, assignee FROM triage_items WHERE mention_key = ?", [mention_key]
        ).fetchone()
        if row is None:
            raise TriageError(f"no triage item {mention_key!r}; list a queue to see the items")
        if row[0] not in allowed:
            raise TriageError(f"{mention_key} is {row[0]}; this action needs it to be {' or '.join(allowed)}")
        return row

    def _check_on_roster(self, name: str, refused: str) -> None:
        if self.playbook is not None and name not in self.playbook.roster:
            on_it = ", ".join(self.playbook.roster) or "nobody yet"
            raise TriageError(
                f"{refused}: not on the playbook's roster (playbook.leads and each queue's agents); on it: {on_it}"
            )

    def _check_queue(self, queue: str) -> None:
        if self.playbook is not None and queue not in {q.name for q in self.playbook.queues}:
            raise TriageError(f"no queue named {queue!r}; queues: {', '.join(q.name for q in self.playbook.queues)}")

    def _act(self, mention_key: str, action: str, at: datetime | None, detail: dict, **changes: object) -> None:
        actor = self.actor
        if actor is None:
            raise TriageError(f"{action}: say who is acting (an agent's or lead's name)")
        at = at or self.clock()
        with transaction(self.connection):
            assignments = ", ".join(f"{column} = ?" for column in [*changes, "updated_at"])
            self.connection.execute(
                f"UPDATE triage_items SET {assignments} WHERE mention_key = ?", [*changes.values(), at, mention_key]
            )
            record_action(self.connection, mention_key, action, actor, at, detail)

    def _calendar(self, queue: str) -> BusinessCalendar:
        if self.playbook is None or queue not in {q.name for q in self.playbook.queues}:
            return ALWAYS_OPEN
        return self.playbook.business_calendar(queue)
