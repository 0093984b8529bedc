"""The desk in Chromium, as the care team uses it: an agent signs in, a new item appears without a reload,
she claims it and replies on X; a second agent sees it claimed; a lead reassigns, and approves an
escalated reply; a lead settles a reply that may have been posted; an agent hands an item to Zendesk,
and the ticket solved there closes it. Screenshots
land in var/screenshots/ for a person to look at."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from care.helpdesk import ZendeskHelpdesk, close_solved_tickets
from care.replies.platforms import reply_sender
from care.replies.transport import WriteConnection
from config.model import Config, HttpSettings
from demo.fake_apis.helpdesk_apis import DEMO_ZENDESK_EMAIL, DEMO_ZENDESK_TOKEN, FakeZendesk
from demo.fake_apis.write_apis import DEMO_X_KEYS, FakeXWrites
from desk.platform_replies import PlatformReplies
from tests.test_care import MONDAY_NOON
from tests.test_desk_server import (
    PASSWORDS,
    RecordingChannel,
    desk_config,
    served_desk,
    set_passwords,
    triage,
    wait_until,
)
from transport.http import RetryPolicy
from warehouse.connection import open_warehouse, read_warehouse
from warehouse.snapshot import publish_snapshot

CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("OVERHEARD_REQUIRE_CHROMIUM"),
    reason="Chromium is not installed (apt-get install chromium); set OVERHEARD_REQUIRE_CHROMIUM to fail instead",
)
SCREENSHOTS = Path(__file__).resolve().parents[1] / "var" / "screenshots"
NEW_ITEM_WITHIN_MS = 10_000


@pytest.fixture
def config(tmp_path: Path) -> Config:
    config = desk_config(tmp_path)
    triage(config, "run-1", MONDAY_NOON)
    set_passwords(config)
    return config


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM or "chromium", args=["--no-sandbox"])
        yield browser
        browser.close()


def signed_in(browser: Browser, base: str, name: str) -> Page:
    """A browser window of its own (its own cookies), in Paris, signed in as `name`."""
    page = browser.new_context(timezone_id="Europe/Paris", viewport={"width": 1400, "height": 900}).new_page()
    page.goto(f"{base}/inbox")
    expect(page.get_by_role("heading", name="Sign in to the care desk")).to_be_visible()
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(PASSWORDS[name])
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("header .name")).to_have_text(name)
    return page


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"desk-{name}.png"), full_page=True)


@pytest.fixture
def x_api() -> Iterator[FakeXWrites]:
    with FakeXWrites() as api:
        yield api


def replies_on(x_api: FakeXWrites) -> PlatformReplies:
    """The desk's replies on X through care.replies' sender (tweepy), to the fake X write API."""
    credentials = {"login": DEMO_X_KEYS["consumer_key"], "password": DEMO_X_KEYS["consumer_secret"],
                   "host": x_api.base_url, "extra": {"access_token": DEMO_X_KEYS["access_token"],
                                                     "access_token_secret": DEMO_X_KEYS["access_token_secret"]}}
    policy = RetryPolicy.from_settings(HttpSettings(timeout_seconds=5.0, max_retries=0, backoff_seconds=0.0))
    return PlatformReplies({"x": reply_sender("x", credentials, policy=policy, user_agent="overheard-test")})


@needs_chromium
def test_agents_and_a_lead_work_an_item_in_the_browser(config, browser, x_api):
    with served_desk(config, replies_on(x_api)) as base:
        ana = signed_in(browser, base, "ana")
        expect(ana).to_have_url(f"{base}/inbox")
        expect(ana.locator("header .zone")).to_have_text("Europe/Paris")  # the browser's timezone
        rows = ana.locator("#rows tr[data-key]")
        expect(rows).to_have_count(4)  # the care queue: x:1, x:2, x:3, x:6
        shot(ana, "inbox-agent")

        # A new complaint arrives from the pipeline while ana looks: it appears without a reload.
        ana.evaluate("window.stillTheSamePage = true")
        triage(config, "run-2", datetime.now(UTC), ("x:20", "Brightwave broadband down again in Hull, third time"))
        new_row = ana.locator('#rows tr[data-key="x:20"]')
        expect(new_row).to_be_visible(timeout=NEW_ITEM_WITHIN_MS)
        assert ana.evaluate("window.stillTheSamePage") is True
        expect(new_row.locator("mark")).to_have_text("Brightwave")
        expect(new_row.locator(".sla")).to_contain_text("left")

        # She claims it from the keyboard: j moves to the row, c claims.
        number = new_row.get_attribute("data-number")
        for _ in range(rows.count()):
            ana.keyboard.press("j")
            if ana.locator("#rows tr.selected").get_attribute("data-key") == "x:20":
                break
        expect(ana.locator("#rows tr.selected")).to_have_attribute("data-key", "x:20")
        ana.keyboard.press("c")
        expect(ana.locator(".flash")).to_have_text("Claimed: it is yours.")
        expect(ana.locator('#rows tr[data-key="x:20"] .held')).to_have_text("you")

        # A second agent sees who holds it and gets no reply form.
        bo = signed_in(browser, base, "bo")
        bo.goto(f"{base}/items/{number}")
        expect(bo.locator(".status .holder")).to_have_text("ana")
        expect(bo.locator(".held-by")).to_contain_text("ana holds this item; only they reply.")
        expect(bo.locator(".reply-form")).to_have_count(0)
        shot(bo, "item-claimed-by-someone-else")

        # ana replies on X: the platform gets exactly her text, in reply to the post.
        ana.goto(f"{base}/items/{number}")
        ana.keyboard.press("r")
        ana.keyboard.type("Sorry about this, Hull team is on it. Please DM us your postcode.")
        ana.get_by_role("button", name="Send on x").click()
        expect(ana.locator(".flash")).to_contain_text("Reply sent: https://x.com/")
        assert [(post["in_reply_to_tweet_id"], post["text"]) for post in x_api.posts] == [
            ("20", "Sorry about this, Hull team is on it. Please DM us your postcode.")]
        expect(ana.locator(".reply.sent")).to_contain_text("Sorry about this, Hull team is on it.")
        expect(ana.locator(".trail")).to_contain_text("ana responded")
        shot(ana, "item-replied")

        # The lead gives an escalated crisis (x:4, in a queue without roster) to ana.
        lead = signed_in(browser, base, "lead")
        lead.get_by_placeholder("Search text, author, or #item").fill("caught fire")
        lead.get_by_placeholder("Search text, author, or #item").press("Enter")
        crisis = lead.locator('#rows tr[data-key="x:4"]')
        expect(crisis).to_contain_text("escalated")
        crisis_number = crisis.get_attribute("data-number")
        lead.goto(f"{base}/items/{crisis_number}")
        lead.locator(".reassign select[name=to]").select_option("ana")
        lead.get_by_role("button", name="Reassign").click()
        expect(lead.locator(".flash")).to_have_text("Reassigned.")
        expect(lead.locator(".status-panel")).to_contain_text("ana")

        # ana claims it and writes a reply, which waits for a lead.
        ana.goto(f"{base}/items/{crisis_number}")
        ana.get_by_role("button", name="Claim").click()
        ana.get_by_label("Your reply").fill("We are so sorry. Please DM us now so our incident team can help.")
        ana.get_by_role("button", name="Send for a lead's approval").click()
        expect(ana.locator(".flash")).to_have_text("Your reply waits for a lead's approval.")
        assert len(x_api.posts) == 1

        # The board shows it waiting; the lead approves and it is posted.
        lead.goto(f"{base}/board")
        expect(lead.locator(".approvals")).to_contain_text("by ana")
        expect(lead.locator(".queue-card").first).to_contain_text("ana")
        shot(lead, "board")
        lead.goto(f"{base}/items/{crisis_number}")
        shot(lead, "item-awaiting-approval")
        lead.get_by_role("button", name="Approve and send").click()
        expect(lead.locator(".flash")).to_contain_text("Reply sent:")
        assert (x_api.posts[-1]["in_reply_to_tweet_id"], x_api.posts[-1]["text"]) == (
            "4", "We are so sorry. Please DM us now so our incident team can help.")
        expect(lead.locator(".reply.sent")).to_contain_text("approved by lead")
        shot(lead, "item-approved")


def kept_tickets(config: Config) -> list[tuple]:
    """The tickets kept on items, as the desk's snapshot has them."""
    connection = read_warehouse(config.warehouse.path)
    assert connection is not None
    with connection:
        return connection.execute("SELECT mention_key, ticket_id, status, handed_off_by FROM helpdesk_tickets").fetchall()


