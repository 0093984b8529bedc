"""Benchmark: polling many feeds on local servers when most have not changed since the last run.

Serves `--feeds` RSS feeds (20 items each) from one ThreadingHTTPServer per loopback host
(127.0.0.1, 127.0.0.2, ...; the feeds dealt round-robin, so 50 per host at the defaults) in a child
process, and polls them through the real collector path: `collectors.units.collect_unit` with a
`Config` of `FeedSource`s, its `HttpClient` (politeness per host, hosts in parallel) and
`collectors.rss.collect_feed` (conditional GET, feedparser). Each feed's cursor carries an ETag; the
server answers 304 when If-None-Match matches, and for `--changed` of the feeds (10%) the cursor is
stale and it answers 200 with the feed.

Each combination of `--politeness` and `--parallel-hosts` is one measured poll of every feed. It
reports wall time, requests/s, feeds/s, 304s and 200s (checked against what the cursors predict, on
the client and on the server), TCP connections the servers accepted, the client's CPU time, and the
floor the politeness delay alone puts on the wall time:
ceil(hosts / parallel hosts) x (feeds per host - 1) x delay.

Usage:
    .venv/bin/python bench/feed_polling.py                  # delays 0 and 1 s x 8 and 10 parallel hosts, ~2.5 min
    .venv/bin/python bench/feed_polling.py --politeness 0   # the two fast runs only, seconds
"""

from __future__ import annotations

import argparse
import io
import math
import multiprocessing
import resource
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from xml.sax.saxutils import escape

ITEMS_PER_FEED = 20
LAST_MODIFIED = "Mon, 02 Nov 2026 09:55:00 GMT"

_SENTENCES = [
    "Brightwave customers in the north reported a broadband outage that lasted most of the evening.",
    "The regulator said it would look again at how advertised speeds are measured.",
    "Tidewell announced a price rise for contracts renewed after the first of the month.",
    "Engineers expect the rural fibre rollout to reach another forty villages this year.",
    "Readers wrote in about long waits on the support line and billing mistakes.",
    "An industry survey found upload latency matters more to gamers than headline speed.",
    "Skylark Fibre opened a new exchange and promised installation within two weeks.",
    "Several councils asked operators to publish coverage maps street by street.",
]


def feed_etag(number: int, version: int) -> str:
    """The ETag of a feed's content version (2 is what the server holds now)."""
    return f'"feed-{number:04d}-v{version}"'


def feed_changed(number: int, hosts: int, changed: float) -> bool:
    """Whether a feed's cursor is stale: `changed` of each host's feeds, spread evenly along it."""
    position = number // hosts
    return math.floor((position + 1) * changed) > math.floor(position * changed)


def feed_body(number: int, base_url: str) -> bytes:
    """An RSS 2.0 feed of ITEMS_PER_FEED items, news-site shaped (HTML descriptions, categories)."""
    newest = datetime(2026, 11, 2, 9, 50, tzinfo=UTC)
    items = []
    for item in range(ITEMS_PER_FEED):
        published = newest - timedelta(minutes=37 * item + number % 30)
        sentences = [_SENTENCES[(number + item + offset) % len(_SENTENCES)] for offset in range(4)]
        link = f"{base_url}/news/{number:04d}/story-{item:02d}.html"
        description = (
            f"<p>{sentences[0]} <a href=\"{link}\">Read more</a></p>"
            f"<p>{' '.join(sentences[1:])}</p>"
        )
        items.append(
            "<item>"
            f"<title>{escape(sentences[0][:70])}</title>"
            f"<link>{link}</link>"
            f"<guid isPermaLink=\"false\">feed-{number:04d}-item-{item:02d}</guid>"
            f"<pubDate>{format_datetime(published, usegmt=True)}</pubDate>"
            f"<author>desk{item % 7}@news{number}.example (News desk {item % 7})</author>"
            "<category>broadband</category><category>telecoms</category>"
            f"<description>{escape(description)}</description>"
            "</item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>Regional news {number}</title><link>{base_url}/</link>"
        f"<description>Telecoms coverage, feed {number}</description>"
        f"{''.join(items)}</channel></rss>"
    ).encode()


