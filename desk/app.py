"""The desk's web app (Starlette, Jinja2, htmx): sign-in, the inbox, the item page, replies, the live board.

Handlers are plain functions run in Starlette's thread pool (DuckDB, SQLite and argon2 block), so
one slow request never holds up the others. Every page needs a signed-in person; every POST also needs the session's CSRF token (a hidden form
field, or the `X-CSRF-Token` header htmx sends) and is refused without it. Sessions are signed
cookies (HttpOnly, SameSite=Lax, Secure when served over https) that end when the person's password
changes or they leave the playbook. Item actions go through `desk.actions.ActionQueue`, replies
through `desk.replies.ReplyDesk`; who may do what is decided in `refusal`.

    app = create_app(config)           # then: uvicorn.run(app, host="127.0.0.1", port=8770)
"""

from __future__ import annotations

import secrets
import threading
import zoneinfo
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from care.desk import TriageError
from care.helpdesk import (
    SIGNATURE_HEADER,
    CallbackRefused,
    Helpdesk,
    HelpdeskError,
    Ticket,
    WebhookHelpdesk,
    handoff_for,
    recorded_ticket,
)
from config.model import Config
from config.playbook import Playbook
from desk.accounts import (
    Person,
    Role,
    SignInRefused,
    account_timezone,
    choose_timezone,
    desk_people,
    password_set_at,
    record_attempt,
    sign_in,
)
from desk.actions import ActionQueue, DeskAction, DeskWriter, ItemState
from desk.board import StaffingCell, lead_board, week_staffing
from desk.committed_state import CommittedState, CommittedView
from desk.inbox import VIEWS, InboxFilters, InboxRow, filter_choices, inbox_page, item_number_searched
from desk.item_page import ItemDetails, ItemSummary, item_details, item_summary
from desk.rendering import environment
from desk.replies import NoReplyChannel, ReplyChannel, ReplyDesk, ReplyTarget
from desk.state import DeskState, desk_state_path, read_time, stored_time

STATIC = Path(__file__).resolve().parent / "static"
SESSION_COOKIE = "overheard_desk"
SESSION_HOURS = 12
LIVE_SECONDS = 5
"""How often the inbox, the item's status and the board ask for news (new items show within this)."""
ONLINE_WITHIN = timedelta(minutes=2)
AGENT_ACTIONS = frozenset({"claim", "note", "respond", "close", "reply", "hand_off", "correct_sentiment"})
LEAD_ACTIONS = frozenset({"reassign", "reopen", "approve", "send_back", "bulk"})
ITEM_ACTIONS = frozenset({"claim", "note", "respond", "close", "reply", "reassign", "reopen", "hand_off",
                          "correct_sentiment"})
"""The actions posted to /items/N/ACTION."""
REPLY_DECISIONS = frozenset({"approve", "send-back", "posted", "not-posted"})
"""What a lead decides about a reply, posted to /replies/N/DECISION."""
_PRESENCE_EVERY = timedelta(seconds=30)


class SignInNeeded(Exception):
    """The request has no valid session."""


