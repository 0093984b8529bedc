"""Hand triage items to the team's own helpdesk as tickets, and close them when the ticket is solved.

Two helpdesks, behind one interface (`Helpdesk`):

- **Zendesk** (`ZendeskHelpdesk`), through its Tickets API: `POST /api/v2/tickets.json` creates the
  ticket (`subject`, a private first comment with the post and the item, `tags`, `external_id` = the
  mention key, `priority` urgent for escalated items, optionally a `requester` named after the
  author), with an `Idempotency-Key` made of the mention key, so that handing one item off twice
  makes one ticket; `GET /api/v2/tickets/show_many.json?ids=` reads the statuses back. Basic
  authentication with `email/token:API_TOKEN`.
- **A generic signed webhook** (`WebhookHelpdesk`): a JSON POST (`handoff_payload`) with
  `X-Overheard-Signature: sha256=<hex HMAC-SHA256 of the body>`; the helpdesk answers 2xx,
  optionally `{"ticket": {"id", "url"}}`, and calls back when the ticket is solved
  (`ticket_callback` verifies and reads that call, which the desk receives at `/helpdesk/callback`;
  docs/replies-and-helpdesk.md has the contract).

The ticket is kept on the item (`helpdesk_tickets`, one per item), and the hand-off is in the audit
trail (`handed_off`). Each care run polls the open tickets (`close_solved_tickets`); a ticket that
is solved or closed, polled or called back, closes its item through the desk's own rule
(`care.desk.TriageDesk.close`), as the helpdesk: the audit trail's actor is `zendesk` or `webhook`.

Every error message passes through the connection's secret scrubber.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlencode

import duckdb
import requests

from airflow_edge.connections import ConnectionMissing, airflow_connection, connection_credentials
from care.audit_trail import SYSTEM_ACTOR, record_action
from care.desk import TriageDesk
from care.replies.transport import WriteConnection, json_answer, short_reason
from config.model import Config
from core.errors import CollectorError, OverheardError
from core.secret_scrubbing import SecretScrubber
from core.transactions import transaction
from transport.http import RetryPolicy

CLOSING_STATUSES = frozenset({"solved", "closed"})
"""Helpdesk statuses that close the item."""
DELETED = "deleted"
"""The status kept for a ticket the helpdesk no longer has (its item stays open)."""
SIGNATURE_HEADER = "X-Overheard-Signature"
DELIVERY_HEADER = "X-Overheard-Delivery"
SHOW_MANY_IDS = 100  # Zendesk's show_many takes at most 100 ids
REQUEST_SECONDS = 60.0
_PLATFORM_NAMES = {"x": "X", "reddit": "Reddit", "bluesky": "Bluesky", "mastodon": "Mastodon",
                   "hackernews": "Hacker News", "news": "News", "blog": "Blog"}
_TAG = re.compile(r"[^a-z0-9_]+")


class HelpdeskError(OverheardError):
    """A hand-off, a status check or a callback failed; the message says what to do."""


class HandoffRefused(HelpdeskError):
    """The helpdesk answered and refused (credentials, a field it does not accept): fix the settings."""


class HelpdeskUnavailable(HelpdeskError):
    """The helpdesk could not be reached or answered 429/5xx: the item is handed off (or checked) next time."""


class CallbackRefused(HelpdeskError):
    """A callback whose signature does not verify, or that does not say which item and status."""


@dataclass(frozen=True)
class Handoff:
    """What a ticket is made of: one triage item and its mention.

    Attributes:
        mention_key: the item; the ticket's external id.
        subject: one line: platform, author, category and brand.
        body: the post, its link, and the item's category, brand, queue, priority and due time.
        tags: lowercase words (`overheard`, the platform, the category).
        escalated: the item is escalated (a Zendesk ticket is then urgent).
        author: the post's author, as the platform names them.
        item: the item's fields, for a webhook's receiver.
    """

    mention_key: str
    subject: str
    body: str
    tags: tuple[str, ...]
    escalated: bool
    author: str | None
    item: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Ticket:
    """A helpdesk ticket an item was handed to.

    Attributes:
        ticket_id: the helpdesk's id.
        url: where an agent opens it, when known.
        status: the helpdesk's status (Zendesk: new, open, pending, hold, solved, closed).
    """

    ticket_id: str
    url: str | None
    status: str


class Helpdesk(Protocol):
    """A team's helpdesk: opens tickets, and tells their statuses where it can be asked."""

    name: str
    """`zendesk` or `webhook`: kept with each ticket, and the actor that closes items."""

    def open_ticket(self, handoff: Handoff) -> Ticket:
        """Open a ticket for the item (the same one again when it was opened already, where the helpdesk can tell).

        Raises:
            HandoffRefused: the helpdesk refused it (its reason is in the message).
            HelpdeskUnavailable: it could not be reached, or answered 429/5xx.
        """
        ...

    def ticket_statuses(self, ticket_ids: Sequence[str]) -> dict[str, str]:
        """The current status of each ticket the helpdesk still has (a deleted one is left out).

        Raises:
            HandoffRefused, HelpdeskUnavailable: as `open_ticket`.
        """
        ...


