"""Why a reply was not posted, or may have been.

    OverheardError (core.errors)
    ├── ReplyError                      the platform's side of a send; the message says what to do
    │   ├── ReplyRefused                the platform answered and refused the reply (its reason is kept):
    │   │   │                           nothing was posted; change the reply or the target, not the timing
    │   │   └── ReplyCredentialsRejected  the write connection is missing, malformed or refused
    │   ├── ReplyNotSent                the platform could not be reached, or its rate limit is spent, before
    │   │                               anything was posted: send it again later
    │   ├── ReplyOutcomeUnknown         the request may have been applied (no answer after it was sent, a 5xx,
    │   │                               an answer without the new post): look on the platform before sending again
    │   └── NoWriteApi                  the platform has no API to reply through: answer there, record where
    └── ReplyAlreadyRecorded            `send_once`: this item's reply is sent, being sent, or may have been sent

Only `ReplyOutcomeUnknown` leaves the item's reply claimed (`may_have_posted`); after any other
`ReplyError` nothing was posted and the reply may be sent again.
"""

from __future__ import annotations

from typing import Self

from care.replies.reply import ReplyAttempt
from core.errors import OverheardError
from core.secret_scrubbing import SecretScrubber


class ReplyError(OverheardError):
    """A reply the platform did not take, or may have taken; the message says what to do.

    Args:
        message: what happened and what to do, naming the platform.
        reason: the platform's own words, when it gave any (e.g. X's `detail`).
    """

    may_have_posted = False

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        self.reason = reason

    def scrubbed(self, scrubber: SecretScrubber) -> Self:
        """The same error with every form of the scrubber's secrets masked in its message and reason."""
        return type(self)(scrubber.scrub(str(self)), scrubber.scrub(self.reason) if self.reason else None)


class ReplyRefused(ReplyError):
    """The platform answered and refused the reply (duplicate text, locked thread, deleted post, too long)."""


class ReplyCredentialsRejected(ReplyRefused):
    """The write connection is missing, malformed, lacks write access, or was refused; the message names it."""


class ReplyNotSent(ReplyError):
    """Nothing was posted: the platform could not be reached, or its rate limit is spent. Send again later."""


class ReplyOutcomeUnknown(ReplyError):
    """The request was sent and may have been applied: look on the platform before sending again."""

    may_have_posted = True


class NoWriteApi(ReplyError):
    """The platform has no API to reply through (news, blogs, Hacker News): answer there and record where."""


class ReplyAlreadyRecorded(OverheardError):
    """`send_once` found this item's reply already sent, being sent, or possibly sent; nothing was posted now.

    Attributes:
        attempt: the reply attempt recorded for the item.
    """

    def __init__(self, attempt: ReplyAttempt):
        self.attempt = attempt
        key = attempt.item_key
        if attempt.state == "sent":
            message = f"{key} is already answered: {attempt.url}"
        elif attempt.state == "sending":
            message = (f"a reply to {key} is being sent (since {attempt.claimed_at:%Y-%m-%d %H:%M:%S %Z}); if it stays so, "
                       "look on the platform, then record the answer's URL or clear the attempt")
        else:
            message = (f"an earlier reply to {key} may have been posted ({attempt.reason}); look on the platform, then "
                       "record the answer's URL, or clear the attempt to send again")
        super().__init__(message)
