"""An agent corrects the sentiment of each brand of an item in Chromium; the analysts' views count it.
The screenshot lands in var/screenshots/ for a person to look at."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from config.model import Config
from core.transactions import transaction
from desk.state import DeskState, desk_state_path
from tests.test_care import MONDAY_NOON
from tests.test_desk_browser import browser, needs_chromium, shot, signed_in  # noqa: F401 - the browser fixture
from tests.test_desk_server import desk_config, served_desk, set_passwords, triage, wait_until
from warehouse.connection import open_warehouse, read_warehouse
from warehouse.daily_aggregates import refresh_daily_aggregates
from warehouse.snapshot import publish_snapshot


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """The care tests' items; x:1 ("Brightwave outage in Leeds again") also names Tidewell, and the model
    got Brightwave wrong in it: positive (Tidewell has the mention's label, negative)."""
    config = desk_config(tmp_path)
    triage(config, "run-1", MONDAY_NOON)
    with open_warehouse(config.warehouse.path) as warehouse:
        warehouse.execute("INSERT INTO mention_brands (mention_key, brand, role, matched_terms) "
                          "VALUES ('x:1', 'Tidewell', 'competitor', [])")
        warehouse.execute("UPDATE mention_brands SET sentiment_label = 'positive' "
                          "WHERE mention_key = 'x:1' AND brand = 'Brightwave'")
        with transaction(warehouse):
            refresh_daily_aggregates(warehouse)
        publish_snapshot(warehouse, config.warehouse.path, "run-1")
    set_passwords(config)
    return config


def monday(config: Config) -> dict[str, tuple]:
    """Per brand on Monday, from the analysts' snapshot: daily_volume's split and net_sentiment."""
    snapshot = read_warehouse(config.warehouse.path)
    assert snapshot is not None
    with snapshot:
        return {brand: (positive, neutral, negative, net) for brand, positive, neutral, negative, net in snapshot.execute(
            "SELECT brand, sum(v.positive), sum(v.neutral), sum(v.negative), any_value(n.net_sentiment) "
            "FROM daily_volume AS v JOIN net_sentiment AS n USING (day, brand) "
            "WHERE day = DATE '2026-11-02' GROUP BY brand"
        ).fetchall()}


def applied(config: Config) -> bool:
    """Every queued desk action has reached the warehouse."""
    with DeskState(desk_state_path(config.warehouse.path)).connect() as connection:
        return connection.execute("SELECT count(*) FROM desk_actions WHERE state <> 'applied'").fetchone() == (0,)


@needs_chromium
def test_an_agent_corrects_each_brands_sentiment_and_the_views_count_it(config, browser):  # noqa: F811
    # Brightwave: x:1 (the model's mistake) and x:6 positive, x:7 neutral, x:2, x:3, x:4 negative.
    # Tidewell: x:1 and x:5 negative.
    assert monday(config) == {"Brightwave": (2, 1, 3, -0.2), "Tidewell": (0, 0, 2, -1.0)}
    with served_desk(config) as base:
        ana = signed_in(browser, base, "ana")
        row = ana.locator('#rows tr[data-key="x:1"]')
        expect(row.locator(".sentiment")).to_have_text("positive")
        number = row.get_attribute("data-number")
        ana.goto(f"{base}/items/{number}")
        brightwave = ana.locator('.brand-sentiment[data-brand="Brightwave"]')
        tidewell = ana.locator('.brand-sentiment[data-brand="Tidewell"]')
        expect(brightwave.locator(".label")).to_have_text("positive")
        expect(brightwave.locator(".model")).to_have_text("the model's label")
        expect(tidewell.locator(".label")).to_have_text("negative")

        # An outage is no praise: ana corrects Brightwave; the post says nothing of Tidewell: neutral.
        ana.get_by_label("Sentiment for Brightwave").select_option("negative")
        ana.get_by_role("button", name="Correct Brightwave").click()
        expect(ana.locator(".flash")).to_have_text("Sentiment corrected.")
        ana.get_by_label("Sentiment for Tidewell").select_option("neutral")
        ana.get_by_role("button", name="Correct Tidewell").click()

        expect(ana.locator(".flash")).to_have_text("Sentiment corrected.")
        expect(brightwave.locator(".label")).to_have_text("negative")
        expect(brightwave.locator(".corrected")).to_contain_text("corrected by ana")
        expect(brightwave.locator(".corrected")).to_contain_text("the model said positive")
        expect(tidewell.locator(".label")).to_have_text("neutral")
        expect(tidewell.locator(".corrected")).to_contain_text("the model said negative")
        expect(ana.locator(".post.main .sentiment")).to_have_text("negative")  # the item's brand: Brightwave
        expect(ana.locator(".trail")).to_contain_text("ana corrected the sentiment: Tidewell is neutral")
        # Applied by the desk's writer: the page shows it from the warehouse, no longer on its way.
        wait_until(lambda: applied(config))
        ana.reload()
        expect(brightwave.locator(".corrected")).not_to_contain_text("on its way")
        shot(ana, "item-sentiment-corrected")
        ana.goto(f"{base}/inbox")
        expect(ana.locator('#rows tr[data-key="x:1"] .sentiment')).to_have_text("negative")

    assert monday(config) == {"Brightwave": (1, 1, 4, -0.6), "Tidewell": (0, 1, 1, -1.0)}
    with open_warehouse(config.warehouse.path) as warehouse:
        assert warehouse.execute(
            "SELECT mention_key, brand, label, model_label, corrected_by, via FROM sentiment_corrections "
            "ORDER BY corrected_at"
        ).fetchall() == [("x:1", "Brightwave", "negative", "positive", "ana", "desk"),
                         ("x:1", "Tidewell", "neutral", "negative", "ana", "desk")]
