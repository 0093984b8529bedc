"""Where Reddit items come from: its API through praw on a session under the one retry policy, or
its public search feeds through the shared HTTP client.

praw (through prawcore's `Requestor(session=...)`) sends on a session from `RetryPolicy.session`
that knows Reddit's rate-limit headers (`x-ratelimit-remaining`, and `x-ratelimit-reset` in seconds):
the policy retries 429 and 5xx, waits through the source's time budget, and removes those headers
once read, so prawcore never sleeps on them itself (it would, with `time.sleep`, outside the
budget); the one answer prawcore still retries itself, a 401 after fetching a new token, it retries
without sleeping (`RetryAtOnce`). What is left here is turning praw's, prawcore's and the policy's
errors into collector errors that name Reddit's endpoint:

- a 403 on one subreddit's listing or on one thread (private, quarantined, banned: Reddit says
  `{"message": "Forbidden", "error": 403}`, often without a `reason`), a 404 or a redirect on a
  subreddit: `ListingUnreadable`, that subreddit or thread is skipped and the rest are read;
- the token endpoint refusing the client id and secret (400, 401, 403, or an OAuth error in a 200),
  or a 401 on a request: `CredentialsRejected`, the only errors that blame the credentials; of the
  token endpoint's answer only its status is told (or the OAuth error code it names), since it may
  echo the request that carried the client id and secret;
- any other error answer: a `TerminalError` or `TransientError` naming the endpoint, its status and
  a short title (`HTTP 400 (Bad request)`), never the body itself (an HTML page, or a request echoed
  back with its credentials).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlencode, urlsplit

import praw
import prawcore
import requests

from collectors.context import CollectionContext
from collectors.reddit.parsing import Page, Thread, parse_listing, parse_search_feed, parse_thread
from config.model import RedditSource
from core.connections import connection_extra
from core.errors import CollectorError, CredentialsRejected, TerminalError, TransientError
from core.time_budget import TimeBudget
from transport.exceptions import HttpStatusError, NetworkError, RateLimitedError, WaitBeyondBudgetError
from transport.http import HttpClient
from transport.platform_apis import REDDIT_RATE_LIMITS, REDDIT_TOKEN_PATH

# Reddit's largest page; its search stops after about 1,000 results whatever the paging.
PAGE_LIMIT = 100
# Comments asked for per thread; the rest sit behind "load more" stubs, which are counted, not expanded.
THREAD_COMMENT_LIMIT = 500
# The statuses with which the token endpoint refuses an app's client id and secret.
_TOKEN_REFUSALS = frozenset({400, 401, 403})
# The longest title of an error answer quoted in a message; a longer one is left out, never cut (a cut
# could keep part of a secret the answer echoed, where no scrubber would recognise it).
_TITLE_CHARS = 80
# The `error=` of a 401's or 403's WWW-Authenticate that prawcore maps to an exception.
_PRAWCORE_CHALLENGES = frozenset({"insufficient_scope", "invalid_token"})
_OAUTH_ERROR_CODE = re.compile(r"[a-z][a-z_]{0,39}")
_HTML_TITLE = re.compile(r"<(title|h1)\b[^>]*>(.*?)</\1\s*>", re.IGNORECASE | re.DOTALL)


class ListingUnreadable(CollectorError):
    """One subreddit or one thread Reddit will not show (private, quarantined, banned, missing): it is
    skipped with a warning, and the other subreddits and threads are still read.

    Attributes:
        where: what cannot be read: `r/<name>`, or `the thread t3_<id>`.
    """

    def __init__(self, where: str, why: str):
        self.where = where
        super().__init__(f"{where} cannot be read: {why}; it was skipped")


def credentials_help(connection: str) -> str:
    """How to give a Reddit connection its credentials (never showing them)."""
    return (
        f"set the {connection} Airflow connection: login = client id, password = secret, "
        f'extra {{"user_agent": "<platform>:<app name>:<version> (by u/<your Reddit username>)"}}, '
        f"or AIRFLOW_CONN_{connection.upper()}"
    )


@dataclass(frozen=True)
class RetryAtOnce(prawcore.sessions.FiniteRetryStrategy):
    """prawcore's own retries, without its sleeps: what it retries itself (a 401, after fetching a new
    token) is retried at once, and every wait is the retry policy's, taken from the source's budget."""

    def _sleep_seconds(self) -> float | None:
        return None


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
        session.hooks["response"].append(_challenge_prawcore_knows)
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
        core = reddit._read_only_core  # the prawcore session praw sends read-only requests through
        if core is not None:
            core._retry_strategy_class = RetryAtOnce
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
        except prawcore.exceptions.NotFound as error:
            if path.startswith("/comments/"):
                raise
            raise self._translate(error.response, path) from None
        except prawcore.exceptions.Redirect:
            where = _listing_of(path)
            if where is None:
                raise TerminalError(f"Reddit redirected {path}; check oauth_url in the source") from None
            raise ListingUnreadable(where, "Reddit redirected it, no such subreddit; check source.subreddits") from None
        except prawcore.exceptions.BadJSON as error:
            raise TransientError(f"Reddit answered {path} with malformed JSON ({_body_size(error.response)}); "
                                 "it will be tried again next run") from None
        except prawcore.exceptions.OAuthException as error:
            raise CredentialsRejected(
                f"Reddit refused a token for the {self._connection} connection ({_oauth_error(error.error)}); "
                f"{credentials_help(self._connection)}"
            ) from None
        except prawcore.exceptions.ResponseException as error:
            raise self._translate(error.response, path) from None
        except prawcore.exceptions.RequestException as error:
            # prawcore wraps whatever sending raised; what is not a request that could not be sent is a bug
            # below us, for `collect_isolated` to name as one, not a URL to check.
            if not isinstance(error.original_exception, (CollectorError, requests.RequestException)):
                raise error.original_exception from None
            raise _gave_up(error.original_exception, path) from None
        except praw.exceptions.RedditAPIException as error:
            # praw turns a 400 into this, with a body that is not JSON as the "reason" (an HTML page).
            if isinstance(error.__cause__, prawcore.exceptions.ResponseException):
                raise self._translate(error.__cause__.response, path) from None
            codes = ", ".join(sorted({item.error_type for item in error.items})) or "an error"
            raise TerminalError(f"Reddit refused {path} ({codes}); check the source's settings") from None

    def _translate(self, response: requests.Response, path: str) -> CollectorError:
        status = response.status_code
        endpoint = urlsplit(response.url or "").path or path
        answer = answer_summary(response)
        if endpoint.rstrip("/") == REDDIT_TOKEN_PATH and status in _TOKEN_REFUSALS:
            # Its status alone: nothing of an answer to the request that carried the client id and secret.
            answer = f"HTTP {status} ({response.reason})" if response.reason else f"HTTP {status}"
            return CredentialsRejected(
                f"Reddit rejected the {self._connection} credentials ({answer} from {endpoint}); "
                f"{credentials_help(self._connection)}"
            )
        if status == 401:
            return CredentialsRejected(
                f"Reddit rejected the token of the {self._connection} connection ({answer} from {endpoint}); "
                f"{credentials_help(self._connection)}"
            )
        where = _listing_of(path)
        if where is not None and status == 403:
            reason = _json_field(response, "reason")
            within = "in " if where.startswith("the thread") else ""
            community = f"{within}a private, quarantined or banned community"
            return ListingUnreadable(where, answer if reason else f"{answer}, {community}")
        if where is not None and status == 404:
            return ListingUnreadable(where, f"{answer}, a banned or missing subreddit; check source.subreddits")
        if status == 429 or status >= 500:
            return TransientError(f"Reddit answered {endpoint} with {answer}; it will be tried again next run")
        if status == 403:
            return TerminalError(
                f"Reddit refused {endpoint} ({answer}); check that the user_agent in the extra of the "
                f"{self._connection} connection names your app and Reddit username (Reddit refuses generic ones)"
            )
        return TerminalError(f"Reddit answered {endpoint} with {answer}; check the source's settings")


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
                raise ListingUnreadable(f"r/{subreddit}", f"HTTP {error.status} from {path}") from None
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
    extra = connection_extra(credentials)
    if extra is None:
        raise CredentialsRejected(f"the extra of the {connection} connection is not a JSON object; {credentials_help(connection)}")
    return extra


def _challenge_prawcore_knows(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
    """Keep a 401's or 403's `WWW-Authenticate` to what prawcore can read (a requests response hook).

    prawcore picks its exception for a 401 or 403 by the `error=` that header names and fails with a
    KeyError or IndexError on anything else (a 401 without it, a gateway's `Basic realm=...`, a header
    echoing the request): such a 401 is named `invalid_token` (the token was refused) and such a 403
    loses the header (forbidden), so both reach `ApiReader._translate`.
    """
    if response.status_code in (401, 403):
        challenge = response.headers.get("www-authenticate", "")
        error = challenge.replace('"', "").rsplit("=", 1)[1] if "=" in challenge else ""
        if error not in _PRAWCORE_CHALLENGES:
            response.headers.pop("www-authenticate", None)
            if response.status_code == 401:
                response.headers["www-authenticate"] = 'Bearer realm="reddit", error="invalid_token"'
    return response


def answer_summary(response: requests.Response) -> str:
    """An error answer in a few words, for a message: its status and a short title, never its body.

    The title is the JSON `message` (with its `reason`), an HTML page's `<title>` or first `<h1>`, or
    a text body's first line; one longer than a short title is replaced by the status's reason phrase.

    Returns:
        For example `HTTP 400 (Bad request)` or `HTTP 403 (Forbidden: quarantined)`.
    """
    title = _title(response)
    if not title or len(title) > _TITLE_CHARS:
        title = response.reason or ""
    return f"HTTP {response.status_code} ({title})" if title else f"HTTP {response.status_code}"


def _title(response: requests.Response) -> str:
    text = response.content.decode(response.encoding or "utf-8", errors="replace").strip()
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if isinstance(document, Mapping):
        parts = [str(document[name]) for name in ("message", "reason") if isinstance(document.get(name), str | int)]
        return ": ".join(dict.fromkeys(" ".join(part.split()) for part in parts if part.strip()))
    if match := _HTML_TITLE.search(text):
        heading = html.unescape(re.sub(r"<[^>]*>", " ", match[2]))
        return " ".join(heading.split()).removeprefix(str(response.status_code)).strip(" -:")
    if text.startswith("<"):
        return ""
    return " ".join(text.splitlines()[0].split()) if text else ""


def _oauth_error(error: str) -> str:
    """The OAuth error code Reddit's token endpoint named, or a note that it named none (an echo, say)."""
    return error if _OAUTH_ERROR_CODE.fullmatch(error) else "its answer named no OAuth error code"


def _body_size(response: requests.Response) -> str:
    size = len(response.content)
    return f"{size:,} bytes of {response.headers.get('Content-Type') or 'no content type'}" if size else "empty body"


def _json_field(response: requests.Response, name: str) -> Any:
    try:
        document = response.json()
    except ValueError:
        return None
    return document.get(name) if isinstance(document, Mapping) else None


def _listing_of(path: str) -> str | None:
    """What a path reads when it is one community's or one thread's: `r/<name>`, `the thread t3_<id>`; else None."""
    parts = path.strip("/").split("/")
    if len(parts) >= 2 and parts[0] == "r":
        return f"r/{parts[1]}"
    if len(parts) >= 2 and parts[0] == "comments":
        return f"the thread t3_{parts[1]}"
    return None
