"""The desk in Chromium, as the care team uses it: an agent signs in, a new item appears without a reload,
she claims it and replies on X; a second agent sees it claimed; a lead reassigns, and approves an
escalated reply. Screenshots land in var/screenshots/ for a person to look at."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from care.replies.platforms import reply_sender
from config.model import Config, HttpSettings
from demo.fake_apis.write_apis import DEMO_X_KEYS, FakeXWrites
from desk.platform_replies import PlatformReplies
from tests.test_care import MONDAY_NOON
from tests.test_desk_server import PASSWORDS, desk_config, served_desk, set_passwords, triage
from transport.http import RetryPolicy

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
