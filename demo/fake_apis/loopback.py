"""What every fake API shares: an HTTP server on a loopback address, served from a background thread."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class QuietRequestHandler(BaseHTTPRequestHandler):
    """A fake's request handler: like http.server's, without a line on stderr per request."""

    def log_message(self, format: str, *args: object) -> None:
        pass


def wait_until_interrupted() -> None:
    """Block until Ctrl-C, while fakes serve from their threads (each fake module's `main`)."""
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass


class LoopbackServer:
    """Serves one handler class on `host:port` (0: a free port) until stopped; a context manager.

    Subclasses call `_bind` at the end of their `__init__`, once the state their handler reads exists.
    """

    base_url: str

    def _bind(self, host: str, port: int, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self.base_url = f"http://{host}:{self._server.server_address[1]}"
        # A short poll interval makes shutdown quick; the default 0.5 s adds up over many tests.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def start(self) -> Self:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def request_echo(method: str, target: str, headers: Mapping[str, str], body: bytes | str = b"") -> str:
    """A request quoted whole, as a misbehaving upstream echoes it in an error: its line, every header, its body.

    Fakes answer with it to test that no credential a request carried (a Basic or Bearer Authorization,
    a password in a JSON or form body, a token in the query) reaches a message, a log or a staged file.

    Args:
        method: GET, POST, ...
        target: the path with its query string, as sent.
        headers: the request headers.
        body: the request body.
    """
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    lines = [f"{method} {target} HTTP/1.1", *(f"{name}: {value}" for name, value in headers.items())]
    return "\n".join([*lines, "", text]) if text else "\n".join(lines)
