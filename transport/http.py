"""The one retry policy every request goes through, and the one HTTP client the keyless collectors use.

`RetryPolicy` bounds and retries requests inside a requests session (as dlt's
`sources/helpers/requests` does), so any SDK that takes a session gets the same behaviour: the shared
`HttpClient` here, tweepy for X and praw for Reddit. The client adds our User-Agent, robots.txt for
crawled pages, a politeness delay per host, and fetching across hosts in parallel.
"""

from __future__ import annotations

import copy
import email.utils
import http.client
import io
import math
import socket
import threading
import time
import urllib.robotparser
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import requests.auth
import urllib3.connection
import urllib3.connectionpool
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.poolmanager import ProxyManager

from config.model import HttpSettings
from core.errors import TerminalError, TransientError
from core.time_budget import TimeBudget
from transport.exceptions import (
    BodyTooLargeError,
    HttpStatusError,
    NetworkError,
    RobotsDisallowedError,
    WaitBeyondBudgetError,
    http_status_error,
)

# 408 and Reddit's Cloudflare 520/522 too: prawcore would otherwise retry them itself, sleeping outside the budget.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 520, 522})
_NETWORK_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
_CHUNK_BYTES = 64 * 1024
# When the request being sent in this thread must be answered in full (time.monotonic()); None: no deadline.
_response_deadline: ContextVar[float | None] = ContextVar("response_deadline", default=None)
# A robots.txt that shuts every agent out, for a host whose robots.txt could not be fetched.
_DISALLOW_ALL = ["User-agent: *", "Disallow: /"]

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")


class BearerAuth(requests.auth.AuthBase):
    """Adds `Authorization: Bearer <token>` as the request is prepared, after an SDK has logged its headers."""

    def __init__(self, token: str):
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "BearerAuth(***)"


@dataclass(frozen=True)
class RateLimitHeaders:
    """How a platform announces its rate-limit window: `{prefix}remaining` and `{prefix}reset` headers.

    Attributes:
        prefix: e.g. `x-rate-limit-` (X) or `x-ratelimit-` (Reddit).
        reset_is_epoch: True when the reset is a Unix time (X; measured against the response's Date
            header), False when it is seconds from now (Reddit).
        margin_seconds: added to every wait for a reset (X's reset second may end late in that second).
    """

    prefix: str
    reset_is_epoch: bool
    margin_seconds: float = 0.0

    def reset_wait(self, headers: Mapping[str, str]) -> float | None:
        """Seconds until the window resets; None when the headers do not say."""
        try:
            reset = float(headers[f"{self.prefix}reset"])
        except (KeyError, TypeError, ValueError):
            return None
        if self.reset_is_epoch:
            reset -= server_time(headers)
        return max(0.0, reset) + self.margin_seconds

    def spent_window_wait(self, headers: Mapping[str, str]) -> float | None:
        """Seconds to wait before the next request when this answer used the window's last one; else None."""
        try:
            remaining = float(headers[f"{self.prefix}remaining"])
        except (KeyError, TypeError, ValueError):
            return None
        wait = self.reset_wait(headers) if remaining < 1 else None
        return wait if wait else None

    def remove(self, headers: MutableMapping[str, str]) -> None:
        """Drop the rate-limit headers once read, so that no SDK waits on them a second time."""
        for name in [name for name in headers if name.lower().startswith(self.prefix)]:
            del headers[name]


