"""The YouTube Data API v3 through the shared HTTP client: the key, the quota cost of each call, and
the API's errors as collector errors that say what to do.

The API key goes in the `X-Goog-Api-Key` header, never in the URL, so no error message or log line
that quotes a URL carries it. Errors come as `{"error": {"code", "message", "errors": [{"reason",
"domain", "message"}]}}`; the `reason` decides:

| answer | error |
|---|---|
| 403 `quotaExceeded` (`dailyLimitExceeded`, `rateLimitExceeded`) | `QuotaExceeded`: the source stops, keeping what it read |
| 400 `keyInvalid` (or `API_KEY_INVALID` in `details`), 403 `forbidden`, `accessNotConfigured`, `keyExpired`, `ipRefererBlocked` | `CredentialsRejected` naming the connection |
| 403 `commentsDisabled`, 404 `videoNotFound` | `CommentsUnavailable`: that video is left out |
| 404 `playlistNotFound`, other 4xx | `TerminalError` naming the call |
| 5xx through the retries, the network | `TransientError` |
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC
from typing import Any
from urllib.parse import urlencode

from collectors.search import json_body
from collectors.youtube.quota import DailyQuota
from core.connections import connection_extra
from core.errors import CollectorError, CredentialsRejected, TerminalError, TransientError
from transport.exceptions import HttpStatusError
from transport.http import HttpClient

# Quota units per call (developers.google.com/youtube/v3/determine_quota_cost); every page is a call.
QUOTA_COSTS = {"search": 100, "channels": 1, "playlistItems": 1, "commentThreads": 1}
_QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded", "rateLimitExceeded"})
_KEY_REASONS = frozenset({"keyInvalid", "keyExpired", "forbidden", "accessNotConfigured", "ipRefererBlocked"})
_UNAVAILABLE = {"commentsDisabled": "comments disabled", "videoNotFound": "deleted, private or not found (404 videoNotFound)"}
_TAG = re.compile(r"<[^>]+>")


class QuotaExceeded(TransientError):
    """YouTube refused a call because the project's daily quota is spent: stop, keep what was read, and
    resume when the quota resets (midnight Pacific time)."""


class CommentsUnavailable(TerminalError):
    """A video's comments cannot be read: disabled by its owner, or the video deleted or made private.

    Attributes:
        video_id: the video.
        why: in a user's words ("comments disabled").
    """

    def __init__(self, video_id: str, why: str):
        self.video_id = video_id
        self.why = why
        super().__init__(f"video {video_id}: {why}")


def api_key(credentials: Mapping[str, Any] | None) -> str | None:
    """The API key in a connection: its password, else `extra["api_key"]` (extra may be JSON text)."""
    if not credentials:
        return None
    extra = connection_extra(credentials) or {}
    key = credentials.get("password") or extra.get("api_key")
    return key.strip() or None if isinstance(key, str) else None


class DataApi:
    """The Data API's list methods for one source; each call is charged to the day's quota first.

    Args:
        client: the shared HTTP client, bound to the source's time budget.
        base_url: `api_base_url`, e.g. https://www.googleapis.com/youtube/v3.
        key: the API key.
        connection: the Airflow connection holding it, for the messages.
        source: the source's name, for the messages.
        quota: the day's quota, charged before every call.
    """

    def __init__(self, client: HttpClient, base_url: str, key: str, connection: str, source: str, quota: DailyQuota):
        self._client = client
        self._base_url = base_url.rstrip("/")
        self._key = key
        self._connection = connection
        self._source = source
        self.quota = quota

    def call(self, method: str, **params: str | int) -> dict[str, Any]:
        """One page of a list method (search, channels, playlistItems, commentThreads), as decoded JSON.

        Raises:
            QuotaExceeded: YouTube says the day's quota is spent.
            CredentialsRejected: YouTube refused the key.
            CommentsUnavailable: (commentThreads) the video's comments are disabled, or the video is gone.
            TransientError: a 5xx through the retries, the network, the time budget.
            TerminalError: any other refusal, or an answer that is not the API's JSON.
        """
        url = f"{self._base_url}/{method}?{urlencode(params)}"
        self.quota.spend(QUOTA_COSTS[method])
        try:
            response = self._client.get(url, headers={"X-Goog-Api-Key": self._key})
        except HttpStatusError as error:
            raise self._translate(method, params, error) from None
        document = json_body(response)
        if not isinstance(document, dict) or not isinstance(document.get("items", []), list):
            raise TerminalError(f"YouTube {method}.list at {self._base_url} answered without a list of items; "
                                "check api_base_url")
        return document

    def _translate(self, method: str, params: Mapping[str, Any], error: HttpStatusError) -> CollectorError:
        reason, message = _reason(error.body)
        where = f"YouTube {method}.list at {self._base_url}"
        if reason in _QUOTA_REASONS:
            self.quota.refused = True
            return QuotaExceeded(
                f"YouTube's daily quota for the API key of connection '{self._connection}' is spent (HTTP {error.status} "
                f"{reason}); it resets at midnight Pacific time ({self.quota.resets_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC) and "
                f"collection resumes then. To collect more a day, ask Google for more quota (Google Cloud console, "
                f"IAM & Admin > Quotas, YouTube Data API v3) and raise daily_quota_units of source '{self._source}' "
                "to match, or keep other apps off this key"
            )
        if reason in _KEY_REASONS or "API_KEY_INVALID" in error.body.decode("utf-8", errors="replace"):
            return CredentialsRejected(
                f"YouTube refused the API key of connection '{self._connection}' (HTTP {error.status} {reason}: "
                f"{message}); set the {self._connection} Airflow connection's password to an API key of a project "
                f"with the YouTube Data API v3 enabled, or AIRFLOW_CONN_{self._connection.upper()}"
            )
        if method == "commentThreads" and reason in _UNAVAILABLE:
            return CommentsUnavailable(str(params.get("videoId")), _UNAVAILABLE[reason])
        if error.transient:
            return TransientError(f"{where} answered HTTP {error.status} after {error.attempts} attempts; "
                                  "it is tried again next run")
        return TerminalError(f"{where} refused the call (HTTP {error.status} {reason or 'error'}: {message})")


def _reason(body: bytes) -> tuple[str, str]:
    """The first `errors[].reason` of an error body and its message without markup ("" when unreadable)."""
    try:
        document = json.loads(body)
    except ValueError:
        return "", ""
    error = document.get("error") if isinstance(document, dict) else None
    if not isinstance(error, dict):
        return "", ""
    errors = error.get("errors")
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    message = _TAG.sub("", str(error.get("message") or first.get("message") or ""))[:300]
    return str(first.get("reason") or error.get("status") or ""), message
