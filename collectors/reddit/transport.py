"""Where Reddit items come from: its API through praw on a session under the one retry policy, or
its public search feeds through the shared HTTP client.

praw (through prawcore's `Requestor(session=...)`) sends on a session from `RetryPolicy.session`
that knows Reddit's rate-limit headers (`x-ratelimit-remaining`, and `x-ratelimit-reset` in seconds):
the policy retries 429 and 5xx, waits through the source's time budget, and removes those headers
once read, so prawcore never sleeps on them itself (it would, with `time.sleep`, outside the
budget). What is left here is turning praw's, prawcore's and the policy's errors into collector
errors that name Reddit's endpoint.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import quote, urlencode, urlsplit

import praw
import prawcore
import requests

from collectors.context import CollectionContext
from collectors.exceptions import HttpStatusError, NetworkError, RateLimitedError, WaitBeyondBudgetError
from collectors.http import HttpClient, RateLimitHeaders
from collectors.reddit.parsing import Page, Thread, parse_listing, parse_search_feed, parse_thread
from config.model import RedditSource
from core.errors import CollectorError, CredentialsRejected, TerminalError, TransientError
from core.time_budget import TimeBudget

# Reddit's largest page; its search stops after about 1,000 results whatever the paging.
PAGE_LIMIT = 100
# Comments asked for per thread; the rest sit behind "load more" stubs, which are counted, not expanded.
THREAD_COMMENT_LIMIT = 500
REDDIT_RATE_LIMITS = RateLimitHeaders(prefix="x-ratelimit-", reset_is_epoch=False)
# A subreddit that cannot be read (403 with one of these reasons) is skipped with a warning; any other
# 401/403 means the credentials.
_UNREADABLE_SUBREDDIT_REASONS = frozenset({"private", "quarantined", "gold_only", "banned"})


class SubredditUnreadable(CollectorError):
    """One watched subreddit cannot be read (private, banned, missing); the others still are."""


def credentials_help(connection: str) -> str:
    """How to give a Reddit connection its credentials (never showing them)."""
    return (
        f"set the {connection} Airflow connection: login = client id, password = secret, "
        f'extra {{"user_agent": "<platform>:<app name>:<version> (by u/<your Reddit username>)"}}, '
        f"or AIRFLOW_CONN_{connection.upper()}"
    )


class RedditReader(Protocol):
    """Where Reddit items come from: the API, or the public feeds."""

    reads_comments: bool

    def search(self, query: str, subreddit: str | None, after: str | None) -> Page:
        """One page of posts matching `query`, newest first, sitewide or in one subreddit."""
        ...

    def comment_stream(self, subreddit: str, after: str | None) -> Page:
        """One page of a subreddit's newest comments."""
        ...

    def thread(self, post_fullname: str) -> Thread | None:
        """A post with its comments; None when the post is gone (404)."""
        ...