@dataclass
class RetryPolicy:
    """How every request is bounded and retried, whichever client sends it.

    A request is sent at most 1 + `max_retries` times. Network failures and the `retry_statuses`
    are retried after the `Retry-After` the server asks for (not at all if that is longer than
    `max_retry_wait_seconds`), else, for a 429, after the platform's rate-limit reset, else after a
    backoff doubling from `backoff_seconds` up to `max_retry_wait_seconds`. Every wait is taken from
    the source's time budget; one that does not fit stops the request. An answer that used the last
    request of the rate-limit window makes the next request wait for its reset. Bodies are read in
    full, within `max_body_bytes`.

    Every attempt has one deadline, from connecting to the last byte of the body, headers included:
    `timeout_seconds` (or the caller's own timeout) after it starts, and never later than the end of
    the source's time budget. Every read from the socket may wait only for what is left of it, so a
    server that trickles its headers or body a byte at a time is cut off at the deadline too.

    One policy object serves the shared `HttpClient` and the sessions handed to tweepy and praw
    (`session`): they read it on every request, so a change to it reaches all of them.

    Attributes:
        max_retries: retries after the first attempt.
        backoff_seconds: the first backoff wait.
        max_retry_wait_seconds: the longest backoff, and the longest Retry-After worth waiting for.
        timeout_seconds: per attempt, connect to last byte (unless the caller sets its own timeout).
        max_body_bytes: a longer body raises BodyTooLargeError.
        retry_statuses: the statuses worth trying again.
    """

    max_retries: int
    backoff_seconds: float
    max_retry_wait_seconds: float
    timeout_seconds: float
    max_body_bytes: int
    retry_statuses: frozenset[int] = RETRY_STATUSES

    @classmethod
    def from_settings(cls, settings: HttpSettings) -> RetryPolicy:
        """The policy the config's `http` settings describe."""
        return cls(
            max_retries=settings.max_retries,
            backoff_seconds=settings.backoff_seconds,
            max_retry_wait_seconds=settings.max_retry_wait_seconds,
            timeout_seconds=settings.timeout_seconds,
            max_body_bytes=settings.max_body_bytes,
        )

    def backoff(self, attempt: int) -> float:
        """The wait after failed attempt number `attempt` (counted from 0) when the server named none."""
        return min(self.backoff_seconds * (2**attempt), self.max_retry_wait_seconds)

    def session(
        self,
        budget: TimeBudget,
        rate_limits: RateLimitHeaders | None = None,
        *,
        base: requests.Session | None = None,
        pool_connections: int = 10,
        pool_maxsize: int = 10,
    ) -> requests.Session:
        """A requests session that sends every request under this policy; hand it to any SDK.

        Args:
            budget: the source's time budget, which every wait is taken from (and waited through).
            rate_limits: the platform's rate-limit headers, if it sends any.
            base: the session to mount the policy on (a new one by default).
            pool_connections: hosts to keep connection pools for.
            pool_maxsize: connections kept per host.

        Returns:
            `base` (or the new session), with the policy on http:// and https://.
        """
        session = base or requests.Session()
        adapter = RetryingAdapter(self, budget, rate_limits, pool_connections=pool_connections, pool_maxsize=pool_maxsize)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session