def serve(hosts: int, feeds: int, control: Connection) -> None:
    """In a child process: one server per loopback host, until told to stop.

    Sends back the base URL of each host, then answers "counts" (status counts, requests and
    connections since the last "counts") until "stop".
    """
    lock = threading.Lock()
    tally: Counter[str] = Counter()
    documents: dict[str, tuple[str, bytes]] = {}

    class FeedHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            with lock:
                tally["connections"] += 1

        def do_GET(self) -> None:  # http.server's naming
            document = documents.get(f"{self.connection.getsockname()[0]}{self.path}")  # the host it was asked on
            if document is None:
                status, body, headers = 404, b"not found", {}
            else:
                etag, body = document
                headers = {"ETag": etag, "Last-Modified": LAST_MODIFIED, "Content-Type": "application/rss+xml"}
                status = 304 if self.headers.get("If-None-Match") == etag else 200
                if status == 304:
                    body = b""
            with lock:
                tally[str(status)] += 1
                tally["requests"] += 1
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    servers = []
    for index in range(hosts):
        server = ThreadingHTTPServer((f"127.0.0.{index + 1}", 0), FeedHandler)
        server.daemon_threads = True
        servers.append(server)
    base_urls = [f"http://127.0.0.{index + 1}:{server.server_port}" for index, server in enumerate(servers)]
    for number in range(feeds):
        host = number % hosts
        documents[f"127.0.0.{host + 1}/feeds/feed-{number:04d}.xml"] = (
            feed_etag(number, 2),
            feed_body(number, base_urls[host]),
        )
    threads = [threading.Thread(target=server.serve_forever, daemon=True) for server in servers]
    for thread in threads:
        thread.start()
    control.send(base_urls)
    while True:
        command = control.recv()
        if command == "counts":
            with lock:
                control.send(dict(tally))
                tally.clear()
        else:
            break
    for server in servers:
        server.shutdown()
        server.server_close()
    control.send("stopped")


@dataclass
class Poll:
    """One measured poll of every feed."""

    politeness: float
    parallel_hosts: int
    seconds: float
    cpu_seconds: float
    client: Counter[str]
    server: dict[str, int]
    mentions: int
    floor_seconds: float


