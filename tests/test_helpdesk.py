"""Handing triage items to the team's helpdesk: Zendesk's Tickets API and a signed webhook, against fake servers
that speak their wire formats. A ticket solved on the helpdesk closes its item on the next poll (or callback)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from care.desk import TriageDesk
from care.helpdesk import (
    CallbackRefused,
    HandoffRefused,
    HelpdeskUnavailable,
    WebhookHelpdesk,
    ZendeskHelpdesk,
    apply_ticket_updates,
    close_solved_tickets,
    hand_off,
    hand_off_matching,
    handoff_for,
    helpdesk_for,
    playbook_helpdesk_step,
    ticket_callback,
)
from care.replies.transport import WriteConnection
from care.triage import CareStep
from config.model import Config, HttpSettings
from demo.fake_apis.helpdesk_apis import (
    DEMO_WEBHOOK_SECRET,
    DEMO_ZENDESK_EMAIL,
    DEMO_ZENDESK_TOKEN,
    FakeHelpdeskWebhook,
    FakeZendesk,
)
from demo.fake_apis.write_apis import Answer
from transport.http import RetryPolicy
from warehouse.connection import open_warehouse

NOON = datetime(2026, 11, 2, 12, tzinfo=UTC)
COMPLAINT = "x:2117198102787928064"
CRISIS = "x:2117198102787928065"
UA = "Overheard-test/1.0"


@pytest.fixture
def policy() -> RetryPolicy:
    return RetryPolicy.from_settings(HttpSettings(timeout_seconds=2.0, max_retries=2, backoff_seconds=0.0,
                                                  max_retry_wait_seconds=1.0))


@pytest.fixture
def warehouse(tmp_path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A warehouse with two triage items: a complaint in `care` and an escalated crisis."""
    config = Config.model_validate({
        "warehouse": {"path": str(tmp_path / "w.duckdb")}, "staging": str(tmp_path / "staging"),
        "brands": [{"name": "Brightwave", "aliases": ["Brightwave"]}],
        "sources": [{"kind": "rss", "name": "news", "url": "https://n.example/feed"}],
        "playbook": {
            "categories": [
                {"name": "crisis", "query": "(fire OR injured)", "about": "any", "severity": 1.0, "sla_minutes": 15,
                 "escalate": True, "queue": "escalations"},
                {"name": "complaint", "query": "(outage OR billed)", "severity": 0.6, "sla_minutes": 60},
            ],
            "queues": [{"name": "care", "agents": [{"name": "ana"}]}, {"name": "escalations"}],
            "default_queue": "care", "leads": ["lead"],
        },
    })
    connection = open_warehouse(config.warehouse.path)
    for key, text, author in ((COMPLAINT, "Brightwave billed me twice this month", "@alice"),
                              (CRISIS, "My Brightwave router caught fire", "@bob")):
        connection.execute(
            """
            INSERT INTO mentions (mention_key, platform, source, url, text, author_handle, author_followers,
                published_at, engagement, lang, sentiment_label, sentiment_score, reach_estimate, is_owned,
                first_run_id, first_seen_at, last_run_id, last_seen_at)
            VALUES (?, 'x', 'x', ?, ?, ?, 1200, ?, '{}', 'en', 'negative', -0.7, 1200, false, 'run-1', ?, 'run-1', ?)
            """,
            [key, f"https://x.com/{author[1:]}/status/{key[2:]}", text, author, NOON, NOON, NOON],
        )
        connection.execute("INSERT INTO mention_brands (mention_key, brand, role, matched_terms) VALUES (?, 'Brightwave', 'brand', [])", [key])
    CareStep(connection, config, "run-1", NOON).run()
    yield connection
    connection.close()


@pytest.fixture
def zendesk() -> Iterator[FakeZendesk]:
    with FakeZendesk() as api:
        yield api


def zendesk_helpdesk(api: FakeZendesk, policy: RetryPolicy, token: str = DEMO_ZENDESK_TOKEN) -> ZendeskHelpdesk:
    credentials = {"login": DEMO_ZENDESK_EMAIL, "password": token, "host": api.base_url, "extra": {}}
    return ZendeskHelpdesk(WriteConnection("zendesk_default", credentials, policy, UA))


def status_of(connection: duckdb.DuckDBPyConnection, key: str) -> str:
    return connection.execute("SELECT status FROM triage_items WHERE mention_key = ?", [key]).fetchone()[0]


