"""A static server for the bundled demo corpus: three fictional sites on three loopback addresses.

Each site directory under `demo/corpus/` is served on its own address (news on 127.0.0.1,
homefixers on 127.0.0.2, streamsetup on 127.0.0.3), all on the same port, so that robots.txt,
politeness delays and URL deduplication behave as they would across real hosts. Text files may
contain `{{news}}`, `{{homefixers}}` and `{{streamsetup}}`, replaced at serve time by that site's
base URL, so the corpus works on whatever free port the server gets.

`CorpusServer(named=True)` (what `make demo` runs) serves the same sites under names instead
(`http://news.example`, `http://homefixers.example`, `http://streamsetup.example`) to clients that
use the server as their HTTP proxy (`proxy_url`, set as HTTP_PROXY): the sites' URLs, and so mention
URLs and the sites of the weekly report, name the sites rather than loopback addresses.

Responses carry a strong ETag and a fixed Last-Modified and honour conditional GETs, so a
collector's second run sees 304 Not Modified. Every request is counted per site and path in
`CorpusServer.requests`, which lets tests assert what was (and was not) fetched.

Standard library only. Run `python -m demo.corpus_server` to browse the corpus by hand.

Example:
    with CorpusServer() as server:
        feed_url = server.base_url("news") + "/feeds/techwire.xml"
        ...
        assert server.requests[("streamsetup", "/drafts/unreleased.html")] == 0
"""

from __future__ import annotations

import argparse
import email.utils
import hashlib
import http.client
import signal
import threading
from collections import Counter
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit

DEFAULT_CORPUS_DIR = Path(__file__).resolve().parent / "corpus"

# Site name -> loopback address it is served on. The first one is bound first, to pick the port.
SITE_ADDRESSES: dict[str, str] = {
    "news": "127.0.0.1",
    "homefixers": "127.0.0.2",
    "streamsetup": "127.0.0.3",
}

# Site name -> the host name it is served under when the server is `named` (as `make demo` runs it):
# clients reach every name through the server itself as their HTTP proxy, so no DNS is involved.
SITE_NAMES: dict[str, str] = {
    "news": "news.example",
    "homefixers": "homefixers.example",
    "streamsetup": "streamsetup.example",
}
_NAMED_SITES = {name: site for site, name in SITE_NAMES.items()}

# Every file is reported as last modified at this instant, so conditional requests are repeatable.
LAST_MODIFIED = datetime(2026, 11, 2, 9, 0, 0, tzinfo=timezone.utc)
LAST_MODIFIED_HEADER = email.utils.format_datetime(LAST_MODIFIED, usegmt=True)

# Suffixes whose bodies are UTF-8 text in which the site placeholders are substituted.
TEXT_SUFFIXES = frozenset({".xml", ".atom", ".html", ".txt", ".json"})

_CONTENT_TYPES: dict[str, str] = {
    ".xml": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain",
    ".json": "application/json",
}
_SITEMAP_CONTENT_TYPE = "application/xml"
_FALLBACK_CONTENT_TYPE = "application/octet-stream"

BIND_ATTEMPTS = 5


class CorpusServerError(RuntimeError):
    """The corpus server could not start (a loopback address or the port could not be bound)."""


def content_type_for(path: Path) -> str:
    """The Content-Type header to serve a corpus file with.

    Args:
        path: the file being served.

    Returns:
        `application/xml` for sitemaps, otherwise the type for the file's suffix.
    """
    if path.name.startswith("sitemap") and path.suffix == ".xml":
        return _SITEMAP_CONTENT_TYPE
    return _CONTENT_TYPES.get(path.suffix.lower(), _FALLBACK_CONTENT_TYPE)


def strong_etag(body: bytes) -> str:
    """A strong entity tag for a response body.

    Args:
        body: the bytes exactly as served (after placeholder substitution).

    Returns:
        A quoted SHA-256 prefix, e.g. `"3f2a..."`.
    """
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _etag_matches(if_none_match: str, etag: str) -> bool:
    """Whether an If-None-Match header matches `etag` (weak comparison, as RFC 9110 asks)."""
    if if_none_match.strip() == "*":
        return True
    opaque = etag.removeprefix("W/")
    return any(candidate.strip().removeprefix("W/") == opaque for candidate in if_none_match.split(","))


def _not_modified_since(if_modified_since: str) -> bool:
    """Whether the fixed Last-Modified is at or before an If-Modified-Since date (False if unparsable)."""
    try:
        since = email.utils.parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=timezone.utc)
    return LAST_MODIFIED <= since


