"""Replies on Bluesky: an `app.bsky.feed.post` record with `reply: {root, parent}` strong refs, through XRPC.

The write connection (default `bluesky_reply`): login = the brand account's handle, password = an
app password; its host, when set, replaces `https://bsky.social` (the account's PDS). A send:

1. logs in (`com.atproto.server.createSession`) unless a session is kept from an earlier send
   (Bluesky limits logins per account and day, so the access token is reused until it expires);
2. fetches the post answered (`app.bsky.feed.getPosts`, a read: retried under the policy) for its
   `cid` and, if it is itself a reply, its thread's root;
3. creates the record (`com.atproto.repo.createRecord`, sent once) with links in the text made
   clickable (`app.bsky.richtext.facet#link`, byte offsets in UTF-8).

An expired session is refused before anything is written, so that answer logs in again and
repeats the step once.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import requests

from care.replies.exceptions import (
    ReplyCredentialsRejected,
    ReplyNotSent,
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

PDS_URL = "https://bsky.social"
WEB_POST_URL = "https://bsky.app/profile/{profile}/post/{rkey}"
POST_COLLECTION = "app.bsky.feed.post"
_EXPIRED = frozenset({"ExpiredToken", "InvalidToken"})
_LINK = re.compile(r"https?://[^\s<>\"]+")
_TRAILING_PUNCTUATION = ".,;:!?)]}'"


@dataclass(frozen=True)
class _Session:
    access_jwt: str
    did: str
    handle: str


class _Expired(Exception):
    """The session's access token was refused as expired: log in again and repeat the step."""