class RetryingAdapter(HTTPAdapter):
    """The transport adapter that applies a `RetryPolicy` (see there) to every request it sends.

    Raises (from `send`; SDKs let them through, prawcore wrapped in its `RequestException`):
        TransientHttpStatusError: a retry status persisted through the retries, or asked for a
            Retry-After longer than `max_retry_wait_seconds`.
        WaitBeyondBudgetError: a Retry-After or rate-limit reset does not fit in the time budget.
        NetworkError: the network failed on every attempt.
        BodyTooLargeError: the body passed `max_body_bytes`.
    """

    def __init__(
        self,
        policy: RetryPolicy,
        budget: TimeBudget,
        rate_limits: RateLimitHeaders | None = None,
        *,
        pool_connections: int = 10,
        pool_maxsize: int = 10,
    ):
        super().__init__(pool_connections=pool_connections, pool_maxsize=pool_maxsize)
        self.policy = policy
        self.budget = budget
        self.rate_limits = rate_limits
        self._window_wait: float | None = None  # set when the last answer spent the rate-limit window

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """Requests' pool manager, its connections reading every response within the request's deadline."""
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _DEADLINE_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        """Requests' manager for an HTTP proxy, with the same deadline (SOCKS proxies keep their own pools)."""
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if isinstance(manager, ProxyManager):
            manager.pool_classes_by_scheme = _DEADLINE_POOLS
        return manager

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Send the request under the policy; the answer comes back with its body read in full."""
        url = request.url or ""
        attempt = 0
        while True:
            self._await_window(url)
            seconds = self._attempt_seconds(url, timeout)
            cut_by_budget = seconds < _total_seconds(timeout, self.policy.timeout_seconds)
            deadline = _response_deadline.set(time.monotonic() + seconds)
            try:
                response = super().send(
                    request, stream=True, timeout=seconds, verify=verify, cert=cert, proxies=proxies,
                )
                self._read_body(response, url)
            except _NETWORK_ERRORS as error:
                if cut_by_budget and self.budget.spent:
                    raise NetworkError(url, attempt + 1, f"{_brief(error)}; {self._budget_spent()}") from error
                if attempt >= self.policy.max_retries or not self.budget.wait(self.policy.backoff(attempt)):
                    raise NetworkError(url, attempt + 1, _brief(error)) from error
                attempt += 1
                continue
            finally:
                _response_deadline.reset(deadline)
            if response.status_code not in self.policy.retry_statuses:
                if self.rate_limits is not None:
                    self._window_wait = self.rate_limits.spent_window_wait(response.headers)
                    self.rate_limits.remove(response.headers)
                return response
            self._wait_to_retry(response, url, attempt)
            attempt += 1

    def _attempt_seconds(self, url: str, timeout: float | tuple[float, float] | tuple[float, None] | None) -> float:
        """How long the next attempt may take: its timeout, or what is left of the budget when that is less.

        Raises:
            TransientError: nothing is left of the budget.
        """
        left = self.budget.left
        if left <= 0:
            raise TransientError(f"{url} was not requested: {self._budget_spent()}")
        return min(_total_seconds(timeout, self.policy.timeout_seconds), left)

    def _budget_spent(self) -> str:
        return (
            f"the source's {self.budget.seconds:g} s time budget is spent; "
            "it stopped there, and the next run starts again from the same cursor"
        )

    def _await_window(self, url: str) -> None:
        """Before a request: if the last answer spent the rate-limit window, wait for its reset or stop."""
        wait, self._window_wait = self._window_wait, None
        if wait is not None and not self.budget.wait(wait):
            raise WaitBeyondBudgetError(url, None, wait, self.budget)

    def _wait_to_retry(self, response: requests.Response, url: str, attempt: int) -> None:
        """Wait before retrying a retry status, or raise if the policy gives up on it."""
        status = response.status_code
        give_up = http_status_error(url, status, response.content or b"", attempt + 1)
        if attempt >= self.policy.max_retries:
            raise give_up
        asked = retry_after_seconds(response.headers) if "Retry-After" in response.headers else None
        if asked is not None and asked > self.policy.max_retry_wait_seconds:
            raise give_up
        if asked is None and status == 429 and self.rate_limits is not None:
            asked = self.rate_limits.reset_wait(response.headers)
        wait = asked if asked is not None else self.policy.backoff(attempt)
        if not self.budget.wait(wait):
            raise give_up if asked is None else WaitBeyondBudgetError(url, status, wait, self.budget)

    def _read_body(self, response: requests.Response, url: str) -> None:
        """Read the body in full within the cap and the attempt's deadline, and keep it on the response."""
        limit = self.policy.max_body_bytes
        deadline = _response_deadline.get() or math.inf
        chunks: list[bytes] = []
        size = 0
        try:
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > limit:
                raise BodyTooLargeError(url, limit)
            for chunk in response.iter_content(_CHUNK_BYTES):
                size += len(chunk)
                if size > limit:
                    raise BodyTooLargeError(url, limit)
                if time.monotonic() > deadline:
                    raise requests.Timeout("the body took longer than the request's deadline to arrive")
                chunks.append(chunk)
        finally:
            response.close()  # read in full, the connection goes back to the pool; cut short, it is dropped
        response._content = b"".join(chunks)  # how requests itself holds a body read in full


def _total_seconds(timeout: float | tuple[float, float] | tuple[float, None] | None, default: float) -> float:
    """A request's whole timeout: the caller's (connect plus read, when given as a pair) when shorter than
    `default`, the policy's; an SDK's own longer timeout (prawcore sends 16 s) never stretches the policy."""
    if timeout is None:
        return default
    if isinstance(timeout, tuple):
        parts = [part for part in timeout if part is not None]
        return min(sum(parts), default) if len(parts) == len(timeout) else default
    return min(timeout, default)


class _DeadlineReader(io.RawIOBase):
    """The socket reads of one response, each allowed to wait only for what is left of its deadline.

    A socket's own timeout bounds each read, not the response: a server sending a byte a second
    never trips it. Here each read gets the time left, and none is made once the deadline has passed.
    """

    def __init__(self, raw: io.RawIOBase, sock: socket.socket, deadline: float):
        super().__init__()
        self._raw = raw
        self._sock = sock
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out: the response did not arrive in full by the request's deadline")
        self._sock.settimeout(left)
        return self._raw.readinto(buffer)

    def fileno(self) -> int:
        return self._raw.fileno()

    def close(self) -> None:
        self._raw.close()
        super().close()


class _DeadlineResponse(http.client.HTTPResponse):
    """http.client's response, reading its status line, headers and body within the request's deadline."""

    def __init__(self, sock: socket.socket, debuglevel: int = 0, method: str | None = None, url: str | None = None):
        super().__init__(sock, debuglevel, method, url)
        deadline = _response_deadline.get()
        if deadline is not None:
            self.fp = io.BufferedReader(_DeadlineReader(self.fp.detach(), sock, deadline))


