"""The desk served by uvicorn on 127.0.0.1 as people reach it: passwords set from the command line,
sign-in and its rate limits, sessions, and what never appears in clear. The served desk and its
warehouse here are what the other desk tests start too."""

from __future__ import annotations

import argparse
import io
import logging
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import uvicorn

from care.helpdesk import Helpdesk
from care.triage import CareStep
from cli.desk import add_desk_commands, run_desk_command
from config import load_config
from config.model import Config
from desk.accounts import desk_people, set_password
from desk.app import create_app
from desk.replies import Posted, Refused, ReplyChannel, ReplyTarget, Uncertain
from desk.state import DeskState, desk_state_path
from tests.test_care import MONDAY_NOON, PLAYBOOK, add_mention, first_batch
from warehouse.connection import WarehouseLocked, open_warehouse, read_committed
from warehouse.snapshot import publish_snapshot

REPO = Path(__file__).resolve().parents[1]
PASSWORDS = {"lead": "lead-password-1", "ana": "ana-password-1", "bo": "bo-password-12"}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_HOLD_THE_LOCK = "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('locked', flush=True); sys.stdin.readline()"


def desk_config(tmp_path: Path) -> Config:
    """The care tests' playbook (lead; ana and bo on the care queue; escalations and sales without roster)."""
    return Config.model_validate({
        "timezone": "Europe/London", "warehouse": {"path": str(tmp_path / "w.duckdb")}, "staging": str(tmp_path / "s"),
        "brands": [{"name": "Brightwave", "aliases": ["Brightwave"]}],
        "competitors": [{"name": "Tidewell", "aliases": ["Tidewell"]}],
        "sources": [{"kind": "rss", "name": "news", "url": "https://n.example/feed"}], "playbook": PLAYBOOK,
    })


def triage(config: Config, run: str, now: datetime, *mentions: tuple[str, str]) -> None:
    """Load mentions (key, text) as one run, triage them and publish the snapshot, as the pipeline does.

    With no mentions, the six of the care tests' first batch (x:1-x:6; x:4 is an escalated crisis).
    """
    with open_warehouse(config.warehouse.path) as warehouse:
        if mentions:
            for key, text in mentions:
                add_mention(warehouse, key, text, run, now, author=f"author-{key}")
        else:
            first_batch(warehouse)
        # The brand's alias is what its query matched in each of these texts; an X post's id is its key's end.
        warehouse.execute("UPDATE mention_brands SET matched_terms = [brand] WHERE len(matched_terms) = 0")
        warehouse.execute("UPDATE mentions SET native_id = split_part(mention_key, ':', 2) WHERE native_id IS NULL")
        CareStep(warehouse, config, run, now).run()
        publish_snapshot(warehouse, config.warehouse.path, run)


def set_passwords(config: Config) -> None:
    """Give the lead, ana and bo their test passwords."""
    assert config.playbook is not None
    state = DeskState(desk_state_path(config.warehouse.path))
    for name, password in PASSWORDS.items():
        set_password(state, desk_people(config.playbook), name, password, datetime.now(UTC))


@dataclass
class RecordingChannel:
    """A reply channel for X that records what it posts; refuses when `refuse` says why."""

    posted: list[tuple[str, str]] = field(default_factory=list)
    refuse: str | None = None
    uncertain: str | None = None
    delay: float = 0.0
    sends: int = 0

    def platforms(self) -> frozenset[str]:
        return frozenset({"x"})

    def send_reply(self, target: ReplyTarget, text: str) -> Posted | Refused | Uncertain:
        time.sleep(self.delay)
        self.sends += 1
        if self.uncertain:
            return Uncertain(self.uncertain)
        if self.refuse:
            return Refused(self.refuse)
        self.posted.append((target.mention_key, text))
        return Posted(f"https://x.com/brightwavehelp/status/9{len(self.posted):04d}")