class BlueskyReplySender:
    """Posts replies on Bluesky as the write connection's account.

    Args:
        connection: the write connection (`login` = handle, `password` = app password, `host` = PDS).

    Raises:
        ReplyCredentialsRejected: the connection lacks the handle or the app password.
    """

    platform = "bluesky"

    def __init__(self, connection: WriteConnection):
        self._connection = connection
        credentials = connection.credentials
        self._pds = connection.base_url(PDS_URL)
        self._handle = str(credentials.get("login") or "").strip().lstrip("@")
        self._app_password = str(credentials.get("password") or "")
        if not self._handle or not self._app_password:
            raise ReplyCredentialsRejected(f"the {connection.id} connection has no handle or no app password; {self._fix()}")
        self._session: _Session | None = None
        self._session_lock = threading.Lock()

    def send(self, reply: Reply) -> SentReply:
        """Post the reply (see `ReplySender.send`)."""
        if not reply.in_reply_to.startswith("at://"):
            raise ReplyRefused(f"{reply.in_reply_to!r} is not a Bluesky post URI (at://...); nothing was posted")
        with scrubbed_errors("Bluesky", self._secrets):
            http = self._connection.session()
            try:
                parent = self._step(http, lambda login: self._post_answered(http, login, reply))
                reply_ref = {"root": _root_of(parent), "parent": {"uri": parent["uri"], "cid": parent["cid"]}}
                record: dict[str, Any] = {
                    "$type": POST_COLLECTION, "text": reply.text, "reply": reply_ref,
                    "createdAt": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                }
                if facets := link_facets(reply.text):
                    record["facets"] = facets
                created = self._step(http, lambda login: self._create(http, login, record, reply))
            finally:
                http.close()
            uri = str(created.get("uri") or "")
            if not uri.startswith("at://"):
                raise ReplyOutcomeUnknown(
                    "Bluesky answered without the new post's URI; the reply was probably posted: look at "
                    f"{reply.in_reply_to_url or 'the thread'} before sending again"
                )
            login = self._session
            profile = login.handle if login else self._handle
            return SentReply("bluesky", WEB_POST_URL.format(profile=profile, rkey=uri.rsplit("/", 1)[-1]), uri)

    def _step(self, http: requests.Session, step: Any) -> Any:
        """Run a step with the kept session (logging in first if there is none); once more after an expiry."""
        try:
            return step(self._login(http, renew=False))
        except _Expired:
            return step(self._login(http, renew=True))

    def _login(self, http: requests.Session, renew: bool) -> _Session:
        with self._session_lock:
            if self._session is not None and not renew:
                return self._session
            url = f"{self._pds}/xrpc/com.atproto.server.createSession"
            try:
                response = http.post(url, json={"identifier": self._handle, "password": self._app_password})
            except CollectorError as error:
                raise read_failure("Bluesky", error) from None
            body = json_answer(response)
            body = body if isinstance(body, Mapping) else {}
            if response.status_code in (400, 401):
                reason = _reason(response, body)
                raise ReplyCredentialsRejected(
                    f"Bluesky refused to log in the {self._connection.id} account ({reason}); nothing was posted: {self._fix()}",
                    reason,
                )
            if response.status_code >= 300 or not body.get("accessJwt") or not body.get("did"):
                raise ReplyNotSent(f"Bluesky's login at {url} answered HTTP {response.status_code} without a session; "
                                   f"nothing was posted: check the host of the {self._connection.id} connection")
            self._session = _Session(str(body["accessJwt"]), str(body["did"]), str(body.get("handle") or self._handle))
            return self._session

    def _post_answered(self, http: requests.Session, login: _Session, reply: Reply) -> Mapping[str, Any]:
        url = f"{self._pds}/xrpc/app.bsky.feed.getPosts?{urlencode({'uris': reply.in_reply_to})}"
        try:
            response = http.get(url, auth=BearerAuth(login.access_jwt))
        except CollectorError as error:
            raise read_failure("Bluesky", error) from None
        body = json_answer(response)
        body = body if isinstance(body, Mapping) else {}
        self._refused_before_writing(response, body)
        posts = [post for post in body.get("posts") or [] if isinstance(post, Mapping) and post.get("uri") == reply.in_reply_to]
        if not posts or not posts[0].get("cid"):
            raise ReplyRefused(f"Bluesky does not show the post {reply.in_reply_to} (deleted, or its author blocks the "
                               "account); nothing was posted", "post not found")
        return posts[0]

    def _create(self, http: requests.Session, login: _Session, record: Mapping[str, Any], reply: Reply) -> Mapping[str, Any]:
        url = f"{self._pds}/xrpc/com.atproto.repo.createRecord"
        try:
            response = http.post(
                url, json={"repo": login.did, "collection": POST_COLLECTION, "record": record},
                auth=BearerAuth(login.access_jwt),
            )
        except CollectorError as error:
            raise write_failure("Bluesky", error, reply.in_reply_to_url) from None
        body = json_answer(response)
        body = body if isinstance(body, Mapping) else {}
        if response.status_code >= 500:
            raise ReplyOutcomeUnknown(
                f"Bluesky answered the reply with HTTP {response.status_code} ({_reason(response, body)}); it may have been "
                f"posted: look at {reply.in_reply_to_url or 'the thread'} before sending again"
            )
        self._refused_before_writing(response, body)
        return body

    def _refused_before_writing(self, response: requests.Response, body: Mapping[str, Any]) -> None:
        """Raise for a 4xx answer: an expired session (`_Expired`), refused credentials, or a refused reply."""
        if response.status_code < 400:
            return
        reason = _reason(response, body)
        if body.get("error") in _EXPIRED:
            raise _Expired()
        if response.status_code in (401, 403):
            raise ReplyCredentialsRejected(
                f"Bluesky refused the {self._connection.id} account's session (HTTP {response.status_code}: {reason}); "
                f"{self._fix()}", reason,
            )
        raise ReplyRefused(f"Bluesky refused the reply (HTTP {response.status_code}): {reason}", reason)

    def _secrets(self) -> list[str]:
        session = self._session
        return self._connection.secrets() + ([session.access_jwt] if session else [])

    def _fix(self) -> str:
        connection = self._connection
        return (f"set the {connection.id} Airflow connection: login = the account's handle, password = an app password "
                f"(Settings > App passwords), host = its PDS if not bsky.social; or {connection.environment_variable}")


def link_facets(text: str) -> list[dict[str, Any]]:
    """The `app.bsky.richtext.facet#link` facets that make each http(s) URL in `text` a link.

    Bluesky shows a URL as plain text unless a facet covers it, by byte offsets in the UTF-8 text.
    """
    facets = []
    for match in _LINK.finditer(text):
        link = match.group().rstrip(_TRAILING_PUNCTUATION)
        start = len(text[: match.start()].encode("utf-8"))
        facets.append({
            "index": {"byteStart": start, "byteEnd": start + len(link.encode("utf-8"))},
            "features": [{"$type": "app.bsky.richtext.facet#link", "uri": link}],
        })
    return facets


def _root_of(post: Mapping[str, Any]) -> dict[str, str]:
    """The thread root's strong ref: the post's own reply root when it is a reply, else the post itself."""
    record = post.get("record")
    root = (record.get("reply") or {}).get("root") if isinstance(record, Mapping) else None
    if isinstance(root, Mapping) and root.get("uri") and root.get("cid"):
        return {"uri": str(root["uri"]), "cid": str(root["cid"])}
    return {"uri": str(post["uri"]), "cid": str(post["cid"])}


def _reason(response: requests.Response, body: Mapping[str, Any]) -> str:
    """XRPC's own words: `error` and `message`."""
    parts = [str(body[name]) for name in ("error", "message") if body.get(name)]
    return short_reason(": ".join(parts) or response.reason or f"HTTP {response.status_code}")
