"""The one HTTP client and the one retry policy, against scripted servers on loopback addresses.

Waits are recorded, never slept: every client gets `sleep=waits.append`.
"""

from __future__ import annotations

import email.utils
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from collectors.context import CollectionContext
from collectors.reddit import collect_reddit
from collectors.x import collect_x
from config.model import BrandConfig, HttpSettings, RedditSource, XSource
from core.errors import CollectorError, TerminalError, TransientError
from core.time_budget import TimeBudget
from demo.fake_apis import reddit_api, x_api
from tests.local_http import LocalHttpServer, Reply, Request
from transport.exceptions import BodyTooLargeError, HttpStatusError, RobotsDisallowedError, WaitBeyondBudgetError
from transport.http import HttpClient, RetryPolicy


def test_retries_429_and_503_waiting_as_retry_after_says(http_server: LocalHttpServer, fast_http: HttpSettings) -> None:
    in_half_a_minute = email.utils.formatdate(time.time() + 30, usegmt=True)
    url = http_server.route(
        "/mentions",
        Reply(429, b"slow down", {"Retry-After": "7"}),
        Reply(503, b"maintenance", {"Retry-After": in_half_a_minute}),
        Reply(200, b"three new mentions"),
    )
    waits: list[float] = []

    response = HttpClient(fast_http, sleep=waits.append).get(url)

    assert (response.status, response.body) == (200, b"three new mentions")
    assert len(http_server.requests_for("/mentions")) == 3
    assert waits == [7.0, pytest.approx(30, abs=1)]


def test_gives_up_after_max_retries_naming_status_and_url(http_server: LocalHttpServer, fast_http: HttpSettings) -> None:
    url = http_server.route("/mentions", Reply(503, b"maintenance"))
    waits: list[float] = []
    client = HttpClient(fast_http.model_copy(update={"backoff_seconds": 1.5}), sleep=waits.append)

    with pytest.raises(HttpStatusError) as raised:
        client.get(url)

    assert str(raised.value) == f"HTTP 503 from {url}; the server may be down; it will be tried again next run"
    assert len(http_server.requests_for("/mentions")) == 1 + fast_http.max_retries
    assert waits == [1.5, 3.0]


@pytest.mark.parametrize(
    "reply",
    [Reply(404, b"no such feed"), Reply(429, b"come back tomorrow", {"Retry-After": "86400"})],
    ids=["404", "429-retry-after-beyond-max-wait"],
)
def test_answers_not_worth_waiting_for_are_not_retried(
    http_server: LocalHttpServer, fast_http: HttpSettings, reply: Reply
) -> None:
    url = http_server.route("/mentions", reply)
    waits: list[float] = []

    with pytest.raises(HttpStatusError, match=f"^HTTP {reply.status} from {re.escape(url)};") as raised:
        HttpClient(fast_http, sleep=waits.append).get(url)

    assert raised.value.status == reply.status
    assert len(http_server.requests_for("/mentions")) == 1
    assert waits == []


NO_LENGTH = {"Content-Length": "", "Connection": "close"}  # the body runs until the server hangs up


@pytest.mark.parametrize(
    ("just_fits", "too_big"),
    [
        # Refused on the declared length alone: the server would have sent only 10 bytes.
        (Reply(200, b"x" * 1000), Reply(200, b"x" * 10, {"Content-Length": "1001", "Connection": "close"})),
        (Reply(200, b"x" * 1000, NO_LENGTH), Reply(200, b"x" * 1001, NO_LENGTH)),
    ],
    ids=["declared-content-length", "streamed-without-length"],
)
def test_body_over_max_body_bytes_is_refused(
    http_server: LocalHttpServer, fast_http: HttpSettings, just_fits: Reply, too_big: Reply
) -> None:
    client = HttpClient(fast_http.model_copy(update={"max_body_bytes": 1000}))
    fits_url = http_server.route("/fits", just_fits)
    too_big_url = http_server.route("/big", too_big)

    assert client.get(fits_url).body == b"x" * 1000
    with pytest.raises(BodyTooLargeError) as raised:
        client.get(too_big_url)
    assert str(raised.value) == f"{too_big_url} sent more than 1,000 bytes; raise http.max_body_bytes if that is expected"


