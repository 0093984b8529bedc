"""Replies on X: `POST /2/tweets` with `reply.in_reply_to_tweet_id`, through tweepy's `Client.create_tweet`.

The write connection (default `x_reply`) acts as the brand's account, in user context (X refuses
app-only bearer tokens here):

- OAuth 1.0a: login = API key, password = API key secret, extra `access_token` and
  `access_token_secret` (the account's, with Read and Write permission);
- OAuth 2.0: no login, password = a user access token with `tweet.write` (X's access tokens last
  two hours unless refreshed: OAuth 1.0a suits a desk that runs all day).

extra `username` (the account's handle) makes the answer's URL `https://x.com/<username>/status/<id>`
instead of `https://x.com/i/web/status/<id>`. The connection's host, when set, replaces
`https://api.x.com` (a proxy; the tests' fake server). tweepy sends through `send_once_session`,
rebased onto that host; an OAuth 2.0 token is added by the session, after tweepy has logged its headers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests
import tweepy

from care.replies.exceptions import (
    ReplyCredentialsRejected,
    ReplyError,
    ReplyNotSent,
    ReplyOutcomeUnknown,
    ReplyRefused,
)
from care.replies.reply import Reply, SentReply
from care.replies.transport import WriteConnection, json_answer, scrubbed_errors, short_reason, write_failure
from core.errors import CollectorError
from transport.http import BearerAuth
from transport.platform_apis import X_RATE_LIMITS, ApiBaseSession

X_API = "https://api.x.com"
# The problem types of a 403 that is about the credentials, not the reply.
_CREDENTIAL_PROBLEMS = ("unsupported-authentication", "oauth1-permissions", "client-forbidden")
_TOKEN_PLACEHOLDER = "(added by the session)"


class XReplySender:
    """Posts replies on X as the write connection's account.

    Args:
        connection: the write connection (`login`, `password`, `host`, `extra`; see the module docstring).

    Raises:
        ReplyCredentialsRejected: the connection holds neither OAuth 1.0a keys and tokens nor a user token.
    """

    platform = "x"

    def __init__(self, connection: WriteConnection):
        self._connection = connection
        credentials = connection.credentials
        extra = connection.extra(self._fix())
        self._api = connection.base_url(X_API)
        self._username = str(extra.get("username") or "").strip().lstrip("@") or None
        login, password = str(credentials.get("login") or ""), str(credentials.get("password") or "")
        self._oauth1 = bool(login)
        self._keys = {
            "consumer_key": login, "consumer_secret": password,
            "access_token": str(extra.get("access_token") or ""),
            "access_token_secret": str(extra.get("access_token_secret") or ""),
        }
        missing = [name for name, value in self._keys.items() if not value] if self._oauth1 else (
            [] if password else ["password (a user access token)"])
        if missing:
            raise ReplyCredentialsRejected(f"the {connection.id} connection has no {', '.join(missing)}; {self._fix()}")
        self._user_token = None if self._oauth1 else password

    def send(self, reply: Reply) -> SentReply:
        """Post the reply (see `ReplySender.send`)."""
        with scrubbed_errors("X", self._connection.secrets):
            session = self._connection.session(X_RATE_LIMITS, base=ApiBaseSession(self._api))
            client = tweepy.Client(
                bearer_token=_TOKEN_PLACEHOLDER, return_type=requests.Response, wait_on_rate_limit=False,
                **(self._keys if self._oauth1 else {}),
            )
            client.session.close()
            client.session = session
            client.user_agent = self._connection.user_agent
            if self._user_token:
                session.auth = BearerAuth(self._user_token)
            try:
                response = client.create_tweet(
                    text=reply.text, in_reply_to_tweet_id=reply.in_reply_to, user_auth=self._oauth1
                )
            except tweepy.HTTPException as error:
                raise self._refusal(error, reply) from None
            except CollectorError as error:
                raise write_failure("X", error, reply.in_reply_to_url) from None
            except requests.RequestException as error:
                raise ReplyNotSent(f"X API at {self._api} could not be asked ({type(error).__name__}); nothing was "
                                   f"posted: check the host of the {self._connection.id} connection") from None
            finally:
                session.close()
            body = json_answer(response)
            data = body.get("data") if isinstance(body, Mapping) else None
            post_id = data.get("id") if isinstance(data, Mapping) else None
            if not post_id:
                raise ReplyOutcomeUnknown(
                    f"X answered HTTP {response.status_code} without the new post's id; the reply was probably posted: "
                    f"look at {reply.in_reply_to_url or 'the post'} before sending again"
                )
            profile = self._username or "i/web"
            return SentReply("x", f"https://x.com/{profile}/status/{post_id}", str(post_id))

    def _refusal(self, error: tweepy.HTTPException, reply: Reply) -> ReplyError:
        status = error.response.status_code
        body = json_answer(error.response)
        body = body if isinstance(body, Mapping) else {}
        reason = _reason(error, body)
        if status == 401:
            return ReplyCredentialsRejected(
                f"X refused the {self._connection.id} credentials (HTTP 401: {reason}); {self._fix()}", reason
            )
        if status == 403 and str(body.get("type") or "").rsplit("/", 1)[-1] in _CREDENTIAL_PROBLEMS:
            return ReplyCredentialsRejected(
                f"X refused posting with the {self._connection.id} connection (HTTP 403: {reason}); {self._fix()}", reason
            )
        if status >= 500:  # one the session does not raise itself (501, 505, ...)
            return ReplyOutcomeUnknown(
                f"X answered the reply with HTTP {status} ({reason}); it may have been posted: "
                f"look at {reply.in_reply_to_url or 'the post'} before sending again", reason
            )
        return ReplyRefused(f"X refused the reply (HTTP {status}): {reason}", reason)

    def _fix(self) -> str:
        connection = self._connection
        return (f"set the {connection.id} Airflow connection to the brand account's OAuth 1.0a keys (login = API key, "
                "password = API key secret, extra access_token and access_token_secret, with Read and Write "
                f"permission) or an OAuth 2.0 user token with tweet.write as password; or {connection.environment_variable}")


def _reason(error: tweepy.HTTPException, body: Mapping[str, Any]) -> str:
    """X's own words for a refusal: its `detail` (else `title`), and each error's message."""
    head = str(body.get("detail") or body.get("title") or error.response.reason or "no reason given")
    messages = [str(message) for message in error.api_messages if message and str(message) != head]
    return short_reason("; ".join([head, *messages]))
