"""Who may do what on the desk: every action, unsigned, without the CSRF token and with the wrong role,
is refused and changes nothing; nobody acts as somebody else."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
import requests
from starlette.routing import Route

from config.model import Config
from desk.app import ITEM_ACTIONS, REPLY_DECISIONS, create_app
from desk.state import DeskState, desk_state_path
from tests.test_care import MONDAY_NOON
from tests.test_desk_server import (
    RecordingChannel,
    csrf_token,
    desk_config,
    served_desk,
    set_passwords,
    sign_in,
    triage,
    wait_until,
)
from warehouse.connection import read_warehouse

DECISIONS = ("approve", "send-back", "posted", "not-posted")
FORM = {"text": "hello", "url": "https://x.com/a/status/1", "reason": "r", "to": "bo", "note": "n",
        "bulk_action": "close", "item": "1", "title": "t", "timezone": "Europe/Paris"}


@pytest.fixture
def config(tmp_path: Path) -> Config:
    config = desk_config(tmp_path)
    triage(config, "run-1", MONDAY_NOON)
    set_passwords(config)
    return config


def post_paths(config: Config) -> list[str]:
    """Every POST the desk answers, with real item and reply numbers; fails when a route is not covered."""
    paths = []
    for route in create_app(config).routes:
        if not isinstance(route, Route) or "POST" not in (route.methods or set()) or route.path in (
                "/login", "/helpdesk/callback"):  # the sign-in's own test below; the helpdesk's is signed, no session
            continue
        if route.path == "/items/{number:int}/{action:str}":
            paths += [f"/items/1/{action}" for action in sorted(ITEM_ACTIONS)]
        elif route.path == "/replies/{reply_id:int}/{decision:str}":
            paths += [f"/replies/1/{decision}" for decision in DECISIONS]
        else:
            assert "{" not in route.path, f"a new POST route to cover here: {route.path}"
            paths.append(route.path)
    return paths


def warehouse_actions(config: Config) -> int:
    connection = read_warehouse(config.warehouse.path)
    assert connection is not None
    with connection:
        (count,) = connection.execute("SELECT count(*) FROM triage_actions").fetchone()
    return int(count)


def desk_rows(config: Config) -> tuple[int, int, int]:
    with DeskState(desk_state_path(config.warehouse.path)).connect() as state:
        return state.execute(
            "SELECT (SELECT count(*) FROM desk_actions), (SELECT count(*) FROM replies), "
            "(SELECT count(*) FROM saved_replies)"
        ).fetchone()


def number_of(session: requests.Session, base: str, key: str) -> int:
    """The item number the desk shows for a mention key (from a lead's inbox)."""
    found = re.search(rf'data-number="(\d+)" data-key="{re.escape(key)}"', session.get(f"{base}/inbox?view=all").text)
    assert found, f"{key} not in the inbox"
    return int(found.group(1))


def test_every_post_unsigned_or_without_csrf_is_refused_and_changes_nothing(config):
    channel = RecordingChannel()
    with served_desk(config, channel) as base:
        ana = sign_in(base, "ana")
        ana.get(f"{base}/inbox")  # numbers the items: #1 is the first row
        before = (warehouse_actions(config), desk_rows(config))
        paths = post_paths(config)
        assert set(DECISIONS) == REPLY_DECISIONS and len(paths) == len(ITEM_ACTIONS) + len(DECISIONS) + 4
        for path in paths:
            unsigned = requests.post(f"{base}{path}", data={**FORM, "csrf_token": "x"}, allow_redirects=False)
            assert unsigned.status_code == 401, path
            no_token = ana.post(f"{base}{path}", data=FORM, allow_redirects=False)
            assert no_token.status_code == 403 and "reload the page" in no_token.text, path
            wrong_token = ana.post(f"{base}{path}", data={**FORM, "csrf_token": "forged"}, allow_redirects=False)
            assert wrong_token.status_code == 403, path
        # The sign-in form needs its token too (no login CSRF).
        assert requests.post(f"{base}/login", data={"name": "ana", "password": "ana-password-1"}).status_code == 403
        assert (warehouse_actions(config), desk_rows(config)) == before
        assert channel.posted == []


def test_pages_need_a_session_and_the_board_is_for_leads(config):
    with served_desk(config) as base:
        for page in ("/inbox", "/inbox/rows", "/items/1", "/items/1/status", "/board", "/board/live", "/sign-ins",
                     "/settings"):
            answer = requests.get(f"{base}{page}", allow_redirects=False)
            assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next="), page
        polled = requests.get(f"{base}/inbox/rows", headers={"HX-Request": "true"}, allow_redirects=False)
        assert polled.status_code == 401 and polled.headers["HX-Redirect"] == "/login?next=%2Finbox%2Frows"
        ana = sign_in(base, "ana")
        for page in ("/board", "/board/live", "/sign-ins"):
            assert ana.get(f"{base}{page}").status_code == 403, page
        assert sign_in(base, "lead").get(f"{base}/board").status_code == 200


def test_an_agent_cannot_do_a_leads_work_nor_touch_another_queue(config):
    with served_desk(config, RecordingChannel()) as base:
        lead, ana = sign_in(base, "lead"), sign_in(base, "ana")
        numbers = {key: number_of(lead, base, key) for key in ("x:1", "x:4", "x:5")}
        token = csrf_token(ana, f"{base}/inbox")
        before = (warehouse_actions(config), desk_rows(config))
        for action in ("reassign", "reopen"):
            refused = ana.post(f"{base}/items/{numbers['x:1']}/{action}", data={**FORM, "csrf_token": token})
            assert refused.status_code == 403 and f"only a lead can {action} items" in refused.text
        bulk = ana.post(f"{base}/items/bulk", data={**FORM, "csrf_token": token})
        assert bulk.status_code == 403
        for decision in DECISIONS:  # approve, send back, or settle a reply that may have been posted
            refused = ana.post(f"{base}/replies/1/{decision}", data={**FORM, "csrf_token": token})
            assert refused.status_code == 403 and "only a lead can approve, send back or settle replies" in refused.text
        # x:5 is in sales, x:4 in escalations: not ana's queues (care).
        for key in ("x:4", "x:5"):
            page = ana.get(f"{base}/items/{numbers[key]}")
            assert page.status_code == 403 and "which is not one of yours" in page.text
            claim = ana.post(f"{base}/items/{numbers[key]}/claim", data={"csrf_token": token})
            assert claim.status_code == 403
        assert (warehouse_actions(config), desk_rows(config)) == before


def test_nobody_acts_as_somebody_else(config):
    with served_desk(config) as base:
        lead, ana = sign_in(base, "lead"), sign_in(base, "ana")
        number = number_of(lead, base, "x:2")
        token = csrf_token(ana, f"{base}/inbox")
        before = warehouse_actions(config)
        # A name in the form is not who acts: the session is.
        ana.post(f"{base}/items/{number}/claim", data={"csrf_token": token, "actor": "bo", "as": "bo", "name": "bo"})
        wait_until(lambda: warehouse_actions(config) == before + 1)
        connection = read_warehouse(config.warehouse.path)
        assert connection is not None
        with connection:
            assert connection.execute(
                "SELECT actor, action FROM triage_actions WHERE mention_key = 'x:2' ORDER BY action_id DESC LIMIT 1"
            ).fetchone() == ("ana", "claimed")
        # A session cookie edited to name the lead is not signed by the desk: it is no session at all.
        cookie = ana.cookies["overheard_desk"]
        payload, *signature = cookie.split(".")
        session = json.loads(base64.b64decode(payload + "=="))
        forged = base64.b64encode(json.dumps({**session, "name": "lead"}).encode()).decode()
        impostor = requests.Session()
        impostor.cookies.set("overheard_desk", ".".join([forged, *signature]))
        assert impostor.get(f"{base}/board", allow_redirects=False).status_code == 303
