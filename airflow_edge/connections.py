"""Airflow connections that Overheard sends through (SMTP, webhooks), and the secrets they hold.

Credentials live in Airflow connections (the metadata database, a secrets backend, or
`AIRFLOW_CONN_<ID>` variables), never in the config. `airflow.sdk.Connection.get` reads them both
inside a task and outside one (from a secrets backend or the environment).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from airflow.sdk import Connection
from airflow.sdk.exceptions import AirflowNotFoundException

SHORTEST_SECRET = 4
_SECRET_EXTRA_MARKERS = ("token", "secret", "password", "passwd", "key", "credential")


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


def connection_secrets(connection: Connection) -> list[str]:
    """The values to keep out of messages: the password, the path of a URL held in it, and
    secret-looking extras; longest first, so that replacing them leaves no part behind."""
    secrets = [connection.password or ""]
    if "://" in secrets[0]:
        secrets.append(urlsplit(secrets[0]).path.strip("/"))
    secrets += [
        value
        for name, value in connection.extra_dejson.items()
        if isinstance(value, str) and any(marker in name.lower() for marker in _SECRET_EXTRA_MARKERS)
    ]
    return sorted({secret for secret in secrets if len(secret) >= SHORTEST_SECRET}, key=len, reverse=True)
