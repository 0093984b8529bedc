"""A scriptable HTTP server on 127.0.0.1 for tests: each path answers what the test says."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    """One scripted answer.

    Attributes:
        status: the HTTP status.
        body: the body bytes.
        headers: response headers.
        delay: seconds to wait before answering (for timeouts).
        drip: send the body in this many pieces with `delay` between them instead.
        drip_headers: send the status line and headers in this many pieces with `delay` between them
            (a server trickling its headers), then the body at once.
    """

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drip: int = 0
    drip_headers: int = 0


@dataclass
class Request:
    """What the server received."""

    path: str
    headers: dict[str, str]


class LocalHttpServer:
    """Serves scripted replies on 127.0.0.1 (or another loopback address) until closed.

    `route(path, *replies)` queues replies for a path: each request takes the next one and the last
    repeats. `route(path, handler)` answers with a function of the request instead.
    """

    def __init__(self, host: str = "127.0.0.1"):
        self.requests: list[Request] = []
        self._routes: dict[str, list[Reply] | Callable[[Request], Reply]] = {}
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                request = Request(self.path, {k.lower(): v for k, v in self.headers.items()})
                reply = server._reply(request)
                if reply.delay and not (reply.drip or reply.drip_headers):
                    time.sleep(reply.delay)
                headers = {"Content-Length": str(len(reply.body)), **reply.headers}
                if reply.drip_headers:
                    head = f"HTTP/1.1 {reply.status} {self.responses[reply.status][0]}\r\n" + "".join(
                        f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
                    step = max(1, len(head) // reply.drip_headers)
                    for start in range(0, len(head), step):
                        self.wfile.write(head[start : start + step].encode("latin-1"))
                        self.wfile.flush()
                        time.sleep(reply.delay)
                    self.wfile.write(reply.body)
                    return
                self.send_response(reply.status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if reply.drip:
                    step = max(1, len(reply.body) // reply.drip)
                    for start in range(0, len(reply.body), step):
                        self.wfile.write(reply.body[start : start + step])
                        self.wfile.flush()
                        time.sleep(reply.delay)
                else:
                    self.wfile.write(reply.body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://{host}:{self._server.server_address[1]}"
        # A short poll interval makes shutdown quick; the default 0.5 s adds up over many tests.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def route(self, path: str, *replies: Reply | Callable[[Request], Reply]) -> str:
        """Script a path; returns its absolute URL."""
        with self._lock:
            if len(replies) == 1 and callable(replies[0]):
                self._routes[path] = replies[0]
            else:
                self._routes[path] = list(replies)
        return self.base_url + path

    def requests_for(self, path: str) -> list[Request]:
        """The requests received for a path, in order."""
        return [request for request in self.requests if request.path == path]

    def _reply(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            route = self._routes.get(request.path)
            if route is None:
                return Reply(404, b"not found")
            if callable(route):
                return route(request)
            return route.pop(0) if len(route) > 1 else route[0]

    def __enter__(self) -> LocalHttpServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
