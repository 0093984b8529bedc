"""Airflow connections that Overheard sends through (SMTP, webhooks), in the shape the rest of Overheard reads.

Credentials live in Airflow connections (the metadata database, a secrets backend, or
`AIRFLOW_CONN_<ID>` variables), never in the config. `airflow.sdk.Connection.get` reads them both
inside a task and outside one (from a secrets backend or the environment).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Connection
from airflow.sdk.exceptions import AirflowNotFoundException


class ConnectionMissing(LookupError):
    """The Airflow connection is not defined; the message says how to define it."""


def airflow_connection(conn_id: str, purpose: str) -> Connection:
    """The Airflow connection `conn_id`.

    Args:
        conn_id: its id.
        purpose: what it is for, named first in the error (e.g. "email").

    Raises:
        ConnectionMissing: it is not defined anywhere Airflow looks.
    """
    try:
        return Connection.get(conn_id)
    except AirflowNotFoundException:
        raise ConnectionMissing(
            f"{purpose}: Airflow connection {conn_id!r} is not defined; "
            f"set AIRFLOW_CONN_{conn_id.upper()} or add it with `airflow connections add`"
        ) from None


def connection_credentials(connection: Connection) -> dict[str, Any]:
    """A connection as collectors take it and `core.secret_scrubbing` reads it: `login`, `password`,
    `host` and `extra` (a dict)."""
    return {
        "login": connection.login, "password": connection.password, "host": connection.host,
        "extra": connection.extra_dejson,
    }