@needs_chromium
def test_an_agent_hands_an_item_to_zendesk_and_the_solved_ticket_closes_it_in_the_browser(config, browser):
    with FakeZendesk() as zendesk:
        credentials = {"login": DEMO_ZENDESK_EMAIL, "password": DEMO_ZENDESK_TOKEN, "host": zendesk.base_url,
                       "extra": {}}
        policy = RetryPolicy.from_settings(HttpSettings(max_retries=0, backoff_seconds=0.0))
        helpdesk = ZendeskHelpdesk(WriteConnection("zendesk_default", credentials, policy, "overheard-test"))
        with served_desk(config, helpdesk=helpdesk) as base:
            ana = signed_in(browser, base, "ana")
            row = ana.locator('#rows tr[data-key="x:2"]')
            number = row.get_attribute("data-number")
            row.get_by_role("link", name=f"#{number}").click()
            expect(ana).to_have_url(f"{base}/items/{number}")
            ana.get_by_role("button", name="Claim").click()
            expect(ana.locator(".flash")).to_have_text("Claimed: it is yours.")
            ana.get_by_role("button", name="Send to zendesk").click()

            # Zendesk got one ticket through its Tickets API, linking back to the item.
            [created] = zendesk.received_at("POST /api/v2/tickets.json")
            ticket_id = str(next(iter(zendesk.tickets)))
            expect(ana.locator(".flash")).to_have_text(f"Sent to the helpdesk: ticket {ticket_id}")
            ticket = created.json()["ticket"]
            assert ticket["external_id"] == "x:2" and ticket["comment"]["public"] is False
            assert f"Overheard item: {base}/items/{number}" in ticket["comment"]["body"]
            assert "overheard" in ticket["tags"] and ticket["subject"] == "X someone: complaint (Brightwave)"
            assert created.headers["idempotency-key"] and created.headers["authorization"].startswith("Basic ")
            link = ana.locator(".status-panel .ticket a")
            expect(link).to_have_text(ticket_id)
            expect(link).to_have_attribute("href", f"{zendesk.base_url}/agent/tickets/{ticket_id}")
            expect(ana.locator(".status-panel .ticket")).to_contain_text("(new)")
            expect(ana.get_by_role("button", name="Send to zendesk")).to_have_count(0)  # one ticket per item
            shot(ana, "item-handed-to-zendesk")

            # An agent solves it in Zendesk; the next care run polls the open tickets and closes the item,
            # and the desk's status panel shows it without a reload.
            wait_until(lambda: kept_tickets(config) == [("x:2", ticket_id, "new", "ana")])
            zendesk.solve(ticket_id)
            ana.evaluate("window.stillTheSamePage = true")
            with open_warehouse(config.warehouse.path) as warehouse:  # what the care task does each run
                assert close_solved_tickets(warehouse, helpdesk, datetime.now(UTC)) == ["x:2"]
                publish_snapshot(warehouse, config.warehouse.path, "run-2")
            expect(ana.locator(".status-panel dd.status")).to_have_text("closed", timeout=NEW_ITEM_WITHIN_MS)
            expect(ana.locator(".status-panel .ticket")).to_contain_text("(solved)")
            assert ana.evaluate("window.stillTheSamePage") is True
            ana.reload()
            expect(ana.locator(".trail")).to_contain_text(f"zendesk closed: zendesk ticket {ticket_id} solved")
            shot(ana, "item-closed-by-zendesk")
            ana.goto(f"{base}/inbox")
            expect(ana.locator('#rows tr[data-key="x:2"]')).to_have_count(0)  # no longer to do
            ana.goto(f"{base}/inbox?view=closed")
            expect(ana.locator('#rows tr[data-key="x:2"]')).to_be_visible()


