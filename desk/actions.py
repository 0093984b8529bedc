"""Desk actions: queued in the desk state at once, applied to the warehouse by one writer, seen at once.

An action (claim, note, respond, close, reopen, reassign, keeping a helpdesk ticket, and correcting the
sentiment of a brand the item's mention names: `care.sentiment_corrections`) is checked and queued in one SQLite write
transaction: the rules are `care.desk.TriageDesk`'s (the CLI desk's), run on the item as committed
with every action still queued for it replayed on top. Queuing is serialised, so two agents claiming
one item are checked one after the other and the second is refused, naming the holder.

`DeskWriter`, a thread of the desk server, applies queued actions in order with the same
`TriageDesk` on the warehouse file, at the time each person acted, then publishes the snapshot; in the
same write it copies the sign-ins kept in the desk state to the warehouse's audit trail. When
a pipeline task holds DuckDB's write lock the writer waits and tries again; nothing is lost and
nobody waits in the browser. Until the snapshot in use has an action, reads replay it on top
(`ActionQueue.overlay`), so its author, and everyone else, sees it at once.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from care.audit_trail import record_action, record_sign_ins
from care.desk import TriageDesk, TriageError
from care.helpdesk import CLOSING_STATUSES, Ticket, TicketUpdate, apply_ticket_updates, record_ticket
from care.sentiment_corrections import check_correction, correct_sentiment
from config.playbook import Playbook
from core.transactions import transaction
from desk.accounts import mark_audited, sign_ins_to_audit
from desk.committed_state import CommittedState, CommittedView
from desk.state import DeskState, read_time, stored_time
from warehouse.connection import WarehouseLocked, open_warehouse
from warehouse.snapshot import publish_snapshot

log = logging.getLogger(__name__)

# Each desk action and the action its `TriageDesk` method records in the audit trail.
AUDIT_ACTIONS = {
    "claim": "claimed", "note": "note", "respond": "responded", "close": "closed", "reopen": "reopened",
    "reassign": "reassigned", "hand_off": "handed_off",
    "correct_sentiment": "sentiment_corrected", "reply_checked": "reply_checked", "ticket_update": "closed",
}
HELPDESK_ACTIONS = frozenset({"ticket_update"})
"""Actions a helpdesk takes (its callback), not a person on the roster: their actor is the helpdesk's name."""


@dataclass(frozen=True)
class DeskAction:
    """One action someone took on the desk.

    Attributes:
        mention_key: the item.
        action: claim, note, respond, close, reopen, reassign, hand_off, reply_checked, correct_sentiment, or
            ticket_update (a helpdesk's callback: its actor is the helpdesk).
        actor: who.
        at: when they acted (the audit trail keeps this time, not when the warehouse got it).
        params: the action's arguments: text (note), url (respond), reason (close, reopen), to and queue
            (reassign), helpdesk, ticket_id, url and status (hand_off: the ticket the helpdesk opened),
            reply, outcome (posted, not_posted), url and text (reply_checked: a lead settled an Uncertain reply),
            helpdesk and status (ticket_update: a solved or closed ticket closes the item).
        action_id: its place in the queue (None before it is queued).
        state: pending, applied or failed.
        error: why it failed.
    """

    mention_key: str
    action: str
    actor: str
    at: datetime
    params: dict[str, Any] = field(default_factory=dict)
    action_id: int | None = None
    state: str = "pending"
    error: str | None = None


@dataclass(frozen=True)
class ItemState:
    """Where an item stands once the queued actions are replayed on it."""

    status: str
    assignee: str | None
    queue: str
    first_response_at: datetime | None