class _SiteHTTPServer(ThreadingHTTPServer):
    """One site's HTTP server: knows its name, its folder and how to fill in placeholders."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], site: str, site_dir: Path, owner: CorpusServer):
        self.site = site
        self.site_dir = site_dir.resolve()
        self.owner = owner
        super().__init__(address, _CorpusRequestHandler)


class _CorpusRequestHandler(BaseHTTPRequestHandler):
    """Serves files of one site, with placeholders filled in and conditional GET support."""

    server: _SiteHTTPServer
    server_version = "OverheardCorpus/1.0"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        """Answer a GET with the file, 304 or 404."""
        if not self._forwarded():
            self._respond(include_body=True)

    def do_HEAD(self) -> None:  # noqa: N802 (http.server's naming)
        """Answer a HEAD like a GET, without the body."""
        if not self._forwarded():
            self._respond(include_body=False)

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        """Only for a forwarded name (a fake API's sign-in); the sites are static."""
        if not self._forwarded():
            self.send_error(HTTPStatus.METHOD_NOT_ALLOWED)

    def _forwarded(self) -> bool:
        """Pass a proxy request for a forwarded name (`CorpusServer.forward`) to its server; False if not one."""
        owner = self.server.owner
        upstream = owner.forwards.get((self.headers.get("Host") or "").split(":")[0].lower()) if owner.named else None
        if upstream is None:
            return False
        parts = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name: value for name, value in self.headers.items() if name.lower() not in ("host", "proxy-connection")}
        connection = http.client.HTTPConnection(upstream, timeout=30)
        try:
            connection.request(self.command, parts.path + (f"?{parts.query}" if parts.query else ""), body or None, headers)
            answer = connection.getresponse()
            content = answer.read()
        finally:
            connection.close()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)
        return True

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's signature)
        """Keep quiet: requests are counted in `CorpusServer.requests` instead."""

    def _respond(self, include_body: bool) -> None:
        url_path = urlsplit(self.path).path or "/"
        site = self.server.site
        if self.server.owner.named:  # a proxy request for http://<name>/...: the site is the one named
            site = _NAMED_SITES.get((self.headers.get("Host") or "").split(":")[0].lower(), site)
        self.server.owner.record_request(site, url_path)
        file_path = self._resolve((self.server.owner.corpus_dir / site).resolve(), url_path)
        if file_path is None:
            self._send_not_found(include_body)
            return

        body = file_path.read_bytes()
        if file_path.suffix.lower() in TEXT_SUFFIXES:
            body = self.server.owner.fill_placeholders(body.decode("utf-8")).encode("utf-8")
        etag = strong_etag(body)

        if_none_match = self.headers.get("If-None-Match")
        if_modified_since = self.headers.get("If-Modified-Since")
        if if_none_match is not None:
            not_modified = _etag_matches(if_none_match, etag)
        else:
            not_modified = if_modified_since is not None and _not_modified_since(if_modified_since)

        if not_modified:
            self.send_response(HTTPStatus.NOT_MODIFIED)
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", LAST_MODIFIED_HEADER)
            self.end_headers()
            return

        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type_for(file_path))
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", LAST_MODIFIED_HEADER)
        self.end_headers()
        if include_body:
            self.wfile.write(body)

    def _resolve(self, site_dir: Path, url_path: str) -> Path | None:
        """The file a URL path names inside the site folder, or None (missing, or outside the folder)."""
        relative = unquote(url_path).lstrip("/")
        if "\x00" in relative or any(part == ".." for part in relative.replace("\\", "/").split("/")):
            return None
        candidate = (site_dir / relative).resolve()
        if not candidate.is_relative_to(site_dir):
            return None
        if candidate.is_dir():
            candidate = candidate / "index.html"
        return candidate if candidate.is_file() else None

    def _send_not_found(self, include_body: bool) -> None:
        body = b"404 Not Found\n"
        self.send_response(HTTPStatus.NOT_FOUND)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if include_body:
            self.wfile.write(body)


