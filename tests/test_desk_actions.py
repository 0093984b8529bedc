"""The desk on the warehouse: actions seen at once and applied by one writer while a load holds the lock,
the inbox's order, filters and rows, the item page's conversation, the lead's board, and the rules the
command-line desk shares."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from care.desk import TriageDesk
from care.helpdesk import WebhookHelpdesk, ZendeskHelpdesk
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
from desk.state import DeskState, desk_state_path, read_time
from tests.test_care import MONDAY_NOON, add_mention
from tests.test_desk_authorisation import number_of
from tests.test_desk_server import (
    PASSWORDS,
    RecordingChannel,
    csrf_token,
    desk_config,
    served_desk,
    set_passwords,
    sign_in,
    triage,
    wait_until,
)
from transport.http import RetryPolicy
from warehouse.connection import open_warehouse, read_warehouse
from warehouse.snapshot import publish_snapshot

REPO = Path(__file__).resolve().parents[1]
_CLOSE_FROM_THE_COMMAND_LINE = """
import sys
from care.desk import TriageDesk
from care.helpdesk import ZendeskHelpdesk
from care.triage import CareStep
from transport.http import RetryPolicy
from config import load_config
from warehouse.connection import open_warehouse
from warehouse.snapshot import publish_snapshot
config = load_config(sys.argv[1])
with open_warehouse(config.warehouse.path) as warehouse:
    print("locked", flush=True)
    sys.stdin.readline()
    TriageDesk(warehouse, "bo", config.playbook).close("x:6", "sorted by phone")
    publish_snapshot(warehouse, config.warehouse.path, "triage:bo")
