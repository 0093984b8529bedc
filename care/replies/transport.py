"""How replies travel: reads under the one retry policy, the post itself sent exactly once.

`transport.http.RetryPolicy` retries network failures and 408/429/5xx answers, which is right for
reading and wrong for posting: a POST that timed out after it was sent, or was answered 502 by a
gateway, may have been applied, and sending it again posts the reply twice. So a reply session
(`send_once_session`) mounts two adapters of the same policy and chooses by method:

- GET, HEAD and OPTIONS (fetching the post answered, resolving it on another server) are retried as
  the policy says, within the send's time budget;
- every other request (the POST that posts, and logins) is sent once, with the policy's timeout and
  body cap but `max_retries=0`: a 408, 429 or 5xx answer is raised at once, never repeated, and so
  is a network failure. The SDKs then see no answer they would retry themselves (prawcore retries
  5xx and connection errors on its own; it is never given one).

`write_failure` tells what such a failure means: nothing was posted (the connection was never made,
the rate limit refused it) or it may have been (anything after the request went out).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import requests
import requests.auth
from requests.adapters import BaseAdapter
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError

from care.replies.exceptions import ReplyCredentialsRejected, ReplyError, ReplyNotSent, ReplyOutcomeUnknown
from core.connections import connection_extra
from core.errors import CollectorError
from core.secret_scrubbing import SecretScrubber, connection_secrets
from core.time_budget import TimeBudget
from transport.exceptions import BodyTooLargeError, HttpStatusError, NetworkError, WaitBeyondBudgetError
from transport.http import RateLimitHeaders, RetryingAdapter, RetryPolicy

REPEATABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""Requests a reply session retries under the policy; every other request is sent once."""
DEFAULT_SEND_SECONDS = 30.0
"""How long one send may take, reads, waits and the post together."""
_REASON_CHARS = 300


class SendOnceAdapter(BaseAdapter):
    """Sends reads under the retry policy and every other request exactly once (see the module docstring).

    Args:
        policy: the one retry policy.
        budget: the send's time budget; read retries and rate-limit waits are taken from it.
        rate_limits: the platform's rate-limit headers, for the reads.
    """

    def __init__(self, policy: RetryPolicy, budget: TimeBudget, rate_limits: RateLimitHeaders | None = None):
        super().__init__()
        self.reads = RetryingAdapter(policy, budget, rate_limits)
        self.writes = RetryingAdapter(replace(policy, max_retries=0), budget)

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Send a read under the policy, anything else once; always with the policy's timeout (prawcore
        asks for its own 16 s on every request)."""
        adapter = self.reads if (request.method or "GET").upper() in REPEATABLE_METHODS else self.writes
        return adapter.send(request, stream=stream, timeout=None, verify=verify, cert=cert, proxies=proxies)

    def close(self) -> None:
        """Release both adapters' connections."""
        self.reads.close()
        self.writes.close()


def send_once_session(
    policy: RetryPolicy,
    budget: TimeBudget,
    user_agent: str,
    rate_limits: RateLimitHeaders | None = None,
    *,
    base: requests.Session | None = None,
) -> requests.Session:
    """A requests session for one send: reads retried under the policy, everything else sent once.

    Args:
        policy: the one retry policy.
        budget: the send's time budget.
        user_agent: sent with every request.
        rate_limits: the platform's rate-limit headers, for the reads.
        base: the session to mount on (X's rebasing session, say); a new one by default.
    """
    session = base or requests.Session()
    adapter = SendOnceAdapter(policy, budget, rate_limits)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = user_agent
    return session


@dataclass(frozen=True)
class WriteConnection:
    """A write connection as one sender uses it: a reply sender (`care.replies.platforms.reply_sender`) or
    a helpdesk (`care.helpdesk.helpdesk_for`).

    Attributes:
        id: the Airflow connection's id, for messages.
        credentials: the connection in the collectors' shape (`login`, `password`, `host`, `extra`); never
            logged, and masked in every error (`secrets`).
        policy: the one retry policy (reads are retried; writes are sent once: `session`).
        user_agent: sent with every request.
        send_seconds: the time budget of one send (one reply, one hand-off).
    """

    id: str
    credentials: Mapping[str, Any] = field(repr=False)
    policy: RetryPolicy
    user_agent: str
    send_seconds: float = DEFAULT_SEND_SECONDS

    def session(
        self, rate_limits: RateLimitHeaders | None = None, *, base: requests.Session | None = None,
        user_agent: str | None = None,
    ) -> requests.Session:
        """A send-once session for one send (`send_once_session`), with a fresh budget of `send_seconds`."""
        return send_once_session(
            self.policy, TimeBudget(self.send_seconds), user_agent or self.user_agent, rate_limits, base=base
        )

    def secrets(self) -> list[str]:
        """The connection's secrets, to mask in messages."""
        return connection_secrets(self.credentials)

    def extra(self, fix: str) -> Mapping[str, Any]:
        """The connection's `extra` as a mapping; `fix` says how to set it right.

        Raises:
            ReplyCredentialsRejected: it is not a JSON object.
        """
        extra = connection_extra(self.credentials)
        if extra is None:
            raise ReplyCredentialsRejected(f"the extra of the {self.id} connection is not a JSON object; {fix}")
        return extra

    def base_url(self, default: str) -> str:
        """The connection's host as a base URL, else `default` (`api_base_url`)."""
        return api_base_url(self.credentials, default)

    @property
    def environment_variable(self) -> str:
        """The environment variable that can hold the connection instead of Airflow's metadata database."""
        return f"AIRFLOW_CONN_{self.id.upper()}"


