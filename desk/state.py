"""The desk's own state: a small SQLite file beside the warehouse, `<stem>.desk.sqlite`.

DuckDB lets one process write the warehouse at a time and the pipeline loads into it, so the desk
keeps what must change at once in its own file (SQLite in WAL mode: many readers, one writer at a
time, each write a short transaction): the accounts and their password hashes, sign-in attempts (until
the desk's writer has copied them to the warehouse's audit trail, and after), the queue of desk actions waiting to be applied to the warehouse, replies in flight, short item numbers,
who is online, saved replies and the session-signing secret. The file is created readable by its
owner only. Times are stored as UTC text of one fixed width, so that they sort as text.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

DESK_STATE_SUFFIX = ".desk.sqlite"
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_BUSY_TIMEOUT_SECONDS = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    name             TEXT PRIMARY KEY,
    password_hash    TEXT NOT NULL,          -- argon2id, with its own salt and parameters
    password_set_at  TEXT NOT NULL,          -- sessions signed before this are void
    timezone         TEXT                    -- IANA name the person chose; NULL: their browser's
);
CREATE TABLE IF NOT EXISTS sign_in_attempts (
    attempt_id  INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    client      TEXT NOT NULL,               -- the client's address
    at          TEXT NOT NULL,
    outcome     TEXT NOT NULL,               -- signed_in, refused, rate_limited, signed_out
    audited_at  TEXT                         -- when the desk's writer copied it to the warehouse's audit trail
);
CREATE INDEX IF NOT EXISTS sign_in_attempts_by_name ON sign_in_attempts (name, at);
CREATE INDEX IF NOT EXISTS sign_in_attempts_by_client ON sign_in_attempts (client, at);
CREATE TABLE IF NOT EXISTS desk_actions (
    action_id    INTEGER PRIMARY KEY,
    mention_key  TEXT NOT NULL,
    action       TEXT NOT NULL,              -- claim, note, respond, close, reopen, reassign
    actor        TEXT NOT NULL,
    at           TEXT NOT NULL,              -- when the person acted: the time the audit trail keeps
    params       TEXT NOT NULL,              -- JSON arguments of the action
    state        TEXT NOT NULL DEFAULT 'pending',  -- pending, applied, failed
    error        TEXT,                       -- why it failed
    applied_at   TEXT                        -- when the warehouse committed it
);
CREATE INDEX IF NOT EXISTS desk_actions_by_state ON desk_actions (state, action_id);
CREATE INDEX IF NOT EXISTS desk_actions_by_item ON desk_actions (mention_key, action_id);
CREATE TABLE IF NOT EXISTS replies (
    reply_id      INTEGER PRIMARY KEY,
    mention_key   TEXT NOT NULL,
    author        TEXT NOT NULL,             -- the agent who wrote it
    text          TEXT NOT NULL,
    state         TEXT NOT NULL,             -- awaiting_approval, sending, sent, refused, sent_back
    approved_by   TEXT,
    posted_url    TEXT,
    refusal       TEXT,                      -- the platform's reason, or the lead's note when sent back
    form_token    TEXT NOT NULL UNIQUE,      -- one per reply form shown: a second press of "send" is refused
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
-- One reply in flight per item: two presses of "send" post once.
DROP INDEX IF EXISTS one_reply_in_flight;
CREATE UNIQUE INDEX IF NOT EXISTS one_reply_in_flight_or_unknown ON replies (mention_key)
    WHERE state IN ('awaiting_approval', 'sending', 'unknown');
CREATE TABLE IF NOT EXISTS item_numbers (
    item_number  INTEGER PRIMARY KEY,
    mention_key  TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS presence (
    name          TEXT PRIMARY KEY,
    last_seen_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS saved_replies (
    saved_reply_id  INTEGER PRIMARY KEY,
    title           TEXT NOT NULL,
    text            TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
"""


