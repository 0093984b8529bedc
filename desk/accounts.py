"""Who may use the desk, as what, and signing in: the playbook's people, argon2 password hashes, rate limits.

Accounts are the playbook's people: its `leads`, each queue's `agents` and its `admins`. A name that
is not there cannot sign in, even with a password set; taking a name off the playbook takes its
access away at the next request. Passwords are set with `overheard desk set-password NAME` and kept
only as argon2id hashes in the desk state. Failed sign-ins are limited per account and per client
address within a sliding window; a refused sign-in does not say whether the name exists. Every
attempt (signed in, refused, rate limited) and every sign-out is kept in the desk state at once, and
the desk's writer copies it to the warehouse's audit trail (`care.audit_trail.record_sign_ins`), so
signing in never waits for a pipeline load that holds the warehouse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from care.audit_trail import SignIn
from config.playbook import Playbook
from desk.state import DeskState, read_time, stored_time

MIN_PASSWORD_LENGTH = 10
ATTEMPT_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_CLIENT = 20
AUDIT_BATCH = 1000
"""At most this many sign-ins go to the warehouse's audit trail in one round of the desk's writer."""

_HASHER = PasswordHasher()
# Verified against when the name has no password, so that a refusal takes as long either way.
_DUMMY_HASH = _HASHER.hash("not anyone's password")


class Role(StrEnum):
    """What a person does on the desk."""

    AGENT = "agent"
    """Works the items of their queues and the items given to them."""
    LEAD = "lead"
    """Sees every queue; also reassigns, reopens, approves escalated replies and closes in bulk."""
    ADMIN = "admin"
    """Oversees the desk (every queue, the board, sign-ins); not on the roster, so acts on no item."""


@dataclass(frozen=True)
class Person:
    """Someone who may sign in to the desk.

    Attributes:
        name: as spelt in the playbook.
        role: agent, lead or admin.
        queues: the queues they work (an agent: the queues whose roster names them; others: every queue).
    """

    name: str
    role: Role
    queues: tuple[str, ...]

    @property
    def sees_every_queue(self) -> bool:
        """Leads and admins see every queue."""
        return self.role is not Role.AGENT


class SignInRefused(Exception):
    """The name and password did not match, or too many attempts failed; the message is safe to show."""


class PasswordRejected(ValueError):
    """A new password that is too weak, or a name that may not have one; the message says what to do."""


def desk_people(playbook: Playbook) -> dict[str, Person]:
    """Everyone who may sign in, by name: leads, then agents, then admins (a name keeps its first role).

    Args:
        playbook: the config's playbook.
    """
    every_queue = tuple(queue.name for queue in playbook.queues)
    people: dict[str, Person] = {name: Person(name, Role.LEAD, every_queue) for name in playbook.leads}
    for queue in playbook.queues:
        for agent in queue.agents:
            if agent.name not in people:
                people[agent.name] = Person(agent.name, Role.AGENT, ())
            person = people[agent.name]
            if person.role is Role.AGENT:
                people[agent.name] = Person(agent.name, Role.AGENT, (*person.queues, queue.name))
    for name in playbook.admins:
        people.setdefault(name, Person(name, Role.ADMIN, every_queue))
    return people


def set_password(state: DeskState, people: dict[str, Person], name: str, password: str, at: datetime) -> None:
    """Set someone's password (hashed with argon2id); sessions signed before now end.

    Args:
        state: the desk state.
        people: who may sign in (`desk_people`).
        name: whose password.
        password: the new password, in clear; only its hash is kept.
        at: now.

    Raises:
        PasswordRejected: the name is not one of the playbook's people, or the password is too short.
    """
    if name not in people:
        on_it = ", ".join(people) or "nobody yet"
        raise PasswordRejected(
            f"{name!r} is not one of the playbook's people (playbook.leads, each queue's agents, playbook.admins); "
            f"on it: {on_it}"
        )
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordRejected(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if password.strip().lower() == name.lower():
        raise PasswordRejected("a password must not be the name")
    with state.write() as connection:
        connection.execute(
            """
            INSERT INTO accounts (name, password_hash, password_set_at) VALUES (?, ?, ?)
            ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash,
                password_set_at = excluded.password_set_at
            """,
            [name, _HASHER.hash(password), stored_time(at)],
        )


def sign_in(
    state: DeskState, people: dict[str, Person], name: str, password: str, client: str, at: datetime
) -> tuple[Person, str]:
    """Check a name and password, within the rate limits, and record the attempt.

    Args:
        state: the desk state.
        people: who may sign in.
        name: the name typed.
        password: the password typed.
        client: the client's address.
        at: now.

    Returns:
        The person, and when their password was set (a session carries it; a new password ends it).

    Raises:
        SignInRefused: wrong name or password, or too many failures for this account or address.
    """
    since = stored_time(at - ATTEMPT_WINDOW)
    with state.connect() as connection:
        by_name, by_client = connection.execute(
            """
            SELECT count(*) FILTER (WHERE name = ?), count(*) FILTER (WHERE client = ?)
            FROM sign_in_attempts WHERE at >= ? AND outcome = 'refused' AND (name = ? OR client = ?)
            """,
            [name, client, since, name, client],
        ).fetchone()
        row = connection.execute("SELECT password_hash, password_set_at FROM accounts WHERE name = ?", [name]).fetchone()
    if by_name >= MAX_FAILURES_PER_ACCOUNT or by_client >= MAX_FAILURES_PER_CLIENT:
        record_attempt(state, name, client, at, "rate_limited")
        minutes = int(ATTEMPT_WINDOW.total_seconds() // 60)
        raise SignInRefused(f"Too many failed sign-ins: try again in {minutes} minutes.")
    person = people.get(name)
    if not _verifies(row[0] if row else _DUMMY_HASH, password) or row is None or person is None:
        record_attempt(state, name, client, at, "refused")
        raise SignInRefused("That name and password do not match.")
    record_attempt(state, name, client, at, "signed_in")
    return person, str(row[1])


def password_set_at(state: DeskState, name: str) -> str | None:
    """When the person's current password was set (None: they have none); a session must carry the same."""
    with state.connect() as connection:
        row = connection.execute("SELECT password_set_at FROM accounts WHERE name = ?", [name]).fetchone()
    return None if row is None else str(row[0])


