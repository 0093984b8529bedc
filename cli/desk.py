"""`overheard desk`: serve the care team's web desk, and set the passwords its people sign in with.

    overheard desk --config C [--host 127.0.0.1] [--port 8770] [--https-proxy | --ssl-certfile F --ssl-keyfile K]
    overheard desk set-password NAME --config C        # prompts twice; or reads one line from stdin

One desk server per warehouse: a second `overheard desk` on the same warehouse stops at once and names
the running one (`desk.server_lock`).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime
from pathlib import Path

from config import Config

DEFAULT_PORT = 8770
KEEP_ALIVE_SECONDS = 75
"""Longer than the desk's 5-second refreshes, so a browser's connection is not closed just as it is reused."""


def add_desk_commands(commands: argparse._SubParsersAction) -> None:
    """Add `desk` (serve) and `desk set-password` to the `overheard` parser."""
    desk = commands.add_parser("desk", help="serve the care desk (web inbox, item pages, the lead's board)")
    desk.add_argument("--config", required=True, type=Path)
    desk.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    desk.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    desk.add_argument("--https-proxy", action="store_true",
                      help="served to people over https by a proxy in front: mark the session cookie Secure")
    desk.add_argument("--ssl-certfile", type=Path, help="serve https with this certificate (PEM)")
    desk.add_argument("--ssl-keyfile", type=Path, help="the certificate's private key (PEM)")
    desk.add_argument("desk_action", nargs="?", choices=["set-password"],
                      help="set-password NAME: set the password a lead, agent or admin signs in with")
    desk.add_argument("name", nargs="?", help="set-password: a name from the playbook (leads, agents, admins)")


def run_desk_command(config: Config, arguments: argparse.Namespace) -> int:
    """Serve the desk, or set a password; returns the exit status."""
    if config.playbook is None:
        print("the config has no playbook: add one (docs/social-care.md) to run the desk", file=sys.stderr)
        return 2
    if arguments.desk_action == "set-password":
        if not arguments.name:
            print("desk set-password needs the NAME whose password to set", file=sys.stderr)
            return 2
        return _set_password(config, arguments.name)
    return _serve(config, arguments)


def _set_password(config: Config, name: str) -> int:
    from desk.accounts import PasswordRejected, desk_people, set_password
    from desk.state import DeskState, desk_state_path

    assert config.playbook is not None
    if sys.stdin.isatty():
        password = getpass.getpass(f"New password for {name}: ")
        if getpass.getpass("Again: ") != password:
            print("the two passwords differ; nothing changed", file=sys.stderr)
            return 2
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        set_password(DeskState(desk_state_path(config.warehouse.path)), desk_people(config.playbook), name, password,
                     datetime.now(UTC))
    except PasswordRejected as rejected:
        print(f"{rejected}; nothing changed", file=sys.stderr)
        return 2
    print(f"Password set for {name}; their other sessions have ended.")
    return 0


def _serve(config: Config, arguments: argparse.Namespace) -> int:
    """Serve the desk, unless another desk server serves the same warehouse (refused at once, naming it)."""
    from desk.server_lock import DeskAlreadyServed, DeskServerLock

    if bool(arguments.ssl_certfile) != bool(arguments.ssl_keyfile):
        print("--ssl-certfile and --ssl-keyfile go together", file=sys.stderr)
        return 2
    if not Path(config.warehouse.path).exists():
        print(f"No warehouse at {config.warehouse.path} yet: run a collection first (make demo, or overheard run).",
              file=sys.stderr)
        return 1
    lock = DeskServerLock(config.warehouse.path, arguments.host, arguments.port)
    try:
        lock.acquire()
    except DeskAlreadyServed as served:
        print(served, file=sys.stderr)
        return 1
    try:
        return _serve_locked(config, arguments)
    finally:
        lock.release()


def _serve_locked(config: Config, arguments: argparse.Namespace) -> int:
    """Serve the desk, this process holding the warehouse's desk server lock."""
    import uvicorn

    from care.helpdesk import HandoffRefused, helpdesk_for
    from desk.app import create_app
    from desk.committed_state import CommittedState, NothingPublishedYet
    from desk.platform_replies import platform_replies
    from desk.replies import unknown_after_a_stop
    from desk.state import DeskState, desk_state_path
    from transport.http import RetryPolicy
    from warehouse.connection import open_warehouse
    from warehouse.snapshot import publish_snapshot

    try:
        CommittedState(config.warehouse.path).view().cursor.close()
    except NothingPublishedYet:
        with open_warehouse(config.warehouse.path) as connection:  # an older warehouse: publish its first snapshot
            publish_snapshot(connection, config.warehouse.path, "desk")
    with DeskState(desk_state_path(config.warehouse.path)).connect() as state:
        (accounts,) = state.execute("SELECT count(*) FROM accounts").fetchone()
    if not accounts:
        print(f"Nobody can sign in yet: overheard desk set-password NAME --config {arguments.config}", file=sys.stderr)
    secure = arguments.https_proxy or arguments.ssl_certfile is not None
    if not secure and arguments.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"Serving on {arguments.host} without https: sessions would cross the network in clear. Put a TLS "
              "proxy in front (--https-proxy) or give --ssl-certfile and --ssl-keyfile.", file=sys.stderr)
    stranded = unknown_after_a_stop(DeskState(desk_state_path(config.warehouse.path)), datetime.now(UTC))
    if stranded:
        print(f"{stranded} replies were being sent when the desk last stopped: they may have been posted. A lead "
              "checks each on its item (records its link, or clears it).", file=sys.stderr)
    channel, by_hand = platform_replies(config)
    for reason in by_hand:
        print(f"{reason}. Until then agents answer there and record where.", file=sys.stderr)
    helpdesk, settings = None, config.playbook.helpdesk if config.playbook else None
    if settings is not None:
        try:
            helpdesk = helpdesk_for(**settings.model_dump(), policy=RetryPolicy.from_settings(config.http),
                                    user_agent=config.http.user_agent)
        except HandoffRefused as refused:
            print(f"{refused}. Until then the desk has no 'Send to helpdesk'.", file=sys.stderr)
    app = create_app(config, channel=channel, helpdesk=helpdesk, secure_cookies=secure)
    scheme = "https" if arguments.ssl_certfile or arguments.https_proxy else "http"
    print(f"The care desk: {scheme}://{arguments.host}:{arguments.port}/ (Ctrl+C stops it)", flush=True)
    uvicorn.run(
        app, host=arguments.host, port=arguments.port, log_level="info", proxy_headers=arguments.https_proxy,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        ssl_certfile=str(arguments.ssl_certfile) if arguments.ssl_certfile else None,
        ssl_keyfile=str(arguments.ssl_keyfile) if arguments.ssl_keyfile else None,
    )
    return 0