def test_a_zendesk_ticket_solved_on_the_helpdesk_closes_the_item_on_the_next_poll(warehouse, zendesk, policy):
    helpdesk = zendesk_helpdesk(zendesk, policy)
    ticket = hand_off(warehouse, helpdesk, COMPLAINT, "ana", NOON + timedelta(minutes=5),
                      item_link="https://desk.brightwave.example/items/1")
    urgent = hand_off(warehouse, helpdesk, CRISIS, "lead", NOON + timedelta(minutes=6))

    [created, _] = zendesk.received_at("POST /api/v2/tickets.json")
    sent = created.json()["ticket"]
    assert sent["subject"] == "X @alice: complaint (Brightwave)"
    assert sent["external_id"] == COMPLAINT
    assert sent["tags"] == ["complaint", "overheard", "x"]
    assert "priority" not in sent and zendesk.tickets[int(urgent.ticket_id)]["priority"] == "urgent"
    assert sent["comment"]["public"] is False
    assert sent["comment"]["body"].startswith(
        "@alice on X (1,200 followers) wrote:\n\nBrightwave billed me twice this month\n\n"
        f"https://x.com/alice/status/{COMPLAINT[2:]}\n\nCategory: complaint · Brand: Brightwave · Queue: care · Priority: ")
    assert sent["comment"]["body"].endswith("Overheard item: https://desk.brightwave.example/items/1")
    assert created.headers["authorization"] == "Basic " + base64.b64encode(
        f"{DEMO_ZENDESK_EMAIL}/token:{DEMO_ZENDESK_TOKEN}".encode()).decode()
    assert ticket.url == f"{zendesk.base_url}/agent/tickets/{ticket.ticket_id}"
    assert warehouse.execute(
        "SELECT mention_key, helpdesk, ticket_id, status, handed_off_by FROM helpdesk_tickets ORDER BY mention_key"
    ).fetchall() == [(COMPLAINT, "zendesk", ticket.ticket_id, "new", "ana"), (CRISIS, "zendesk", urgent.ticket_id, "new", "lead")]

    assert close_solved_tickets(warehouse, helpdesk, NOON + timedelta(hours=1)) == []
    zendesk.solve(ticket.ticket_id)
    assert close_solved_tickets(warehouse, helpdesk, NOON + timedelta(hours=2)) == [COMPLAINT]

    assert (status_of(warehouse, COMPLAINT), status_of(warehouse, CRISIS)) == ("closed", "open")
    trail = TriageDesk(warehouse, actor=None).history(COMPLAINT)
    assert [(who, action) for _, who, action, _ in trail][-2:] == [("ana", "handed_off"), ("zendesk", "closed")]
    assert json.loads(trail[-1][3]) == {"reason": f"zendesk ticket {ticket.ticket_id} solved"}
    assert json.loads(trail[-2][3]) == {"helpdesk": "zendesk", "ticket": ticket.ticket_id, "url": ticket.url}
    polls = zendesk.received_at("GET /api/v2/tickets/show_many.json")
    assert [p.query["ids"] for p in polls] == [[f"{ticket.ticket_id},{urgent.ticket_id}"]] * 2

    assert close_solved_tickets(warehouse, helpdesk, NOON + timedelta(hours=3)) == []
    assert zendesk.received_at("GET /api/v2/tickets/show_many.json")[-1].query["ids"] == [urgent.ticket_id]


def test_an_item_handed_off_twice_has_one_ticket(warehouse, zendesk, policy):
    helpdesk = zendesk_helpdesk(zendesk, policy)
    first = hand_off(warehouse, helpdesk, COMPLAINT, "ana", NOON)
    assert hand_off(warehouse, helpdesk, COMPLAINT, "lead", NOON) == first
    # Two desks pressing the button at once both reach Zendesk: its Idempotency-Key makes one ticket.
    handoff = handoff_for(warehouse, CRISIS)
    assert helpdesk.open_ticket(handoff) == helpdesk.open_ticket(handoff)
    assert len(zendesk.tickets) == 2
    assert zendesk.received_at("POST /api/v2/tickets.json")[-1].headers["idempotency-key"].startswith("overheard-")