def test_server_slower_than_the_timeout_is_a_transient_error_after_the_retries(
    http_server: LocalHttpServer, fast_http: HttpSettings
) -> None:
    url = http_server.route("/mentions", Reply(200, b"too late", delay=0.6))
    client = HttpClient(fast_http.model_copy(update={"timeout_seconds": 0.2, "max_retries": 1}))

    with pytest.raises(TransientError) as raised:
        client.get(url)

    assert str(raised.value) == f"{url} could not be fetched after 2 attempts: timed out"
    assert len(http_server.requests_for("/mentions")) == 2


@contextmanager
def trickling_server(at_once: bytes, trickled: bytes, interval: float) -> Iterator[str]:
    """A server on 127.0.0.1 answering every request with `at_once`, then `trickled` one byte every `interval` s.

    Yields:
        Its base URL.
    """
    listener = socket.create_server(("127.0.0.1", 0))

    def answer(connection: socket.socket) -> None:
        with connection:
            request = b""
            while b"\r\n\r\n" not in request and (piece := connection.recv(4096)):
                request += piece
            try:
                connection.sendall(at_once)
                for position in range(len(trickled)):
                    connection.sendall(trickled[position : position + 1])
                    time.sleep(interval)
            except OSError:
                pass  # the client hung up: it gave up waiting

    def accept() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(connection,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


FEED = b"<rss version='2.0'><channel><title>Trickle</title></channel></rss>"
FEED_HEADERS = b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: %d\r\n\r\n" % len(FEED)


@pytest.mark.parametrize(
    ("at_once", "trickled"), [(b"", FEED_HEADERS + FEED), (FEED_HEADERS, FEED)], ids=["slow-headers", "slow-body"]
)
def test_a_server_trickling_a_byte_at_a_time_is_cut_off_at_the_timeout(
    fast_http: HttpSettings, at_once: bytes, trickled: bytes
) -> None:
    # Every byte comes well within the socket's timeout, so only a deadline for the whole answer stops it:
    # served in full, it would take 8 s (headers) or 3 s (body).
    client = HttpClient(fast_http.model_copy(update={"timeout_seconds": 1.0, "max_retries": 1}))
    with trickling_server(at_once, trickled, interval=0.05) as base_url:
        started = time.monotonic()
        with pytest.raises(TransientError) as raised:
            client.get(f"{base_url}/feed.xml")
        elapsed = time.monotonic() - started

    assert str(raised.value) == f"{base_url}/feed.xml could not be fetched after 2 attempts: timed out"
    assert 2.0 <= elapsed < 3.2  # two attempts of 1 s each


def test_an_sdk_asking_for_a_longer_timeout_still_gets_the_policys(fast_http: HttpSettings) -> None:
    # prawcore sends every request with timeout=16; the policy's 1 s must still cut a trickling answer.
    policy = RetryPolicy.from_settings(fast_http.model_copy(update={"timeout_seconds": 1.0, "max_retries": 0}))
    session = policy.session(TimeBudget(30.0))
    with trickling_server(FEED_HEADERS, FEED, interval=0.1) as base_url:
        started = time.monotonic()
        with pytest.raises(TransientError):
            session.get(f"{base_url}/feed.xml", timeout=16)
        elapsed = time.monotonic() - started

    assert elapsed < 1.6


def test_a_request_ends_with_the_source_time_budget(fast_http: HttpSettings) -> None:
    # A 20 s timeout, but the source has 1 s left: the request is cut off then, and is not retried.
    client = HttpClient(fast_http.model_copy(update={"timeout_seconds": 20.0})).within(TimeBudget(1.0))
    with trickling_server(FEED_HEADERS, FEED, interval=0.1) as base_url:
        started = time.monotonic()
        with pytest.raises(TransientError) as raised:
            client.get(f"{base_url}/feed.xml")
        elapsed = time.monotonic() - started
        with pytest.raises(TransientError) as refused:
            client.get(f"{base_url}/feed.xml")

    assert str(raised.value) == (
        f"{base_url}/feed.xml could not be fetched after 1 attempts: timed out; the source's 1 s time budget is spent; "
        "it stopped there, and the next run starts again from the same cursor"
    )
    assert elapsed < 1.6  # the budget started a moment before the request
    assert str(refused.value).startswith(f"{base_url}/feed.xml was not requested: the source's 1 s time budget is spent")


def test_the_context_client_charges_retry_waits_to_the_source_budget(
    http_server: LocalHttpServer, fast_http: HttpSettings
) -> None:
    # Keyless sources (feeds, Hacker News, Mastodon, Bluesky) fetch through `context.client`: a Retry-After
    # longer than what is left of their budget stops them instead of being slept outside it.
    url = http_server.route("/search", Reply(503, b"maintenance", {"Retry-After": "30"}), Reply(200, b"results"))
    client_waits: list[float] = []
    budget_waits: list[float] = []
    brands = (BrandConfig(name="Brightwave", aliases=["Brightwave"]),)
    window = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))
    context = CollectionContext(
        HttpClient(fast_http, sleep=client_waits.append), brands, window, time_budget_seconds=10, sleep=budget_waits.append
    )

    with pytest.raises(WaitBeyondBudgetError, match="asked to wait 30 s, more than the 10 s left of the source's 10 s"):
        context.client.get(url)
    assert (client_waits, budget_waits) == ([], [])

    http_server.route("/search", Reply(503, b"maintenance", {"Retry-After": "30"}), Reply(200, b"results"))
    context = CollectionContext(
        HttpClient(fast_http, sleep=client_waits.append), brands, window, time_budget_seconds=60, sleep=budget_waits.append
    )
    assert context.client.get(url).body == b"results"
    assert (client_waits, budget_waits) == ([], [30.0])
    assert context.time_budget().left == pytest.approx(30, abs=1)  # the wait came out of the one budget


