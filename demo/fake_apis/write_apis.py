"""Fake write APIs of X, Reddit, Bluesky and Mastodon on loopback, for the tests and the demo. Standard library only.

Each fake answers the requests a reply sends in the platform's own wire format, checks the
credentials the way the platform does, and records what it received (`received`) and what it
posted, so a test can assert "the fake X server received exactly that reply in its in_reply_to field":

- `FakeXWrites`: `POST /2/tweets` (`{"text", "reply": {"in_reply_to_tweet_id"}}`) in user context:
  OAuth 1.0a (the HMAC-SHA1 signature is verified, RFC 5849) or an OAuth 2.0 user token; an
  app-only bearer token gets X's 403 "Unsupported Authentication". 201 `{"data": {"id", "text",
  "edit_history_tweet_ids"}}`; X's 403s for duplicate content and for a deleted post answered.
- `FakeRedditWrites`: `POST /api/v1/access_token` (password or refresh-token grant, HTTP Basic app
  credentials) and `POST /api/comment` (`thing_id`, `text`, `api_type=json`), answering
  `{"json": {"errors": [], "data": {"things": [{"kind": "t1", ...}]}}}` or Reddit's
  `json.errors` (THREAD_LOCKED, RATELIMIT) with HTTP 200, as Reddit does.
- `FakeBlueskyWrites`: `com.atproto.server.createSession`, `app.bsky.feed.getPosts` and
  `com.atproto.repo.createRecord` (an `app.bsky.feed.post` with `reply: {root, parent}` strong
  refs); XRPC errors `{"error", "message"}` (AuthenticationRequired, ExpiredToken, InvalidRequest).
- `FakeMastodonWrites`: `POST /api/v1/statuses` (form or JSON; `Idempotency-Key` honoured) and
  `GET /api/v2/search?resolve=true`; errors `{"error": ...}` (401, 404, 422).

Tests script the next answers of `"METHOD /path"` with `script(...)`: an `Answer`, or `hang(seconds)`
(the request is read and recorded, then no answer comes in time: the client times out after sending).

Run `python -m demo.fake_apis.write_apis` to serve all four with the demo credentials by hand.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from demo.fake_apis.loopback import LoopbackServer, QuietRequestHandler, wait_until_interrupted

DEMO_X_KEYS = {"consumer_key": "demo-x-api-key", "consumer_secret": "demo-x-api-secret",
               "access_token": "1-demo-x-access-token", "access_token_secret": "demo-x-access-secret"}
DEMO_X_USER_TOKEN = "demo-x-oauth2-user-token"
DEMO_REDDIT = {"client_id": "demo-reddit-writer", "client_secret": "demo-reddit-writer-secret",
               "username": "BrightwaveHelp", "password": "demo-reddit-password"}
DEMO_BLUESKY = {"handle": "brightwave-help.bsky.social", "app_password": "demo-abcd-efgh-ijkl"}
DEMO_MASTODON_TOKEN = "demo-mastodon-write-token"


@dataclass
class Answer:
    """One answer.

    Attributes:
        status: the HTTP status.
        body: the body: bytes as they are, anything else as JSON.
        headers: extra response headers.
        delay: seconds to wait, after reading the request, before answering.
    """

    status: int
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def encoded(self) -> bytes:
        """The body as bytes."""
        return self.body if isinstance(self.body, bytes) else json.dumps(self.body).encode()


def hang(seconds: float) -> Answer:
    """An answer that comes `seconds` late: a client with a shorter timeout gives up after it sent the request."""
    return Answer(503, {"error": "too late"}, delay=seconds)


@dataclass(frozen=True)
class Received:
    """A request as the server received it: method, path, query, lowercase headers and raw body."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON (None when it is not)."""
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    def form(self) -> dict[str, str]:
        """The body as a form (last value of each field)."""
        return {name: values[-1] for name, values in parse_qs(self.body.decode("utf-8", errors="replace"),
                                                              keep_blank_values=True).items()}

    def fields(self) -> dict[str, Any]:
        """The request's fields, whichever way they were sent: a JSON object, else a form."""
        document = self.json() if "json" in self.headers.get("content-type", "") else None
        return dict(document) if isinstance(document, dict) else self.form()


