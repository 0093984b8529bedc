"""Reading a Jetstream subscription over a websocket, frame by frame, reconnecting where it broke off.

A subscription is `<url>?wantedCollections=...&cursor=<unix microseconds>`: the instance replays from the
cursor (as far back as it retains) and then tails live. We ask for plain JSON frames: websockets offers
permessage-deflate, which an instance may accept and websockets then undoes transparently; we do not ask
for Jetstream's own zstd compression (`compress=true`), which needs the dictionary Jetstream ships in its
source (pkg/models/zstd_dictionary), a file we would have to vendor and follow. A binary frame that comes
anyway is reported malformed by `events.parse_frame`.

Connecting and reconnecting follow the one retry policy (`transport.http.RetryPolicy`): at most
`max_retries` failed attempts in a row, with its backoff, every wait taken from the source's time budget.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit, urlunsplit

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.sync.client import ClientConnection, connect

from core.errors import TerminalError, TransientError
from core.time_budget import TimeBudget
from transport.http import RetryPolicy

# A run leaves the stream mid-flow: the instance's close frame waits behind the frames it already sent, which
# nobody reads any more, so the polite close is given a moment and then the socket is closed.
CLOSE_TIMEOUT_SECONDS = 0.2
Ending = Literal["idle", "budget"]


@dataclass(frozen=True)
class Connected:
    """A (re)connection, yielded before its first frame: the stream resumes from `cursor_us`."""

    cursor_us: int
    attempt: int


def subscription_url(url: str, collections: Sequence[str], cursor_us: int) -> str:
    """The subscription URL: `url` with the wanted collections and the cursor (other parameters kept)."""
    parts = urlsplit(url)
    query = [*([parts.query] if parts.query else []),
             urlencode([*(("wantedCollections", name) for name in collections), ("cursor", str(cursor_us))])]
    return urlunsplit(parts._replace(query="&".join(query)))


class StreamReader:
    """Frames of one subscription, across reconnects, until the stream goes idle or the budget ends.

    Args:
        url: the instance's subscribe URL (ws:// or wss://).
        collections: the wanted collections.
        policy: the retry policy (retries, backoff, timeouts, frame size cap).
        budget: the source's time budget: waits come out of it, and reading stops at its end.
        user_agent: our User-Agent.
        idle_seconds: no frame for this long means the stream has reached its live edge.
    """

    def __init__(
        self,
        url: str,
        collections: Sequence[str],
        policy: RetryPolicy,
        budget: TimeBudget,
        user_agent: str,
        idle_seconds: float,
    ):
        self.url = url
        self.collections = tuple(collections)
        self.policy = policy
        self.budget = budget
        self.user_agent = user_agent
        self.idle_seconds = idle_seconds
        self.ending: Ending | None = None
        self.connections = 0

    def frames(self, resume_at: Callable[[], int]) -> Iterator[Connected | str | bytes]:
        """Every frame, each (re)connection announced first; ends when the stream is idle for
        `idle_seconds` (`ending` = "idle") or the budget is spent (`ending` = "budget").

        Args:
            resume_at: the cursor to (re)connect with: the last event processed.

        Raises:
            TerminalError: the instance refused the subscription (a 4xx other than 429), or the URL is invalid.
            TransientError: connecting, or the connection, failed `max_retries` + 1 times in a row.
        """
        failures = 0
        while True:
            cursor_us = resume_at()
            try:
                connection = self._open(cursor_us)
            except TransientError:
                failures += 1
                if not self._back_off(failures):
                    raise
                continue
            self.connections += 1
            yield Connected(cursor_us, failures)
            with connection:
                try:
                    while True:
                        wait = min(self.idle_seconds, self.budget.left)
                        if wait <= 0:
                            self.ending = "budget"
                            return
                        try:
                            frame = connection.recv(timeout=wait)
                        except TimeoutError:
                            self.ending = "budget" if self.budget.spent else "idle"
                            return
                        failures = 0
                        yield frame
                except ConnectionClosed as closed:
                    failures += 1
                    if not self._back_off(failures):
                        raise TransientError(
                            f"the Jetstream connection to {self.url} kept closing ({closed}); "
                            f"{failures} attempts in a row failed"
                        ) from None

    def _open(self, cursor_us: int) -> ClientConnection:
        url = subscription_url(self.url, self.collections, cursor_us)
        options: dict[str, Any] = {
            "user_agent_header": self.user_agent,
            "open_timeout": max(0.1, min(self.policy.timeout_seconds, self.budget.left)),
            "max_size": self.policy.max_body_bytes,
            "close_timeout": CLOSE_TIMEOUT_SECONDS,
        }
        try:
            return connect(url, **options)
        except InvalidStatus as error:
            status = error.response.status_code
            if status in self.policy.retry_statuses:
                raise TransientError(f"{self.url} answered HTTP {status} to the subscription") from None
            raise TerminalError(
                f"{self.url} refused the subscription with HTTP {status}: is it a Jetstream instance's "
                "/subscribe endpoint (e.g. wss://jetstream2.us-east.bsky.network/subscribe)?"
            ) from None
        except InvalidURI as error:
            raise TerminalError(f"{self.url} is not a websocket URL ({error}): set url to a ws:// or wss:// URL") from None
        except (OSError, TimeoutError, InvalidHandshake) as error:
            raise TransientError(f"could not connect to {self.url} ({type(error).__name__}: {error})") from None

    def _back_off(self, failures: int) -> bool:
        """Wait before attempt `failures` + 1, if the policy and the budget allow one."""
        return failures <= self.policy.max_retries and self.budget.wait(self.policy.backoff(failures - 1))
