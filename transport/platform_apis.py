"""What the platforms' APIs say about their rate limits and where their endpoints are, for every client
of them: the collectors that read and the reply senders that write."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import requests

from transport.http import RateLimitHeaders

# X: `x-rate-limit-reset` is a Unix time; its reset second may end late in that second.
X_RATE_LIMITS = RateLimitHeaders(prefix="x-rate-limit-", reset_is_epoch=True, margin_seconds=1.0)
# Reddit: `x-ratelimit-reset` is seconds from now.
REDDIT_RATE_LIMITS = RateLimitHeaders(prefix="x-ratelimit-", reset_is_epoch=False)
# Reddit's OAuth token endpoint (on the site host).
REDDIT_TOKEN_PATH = "/api/v1/access_token"


class ApiBaseSession(requests.Session):
    """A session that sends every request to another base URL: same path and query.

    tweepy always builds `https://api.twitter.com/2/...`; this keeps the path and query and swaps
    scheme, host and port for the configured API base URL (a path prefix in it is kept too).

    Args:
        api_base_url: e.g. `https://api.x.com` or `http://127.0.0.1:8766`.
    """

    def __init__(self, api_base_url: str):
        super().__init__()
        base = urlsplit(api_base_url)
        self._scheme, self._netloc, self._prefix = base.scheme, base.netloc, base.path.rstrip("/")

    def rebase(self, url: str) -> str:
        """The URL at the configured base: same path and query."""
        parts = urlsplit(url)
        return urlunsplit((self._scheme, self._netloc, self._prefix + parts.path, parts.query, ""))

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        """Prepare the request for the rebased URL (so proxies are chosen for the real host)."""
        request.url = self.rebase(str(request.url))
        return super().prepare_request(request)
