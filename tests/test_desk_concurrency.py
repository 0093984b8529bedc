"""Twenty agents at once: each presses claim on the same 50 items, then send on all of them (twice at once
on their own). Every item is claimed once and answered once, on the platform and in the warehouse."""

from __future__ import annotations

import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import requests

from config.model import Config
from desk.accounts import desk_people, set_password
from desk.state import DeskState, desk_state_path
from tests.test_care import MONDAY_NOON, PLAYBOOK
from tests.test_desk_server import RecordingChannel, csrf_token, served_desk, sign_in, triage, wait_until
from warehouse.connection import read_warehouse

AGENTS = [f"agent{n:02d}" for n in range(1, 21)]
ITEMS = [f"x:{n}" for n in range(100, 150)]


def crowded_config(tmp_path: Path) -> Config:
    queues = [{"name": "care", "agents": [{"name": name} for name in AGENTS]}, {"name": "escalations"},
              {"name": "sales"}]
    return Config.model_validate({
        "warehouse": {"path": str(tmp_path / "w.duckdb")}, "staging": str(tmp_path / "s"),
        "brands": [{"name": "Brightwave", "aliases": ["Brightwave"]}],
        "competitors": [{"name": "Tidewell", "aliases": ["Tidewell"]}],
        "sources": [{"kind": "rss", "name": "news", "url": "https://n.example/feed"}],
        "playbook": {**PLAYBOOK, "queues": queues, "calendars": {}},
    })


def test_twenty_agents_claim_and_reply_to_the_same_fifty_items_once_each(tmp_path):
    config = crowded_config(tmp_path)
    triage(config, "run-1", MONDAY_NOON, *((key, f"Brightwave outage in street {key[2:]}") for key in ITEMS))
    assert config.playbook is not None
    state = DeskState(desk_state_path(config.warehouse.path))
    for name in AGENTS:
        set_password(state, desk_people(config.playbook), name, f"{name}-password", datetime.now(UTC))
    channel = RecordingChannel(delay=0.01)
    with served_desk(config, channel) as base:
        sessions = {name: sign_in(base, name, f"{name}-password") for name in AGENTS}
        inbox = sessions["agent01"].get(f"{base}/inbox").text
        numbers = dict(re.findall(r'data-number="(\d+)" data-key="([^"]+)"', inbox))
        assert sorted(numbers.values()) == sorted(ITEMS)

        def claim_all(name: str) -> list[int]:
            session = sessions[name]
            token = csrf_token(session, f"{base}/inbox")
            return [session.post(f"{base}/items/{number}/claim", data={"csrf_token": token},
                                 allow_redirects=False).status_code for number in numbers]

        with ThreadPoolExecutor(len(AGENTS)) as pool:
            list(pool.map(claim_all, AGENTS))

        def reply_all(name: str) -> None:
            session = sessions[name]
            token = csrf_token(session, f"{base}/inbox")
            mine = set(re.findall(r'data-number="(\d+)"', session.get(f"{base}/inbox?mine=1").text))
            for number in numbers:
                # Their own items have a reply form; on the others they press send anyway.
                form_token = re.search(r'name="reply_token" value="([^"]+)"', session.get(f"{base}/items/{number}").text) \
                    if number in mine else None
                form = {"csrf_token": token, "text": f"Sorry, {name} here: DM us",
                        "reply_token": form_token.group(1) if form_token else f"{name}-{number}"}
                presses = [_same_browser(session) for _ in range(2 if number in mine else 1)]
                url = f"{base}/items/{number}/reply"
                with ThreadPoolExecutor(2) as pressing:  # the holder presses send twice at once
                    list(pressing.map(lambda press, url=url, form=form: press.post(url, data=form, allow_redirects=False),
                                      presses))

        with ThreadPoolExecutor(len(AGENTS)) as pool:
            list(pool.map(reply_all, AGENTS))

        wait_until(lambda: _warehouse_count(config, "SELECT count(*) FROM triage_actions WHERE action = 'responded'")
                   == len(ITEMS), seconds=60)
    claims = _warehouse_rows(config, "SELECT mention_key, actor FROM triage_actions WHERE action = 'claimed'")
    assert Counter(key for key, _ in claims) == Counter(ITEMS)  # every item claimed once
    assert Counter(key for key, _ in channel.posted) == Counter(ITEMS)  # posted once
    holders = dict(claims)
    for key, text in channel.posted:  # each by the agent holding it
        assert text == f"Sorry, {holders[key]} here: DM us"
    answered = _warehouse_rows(config, "SELECT mention_key, status, assignee FROM triage_items")
    assert {key: (status, holders[key]) for key, status, _ in answered} == {
        key: ("responded", assignee) for key, _, assignee in answered}


def _same_browser(session: requests.Session) -> requests.Session:
    """Another connection of the same signed-in browser."""
    twin = requests.Session()
    twin.cookies.update(session.cookies)
    return twin


def _warehouse_rows(config: Config, sql: str) -> list[tuple]:
    connection = read_warehouse(config.warehouse.path)
    assert connection is not None
    with connection:
        return connection.execute(sql).fetchall()


def _warehouse_count(config: Config, sql: str) -> int:
    return int(_warehouse_rows(config, sql)[0][0])