def record_attempt(state: DeskState, name: str, client: str, at: datetime, outcome: str) -> None:
    """Keep a sign-in attempt (or a sign-out) with who, from where and when."""
    with state.connect() as connection:
        connection.execute(
            "INSERT INTO sign_in_attempts (name, client, at, outcome) VALUES (?, ?, ?, ?)",
            [name[:64], client, stored_time(at), outcome],
        )


def sign_ins_to_audit(state: DeskState, limit: int = AUDIT_BATCH) -> list[tuple[int, SignIn]]:
    """Sign-in attempts and sign-outs not yet in the warehouse's audit trail, oldest first, with their ids."""
    with state.connect() as connection:
        rows: list[Any] = connection.execute(
            "SELECT attempt_id, name, client, at, outcome FROM sign_in_attempts WHERE audited_at IS NULL "
            "ORDER BY attempt_id LIMIT ?",
            [limit],
        ).fetchall()
    return [(attempt_id, SignIn(name, client, read_time(at), outcome)) for attempt_id, name, client, at, outcome in rows]


def mark_audited(state: DeskState, attempt_ids: list[int], at: datetime) -> None:
    """Note that these attempts are in the warehouse's audit trail (committed there)."""
    with state.write() as connection:
        connection.executemany(
            "UPDATE sign_in_attempts SET audited_at = ? WHERE attempt_id = ?",
            [(stored_time(at), attempt_id) for attempt_id in attempt_ids],
        )


def account_timezone(state: DeskState, name: str) -> str | None:
    """The timezone the person chose on the desk, if any."""
    with state.connect() as connection:
        row = connection.execute("SELECT timezone FROM accounts WHERE name = ?", [name]).fetchone()
    return None if row is None or row[0] is None else str(row[0])


def choose_timezone(state: DeskState, name: str, timezone: str | None) -> None:
    """Keep the timezone someone chose (None: follow their browser's)."""
    with state.connect() as connection:
        connection.execute("UPDATE accounts SET timezone = ? WHERE name = ?", [timezone, name])


def _verifies(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