def poll(
    base_urls: list[str], feeds: int, changed: float, politeness: float, parallel_hosts: int, control: Connection
) -> Poll:
    """Poll every feed once through collect_unit; returns what it took and what came back."""
    from collectors.units import CollectionUnit, collect_unit
    from config.model import Config

    hosts = len(base_urls)
    config = Config.model_validate(
        {
            "warehouse": {"path": "unused.duckdb"},
            "staging": "unused",
            "brands": [{"name": "Brightwave", "aliases": ["Brightwave"]}],
            "sources": [
                {
                    "kind": "rss",
                    "name": f"feed-{number:04d}",
                    "url": f"{base_urls[number % hosts]}/feeds/feed-{number:04d}.xml",
                }
                for number in range(feeds)
            ],
            "http": {"politeness_delay_seconds": politeness, "max_parallel_hosts": parallel_hosts},
        }
    )
    cursors = {
        f"feed-{number:04d}": {
            "etag": feed_etag(number, 1 if feed_changed(number, hosts, changed) else 2),
            "last_modified": LAST_MODIFIED,
        }
        for number in range(feeds)
    }
    unit = CollectionUnit("rss-bench", "rss", tuple(source.name for source in config.sources))
    control.send("counts")
    control.recv()
    cpu_before = _cpu_seconds()
    started = time.perf_counter()
    window = (datetime(2026, 11, 2, 9, tzinfo=UTC), datetime(2026, 11, 2, 10, tzinfo=UTC))
    runs = collect_unit(config, unit, cursors, window)
    seconds = time.perf_counter() - started
    cpu_seconds = _cpu_seconds() - cpu_before
    control.send("counts")
    server = control.recv()
    client: Counter[str] = Counter()
    for run in runs:
        if run.status == "failed":
            client["failed"] += 1
        elif run.items_fetched == 0 and run.cursor == cursors[run.source]:
            client["304"] += 1
        elif run.items_fetched == ITEMS_PER_FEED:
            client["200"] += 1
        else:
            client["other"] += 1
    per_host = math.ceil(feeds / hosts)
    floor_seconds = math.ceil(hosts / min(hosts, parallel_hosts)) * (per_host - 1) * politeness
    return Poll(
        politeness, parallel_hosts, seconds, cpu_seconds, client, server,
        sum(len(run.mentions) for run in runs), floor_seconds,
    )


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    """Start the feed servers, poll every feed once per configuration, print the table, check the counts."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=500, help="feeds to poll (default 500)")
    parser.add_argument("--hosts", type=int, default=10, help="loopback hosts serving them, 1-254 (default 10)")
    parser.add_argument(
        "--changed", type=float, default=0.1, help="share of feeds changed since the cursor, 0-1 (default 0.1)"
    )
    parser.add_argument(
        "--politeness", type=float, nargs="+", default=[0.0, 1.0],
        help="politeness delays per host to measure, seconds (default: 0 1)",
    )
    parser.add_argument(
        "--parallel-hosts", type=int, nargs="+", default=[8, 10],
        help="max_parallel_hosts values to measure (default: 8, the config default, and 10)",
    )
    arguments = parser.parse_args()
    if not 1 <= arguments.hosts <= 254:
        parser.error("--hosts must be between 1 and 254 (127.0.0.1 to 127.0.0.254)")
    if arguments.feeds < 1 or not 0.0 <= arguments.changed <= 1.0:
        parser.error("--feeds must be at least 1 and --changed between 0 and 1")
    if any(not 1 <= value <= 64 for value in arguments.parallel_hosts) or any(v < 0 for v in arguments.politeness):
        parser.error("--parallel-hosts must be 1-64 (as in the config) and --politeness at least 0")
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)

    import psutil

    import collectors.units  # noqa: F401  (imports and feedparser's start-up stay out of the timings)

    expected_changed = sum(feed_changed(n, arguments.hosts, arguments.changed) for n in range(arguments.feeds))
    expected = Counter({"304": arguments.feeds - expected_changed, "200": expected_changed})
    print(
        f"overheard feed polling benchmark: {arguments.feeds} feeds x {ITEMS_PER_FEED} items on {arguments.hosts} "
        f"loopback hosts, {expected['304']} unchanged (304) / {expected['200']} changed (200)"
    )
    memory_gib = psutil.virtual_memory().total / 2**30
    print(f"machine: {psutil.cpu_count()} cores, {memory_gib:.0f} GiB, Python {sys.version.split()[0]}")

    context = multiprocessing.get_context("spawn")
    control, child_end = context.Pipe()
    server = context.Process(target=serve, args=(arguments.hosts, arguments.feeds, child_end), daemon=True)
    server.start()
    polls: list[Poll] = []
    problems: list[str] = []
    try:
        if not control.poll(60):
            raise SystemExit("the feed servers did not start within 60 s")
        base_urls = control.recv()
        for politeness in arguments.politeness:
            for parallel_hosts in arguments.parallel_hosts:
                result = poll(base_urls, arguments.feeds, arguments.changed, politeness, parallel_hosts, control)
                polls.append(result)
                served = Counter({"304": result.server.get("304", 0), "200": result.server.get("200", 0)})
                if +result.client != +expected or +served != +expected:
                    problems.append(
                        f"politeness {politeness:g}, {parallel_hosts} parallel: client saw {dict(result.client)}, "
                        f"server sent {dict(served)}, expected {dict(expected)}"
                    )
                print(_row(result, header=len(polls) == 1))
    finally:
        control.send("stop")
        if control.poll(10):
            control.recv()
        server.join(10)
        if server.is_alive():
            server.terminate()
    if problems:
        raise SystemExit("wrong counts:\n  " + "\n  ".join(problems))
    best = min(polls, key=lambda result: result.seconds)
    print(
        f"fastest: politeness {best.politeness:g} s, {best.parallel_hosts} hosts in parallel: "
        f"wall_seconds={best.seconds:.2f} requests_per_second={best.server.get('requests', 0) / best.seconds:.0f} "
        f"feeds_per_second={arguments.feeds / best.seconds:.0f}"
    )


def _row(result: Poll, header: bool) -> str:
    line = (
        f"{result.politeness:>10g} {result.parallel_hosts:>8} {result.seconds:>8.2f} {result.floor_seconds:>8.1f} "
        f"{result.server.get('requests', 0):>8} {result.server.get('requests', 0) / result.seconds:>7.1f} "
        f"{sum(result.client.values()) / result.seconds:>7.1f} {result.client.get('304', 0):>5} "
        f"{result.client.get('200', 0):>5} {result.client.get('failed', 0):>6} {result.mentions:>8} "
        f"{result.server.get('connections', 0):>6} {result.cpu_seconds:>7.2f}"
    )
    if not header:
        return line
    titles = (
        f"{'politeness':>10} {'parallel':>8} {'wall s':>8} {'floor s':>8} {'requests':>8} {'req/s':>7} "
        f"{'feeds/s':>7} {'304':>5} {'200':>5} {'failed':>6} {'mentions':>8} {'conns':>6} {'cpu s':>7}"
    )
    return f"{titles}\n{line}"


if __name__ == "__main__":
    main()
