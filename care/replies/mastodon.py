"""Replies on Mastodon: `POST /api/v1/statuses` with `in_reply_to_id`, as the write connection's account.

The write connection (default `mastodon_reply`): host = the account's instance (e.g.
`https://mastodon.social`), password = an access token with the `write:statuses` scope (and
`read:search` to answer posts of other servers); extra `visibility` (public, unlisted, private;
default public).

A status id belongs to the server that gave it. A mention read on another instance than the
account's is first looked up on the account's own (`GET /api/v2/search?resolve=true`, a read) by its
URL. The reply starts by mentioning the author unless the agent did, as Mastodon's own apps do, so
that they are notified. The post carries an `Idempotency-Key` made of the post answered and the
text, so that Mastodon itself answers a repeat within the hour with the status it already made.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests

from care.replies.exceptions import (
    ReplyCredentialsRejected,
    ReplyError,
    ReplyOutcomeUnknown,
    ReplyRefused,
)
from care.replies.reply import Reply, SentReply
from care.replies.transport import (
    WriteConnection,
    json_answer,
    read_failure,
    scrubbed_errors,
    short_reason,
    write_failure,
)
from core.errors import CollectorError
from transport.http import BearerAuth

VISIBILITIES = ("public", "unlisted", "private")


class MastodonReplySender:
    """Posts replies on Mastodon as the write connection's account.

    Args:
        connection: the write connection (`host` = instance, `password` = access token, `extra`).

    Raises:
        ReplyCredentialsRejected: the connection names no instance or token, or an unknown visibility.
    """

    platform = "mastodon"

    def __init__(self, connection: WriteConnection):
        self._connection = connection
        credentials = connection.credentials
        host = str(credentials.get("host") or "").strip().rstrip("/")
        self._instance = host if "://" in host or not host else f"https://{host}"
        self._token = str(credentials.get("password") or "")
        if not self._instance or not self._token:
            raise ReplyCredentialsRejected(f"the {connection.id} connection has no instance (host) or no access token; {self._fix()}")
        self._visibility = str(connection.extra(self._fix()).get("visibility") or "public")
        if self._visibility not in VISIBILITIES:
            raise ReplyCredentialsRejected(
                f"the {connection.id} connection's extra visibility is {self._visibility!r}; use one of {', '.join(VISIBILITIES)}"
            )

    def send(self, reply: Reply) -> SentReply:
        """Post the reply (see `ReplySender.send`)."""
        with scrubbed_errors("Mastodon", self._connection.secrets):
            http = self._connection.session()
            http.auth = BearerAuth(self._token)
            try:
                status_id = self._local_id(http, reply)
                status = self._post(http, reply, status_id)
            finally:
                http.close()
            url = status.get("url") or status.get("uri")
            if not url:
                raise ReplyOutcomeUnknown(
                    "Mastodon answered without the new status's URL; the reply was probably posted: look at "
                    f"{reply.in_reply_to_url or 'the thread'} before sending again"
                )
            return SentReply("mastodon", str(url), str(status.get("id") or "") or None)

    def _local_id(self, http: requests.Session, reply: Reply) -> str:
        """The answered status's id on the account's instance: its own id if it was read there, else looked up."""
        read_on, _, status_id = reply.in_reply_to.rpartition(":")
        if read_on == urlsplit(self._instance).hostname and status_id:
            return status_id
        if not reply.in_reply_to_url:
            raise ReplyRefused(f"{reply.in_reply_to} was read on another server and its URL is unknown, so "
                               f"{self._instance} cannot find it; nothing was posted")
        query = urlencode({"q": reply.in_reply_to_url, "type": "statuses", "resolve": "true", "limit": 1})
        try:
            response = http.get(f"{self._instance}/api/v2/search?{query}")
        except CollectorError as error:
            raise read_failure("Mastodon", error) from None
        body = json_answer(response)
        if response.status_code >= 400:
            raise self._refusal(response, body, "looking the post up")
        statuses = body.get("statuses") if isinstance(body, Mapping) else None
        if not statuses or not isinstance(statuses[0], Mapping) or not statuses[0].get("id"):
            raise ReplyRefused(f"{self._instance} cannot find {reply.in_reply_to_url} (deleted, private, or its server "
                               "blocks yours); nothing was posted", "post not found")
        return str(statuses[0]["id"])

    def _post(self, http: requests.Session, reply: Reply, status_id: str) -> Mapping[str, Any]:
        text = reply.text
        author = (reply.in_reply_to_author or "").strip()
        if author and author.lower() not in text.lower():
            text = f"{author if author.startswith('@') else '@' + author} {text}"
        key = hashlib.sha256(f"{reply.in_reply_to}\n{reply.text}".encode()).hexdigest()
        try:
            response = http.post(
                f"{self._instance}/api/v1/statuses",
                data={"status": text, "in_reply_to_id": status_id, "visibility": self._visibility},
                headers={"Idempotency-Key": f"overheard-{key[:40]}"},
            )
        except CollectorError as error:
            raise write_failure("Mastodon", error, reply.in_reply_to_url) from None
        body = json_answer(response)
        if response.status_code >= 500:
            raise ReplyOutcomeUnknown(
                f"Mastodon answered the reply with HTTP {response.status_code}; it may have been posted: look at "
                f"{reply.in_reply_to_url or 'the thread'} before sending again"
            )
        if response.status_code >= 400:
            raise self._refusal(response, body, "the reply")
        return body if isinstance(body, Mapping) else {}

    def _refusal(self, response: requests.Response, body: Any, what: str) -> ReplyError:
        said = body.get("error") if isinstance(body, Mapping) else None
        reason = short_reason(str(said or response.reason or f"HTTP {response.status_code}"))
        if response.status_code in (401, 403):
            return ReplyCredentialsRejected(
                f"Mastodon refused {what} with the {self._connection.id} token (HTTP {response.status_code}: {reason}); "
                f"nothing was posted: {self._fix()}", reason,
            )
        return ReplyRefused(f"Mastodon refused {what} (HTTP {response.status_code}): {reason}; nothing was posted", reason)

    def _fix(self) -> str:
        connection = self._connection
        return (f"set the {connection.id} Airflow connection: host = the account's instance, password = an access token "
                f"with write:statuses and read:search; or {connection.environment_variable}")
