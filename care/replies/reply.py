"""What a reply is, what comes back once it is posted, and the one interface every platform's sender has."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

AttemptState = Literal["sending", "sent", "unknown"]


@dataclass(frozen=True)
class Reply:
    """An agent's answer to one mention, to be posted on the mention's platform.

    Attributes:
        platform: the mention's platform (`mentions.platform`): x, reddit, bluesky, mastodon, ...
        in_reply_to: the platform's id of the post answered (`mentions.native_id`): an X post id, a
            Reddit fullname (t1_/t3_), a Bluesky at:// URI, a Mastodon `instance-host:status-id`.
        text: what the agent wrote.
        in_reply_to_url: where a person reads the post (`mentions.url`); Mastodon looks a post of
            another server up by it, and messages point to it.
        in_reply_to_author: the post's author (`mentions.author_handle`); a Mastodon reply starts by
            mentioning them, as Mastodon's own apps do, so that they are notified.
    """

    platform: str
    in_reply_to: str
    text: str
    in_reply_to_url: str | None = None
    in_reply_to_author: str | None = None

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise ValueError("a reply needs some text")
        if not self.in_reply_to.strip():
            raise ValueError(f"say which {self.platform} post the reply answers (its native id)")


@dataclass(frozen=True)
class SentReply:
    """A reply the platform posted.

    Attributes:
        platform: where.
        url: the posted reply's public URL: the item's response.
        native_id: the platform's id of the posted reply, when it said.
    """

    platform: str
    url: str
    native_id: str | None


class ReplySender(Protocol):
    """Posts replies on one platform through its write API (`care.replies.platforms.reply_sender` makes one)."""

    platform: str

    def send(self, reply: Reply) -> SentReply:
        """Post the reply, once: the write request is never repeated.

        Raises:
            ReplyRefused: the platform refused it, with its reason (nothing was posted).
            ReplyCredentialsRejected: the write connection is missing or was refused.
            ReplyNotSent: the platform could not be reached or is rate limited (nothing was posted).
            ReplyOutcomeUnknown: it may have been posted; look before sending again.
        """
        ...


@dataclass(frozen=True)
class ReplyAttempt:
    """The idempotency record of one item's reply, as a `ReplyLedger` keeps it.

    Attributes:
        item_key: the triage item (its mention key).
        state: `sending` (claimed, the request under way or cut off before an outcome was recorded),
            `sent` (posted: `url` is the answer), `unknown` (may have been posted: `reason` says why).
        text: the reply's text.
        claimed_at: when the send was claimed.
        url: the posted reply's URL, once sent.
        reason: why the outcome is unknown.
    """

    item_key: str
    state: AttemptState
    text: str
    claimed_at: datetime
    url: str | None = None
    reason: str | None = None