@dataclass
class Desk:
    """What the app's handlers share: the config, the desk state, the queue and its writer, replies.

    Attributes:
        config: the config (its playbook must be set).
        state: the desk state beside the warehouse.
        committed: the warehouse's published snapshot.
        actions: the action queue.
        writer: the one writer of queued actions to the warehouse.
        replies: replies on the platforms.
        helpdesk: the team's helpdesk (None: the playbook names none).
        clock: now.
    """

    config: Config
    state: DeskState
    committed: CommittedState
    actions: ActionQueue
    writer: DeskWriter
    replies: ReplyDesk
    helpdesk: Helpdesk | None
    clock: Callable[[], datetime]
    _staffing: tuple[tuple[datetime, date], list[StaffingCell]] | None = None
    _choices: tuple[datetime, dict[str, list[str]]] | None = None
    _seen: dict[str, datetime] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def playbook(self) -> Playbook:
        """The config's playbook."""
        assert self.config.playbook is not None
        return self.config.playbook

    @property
    def people(self) -> dict[str, Person]:
        """Who may sign in, read from the playbook."""
        return desk_people(self.playbook)

    def staffing(self, view: CommittedView) -> list[StaffingCell]:
        """This week's staffing forecast, computed once per published snapshot and day."""
        today = self.clock().astimezone(ZoneInfo(self.config.timezone)).date()
        key = (view.published_at, today)
        with self._lock:
            if self._staffing is None or self._staffing[0] != key:
                cells = week_staffing(view.cursor, self.playbook, today, self.config.timezone)
                self._staffing = (key, cells)
            return self._staffing[1]

    def choices(self, view: CommittedView) -> dict[str, list[str]]:
        """The inbox filters' choices, read once per published snapshot."""
        with self._lock:
            if self._choices is None or self._choices[0] != view.published_at:
                self._choices = (view.published_at, filter_choices(view.cursor))
            return self._choices[1]

    def seen(self, name: str) -> None:
        """Note the person is on the desk (written at most every 30 seconds each)."""
        now = self.clock()
        with self._lock:
            if now - self._seen.get(name, datetime.min.replace(tzinfo=UTC)) < _PRESENCE_EVERY:
                return
            self._seen[name] = now
        self.state.seen(name, now)