def test_zendesk_refusals_and_outages_say_what_to_do_and_never_show_the_token(warehouse, zendesk, policy):
    with pytest.raises(HandoffRefused, match="Couldn't authenticate you.*zendesk_default Airflow connection") as refused:
        hand_off(warehouse, zendesk_helpdesk(zendesk, policy, token="wrong-token-1234"), COMPLAINT, "ana", NOON)
    zendesk.script("POST /api/v2/tickets.json", Answer(
        422, {"error": "RecordInvalid", "description": "Record validation errors",
              "details": {"base": [{"description": "Requester: wrong-token-1234 is invalid", "error": "InvalidValue"}]}}))
    with pytest.raises(HandoffRefused, match="RecordInvalid: Record validation errors: Requester: \\*\\*\\* is invalid"):
        hand_off(warehouse, zendesk_helpdesk(zendesk, policy, token="wrong-token-1234"), COMPLAINT, "ana", NOON)
    zendesk.script("POST /api/v2/tickets.json", Answer(503, {"error": "Service Unavailable"}))
    with pytest.raises(HelpdeskUnavailable, match="finds the same ticket"):
        hand_off(warehouse, zendesk_helpdesk(zendesk, policy), COMPLAINT, "ana", NOON)
    assert "wrong-token-1234" not in str(refused.value)
    assert warehouse.execute("SELECT count(*) FROM helpdesk_tickets").fetchone() == (0,)
    assert len(zendesk.received_at("POST /api/v2/tickets.json")) == 3  # a ticket is asked for once a hand-off


def test_a_ticket_deleted_on_the_helpdesk_leaves_the_item_open_with_a_note(warehouse, zendesk, policy):
    helpdesk = zendesk_helpdesk(zendesk, policy)
    ticket = hand_off(warehouse, helpdesk, COMPLAINT, "ana", NOON)
    zendesk.delete(ticket.ticket_id)
    assert close_solved_tickets(warehouse, helpdesk, NOON + timedelta(hours=1)) == []
    assert status_of(warehouse, COMPLAINT) == "open"
    last = TriageDesk(warehouse, actor=None).history(COMPLAINT)[-1]
    assert last[1:3] == ("zendesk", "note") and "is gone from the helpdesk" in last[3]
    close_solved_tickets(warehouse, helpdesk, NOON + timedelta(hours=2))
    assert len(zendesk.received_at("GET /api/v2/tickets/show_many.json")) == 1  # a deleted ticket is not asked for again


def test_a_signed_webhook_hand_off_and_its_solved_callback_close_the_item(warehouse, policy):
    with FakeHelpdeskWebhook() as receiver:
        helpdesk = WebhookHelpdesk(
            WriteConnection("helpdesk_webhook", {"host": receiver.url, "password": DEMO_WEBHOOK_SECRET}, policy, UA),
            callback_url="https://desk.example/helpdesk/callback",
        )
        ticket = hand_off(warehouse, helpdesk, CRISIS, "lead", NOON)
        [delivery] = receiver.deliveries
        body, headers = receiver.callback(CRISIS, "solved")

    assert (ticket.ticket_id, ticket.url) == ("HD-1", f"{receiver.base_url}/tickets/HD-1")
    assert delivery["external_id"] == CRISIS and delivery["priority"] == "urgent"
    assert delivery["item"]["text"] == "My Brightwave router caught fire"
    assert delivery["callback"] == {"url": "https://desk.example/helpdesk/callback", "statuses": ["closed", "solved"]}
    assert close_solved_tickets(warehouse, helpdesk, NOON + timedelta(hours=1)) == []  # nothing to poll

    update = ticket_callback(body, headers["X-Overheard-Signature"], DEMO_WEBHOOK_SECRET)
    assert apply_ticket_updates(warehouse, "webhook", [update], NOON + timedelta(hours=2)) == [CRISIS]
    assert status_of(warehouse, CRISIS) == "closed"
    assert apply_ticket_updates(warehouse, "webhook", [update], NOON + timedelta(hours=3)) == []  # a repeat changes nothing


def test_a_webhook_with_a_bad_signature_is_refused(warehouse, policy):
    with FakeHelpdeskWebhook() as receiver:
        wrong_secret = WebhookHelpdesk(
            WriteConnection("helpdesk_webhook", {"host": receiver.url, "password": "not-the-secret"}, policy, UA)
        )
        with pytest.raises(HandoffRefused, match="HTTP 401: invalid signature.*helpdesk_webhook connection") as refused:
            hand_off(warehouse, wrong_secret, COMPLAINT, "ana", NOON)
        body, headers = receiver.callback(COMPLAINT, "solved")
    assert receiver.deliveries == [] and "not-the-secret" not in str(refused.value)

    tampered = body.replace(b"solved", b"closed")
    with pytest.raises(CallbackRefused, match="does not match its body"):
        ticket_callback(tampered, headers["X-Overheard-Signature"], DEMO_WEBHOOK_SECRET)
    with pytest.raises(CallbackRefused):
        ticket_callback(body, None, DEMO_WEBHOOK_SECRET)
    with pytest.raises(CallbackRefused):
        ticket_callback(body, headers["X-Overheard-Signature"], "another-secret")