@contextmanager
def served_desk(config: Config, channel: ReplyChannel | None = None, helpdesk: Helpdesk | None = None) -> Iterator[str]:
    """Serve the desk on a free port of 127.0.0.1; yields its base URL."""
    app = create_app(config, channel=channel, helpdesk=helpdesk, writer_poll_seconds=0.05)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="info", access_log=True))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the desk did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def csrf_token(session: requests.Session, page: str) -> str:
    """The CSRF token in a page's forms."""
    found = _CSRF.search(session.get(page).text)
    assert found, f"no form on {page}"
    return found.group(1)


def sign_in(base_url: str, name: str, password: str | None = None) -> requests.Session:
    """A browser-like session signed in as `name`."""
    session = requests.Session()
    token = csrf_token(session, f"{base_url}/login")
    reply = session.post(f"{base_url}/login", data={
        "csrf_token": token, "name": name, "password": password or PASSWORDS[name], "timezone": "Europe/Paris",
    }, allow_redirects=False)
    assert reply.status_code == 303, reply.text
    return session


def wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    """Wait for a condition to hold."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@contextmanager
def holding_the_warehouse(config: Config) -> Iterator[subprocess.Popen]:
    """Another process (a pipeline load, say) holds the warehouse's write lock until the block ends."""
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_THE_LOCK, config.warehouse.path],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
        yield holder
    finally:
        if holder.stdin:
            holder.stdin.close()
        holder.wait(timeout=20)


def unaudited_sign_ins(config: Config) -> int:
    """How many sign-ins the desk's writer has not yet copied to the warehouse."""
    with DeskState(desk_state_path(config.warehouse.path)).connect() as state:
        (count,) = state.execute("SELECT count(*) FROM sign_in_attempts WHERE audited_at IS NULL").fetchone()
    return int(count)


def committed_sign_ins(config: Config) -> list[tuple]:
    """The desk's sign-ins in the warehouse's audit trail, read from the file itself (sign-ins alone publish no
    snapshot) once no desk of this process has it open."""
    connection = read_committed(config.warehouse.path)
    assert connection is not None
    with connection:
        return connection.execute(
            "SELECT name, client, outcome, attempted_at FROM desk_sign_ins ORDER BY attempted_at").fetchall()


def overheard_desk(*argv: str) -> int:
    """`overheard desk ...` (cli/desk.py) as the command line runs it."""
    parser = argparse.ArgumentParser(prog="overheard")
    add_desk_commands(parser.add_subparsers(dest="command", required=True))
    arguments = parser.parse_args(["desk", *argv])
    return run_desk_command(load_config(arguments.config), arguments)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    config = desk_config(tmp_path)
    triage(config, "run-1", MONDAY_NOON)
    set_passwords(config)
    return config


def test_set_password_from_stdin_then_sign_in_and_out(config, tmp_path, monkeypatch, capsys):
    path = tmp_path / "config.json"
    path.write_text(config.model_dump_json(exclude_none=True))
    monkeypatch.setattr("sys.stdin", io.StringIO("a-new-password-for-bo\n"))
    assert overheard_desk("set-password", "bo", "--config", str(path)) == 0
    assert "Password set for bo" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert overheard_desk("set-password", "bo", "--config", str(path)) == 2
    assert "at least 10 characters; nothing changed" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("whoever-password\n"))
    assert overheard_desk("set-password", "zed", "--config", str(path)) == 2
    assert "'zed' is not one of the playbook's people" in capsys.readouterr().err

    with served_desk(config) as base:
        with pytest.raises(AssertionError):
            sign_in(base, "bo", PASSWORDS["bo"])  # the old password no longer works
        bo = requests.Session()
        signed = bo.post(f"{base}/login", data={"csrf_token": csrf_token(bo, f"{base}/login"), "name": "bo",
                                                "password": "a-new-password-for-bo"}, allow_redirects=False)
        inbox = bo.get(f"{base}/inbox")
        assert inbox.status_code == 200 and "<span class=\"name\">bo</span>" in inbox.text
        cookie = signed.headers["set-cookie"].lower()
        assert cookie.startswith("overheard_desk=") and "; httponly" in cookie and "; samesite=lax" in cookie
        assert "; secure" not in cookie  # served over plain http on loopback
        bo.post(f"{base}/logout", data={"csrf_token": csrf_token(bo, f"{base}/inbox")})
        assert bo.get(f"{base}/inbox", allow_redirects=False).headers["location"] == "/login?next=%2Finbox"