class ApiReader:
    """Reddit's API through praw, read-only (app-only OAuth), under the one retry policy.

    Args:
        reddit: a praw client for an app-only (read-only) OAuth session.
        connection: the connection id, for error messages.
        session: the session praw sends through (closed by `close`).
    """

    reads_comments = True

    def __init__(self, reddit: praw.Reddit, connection: str, session: requests.Session):
        self._reddit = reddit
        self._connection = connection
        self._session = session

    @classmethod
    def connect(
        cls, source: RedditSource, credentials: Mapping[str, Any], context: CollectionContext, budget: TimeBudget
    ) -> ApiReader:
        """A reader for the source's connection, sending through `context.client.policy` within `budget`.

        Raises:
            CredentialsRejected: the connection lacks its client id or secret, or they cannot be used.
        """
        client_id = credentials.get("login")
        client_secret = credentials.get("password")
        missing = [part for part, value in (("login (client id)", client_id), ("password (secret)", client_secret)) if not value]
        if missing:
            raise CredentialsRejected(
                f"the {source.connection} connection has no {' and no '.join(missing)}; {credentials_help(source.connection)}"
            )
        user_agent = _extra(credentials, source.connection).get("user_agent") or context.client.settings.user_agent
        policy = context.client.policy
        session = policy.session(budget, REDDIT_RATE_LIMITS)
        try:
            reddit = praw.Reddit(
                client_id=client_id,
                client_secret=client_secret,
                user_agent=user_agent,
                username=None,
                password=None,
                oauth_url=source.oauth_url.rstrip("/"),
                reddit_url=source.reddit_url.rstrip("/"),
                check_for_updates=False,
                check_for_async=False,
                requestor_kwargs={"session": session, "timeout": policy.timeout_seconds},
            )
        except (prawcore.exceptions.InvalidInvocation, praw.exceptions.ClientException) as error:
            session.close()
            raise CredentialsRejected(
                f"the {source.connection} connection cannot be used ({error}); {credentials_help(source.connection)}"
            ) from None
        reddit.read_only = True
        return cls(reddit, source.connection, session)

    def close(self) -> None:
        """Release the connections."""
        self._session.close()

    def search(self, query: str, subreddit: str | None, after: str | None) -> Page:
        path = f"/r/{subreddit}/search" if subreddit else "/search"
        params: dict[str, str | int] = {"q": query, "sort": "new", "t": "all", "limit": PAGE_LIMIT, "type": "link",
                                        "include_over_18": "on"}
        if subreddit:
            params["restrict_sr"] = "on"
        if after:
            params["after"] = after
        return parse_listing(self._get(path, params), path)

    def comment_stream(self, subreddit: str, after: str | None) -> Page:
        path = f"/r/{subreddit}/comments"
        params: dict[str, str | int] = {"limit": PAGE_LIMIT}
        if after:
            params["after"] = after
        return parse_listing(self._get(path, params), path)

    def thread(self, post_fullname: str) -> Thread | None:
        path = f"/comments/{post_fullname.removeprefix('t3_')}"
        try:
            payload = self._get(path, {"sort": "new", "limit": THREAD_COMMENT_LIMIT})
        except prawcore.exceptions.NotFound:
            return None
        return parse_thread(payload, path)

    def _get(self, path: str, params: dict[str, str | int]) -> Any:
        try:
            return self._reddit.request(method="GET", path=path, params=params)
        except prawcore.exceptions.NotFound:
            if path.startswith("/comments/"):
                raise
            raise SubredditUnreadable(f"{_subreddit_of(path)} was not found (HTTP 404 from {path}); check source.subreddits") from None
        except prawcore.exceptions.Redirect:
            raise SubredditUnreadable(f"{_subreddit_of(path)} does not exist (Reddit redirected {path}); check source.subreddits") from None
        except prawcore.exceptions.BadJSON as error:
            raise TransientError(f"Reddit answered {path} with malformed JSON ({_brief_body(error.response)}); "
                                 "it will be tried again next run") from None
        except prawcore.exceptions.OAuthException as error:
            raise CredentialsRejected(
                f"Reddit refused a token for the {self._connection} connection ({error.error}); {credentials_help(self._connection)}"
            ) from None
        except prawcore.exceptions.ResponseException as error:
            raise self._translate(error.response, path) from None
        except prawcore.exceptions.RequestException as error:
            raise _gave_up(error.original_exception, path) from None
        except praw.exceptions.RedditAPIException as error:
            raise TerminalError(f"Reddit refused {path} ({error}); check the source's settings") from None

    def _translate(self, response: requests.Response, path: str) -> CollectorError:
        status = response.status_code
        endpoint = urlsplit(response.url or "").path or path
        if status in (401, 403):
            reason = _json_field(response, "reason")
            if status == 403 and reason in _UNREADABLE_SUBREDDIT_REASONS:
                return SubredditUnreadable(f"{_subreddit_of(path)} cannot be read ({reason}); it was skipped")
            return CredentialsRejected(
                f"Reddit rejected the {self._connection} credentials (HTTP {status} from {endpoint}); "
                f"{credentials_help(self._connection)}"
            )
        if status == 429 or status >= 500:
            return TransientError(f"Reddit answered {endpoint} with HTTP {status}; it will be tried again next run")
        return TerminalError(f"Reddit answered {endpoint} with HTTP {status}; check the source's settings")