"""
_HOLD_THE_LOCK = "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('locked', flush=True); sys.stdin.readline()"


@pytest.fixture
def config(tmp_path: Path) -> Config:
    config = desk_config(tmp_path)
    triage(config, "run-1", MONDAY_NOON)
    set_passwords(config)
    return config


def committed(config: Config, sql: str) -> list[tuple]:
    connection = read_warehouse(config.warehouse.path)
    assert connection is not None
    with connection:
        return connection.execute(sql).fetchall()


def row_of(page: str, key: str) -> str:
    found = re.search(rf'<tr data-number="\d+" data-key="{re.escape(key)}".*?</tr>', page, re.DOTALL)
    assert found, f"{key} is not listed"
    return found.group(0)


def listed(page: str) -> list[str]:
    return re.findall(r'data-key="([^"]+)"', page)


def test_an_action_during_a_load_is_seen_at_once_and_applied_when_the_load_lets_go(config):
    with served_desk(config) as base:
        ana, bo = sign_in(base, "ana"), sign_in(base, "bo")
        number = number_of(sign_in(base, "lead"), base, "x:2")
        holder = subprocess.Popen([sys.executable, "-c", _HOLD_THE_LOCK, config.warehouse.path],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
            acted = datetime.now(UTC)
            claim = ana.post(f"{base}/items/{number}/claim", data={"csrf_token": csrf_token(ana, f"{base}/inbox")})
            assert claim.status_code == 200 and "Claimed: it is yours." in claim.text
            # At once, for ana and for bo, though the warehouse cannot be written.
            assert "<span class=\"held\">you</span>" in row_of(ana.get(f"{base}/inbox/rows").text, "x:2")
            bo_sees = bo.get(f"{base}/items/{number}").text
            assert "claimed by <strong class=\"holder\">ana</strong>" in bo_sees
            assert "ana holds this item; only they reply." in bo_sees
            wait_until(lambda: "a pipeline load has held it since" in ana.get(f"{base}/inbox/rows").text)
            assert committed(config, "SELECT status FROM triage_items WHERE mention_key = 'x:2'") == [("open",)]
        finally:
            if holder.stdin:
                holder.stdin.close()
            holder.wait(timeout=20)
        wait_until(lambda: committed(config, "SELECT status FROM triage_items WHERE mention_key = 'x:2'")
                   == [("claimed",)])
        [(actor, acted_at)] = committed(
            config, "SELECT actor, acted_at FROM triage_actions WHERE mention_key = 'x:2' AND action = 'claimed'")
        assert actor == "ana" and abs(acted_at - acted) < timedelta(seconds=2)  # when ana acted, not when applied
        assert "on the way to the warehouse" not in ana.get(f"{base}/inbox/rows").text


def test_a_second_agent_sees_who_holds_the_item_and_cannot_take_it(config):
    with served_desk(config) as base:
        ana, bo = sign_in(base, "ana"), sign_in(base, "bo")
        number = number_of(sign_in(base, "lead"), base, "x:1")
        ana.post(f"{base}/items/{number}/claim", data={"csrf_token": csrf_token(ana, f"{base}/inbox")})
        taken = bo.post(f"{base}/items/{number}/claim", data={"csrf_token": csrf_token(bo, f"{base}/inbox")})
        assert "x:1 is already claimed by ana; a lead can reassign it" in taken.text
        closed = bo.post(f"{base}/items/{number}/close", data={"csrf_token": csrf_token(bo, f"{base}/inbox")})
        assert closed.status_code == 403 and "ana holds this item" in closed.text


def test_the_command_line_desk_and_the_web_desk_keep_one_set_of_rules(config, tmp_path):
    with served_desk(config) as base:
        lead, ana = sign_in(base, "lead"), sign_in(base, "ana")
        number = number_of(lead, base, "x:6")
        with open_warehouse(config.warehouse.path) as warehouse:  # bo claims from the command line
            TriageDesk(warehouse, "bo", config.playbook).claim("x:6")
            publish_snapshot(warehouse, config.warehouse.path, "triage:bo")
        taken = ana.post(f"{base}/items/{number}/claim", data={"csrf_token": csrf_token(ana, f"{base}/inbox")})
        assert "x:6 is already claimed by bo; a lead can reassign it" in taken.text
        # A lead's reassignment queued on the desk while the command line holds the warehouse and closes the
        # item: the writer then refuses the reassignment with the same rule, and the lead is told.
        config_file = tmp_path / "config.json"
        config_file.write_text(config.model_dump_json(exclude_none=True))
        closer = subprocess.Popen([sys.executable, "-c", _CLOSE_FROM_THE_COMMAND_LINE, str(config_file)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=REPO)
        assert closer.stdout is not None and closer.stdout.readline() == b"locked\n"
        lead.post(f"{base}/items/{number}/reassign", data={"csrf_token": csrf_token(lead, f"{base}/inbox"), "to": "ana"})
        assert closer.stdin is not None
        closer.stdin.close()
        assert closer.wait(timeout=30) == 0
        wait_until(lambda: "did not go through" in lead.get(f"{base}/inbox/rows").text)
        assert "Your reassign of x:6 did not go through: x:6 is closed; this action needs it to be open or claimed " \
               "or responded" in lead.get(f"{base}/inbox/rows").text


def test_the_inbox_lists_escalated_first_then_priority_and_due_with_each_rows_facts(config):
    with served_desk(config) as base:
        lead = sign_in(base, "lead")
        page = lead.get(f"{base}/inbox").text
        assert listed(page) == ["x:4", "x:1", "x:2", "x:3", "x:5", "x:6"]
        row = row_of(page, "x:4")
        assert "escalated" in row and "crisis" in row and "someone" in row and "100 followers" in row
        assert "<mark>Brightwave</mark> router caught fire, my son was injured" in row
        assert re.search(r"overdue \d+d \d+h", row)  # opened on 2 November
        assert "<td class=\"num\">0.54</td>" in row
        # Times in the viewer's timezone: lead signed in from a browser in Europe/Paris.
        assert "Europe/Paris" in page and "CET" in row
        # Filters and search.
        assert listed(lead.get(f"{base}/inbox?queue=sales").text) == ["x:5"]
        assert listed(lead.get(f"{base}/inbox?category=praise").text) == ["x:6"]
        assert listed(lead.get(f"{base}/inbox?q=caught+fire").text) == ["x:4"]
        number = number_of(lead, base, "x:3")
        assert listed(lead.get(f"{base}/inbox?q=%23{number}").text) == ["x:3"]
        assert listed(lead.get(f"{base}/inbox?overdue=1").text) == ["x:4", "x:1", "x:2", "x:3", "x:5", "x:6"]
        # ana sees her queue (care), and with "mine" what is hers (assigned by the pipeline: x:1, x:6).
        ana = sign_in(base, "ana")
        assert listed(ana.get(f"{base}/inbox").text) == ["x:1", "x:2", "x:3", "x:6"]
        assert listed(ana.get(f"{base}/inbox?mine=1").text) == ["x:1", "x:6"]


def test_the_item_page_shows_the_conversation_story_author_history_trail_and_template(config):
    later = MONDAY_NOON + timedelta(hours=1)
    with open_warehouse(config.warehouse.path) as warehouse:
        add_mention(warehouse, "x:10", "Brightwave is the broadband I use", "run-2", later, author="carol", sentiment=0.0)
        add_mention(warehouse, "x:11", "Brightwave caught fire again?! injured", "run-2", later, author="carol")
        add_mention(warehouse, "x:12", "RT Brightwave caught fire again?! injured", "run-2", later, author="dan")
        warehouse.execute("UPDATE mentions SET parent_id = 'x:10', thread_id = 'x:10', story_id = 'x:11' "
                          "WHERE mention_key = 'x:11'")
        warehouse.execute("UPDATE mentions SET story_id = 'x:11', story_reason = 'retweet', author_followers = 5000 "
                          "WHERE mention_key = 'x:12'")
        warehouse.execute("UPDATE mention_brands SET matched_terms = ['Brightwave'] WHERE len(matched_terms) = 0")
        CareStep(warehouse, config, "run-2", later).run()
        publish_snapshot(warehouse, config.warehouse.path, "run-2")
    with served_desk(config) as base:
        lead = sign_in(base, "lead")
        page = lead.get(f"{base}/items/{number_of(lead, base, 'x:11')}").text
        assert "In reply to <strong>carol</strong>" in page and "the broadband I use" in page
        assert "2 mentions by 2 authors: 1 retweets and reposts" in page and "(reaching 5k)" in page
        assert "carol's other mentions" in page
        assert "Please DM us now." in page  # the crisis category's response template
        assert re.search(r"<strong>overheard</strong> routed\s+to escalations", page)
        assert "<mark>Brightwave</mark> caught fire again?! injured" in page


def test_the_leads_board_counts_backlog_agents_online_and_escalations(config):
    with served_desk(config) as base:
        lead, ana = sign_in(base, "lead"), sign_in(base, "ana")
        ana.get(f"{base}/inbox")
        board = lead.get(f"{base}/board/live").text
        care = board[board.index("<h2>care</h2>"):board.index("<h2>escalations</h2>")]
        assert re.search(r'Backlog</dt><dd class="big">4</dd>', care)
        assert re.search(r'class="dot on" title="online"></span>ana <small>2 open</small>', care)
        assert re.search(r'class="dot off" title="offline"></span>bo <small>2 open</small>', care)
        escalations = board[board.index("Escalations waiting"):board.index("Replies waiting")]
        assert "crisis: Brightwave router caught fire" in escalations and "overdue" in escalations
        assert "This week's staffing" in board


def test_a_reopened_item_comes_back_to_the_inbox(config):
    with open_warehouse(config.warehouse.path) as warehouse:
        desk = TriageDesk(warehouse, "ana", config.playbook)
        desk.claim("x:1")
        desk.respond("x:1", "https://x.com/brightwavehelp/status/1", MONDAY_NOON + timedelta(minutes=30))
        desk.close("x:1", "fixed")
        publish_snapshot(warehouse, config.warehouse.path, "triage:ana")
    with served_desk(config) as base:
        lead = sign_in(base, "lead", PASSWORDS["lead"])
        number = number_of(lead, base, "x:1")
        assert "x:1" not in listed(lead.get(f"{base}/inbox").text)
        lead.post(f"{base}/items/{number}/reopen", data={"csrf_token": csrf_token(lead, f"{base}/inbox"),
                                                         "reason": "down again"})
        assert "x:1" in listed(lead.get(f"{base}/inbox").text)


def test_a_refused_reply_shows_the_platforms_reason_and_leaves_the_item_claimed_and_unanswered(config):
    channel = RecordingChannel(refuse="You are not allowed to create a Tweet with duplicate content.")
    with served_desk(config, channel) as base:
        ana = sign_in(base, "ana")
        number = number_of(sign_in(base, "lead"), base, "x:1")
        ana.post(f"{base}/items/{number}/claim", data={"csrf_token": csrf_token(ana, f"{base}/inbox")})
        page = ana.get(f"{base}/items/{number}").text
        form_token = re.search(r'name="reply_token" value="([^"]+)"', page)
        assert form_token
        refused = ana.post(f"{base}/items/{number}/reply", data={
            "csrf_token": csrf_token(ana, f"{base}/inbox"), "reply_token": form_token.group(1), "text": "Sorry!"})
        assert "x refused the reply: You are not allowed to create a Tweet with duplicate content." in refused.text
        status = ana.get(f"{base}/items/{number}/status").text
        assert 'claimed by <strong class="holder">you</strong>' in status and "Answered" not in status
        # She can also record an answer she gave on the platform herself.
        wait_until(lambda: "on its way" not in ana.get(f"{base}/items/{number}").text)
        recorded = ana.post(f"{base}/items/{number}/respond", data={
            "csrf_token": csrf_token(ana, f"{base}/inbox"), "url": "https://x.com/brightwavehelp/status/77"})
        assert "Response recorded." in recorded.text
        wait_until(lambda: committed(config, "SELECT first_response_url FROM triage_items WHERE mention_key = 'x:1'")
                   == [("https://x.com/brightwavehelp/status/77",)])
        assert channel.posted == []


def test_a_reply_that_may_have_been_posted_is_never_sent_a_second_time(config):
    channel = RecordingChannel(uncertain="X did not answer within 30 s after the reply was sent")
    with served_desk(config, channel) as base:
        ana = sign_in(base, "ana")
        number = number_of(sign_in(base, "lead"), base, "x:1")
        ana.post(f"{base}/items/{number}/claim", data={"csrf_token": csrf_token(ana, f"{base}/inbox")})

        def reply_form() -> str:  # the page as a tab opens it
            form_token = re.search(r'name="reply_token" value="([^"]+)"', ana.get(f"{base}/items/{number}").text)
            assert form_token
            return form_token.group(1)

        def send(reply_token: str, text: str) -> str:
            return ana.post(f"{base}/items/{number}/reply", data={
                "csrf_token": csrf_token(ana, f"{base}/inbox"), "reply_token": reply_token, "text": text}).text

        first_tab, second_tab = reply_form(), reply_form()
        send(first_tab, "Sorry!")
        again = send(second_tab, "Sorry! (again)")  # from a tab opened before the first send

        assert "a reply to this item may have been posted already: a lead checks the platform" in again
        assert channel.sends == 1
        wait_until(lambda: any("may have been posted" in str(detail) for (detail,) in committed(
            config, "SELECT detail FROM triage_actions WHERE mention_key = 'x:1' AND action = 'note'")))


def test_a_lead_settles_a_reply_that_may_have_been_posted_and_an_agent_cannot(config):
    channel = RecordingChannel(uncertain="X did not answer within 30 s after the reply was sent")
    with served_desk(config, channel) as base:
        ana, lead = sign_in(base, "ana"), sign_in(base, "lead")
        numbers = {key: number_of(lead, base, key) for key in ("x:1", "x:2")}

        def uncertain_reply(key: str, text: str) -> int:
            """ana claims the item and replies; X times out after the send: the reply's id."""
            number = numbers[key]
            ana.post(f"{base}/items/{number}/claim", data={"csrf_token": csrf_token(ana, f"{base}/inbox")})
            form_token = re.search(r'name="reply_token" value="([^"]+)"', ana.get(f"{base}/items/{number}").text)
            assert form_token
            ana.post(f"{base}/items/{number}/reply", data={
                "csrf_token": csrf_token(ana, f"{base}/inbox"), "reply_token": form_token.group(1), "text": text})
            found = re.search(r'action="/replies/(\d+)/posted"', lead.get(f"{base}/items/{number}/status").text)
            assert found, "the lead is offered to settle it"
            return int(found.group(1))

        def reply_state(reply_id: int) -> str:
            with DeskState(desk_state_path(config.warehouse.path)).connect() as state:
                return str(state.execute("SELECT state FROM replies WHERE reply_id = ?", [reply_id]).fetchone()[0])

        # Not posted: x:1's reply blocks another until the lead clears it; an agent cannot clear it.
        first = uncertain_reply("x:1", "Sorry!")
        status = ana.get(f"{base}/items/{numbers['x:1']}/status").text
        assert f"Reply {first} by ana may have been posted" in status and "A lead checks x" in status
        assert "/not-posted" not in status  # no settling forms for an agent
        page = ana.get(f"{base}/items/{numbers['x:1']}").text  # and no reply form until a lead has checked
        assert 'name="reply_token"' not in page and "nobody replies again until a lead has checked" in page
        for decision in ("posted", "not-posted"):
            refused = ana.post(f"{base}/replies/{first}/{decision}", data={
                "csrf_token": csrf_token(ana, f"{base}/inbox"), "url": "https://x.com/brightwavehelp/status/5"})
            assert refused.status_code == 403 and "only a lead can" in refused.text
        assert reply_state(first) == "unknown"
        cleared = lead.post(f"{base}/replies/{first}/not-posted", data={"csrf_token": csrf_token(lead, f"{base}/inbox")})
        assert "Cleared: the reply was not posted; the item can be replied to again." in cleared.text
        assert reply_state(first) == "not_posted"
        again = lead.post(f"{base}/replies/{first}/posted", data={
            "csrf_token": csrf_token(lead, f"{base}/inbox"), "url": "https://x.com/brightwavehelp/status/5"})
        assert f"reply {first} is not posted, not one that may have been posted" in again.text
        channel.uncertain = None
        form_token = re.search(r'name="reply_token" value="([^"]+)"', ana.get(f"{base}/items/{numbers['x:1']}").text)
        assert form_token
        resent = ana.post(f"{base}/items/{numbers['x:1']}/reply", data={
            "csrf_token": csrf_token(ana, f"{base}/inbox"), "reply_token": form_token.group(1), "text": "Sorry again!"})
        assert "Reply sent: https://x.com/brightwavehelp/status/90001" in resent.text
        assert channel.posted == [("x:1", "Sorry again!")]

        # Posted after all: the lead records x:2's reply's link, which becomes the item's response.
        channel.uncertain = "X answered 503 after the reply was sent"
        second = uncertain_reply("x:2", "Sorry about that!")
        with DeskState(desk_state_path(config.warehouse.path)).connect() as state:
            (sent_at,) = state.execute("SELECT updated_at FROM replies WHERE reply_id = ?", [second]).fetchone()
        bad = lead.post(f"{base}/replies/{second}/posted", data={"csrf_token": csrf_token(lead, f"{base}/inbox"),
                                                                 "url": "x.com/brightwavehelp"})
        assert "give the link of the reply on the platform, starting with https://" in bad.text
        recorded = lead.post(f"{base}/replies/{second}/posted", data={
            "csrf_token": csrf_token(lead, f"{base}/inbox"), "url": "https://x.com/brightwavehelp/status/777"})
        assert "Recorded: the reply was posted, and its link is now the response." in recorded.text
        assert reply_state(second) == "sent" and channel.sends == 3
        wait_until(lambda: committed(config, "SELECT first_response_url FROM triage_items WHERE mention_key = 'x:2'")
                   == [("https://x.com/brightwavehelp/status/777",)])
        assert "may have been posted" not in ana.get(f"{base}/items/{numbers['x:2']}/status").text
    [(responder, responded_at)] = committed(
        config, "SELECT actor, acted_at FROM triage_actions WHERE mention_key = 'x:2' AND action = 'responded'")
    assert responder == "ana" and responded_at == read_time(sent_at)  # hers, when the send ended
    checks = committed(config, "SELECT mention_key, actor, detail->>'outcome', detail->>'url' FROM triage_actions "
                               "WHERE action = 'reply_checked' ORDER BY action_id")
    assert checks == [("x:1", "lead", "not_posted", None), ("x:2", "lead", "posted", "https://x.com/brightwavehelp/status/777")]