class CorpusServer:
    """Serves the demo corpus's three sites on 127.0.0.1-3, one port, for the life of a `with` block.

    Attributes:
        corpus_dir: the folder holding one sub-folder per site.
        port: the port every site listens on (set once started).
        requests: how many requests each `(site, path)` received; the path excludes the query.
    """

    def __init__(self, corpus_dir: Path = DEFAULT_CORPUS_DIR, port: int = 0, named: bool = False):
        """Prepare the server; nothing is bound until the `with` block starts.

        Args:
            corpus_dir: the corpus folder, with one sub-folder per site in `SITE_ADDRESSES`.
            port: a fixed port for all sites, or 0 to pick a free one.
            named: serve the sites under their names (`SITE_NAMES`, e.g. `http://homefixers.example`) to
                clients that use `proxy_url` as their HTTP proxy, as the demo does, so that the sites' URLs
                (and so mention URLs and the report's sites) carry names, not loopback addresses.
        """
        self.corpus_dir = Path(corpus_dir)
        self.named = named
        self.forwards: dict[str, str] = {}
        self.port = port
        self.requests: Counter[tuple[str, str]] = Counter()
        self._requested_port = port
        self._requests_lock = threading.Lock()
        self._servers: list[_SiteHTTPServer] = []
        self._threads: list[threading.Thread] = []
        self._placeholders: dict[str, str] = {}

    def __enter__(self) -> CorpusServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def base_url(self, site: str) -> str:
        """The base URL of a site, without a trailing slash.

        Args:
            site: one of `news`, `homefixers`, `streamsetup`.

        Returns:
            e.g. `http://127.0.0.2:41234`, or `http://homefixers.example` when named.

        Raises:
            KeyError: for a site the corpus does not have.
        """
        if site not in SITE_ADDRESSES:
            raise KeyError(f"no corpus site named {site!r}; the sites are {', '.join(SITE_ADDRESSES)}")
        if self.named:
            return f"http://{SITE_NAMES[site]}"
        return f"http://{SITE_ADDRESSES[site]}:{self.port}"

    def forward(self, name: str, base_url: str) -> None:
        """As the named sites' proxy, pass requests for http://<name>/... to another local server.

        Args:
            name: a host name, e.g. `www.reddit.example`.
            base_url: the server's base URL, e.g. `http://127.0.0.1:8768`.
        """
        self.forwards[name.lower()] = urlsplit(base_url).netloc

    @property
    def proxy_url(self) -> str:
        """The HTTP proxy through which a client reaches the sites by name (when `named`)."""
        return f"http://{SITE_ADDRESSES['news']}:{self.port}"

    def fill_placeholders(self, text: str) -> str:
        """Replace `{{news}}`, `{{homefixers}}` and `{{streamsetup}}` with the sites' base URLs.

        Args:
            text: a corpus file's text.

        Returns:
            The text with every placeholder replaced.
        """
        for placeholder, base_url in self._placeholders.items():
            text = text.replace(placeholder, base_url)
        return text

    def record_request(self, site: str, path: str) -> None:
        """Count one request (called by the request handlers, from their threads)."""
        with self._requests_lock:
            self.requests[(site, path)] += 1

    def start(self) -> None:
        """Bind every site on one port and start serving each in a background thread.

        Raises:
            CorpusServerError: when the sites cannot all be bound after a few attempts.
        """
        missing = [site for site in SITE_ADDRESSES if not (self.corpus_dir / site).is_dir()]
        if missing:
            raise CorpusServerError(f"{self.corpus_dir} has no folder for site(s) {', '.join(missing)}")
        attempts = 1 if self._requested_port else BIND_ATTEMPTS
        last_error: OSError | None = None
        for _ in range(attempts):
            try:
                self._bind_all(self._requested_port)
                break
            except OSError as error:
                last_error = error
                self._close_all()
        else:
            raise CorpusServerError(
                f"could not bind the corpus sites on {', '.join(SITE_ADDRESSES.values())} with one shared port "
                f"after {attempts} attempt(s): {last_error}. On Linux every 127.x.y.z address is loopback; "
                "on macOS add the aliases first (sudo ifconfig lo0 alias 127.0.0.2 up; same for 127.0.0.3)."
            ) from last_error

        self._placeholders = {"{{" + site + "}}": self.base_url(site) for site in SITE_ADDRESSES}
        for server in self._servers:
            thread = threading.Thread(
                target=server.serve_forever, name=f"corpus-{server.site}", kwargs={"poll_interval": 0.1}, daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop every site's server and release its socket."""
        for server in self._servers:
            server.shutdown()
        for thread in self._threads:
            thread.join()
        self._close_all()
        self._threads.clear()

    def _bind_all(self, port: int) -> None:
        """Bind the first site (on `port`, 0 meaning any free one), then the others on the same port."""
        for site, address in SITE_ADDRESSES.items():
            server = _SiteHTTPServer((address, port), site, self.corpus_dir / site, self)
            self._servers.append(server)
            port = server.server_address[1]
        self.port = port

    def _close_all(self) -> None:
        for server in self._servers:
            server.server_close()
        self._servers.clear()


def main() -> None:
    """Serve the corpus in the foreground until interrupted, printing each site's URL."""
    parser = argparse.ArgumentParser(description="Serve the Overheard demo corpus on 127.0.0.1-3.")
    parser.add_argument("--port", type=int, default=0, help="port for all three sites (default: any free port)")
    parser.add_argument("--corpus-dir", type=Path, default=DEFAULT_CORPUS_DIR, help="the corpus folder")
    arguments = parser.parse_args()
    with CorpusServer(arguments.corpus_dir, arguments.port) as server:
        for site in SITE_ADDRESSES:
            print(f"{site:<12} {server.base_url(site)}/")
        print("Press Ctrl+C to stop.", flush=True)
        stop_requested = threading.Event()
        signal.signal(signal.SIGTERM, lambda signum, frame: stop_requested.set())
        try:
            stop_requested.wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