def perform(desk: TriageDesk, action: DeskAction) -> None:
    """Carry out one desk action with the shared triage rules.

    Args:
        desk: a `TriageDesk` acting as `action.actor`.
        action: the action.

    Raises:
        TriageError: the rules refuse it (the message says why).
    """
    key, params, at = action.mention_key, action.params, action.at
    if action.action == "claim":
        desk.claim(key, at)
    elif action.action == "note":
        desk.note(key, str(params.get("text", "")), at)
    elif action.action == "respond":
        desk.respond(key, str(params["url"]), at)
    elif action.action == "close":
        desk.close(key, str(params.get("reason", "")), at)
    elif action.action == "reopen":
        desk.reopen(key, str(params.get("reason", "")), at)
    elif action.action == "reassign":
        desk.reassign(key, str(params["to"]), params.get("queue"), at)
    elif action.action == "hand_off":
        ticket = Ticket(str(params["ticket_id"]), params.get("url"), str(params["status"]))
        record_ticket(desk.connection, str(params["helpdesk"]), key, ticket, action.actor, at)
    elif action.action == "correct_sentiment":
        correct_sentiment(desk.connection, key, str(params["label"]), action.actor, desk.playbook, at, via="desk",
                          brand=params.get("brand"))
    elif action.action == "ticket_update":
        helpdesk = str(params["helpdesk"])
        apply_ticket_updates(desk.connection, helpdesk, [TicketUpdate(key, str(params["status"]))], at)
    elif action.action == "reply_checked":
        if desk.connection.execute("SELECT 1 FROM triage_items WHERE mention_key = ?", [key]).fetchone() is None:
            raise TriageError(f"no triage item {key!r}")
        with transaction(desk.connection):
            record_action(desk.connection, key, "reply_checked", action.actor, at, params)
    else:
        raise TriageError(f"unknown desk action {action.action!r}; actions: {', '.join(AUDIT_ACTIONS)}")


