"""Replying from the desk: claimed -> reply -> sent or refused; escalated items wait for a lead's approval.

The desk posts through a `ReplyChannel`, the small interface a platform module plugs into (X, Reddit,
Bluesky, Mastodon: `care/replies/`). Where the channel has no write API for a platform (news, blogs,
Hacker News), the agent answers there themselves and records where (`respond` with the URL).

Only the person holding an item (it is claimed by them, or they answered it and it is still theirs)
replies to it; an item has at most one reply in flight, and a reply form sends one reply (unique
indexes in the desk state): two presses of "send", by one person or two, post once. A reply the platform refuses keeps the
platform's reason and leaves the item claimed and unanswered. A sent reply's URL is recorded as the
item's response through the action queue, like any other desk action.

A reply that may or may not have been posted (a timeout after sending, a 5xx: `Uncertain`) is
`unknown` and blocks a second reply to the item until a lead checks the platform: found there, its
URL becomes the item's response (`confirm_posted`); not there, it is cleared (`clear_unposted`) and
the item can be replied to again. Either way the check is in the audit trail (`reply_checked`).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from care.desk import TriageError
from desk.actions import ActionQueue, DeskAction, ItemState
from desk.state import DeskState, read_time, stored_time

MAX_REPLY_CHARACTERS = 10_000


@dataclass(frozen=True)
class ReplyTarget:
    """The post a reply answers.

    Attributes:
        mention_key: the triage item's mention key, e.g. `x:2117198102787928064`.
        platform: x, reddit, bluesky, mastodon, ...
        native_id: the post's id on the platform.
        url: the post's URL.
        author_handle: who wrote it.
    """

    mention_key: str
    platform: str
    native_id: str | None
    url: str | None
    author_handle: str | None


@dataclass(frozen=True)
class Posted:
    """The platform posted the reply.

    Attributes:
        url: the reply's URL on the platform: recorded as the item's response.
    """

    url: str


@dataclass(frozen=True)
class Refused:
    """The platform refused the reply.

    Attributes:
        reason: the platform's reason as it gave it (no credentials), shown to the agent.
    """

    reason: str


@dataclass(frozen=True)
class Uncertain:
    """The send failed in a way that may have posted the reply (a timeout after sending, a 5xx).

    The desk sends no second reply to the item: the agent checks the platform and records the reply's
    URL if it is there, or answers there and records where.

    Attributes:
        reason: what happened (no credentials).
    """

    reason: str


class ReplyChannel(Protocol):
    """Posts replies on the platforms that have a write API (the desk's interface to `care/replies/`)."""

    def platforms(self) -> frozenset[str]:
        """The platforms it can post on with the credentials it has, e.g. {"x", "reddit"}."""
        ...

    def send_reply(self, target: ReplyTarget, text: str) -> Posted | Refused | Uncertain:
        """Post `text` in reply to `target` on its platform, once.

        Returns:
            Posted with the reply's URL; Refused with the platform's reason (nothing was posted);
            Uncertain when it may have been posted. Raising is for faults of the desk's own (a bug).
        """
        ...


class NoReplyChannel:
    """No platform to post on: agents answer on the platform and record where."""

    def platforms(self) -> frozenset[str]:
        """None."""
        return frozenset()

    def send_reply(self, target: ReplyTarget, text: str) -> Posted | Refused | Uncertain:
        """Refuse: there is no write API here."""
        return Refused(f"replies cannot be posted on {target.platform} from the desk")


@dataclass(frozen=True)
class Reply:
    """A reply written on the desk, and where it stands."""

    reply_id: int
    mention_key: str
    author: str
    text: str
    state: str
    """awaiting_approval, sending, sent, refused, sent_back, unknown (may have been posted: no resend until a
    lead checks), or not_posted (a lead checked: it was not posted)."""
    approved_by: str | None
    posted_url: str | None
    refusal: str | None
    created_at: datetime
    updated_at: datetime


class ReplyDesk:
    """Write, approve and send replies.

    Args:
        state: the desk state.
        actions: the action queue (a sent reply becomes the item's response).
        channel: where replies are posted.
    """

    def __init__(self, state: DeskState, actions: ActionQueue, channel: ReplyChannel):
        self.state = state
        self.actions = actions
        self.channel = channel

    def reply(
        self, author: str, target: ReplyTarget, item: ItemState, escalated: bool, author_is_lead: bool, text: str,
        form_token: str, at: datetime,
    ) -> Reply:
        """Send a reply now, or put it to a lead when the item is escalated and the author is not one.

        Args:
            author: who writes it: they must hold the item.
            target: the post answered.
            item: the item as it stands now (queued actions replayed).
            escalated: whether the item is escalated.
            author_is_lead: whether the author is a lead (a lead's reply needs no approval).
            text: the reply.
            form_token: the token of the reply form it was written in (one reply per form: a second press
                of "send" is refused).
            at: now.

        Raises:
            TriageError: they do not hold the item, the text is empty or too long, the platform has no
                write API here, this form was sent already, or a reply to the item is already in flight.
        """
        text = text.strip()
        if not text:
            raise TriageError("write a reply first")
        if len(text) > MAX_REPLY_CHARACTERS:
            raise TriageError(f"a reply is at most {MAX_REPLY_CHARACTERS} characters")
        if target.platform not in self.channel.platforms():
            raise TriageError(
                f"the desk cannot post on {target.platform}: answer there and record the answer's URL"
            )
        if not (item.status in ("claimed", "responded") and item.assignee == author):
            holder = f"{item.assignee} holds it" if item.status == "claimed" else "nobody has claimed it"
            raise TriageError(f"claim the item before replying ({holder})")
        waits = escalated and not author_is_lead
        reply_id = self._insert(target.mention_key, author, text, "awaiting_approval" if waits else "sending",
                                form_token, at)
        if waits:
            self._note(target.mention_key, author, "reply written; it waits for a lead's approval", at)
            return self.get(reply_id)
        return self._send(reply_id, target, at)

    def approve(self, reply_id: int, lead: str, target: ReplyTarget, item: ItemState, at: datetime) -> Reply:
        """A lead approves an escalated item's reply, which is sent at once.

        Raises:
            TriageError: the reply is not waiting for approval (someone else approved or sent it back), or
                its author no longer holds the item.
        """
        author = self.get(reply_id).author
        if not (item.status in ("claimed", "responded") and item.assignee == author):
            raise TriageError(f"{author} no longer holds the item ({item.assignee or 'nobody'} does): send it back")
        if not self._move(reply_id, "awaiting_approval", "sending", at, approved_by=lead):
            raise TriageError("this reply is no longer waiting for approval")
        self._note(target.mention_key, lead, f"approved reply {reply_id}", at)
        return self._send(reply_id, target, at)

    def send_back(self, reply_id: int, lead: str, mention_key: str, note: str, at: datetime) -> Reply:
        """A lead sends an escalated item's reply back to its author with a note; nothing is posted.

        Raises:
            TriageError: the reply is not waiting for approval.
        """
        note = note.strip() or "sent back without a note"
        if not self._move(reply_id, "awaiting_approval", "sent_back", at, refusal=note):
            raise TriageError("this reply is no longer waiting for approval")
        self._note(mention_key, lead, f"sent reply {reply_id} back: {note}", at)
        return self.get(reply_id)

    def confirm_posted(self, reply_id: int, lead: str, url: str, at: datetime) -> Reply:
        """A lead found an Uncertain reply on the platform: its URL becomes the item's response.

        The response is recorded as the reply's author's, at the time the send ended (when it was
        posted, at the latest); the lead's check is an audit event of its own (`reply_checked`).

        Args:
            reply_id: the reply whose outcome was unknown.
            lead: who checked.
            url: the reply's link on the platform.
            at: now.

        Raises:
            TriageError: the link is not a web address, the reply's outcome is not unknown (someone
                settled it already), or the item can no longer take a response (it was closed meanwhile).
        """
        url = url.strip()
        if not url.startswith(("https://", "http://")):
            raise TriageError("give the link of the reply on the platform, starting with https://")
        reply = self._uncertain(reply_id)
        if not self._move(reply_id, "unknown", "sent", at, posted_url=url):
            raise TriageError(f"reply {reply_id} was settled meanwhile: it is {self.get(reply_id).state.replace('_', ' ')}")
        try:
            self.actions.submit(DeskAction(reply.mention_key, "respond", reply.author, reply.updated_at, {"url": url}))
        except TriageError:
            self._move(reply_id, "sent", "unknown", at, posted_url=None)
            raise
        self.actions.submit(DeskAction(reply.mention_key, "reply_checked", lead, at, {
            "reply": reply_id, "outcome": "posted", "url": url,
            "text": f"reply {reply_id} was posted after all ({url}): recorded as the response"}))
        return self.get(reply_id)

    def clear_unposted(self, reply_id: int, lead: str, at: datetime) -> Reply:
        """A lead checked the platform and the Uncertain reply is not there: the item may be replied to again.

        Args:
            reply_id: the reply whose outcome was unknown.
            lead: who checked.
            at: now.

        Raises:
            TriageError: the reply's outcome is not unknown (someone settled it already).
        """
        reply = self._uncertain(reply_id)
        if not self._move(reply_id, "unknown", "not_posted", at):
            raise TriageError(f"reply {reply_id} was settled meanwhile: it is {self.get(reply_id).state.replace('_', ' ')}")
        self.actions.submit(DeskAction(reply.mention_key, "reply_checked", lead, at, {
            "reply": reply_id, "outcome": "not_posted",
            "text": f"reply {reply_id} is not on the platform: cleared, the item can be replied to again"}))
        return self.get(reply_id)

    def _uncertain(self, reply_id: int) -> Reply:
        reply = self.get(reply_id)
        if reply.state != "unknown":
            raise TriageError(f"reply {reply_id} is {reply.state.replace('_', ' ')}, not one that may have been posted")
        return reply

    def get(self, reply_id: int) -> Reply:
        """One reply."""
        with self.state.connect() as connection:
            row = connection.execute(f"SELECT {_COLUMNS} FROM replies WHERE reply_id = ?", [reply_id]).fetchone()
        if row is None:
            raise TriageError(f"no reply {reply_id}")
        return _reply(row)

    def of_item(self, mention_key: str) -> list[Reply]:
        """The item's replies, oldest first."""
        with self.state.connect() as connection:
            rows = connection.execute(
                f"SELECT {_COLUMNS} FROM replies WHERE mention_key = ? ORDER BY reply_id", [mention_key]
            ).fetchall()
        return [_reply(row) for row in rows]

    def awaiting_approval(self) -> list[Reply]:
        """Replies waiting for a lead, oldest first."""
        with self.state.connect() as connection:
            rows = connection.execute(
                f"SELECT {_COLUMNS} FROM replies WHERE state = 'awaiting_approval' ORDER BY reply_id"
            ).fetchall()
        return [_reply(row) for row in rows]

    def _insert(self, mention_key: str, author: str, text: str, state: str, form_token: str, at: datetime) -> int:
        if not form_token:
            raise TriageError("this reply form has no token: reload the page and send again")
        try:
            with self.state.write() as connection:
                cursor = connection.execute(
                    "INSERT INTO replies (mention_key, author, text, state, form_token, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [mention_key, author, text, state, form_token, stored_time(at), stored_time(at)],
                )
                return int(cursor.lastrowid or 0)
        except sqlite3.IntegrityError as error:
            if "form_token" in str(error):
                raise TriageError("this reply was sent already (the send button was pressed twice)") from None
            if any(reply.state == "unknown" for reply in self.of_item(mention_key)):
                raise TriageError("a reply to this item may have been posted already: a lead checks the platform, "
                                  "then records its link or clears it") from None
            raise TriageError("a reply to this item is already being sent or waits for approval") from None

    def _send(self, reply_id: int, target: ReplyTarget, at: datetime) -> Reply:
        reply = self.get(reply_id)
        outcome = self.channel.send_reply(target, reply.text)
        if isinstance(outcome, Posted):
            self._move(reply_id, "sending", "sent", at, posted_url=outcome.url)
            self.actions.submit(DeskAction(target.mention_key, "respond", reply.author, at, {"url": outcome.url}))
        elif isinstance(outcome, Uncertain):
            self._move(reply_id, "sending", "unknown", at, refusal=outcome.reason)
            self._note(target.mention_key, reply.author,
                       f"reply {reply_id} may have been posted on {target.platform} ({outcome.reason}): no second reply "
                       "is sent from the desk until a lead checks the platform and records the reply's link or clears it",
                       at)
        else:
            self._move(reply_id, "sending", "refused", at, refusal=outcome.reason)
            self._note(target.mention_key, reply.author, f"{target.platform} refused reply {reply_id}: {outcome.reason}", at)
        return self.get(reply_id)

    def _move(self, reply_id: int, from_state: str, to_state: str, at: datetime, **changes: str | None) -> bool:
        assignments = "".join(f", {column} = ?" for column in changes)
        with self.state.connect() as connection:
            cursor = connection.execute(
                f"UPDATE replies SET state = ?, updated_at = ?{assignments} WHERE reply_id = ? AND state = ?",
                [to_state, stored_time(at), *changes.values(), reply_id, from_state],
            )
        return cursor.rowcount == 1

    def _note(self, mention_key: str, actor: str, text: str, at: datetime) -> None:
        self.actions.submit(DeskAction(mention_key, "note", actor, at, {"text": text}))


def unknown_after_a_stop(state: DeskState, at: datetime) -> int:
    """Replies left `sending` by a desk server that stopped (killed, crashed) while the platform answered become
    `unknown`, which a lead settles on the item. Call it only while no desk server runs on this state.

    Returns:
        How many there were.
    """
    with state.connect() as connection:
        cursor = connection.execute(
            "UPDATE replies SET state = 'unknown', updated_at = ?, refusal = ? WHERE state = 'sending'",
            [stored_time(at), "the desk stopped while sending it"],
        )
    return int(cursor.rowcount)


_COLUMNS = "reply_id, mention_key, author, text, state, approved_by, posted_url, refusal, created_at, updated_at"


def _reply(row: tuple[Any, ...]) -> Reply:
    values = dict(zip(_COLUMNS.split(", "), row, strict=True))
    values.update(created_at=read_time(values["created_at"]), updated_at=read_time(values["updated_at"]))
    return Reply(**values)
