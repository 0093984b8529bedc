"""Replies on Reddit: `POST /api/comment` (`thing_id`, `text`) through praw's `Comment.reply` / `Submission.reply`.

The write connection (default `reddit_reply`) is a Reddit app acting as the brand's account: login =
client id, password = client secret, and in extra either `username` and `password` (a "script"
app) or `refresh_token` (a "web" app the account authorised with the `submit` scope), plus a
`user_agent` naming the app and its Reddit username, as Reddit asks. The connection's host, when
set, replaces `https://oauth.reddit.com`, and extra `reddit_url` replaces `https://www.reddit.com`
(where the token is asked for).

praw sends through `send_once_session`: the token request and the comment are sent once each, so
prawcore, which retries 5xx answers and connection errors of any request itself, never sees one. A
RATELIMIT answer is not waited out (`ratelimit_seconds=0`): the agent is told when to send again.
"""

from __future__ import annotations

from collections.abc import Mapping

import praw
import praw.exceptions
import prawcore
import requests

from care.replies.exceptions import (
    ReplyCredentialsRejected,
    ReplyError,
    ReplyNotSent,
    ReplyOutcomeUnknown,
    ReplyRefused,
)
from care.replies.reply import Reply, SentReply
from care.replies.transport import (
    WriteConnection,
    json_answer,
    read_failure,
    scrubbed_errors,
    short_reason,
    write_failure,
)
from core.errors import CollectorError
from transport.platform_apis import REDDIT_RATE_LIMITS, REDDIT_TOKEN_PATH

OAUTH_URL = "https://oauth.reddit.com"
REDDIT_URL = "https://www.reddit.com"
PUBLIC_URL = "https://www.reddit.com"
_KINDS = {"t1_": "comment", "t3_": "submission"}


