"""A fake Zendesk and a fake signed-webhook helpdesk on loopback, for the tests and the demo. Standard library only.

- `FakeZendesk`: the Tickets API as Zendesk speaks it. `POST /api/v2/tickets.json`
  (`{"ticket": {"subject", "comment": {"body", "public"}, "requester", "tags", "external_id",
  "priority"}}`) answers 201 `{"ticket": {...}, "audit": {...}}` with a `Location` header; an
  `Idempotency-Key` seen before answers the same ticket with `x-idempotency-lookup: hit` (a different
  body under the same key is refused); `GET /api/v2/tickets/{id}.json` and
  `GET /api/v2/tickets/show_many.json?ids=1,2` read tickets (deleted ones are left out). Basic
  authentication with `email/token:API_TOKEN` only, else 401 `{"error": "Couldn't authenticate you"}`;
  a ticket without a comment body gets 422 `RecordInvalid` with its `details`. `solve` and `close`
  change a ticket as an agent would.
- `FakeHelpdeskWebhook`: receives hand-offs, verifying `X-Overheard-Signature: sha256=<hex HMAC-SHA256>`
  over the raw body with its secret (401 otherwise), answers `{"ticket": {"id", "url", "status"}}`,
  and makes the signed callback it would send when a ticket is solved (`callback`).

Run `python -m demo.fake_apis.helpdesk_apis` to serve both with the demo credentials by hand.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import itertools
import json
import re
from datetime import UTC, datetime
from typing import Any

from demo.fake_apis.loopback import wait_until_interrupted
from demo.fake_apis.write_apis import Answer, Received, RecordingApi

DEMO_ZENDESK_EMAIL = "care-bot@brightwave.example"
DEMO_ZENDESK_TOKEN = "demo-zendesk-api-token"
DEMO_WEBHOOK_SECRET = "demo-helpdesk-signing-secret"
_TICKET = re.compile(r"^/api/v2/tickets/(\d+)\.json$")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeZendesk(RecordingApi):
    """Zendesk's Tickets API for one agent's API token (see the module docstring).

    Attributes:
        tickets: tickets by id, in Zendesk's JSON.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, email: str = DEMO_ZENDESK_EMAIL,
                 api_token: str = DEMO_ZENDESK_TOKEN):
        self.email = email
        self.api_token = api_token
        self.tickets: dict[int, dict[str, Any]] = {}
        self._idempotent: dict[str, tuple[bytes, dict[str, Any]]] = {}
        self._ids = itertools.count(35436)
        self._users = itertools.count(9_000_001)
        super().__init__(host, port)

    def solve(self, ticket_id: int | str) -> None:
        """An agent solves the ticket."""
        self._set_status(ticket_id, "solved")

    def close(self, ticket_id: int | str) -> None:
        """The ticket closes (Zendesk closes solved tickets after some days)."""
        self._set_status(ticket_id, "closed")

    def delete(self, ticket_id: int | str) -> None:
        """An agent deletes the ticket: it is gone from every read."""
        with self.lock:
            del self.tickets[int(ticket_id)]

    def answer(self, request: Received) -> Answer:
        if not self._authenticated(request):
            return Answer(401, {"error": "Couldn't authenticate you"})
        if (request.method, request.path) == ("POST", "/api/v2/tickets.json"):
            return self._create(request)
        if (request.method, request.path) == ("GET", "/api/v2/tickets/show_many.json"):
            ids = [int(part) for part in (request.query.get("ids") or [""])[0].split(",") if part.strip().isdigit()]
            return Answer(200, {"tickets": [self.tickets[i] for i in ids if i in self.tickets],
                                "next_page": None, "previous_page": None, "count": len(ids)})
        if request.method == "GET" and (match := _TICKET.match(request.path)):
            ticket = self.tickets.get(int(match[1]))
            return Answer(200, {"ticket": ticket}) if ticket else Answer(404, {"error": "RecordNotFound",
                                                                               "description": "Not found"})
        return Answer(404, {"error": "InvalidEndpoint", "description": "Not found"})

    def _authenticated(self, request: Received) -> bool:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        try:
            user, _, secret = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return scheme.lower() == "basic" and (user, secret) == (f"{self.email}/token", self.api_token)

    def _create(self, request: Received) -> Answer:
        key = request.headers.get("idempotency-key")
        if key and key in self._idempotent:
            body, ticket = self._idempotent[key]
            if body != request.body:
                return Answer(400, {"error": "IdempotentRequestError",
                                    "description": "The request body does not match the original request"})
            return Answer(201, {"ticket": ticket, "audit": {}}, {"x-idempotency-lookup": "hit"})
        document = request.json()
        ticket_in = document.get("ticket") if isinstance(document, dict) else None
        if not isinstance(ticket_in, dict):
            return Answer(400, {"error": "InvalidJSON", "description": 'The request must be {"ticket": {...}}'})
        comment = ticket_in.get("comment") or {}
        if not str(comment.get("body") or "").strip():
            return Answer(422, {"error": "RecordInvalid", "description": "Record validation errors",
                                "details": {"description": [{"description": "Description: cannot be blank",
                                                             "error": "BlankValue"}]}})
        ticket_id = next(self._ids)
        requester = next(self._users)
        now = _now()
        ticket = {
            "url": f"{self.base_url}/api/v2/tickets/{ticket_id}.json", "id": ticket_id,
            "external_id": ticket_in.get("external_id"), "via": {"channel": "api"}, "created_at": now, "updated_at": now,
            "type": ticket_in.get("type"), "subject": ticket_in.get("subject"), "raw_subject": ticket_in.get("subject"),
            "description": comment["body"], "priority": ticket_in.get("priority"), "status": "new",
            "requester_id": requester, "submitter_id": requester, "assignee_id": None,
            "tags": sorted(set(ticket_in.get("tags") or [])), "requester": ticket_in.get("requester"),
            "comment_public": comment.get("public", True),
        }
        with self.lock:
            self.tickets[ticket_id] = ticket
            if key:
                self._idempotent[key] = (request.body, ticket)
        audit = {"id": ticket_id * 10, "ticket_id": ticket_id, "created_at": now, "events": [{"type": "Create"}]}
        return Answer(201, {"ticket": ticket, "audit": audit},
                      {"Location": ticket["url"], **({"x-idempotency-lookup": "miss"} if key else {})})

    def _set_status(self, ticket_id: int | str, status: str) -> None:
        with self.lock:
            ticket = self.tickets[int(ticket_id)]
            ticket["status"], ticket["updated_at"] = status, _now()