def create_app(
    config: Config,
    channel: ReplyChannel | None = None,
    helpdesk: Helpdesk | None = None,
    secure_cookies: bool = False,
    writer_poll_seconds: float = 0.25,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Starlette:
    """The desk app for a config; its writer thread runs while the app is served.

    Args:
        config: the config; it must have a playbook.
        channel: where replies are posted (default: nowhere; agents record where they answered).
        helpdesk: the team's helpdesk, for "Send to helpdesk" (default: none).
        secure_cookies: mark the session cookie Secure (served over https, directly or behind a proxy).
        writer_poll_seconds: how often the writer looks for queued actions.
        clock: now (tests move it).

    Raises:
        ValueError: the config has no playbook.
    """
    if config.playbook is None:
        raise ValueError("the config has no playbook: add one (docs/social-care.md) to run the desk")
    state = DeskState(desk_state_path(config.warehouse.path))
    committed = CommittedState(config.warehouse.path)
    actions = ActionQueue(state, committed, config.playbook)
    writer = DeskWriter(state, config.warehouse.path, config.playbook, writer_poll_seconds, clock)
    desk = Desk(config, state, committed, actions, writer, ReplyDesk(state, actions, channel or NoReplyChannel()),
                helpdesk, clock)
    pages = _Pages(desk)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        writer.start()
        try:
            yield
        finally:
            writer.stop()

    app = Starlette(
        routes=pages.routes(),
        middleware=[Middleware(
            SessionMiddleware, secret_key=state.session_secret(), session_cookie=SESSION_COOKIE,
            max_age=SESSION_HOURS * 3600, same_site="lax", https_only=secure_cookies,
        )],
        exception_handlers={SignInNeeded: pages.sign_in_needed, TriageError: pages.refused},
        lifespan=lifespan,
    )
    app.state.desk = desk
    return app


def refusal(person: Person, action: str, item: InboxRow) -> str | None:
    """Why this person may not do this to this item, or None when they may.

    An agent claims, notes, replies, records a response, hands to the helpdesk and closes, on the items of their queues and
    the items given to them, but not on an item someone else holds; a lead does all that on every
    queue and also reassigns, reopens, approves replies and acts in bulk; an admin acts on no item.
    """
    if person.role is Role.ADMIN:
        return "admins oversee the desk; items are worked by the playbook's leads and agents"
    if person.role is Role.LEAD:
        return None
    if action in LEAD_ACTIONS or action not in AGENT_ACTIONS:
        return f"only a lead can {action.replace('_', ' ')} items"
    if item.queue not in person.queues and item.assignee != person.name:
        return f"this item is in the {item.queue} queue, which is not one of yours"
    if action in ("respond", "close", "reply", "hand_off") and item.status == "claimed" and item.assignee != person.name:
        return f"{item.assignee} holds this item; a lead can reassign it"
    return None


class _Pages:
    """The app's routes and handlers."""

    def __init__(self, desk: Desk):
        self.desk = desk
        self.jinja = environment()

    def routes(self) -> list[Route | Mount]:
        """Every route of the desk."""
        post = self._post
        return [
            Route("/", self.home),
            Route("/login", self.login_page, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", post(self.logout), methods=["POST"]),
            Route("/inbox", self.inbox),
            Route("/inbox/rows", self.inbox_rows),
            Route("/items/bulk", post(self.bulk), methods=["POST"]),
            Route("/items/{number:int}", self.item, name="item"),
            Route("/items/{number:int}/status", self.item_status),
            Route("/items/{number:int}/{action:str}", post(self.item_action), methods=["POST"]),
            Route("/replies/{reply_id:int}/{decision:str}", post(self.reply_decision), methods=["POST"]),
            Route("/board", self.board),
            Route("/board/live", self.board_live),
            Route("/sign-ins", self.sign_ins),
            Route("/settings", self.settings),
            Route("/settings", post(self.save_settings), methods=["POST"]),
            Route("/saved-replies", post(self.save_reply), methods=["POST"]),
            Route("/helpdesk/callback", self.helpdesk_callback, methods=["POST"]),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ]

    # --- sessions -----------------------------------------------------------------------------

    def person(self, request: Request) -> Person:
        """The signed-in person.

        Raises:
            SignInNeeded: no session, or it ended (password changed, no longer on the playbook).
        """
        name = request.session.get("name")
        person = self.desk.people.get(name) if isinstance(name, str) else None
        if person is None or request.session.get("password_set_at") != password_set_at(self.desk.state, person.name):
            request.session.pop("name", None)
            raise SignInNeeded
        self.desk.seen(person.name)
        return person

    def _post(
        self, handler: Callable[[Request, Person, FormData], Response]
    ) -> Callable[[Request], Awaitable[Response]]:
        """A POST handler that needs a signed-in person and the session's CSRF token; it runs in the thread pool."""

        def check_then_handle(request: Request, form: FormData) -> Response:
            person = self.person(request)
            _check_csrf(request, form)
            return handler(request, person, form)

        async def checked(request: Request) -> Response:
            form = await request.form()
            return await run_in_threadpool(check_then_handle, request, form)

        checked.__name__ = handler.__name__
        return checked

    async def sign_in_needed(self, request: Request, _: Exception) -> Response:
        """GET: to the sign-in page (htmx: the whole page goes there); POST: 401."""
        if request.method != "GET":
            return HTMLResponse("Sign in first.", status_code=401)
        target = "/login?" + urlencode({"next": request.url.path})
        if request.headers.get("HX-Request"):
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    async def refused(self, request: Request, error: Exception) -> Response:
        """A desk rule refused an action: say why where the person acted."""
        self._flash(request, "error", str(error))
        return self._back(request, status_code=303)

    def home(self, request: Request) -> Response:
        """The inbox."""
        return RedirectResponse("/inbox", status_code=303)

    def login_page(self, request: Request) -> Response:
        """The sign-in form."""
        return self._render(request, "login.html", None, next=_safe_next(request.query_params.get("next")))

    async def login(self, request: Request) -> Response:
        """Check the name and password (rate-limited), start a session."""
        form = await request.form()
        return await run_in_threadpool(self._login, request, form)

    def _login(self, request: Request, form: FormData) -> Response:
        _check_csrf(request, form)
        name, password = str(form.get("name", "")).strip(), str(form.get("password", ""))
        client = request.client.host if request.client else "unknown"
        try:
            person, set_at = sign_in(self.desk.state, self.desk.people, name, password, client, self.desk.clock())
        except SignInRefused as refused:
            self.desk.writer.wake()  # to the warehouse's audit trail
            return self._render(request, "login.html", None, status_code=401, error=str(refused),
                                next=_safe_next(str(form.get("next", ""))), name=name)
        self.desk.writer.wake()
        browser_zone = str(form.get("timezone", ""))
        request.session.clear()
        request.session.update(
            name=person.name, password_set_at=set_at, csrf=secrets.token_urlsafe(32),
            browser_timezone=browser_zone if _known_zone(browser_zone) else None,
        )
        return RedirectResponse(_safe_next(str(form.get("next", ""))) or "/inbox", status_code=303)

    def logout(self, request: Request, person: Person, form: FormData) -> Response:
        """End the session."""
        client = request.client.host if request.client else "unknown"
        record_attempt(self.desk.state, person.name, client, self.desk.clock(), "signed_out")
        self.desk.writer.wake()
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    # --- the inbox ----------------------------------------------------------------------------

    def inbox(self, request: Request) -> Response:
        """The inbox page."""
        person = self.person(request)
        return self._render(request, "inbox.html", person, **self._inbox(request, person))

    def inbox_rows(self, request: Request) -> Response:
        """The inbox's rows (htmx polls this every few seconds)."""
        person = self.person(request)
        return self._render(request, "_inbox_rows.html", person, **self._inbox(request, person))

    def _inbox(self, request: Request, person: Person) -> dict[str, Any]:
        query = request.query_params
        filters = InboxFilters(
            view=str(query.get("view")) if query.get("view") in VIEWS else "todo",
            queue=query.get("queue") or None, mine=query.get("mine") == "1", category=query.get("category") or None,
            brand=query.get("brand") or None, platform=query.get("platform") or None,
            overdue=query.get("overdue") == "1", search=(query.get("q") or "").strip() or None,
        )
        number = item_number_searched(filters.search)
        searched_key = self.desk.state.mention_key_of(number) if number is not None else None
        page_number = int(query.get("page", "1")) if query.get("page", "1").isdigit() else 1
        view = self.desk.committed.view()
        try:
            page = inbox_page(view.cursor, self.desk.actions.overlay(view), person, filters, self.desk.clock(),
                              self.desk.choices(view), page_number, searched_key)
        finally:
            view.cursor.close()
        numbers = self.desk.state.item_numbers([row.mention_key for row in page.rows])
        rows = [(numbers[row.mention_key], row) for row in page.rows]
        since = self.desk.clock() - timedelta(minutes=10)
        return {
            "page": page, "rows": rows, "filters": filters, "query": urlencode(
                {k: v for k, v in query.items() if k != "page"}),
            "failures": self.desk.actions.failures(person.name, since),
            "pending": self.desk.actions.pending_count(), "waiting_since": self.desk.writer.waiting_since,
            "people": [p for p in self.desk.people.values() if p.role is not Role.ADMIN],
        }

    def bulk(self, request: Request, person: Person, form: FormData) -> Response:
        """A lead closes or reassigns the checked items."""
        if person.role is not Role.LEAD:
            raise HTTPException(403, "only a lead can act on items in bulk")
        numbers = [int(str(n)) for n in form.getlist("item") if str(n).isdigit()]
        what = str(form.get("bulk_action", ""))
        if what not in ("close", "reassign") or not numbers:
            raise TriageError("tick some items and choose close or reassign")
        keys = [key for n in numbers if (key := self.desk.state.mention_key_of(n))]
        now, done, refused = self.desk.clock(), 0, []
        for key in keys:
            params = {"reason": str(form.get("reason", ""))} if what == "close" else {
                "to": str(form.get("to", "")), "queue": str(form.get("queue", "")) or None}
            try:
                self.desk.actions.submit(DeskAction(key, what, person.name, now, params))
                done += 1
            except TriageError as error:
                refused.append(str(error))
        self.desk.writer.wake()
        self._flash(request, "ok", f"{what}: {done} of {len(keys)} items" + (f"; {'; '.join(refused[:3])}" if refused else ""))
        return RedirectResponse("/inbox", status_code=303)

    # --- the item -----------------------------------------------------------------------------

    def _summary(self, number: int, person: Person, details: bool = False) -> tuple[ItemSummary, ItemDetails | None]:
        """The item numbered `number` as it stands now (and the item page's content when `details`).

        Raises:
            HTTPException: 404 when there is no such item, 403 when it is not in the person's queues.
        """
        key = self.desk.state.mention_key_of(number)
        view = self.desk.committed.view()
        try:
            queued = self.desk.actions.unapplied(view, [key]) if key else []
            summary = item_summary(view.cursor, key, self.desk.actions.replay(view, queued), queued) if key else None
            if summary is None:
                raise HTTPException(404, f"no item #{number}")
            page = item_details(view.cursor, summary, queued) if details else None
        finally:
            view.cursor.close()
        item = summary.item
        if not person.sees_every_queue and item.queue not in person.queues and item.assignee != person.name:
            raise HTTPException(403, f"item #{number} is in the {item.queue} queue, which is not one of yours")
        return summary, page

    def _item_page(self, number: int, person: Person, details: bool) -> dict[str, Any]:
        summary, page = self._summary(number, person, details)
        item = summary.item
        replies = self.desk.replies.of_item(item.mention_key)
        category = next((c for c in self.desk.playbook.categories if c.name == item.category), None)
        with self.desk.state.connect() as connection:
            saved = connection.execute("SELECT title, text FROM saved_replies ORDER BY title").fetchall()
        return {
            "number": number, "summary": summary, "details": page, "item": item, "replies": replies,
            "response_template": category.response_template if category else None, "saved_replies": saved,
            "holds": item.status in ("claimed", "responded") and item.assignee == person.name,
            "posts_here": item.platform in self.desk.replies.channel.platforms(),
            "in_flight": next((r for r in replies if r.state in ("awaiting_approval", "sending", "unknown")), None),
            "people": [p for p in self.desk.people.values() if p.role is not Role.ADMIN],
            "queues": [q.name for q in self.desk.playbook.queues], "reply_token": secrets.token_urlsafe(16),
            "helpdesk": self.desk.helpdesk,
        }

    def item(self, request: Request) -> Response:
        """The item page."""
        person = self.person(request)
        return self._render(request, "item.html", person,
                            **self._item_page(request.path_params["number"], person, details=True))

    def item_status(self, request: Request) -> Response:
        """The item's status panel (htmx polls it: a claim by someone else shows without a reload)."""
        person = self.person(request)
        return self._render(request, "_item_status.html", person,
                            **self._item_page(request.path_params["number"], person, details=False))

    def item_action(self, request: Request, person: Person, form: FormData) -> Response:
        """Claim, note, respond (record where answered), close, reopen, reassign or reply."""
        number, action = request.path_params["number"], request.path_params["action"]
        if action not in ITEM_ACTIONS:
            raise HTTPException(404, f"no action {action!r}")
        summary, _ = self._summary(number, person)
        item, key = summary.item, summary.item.mention_key
        why_not = refusal(person, action, item)
        if why_not:
            raise HTTPException(403, why_not)
        now = self.desk.clock()
        if action == "hand_off":
            ticket = self._hand_off(summary, person, request.url_for("item", number=number), now)
            self.desk.writer.wake()
            self._flash(request, "ok", f"Sent to the helpdesk: ticket {ticket.ticket_id}")
            return RedirectResponse(f"/items/{number}", status_code=303)
        if action == "reply":
            reply = self.desk.replies.reply(
                person.name, _target(summary), ItemState(item.status, item.assignee, item.queue, item.first_response_at),
                item.escalated, person.role is Role.LEAD, str(form.get("text", "")), str(form.get("reply_token", "")),
                now,
            )
            self.desk.writer.wake()
            messages = {"awaiting_approval": ("ok", "Your reply waits for a lead's approval."),
                        "sent": ("ok", f"Reply sent: {reply.posted_url}"),
                        "refused": ("error", f"{item.platform} refused the reply: {reply.refusal}"),
                        "unknown": ("error", f"{item.platform} may or may not have posted the reply ({reply.refusal}): "
                                             "no second reply goes out until a lead checks")}
            self._flash(request, *messages.get(reply.state, ("ok", reply.state)))
            return RedirectResponse(f"/items/{number}", status_code=303)
        params = _action_params(action, form)
        self.desk.actions.submit(DeskAction(key, action, person.name, now, params))
        self.desk.writer.wake()
        self._flash(request, "ok", _DONE[action])
        return self._back(request, status_code=303)

    def _hand_off(self, summary: ItemSummary, person: Person, item_link: Any, now: datetime) -> Ticket:
        """Open a ticket for the item on the helpdesk (once: one ticket per item) and queue keeping it."""
        helpdesk, key = self.desk.helpdesk, summary.item.mention_key
        if helpdesk is None:
            raise TriageError("no helpdesk is set up: add playbook.helpdesk (zendesk or webhook) to the config")
        if summary.ticket is not None:
            raise TriageError(f"this item is already with the helpdesk: ticket {summary.ticket.ticket_id}")
        view = self.desk.committed.view()
        try:
            handoff = handoff_for(view.cursor, key, str(item_link))
        finally:
            view.cursor.close()
        try:
            ticket = helpdesk.open_ticket(handoff)
        except HelpdeskError as error:
            raise TriageError(f"the helpdesk did not take it: {error}") from None
        self.desk.actions.submit(DeskAction(key, "hand_off", person.name, now, {
            "helpdesk": helpdesk.name, "ticket_id": ticket.ticket_id, "url": ticket.url, "status": ticket.status}))
        return ticket

    async def helpdesk_callback(self, request: Request) -> Response:
        """A webhook helpdesk says a ticket's status changed (signed, no session): queued like a desk action."""
        body = await request.body()
        return await run_in_threadpool(self._helpdesk_callback, body, request.headers.get(SIGNATURE_HEADER))

    def _helpdesk_callback(self, body: bytes, signature: str | None) -> Response:
        helpdesk = self.desk.helpdesk
        if not isinstance(helpdesk, WebhookHelpdesk):
            return JSONResponse({"error": "this desk has no webhook helpdesk (playbook.helpdesk)"}, status_code=404)
        try:
            update = helpdesk.read_callback(body, signature)
        except CallbackRefused as refused:
            return JSONResponse({"error": str(refused)}, status_code=401)
        view = self.desk.committed.view()
        try:
            known = recorded_ticket(view.cursor, update.mention_key) is not None or any(
                action.action == "hand_off" for action in self.desk.actions.unapplied(view, [update.mention_key]))
        finally:
            view.cursor.close()
        if not known:
            return JSONResponse({"error": f"no ticket was handed to {helpdesk.name} for {update.mention_key!r}"},
                                status_code=404)
        self.desk.actions.submit(DeskAction(update.mention_key, "ticket_update", helpdesk.name, self.desk.clock(),
                                            {"helpdesk": helpdesk.name, "status": update.status}))
        self.desk.writer.wake()
        return JSONResponse({"external_id": update.mention_key, "status": update.status}, status_code=202)

    def reply_decision(self, request: Request, person: Person, form: FormData) -> Response:
        """A lead approves (and so sends) an escalated item's reply, or sends it back with a note; or, for a reply
        that may have been posted, records it as posted (its link) or clears it as not posted."""
        decision = request.path_params["decision"]
        if decision not in REPLY_DECISIONS:
            raise HTTPException(404, f"no decision {decision!r}")
        if person.role is not Role.LEAD:
            raise HTTPException(403, "only a lead can approve, send back or settle replies")
        reply = self.desk.replies.get(request.path_params["reply_id"])
        number = self.desk.state.item_numbers([reply.mention_key])[reply.mention_key]
        summary, _ = self._summary(number, person)
        item = summary.item
        now = self.desk.clock()
        if decision == "approve":
            state = ItemState(item.status, item.assignee, item.queue, item.first_response_at)
            sent = self.desk.replies.approve(reply.reply_id, person.name, _target(summary), state, now)
            self._flash(request, "ok" if sent.state == "sent" else "error",
                        f"Reply sent: {sent.posted_url}" if sent.state == "sent" else f"Refused: {sent.refusal}")
        elif decision == "posted":
            self.desk.replies.confirm_posted(reply.reply_id, person.name, str(form.get("url", "")), now)
            self._flash(request, "ok", "Recorded: the reply was posted, and its link is now the response.")
        elif decision == "not-posted":
            self.desk.replies.clear_unposted(reply.reply_id, person.name, now)
            self._flash(request, "ok", "Cleared: the reply was not posted; the item can be replied to again.")
        else:
            self.desk.replies.send_back(reply.reply_id, person.name, reply.mention_key, str(form.get("note", "")), now)
            self._flash(request, "ok", "Reply sent back to its author.")
        self.desk.writer.wake()
        return RedirectResponse(f"/items/{number}", status_code=303)

    def save_reply(self, request: Request, person: Person, form: FormData) -> Response:
        """Save a reply the whole team can insert on any item."""
        title, text = str(form.get("title", "")).strip(), str(form.get("text", "")).strip()
        if not title or not text:
            raise TriageError("a saved reply needs a title and a text")
        with self.desk.state.connect() as connection:
            connection.execute(
                "INSERT INTO saved_replies (title, text, created_by, created_at) VALUES (?, ?, ?, ?)",
                [title[:100], text, person.name, stored_time(self.desk.clock())],
            )
        self._flash(request, "ok", f"Saved reply “{title[:100]}” added.")
        return self._back(request, status_code=303)

    # --- the board, sign-ins, settings --------------------------------------------------------

    def board(self, request: Request) -> Response:
        """The lead's live board."""
        person = self._overseer(request)
        return self._render(request, "board.html", person, **self._board())

    def board_live(self, request: Request) -> Response:
        """The board's content (htmx polls it)."""
        person = self._overseer(request)
        return self._render(request, "_board.html", person, **self._board())

    def _board(self) -> dict[str, Any]:
        now = self.desk.clock()
        view = self.desk.committed.view()
        try:
            board = lead_board(
                view.cursor, self.desk.actions.overlay(view), self.desk.playbook,
                self.desk.state.online(now - ONLINE_WITHIN), now, self.desk.staffing(view), self.desk.config.timezone,
            )
        finally:
            view.cursor.close()
        approvals = self.desk.replies.awaiting_approval()
        keys = [e.mention_key for e in board.escalations] + [r.mention_key for r in approvals]
        return {"board": board, "approvals": approvals, "numbers": self.desk.state.item_numbers(keys),
                "pending": self.desk.actions.pending_count(), "waiting_since": self.desk.writer.waiting_since}

    def _overseer(self, request: Request) -> Person:
        person = self.person(request)
        if person.role is Role.AGENT:
            raise HTTPException(403, "the board is for leads and admins")
        return person

    def sign_ins(self, request: Request) -> Response:
        """The latest sign-ins, refusals and sign-outs, for leads and admins."""
        person = self._overseer(request)
        with self.desk.state.connect() as connection:
            attempts = [(read_time(at), name, client, outcome) for at, name, client, outcome in connection.execute(
                "SELECT at, name, client, outcome FROM sign_in_attempts ORDER BY attempt_id DESC LIMIT 200"
            )]
        return self._render(request, "sign_ins.html", person, attempts=attempts)

    def settings(self, request: Request) -> Response:
        """The person's settings: their timezone."""
        person = self.person(request)
        return self._render(request, "settings.html", person, chosen=account_timezone(self.desk.state, person.name),
                            zones=sorted(zoneinfo.available_timezones()))

    def save_settings(self, request: Request, person: Person, form: FormData) -> Response:
        """Keep the person's timezone (empty: follow the browser)."""
        zone = str(form.get("timezone", "")).strip()
        if zone and not _known_zone(zone):
            raise TriageError(f"unknown timezone {zone!r}: pick an IANA name such as Europe/London")
        choose_timezone(self.desk.state, person.name, zone or None)
        self._flash(request, "ok", f"Times now show in {zone or 'your browser’s timezone'}.")
        return RedirectResponse("/settings", status_code=303)

    # --- rendering ----------------------------------------------------------------------------

    def _render(self, request: Request, template: str, person: Person | None, status_code: int = 200,
                **context: Any) -> Response:
        if "csrf" not in request.session:
            request.session["csrf"] = secrets.token_urlsafe(32)
        timezone = self._timezone(request, person)
        html = self.jinja.get_template(template).render(
            request=request, person=person, csrf=request.session["csrf"], now=self.desk.clock(), timezone=timezone,
            flashes=request.session.pop("flash", []), live_seconds=LIVE_SECONDS,
            may=lambda action, item: person is not None and refusal(person, action, item) is None, **context,
        )
        return HTMLResponse(html, status_code=status_code)

    def _timezone(self, request: Request, person: Person | None) -> str:
        chosen = account_timezone(self.desk.state, person.name) if person else None
        browser = request.session.get("browser_timezone")
        return chosen or (browser if isinstance(browser, str) and _known_zone(browser) else self.desk.config.timezone)

    @staticmethod
    def _flash(request: Request, kind: str, text: str) -> None:
        request.session["flash"] = [*request.session.get("flash", []), [kind, text]]

    @staticmethod
    def _back(request: Request, status_code: int) -> Response:
        """Back to the page the form was on (this site's only), else the inbox."""
        referer = urlsplit(request.headers.get("referer", ""))
        path = referer.path + (f"?{referer.query}" if referer.query else "")
        same_site = referer.netloc == request.headers.get("host")
        return RedirectResponse((same_site and _safe_next(path)) or "/inbox", status_code=status_code)


_DONE = {"claim": "Claimed: it is yours.", "note": "Note added.", "respond": "Response recorded.",
         "close": "Closed.", "reopen": "Reopened.", "reassign": "Reassigned.",
         "correct_sentiment": "Sentiment corrected."}


def _action_params(action: str, form: FormData) -> dict[str, Any]:
    if action == "note":
        return {"text": str(form.get("text", ""))}
    if action == "respond":
        url = str(form.get("url", "")).strip()
        if not url.startswith(("http://", "https://")):
            raise TriageError("record the answer's link, starting with https://")
        return {"url": url}
    if action in ("close", "reopen"):
        return {"reason": str(form.get("reason", ""))}
    if action == "reassign":
        return {"to": str(form.get("to", "")), "queue": str(form.get("queue", "")) or None}
    if action == "correct_sentiment":
        return {"brand": str(form.get("brand", "")) or None, "label": str(form.get("label", ""))}
    return {}


def _target(summary: ItemSummary) -> ReplyTarget:
    item = summary.item
    return ReplyTarget(item.mention_key, item.platform, summary.native_id, item.url, item.author_handle)


def _check_csrf(request: Request, form: FormData) -> None:
    expected = request.session.get("csrf")
    given = str(form.get("csrf_token", "")) or request.headers.get("X-CSRF-Token", "")
    if not isinstance(expected, str) or not given or not secrets.compare_digest(expected, given):
        raise HTTPException(403, "this form has expired or did not come from the desk: reload the page and try again")


def _safe_next(path: str | None) -> str | None:
    """A local path to go back to, never another site."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return None
    return path


def _known_zone(name: str) -> bool:
    if not name:
        return False
    try:
        ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True