class HandoffCondition(Protocol):
    """A playbook hand-off rule: every condition given must hold (empty lists and None hold for any item)."""

    categories: list[str]
    brands: list[str]
    platforms: list[str]
    queues: list[str]
    min_priority: float | None
    escalated: bool | None


class ZendeskHelpdesk:
    """Zendesk's Tickets API (see the module docstring).

    Args:
        connection: the connection: host = `https://<subdomain>.zendesk.com`, login = the agent's email,
            password = an API token (reads are retried; a ticket is created once per call).
        requester_from_author: make the ticket's requester an end user named after the post's author
            (Zendesk creates one); otherwise the API user is the requester.
        tags: tags every ticket gets, besides the platform and category.

    Raises:
        HandoffRefused: the connection lacks the host, the email or the token.
    """

    name = "zendesk"

    def __init__(
        self, connection: WriteConnection, *, requester_from_author: bool = False, tags: Sequence[str] = ("overheard",)
    ):
        self._connection = connection
        self._requester_from_author = requester_from_author
        self._tags = tuple(tags)
        self._base = connection.base_url("")
        credentials = connection.credentials
        email, token = str(credentials.get("login") or ""), str(credentials.get("password") or "")
        if not self._base or not email or not token:
            raise HandoffRefused(f"the {connection.id} connection needs host, login and password; {self._fix()}")
        self._auth = (f"{email.removesuffix('/token')}/token", token)
        self._scrubber = SecretScrubber(connection.secrets() + [f"{self._auth[0]}:{token}"])

    def open_ticket(self, handoff: Handoff) -> Ticket:
        """Create the ticket: `POST /api/v2/tickets.json`, sent once, with an Idempotency-Key of the mention key."""
        ticket: dict[str, Any] = {
            "subject": handoff.subject, "comment": {"body": handoff.body, "public": False},
            "tags": sorted({*(_tag(tag) for tag in self._tags), *handoff.tags}), "external_id": handoff.mention_key,
        }
        if handoff.escalated:
            ticket["priority"] = "urgent"
        if self._requester_from_author and handoff.author:
            ticket["requester"] = {"name": handoff.author}
        url = f"{self._base}/api/v2/tickets.json"
        key = hashlib.sha256(handoff.mention_key.encode()).hexdigest()[:40]
        with self._scrubbed(), self._session() as http:
            try:
                response = http.post(url, json={"ticket": ticket}, headers={"Idempotency-Key": f"overheard-{key}"})
            except CollectorError as error:
                raise HelpdeskUnavailable(
                    f"Zendesk did not create a ticket for {handoff.mention_key} ({error}); if it did after all, handing "
                    "the item off again within two hours finds the same ticket (Idempotency-Key)"
                ) from None
            created = self._answer(response, f"creating a ticket for {handoff.mention_key}").get("ticket")
            if not isinstance(created, Mapping) or created.get("id") is None:
                raise HelpdeskUnavailable(f"Zendesk answered HTTP {response.status_code} without the ticket it created; "
                                          "hand the item off again to find it")
            return self._ticket(created)

    def ticket_statuses(self, ticket_ids: Sequence[str]) -> dict[str, str]:
        """Read statuses with `GET /api/v2/tickets/show_many.json`, 100 ids a request."""
        statuses: dict[str, str] = {}
        with self._scrubbed(), self._session() as http:
            for start in range(0, len(ticket_ids), SHOW_MANY_IDS):
                ids = ",".join(ticket_ids[start: start + SHOW_MANY_IDS])
                try:
                    response = http.get(f"{self._base}/api/v2/tickets/show_many.json?{urlencode({'ids': ids})}")
                except CollectorError as error:
                    raise HelpdeskUnavailable(f"Zendesk could not be asked for ticket statuses ({error}); "
                                              "they are asked again next run") from None
                tickets = self._answer(response, "reading ticket statuses").get("tickets") or []
                statuses |= {str(t["id"]): str(t.get("status")) for t in tickets if isinstance(t, Mapping) and "id" in t}
        return statuses

    def _ticket(self, ticket: Mapping[str, Any]) -> Ticket:
        return Ticket(str(ticket["id"]), f"{self._base}/agent/tickets/{ticket['id']}", str(ticket.get("status") or "new"))

    def _answer(self, response: requests.Response, what: str) -> Mapping[str, Any]:
        body = json_answer(response)
        body = body if isinstance(body, Mapping) else {}
        if response.status_code < 400:
            return body
        reason = _zendesk_reason(response, body)
        if response.status_code in (401, 403):
            raise HandoffRefused(f"Zendesk refused {what} with the {self._connection.id} connection "
                                 f"(HTTP {response.status_code}: {reason}); {self._fix()}")
        if response.status_code == 429 or response.status_code >= 500:
            raise HelpdeskUnavailable(f"Zendesk answered {what} with HTTP {response.status_code} ({reason}); "
                                      "it is tried again next time")
        raise HandoffRefused(f"Zendesk refused {what} (HTTP {response.status_code}): {reason}")

    @contextmanager
    def _session(self) -> Iterator[requests.Session]:
        http = self._connection.session()
        http.auth = self._auth
        try:
            yield http
        finally:
            http.close()

    @contextmanager
    def _scrubbed(self) -> Iterator[None]:
        try:
            yield
        except HelpdeskError as error:
            raise type(error)(self._scrubber.scrub(str(error))) from None

    def _fix(self) -> str:
        connection = self._connection
        return (f"set the {connection.id} Airflow connection: host = https://<subdomain>.zendesk.com, login = the agent's "
                f"email, password = an API token (Admin Center > Apps and integrations > APIs); or "
                f"{connection.environment_variable}")