class ActionQueue:
    """Queue desk actions after checking them, and show items with the queued ones replayed on top.

    Args:
        state: the desk state.
        committed: the warehouse as last committed.
        playbook: the playbook (names, queues and calendars the rules check against).
    """

    def __init__(self, state: DeskState, committed: CommittedState, playbook: Playbook):
        self.state = state
        self.committed = committed
        self.playbook = playbook

    def submit(self, action: DeskAction) -> int:
        """Check an action against the item as it stands for everyone, and queue it.

        Returns:
            The action's id in the queue.

        Raises:
            TriageError: the rules refuse it (already claimed by someone else, closed, unknown name, ...).
        """
        with self.state.write() as connection:
            view = self.committed.view()
            try:
                earlier = self._unapplied(connection, view.published_at, [action.mention_key])
                self._replay(view.cursor, [*earlier, action], strict=action)
            finally:
                view.cursor.close()
            cursor = connection.execute(
                "INSERT INTO desk_actions (mention_key, action, actor, at, params) VALUES (?, ?, ?, ?, ?)",
                [action.mention_key, action.action, action.actor, stored_time(action.at), json.dumps(action.params)],
            )
            return int(cursor.lastrowid or 0)

    def unapplied(self, view: CommittedView, mention_keys: Sequence[str] | None = None) -> list[DeskAction]:
        """Actions that the snapshot behind `view` does not have yet (queued, or applied after it), oldest first.

        Args:
            view: the committed view being read.
            mention_keys: only these items (None: every item).
        """
        with self.state.connect() as connection:
            return self._unapplied(connection, view.published_at, mention_keys)

    def overlay(self, view: CommittedView, mention_keys: Sequence[str] | None = None) -> dict[str, ItemState]:
        """The items that unapplied actions change, as they stand once those actions are replayed.

        Args:
            view: the committed view being read (its cursor is used and left open).
            mention_keys: only these items (None: every item with an unapplied action).
        """
        return self.replay(view, self.unapplied(view, mention_keys))

    def replay(self, view: CommittedView, actions: list[DeskAction]) -> dict[str, ItemState]:
        """The items these actions change, as they stand once the actions are replayed on the snapshot's.

        Args:
            view: the committed view being read (its cursor is used and left open).
            actions: unapplied actions (`unapplied`), oldest first.
        """
        return self._replay(view.cursor, actions)

    def failures(self, actor: str, since: datetime) -> list[DeskAction]:
        """Someone's actions that the warehouse refused since then (state changed meanwhile, e.g. by the CLI)."""
        with self.state.connect() as connection:
            rows = connection.execute(
                f"SELECT {_COLUMNS} FROM desk_actions WHERE actor = ? AND state = 'failed' AND at >= ? ORDER BY action_id",
                [actor, stored_time(since)],
            ).fetchall()
        return [_action(row) for row in rows]

    def pending_count(self) -> int:
        """How many actions wait for the warehouse."""
        with self.state.connect() as connection:
            (count,) = connection.execute("SELECT count(*) FROM desk_actions WHERE state = 'pending'").fetchone()
        return int(count)

    def _unapplied(
        self, connection: sqlite3.Connection, published_at: datetime, mention_keys: Sequence[str] | None
    ) -> list[DeskAction]:
        query = (
            f"SELECT {_COLUMNS} FROM desk_actions WHERE (state = 'pending' OR (state = 'applied' AND applied_at > ?))"
        )
        parameters: list[Any] = [stored_time(published_at)]
        if mention_keys is not None:
            query += f" AND mention_key IN ({','.join('?' * len(mention_keys))})"
            parameters += list(mention_keys)
        rows = connection.execute(query + " ORDER BY action_id", parameters).fetchall()
        return [_action(row) for row in rows]

    def _replay(
        self, cursor: duckdb.DuckDBPyConnection, actions: list[DeskAction], strict: DeskAction | None = None
    ) -> dict[str, ItemState]:
        """Replay actions with `TriageDesk` on copies of their items (temporary tables of this cursor).

        An action the rules refuse is skipped (it will fail in the warehouse too, and its author is told
        then), except `strict`, whose refusal is raised.
        """
        keys = sorted({action.mention_key for action in actions})
        if not keys:
            return {}
        cursor.execute(
            "CREATE OR REPLACE TEMP TABLE triage_items AS "
            "SELECT * FROM warehouse.triage_items WHERE mention_key IN (SELECT unnest(?::VARCHAR[]))",
            [keys],
        )
        cursor.execute("CREATE OR REPLACE TEMP TABLE triage_actions AS SELECT * FROM warehouse.triage_actions LIMIT 0")
        try:
            for action in actions:
                if action.action == "correct_sentiment":  # the item's status does not change
                    if action is strict:
                        check_correction(cursor, action.mention_key, str(action.params["label"]), action.actor,
                                         self.playbook, action.params.get("brand"))
                    continue
                if action.action in ("hand_off", "reply_checked"):  # the item's status does not change
                    continue
                if action.action == "ticket_update":  # the helpdesk's solved ticket closes the item
                    if action.params["status"] in CLOSING_STATUSES:
                        with suppress(TriageError):  # closed already
                            TriageDesk(cursor, action.actor).close(
                                action.mention_key, f"{action.actor} ticket {action.params['status']}", action.at)
                    continue
                try:
                    perform(TriageDesk(cursor, action.actor, self.playbook), action)
                except TriageError:
                    if action is strict:
                        raise
            rows = cursor.execute(
                "SELECT mention_key, status, assignee, queue, first_response_at FROM temp.triage_items"
            ).fetchall()
        finally:
            cursor.execute("DROP TABLE IF EXISTS temp.triage_items")
            cursor.execute("DROP TABLE IF EXISTS temp.triage_actions")
        return {key: ItemState(status, assignee, queue, first) for key, status, assignee, queue, first in rows}


