"""Which platforms take replies through an API, and the sender for each.

X, Reddit, Bluesky and Mastodon have write APIs; each has its own write connection, separate from
the one its collector reads with (`REPLY_CONNECTIONS`, the default ids). News sites, blogs and
Hacker News have none: `reply_sender` says so (`NoWriteApi`) and the agent records where they answered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from care.replies.bluesky import BlueskyReplySender
from care.replies.exceptions import NoWriteApi, ReplyCredentialsRejected
from care.replies.mastodon import MastodonReplySender
from care.replies.reddit import RedditReplySender
from care.replies.reply import ReplySender
from care.replies.transport import DEFAULT_SEND_SECONDS, WriteConnection
from care.replies.x import XReplySender
from transport.http import RetryPolicy


class SenderClass(Protocol):
    """How every sender is made (see `reply_sender`)."""

    def __call__(self, connection: WriteConnection) -> ReplySender: ...


SENDERS: dict[str, SenderClass] = {"x": XReplySender, "reddit": RedditReplySender, "bluesky": BlueskyReplySender, "mastodon": MastodonReplySender}
REPLY_CONNECTIONS = {platform: f"{platform}_reply" for platform in SENDERS}
"""The default write connection of each platform with a write API."""
_NAMES = {"x": "X", "reddit": "Reddit", "bluesky": "Bluesky", "mastodon": "Mastodon", "hackernews": "Hacker News",
          "news": "A news site", "blog": "A blog"}


def has_write_api(platform: str) -> bool:
    """Whether replies to the platform's mentions can be posted from Overheard."""
    return platform in SENDERS


def reply_sender(
    platform: str,
    credentials: Mapping[str, Any] | None,
    *,
    policy: RetryPolicy,
    user_agent: str,
    connection: str | None = None,
    send_seconds: float = DEFAULT_SEND_SECONDS,
) -> ReplySender:
    """The sender for a platform's replies.

    Args:
        platform: the mention's platform.
        credentials: the write connection in the collectors' shape (`login`, `password`, `host`,
            `extra`), as the caller resolved it (`airflow_edge.connections`); None when it is not defined.
        policy: the one retry policy (`RetryPolicy.from_settings(config.http)`).
        user_agent: sent with every request (`config.http.user_agent`).
        connection: the connection's id, for messages (default `REPLY_CONNECTIONS[platform]`).
        send_seconds: the time budget of one send.

    Raises:
        NoWriteApi: the platform has no write API; the message says what the agent does instead.
        ReplyCredentialsRejected: the connection is missing or incomplete; the message says how to set it.
    """
    sender_class = SENDERS.get(platform)
    if sender_class is None:
        name = _NAMES.get(platform, platform)
        raise NoWriteApi(f"{name} has no API to reply through: answer there, then record the URL of your answer "
                         "as the item's response")
    conn_id = connection or REPLY_CONNECTIONS[platform]
    if not credentials:
        raise ReplyCredentialsRejected(
            f"{_NAMES[platform]} replies need the {conn_id} Airflow connection, separate from the one the collector reads "
            f"with: add it with `airflow connections add {conn_id}` or AIRFLOW_CONN_{conn_id.upper()} "
            "(docs/replies-and-helpdesk.md)"
        )
    return sender_class(WriteConnection(conn_id, credentials, policy, user_agent, send_seconds))