class WebhookHelpdesk:
    """Any helpdesk behind a signed webhook (see the module docstring and `handoff_payload`).

    Args:
        connection: the connection: host = the webhook's full URL, password = the shared signing secret (the
            POST is sent once per call).
        callback_url: where the helpdesk calls back when a ticket is solved (the desk's callback), if any.

    Raises:
        HandoffRefused: the connection lacks the URL or the secret.
    """

    name = "webhook"

    def __init__(self, connection: WriteConnection, *, callback_url: str | None = None):
        self._connection = connection
        self._callback_url = callback_url
        self._url = connection.base_url("")
        self._secret = str(connection.credentials.get("password") or "")
        if not self._url or not self._secret:
            raise HandoffRefused(
                f"the {connection.id} connection needs host (the webhook's URL) and password (the signing secret); set "
                f"the {connection.id} Airflow connection or {connection.environment_variable}"
            )
        self._scrubber = SecretScrubber(connection.secrets())

    def open_ticket(self, handoff: Handoff) -> Ticket:
        """POST the signed hand-off, once; the ticket is the one the answer names, else the mention key."""
        body = json.dumps(handoff_payload(handoff, self._callback_url), sort_keys=True).encode()
        delivery = hashlib.sha256(handoff.mention_key.encode()).hexdigest()[:40]
        http = self._connection.session()
        try:
            response = http.post(self._url, data=body, headers={
                "Content-Type": "application/json", SIGNATURE_HEADER: sign(body, self._secret), DELIVERY_HEADER: delivery})
        except CollectorError as error:
            raise HelpdeskUnavailable(self._scrubber.scrub(
                f"the helpdesk webhook did not take {handoff.mention_key} ({error}); hand it off again (the "
                f"{DELIVERY_HEADER} header lets the receiver drop a repeat)")) from None
        finally:
            http.close()
        answer = json_answer(response)
        if response.status_code >= 400:
            said = answer.get("error") if isinstance(answer, Mapping) else None
            reason = short_reason(str(said or response.reason or f"HTTP {response.status_code}"))
            kind = HelpdeskUnavailable if response.status_code == 429 or response.status_code >= 500 else HandoffRefused
            raise kind(self._scrubber.scrub(
                f"the helpdesk webhook refused {handoff.mention_key} (HTTP {response.status_code}: {reason}); check the "
                f"{self._connection.id} connection's URL and signing secret"))
        ticket = answer.get("ticket") if isinstance(answer, Mapping) else None
        if isinstance(ticket, Mapping) and ticket.get("id") is not None:
            return Ticket(str(ticket["id"]), str(ticket.get("url") or "") or None, str(ticket.get("status") or "open"))
        return Ticket(handoff.mention_key, None, "open")

    def ticket_statuses(self, ticket_ids: Sequence[str]) -> dict[str, str]:
        """Nothing to poll: the helpdesk calls back (`ticket_callback`)."""
        return {}

    def read_callback(self, body: bytes, signature: str | None) -> TicketUpdate:
        """Verify and read this helpdesk's callback (the desk serves it at `/helpdesk/callback`).

        Args:
            body: the raw request body, exactly as received.
            signature: its `X-Overheard-Signature` header (None when absent).

        Raises:
            CallbackRefused: the signature does not match the body with this webhook's secret, or the
                body names no item or status.
        """
        return ticket_callback(body, signature, self._secret)