@dataclass
class Rule:
    """A playbook hand-off rule, as `config.playbook` holds one."""

    categories: list[str] = field(default_factory=list)
    brands: list[str] = field(default_factory=list)
    platforms: list[str] = field(default_factory=list)
    queues: list[str] = field(default_factory=list)
    min_priority: float | None = None
    escalated: bool | None = None


def test_playbook_rules_hand_off_the_items_they_hold_for_once(warehouse, zendesk, policy):
    helpdesk = zendesk_helpdesk(zendesk, policy)
    run = hand_off_matching(warehouse, helpdesk, [Rule(escalated=True), Rule(categories=["praise"])], NOON)
    assert list(run.tickets) == [CRISIS] and run.failed == {}
    assert hand_off_matching(warehouse, helpdesk, [Rule(escalated=True)], NOON).tickets == {}
    assert warehouse.execute("SELECT handed_off_by FROM helpdesk_tickets").fetchall() == [("overheard",)]

    zendesk.script("POST /api/v2/tickets.json", Answer(503, {"error": "Service Unavailable"}))
    later = hand_off_matching(warehouse, helpdesk, [Rule(queues=["care"])], NOON)
    assert later.tickets == {} and "HTTP 503" in later.failed[COMPLAINT]


def test_the_playbooks_helpdesk_settings_give_a_helpdesk_on_its_airflow_connection(warehouse, zendesk, policy, monkeypatch):
    settings = {"kind": "zendesk", "connection": "zendesk_brightwave", "requester_from_author": True, "tags": ["Social Care"]}
    with pytest.raises(HandoffRefused, match="connection 'zendesk_brightwave' is not defined.*AIRFLOW_CONN_ZENDESK_BRIGHTWAVE"):
        helpdesk_for(**settings, policy=policy, user_agent=UA)
    monkeypatch.setenv("AIRFLOW_CONN_ZENDESK_BRIGHTWAVE", json.dumps(
        {"conn_type": "http", "host": zendesk.base_url, "login": DEMO_ZENDESK_EMAIL, "password": DEMO_ZENDESK_TOKEN}))
    hand_off(warehouse, helpdesk_for(**settings, policy=policy, user_agent=UA), COMPLAINT, "ana", NOON)
    [ticket] = zendesk.tickets.values()
    assert ticket["requester"] == {"name": "@alice"}
    assert ticket["tags"] == ["complaint", "overheard", "social_care", "x"]


def test_the_care_step_hands_off_by_the_playbooks_rules_and_closes_what_the_helpdesk_solved(
    tmp_path, warehouse, zendesk, monkeypatch
):
    config = Config.model_validate({
        "warehouse": {"path": str(tmp_path / "w.duckdb")}, "staging": str(tmp_path / "staging"),
        "brands": [{"name": "Brightwave", "aliases": ["Brightwave"]}],
        "sources": [{"kind": "rss", "name": "news", "url": "https://n.example/feed"}],
        "http": {"timeout_seconds": 2.0, "max_retries": 0},
        "playbook": {
            "categories": [{"name": "crisis", "query": "fire", "escalate": True}],
            "queues": [{"name": "care"}], "default_queue": "care",
            "helpdesk": {"kind": "zendesk", "connection": "zendesk_care"}, "handoff": [{"escalated": True}],
        },
    })
    assert playbook_helpdesk_step(warehouse, config, NOON) == (
        "helpdesk not reached (tried again next run): helpdesk hand-offs: Airflow connection 'zendesk_care' is not defined; "
        "set AIRFLOW_CONN_ZENDESK_CARE or add it with `airflow connections add`"
    )
    monkeypatch.setenv("AIRFLOW_CONN_ZENDESK_CARE", json.dumps(
        {"conn_type": "http", "host": zendesk.base_url, "login": DEMO_ZENDESK_EMAIL, "password": DEMO_ZENDESK_TOKEN}))

    assert playbook_helpdesk_step(warehouse, config, NOON) == "helpdesk: 1 handed off, 0 to retry next run, 0 closed"
    [ticket_id] = zendesk.tickets
    zendesk.tickets[ticket_id]["status"] = "solved"
    assert playbook_helpdesk_step(warehouse, config, NOON + timedelta(hours=1)) == (
        "helpdesk: 0 handed off, 0 to retry next run, 1 closed"
    )
    assert status_of(warehouse, CRISIS) == "closed"
