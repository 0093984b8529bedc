"""The one HTTP client every collector uses.

Timeouts on every request, bounded retries with backoff on 429 and 5xx that honour Retry-After, a
cap on body size, our own User-Agent, robots.txt for crawled pages, a politeness delay per host,
and fetching across hosts in parallel.
"""

from __future__ import annotations

import email.utils
import threading
import time
import urllib.robotparser
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from collectors.exceptions import BodyTooLargeError, HttpStatusError, RobotsDisallowedError
from config.model import HttpSettings
from core.errors import TerminalError, TransientError

_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_CHUNK_BYTES = 64 * 1024

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")


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
    """Fetches URLs politely and within bounds. Safe to share between threads.

    Args:
        settings: timeouts, retries, caps and politeness from the config.
        session: a requests session to send through (tests and API clients pass their own).
        sleep: how to wait; tests pass a recorder.
    """

    def __init__(
        self,
        settings: HttpSettings,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.settings = settings
        self.session = session or requests.Session()
        # Keep a connection pool per host for many hosts (a unit may hold more hosts than run at once).
        adapter = HTTPAdapter(pool_connections=max(64, settings.max_parallel_hosts), pool_maxsize=settings.max_parallel_hosts)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = settings.user_agent
        self._sleep = sleep
        self._host_locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._last_request_at: dict[str, float] = {}
        self._robots: dict[str, urllib.robotparser.RobotFileParser] = {}
        self._robots_lock = threading.Lock()

    def get(
        self, url: str, *, headers: Mapping[str, str] | None = None, respect_robots: bool = False
    ) -> HttpResponse:
        """GET a URL, retrying transient failures within the configured bounds.

        Args:
            url: the absolute URL.
            headers: extra request headers (e.g. If-None-Match for a conditional GET).
            respect_robots: check robots.txt first (for crawled pages; feeds are published to be polled).

        Returns:
            The response; status 304 only when the request was conditional.

        Raises:
            RobotsDisallowedError: robots.txt forbids the URL.
            HttpStatusError: a 4xx, or a 429/5xx that persisted through the retries.
            BodyTooLargeError: the body passed `max_body_bytes`.
            TransientError: the network failed (refused, reset, cut off mid-body, timed out) through the retries.
            TerminalError: the request cannot succeed as configured (a redirect loop, an undecodable body).
        """
        if respect_robots and not self.allowed_by_robots(url):
            raise RobotsDisallowedError(url)
        return self._request("GET", url, headers)

    def post(self, url: str, *, json: Any, headers: Mapping[str, str] | None = None) -> HttpResponse:
        """POST a JSON body (an API login, say), with the same retries, caps and errors as `get`."""
        return self._request("POST", url, headers, json)

    def _request(self, method: str, url: str, headers: Mapping[str, str] | None, json: Any = None) -> HttpResponse:
        attempt = 0
        while True:
            try:
                response = self._send(method, url, headers, json)
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as error:
                if attempt >= self.settings.max_retries:
                    raise TransientError(
                        f"{url} could not be fetched after {attempt + 1} attempts: {_brief(error)}"
                    ) from error
                self._sleep(self._backoff(attempt))
                attempt += 1
                continue
            except requests.RequestException as error:
                raise TerminalError(f"{url} could not be fetched ({_brief(error)}); check the URL in the config") from error
            if response.status not in _RETRY_STATUSES:
                if response.status >= 400:
                    raise HttpStatusError(url, response.status, response.body)
                return response
            wait = retry_after_seconds(response.headers) if "Retry-After" in response.headers else None
            if attempt >= self.settings.max_retries or (
                wait is not None and wait > self.settings.max_retry_wait_seconds
            ):
                raise HttpStatusError(url, response.status, response.body)
            self._sleep(wait if wait is not None else self._backoff(attempt))
            attempt += 1

    def allowed_by_robots(self, url: str) -> bool:
        """Whether robots.txt on the URL's host lets our user agent fetch it (RFC 9309).

        A robots.txt that is missing (4xx) allows everything; one that cannot be fetched (5xx,
        network) disallows everything for this run.
        """
        host = host_of(url)
        with self._robots_lock:
            parser = self._robots.get(host)
        if parser is None:
            parser = urllib.robotparser.RobotFileParser(f"{host}/robots.txt")
            try:
                response = self.get(f"{host}/robots.txt")
                parser.parse(response.body.decode("utf-8", errors="replace").splitlines())
            except HttpStatusError as error:
                if error.transient:
                    parser.disallow_all = True
                else:
                    parser.allow_all = True
            except TransientError:
                parser.disallow_all = True
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
        outcomes: list[Outcome | None] = [None] * len(indexed)

        def run_host(host_items: list[tuple[int, Item]]) -> None:
            for index, item in host_items:
                outcomes[index] = work(item)

        with ThreadPoolExecutor(max_workers=self.settings.max_parallel_hosts, thread_name_prefix="fetch") as pool:
            for future in [pool.submit(run_host, host_items) for host_items in by_host.values()]:
                future.result()
        return outcomes  # type: ignore[return-value]

    def _send(self, method: str, url: str, headers: Mapping[str, str] | None, json: Any) -> HttpResponse:
        host = host_of(url)
        with self._host_locks[host]:
            last = self._last_request_at.get(host)
            if last is not None:
                wait = last + self.settings.politeness_delay_seconds - time.monotonic()
                if wait > 0:
                    self._sleep(wait)
            try:
                return self._read(method, url, headers, json)
            finally:
                self._last_request_at[host] = time.monotonic()

    def _read(self, method: str, url: str, headers: Mapping[str, str] | None, json: Any) -> HttpResponse:
        timeout = self.settings.timeout_seconds
        deadline = time.monotonic() + timeout
        limit = self.settings.max_body_bytes
        with self.session.request(
            method, url, headers=dict(headers or {}), json=json, timeout=timeout, stream=True
        ) as response:
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > limit:
                raise BodyTooLargeError(url, limit)
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_content(_CHUNK_BYTES):
                size += len(chunk)
                if size > limit:
                    raise BodyTooLargeError(url, limit)
                if time.monotonic() > deadline:
                    raise requests.Timeout(f"the body took longer than {timeout:g}s to arrive")
                chunks.append(chunk)
            return HttpResponse(
                url=url,
                final_url=response.url,
                status=response.status_code,
                headers=CaseInsensitiveDict(response.headers),
                body=b"".join(chunks),
            )

    def _backoff(self, attempt: int) -> float:
        return min(self.settings.backoff_seconds * (2**attempt), self.settings.max_retry_wait_seconds)


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Retry-After as seconds to wait: either delta-seconds or an HTTP date."""
    value = headers.get("Retry-After", "").strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    try:
        reference = email.utils.parsedate_to_datetime(headers["Date"]).timestamp()
    except (KeyError, TypeError, ValueError):
        reference = time.time()
    return max(0.0, when.timestamp() - reference)


def _brief(error: Exception) -> str:
    text = str(error)
    if "timed out" in text.lower() or isinstance(error, requests.Timeout):
        return "timed out"
    if "refused" in text.lower():
        return "connection refused"
    return text[:200]