def helpdesk_for(
    kind: str,
    connection: str,
    *,
    policy: RetryPolicy,
    user_agent: str,
    requester_from_author: bool = False,
    tags: Sequence[str] = ("overheard",),
    callback_url: str | None = None,
) -> Helpdesk:
    """The helpdesk the playbook's `helpdesk` settings name, with the credentials of its Airflow connection.

    Called as `helpdesk_for(**playbook.helpdesk.model_dump(), policy=..., user_agent=...)`.

    Args:
        kind: `zendesk` or `webhook`.
        connection: the Airflow connection's id.
        policy: the one retry policy.
        user_agent: sent with every request.
        requester_from_author: Zendesk only (see `ZendeskHelpdesk`).
        tags: Zendesk only: tags every ticket gets.
        callback_url: webhook only: where the helpdesk calls back.

    Raises:
        HandoffRefused: the connection is not defined or incomplete (the message says how to set it),
            or the kind is unknown.
    """
    try:
        credentials = connection_credentials(airflow_connection(connection, "helpdesk hand-offs"))
    except ConnectionMissing as missing:
        raise HandoffRefused(str(missing)) from None
    write_connection = WriteConnection(connection, credentials, policy, user_agent, REQUEST_SECONDS)
    if kind == "zendesk":
        return ZendeskHelpdesk(write_connection, requester_from_author=requester_from_author, tags=tags)
    if kind == "webhook":
        return WebhookHelpdesk(write_connection, callback_url=callback_url)
    raise HandoffRefused(f"no helpdesk of kind {kind!r}; use zendesk or webhook")


