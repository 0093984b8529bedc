"""Why a source could not be collected, on top of the base errors in `core.errors`.

    CollectorError (core.errors)
    ├── HttpStatusError                       the server answered an error status (url, status, body, attempts)
    │   ├── TransientHttpStatusError          also a TransientError: a 408, 429 or 5xx through the retries
    │   └── TerminalHttpStatusError           also a TerminalError: any other 4xx
    ├── TransientError (core.errors)          worth trying again next run; the cursor stays
    │   ├── NetworkError                      refused, reset, cut off or timed out on every attempt
    │   └── RateLimitedError                  a rate limit outlasts what this run may wait: stop, keep
    │       │                                 what was collected, resume from the cursor next run
    │       └── WaitBeyondBudgetError         the server asked to wait longer than the time budget has left
    └── TerminalError (core.errors)           retrying will not help until something is fixed
        ├── BodyTooLargeError                 a response bigger than `http.max_body_bytes`
        ├── RobotsDisallowedError             robots.txt forbids the page
        └── CredentialsRejected (core.errors) a platform refused the configured credentials

The retry policy (`transport.http.RetryPolicy`) raises the HTTP ones; the platform collectors
(`collectors.x`, `collectors.reddit`) turn them into messages that name the platform and its endpoint.
"""

from __future__ import annotations

from core.errors import CollectorError, TerminalError, TransientError
from core.time_budget import TimeBudget

_BODY_KEPT_BYTES = 2000


class HttpStatusError(CollectorError):
    """The server answered with an error status; built by `http_status_error` as transient or terminal.

    Attributes:
        url: the URL asked for.
        status: the HTTP status.
        body: the start of the error body, for APIs that explain themselves there.
        attempts: how many times the request was sent.
    """

    def __init__(self, url: str, status: int, body: bytes = b"", attempts: int = 1):
        self.url = url
        self.status = status
        self.body = body[:_BODY_KEPT_BYTES]
        self.attempts = attempts
        hint = "the server may be down; it will be tried again next run" if self.transient else "check the URL in the config"
        super().__init__(f"HTTP {status} from {url}; {hint}")


class TransientHttpStatusError(HttpStatusError, TransientError):
    """A 408, 429 or 5xx that persisted through the retries (or asked for a wait too long to make)."""


class TerminalHttpStatusError(HttpStatusError, TerminalError):
    """A 4xx other than 408 and 429: the request is wrong as configured."""


def http_status_error(url: str, status: int, body: bytes = b"", attempts: int = 1) -> HttpStatusError:
    """The error for an error status: transient for 408, 429 and 5xx, terminal otherwise.

    Args:
        url: the URL asked for.
        status: the HTTP status (400 or more).
        body: the error body.
        attempts: how many times the request was sent.

    Returns:
        A `TransientHttpStatusError` or a `TerminalHttpStatusError`.
    """
    kind = TransientHttpStatusError if status in (408, 429) or status >= 500 else TerminalHttpStatusError
    return kind(url, status, body, attempts)


class NetworkError(TransientError):
    """The network failed (refused, reset, cut off mid-body, timed out) on every attempt.

    Attributes:
        url: the URL asked for.
        attempts: how many times the request was sent.
        reason: the last failure, briefly.
    """

    def __init__(self, url: str, attempts: int, reason: str):
        self.url = url
        self.attempts = attempts
        self.reason = reason
        super().__init__(f"{url} could not be fetched after {attempts} attempts: {reason}")


class RateLimitedError(TransientError):
    """A platform's rate limit outlasts what this run may wait: stop, keep what was collected, and
    resume from the cursor next run."""


class WaitBeyondBudgetError(RateLimitedError):
    """The server asked to wait (Retry-After, or a rate-limit reset) longer than the time budget has left.

    Attributes:
        url: the URL asked for, or about to be asked for.
        status: the status that asked for the wait; None when the previous answer spent the
            rate-limit window and the wait comes before the next request.
        wait_seconds: the wait asked for.
        budget_seconds: the source's whole time budget.
        budget_left: what was left of it.
    """

    def __init__(self, url: str, status: int | None, wait_seconds: float, budget: TimeBudget):
        self.url = url
        self.status = status
        self.wait_seconds = wait_seconds
        self.budget_seconds = budget.seconds
        self.budget_left = max(budget.left, 0.0)
        why = f"answered HTTP {status}" if status is not None else "spent its rate-limit window"
        super().__init__(
            f"{url} {why} and asked to wait {wait_seconds:.0f} s, more than the {self.budget_left:.0f} s left of the "
            f"source's {self.budget_seconds:g} s time budget; stopped, and the next run resumes from the same cursor"
        )


class BodyTooLargeError(TerminalError):
    """The response is bigger than `http.max_body_bytes`."""

    def __init__(self, url: str, limit: int):
        super().__init__(f"{url} sent more than {limit:,} bytes; raise http.max_body_bytes if that is expected")


class RobotsDisallowedError(TerminalError):
    """robots.txt does not let our user agent fetch the URL."""

    def __init__(self, url: str):
        super().__init__(f"robots.txt disallows fetching {url}")