def test_an_agent_hands_an_item_to_zendesk_and_the_ticket_is_kept_on_it(config):
    with FakeZendesk() as zendesk:
        credentials = {"login": DEMO_ZENDESK_EMAIL, "password": DEMO_ZENDESK_TOKEN, "host": zendesk.base_url, "extra": {}}
        policy = RetryPolicy.from_settings(HttpSettings(max_retries=0, backoff_seconds=0.0))
        helpdesk = ZendeskHelpdesk(WriteConnection("zendesk_default", credentials, policy, "overheard-test"))
        with served_desk(config, helpdesk=helpdesk) as base:
            ana = sign_in(base, "ana")
            number = number_of(sign_in(base, "lead"), base, "x:2")
            ana.post(f"{base}/items/{number}/claim", data={"csrf_token": csrf_token(ana, f"{base}/inbox")})
            sent = ana.post(f"{base}/items/{number}/hand_off", data={"csrf_token": csrf_token(ana, f"{base}/inbox")})
            [ticket_id] = [str(key) for key in zendesk.tickets]
            assert f"Sent to the helpdesk: ticket {ticket_id}" in sent.text
            assert f'ticket <a href="{zendesk.base_url}/agent/tickets/{ticket_id}"' in sent.text
            [created] = zendesk.received_at("POST /api/v2/tickets.json")
            assert created.json()["ticket"]["external_id"] == "x:2"
            assert f"Overheard item: {base}/items/{number}" in created.json()["ticket"]["comment"]["body"]
            again = ana.post(f"{base}/items/{number}/hand_off", data={"csrf_token": csrf_token(ana, f"{base}/inbox")})
            assert f"this item is already with the helpdesk: ticket {ticket_id}" in again.text
            wait_until(lambda: committed(config, "SELECT ticket_id, handed_off_by FROM helpdesk_tickets")
                       == [(ticket_id, "ana")])
            assert len(zendesk.tickets) == 1