@pytest.mark.parametrize(
    ("reply", "error_type", "message", "attempts"),
    [
        (
            Reply(200, b"<rss>" * 20, {"Content-Length": "5000", "Connection": "close"}),
            TransientError,
            "could not be fetched after 3 attempts: ('Connection broken",
            3,
        ),
        (Reply(302, b"", {"Location": "/mentions"}), TerminalError, "could not be fetched (Exceeded 30 redirects.)", 31),
    ],
    ids=["cut-off-mid-body", "redirect-loop"],
)
def test_broken_transfers_are_collector_errors_so_one_source_cannot_sink_the_batch(
    http_server: LocalHttpServer,
    fast_http: HttpSettings,
    reply: Reply,
    error_type: type[CollectorError],
    message: str,
    attempts: int,
) -> None:
    url = http_server.route("/mentions", reply)

    with pytest.raises(error_type) as raised:
        HttpClient(fast_http).get(url)

    assert str(raised.value).startswith(f"{url} {message}")
    assert len(http_server.requests_for("/mentions")) == attempts


# Everyone else is shut out; our own group (matched on "Overheard" in our User-Agent) only from /private/.
ROBOTS_TXT = b"User-agent: *\nDisallow: /\n\nUser-agent: Overheard\nDisallow: /private/\n"


@pytest.mark.parametrize(
    ("robots", "robots_requests", "allowed"),
    [
        (Reply(200, ROBOTS_TXT), 1, {"/public": True, "/private/report": False}),
        (Reply(404, b"not found"), 1, {"/public": True, "/private/report": True}),
        (Reply(503, b"maintenance"), 3, {"/public": False, "/private/report": False}),
    ],
    ids=["disallow-rules", "missing-allows-all", "server-error-disallows-all"],
)
def test_robots_txt_is_honoured_and_fetched_once_per_host(
    http_server: LocalHttpServer,
    fast_http: HttpSettings,
    robots: Reply,
    robots_requests: int,
    allowed: dict[str, bool],
) -> None:
    http_server.route("/robots.txt", robots)
    client = HttpClient(fast_http)

    for path, expect_allowed in allowed.items():
        url = http_server.route(path, Reply(200, b"a page"))
        if expect_allowed:
            assert client.get(url, respect_robots=True).body == b"a page"
        else:
            with pytest.raises(RobotsDisallowedError, match=f"^robots.txt disallows fetching {re.escape(url)}$"):
                client.get(url, respect_robots=True)

    pages_requested = [request.path for request in http_server.requests if request.path != "/robots.txt"]
    assert pages_requested == [path for path, expect_allowed in allowed.items() if expect_allowed]
    assert len(http_server.requests_for("/robots.txt")) == robots_requests  # 503: one check, with its retries
    assert {request.headers["user-agent"] for request in http_server.requests} == {fast_http.user_agent}