def never_sent(error: NetworkError) -> bool:
    """Whether a network failure happened before the request could reach the server (connection refused,
    a name that does not resolve, a connect timeout): then nothing was applied."""
    cause = error.__cause__
    if isinstance(cause, requests.ConnectTimeout):
        return True
    if isinstance(cause, requests.ConnectionError) and cause.args and isinstance(cause.args[0], MaxRetryError):
        return isinstance(cause.args[0].reason, ConnectTimeoutError)  # NewConnectionError is one too
    return False


def write_failure(platform: str, error: CollectorError, look_at: str | None) -> ReplyError:
    """What a failure of the posting request (raised by the session, before any answer was read) means.

    Args:
        platform: the platform's name, for the message.
        error: what the session raised.
        look_at: where a person checks whether the reply appeared (the post answered).

    Returns:
        `ReplyNotSent` when nothing can have been posted (no connection was made; a 429, which
        platforms answer before doing anything), else `ReplyOutcomeUnknown`.
    """
    check = f"look at {look_at} before sending again" if look_at else "look on the platform before sending again"
    if isinstance(error, NetworkError) and never_sent(error):
        return ReplyNotSent(f"{platform} could not be reached ({error.reason}); nothing was posted: send it again")
    if isinstance(error, NetworkError):
        return ReplyOutcomeUnknown(
            f"{platform} did not answer the reply ({error.reason}) after it was sent; it may have been posted: {check}"
        )
    if isinstance(error, WaitBeyondBudgetError):
        return ReplyNotSent(
            f"{platform}'s rate limit is spent for {error.wait_seconds:.0f} s more; nothing was posted: send it again then"
        )
    if isinstance(error, HttpStatusError) and error.status == 429:
        return ReplyNotSent(f"{platform}'s rate limit for this account is spent (HTTP 429); nothing was posted: "
                            "send it again in a few minutes")
    if isinstance(error, HttpStatusError):
        return ReplyOutcomeUnknown(f"{platform} answered the reply with HTTP {error.status}; it may have been posted: {check}")
    if isinstance(error, BodyTooLargeError):
        return ReplyOutcomeUnknown(f"{platform} answered the reply with an oversized body; it may have been posted: {check}")
    return ReplyOutcomeUnknown(f"{platform}: the reply failed after it was sent ({error}); it may have been posted: {check}")


def read_failure(platform: str, error: CollectorError) -> ReplyError:
    """What a failure before the post (a read, a login) means: nothing was posted."""
    if isinstance(error, WaitBeyondBudgetError):
        return ReplyNotSent(
            f"{platform}'s rate limit is spent for {error.wait_seconds:.0f} s more; nothing was posted: send it again then"
        )
    if isinstance(error, HttpStatusError):
        return ReplyNotSent(f"{platform} answered HTTP {error.status} before the reply was posted; nothing was posted: "
                            "send it again in a few minutes")
    if isinstance(error, NetworkError):
        return ReplyNotSent(f"{platform} could not be reached ({error.reason}); nothing was posted: send it again")
    return ReplyNotSent(f"{platform}: {error}; nothing was posted")


@contextmanager
def scrubbed_errors(platform: str, secrets: Callable[[], Iterable[str]]) -> Iterator[None]:
    """Let only `ReplyError`s out of the block, with every secret masked.

    Any other exception becomes `ReplyOutcomeUnknown` (it may have struck after the post was sent),
    naming its type and scrubbed text, without its traceback (which may quote a request).

    Args:
        platform: the platform's name, for the message.
        secrets: the secrets in play when the error is raised (the connection's, and tokens got since).
    """
    try:
        yield
    except ReplyError as error:
        raise error.scrubbed(SecretScrubber(secrets())) from None
    except Exception as error:  # noqa: BLE001 - turned into a typed, scrubbed outcome that keeps the claim
        text = SecretScrubber(secrets()).scrub(f"{type(error).__name__}: {error}")[:_REASON_CHARS]
        raise ReplyOutcomeUnknown(
            f"{platform}: the reply failed unexpectedly ({text}); it may have been posted: look before sending again"
        ) from None


def api_base_url(credentials: Mapping[str, Any], default: str) -> str:
    """The API's base URL: the connection's host (with https:// when it names no scheme), else `default`."""
    host = str(credentials.get("host") or "").strip().rstrip("/")
    if not host:
        return default
    return host if "://" in host else f"https://{host}"


def short_reason(text: str) -> str:
    """A platform's reason on one line, within a few hundred characters."""
    return " ".join(text.split())[:_REASON_CHARS]


def json_answer(response: requests.Response) -> Any:
    """The answer's JSON, or None when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None