class RecordingApi(LoopbackServer):
    """A fake API that records every request and answers scripted answers before its own.

    Subclasses implement `answer(request)`; it runs under `self.lock`.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.received: list[Received] = []
        self.lock = threading.RLock()
        self._scripts: defaultdict[str, deque[Answer]] = defaultdict(deque)
        self._bind(host, port, self._handler_class())

    def script(self, route: str, *answers: Answer) -> None:
        """Answer the next requests of `route` (`"POST /2/tweets"`) with these answers in turn."""
        with self.lock:
            self._scripts[route].extend(answers)

    def received_at(self, route: str) -> list[Received]:
        """The requests received for `route` (`"POST /2/tweets"`), in order."""
        method, _, path = route.partition(" ")
        with self.lock:
            return [request for request in self.received if request.method == method and request.path == path]

    def answer(self, request: Received) -> Answer:
        """The fake's own answer to a request."""
        raise NotImplementedError

    def _answer(self, request: Received) -> Answer:
        with self.lock:
            self.received.append(request)
            scripted = self._scripts[f"{request.method} {request.path}"]
            return scripted.popleft() if scripted else self.answer(request)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(QuietRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                self._respond("GET")

            def do_POST(self) -> None:
                self._respond("POST")

            def _respond(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Received(method, parts.path, parse_qs(parts.query, keep_blank_values=True),
                                   {name.lower(): value for name, value in self.headers.items()}, body)
                answer = api._answer(request)
                if answer.delay:
                    time.sleep(answer.delay)
                payload = answer.encoded()
                headers = {"Content-Type": "application/json; charset=utf-8", "Content-Length": str(len(payload)),
                           **answer.headers}
                if request.headers.get("connection", "").lower() == "close":
                    headers["Connection"] = "close"  # say so, or the client may reuse the socket about to be closed
                try:
                    self.send_response(answer.status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up waiting (a timeout test): nobody to answer

        return Handler


# --- X -------------------------------------------------------------------------------------------


def _oauth_encode(value: str) -> str:
    return quote(value, safe="-._~")


def oauth1_signature(method: str, url: str, params: list[tuple[str, str]], consumer_secret: str, token_secret: str) -> str:
    """The HMAC-SHA1 signature of a request (RFC 5849 section 3.4), as a server recomputes it."""
    pairs = sorted((_oauth_encode(name), _oauth_encode(value)) for name, value in params)
    normalized = "&".join(f"{name}={value}" for name, value in pairs)
    base = "&".join([method.upper(), _oauth_encode(url), _oauth_encode(normalized)])
    key = f"{_oauth_encode(consumer_secret)}&{_oauth_encode(token_secret)}"
    return base64.b64encode(hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()).decode()


class FakeXWrites(RecordingApi):
    """X's `POST /2/tweets`, for one account (see the module docstring).

    Attributes:
        posts: the posts created: `{"id", "text", "in_reply_to_tweet_id", "auth"}`.
        deleted: ids of posts gone (a reply to one is refused).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, keys: Mapping[str, str] = DEMO_X_KEYS,
                 user_token: str = DEMO_X_USER_TOKEN, app_token: str = "demo-bearer-token"):
        self.keys = dict(keys)
        self.user_token = user_token
        self.app_token = app_token
        self.posts: list[dict[str, Any]] = []
        self.deleted: set[str] = set()
        self._ids = itertools.count(2_118_000_000_000_000_001)
        super().__init__(host, port)

    def answer(self, request: Received) -> Answer:
        if (request.method, request.path) != ("POST", "/2/tweets"):
            return Answer(404, {"title": "Not Found Error", "type": "about:blank", "status": 404, "detail": "Not Found"})
        auth = self._authenticated(request)
        if isinstance(auth, Answer):
            return auth
        document = request.json()
        text = document.get("text") if isinstance(document, dict) else None
        if not isinstance(text, str) or not text:
            return Answer(400, {"errors": [{"message": "$.text: is missing but it is required"}],
                                "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
                                "type": "https://api.twitter.com/2/problems/invalid-request"})
        answered = str(((document.get("reply") or {}).get("in_reply_to_tweet_id")) or "") or None
        if answered in self.deleted:
            return _x_forbidden("You attempted to reply to a Tweet that is deleted or not visible to you.")
        if any(post["text"] == text for post in self.posts):
            return _x_forbidden("You are not allowed to create a Tweet with duplicate content.")
        post_id = str(next(self._ids))
        self.posts.append({"id": post_id, "text": text, "in_reply_to_tweet_id": answered, "auth": auth})
        return Answer(201, {"data": {"edit_history_tweet_ids": [post_id], "id": post_id, "text": text}},
                      {"x-rate-limit-limit": "100", "x-rate-limit-remaining": str(100 - len(self.posts)),
                       "x-rate-limit-reset": str(int(time.time()) + 900)})

    def _authenticated(self, request: Received) -> str | Answer:
        """`oauth1` or `oauth2-user` when the credentials hold, else X's refusal."""
        header = request.headers.get("authorization", "")
        if header.startswith("Bearer "):
            token = header.removeprefix("Bearer ")
            if token == self.user_token:
                return "oauth2-user"
            if token == self.app_token:
                return Answer(403, {
                    "title": "Unsupported Authentication", "status": 403,
                    "detail": "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  Supported "
                              "authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
                    "type": "https://api.twitter.com/2/problems/unsupported-authentication"})
        elif header.startswith("OAuth "):
            oauth = {name: unquote(value) for name, value in re.findall(r'(\w+)="([^"]*)"', header)}
            if (oauth.get("oauth_consumer_key") == self.keys["consumer_key"]
                    and oauth.get("oauth_token") == self.keys["access_token"]
                    and oauth.get("oauth_signature_method") == "HMAC-SHA1"):
                params = [(name, value) for name, value in oauth.items() if name not in ("oauth_signature", "realm")]
                params += [(name, value) for name, values in request.query.items() for value in values]
                url = f"http://{request.headers.get('host', '')}{request.path}"
                expected = oauth1_signature(request.method, url, params, self.keys["consumer_secret"],
                                            self.keys["access_token_secret"])
                if hmac.compare_digest(expected, oauth.get("oauth_signature", "")):
                    return "oauth1"
        return Answer(401, {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"})


def _x_forbidden(detail: str) -> Answer:
    return Answer(403, {"detail": detail, "type": "about:blank", "title": "Forbidden", "status": 403})


# --- Reddit --------------------------------------------------------------------------------------


class FakeRedditWrites(RecordingApi):
    """Reddit's token endpoint and `POST /api/comment`, for one script app and account (see the module docstring).

    Attributes:
        comments: the comments posted (t1 `data` as Reddit sends it).
        locked: fullnames of posts and comments whose thread is locked.
        rate_limited: when True, the next comments get Reddit's RATELIMIT error.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, login: Mapping[str, str] = DEMO_REDDIT,
                 subreddit: str = "brightwave"):
        self.login = dict(login)
        self.subreddit = subreddit
        self.comments: list[dict[str, Any]] = []
        self.locked: set[str] = set()
        self.rate_limited = False
        self._tokens: set[str] = set()
        self._ids = itertools.count(1_000_000)
        super().__init__(host, port)

    def answer(self, request: Received) -> Answer:
        route = (request.method, request.path.rstrip("/"))  # praw asks for /api/comment/
        if route == ("POST", "/api/v1/access_token"):
            return self._token(request)
        if route != ("POST", "/api/comment"):
            return Answer(404, {"message": "Not Found", "error": 404})
        token = request.headers.get("authorization", "").partition(" ")[2]
        if token not in self._tokens:
            return Answer(401, {"message": "Unauthorized", "error": 401},
                          {"www-authenticate": 'Bearer realm="reddit", error="invalid_token"'})
        form = request.form()
        thing, text = form.get("thing_id", ""), form.get("text", "")
        if thing in self.locked:
            return Answer(200, {"json": {"errors": [["THREAD_LOCKED", "Comments are locked.", "parent"]]}})
        if self.rate_limited:
            wait = "Looks like you've been doing that a lot. Take a break for 5 minutes before trying again."
            return Answer(200, {"json": {"errors": [["RATELIMIT", wait, "ratelimit"]]}})
        if not text.strip():
            return Answer(200, {"json": {"errors": [["NO_TEXT", "we need something here", "text"]]}})
        comment_id = base36(next(self._ids))
        link = thing if thing.startswith("t3_") else "t3_" + thing.removeprefix("t1_")
        comment = {
            "id": comment_id, "name": f"t1_{comment_id}", "body": text, "author": self.login["username"],
            "parent_id": thing, "link_id": link, "subreddit": self.subreddit, "created_utc": time.time(), "score": 1,
            "permalink": f"/r/{self.subreddit}/comments/{link.removeprefix('t3_')}/comment/{comment_id}/",
        }
        self.comments.append(comment)
        return Answer(200, {"json": {"errors": [], "data": {"things": [{"kind": "t1", "data": comment}]}}})

    def _token(self, request: Received) -> Answer:
        try:
            scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            client_id = secret = scheme = ""
        if scheme.lower() != "basic" or (client_id, secret) != (self.login["client_id"], self.login["client_secret"]):
            return Answer(401, {"message": "Unauthorized", "error": 401})
        form = request.form()
        if form.get("grant_type") == "password":
            valid = (form.get("username"), form.get("password")) == (self.login["username"], self.login["password"])
        else:
            valid = form.get("grant_type") == "refresh_token" and form.get("refresh_token") == self.login.get("refresh_token")
        if not valid:
            return Answer(200, {"error": "invalid_grant"})
        token = f"fake-reddit-user-token-{len(self._tokens) + 1}"
        self._tokens.add(token)
        return Answer(200, {"access_token": token, "token_type": "bearer", "expires_in": 86400, "scope": "*"})


def base36(number: int) -> str:
    """A Reddit id: the number in base 36."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while number:
        number, digit = divmod(number, 36)
        text = digits[digit] + text
    return text or "0"


# --- Bluesky -------------------------------------------------------------------------------------


class FakeBlueskyWrites(RecordingApi):
    """A PDS's createSession, getPosts and createRecord, for one account (see the module docstring).

    Attributes:
        posts: posts by at:// URI (`add_post` adds one to answer; created replies are added too).
        records: the records created, as sent.
    """

    MAX_GRAPHEMES = 300

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, handle: str = DEMO_BLUESKY["handle"],
                 app_password: str = DEMO_BLUESKY["app_password"], did: str = "did:plc:brightwavehelp00000000"):
        self.handle, self.app_password, self.did = handle, app_password, did
        self.posts: dict[str, dict[str, Any]] = {}
        self.records: list[dict[str, Any]] = []
        self._tokens: set[str] = set()
        self._cids = itertools.count(1)
        self._rkeys = itertools.count(1)
        super().__init__(host, port)

    def add_post(self, uri: str, text: str, author_handle: str, reply: Mapping[str, Any] | None = None) -> str:
        """Add a post the account can answer; returns its cid."""
        cid = self._cid()
        record: dict[str, Any] = {"$type": "app.bsky.feed.post", "text": text, "createdAt": "2026-11-02T12:00:00.000Z"}
        if reply:
            record["reply"] = dict(reply)
        with self.lock:
            self.posts[uri] = {"uri": uri, "cid": cid, "author": {"did": uri.split("/")[2], "handle": author_handle},
                               "record": record, "replyCount": 0, "repostCount": 0, "likeCount": 0,
                               "indexedAt": record["createdAt"]}
        return cid

    def expire_sessions(self) -> None:
        """Make every access token expired, as two hours do."""
        with self.lock:
            self._tokens.clear()

    def answer(self, request: Received) -> Answer:
        route = (request.method, request.path)
        if route == ("POST", "/xrpc/com.atproto.server.createSession"):
            fields = request.fields()
            if (fields.get("identifier"), fields.get("password")) != (self.handle, self.app_password):
                return Answer(401, {"error": "AuthenticationRequired", "message": "Invalid identifier or password"})
            token = f"fake-access-jwt-{len(self._tokens) + 1}"
            self._tokens.add(token)
            return Answer(200, {"accessJwt": token, "refreshJwt": token + "-refresh", "handle": self.handle,
                                "did": self.did, "active": True})
        if route not in (("GET", "/xrpc/app.bsky.feed.getPosts"), ("POST", "/xrpc/com.atproto.repo.createRecord")):
            return Answer(501, {"error": "MethodNotImplemented", "message": "Method Not Implemented"})
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if not token:
            return Answer(401, {"error": "AuthMissing", "message": "Authentication Required"})
        if token not in self._tokens:
            return Answer(400, {"error": "ExpiredToken", "message": "Token has expired"})
        if request.method == "GET":
            return Answer(200, {"posts": [self.posts[uri] for uri in request.query.get("uris", []) if uri in self.posts]})
        return self._create(request.json())

    def _create(self, document: Any) -> Answer:
        if not isinstance(document, dict) or document.get("repo") not in (self.did, self.handle):
            return Answer(400, {"error": "InvalidRequest", "message": "Input/repo must be the authenticated account"})
        record = document.get("record")
        if document.get("collection") != "app.bsky.feed.post" or not isinstance(record, dict):
            return Answer(400, {"error": "InvalidRequest", "message": "Input/record must be an app.bsky.feed.post"})
        if len(str(record.get("text", ""))) > self.MAX_GRAPHEMES:
            return Answer(400, {"error": "InvalidRequest", "message": "Invalid app.bsky.feed.post record: Record/text must "
                                                                      f"not be longer than {self.MAX_GRAPHEMES} graphemes"})
        reply = record.get("reply")
        if reply is not None and not all(
            isinstance(reply.get(part), dict) and reply[part].get("uri") and reply[part].get("cid") for part in ("root", "parent")
        ):
            return Answer(400, {"error": "InvalidRequest", "message": "Invalid app.bsky.feed.post record: Record/reply/root "
                                                                      "and Record/reply/parent must be strong refs (uri, cid)"})
        uri = f"at://{self.did}/app.bsky.feed.post/3lfake{next(self._rkeys):07d}"
        cid = self._cid()
        self.records.append(dict(record))
        self.posts[uri] = {"uri": uri, "cid": cid, "author": {"did": self.did, "handle": self.handle}, "record": record}
        return Answer(200, {"uri": uri, "cid": cid, "commit": {"cid": self._cid(), "rev": "3lfakerev"},
                            "validationStatus": "valid"})

    def _cid(self) -> str:
        return f"bafyreifake{next(self._cids):040d}"


# --- Mastodon ------------------------------------------------------------------------------------


class FakeMastodonWrites(RecordingApi):
    """A Mastodon instance's statuses and search, for one account (see the module docstring).

    Attributes:
        statuses: statuses by id (`add_status` adds one to answer; posted replies are added too).
        remote: URLs of other servers' statuses that search resolves, to local ids.
    """

    MAX_CHARACTERS = 500

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, token: str = DEMO_MASTODON_TOKEN,
                 acct: str = "brightwavehelp"):
        self.token = token
        self.acct = acct
        self.statuses: dict[str, dict[str, Any]] = {}
        self.remote: dict[str, str] = {}
        self._idempotent: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(113_400_000_000_000_001)
        super().__init__(host, port)

    def add_status(self, acct: str, text: str, url: str | None = None) -> str:
        """Add a status the account can answer (a remote one when `url` is another server's); returns its local id."""
        status = self._status(acct, text, None)
        if url:
            status["url"] = status["uri"] = url
            self.remote[url] = status["id"]
        return str(status["id"])

    def answer(self, request: Received) -> Answer:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return Answer(401, {"error": "The access token is invalid"})
        if (request.method, request.path) == ("GET", "/api/v2/search"):
            query = (request.query.get("q") or [""])[0]
            found = [self.statuses[self.remote[query]]] if query in self.remote else [
                status for status in self.statuses.values() if status["url"] == query]
            return Answer(200, {"accounts": [], "statuses": found[:1], "hashtags": []})
        if (request.method, request.path) != ("POST", "/api/v1/statuses"):
            return Answer(404, {"error": "Record not found"})
        key = request.headers.get("idempotency-key")
        if key and key in self._idempotent:
            return Answer(200, self._idempotent[key])
        fields = request.fields()
        text = str(fields.get("status") or "")
        if not text.strip():
            return Answer(422, {"error": "Validation failed: Text can't be blank"})
        if len(text) > self.MAX_CHARACTERS:
            return Answer(422, {"error": f"Validation failed: Text character limit of {self.MAX_CHARACTERS} exceeded"})
        answered = str(fields.get("in_reply_to_id") or "") or None
        if answered is not None and answered not in self.statuses:
            return Answer(404, {"error": "Record not found"})
        status = self._status(self.acct, text, answered, str(fields.get("visibility") or "public"))
        if key:
            self._idempotent[key] = status
        return Answer(200, status)

    def _status(self, acct: str, text: str, in_reply_to: str | None, visibility: str = "public") -> dict[str, Any]:
        status_id = str(next(self._ids))
        url = f"{self.base_url}/@{acct}/{status_id}"
        status = {
            "id": status_id, "created_at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "in_reply_to_id": in_reply_to,
            "in_reply_to_account_id": self.statuses[in_reply_to]["account"]["id"] if in_reply_to else None,
            "visibility": visibility, "url": url, "uri": f"{self.base_url}/users/{acct}/statuses/{status_id}",
            "content": f"<p>{text}</p>", "text": text, "replies_count": 0, "reblogs_count": 0, "favourites_count": 0,
            "account": {"id": str(abs(hash(acct)) % 10**9), "username": acct, "acct": acct,
                        "url": f"{self.base_url}/@{acct}"},
        }
        self.statuses[status_id] = status
        return status


def main() -> None:
    """Serve the four fakes with the demo credentials until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    host = parser.parse_args().host
    fakes = {"X": FakeXWrites(host), "Reddit": FakeRedditWrites(host), "Bluesky": FakeBlueskyWrites(host),
             "Mastodon": FakeMastodonWrites(host)}
    for name, fake in fakes.items():
        fake.start()
        print(f"{name} write API at {fake.base_url}")
    wait_until_interrupted()
    for fake in fakes.values():
        fake.stop()


if __name__ == "__main__":
    main()
