"""X recent search through the real `tweepy.Client`, on a session under the one retry policy.

tweepy's host is fixed, so the session rebases every request onto `XSource.api_base_url` (tests and
the demo point it at `demo.fake_apis.x_api`). Retries, rate-limit waits (`x-rate-limit-reset`, an
epoch second), the body cap and the time budget are the policy's (`transport.http.RetryPolicy`);
tweepy never waits itself. What is left here is turning tweepy's and the policy's errors into
collector errors that name X's endpoint. The bearer token is added by the session rather than given
to tweepy, because tweepy logs request headers at DEBUG level: the token never reaches a log, an
error, a warning or the cursor.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import requests
import requests.auth
import tweepy

from core.connections import connection_extra
from core.errors import CollectorError, CredentialsRejected, TerminalError, TransientError
from core.time_budget import TimeBudget
from transport.exceptions import HttpStatusError, NetworkError, RateLimitedError, WaitBeyondBudgetError
from transport.http import BearerAuth, RetryPolicy, server_time
from transport.platform_apis import X_RATE_LIMITS, ApiBaseSession

SEARCH_PATH = "/2/tweets/search/recent"
PAGE_MIN = 10  # recent search's smallest max_results: fewer posts than this cannot be asked for
PAGE_MAX = 100
EXPANSIONS = ("author_id",)
TWEET_FIELDS = (
    "author_id", "created_at", "lang", "public_metrics", "conversation_id", "referenced_tweets", "entities",
    "in_reply_to_user_id", "note_tweet",
)
USER_FIELDS = ("username", "name", "public_metrics", "verified", "verified_type")
# X's reset is the epoch second the window reopens, measured against the response's own Date; plus a second.
_TOKEN_PLACEHOLDER = "(added by the session)"
_END_TIME_MIN_AGE_SECONDS = 10.0  # X refuses an end_time less than 10 s before the request
_END_TIME_MARGIN_SECONDS = 1.0


class StaleCursorError(Exception):
    """X refused a since_id, until_id or start_time older than the 7 days recent search reaches."""


def bearer_token(credentials: Mapping[str, Any] | None) -> str | None:
    """The bearer token in a connection: its password, else `extra["bearer_token"]`.

    Args:
        credentials: `{"login", "password", "host", "extra"}`; extra may be a dict or JSON text.

    Returns:
        The token without a pasted "Bearer " prefix, or None when there is none.
    """
    if not credentials:
        return None
    extra = connection_extra(credentials) or {}
    token = credentials.get("password") or extra.get("bearer_token")
    if not isinstance(token, str):
        return None
    token = token.strip()
    if token.lower().startswith("bearer "):
        token = token[len("bearer "):].strip()
    return token or None


def x_client(api_base_url: str, token: str, policy: RetryPolicy, budget: TimeBudget, user_agent: str) -> tweepy.Client:
    """A tweepy Client that talks to `api_base_url` through a session under the retry policy.

    Args:
        api_base_url: where the X API v2 is.
        token: the app's bearer token.
        policy: the one retry policy (`context.client.policy`).
        budget: the source's time budget.
        user_agent: sent with every request.

    Returns:
        A Client returning raw `requests.Response`s (so malformed bodies can be seen), never waiting
        on rate limits itself.
    """
    client = tweepy.Client(bearer_token=_TOKEN_PLACEHOLDER, return_type=requests.Response, wait_on_rate_limit=False)
    client.session.close()
    client.session = policy.session(budget, X_RATE_LIMITS, base=ApiBaseSession(api_base_url))
    client.session.auth = BearerAuth(token)
    client.user_agent = user_agent
    return client


class RecentSearchApi:
    """X's recent search endpoint; every failure comes out as a collector error naming it.

    Args:
        api_base_url: where the X API v2 is.
        token: the app's bearer token.
        connection: the Airflow connection holding it, for the messages.
        policy: the one retry policy.
        budget: the source's time budget (also for waiting until X accepts an `end_time`).
        user_agent: sent with every request.
    """

    def __init__(
        self, api_base_url: str, token: str, connection: str, policy: RetryPolicy, budget: TimeBudget, user_agent: str
    ):
        self.endpoint = api_base_url.rstrip("/") + SEARCH_PATH
        self._connection = connection
        self._budget = budget
        self._client = x_client(api_base_url, token, policy, budget, user_agent)

    def close(self) -> None:
        """Release the connections."""
        self._client.session.close()

    def search(
        self,
        query: str,
        *,
        max_results: int,
        end_time: datetime,
        since_id: str | None = None,
        start_time: datetime | None = None,
        until_id: str | None = None,
        next_token: str | None = None,
    ) -> Any:
        """One page of recent search, newest first, with authors expanded; the decoded JSON body.

        Args:
            query: in X's search syntax.
            max_results: posts on the page, PAGE_MIN to PAGE_MAX.
            end_time: nothing newer is asked for.
            since_id: only posts newer than this id.
            start_time: only posts from then on (when there is no since_id).
            until_id: only posts older than this id.
            next_token: the page after the one that gave this token.

        Raises:
            StaleCursorError: X refused since_id, until_id or start_time as older than 7 days.
            CredentialsRejected: X refused the token (401) or the app's access (403).
            RateLimitedError: the rate limit outlasts the time budget, or did not reset through the retries.
            TransientError: 5xx through the retries, the network, a malformed body.
            TerminalError: any other refusal; the message says what to check.
        """
        end_time_waited = False
        while True:
            try:
                response = self._client.search_recent_tweets(
                    query=query, max_results=max_results, end_time=end_time, since_id=since_id, start_time=start_time,
                    until_id=until_id, next_token=next_token, sort_order="recency", expansions=list(EXPANSIONS),
                    tweet_fields=list(TWEET_FIELDS), user_fields=list(USER_FIELDS),
                )
            except tweepy.Unauthorized:
                raise CredentialsRejected(
                    f"X rejected the bearer token of connection '{self._connection}' (HTTP 401 Unauthorized); "
                    f"{self._credentials_fix()}"
                ) from None
            except tweepy.Forbidden as error:
                raise CredentialsRejected(
                    f"X refused recent search to the app of connection '{self._connection}' "
                    f"(HTTP 403 {_api_reason(error)}); check that the app is attached to a Project whose access level "
                    f"includes recent search, then {self._credentials_fix()}"
                ) from None
            except tweepy.BadRequest as error:
                parameters = _invalid_parameters(error)
                if parameters & {"since_id", "until_id", "start_time"}:
                    raise StaleCursorError() from None
                # A run that starts right at its window's end: wait (once) until X accepts that end_time.
                retry_end_time = "end_time" in parameters and not end_time_waited and "Date" in error.response.headers
                if retry_end_time and self._budget.wait(_end_time_wait(error.response, end_time)):
                    end_time_waited = True
                    continue
                raise TerminalError(
                    f"X API rejected the search at {self.endpoint} (HTTP 400: {_api_reason(error)}); "
                    "check the brand terms and the X source settings"
                ) from None
            except tweepy.TwitterServerError as error:  # a 5xx the retry policy does not retry (501, 505, ...)
                raise TransientError(
                    f"X API answered HTTP {error.response.status_code} at {self.endpoint}; it will be tried again next run"
                ) from None
            except tweepy.HTTPException as error:
                raise TerminalError(
                    f"X API answered HTTP {error.response.status_code} at {self.endpoint} ({_api_reason(error)}); "
                    "check api_base_url in the X source"
                ) from None
            except CollectorError as error:
                raise self._translate(error) from None
            except requests.RequestException as error:
                raise TerminalError(
                    f"X API at {self.endpoint} could not be asked ({type(error).__name__}); check api_base_url"
                ) from None
            try:
                return response.json()
            except ValueError:
                raise TransientError(
                    f"X API at {self.endpoint} answered HTTP {response.status_code} with malformed JSON "
                    f"({len(response.content):,} bytes); it will be tried again next run"
                ) from None

    def _translate(self, error: CollectorError) -> CollectorError:
        """The retry policy's reason for giving up, in X's terms."""
        if isinstance(error, WaitBeyondBudgetError):
            beyond = f"it resets in {error.wait_seconds:.0f}s, beyond this run's time budget of {error.budget_seconds:g}s"
            if error.status is None:
                return RateLimitedError(f"X rate limit spent at {self.endpoint}; {beyond}")
            return RateLimitedError(f"X rate limit reached at {self.endpoint} (HTTP {error.status}); {beyond}")
        if isinstance(error, HttpStatusError) and error.status == 429:
            return RateLimitedError(
                f"X rate limit reached at {self.endpoint} (HTTP 429) and still reached after {error.attempts - 1} "
                "waits for its reset"
            )
        if isinstance(error, HttpStatusError):
            return TransientError(
                f"X API answered HTTP {error.status} at {self.endpoint} after {error.attempts} attempts; "
                "it will be tried again next run"
            )
        if isinstance(error, NetworkError):
            return TransientError(
                f"X API at {self.endpoint} could not be reached after {error.attempts} attempts ({error.reason}); "
                "it will be tried again next run"
            )
        return error

    def _credentials_fix(self) -> str:
        connection = self._connection
        return f"set the {connection} Airflow connection's password to a valid bearer token, or AIRFLOW_CONN_{connection.upper()}"


def _end_time_wait(response: requests.Response, end_time: datetime) -> float:
    """Seconds until X accepts `end_time` (it must be 10 s old), by the response's Date header."""
    return max(0.0, end_time.timestamp() + _END_TIME_MIN_AGE_SECONDS - server_time(response.headers)) + _END_TIME_MARGIN_SECONDS


def _invalid_parameters(error: tweepy.HTTPException) -> set[str]:
    """The request parameters a 400 names, from `errors[].parameters`."""
    names: set[str] = set()
    for api_error in error.api_errors:
        if isinstance(api_error, Mapping) and isinstance(api_error.get("parameters"), Mapping):
            names.update(api_error["parameters"])
    return names


def _api_reason(error: tweepy.HTTPException) -> str:
    """The API's own title, reason and messages for an error response, briefly."""
    try:
        body = error.response.json()
    except ValueError:
        body = None
    body = body if isinstance(body, Mapping) else {}
    title = body.get("title") or error.response.reason or "error"
    head = f"{title} ({body['reason']})" if body.get("reason") else str(title)
    messages = [str(message) for message in error.api_messages if message and message != title]
    return (head + (": " + "; ".join(messages) if messages else ""))[:300]