class DeskWriter:
    """The one writer of desk actions (and sign-ins) to the warehouse: a thread that applies queued actions in order.

    Args:
        state: the desk state.
        warehouse_path: the pipeline's DuckDB file.
        playbook: the playbook.
        poll_seconds: how often it looks for queued actions (and retries while the write lock is taken).
        clock: now (tests move it).
    """

    def __init__(
        self,
        state: DeskState,
        warehouse_path: str | Path,
        playbook: Playbook,
        poll_seconds: float = 0.25,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.state = state
        self.warehouse_path = Path(warehouse_path)
        self.playbook = playbook
        self.poll_seconds = poll_seconds
        self.clock = clock
        self.waiting_since: datetime | None = None
        """Since when the writer has been waiting for another process's write lock (None: not waiting)."""
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start applying queued actions in the background."""
        self._thread = threading.Thread(target=self._run, name="desk-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Apply what is queued if the lock is free, then stop."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()

    def wake(self) -> None:
        """Look for queued actions now (called after an action is queued)."""
        self._wake.set()

    def apply_queued(self) -> int:
        """Apply every queued action to the warehouse and publish its snapshot, and copy the sign-ins not yet
        in its audit trail there, if the write lock is free.

        Returns:
            How many actions were applied or refused and sign-ins copied; 0 when none was waiting or the
            lock is taken.
        """
        with self.state.connect() as connection:
            rows = connection.execute(f"SELECT {_COLUMNS} FROM desk_actions WHERE state = 'pending' ORDER BY action_id")
            queued = [_action(row) for row in rows]
        sign_ins = sign_ins_to_audit(self.state)
        if not queued and not sign_ins:
            return 0
        try:
            warehouse = open_warehouse(self.warehouse_path, lock_wait_seconds=0)
        except WarehouseLocked:
            self.waiting_since = self.waiting_since or self.clock()
            return 0
        self.waiting_since = None
        outcomes: list[tuple[str, str | None, int]] = []
        try:
            for action in queued:
                outcomes.append((*self._apply(warehouse, action), action.action_id or 0))
            record_sign_ins(warehouse, [sign_in for _, sign_in in sign_ins])
            committed_at = self.clock()
            if queued:  # sign-ins alone change nothing the desk reads: the next publish carries them
                publish_snapshot(warehouse, self.warehouse_path, "desk")
        finally:
            warehouse.close()
        if outcomes:
            with self.state.write() as connection:
                connection.executemany(
                    "UPDATE desk_actions SET state = ?, error = ?, applied_at = ? WHERE action_id = ?",
                    [(state, error, stored_time(committed_at), action_id) for state, error, action_id in outcomes],
                )
        if sign_ins:
            mark_audited(self.state, [attempt_id for attempt_id, _ in sign_ins], committed_at)
        return len(outcomes) + len(sign_ins)

    def _apply(self, warehouse: duckdb.DuckDBPyConnection, action: DeskAction) -> tuple[str, str | None]:
        # Applied before (the writer stopped between the warehouse's commit and the desk state's)?
        already = warehouse.execute(
            "SELECT count(*) FROM triage_actions WHERE mention_key = ? AND action = ? AND actor = ? AND acted_at = ?",
            [action.mention_key, AUDIT_ACTIONS.get(action.action), action.actor, action.at],
        ).fetchone()
        if already and already[0]:
            return "applied", None
        try:
            perform(TriageDesk(warehouse, action.actor, None if action.action in HELPDESK_ACTIONS else self.playbook),
                    action)
        except TriageError as error:
            log.info("desk action %s on %s by %s refused: %s", action.action, action.mention_key, action.actor, error)
            return "failed", str(error)
        return "applied", None

    def _run(self) -> None:
        while True:
            try:
                self.apply_queued()
            except Exception:  # the writer must outlive one bad round; the next one retries
                log.exception("applying desk actions failed; retrying")
            if self._stop.is_set():
                return
            self._wake.wait(self.poll_seconds)
            self._wake.clear()


_COLUMNS = "action_id, mention_key, action, actor, at, params, state, error"


def _action(row: tuple[Any, ...]) -> DeskAction:
    action_id, key, action, actor, at, params, state, error = row
    return DeskAction(key, action, actor, read_time(at), json.loads(params), action_id, state, error)