class _DeadlineHTTPConnection(urllib3.connection.HTTPConnection):
    response_class = _DeadlineResponse


class _DeadlineHTTPSConnection(urllib3.connection.HTTPSConnection):
    response_class = _DeadlineResponse


class _DeadlineHTTPConnectionPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class _DeadlineHTTPSConnectionPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


_DEADLINE_POOLS: dict[str, type[urllib3.connectionpool.HTTPConnectionPool]] = {
    "http": _DeadlineHTTPConnectionPool, "https": _DeadlineHTTPSConnectionPool,
}


@dataclass(frozen=True)
class HttpResponse:
    """A response read in full (within the body cap).

    Attributes:
        url: the URL asked for.
        final_url: the URL after redirects.
        status: 200-class, or 304 for a conditional GET that found nothing new.
        headers: response headers, case-insensitive.
        body: the raw bytes; empty for 304.
    """

    url: str
    final_url: str
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def not_modified(self) -> bool:
        """True when a conditional GET was answered 304 Not Modified."""
        return self.status == 304


def host_of(url: str) -> str:
    """`scheme://host:port` of a URL: the unit of politeness and of robots.txt."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class HttpClient:
    """Fetches URLs politely and within the retry policy. Safe to share between threads.

    A client made here charges its requests to no time budget; `within` gives the same client bound
    to a source's budget, as each collector is handed it (`CollectionContext.client`).

    Args:
        settings: timeouts, retries, caps and politeness from the config.
        sleep: how to wait (politeness delays, and retry waits outside a source's budget); tests pass a recorder.
        policy: the retry policy; by default the one `settings` describe. Platform collectors
            build their SDK sessions from `client.policy`, so all share it.
    """

    def __init__(
        self,
        settings: HttpSettings,
        sleep: Callable[[float], None] = time.sleep,
        policy: RetryPolicy | None = None,
    ):
        self.settings = settings
        self.policy = policy or RetryPolicy.from_settings(settings)
        self.budget = TimeBudget(math.inf, sleep)
        self.session = self._session(self.budget)
        self._sleep = sleep
        self._host_locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._last_request_at: dict[str, float] = {}
        self._robots: dict[str, urllib.robotparser.RobotFileParser] = {}
        self._unreachable_hosts: dict[str, NetworkError] = {}  # hosts whose robots.txt the network refused
        self._robots_lock = threading.Lock()

    def within(self, budget: TimeBudget) -> HttpClient:
        """This client with every request charged to `budget`: its retry waits are taken from it (and
        waited through it), and no request runs past its end.

        The bound client shares this one's policy, politeness per host and robots.txt cache.
        """
        bound = copy.copy(self)
        bound.budget = budget
        bound.session = self._session(budget)
        return bound

    def _session(self, budget: TimeBudget) -> requests.Session:
        # A connection pool per host for many hosts (a unit may hold more hosts than run at once).
        session = self.policy.session(
            budget, pool_connections=max(64, self.settings.max_parallel_hosts), pool_maxsize=self.settings.max_parallel_hosts
        )
        session.headers["User-Agent"] = self.settings.user_agent
        return session

    def get(
        self, url: str, *, headers: Mapping[str, str] | None = None, respect_robots: bool = False
    ) -> HttpResponse:
        """GET a URL under the retry policy.

        Args:
            url: the absolute URL.
            headers: extra request headers (e.g. If-None-Match for a conditional GET).
            respect_robots: check robots.txt first (for crawled pages; feeds are published to be polled).

        Returns:
            The response; status 304 only when the request was conditional.

        Raises:
            RobotsDisallowedError: robots.txt forbids the URL.
            NetworkError: (with `respect_robots`) the host cannot be reached even for its robots.txt.
            HttpStatusError: a 4xx, or a 429/5xx that persisted through the retries.
            BodyTooLargeError: the body passed `max_body_bytes`.
            NetworkError: the network failed (refused, reset, cut off mid-body, timed out) through the retries.
            TerminalError: the request cannot succeed as configured (a redirect loop, an undecodable body).
        """
        if respect_robots and not self.allowed_by_robots(url):
            raise RobotsDisallowedError(url)
        return self._request("GET", url, headers)

    def post(self, url: str, *, json: Any, headers: Mapping[str, str] | None = None) -> HttpResponse:
        """POST a JSON body (an API login, say), with the same policy and errors as `get`."""
        return self._request("POST", url, headers, json)

    def allowed_by_robots(self, url: str) -> bool:
        """Whether robots.txt on the URL's host lets our user agent fetch it (RFC 9309).

        A robots.txt that is missing (4xx) allows everything; one the server fails to give (5xx, a
        rate limit) disallows everything for this run.

        Raises:
            NetworkError: the host cannot be reached at all (refused, timed out), so neither can the
                URL: the error names the URL and the network's reason, once per host and run.
        """
        host = host_of(url)
        with self._robots_lock:
            parser = self._robots.get(host)
            unreachable = self._unreachable_hosts.get(host)
        if unreachable is not None:
            raise NetworkError(url, unreachable.attempts, unreachable.reason)
        if parser is None:
            parser = urllib.robotparser.RobotFileParser(f"{host}/robots.txt")
            try:
                response = self.get(f"{host}/robots.txt")
                parser.parse(response.body.decode("utf-8", errors="replace").splitlines())
            except HttpStatusError as error:
                parser.parse(_DISALLOW_ALL if error.transient else [])
            except NetworkError as error:
                with self._robots_lock:
                    self._unreachable_hosts[host] = error
                raise NetworkError(url, error.attempts, error.reason) from error
            except TransientError:
                parser.parse(_DISALLOW_ALL)
            with self._robots_lock:
                self._robots[host] = parser
        return parser.can_fetch(self.settings.user_agent, url)

    def sitemaps(self, url: str) -> list[str]:
        """The sitemaps the host's robots.txt declares (loaded by `allowed_by_robots`)."""
        self.allowed_by_robots(url)
        with self._robots_lock:
            return list(self._robots[host_of(url)].site_maps() or [])

    def map_by_host(self, items: Iterable[Item], url_of: Callable[[Item], str], work: Callable[[Item], Outcome]) -> list[Outcome]:
        """Run `work` on every item: hosts in parallel, each host's items one after another.

        Args:
            items: what to work on (feeds, pages).
            url_of: the URL whose host an item belongs to.
            work: the function to run; it should turn its own failures into outcomes.

        Returns:
            The outcomes, in the order of `items`.
        """
        indexed = list(enumerate(items))
        by_host: defaultdict[str, list[tuple[int, Item]]] = defaultdict(list)
        for index, item in indexed:
            by_host[host_of(url_of(item))].append((index, item))
        outcomes: dict[int, Outcome] = {}

        def run_host(host_items: list[tuple[int, Item]]) -> None:
            for index, item in host_items:
                outcomes[index] = work(item)

        with ThreadPoolExecutor(max_workers=self.settings.max_parallel_hosts, thread_name_prefix="fetch") as pool:
            for future in [pool.submit(run_host, host_items) for host_items in by_host.values()]:
                future.result()
        return [outcomes[index] for index, _ in indexed]

    def _request(self, method: str, url: str, headers: Mapping[str, str] | None, json: Any = None) -> HttpResponse:
        host = host_of(url)
        with self._host_locks[host]:
            last = self._last_request_at.get(host)
            if last is not None:
                wait = last + self.settings.politeness_delay_seconds - time.monotonic()
                if wait > 0:
                    self._sleep(wait)
            try:
                response = self.session.request(method, url, headers=dict(headers or {}), json=json)
            except requests.RequestException as error:
                raise TerminalError(f"{url} could not be fetched ({_brief(error)}); check the URL in the config") from error
            finally:
                self._last_request_at[host] = time.monotonic()
        if response.status_code >= 400:
            raise http_status_error(url, response.status_code, response.content)
        return HttpResponse(
            url=url, final_url=response.url, status=response.status_code, headers=CaseInsensitiveDict(response.headers),
            body=response.content,
        )


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Retry-After as seconds to wait: either delta-seconds or an HTTP date (measured against Date)."""
    value = headers.get("Retry-After", "").strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - server_time(headers))


def server_time(headers: Mapping[str, str]) -> float:
    """The server's clock by its Date header (Unix time); the local clock when it sent none."""
    try:
        return email.utils.parsedate_to_datetime(headers["Date"]).timestamp()
    except (KeyError, TypeError, ValueError):
        return time.time()


def _brief(error: Exception) -> str:
    text = str(error)
    if "timed out" in text.lower() or isinstance(error, requests.Timeout):
        return "timed out"
    if "refused" in text.lower():
        return "connection refused"
    return text[:200]