class RedditReplySender:
    """Posts replies on Reddit as the write connection's account.

    Args:
        connection: the write connection (`login`, `password`, `host`, `extra`; see the module docstring); its
            user agent is sent when the connection's extra names none.

    Raises:
        ReplyCredentialsRejected: the connection lacks the app's id or secret, or the account's login.
    """

    platform = "reddit"

    def __init__(self, connection: WriteConnection):
        self._connection = connection
        credentials = connection.credentials
        extra = connection.extra(self._fix())
        self._user_agent = str(extra.get("user_agent") or connection.user_agent)
        self._oauth_url = connection.base_url(OAUTH_URL)
        self._reddit_url = str(extra.get("reddit_url") or REDDIT_URL).rstrip("/")
        self._login: dict[str, str] = {"client_id": str(credentials.get("login") or ""),
                                       "client_secret": str(credentials.get("password") or "")}
        if extra.get("refresh_token"):
            self._login["refresh_token"] = str(extra["refresh_token"])
        else:
            self._login |= {"username": str(extra.get("username") or ""), "password": str(extra.get("password") or "")}
        missing = [name for name, value in self._login.items() if not value]
        if missing:
            raise ReplyCredentialsRejected(f"the {connection.id} connection has no {', '.join(missing)}; {self._fix()}")

    def send(self, reply: Reply) -> SentReply:
        """Post the reply (see `ReplySender.send`)."""
        kind = _KINDS.get(reply.in_reply_to[:3])
        if kind is None:
            raise ReplyRefused(f"{reply.in_reply_to!r} is not a Reddit post (t3_) or comment (t1_) id; nothing was posted")
        with scrubbed_errors("Reddit", self._connection.secrets):
            session = self._connection.session(REDDIT_RATE_LIMITS, user_agent=self._user_agent)
            try:
                reddit = praw.Reddit(
                    client_id=self._login["client_id"], client_secret=self._login["client_secret"],
                    username=self._login.get("username"), password=self._login.get("password"),
                    refresh_token=self._login.get("refresh_token"), user_agent=self._user_agent, oauth_url=self._oauth_url, reddit_url=self._reddit_url,
                    check_for_updates=False, check_for_async=False, ratelimit_seconds=0,
                    requestor_kwargs={"session": session},
                )
                target = reddit.comment(reply.in_reply_to[3:]) if kind == "comment" else reddit.submission(reply.in_reply_to[3:])
                posted = target.reply(reply.text)
            except (prawcore.exceptions.InvalidInvocation, praw.exceptions.ClientException) as error:
                raise ReplyCredentialsRejected(f"the {self._connection.id} connection cannot be used ({error}); {self._fix()}") from None
            except prawcore.exceptions.OAuthException as error:
                raise ReplyCredentialsRejected(
                    f"Reddit refused to log in the {self._connection.id} account ({error.error}); nothing was posted: {self._fix()}",
                    error.error,
                ) from None
            except praw.exceptions.RedditAPIException as error:
                raise _api_refusal(error) from None
            except prawcore.exceptions.ResponseException as error:
                raise self._refusal(error.response, reply) from None
            except prawcore.exceptions.RequestException as error:
                raise self._failure(error.original_exception, reply) from None
            finally:
                session.close()
            if posted is None:  # Reddit posts it but shows nothing back in a community the account has not opted into
                return SentReply("reddit", reply.in_reply_to_url or f"{PUBLIC_URL}/{reply.in_reply_to}", None)
            permalink = vars(posted).get("permalink")  # vars: a missing attribute would make praw fetch the comment
            if not permalink:
                raise ReplyOutcomeUnknown(
                    "Reddit posted the reply but its answer had no permalink; look at "
                    f"{reply.in_reply_to_url or 'the thread'} for it before sending again"
                )
            return SentReply("reddit", PUBLIC_URL + str(permalink), str(vars(posted).get("name") or f"t1_{posted.id}"))

    def _refusal(self, response: requests.Response, reply: Reply) -> ReplyError:
        status = response.status_code
        body = json_answer(response)
        said = body.get("message") or body.get("reason") if isinstance(body, Mapping) else None
        reason = short_reason(f"HTTP {status} {said or response.reason or ''}".strip())
        if response.url and REDDIT_TOKEN_PATH in response.url:
            return ReplyCredentialsRejected(
                f"Reddit refused the {self._connection.id} app's id or secret ({reason}); nothing was posted: {self._fix()}",
                reason,
            )
        if status == 401:
            return ReplyCredentialsRejected(f"Reddit refused the {self._connection.id} account's token ({reason}); {self._fix()}", reason)
        if status == 403:
            return ReplyRefused(
                f"Reddit refused the reply ({reason}): the account may be banned from the community, or the thread is "
                "locked or archived", reason,
            )
        if status == 404:
            return ReplyRefused(f"Reddit refused the reply ({reason}): the post or comment is gone", reason)
        if status >= 500:
            return ReplyOutcomeUnknown(
                f"Reddit answered the reply with {reason}; it may have been posted: look at "
                f"{reply.in_reply_to_url or 'the thread'} before sending again", reason,
            )
        return ReplyRefused(f"Reddit refused the reply ({reason})", reason)

    def _failure(self, error: Exception, reply: Reply) -> ReplyError:
        if not isinstance(error, CollectorError):
            return ReplyNotSent(f"Reddit could not be asked ({type(error).__name__}); nothing was posted: check the "
                                f"{self._connection.id} connection's host and extra reddit_url")
        if REDDIT_TOKEN_PATH in str(getattr(error, "url", "")):
            return read_failure("Reddit", error)
        return write_failure("Reddit", error, reply.in_reply_to_url)

    def _fix(self) -> str:
        connection = self._connection
        return (f"set the {connection.id} Airflow connection: login = client id, password = secret, extra "
                '{"username": ..., "password": ...} (a script app) or {"refresh_token": ...} (with the submit scope), '
                f'and "user_agent"; or {connection.environment_variable}')


def _api_refusal(error: praw.exceptions.RedditAPIException) -> ReplyError:
    """Reddit's `json.errors` (HTTP 200): RATELIMIT means send later; anything else refuses this reply."""
    reason = short_reason("; ".join(
        f"{item.error_type}: {item.message}" if item.message else item.error_type for item in error.items
    ))
    if any(item.error_type == "RATELIMIT" for item in error.items):
        return ReplyNotSent(f"Reddit asks the account to wait before commenting again ({reason}); nothing was posted", reason)
    return ReplyRefused(f"Reddit refused the reply: {reason}", reason)
