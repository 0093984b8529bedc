"""The desk's reply channel on the platforms' write APIs (`care.replies`): X, Reddit, Bluesky, Mastodon.

Each platform posts through its own write connection (`playbook.replies.connections`, default
`<platform>_reply`), separate from the one its collector reads with. A platform whose connection is
not defined is answered by hand on the desk (the agent records where), and the desk says so when it
starts. Credentials stay inside the senders: a refusal is shown with the platform's reason, scrubbed
of them by `care.replies`.
"""

from __future__ import annotations

from collections.abc import Mapping

from airflow_edge.connections import ConnectionMissing, airflow_connection, connection_credentials
from care.replies.exceptions import ReplyError
from care.replies.platforms import REPLY_CONNECTIONS, SENDERS, reply_sender
from care.replies.reply import Reply, ReplySender
from config.model import Config
from desk.replies import Posted, Refused, ReplyTarget, Uncertain
from transport.http import RetryPolicy


class PlatformReplies:
    """Posts replies with one `care.replies` sender per platform.

    Args:
        senders: per platform, its sender.
    """

    def __init__(self, senders: Mapping[str, ReplySender]):
        self.senders = dict(senders)

    def platforms(self) -> frozenset[str]:
        """The platforms with a sender."""
        return frozenset(self.senders)

    def send_reply(self, target: ReplyTarget, text: str) -> Posted | Refused | Uncertain:
        """Post the reply; a `ReplyError` is a refusal with the platform's reason and what to do, or, when the
        reply may have been posted (a timeout after sending, a 5xx), Uncertain: the desk sends it no second time."""
        sender = self.senders.get(target.platform)
        if sender is None or not target.native_id:
            return Refused(f"replies cannot be posted on {target.platform} from the desk: answer there and record where")
        reply = Reply(target.platform, target.native_id, text, target.url, target.author_handle)
        try:
            sent = sender.send(reply)
        except ReplyError as error:
            reason = f"{error} ({error.reason})" if error.reason and error.reason not in str(error) else str(error)
            return Uncertain(reason) if error.may_have_posted else Refused(reason)
        return Posted(sent.url)


def platform_replies(config: Config) -> tuple[PlatformReplies, list[str]]:
    """The senders of every platform whose write connection is defined, and why each other one has none.

    Args:
        config: the config (its playbook names the write connections; `http` gives the retry policy).

    Returns:
        The channel, and one line per platform answered by hand.
    """
    assert config.playbook is not None
    chosen = config.playbook.replies.connections.items()
    senders: dict[str, ReplySender] = {}
    by_hand = []
    for platform in SENDERS:
        connection = next((conn_id for named, conn_id in chosen if named == platform), REPLY_CONNECTIONS[platform])
        try:
            credentials = connection_credentials(airflow_connection(connection, f"{platform} replies"))
            senders[platform] = reply_sender(
                platform, credentials, policy=RetryPolicy.from_settings(config.http), user_agent=config.http.user_agent,
                connection=connection, send_seconds=config.playbook.replies.send_seconds,
            )
        except (ConnectionMissing, ReplyError) as missing:
            by_hand.append(str(missing))
    return PlatformReplies(senders), by_hand
