"""Zero double replies: a reply is claimed in the caller's ledger before it is sent, and sent by one caller only.

Two agents pressing send on one item, a double click, a retried web request: each call of
`send_once` first claims the item's reply in a `ReplyLedger` (an atomic insert of a `sending`
record keyed by the item), and only the call that made the claim sends. The outcome is then kept:

- posted: the record becomes `sent` with the reply's URL (a ledger that keeps one reply per item
  tells every later call that URL; one that allows follow-up replies lets the next claim through);
- refused, or not sent (nothing was posted): the claim is released and the reply may be sent again;
- may have been posted (no answer after the request went out, a 5xx, an unexpected failure): the
  record becomes `unknown` and blocks every later send until a person has looked on the platform
  and either recorded the answer's URL or cleared the attempt (the ledger's owner does both).

A process that dies between claim and outcome leaves `sending`, which blocks just as `unknown` does.
"""

from __future__ import annotations

from typing import Protocol

from care.replies.exceptions import ReplyAlreadyRecorded, ReplyError
from care.replies.reply import Reply, ReplyAttempt, ReplySender, SentReply


class ReplyLedger(Protocol):
    """Where the caller keeps reply attempts, keyed by item (the desk keeps them in its own state)."""

    def claim(self, item_key: str, reply: Reply) -> ReplyAttempt | None:
        """Record a `sending` attempt for the item, atomically, unless an attempt of the item blocks it.

        `sending` and `unknown` attempts always block; a `sent` one does where an item gets one reply.
        Two concurrent claims of one item must not both succeed: an INSERT keyed by the item (or a
        unique index over its blocking attempts) that does nothing on conflict does this.

        Returns:
            None when this call made the claim; else the attempt that blocks it.
        """
        ...

    def record_sent(self, item_key: str, sent: SentReply) -> None:
        """Mark the claimed attempt `sent`, with the posted reply's URL."""
        ...

    def record_unknown(self, item_key: str, reason: str) -> None:
        """Mark the claimed attempt `unknown`: it may have been posted, for this reason."""
        ...

    def release(self, item_key: str) -> None:
        """Forget the claimed attempt: nothing was posted, so the item's reply may be sent again."""
        ...


def send_once(ledger: ReplyLedger, item_key: str, reply: Reply, sender: ReplySender) -> SentReply:
    """Send an item's reply unless it is sent, being sent, or may have been sent already.

    Args:
        ledger: where attempts are claimed and their outcomes kept.
        item_key: the triage item's key.
        reply: the reply.
        sender: the sender for the reply's platform.

    Returns:
        The posted reply (its URL is the item's response), recorded as `sent`.

    Raises:
        ReplyAlreadyRecorded: the item already has an attempt; nothing was sent now.
        ReplyOutcomeUnknown: the reply may have been posted; recorded as `unknown`.
        ReplyError: anything else the sender raised (refused, not sent); the claim was released.
    """
    recorded = ledger.claim(item_key, reply)
    if recorded is not None:
        raise ReplyAlreadyRecorded(recorded)
    try:
        sent = sender.send(reply)
    except ReplyError as error:
        if error.may_have_posted:
            ledger.record_unknown(item_key, str(error))
        else:
            ledger.release(item_key)
        raise
    except BaseException as error:
        # A failure no sender foresaw: the request may have gone out, so the claim stays.
        ledger.record_unknown(item_key, f"the send failed unexpectedly ({type(error).__name__})")
        raise
    ledger.record_sent(item_key, sent)
    return sent