def test_a_new_password_ends_the_sessions_signed_before_it(config):
    with served_desk(config) as base:
        ana = sign_in(base, "ana")
        assert ana.get(f"{base}/inbox", allow_redirects=False).status_code == 200
        assert config.playbook is not None
        set_password(DeskState(desk_state_path(config.warehouse.path)), desk_people(config.playbook), "ana",
                     "another-password", datetime.now(UTC) + timedelta(seconds=1))
        assert ana.get(f"{base}/inbox", allow_redirects=False).status_code == 303


def test_sign_ins_are_rate_limited_per_account_and_say_nothing_of_who_exists(config):
    with served_desk(config) as base:
        session = requests.Session()
        answers = []
        for _ in range(6):
            answers.append(session.post(f"{base}/login", data={
                "csrf_token": csrf_token(session, f"{base}/login"), "name": "ana", "password": "wrong-guess-123"}))
        assert [a.status_code for a in answers] == [401] * 6
        assert "That name and password do not match." in answers[0].text
        assert "Too many failed sign-ins: try again in 15 minutes." in answers[5].text
        # Even the right password waits now; an unknown name gets the same refusal as a wrong password.
        right = session.post(f"{base}/login", data={
            "csrf_token": csrf_token(session, f"{base}/login"), "name": "ana", "password": PASSWORDS["ana"]})
        assert right.status_code == 401 and "Too many failed sign-ins" in right.text
        unknown = session.post(f"{base}/login", data={
            "csrf_token": csrf_token(session, f"{base}/login"), "name": "nobody", "password": "whatever-123"})
        assert "That name and password do not match." in unknown.text
        # bo, from the same address, is not held back by ana's failures (20 per address are allowed).
        assert sign_in(base, "bo").get(f"{base}/inbox").status_code == 200
        lead = sign_in(base, "lead")
        log = lead.get(f"{base}/sign-ins").text
        assert log.count("<td>ana</td>") == 7 and log.count(">rate limited<") == 2 and ">signed in<" in log


def test_passwords_never_appear_in_clear_in_logs_state_or_warehouse(config, caplog):
    caplog.set_level(logging.DEBUG)
    with served_desk(config) as base:
        lead = sign_in(base, "lead")
        lead.get(f"{base}/inbox")
        session = requests.Session()
        session.post(f"{base}/login", data={
            "csrf_token": csrf_token(session, f"{base}/login"), "name": "ana", "password": "typo-ana-password-1"})
    assert [row[:3] for row in committed_sign_ins(config)] == [
        ("lead", "127.0.0.1", "signed_in"), ("ana", "127.0.0.1", "refused")]
    state_files = [desk_state_path(config.warehouse.path)]
    state_files += [Path(f"{state_files[0]}-wal"), Path(config.warehouse.path), Path(f"{config.warehouse.path}.wal")]
    stored = b"".join(path.read_bytes() for path in state_files if path.exists())
    for password in [*PASSWORDS.values(), "typo-ana-password-1"]:
        assert password not in caplog.text
        assert password.encode() not in stored
    assert stored.count(b"$argon2id$") >= 3  # the three hashes


