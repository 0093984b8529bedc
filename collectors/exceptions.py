"""Why an HTTP fetch failed, on top of the base errors in `core.errors` (transient or terminal)."""

from core.errors import CollectorError, TerminalError


class HttpStatusError(CollectorError):
    """The server answered with an error status."""

    def __init__(self, url: str, status: int, body: bytes = b""):
        self.url = url
        self.status = status
        self.body = body[:2000]  # the start of the error body, for APIs that explain themselves there
        self.transient = status == 429 or status >= 500
        hint = "the server may be down; it will be tried again next run" if self.transient else "check the URL in the config"
        super().__init__(f"HTTP {status} from {url}; {hint}")


class BodyTooLargeError(TerminalError):
    """The response is bigger than `http.max_body_bytes`."""

    def __init__(self, url: str, limit: int):
        super().__init__(f"{url} sent more than {limit:,} bytes; raise http.max_body_bytes if that is expected")


class RobotsDisallowedError(TerminalError):
    """robots.txt does not let our user agent fetch the URL."""

    def __init__(self, url: str):
        super().__init__(f"robots.txt disallows fetching {url}")