def test_a_webhook_helpdesks_signed_callback_closes_the_item_and_a_forged_one_changes_nothing(config):
    with FakeHelpdeskWebhook() as receiver:
        policy = RetryPolicy.from_settings(HttpSettings(max_retries=0, backoff_seconds=0.0))
        helpdesk = WebhookHelpdesk(WriteConnection(
            "helpdesk_webhook", {"host": receiver.url, "password": DEMO_WEBHOOK_SECRET}, policy, "overheard-test"))
        with served_desk(config, helpdesk=helpdesk) as base:
            ana = sign_in(base, "ana")
            number = number_of(sign_in(base, "lead"), base, "x:2")
            sent = ana.post(f"{base}/items/{number}/hand_off", data={"csrf_token": csrf_token(ana, f"{base}/inbox")})
            assert "Sent to the helpdesk: ticket HD-1" in sent.text and len(receiver.deliveries) == 1
            callback = f"{base}/helpdesk/callback"
            body, headers = receiver.callback("x:2", "solved")

            tampered = requests.post(callback, data=body.replace(b"solved", b"closed"), headers=headers)
            unsigned = requests.post(callback, data=body, headers={"Content-Type": "application/json"})
            assert (tampered.status_code, unsigned.status_code) == (401, 401)
            assert "does not match its body" in tampered.json()["error"]
            other_body, other_headers = receiver.callback("x:3", "solved")  # signed, but x:3 was never handed off
            other = requests.post(callback, data=other_body, headers=other_headers)
            assert other.status_code == 404 and "no ticket was handed to webhook for 'x:3'" in other.json()["error"]
            wait_until(lambda: committed(config, "SELECT ticket_id FROM helpdesk_tickets") == [("HD-1",)])
            assert committed(config, "SELECT status FROM triage_items WHERE mention_key IN ('x:2', 'x:3') "
                                     "ORDER BY mention_key") == [("open",), ("open",)]

            accepted = requests.post(callback, data=body, headers=headers)
            assert accepted.status_code == 202 and accepted.json() == {"external_id": "x:2", "status": "solved"}
            assert '<dd class="status closed">closed</dd>' in ana.get(f"{base}/items/{number}/status").text  # at once
            assert requests.post(callback, data=body, headers=headers).status_code == 202  # a repeat
            wait_until(lambda: committed(config, "SELECT status FROM helpdesk_tickets") == [("solved",)])
            assert committed(config, "SELECT status FROM triage_items WHERE mention_key = 'x:2'") == [("closed",)]
    assert committed(config, "SELECT actor, detail->>'reason' FROM triage_actions WHERE mention_key = 'x:2' "
                             "AND action = 'closed'") == [("webhook", "webhook ticket HD-1 solved")]