def test_every_sign_in_refusal_and_sign_out_lands_in_the_audit_trail_without_waiting_for_a_load(config):
    with served_desk(config) as base:
        with holding_the_warehouse(config) as load:
            started = datetime.now(UTC)
            ana = sign_in(base, "ana")
            stranger = requests.Session()
            refused = stranger.post(f"{base}/login", data={
                "csrf_token": csrf_token(stranger, f"{base}/login"), "name": "bo", "password": "bo-wrong-guess-1"})
            assert refused.status_code == 401
            ana.post(f"{base}/logout", data={"csrf_token": csrf_token(ana, f"{base}/inbox")})
            # All of it answered while the load still held the warehouse.
            assert load.poll() is None
            with pytest.raises(WarehouseLocked):
                open_warehouse(config.warehouse.path, lock_wait_seconds=0)
            ended = datetime.now(UTC)
        wait_until(lambda: unaudited_sign_ins(config) == 0, seconds=30)  # copied once the load let go
    trail = committed_sign_ins(config)
    assert [row[:3] for row in trail] == [
        ("ana", "127.0.0.1", "signed_in"), ("bo", "127.0.0.1", "refused"), ("ana", "127.0.0.1", "signed_out")]
    assert all(started <= at <= ended for *_, at in trail)  # when each happened, not when it was copied


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def desk_command(config_file: Path, port: int) -> list[str]:
    """`overheard desk --config F --port P` as a command line."""
    return [sys.executable, "-c", "import sys; from cli.main import main; sys.exit(main())",
            "desk", "--config", str(config_file), "--port", str(port)]


def answers(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/login").status_code == 200
    except requests.ConnectionError:
        return False


@contextmanager
def desk_process(config_file: Path, port: int) -> Iterator[subprocess.Popen]:
    """`overheard desk` in a process of its own, serving on 127.0.0.1:port (yields once it says where)."""
    process = subprocess.Popen(desk_command(config_file, port), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               cwd=REPO)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().decode() == f"The care desk: http://127.0.0.1:{port}/ (Ctrl+C stops it)\n"
        wait_until(lambda: answers(port), seconds=30)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


def test_a_second_desk_server_on_one_warehouse_is_refused_at_once_and_a_killed_ones_lock_blocks_nobody(
        config, tmp_path):
    config_file = tmp_path / "config.json"
    config_file.write_text(config.model_dump_json(exclude_none=True))
    first_port, second_port = free_port(), free_port()
    with desk_process(config_file, first_port) as first:
        # (The timeout only keeps a desk that wrongly serves from hanging the test.)
        second_try = subprocess.run(desk_command(config_file, second_port), capture_output=True, timeout=120,
                                    cwd=REPO)
        assert second_try.returncode == 1 and second_try.stdout == b""
        refusal = second_try.stderr.decode()
        assert f"Another desk server already serves this warehouse ({config.warehouse.path}): pid {first.pid} at " \
               f"http://127.0.0.1:{first_port}/" in refusal
        assert f"Open that one, or stop it (kill {first.pid}) and start this one again." in refusal
        assert not answers(second_port)  # the second never served
        first.kill()  # SIGKILL: no clean-up; its lock file stays behind
        first.wait(timeout=30)
    lock_file = desk_state_path(config.warehouse.path).with_name("w.desk.lock")
    assert f'"pid": {first.pid}' in lock_file.read_text()
    with desk_process(config_file, second_port) as second:
        assert f'"pid": {second.pid}' in lock_file.read_text()
    assert second.returncode == 0 and lock_file.read_text() == ""  # a clean stop lets go of it


def test_a_reply_a_stopped_desk_was_sending_is_left_for_a_lead_to_settle(config, tmp_path):
    state = DeskState(desk_state_path(config.warehouse.path))
    with state.connect() as connection:  # as a desk killed while X was answering leaves it
        connection.execute(
            "INSERT INTO replies (mention_key, author, text, state, form_token, created_at, updated_at) "
            "VALUES ('x:1', 'ana', 'Sorry!', 'sending', 'form-1', '2026-12-06T10:00:00.000000Z', "
            "'2026-12-06T10:00:00.000000Z')")
    config_file = tmp_path / "config.json"
    config_file.write_text(config.model_dump_json(exclude_none=True))
    with desk_process(config_file, free_port()):
        with state.connect() as connection:
            assert connection.execute("SELECT state, refusal FROM replies").fetchall() == [
                ("unknown", "the desk stopped while sending it")]
