"""One scrubber for every message Overheard builds or stores: no secret of a configured connection survives it.

Upstream errors can echo a request back (a token endpoint answering with the Basic credentials it
was sent, a proxy quoting the URL with its token), so a secret may arrive in any of the forms it was
sent in: plain, URL-encoded, or base64 inside `Basic <login:password>`. Every form is replaced by `***`,
whatever its letter case (a URL's `login:password@host` may come back lowercased, as host names are).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus, unquote, urlsplit

from core.connections import connection_extra

MASK = "***"
SHORTEST_SECRET = 4
# Names of connection extras whose values are secrets (as Airflow's own log masker decides).
SECRET_EXTRA_MARKERS = ("token", "secret", "password", "passwd", "key", "credential", "private")


def connection_secrets(connection: Mapping[str, Any]) -> list[str]:
    """The secrets one connection holds, in the shape collectors take (`login`, `password`, `extra`).

    The password; the login when a password goes with it (then it is an API key id or client id,
    sent beside the secret); the path of a URL held in the password (webhook tokens); extras whose
    names look secret; and `login:password` itself, the pair HTTP Basic authentication encodes.
    """
    password = str(connection.get("password") or "")
    login = str(connection.get("login") or "")
    extra = connection_extra(connection) or {}
    secrets = [password]
    if password:
        secrets += [login, f"{login}:{password}"]
    if "://" in password:
        secrets.append(urlsplit(password).path.strip("/"))
    secrets += [
        value for name, value in extra.items()
        if isinstance(value, str) and any(marker in str(name).lower() for marker in SECRET_EXTRA_MARKERS)
    ]
    return [secret for secret in secrets if len(secret) >= SHORTEST_SECRET]


def url_secrets(url: str) -> list[str]:
    """The credentials a URL carries in `login:password@` (a private feed behind HTTP Basic), as written and decoded.

    A login alone (`https://token@host/`) is a secret too; a URL without either carries none.
    """
    try:
        parts = urlsplit(url)
        login, password = parts.username, parts.password
    except ValueError:
        return []
    secrets = [login or "", password or ""]
    secrets += [unquote(secret) for secret in secrets]
    if login and password:
        secrets += [f"{login}:{password}", f"{unquote(login)}:{unquote(password)}"]
    return [secret for secret in secrets if len(secret) >= SHORTEST_SECRET]


class SecretScrubber:
    """Replaces every form of the given secrets with `***`.

    Args:
        secrets: the secret values (see `connection_secrets`).
    """

    def __init__(self, secrets: Iterable[str]):
        forms: set[str] = set()
        for secret in secrets:
            if len(secret) < SHORTEST_SECRET:
                continue
            forms |= {secret, quote(secret, safe=""), quote_plus(secret)}
            encoded = base64.b64encode(secret.encode("utf-8")).decode("ascii")
            forms |= {encoded, encoded.rstrip("="), base64.urlsafe_b64encode(secret.encode("utf-8")).decode("ascii")}
        # Longest first, so that a secret is masked whole where a shorter one is part of it.
        self._pattern = (
            re.compile("|".join(re.escape(form) for form in sorted(forms, key=len, reverse=True)), re.IGNORECASE)
            if forms else None
        )

    @classmethod
    def for_connections(cls, credentials: Mapping[str, Mapping[str, Any]], urls: Iterable[str] = ()) -> SecretScrubber:
        """A scrubber for every secret of every connection (by connection id, as collectors take them), and
        for the credentials configured in any of `urls` (`url_secrets`)."""
        return cls([
            *(secret for connection in credentials.values() for secret in connection_secrets(connection)),
            *(secret for url in urls for secret in url_secrets(url)),
        ])

    def __bool__(self) -> bool:
        return self._pattern is not None

    def scrub(self, text: str) -> str:
        """`text` with every form of every secret, in any letter case, replaced by `***`."""
        return self._pattern.sub(MASK, text) if self._pattern else text
