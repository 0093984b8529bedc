"""`overheard triage`, `overheard staffing` and `overheard erase-author`: the social-care team's commands.

    overheard triage list --config C [--queue Q] [--mine --as ana]
    overheard triage claim KEY --config C --as ana
    overheard triage note KEY "text" --config C --as ana
    overheard triage respond KEY URL --config C --as ana [--at 2026-11-02T12:30]
    overheard triage close KEY --config C --as ana [--reason TEXT]
    overheard triage reopen KEY --config C --as lead [--reason TEXT]
    overheard triage reassign KEY --to bo [--queue Q] --config C --as lead
    overheard triage history KEY --config C
    overheard staffing --config C [--week 2026-W49]
    overheard erase-author --config C --platform x --handle alice --as dpo
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from cli.warehouse_access import open_for_reading, open_for_writing
from config import Config
from config.playbook import Playbook

if TYPE_CHECKING:
    from care.desk import QueueEntry

TRIAGE_ACTIONS = ("list", "claim", "note", "respond", "close", "reopen", "reassign", "history")


def add_care_commands(commands: argparse._SubParsersAction) -> None:
    """Add the triage, staffing and erase-author commands to the `overheard` parser."""
    triage = commands.add_parser("triage", help="list a triage queue; claim, note, respond, close, reopen, reassign")
    triage.add_argument("action", choices=TRIAGE_ACTIONS)
    triage.add_argument("key", nargs="?", help="the item's mention key (all actions but list)")
    triage.add_argument("text", nargs="?", help="note: its text; respond: the response URL")
    triage.add_argument("--config", required=True, type=Path)
    triage.add_argument(
        "--as", dest="actor",
        help="who acts: a name on the playbook's roster (its leads and agents); needed by every action but list and history",
    )
    triage.add_argument("--queue", help="list: only this queue; reassign: move to this queue")
    triage.add_argument("--mine", action="store_true", help="list: only items assigned to --as")
    triage.add_argument("--to", help="reassign: who to give it to (a name on the roster)")
    triage.add_argument("--reason", default="", help="close / reopen: why")
    triage.add_argument(
        "--at", type=_moment,
        help="respond: when the response was posted, ISO 8601, in the config's timezone unless it has an offset (default now)",
    )
    staffing = commands.add_parser("staffing", help="forecast next week's arrivals per queue and the agents needed")
    staffing.add_argument("--config", required=True, type=Path)
    staffing.add_argument("--week", help="ISO week to plan, e.g. 2026-W49 (default: next week)")
    erase = commands.add_parser("erase-author", help="delete an author's mentions and pseudonymise their triage history")
    erase.add_argument("--config", required=True, type=Path)
    erase.add_argument("--platform", required=True)
    erase.add_argument("--handle", required=True)
    erase.add_argument("--as", dest="actor", required=True, help="who carries out the request")


def run_care_command(config: Config, arguments: argparse.Namespace) -> int:
    """Run a triage, staffing or erase-author command; returns the exit status."""
    from care.desk import TriageError
    from warehouse.connection import WarehouseLocked

    try:
        if arguments.command == "erase-author":
            return _erase(config, arguments)
        if config.playbook is None:
            print("the config has no playbook: add one (docs/social-care.md) to triage mentions", file=sys.stderr)
            return 2
        if arguments.command == "staffing":
            return _staffing(config, config.playbook, arguments)
        return _triage(config, config.playbook, arguments)
    except TriageError as error:
        print(error, file=sys.stderr)
        return 2
    except WarehouseLocked as locked:
        print(locked, file=sys.stderr)
        return 1


def _triage(config: Config, playbook: Playbook, arguments: argparse.Namespace) -> int:
    from care.desk import TriageDesk, TriageError
    from warehouse.snapshot import publish_snapshot

    if arguments.action not in ("list", "history") and not arguments.actor:
        raise TriageError(f"triage {arguments.action} needs --as NAME: who is acting")
    if arguments.action != "list" and not arguments.key:
        raise TriageError(f"triage {arguments.action} needs the item's mention key")
    action = arguments.action
    # Listing reads the snapshot every action publishes, so it never waits for a writer.
    reading = action in ("list", "history")
    with open_for_reading(config) if reading else open_for_writing(config) as connection:
        desk = TriageDesk(connection, arguments.actor, playbook)
        if action == "list":
            if arguments.mine and not arguments.actor:
                raise TriageError("--mine needs --as NAME")
            _print_queue(desk.queue(arguments.queue, arguments.actor if arguments.mine else None), playbook, config.timezone)
        elif action == "history":
            for acted_at, actor, what, detail in desk.history(arguments.key):
                print(f"{acted_at:%Y-%m-%d %H:%M %Z}  {actor:<12} {what:<10} {detail}")
        elif action == "claim":
            desk.claim(arguments.key)
        elif action == "note":
            desk.note(arguments.key, arguments.text or "")
        elif action == "respond":
            if not arguments.text:
                raise TriageError("triage respond needs the response URL after the key")
            at = arguments.at
            if at is not None and at.tzinfo is None:
                at = at.replace(tzinfo=ZoneInfo(config.timezone))
            desk.respond(arguments.key, arguments.text, at)
        elif action == "close":
            desk.close(arguments.key, arguments.reason)
        elif action == "reopen":
            desk.reopen(arguments.key, arguments.reason)
        elif action == "reassign":
            if not arguments.to:
                raise TriageError("triage reassign needs --to AGENT")
            desk.reassign(arguments.key, arguments.to, arguments.queue)
        if action not in ("list", "history"):
            publish_snapshot(connection, config.warehouse.path, f"triage:{arguments.actor}")
            print(f"{arguments.key}: {action}")
    return 0


def _print_queue(entries: list[QueueEntry], playbook: Playbook, timezone: str) -> None:
    if not entries:
        print("No open items.")
        return
    zone = ZoneInfo(timezone)
    templates = {category.name: category.response_template for category in playbook.categories}
    print(f"{'priority':>8}  {'due':<16} {'queue':<12} {'category':<16} {'status':<8} {'assignee':<10} mention")
    for entry in entries:
        flag = "!" if entry.escalated else " "
        print(f"{flag}{entry.priority:>7.2f}  {entry.due_at.astimezone(zone):%Y-%m-%d %H:%M} {entry.queue:<12} "
              f"{entry.category:<16} {entry.status:<8} {entry.assignee or '-':<10} {entry.mention_key}")
        print(f"{'':>8}  {' '.join(entry.text.split())[:100]}")
        if templates.get(entry.category):
            print(f"{'':>8}  reply: {templates[entry.category]}")


def _staffing(config: Config, playbook: Playbook, arguments: argparse.Namespace) -> int:
    from care.staffing import daily_staffing, queue_staffing, staffing_plan

    week_start = _week_start(arguments.week, config.timezone)
    with open_for_reading(config) as connection:
        plan = staffing_plan(connection, week_start, queues=queue_staffing(playbook), timezone=config.timezone)
    print(f"Staffing for the week of {week_start} ({config.timezone}), {plan.model}; weeks of history: "
          + json.dumps(plan.weeks_used))
    print(f"{'queue':<14} {'day':<11} {'arrivals':>9} {'peak agents':>12} {'agent-hours':>12}")
    for day in daily_staffing(plan):
        print(f"{day.queue:<14} {day.day:%a %d %b} {day.forecast_arrivals:>9.1f} {day.peak_agents:>12} {day.agent_hours:>12}")
    return 0


def _erase(config: Config, arguments: argparse.Namespace) -> int:
    from care.erasure import erase_author
    from warehouse.snapshot import publish_snapshot

    with open_for_writing(config) as connection:
        erased = erase_author(connection, arguments.platform, arguments.handle, arguments.actor, datetime.now(UTC))
        publish_snapshot(connection, config.warehouse.path, f"erase-author:{arguments.actor}")
    print(f"Erased {erased.mentions_deleted} mentions by {arguments.platform}:{arguments.handle}; "
          f"{erased.triage_items_pseudonymised} triage items and {erased.actions_pseudonymised} actions pseudonymised.")
    return 0


def _moment(text: str) -> datetime:
    """An ISO 8601 time from the command line (naive ones are read in the config's timezone later)."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time, e.g. 2026-11-02T12:30 or 2026-11-02T12:30+01:00"
        ) from None


def _week_start(week: str | None, timezone: str) -> date:
    """The local Monday of `week`, or of next week when None."""
    from reports.weeks import report_week

    if week is None:
        today = datetime.now(ZoneInfo(timezone)).date()
        return today + timedelta(days=7 - today.weekday())
    try:
        return report_week(week, timezone).days[0]
    except ValueError as error:
        raise SystemExit(f"--week: {error}") from None