class FeedReader:
    """Reddit's public search feeds (`search.rss`) through the shared HTTP client: posts, no comments.

    Args:
        source: the source (its reddit_url).
        client: the shared HTTP client.
    """

    reads_comments = False

    def __init__(self, source: RedditSource, client: HttpClient):
        self._base = source.reddit_url.rstrip("/")
        self._client = client

    def search(self, query: str, subreddit: str | None, after: str | None) -> Page:
        path = f"/r/{quote(subreddit)}/search.rss" if subreddit else "/search.rss"
        params = {"q": query, "sort": "new", "t": "all", "limit": PAGE_LIMIT}
        if subreddit:
            params["restrict_sr"] = "on"
        if after:
            params["after"] = after
        url = f"{self._base}{path}?{urlencode(params)}"
        try:
            response = self._client.get(url)
        except HttpStatusError as error:
            if error.status == 429:
                raise RateLimitedError(f"Reddit kept answering {path} with 429 Too Many Requests; "
                                    "the next run resumes from the same cursor") from None
            if subreddit and error.status in (403, 404):
                raise SubredditUnreadable(f"r/{subreddit} cannot be read (HTTP {error.status} from {path}); it was skipped") from None
            raise
        return parse_search_feed(response.body, response.final_url, response.headers)

    def comment_stream(self, subreddit: str, after: str | None) -> Page:
        return Page([], None)

    def thread(self, post_fullname: str) -> Thread | None:
        raise NotImplementedError("the search feeds carry no comments")


def _gave_up(error: Exception, path: str) -> CollectorError:
    """Why a request to Reddit could not be sent (mostly: the retry policy gave up), in Reddit's terms."""
    if isinstance(error, WaitBeyondBudgetError):
        if error.status is None:
            why = "no requests left in Reddit's rate-limit window"
        else:
            why = "Reddit answered 429 Too Many Requests" if error.status == 429 else f"Reddit answered HTTP {error.status}"
        return RateLimitedError(
            f"{why} on {_path_of(error.url, path)} and asked to wait {error.wait_seconds:.0f} s, more than the "
            f"{error.budget_left:.0f} s left of the source's {error.budget_seconds:.0f} s time budget; stopped, and the "
            "next run resumes from the same cursor"
        )
    if isinstance(error, HttpStatusError) and error.status == 429:
        return RateLimitedError(f"Reddit kept answering {_path_of(error.url, path)} with 429 Too Many Requests after "
                                f"{error.attempts} attempts; the next run resumes from the same cursor")
    if isinstance(error, HttpStatusError):
        return TransientError(f"Reddit answered {_path_of(error.url, path)} with HTTP {error.status} after {error.attempts} "
                              "attempts; it will be tried again next run")
    if isinstance(error, NetworkError):
        return TransientError(f"Reddit could not be reached at {_path_of(error.url, path)} after {error.attempts} attempts "
                              f"({error.reason}); it will be tried again next run")
    if isinstance(error, CollectorError):
        return error
    return TerminalError(f"Reddit could not be asked for {path} ({type(error).__name__}); check oauth_url and reddit_url "
                         "in the source")


def _path_of(url: str, path: str) -> str:
    """The path of the URL the policy gave up on (the token endpoint, say), else the path asked for."""
    return urlsplit(url).path or path


def _extra(credentials: Mapping[str, Any], connection: str) -> Mapping[str, Any]:
    extra = credentials.get("extra") or {}
    if isinstance(extra, str):
        try:
            extra = json.loads(extra)
        except ValueError:
            raise CredentialsRejected(f"the extra of the {connection} connection is not JSON; {credentials_help(connection)}") from None
    if not isinstance(extra, Mapping):
        raise CredentialsRejected(f"the extra of the {connection} connection is not a JSON object; {credentials_help(connection)}")
    return extra


def _json_field(response: requests.Response, name: str) -> Any:
    try:
        document = response.json()
    except ValueError:
        return None
    return document.get(name) if isinstance(document, Mapping) else None


def _subreddit_of(path: str) -> str:
    parts = path.split("/")
    return f"r/{parts[2]}" if len(parts) > 2 and parts[1] == "r" else path


def _brief_body(response: requests.Response) -> str:
    text = response.text.strip()
    return f"starts {text[:60]!r}" if text else "empty body"

