"""Jetstream's frames as events: one JSON object per text frame (github.com/bluesky-social/jetstream).

    {"did": "did:plc:...", "time_us": 1725911162329308, "kind": "commit",
     "commit": {"rev": "...", "operation": "create", "collection": "app.bsky.feed.post", "rkey": "3l3qo2vuowo2b",
                "record": {"$type": "app.bsky.feed.post", "text": "...", "createdAt": "..."}, "cid": "bafy..."}}

`kind` is commit, identity or account (every subscriber gets the last two, whatever it filters on);
a commit's `operation` is create, update or delete (a delete has no record). `time_us` is when the
instance received the event, in unix microseconds: the stream's order and its cursor.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

REPOST_COLLECTION = "app.bsky.feed.repost"


class MalformedFrame(ValueError):
    """A frame that is not a Jetstream event: the message says what is wrong with it."""


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One event of the stream.

    Attributes:
        time_us: when the instance received it, unix microseconds (the cursor).
        did: the repository (account) it is about.
        kind: commit, identity or account.
        operation: a commit's create, update or delete; None for other kinds.
        collection: a commit's collection (app.bsky.feed.post, ...); None for other kinds.
        rkey: a commit's record key.
        record: a create's or update's record; None otherwise.
        cid: the record's content id, when given.
    """

    time_us: int
    did: str
    kind: str
    operation: str | None = None
    collection: str | None = None
    rkey: str | None = None
    record: Mapping[str, Any] | None = None
    cid: str | None = None

    @property
    def uri(self) -> str:
        """The at:// uri of a commit's record."""
        return f"at://{self.did}/{self.collection}/{self.rkey}"

    @property
    def identity(self) -> str:
        """What tells this event from another at the same microsecond (the cursor's tie-break)."""
        return f"{self.did}/{self.collection}/{self.rkey}/{self.operation}" if self.kind == "commit" else f"{self.did}/{self.kind}"


def parse_frame(frame: str | bytes) -> StreamEvent:
    """One text frame as an event.

    Raises:
        MalformedFrame: a binary frame (a compressed stream, which this source does not ask for), not
            JSON, not an object, no integer time_us or did, or a commit without its operation,
            collection and rkey, or a create without a record object.
    """
    if isinstance(frame, bytes):
        raise MalformedFrame(
            f"a binary frame of {len(frame)} bytes (a zstd-compressed stream? this source asks for plain JSON)"
        )
    try:
        document = json.loads(frame)
    except ValueError as error:
        raise MalformedFrame(f"not JSON ({error}): {frame[:120]!r}") from None
    if not isinstance(document, dict):
        raise MalformedFrame(f"not a JSON object: {frame[:120]!r}")
    time_us, did, kind = document.get("time_us"), document.get("did"), document.get("kind")
    if not isinstance(time_us, int) or isinstance(time_us, bool) or time_us <= 0:
        raise MalformedFrame(f"no time_us (unix microseconds): {frame[:120]!r}")
    if not isinstance(did, str) or not did.startswith("did:"):
        raise MalformedFrame(f"no did: {frame[:120]!r}")
    if kind != "commit":
        return StreamEvent(time_us, did, str(kind))
    commit = document.get("commit")
    if not isinstance(commit, dict):
        raise MalformedFrame(f"a commit without its commit object: {frame[:120]!r}")
    operation, collection, rkey = commit.get("operation"), commit.get("collection"), commit.get("rkey")
    if not all(isinstance(value, str) and value for value in (operation, collection, rkey)):
        raise MalformedFrame(f"a commit without operation, collection or rkey: {frame[:120]!r}")
    record = commit.get("record")
    if operation in ("create", "update") and not isinstance(record, dict):
        raise MalformedFrame(f"a {operation} without its record: {frame[:120]!r}")
    cid = commit.get("cid")
    return StreamEvent(
        time_us, did, kind, str(operation), str(collection), str(rkey),
        record if isinstance(record, dict) else None, cid if isinstance(cid, str) else None,
    )