def test_a_host_refusing_connections_is_a_network_error_naming_the_page_not_a_robots_refusal(
    fast_http: HttpSettings,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        base_url = f"http://127.0.0.1:{probe.getsockname()[1]}"  # closed when the block ends: connections are refused
    client = HttpClient(fast_http)

    for page in ("/", "/posts/1"):
        with pytest.raises(TransientError) as raised:
            client.get(f"{base_url}{page}", respect_robots=True)
        assert str(raised.value) == f"{base_url}{page} could not be fetched after 3 attempts: connection refused"


def test_hosts_are_fetched_in_parallel_and_each_host_politely_in_turn(fast_http: HttpSettings) -> None:
    # Each host's first page answers only once the other host's first page is being answered too:
    # fetched one host after the other, the barrier times out and the page fails.
    both_hosts = threading.Barrier(2, timeout=3)

    def meet(request: Request) -> Reply:
        try:
            both_hosts.wait()
        except threading.BrokenBarrierError:
            return Reply(404, b"the other host was never asked")
        return Reply(200, b"met")

    waits: list[float] = []
    client = HttpClient(fast_http.model_copy(update={"politeness_delay_seconds": 5.0}), sleep=waits.append)
    with LocalHttpServer("127.0.0.1") as first, LocalHttpServer("127.0.0.2") as second:
        urls = [first.route("/meet", meet), second.route("/meet", meet), first.route("/next", Reply(200, b"next"))]

        bodies = client.map_by_host(urls, lambda url: url, lambda url: client.get(url).body)

    assert bodies == [b"met", b"met", b"next"]
    assert waits == [pytest.approx(5.0, abs=0.5)]  # before first host's /next only


def test_one_retry_policy_is_the_session_of_the_http_client_tweepy_and_praw(
    http_server: LocalHttpServer, fast_http: HttpSettings
) -> None:
    # One policy object: the client's. X's tweepy and Reddit's praw send on sessions built from it.
    waits: list[float] = []
    client = HttpClient(fast_http.model_copy(update={"backoff_seconds": 2.0}), sleep=waits.append)
    brands = (BrandConfig(name="Brightwave", aliases=["Brightwave"]),)
    x_source = XSource(kind="x", name="x-search")
    reddit_source = RedditSource(kind="reddit", name="reddit-uk")
    credentials = {
        "twitter_default": {"password": x_api.DEMO_TOKEN},
        "reddit_default": {"login": reddit_api.DEMO_CLIENT_ID, "password": reddit_api.DEMO_CLIENT_SECRET},
    }
    x_window = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, 12, tzinfo=UTC))
    reddit_window = (datetime(2026, 10, 28, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))

    def each_through_one_503() -> tuple[str, str, str]:
        """The same failure for all three: one 503, then the normal answer."""
        url = http_server.route("/mentions", Reply(503, b"maintenance"), Reply(200, b"three new mentions"))
        with (
            x_api.FakeXApi.from_corpus(now=x_window[1] + timedelta(minutes=5)) as fake_x,
            reddit_api.FakeRedditApi.from_corpus() as fake_reddit,
        ):
            fake_x.script(x_api.server_error(503))
            fake_reddit.script("/search", reddit_api.server_error(503))
            try:
                fetched = client.get(url).body.decode()
            except HttpStatusError as error:
                fetched = str(error)
            x_run = collect_x(
                x_source.model_copy(update={"api_base_url": fake_x.base_url}), None,
                CollectionContext(client, brands, x_window, credentials, sleep=waits.append),
            )
            reddit_run = collect_reddit(
                reddit_source.model_copy(update={"oauth_url": fake_reddit.base_url, "reddit_url": fake_reddit.base_url}),
                None, CollectionContext(client, brands, reddit_window, credentials, sleep=waits.append),
            )
        return fetched, x_run.error or x_run.status, reddit_run.error or reddit_run.status

    client.policy.max_retries = 1
    assert each_through_one_503() == ("three new mentions", "ok", "ok")
    assert waits == [2.0, 2.0, 2.0]  # the policy's backoff, each through its caller's sleep

    client.policy.max_retries = 0
    waits.clear()
    fetched, x_error, reddit_error = each_through_one_503()
    assert fetched.startswith("HTTP 503 from http://127.0.0.1:")
    assert x_error.startswith("X API answered HTTP 503 at http://127.0.0.1:") and "after 1 attempts" in x_error
    assert reddit_error == "Reddit answered /search with HTTP 503 after 1 attempts; it will be tried again next run"
    assert waits == []