@needs_chromium
def test_a_lead_records_a_reply_that_may_have_been_posted_in_the_browser(config, browser):
    channel = RecordingChannel(uncertain="X did not answer within 30 s after the reply was sent")
    with served_desk(config, channel) as base:
        ana = signed_in(browser, base, "ana")
        number = ana.locator('#rows tr[data-key="x:1"]').get_attribute("data-number")
        ana.goto(f"{base}/items/{number}")
        ana.get_by_role("button", name="Claim").click()
        ana.get_by_label("Your reply").fill("Sorry about the outage, we are on it.")
        ana.get_by_role("button", name="Send on x").click()
        expect(ana.locator(".flash")).to_have_text("x may or may not have posted the reply (X did not answer within "
                                                   "30 s after the reply was sent): no second reply goes out until a "
                                                   "lead checks")
        warning = ana.locator(".status-panel .uncertain")
        expect(warning).to_contain_text("may have been posted on x (X did not answer within 30 s")
        expect(warning).to_contain_text("A lead checks x")
        expect(warning.get_by_role("button")).to_have_count(0)  # agents do not settle it
        shot(ana, "item-reply-may-have-been-posted-agent")

        lead = signed_in(browser, base, "lead")
        lead.goto(f"{base}/items/{number}")
        lead.get_by_label("The reply's link").fill("https://x.com/brightwavehelp/status/555")
        shot(lead, "item-reply-may-have-been-posted-lead")
        lead.get_by_role("button", name="It was posted: record it").click()
        expect(lead.locator(".flash")).to_have_text("Recorded: the reply was posted, and its link is now the response.")
        expect(lead.locator(".status-panel .uncertain")).to_have_count(0)
        expect(lead.locator(".status-panel")).to_contain_text("Answered")
        expect(lead.locator(".trail")).to_contain_text("ana responded: https://x.com/brightwavehelp/status/555")
        expect(lead.locator(".trail")).to_contain_text("lead reply_checked")
        shot(lead, "item-reply-recorded-by-lead")
        assert channel.sends == 1