def handoff_payload(handoff: Handoff, callback_url: str | None) -> dict[str, Any]:
    """The JSON a webhook helpdesk receives.

    `{"event": "handoff", "external_id": <mention key>, "subject", "body", "tags", "priority": "urgent" |
    "normal", "item": {mention_key, platform, url, author, author_followers, text, category, brand,
    queue, priority, escalated, due_at, status, assignee}, "callback": {"url", "statuses": ["solved",
    "closed"]}}`.
    """
    return {
        "event": "handoff", "external_id": handoff.mention_key, "subject": handoff.subject, "body": handoff.body,
        "tags": list(handoff.tags), "priority": "urgent" if handoff.escalated else "normal", "item": handoff.item,
        "callback": {"url": callback_url, "statuses": sorted(CLOSING_STATUSES)},
    }


def sign(body: bytes, secret: str) -> str:
    """The signature header's value for a body: `sha256=<hex HMAC-SHA256 of the body with the secret>`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class TicketUpdate:
    """A helpdesk's callback: the item's ticket now has this status."""

    mention_key: str
    status: str


def ticket_callback(body: bytes, signature: str | None, secret: str) -> TicketUpdate:
    """Verify and read a webhook helpdesk's callback.

    The helpdesk POSTs `{"external_id": <mention key>, "status": "solved"}` (`ticket_id` optional) with
    `X-Overheard-Signature: sha256=<hex HMAC-SHA256 of the raw body>`, signed with the shared secret.

    Args:
        body: the raw request body, exactly as received.
        signature: the `X-Overheard-Signature` header (None when absent).
        secret: the webhook connection's signing secret.

    Raises:
        CallbackRefused: the signature is missing or wrong, or the body names no item or status.
    """
    if not signature or not hmac.compare_digest(signature.strip(), sign(body, secret)):
        raise CallbackRefused(f"the callback's {SIGNATURE_HEADER} does not match its body: refused")
    try:
        document = json.loads(body)
    except ValueError:
        raise CallbackRefused("the callback's body is not JSON: refused") from None
    if not isinstance(document, dict) or not document.get("external_id") or not document.get("status"):
        raise CallbackRefused('the callback must say {"external_id": <the item\'s mention key>, "status": ...}: refused')
    return TicketUpdate(str(document["external_id"]), str(document["status"]).lower())


def handoff_for(connection: duckdb.DuckDBPyConnection, mention_key: str, item_link: str | None = None) -> Handoff:
    """The hand-off of a triage item, from the warehouse.

    Args:
        connection: the warehouse (read-only is enough).
        mention_key: the item.
        item_link: the item's page on the desk, linked from the ticket.

    Raises:
        HelpdeskError: there is no such triage item.
    """
    row = connection.execute(
        """
        SELECT m.platform, m.url, m.author_handle, m.author_followers, coalesce(m.title || ' — ', '') || m.text,
               t.category, t.brand, t.queue, t.priority, t.escalated, t.due_at, t.status, t.assignee
        FROM triage_items AS t JOIN mentions AS m USING (mention_key) WHERE t.mention_key = ?
        """,
        [mention_key],
    ).fetchone()
    if row is None:
        raise HelpdeskError(f"no triage item {mention_key!r} to hand off")
    platform, url, author, followers, text, category, brand, queue, priority, escalated, due_at, status, assignee = row
    where = _PLATFORM_NAMES.get(platform, platform)
    who = f"{author} on {where}" + (f" ({followers:,} followers)" if followers is not None else "") if author else where
    facts = [f"Category: {category}", f"Brand: {brand}", f"Queue: {queue}",
             f"Priority: {priority:.2f}" + (" (escalated)" if escalated else ""), f"First response due: {due_at:%Y-%m-%d %H:%M %Z}"]
    body = "\n\n".join(part for part in [
        f"{who} wrote:", text, url or "", " · ".join(facts), f"Overheard item: {item_link}" if item_link else "",
    ] if part)
    return Handoff(
        mention_key=mention_key, subject=f"{where} {author or 'post'}: {category} ({brand})"[:150], body=body,
        tags=tuple(sorted({"overheard", _tag(platform), _tag(category)})), escalated=bool(escalated), author=author,
        item={"mention_key": mention_key, "platform": platform, "url": url, "author": author,
              "author_followers": followers, "text": text, "category": category, "brand": brand, "queue": queue,
              "priority": priority, "escalated": escalated, "due_at": due_at.isoformat(), "status": status,
              "assignee": assignee, "link": item_link},
    )


def recorded_ticket(connection: duckdb.DuckDBPyConnection, mention_key: str) -> Ticket | None:
    """The ticket an item was handed to, if it was."""
    row = connection.execute(
        "SELECT ticket_id, ticket_url, status FROM helpdesk_tickets WHERE mention_key = ?", [mention_key]
    ).fetchone()
    return Ticket(*row) if row else None


def record_ticket(
    connection: duckdb.DuckDBPyConnection, helpdesk: str, mention_key: str, ticket: Ticket, actor: str, at: datetime
) -> bool:
    """Keep the ticket on the item and the hand-off in the audit trail, in one transaction.

    Args:
        connection: the warehouse, open for writing, outside a transaction.
        helpdesk: the helpdesk's name (`Helpdesk.name`).
        mention_key: the item.
        ticket: the ticket opened.
        actor: who handed it off (a person, or `overheard` for a playbook rule).
        at: when.

    Returns:
        False (and nothing written) when the item already had a ticket.
    """
    with transaction(connection):
        if recorded_ticket(connection, mention_key) is not None:
            return False
        connection.execute(
            "INSERT INTO helpdesk_tickets (mention_key, helpdesk, ticket_id, ticket_url, status, handed_off_at, "
            "handed_off_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [mention_key, helpdesk, ticket.ticket_id, ticket.url, ticket.status, at, actor],
        )
        record_action(connection, mention_key, "handed_off", actor, at,
                      {"helpdesk": helpdesk, "ticket": ticket.ticket_id, "url": ticket.url})
    return True


def hand_off(
    connection: duckdb.DuckDBPyConnection,
    helpdesk: Helpdesk,
    mention_key: str,
    actor: str,
    at: datetime,
    item_link: str | None = None,
) -> Ticket:
    """Hand an item to the helpdesk, once: an item that has a ticket keeps it.

    Args:
        connection: the warehouse, open for writing, outside a transaction.
        helpdesk: where to.
        mention_key: the item.
        actor: who hands it off.
        at: when.
        item_link: the item's page on the desk, linked from the ticket.

    Returns:
        The item's ticket (the one it had, or the one opened now).

    Raises:
        HelpdeskError: no such item, or the helpdesk refused or could not be reached (nothing recorded).
    """
    existing = recorded_ticket(connection, mention_key)
    if existing is not None:
        return existing
    ticket = helpdesk.open_ticket(handoff_for(connection, mention_key, item_link))
    record_ticket(connection, helpdesk.name, mention_key, ticket, actor, at)
    return recorded_ticket(connection, mention_key) or ticket


@dataclass
class HandoffRun:
    """What one run of the playbook's hand-off rules did.

    Attributes:
        tickets: item key to the ticket opened now.
        failed: item key to why it could not be handed off (it is tried again next run).
    """

    tickets: dict[str, Ticket] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


def hand_off_matching(
    connection: duckdb.DuckDBPyConnection, helpdesk: Helpdesk, rules: Sequence[HandoffCondition], at: datetime
) -> HandoffRun:
    """Hand off every item not closed nor handed off yet that a playbook hand-off rule holds for.

    One item's failure does not stop the others; it is tried again on the next run.

    Args:
        connection: the warehouse, open for writing, outside a transaction.
        helpdesk: where to.
        rules: the playbook's hand-off rules (any one holding is enough).
        at: the run's time.
    """
    run = HandoffRun()
    if not rules:
        return run
    candidates = connection.execute(
        """
        SELECT t.mention_key, t.category, t.brand, m.platform, t.queue, t.priority, t.escalated
        FROM triage_items AS t JOIN mentions AS m USING (mention_key)
        WHERE t.status <> 'closed' AND t.mention_key NOT IN (SELECT mention_key FROM helpdesk_tickets)
        ORDER BY t.escalated DESC, t.priority DESC, t.mention_key
        """
    ).fetchall()
    for key, category, brand, platform, queue, priority, escalated in candidates:
        if not any(_holds(rule, category, brand, platform, queue, priority, escalated) for rule in rules):
            continue
        try:
            run.tickets[key] = hand_off(connection, helpdesk, key, SYSTEM_ACTOR, at)
        except HelpdeskError as error:
            run.failed[key] = str(error)
    return run


def playbook_helpdesk_step(connection: duckdb.DuckDBPyConnection, config: Config, now: datetime) -> str | None:
    """The care step's helpdesk work each run: hand off what the playbook's rules name, close solved items.

    Args:
        connection: the warehouse, open for writing, outside a transaction.
        config: the run's config; nothing happens without `playbook.helpdesk`.
        now: the run's time.

    Returns:
        One line for the task log (None when no helpdesk is configured). A helpdesk that cannot be
        reached is said so there; its items are handed off and polled again on the next run.
    """
    settings = config.playbook.helpdesk if config.playbook else None
    if config.playbook is None or settings is None:
        return None
    try:
        helpdesk = helpdesk_for(**settings.model_dump(), policy=RetryPolicy.from_settings(config.http),
                                user_agent=config.http.user_agent)
        handed = hand_off_matching(connection, helpdesk, config.playbook.handoff, now)
        closed = close_solved_tickets(connection, helpdesk, now)
    except HelpdeskError as error:
        return f"helpdesk not reached (tried again next run): {error}"
    return f"helpdesk: {len(handed.tickets)} handed off, {len(handed.failed)} to retry next run, {len(closed)} closed"


def close_solved_tickets(connection: duckdb.DuckDBPyConnection, helpdesk: Helpdesk, now: datetime) -> list[str]:
    """Poll the helpdesk for the open tickets of open items, and close the items whose ticket is solved or closed.

    The care step calls it each run, after its transaction (it asks the helpdesk over the network).
    A helpdesk that is only called back (`WebhookHelpdesk`) has nothing to poll; items whose ticket
    a callback already marked solved are closed here too.

    Args:
        connection: the warehouse, open for writing, outside a transaction.
        helpdesk: the helpdesk the tickets are in.
        now: the run's time: when the items are closed.

    Returns:
        The keys of the items closed.

    Raises:
        HelpdeskError: the helpdesk could not be asked (nothing changed; asked again next run).
    """
    rows = connection.execute(
        """
        SELECT h.mention_key, h.ticket_id FROM helpdesk_tickets AS h JOIN triage_items AS t USING (mention_key)
        WHERE h.helpdesk = ? AND t.status <> 'closed' AND h.status NOT IN (SELECT unnest(?::VARCHAR[]))
        """,
        [helpdesk.name, [*CLOSING_STATUSES, DELETED]],
    ).fetchall()
    statuses = helpdesk.ticket_statuses([ticket_id for _, ticket_id in rows]) if rows else {}
    updates = [TicketUpdate(key, statuses.get(ticket_id, DELETED)) for key, ticket_id in rows]
    return apply_ticket_updates(connection, helpdesk.name, updates, now)


def apply_ticket_updates(
    connection: duckdb.DuckDBPyConnection, helpdesk: str, updates: Sequence[TicketUpdate], now: datetime
) -> list[str]:
    """Keep the tickets' new statuses, and close every open item whose ticket is solved or closed.

    Used by the poll (`close_solved_tickets`) and by a webhook helpdesk's callback (`ticket_callback`).
    An update for an item with no ticket of this helpdesk changes nothing. A ticket the helpdesk no
    longer has is kept as `deleted`, with a note on its item, which stays open.

    Args:
        connection: the warehouse, open for writing, outside a transaction.
        helpdesk: the helpdesk's name.
        updates: the statuses.
        now: when.

    Returns:
        The keys of the items closed.
    """
    with transaction(connection):
        changed = connection.execute(
            """
            UPDATE helpdesk_tickets AS h SET status = u.status, status_checked_at = $now,
                solved_at = CASE WHEN u.status IN (SELECT unnest($closing)) THEN coalesce(h.solved_at, $now)
                                 ELSE h.solved_at END
            FROM (SELECT unnest($keys) AS mention_key, unnest($statuses) AS status) AS u
            WHERE h.mention_key = u.mention_key AND h.helpdesk = $helpdesk
            RETURNING h.mention_key, h.ticket_id, h.status
            """,
            {"now": now, "closing": sorted(CLOSING_STATUSES), "helpdesk": helpdesk,
             "keys": [update.mention_key for update in updates], "statuses": [update.status for update in updates]},
        ).fetchall()
        for key, ticket_id, status in changed:
            if status == DELETED:
                record_action(connection, key, "note", helpdesk, now,
                              {"text": f"{helpdesk} ticket {ticket_id} is gone from the helpdesk; the item stays open"})
    solved = connection.execute(
        """
        SELECT h.mention_key, h.ticket_id, h.status FROM helpdesk_tickets AS h JOIN triage_items AS t USING (mention_key)
        WHERE h.helpdesk = ? AND t.status <> 'closed' AND h.status IN (SELECT unnest(?::VARCHAR[])) ORDER BY h.mention_key
        """,
        [helpdesk, sorted(CLOSING_STATUSES)],
    ).fetchall()
    desk = TriageDesk(connection, actor=helpdesk)
    for key, ticket_id, status in solved:
        desk.close(key, f"{helpdesk} ticket {ticket_id} {status}", at=now)
    return [key for key, _, _ in solved]


def _holds(
    rule: HandoffCondition, category: str, brand: str, platform: str, queue: str, priority: float, escalated: bool
) -> bool:
    return (
        (not rule.categories or category in rule.categories)
        and (not rule.brands or brand in rule.brands)
        and (not rule.platforms or platform in rule.platforms)
        and (not rule.queues or queue in rule.queues)
        and (rule.min_priority is None or priority >= rule.min_priority)
        and (rule.escalated is None or escalated == rule.escalated)
    )


def _tag(text: str) -> str:
    """A Zendesk tag: lowercase letters, digits and underscores."""
    return _TAG.sub("_", text.lower()).strip("_")


def _zendesk_reason(response: requests.Response, body: Mapping[str, Any]) -> str:
    """Zendesk's own words: `error`, `description`, and each field's `details` description."""
    error = body.get("error")
    parts = [str(error.get("title") or error.get("message")) if isinstance(error, Mapping) else str(error or "")]
    parts.append(str(body.get("description") or ""))
    details = body.get("details")
    if isinstance(details, Mapping):
        parts += [str(item.get("description")) for items in details.values() if isinstance(items, list)
                  for item in items if isinstance(item, Mapping) and item.get("description")]
    return short_reason(": ".join(part for part in parts if part) or response.reason or f"HTTP {response.status_code}")