def desk_state_path(warehouse_path: str | Path) -> Path:
    """Where the desk state of a warehouse file is: `<dir>/<stem>.desk.sqlite`.

    Args:
        warehouse_path: the pipeline's DuckDB file, e.g. `var/demo/overheard.duckdb`.
    """
    path = Path(warehouse_path)
    return path.with_name(path.stem + DESK_STATE_SUFFIX)


def stored_time(moment: datetime) -> str:
    """A time as the desk state stores it: UTC text that sorts in time order."""
    return moment.astimezone(UTC).strftime(_TIME_FORMAT)


def read_time(text: str) -> datetime:
    """A time the desk state stored, as an aware UTC datetime."""
    return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)


class DeskState:
    """The desk state file, safe across threads: each thread keeps its own connection to it.

    (Connections stay open: closing the last one would checkpoint the WAL, about 10 ms each time.)

    Args:
        path: the SQLite file (`desk_state_path(warehouse_path)`); created, owner-only, when missing.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        self._connections = threading.local()
        with self.connect() as connection:
            connection.execute("PRAGMA journal_mode = WAL")
            connection.executescript(_SCHEMA)
        with self.write() as connection:  # one at a time: two servers starting together alter once
            columns = {row[1] for row in connection.execute("PRAGMA table_info(sign_in_attempts)")}
            if "audited_at" not in columns:  # a desk state from before sign-ins reached the audit trail
                connection.execute("ALTER TABLE sign_in_attempts ADD COLUMN audited_at TEXT")
            connection.execute(
                "CREATE INDEX IF NOT EXISTS sign_in_attempts_to_audit ON sign_in_attempts (attempt_id) "
                "WHERE audited_at IS NULL"
            )

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection, in autocommit mode; wrap writes that must go together in `write()`."""
        connection = getattr(self._connections, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_SECONDS, isolation_level=None)
            connection.execute("PRAGMA synchronous = NORMAL")
            self._connections.connection = connection
        yield connection

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (`BEGIN IMMEDIATE`): what it reads no other writer changes.

        Commits when the block ends, rolls back when it raises.
        """
        with self.connect() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def session_secret(self) -> str:
        """The key that signs session cookies, made on first use and kept here (never in the config)."""
        with self.write() as connection:
            row = connection.execute("SELECT value FROM settings WHERE key = 'session_secret'").fetchone()
            if row is not None:
                return str(row[0])
            secret = secrets.token_urlsafe(48)
            connection.execute("INSERT INTO settings VALUES ('session_secret', ?)", [secret])
            return secret

    def item_numbers(self, mention_keys: list[str]) -> dict[str, int]:
        """Short item numbers for these items, given in order to the ones that have none yet."""
        with self.write() as connection:
            connection.executemany(
                "INSERT OR IGNORE INTO item_numbers (mention_key) VALUES (?)", [[key] for key in mention_keys]
            )
            return self._numbers(connection, mention_keys)

    def mention_key_of(self, item_number: int) -> str | None:
        """The item a short number stands for, if any."""
        with self.connect() as connection:
            row = connection.execute(
                "SELECT mention_key FROM item_numbers WHERE item_number = ?", [item_number]
            ).fetchone()
        return None if row is None else str(row[0])

    @staticmethod
    def _numbers(connection: sqlite3.Connection, mention_keys: list[str]) -> dict[str, int]:
        numbers: dict[str, int] = {}
        for start in range(0, len(mention_keys), 500):
            chunk = mention_keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            numbers.update(connection.execute(
                f"SELECT mention_key, item_number FROM item_numbers WHERE mention_key IN ({marks})", chunk
            ).fetchall())
        return numbers

    def seen(self, name: str, at: datetime) -> None:
        """Note that someone is on the desk now (the board counts who was seen in the last minutes)."""
        with self.connect() as connection:
            connection.execute(
                "INSERT INTO presence VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET last_seen_at = excluded.last_seen_at",
                [name, stored_time(at)],
            )

    def online(self, since: datetime) -> set[str]:
        """Who was seen on the desk since then."""
        with self.connect() as connection:
            rows = connection.execute("SELECT name FROM presence WHERE last_seen_at >= ?", [stored_time(since)])
            return {str(name) for (name,) in rows}