class FakeHelpdeskWebhook(RecordingApi):
    """A helpdesk's inbound webhook that verifies Overheard's signature (see the module docstring).

    Attributes:
        deliveries: the hand-offs accepted, as JSON.
    """

    PATH = "/hooks/overheard"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, secret: str = DEMO_WEBHOOK_SECRET):
        self.secret = secret
        self.deliveries: list[dict[str, Any]] = []
        self._tickets: dict[str, str] = {}
        super().__init__(host, port)

    @property
    def url(self) -> str:
        """The webhook's URL."""
        return self.base_url + self.PATH

    def callback(self, external_id: str, status: str) -> tuple[bytes, dict[str, str]]:
        """The signed callback this helpdesk sends when the item's ticket changes status: (body, headers)."""
        body = json.dumps({"external_id": external_id, "ticket_id": self._tickets.get(external_id), "status": status}).encode()
        signature = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        return body, {"Content-Type": "application/json", "X-Overheard-Signature": signature}

    def answer(self, request: Received) -> Answer:
        if (request.method, request.path) != ("POST", self.PATH):
            return Answer(404, {"error": "not found"})
        expected = "sha256=" + hmac.new(self.secret.encode(), request.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.headers.get("x-overheard-signature", ""), expected):
            return Answer(401, {"error": "invalid signature"})
        delivery = request.json()
        if not isinstance(delivery, dict) or not delivery.get("external_id"):
            return Answer(400, {"error": "external_id is required"})
        external_id = str(delivery["external_id"])
        if external_id not in self._tickets:  # a repeated delivery of one item is the same ticket
            self._tickets[external_id] = f"HD-{len(self._tickets) + 1}"
            self.deliveries.append(delivery)
        ticket_id = self._tickets[external_id]
        return Answer(200, {"ticket": {"id": ticket_id, "url": f"{self.base_url}/tickets/{ticket_id}", "status": "open"}})


def main() -> None:
    """Serve both fakes with the demo credentials until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    host = parser.parse_args().host
    with FakeZendesk(host) as zendesk, FakeHelpdeskWebhook(host) as webhook:
        print(f"Zendesk at {zendesk.base_url} (login {DEMO_ZENDESK_EMAIL}, API token {DEMO_ZENDESK_TOKEN})")
        print(f"helpdesk webhook at {webhook.url} (signing secret {DEMO_WEBHOOK_SECRET})")
        wait_until_interrupted()


if __name__ == "__main__":
    main()
