"""Replies on the platforms through the real client libraries (tweepy, praw, requests) against fake write APIs.

Each platform: the fake receives exactly the reply, in reply to exactly the post; a refusal shows
the platform's reason; no form of a credential reaches an error. A post is never sent twice: not by
the retry policy (a timeout after sending, a 5xx), not by prawcore, not by 20 agents at once.
"""

from __future__ import annotations

import base64
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest

from care.replies.exceptions import (
    NoWriteApi,
    ReplyAlreadyRecorded,
    ReplyCredentialsRejected,
    ReplyError,
    ReplyNotSent,
    ReplyOutcomeUnknown,
    ReplyRefused,
)
from care.replies.once import send_once
from care.replies.platforms import has_write_api, reply_sender
from care.replies.reply import Reply, ReplyAttempt, ReplySender, SentReply
from config.model import HttpSettings
from demo.fake_apis.write_apis import (
    DEMO_BLUESKY,
    DEMO_MASTODON_TOKEN,
    DEMO_REDDIT,
    DEMO_X_KEYS,
    DEMO_X_USER_TOKEN,
    Answer,
    FakeBlueskyWrites,
    FakeMastodonWrites,
    FakeRedditWrites,
    FakeXWrites,
    hang,
)
from transport.http import RetryPolicy

POST_ID = "2117198102787928064"
UA = "Overheard-test/1.0"


@pytest.fixture
def policy() -> RetryPolicy:
    return RetryPolicy.from_settings(HttpSettings(timeout_seconds=1.0, max_retries=2, backoff_seconds=0.0,
                                                  max_retry_wait_seconds=1.0, max_body_bytes=200_000))


@pytest.fixture
def x_api() -> Iterator[FakeXWrites]:
    with FakeXWrites() as api:
        yield api


@pytest.fixture
def reddit_api() -> Iterator[FakeRedditWrites]:
    with FakeRedditWrites() as api:
        yield api


@pytest.fixture
def bluesky_api() -> Iterator[FakeBlueskyWrites]:
    with FakeBlueskyWrites() as api:
        yield api


@pytest.fixture
def mastodon_api() -> Iterator[FakeMastodonWrites]:
    with FakeMastodonWrites() as api:
        yield api


def x_credentials(api: FakeXWrites, **extra: str) -> dict:
    return {"login": DEMO_X_KEYS["consumer_key"], "password": DEMO_X_KEYS["consumer_secret"], "host": api.base_url,
            "extra": {"access_token": DEMO_X_KEYS["access_token"],
                      "access_token_secret": DEMO_X_KEYS["access_token_secret"], **extra}}


def reddit_credentials(api: FakeRedditWrites) -> dict:
    return {"login": DEMO_REDDIT["client_id"], "password": DEMO_REDDIT["client_secret"], "host": api.base_url,
            "extra": {"username": DEMO_REDDIT["username"], "password": DEMO_REDDIT["password"],
                      "reddit_url": api.base_url, "user_agent": "web:overheard-test:1.0 (by u/BrightwaveHelp)"}}


def bluesky_credentials(api: FakeBlueskyWrites) -> dict:
    return {"login": DEMO_BLUESKY["handle"], "password": DEMO_BLUESKY["app_password"], "host": api.base_url, "extra": {}}


def mastodon_credentials(api: FakeMastodonWrites) -> dict:
    return {"login": None, "password": DEMO_MASTODON_TOKEN, "host": api.base_url, "extra": {}}


def sender(platform: str, credentials: dict, policy: RetryPolicy) -> ReplySender:
    return reply_sender(platform, credentials, policy=policy, user_agent=UA)


def test_x_reply_is_a_post_in_reply_to_the_mention_signed_with_oauth1(x_api, policy):
    sent = sender("x", x_credentials(x_api, username="brightwavehelp"), policy).send(
        Reply("x", POST_ID, "Sorry about this. Please DM us your account number.",
              in_reply_to_url=f"https://x.com/alice/status/{POST_ID}"))

    [post] = x_api.posts
    assert post == {"id": post["id"], "text": "Sorry about this. Please DM us your account number.",
                    "in_reply_to_tweet_id": POST_ID, "auth": "oauth1"}
    assert x_api.received_at("POST /2/tweets")[0].json() == {
        "text": "Sorry about this. Please DM us your account number.", "reply": {"in_reply_to_tweet_id": POST_ID}}
    assert sent == SentReply("x", f"https://x.com/brightwavehelp/status/{post['id']}", post["id"])


def test_x_reply_with_an_oauth2_user_token_and_refusals_in_xs_words(x_api, policy):
    user = {"login": None, "password": DEMO_X_USER_TOKEN, "host": x_api.base_url, "extra": {}}
    sent = sender("x", user, policy).send(Reply("x", POST_ID, "We're on it."))
    assert x_api.posts[0]["auth"] == "oauth2-user"
    assert sent.url == f"https://x.com/i/web/status/{x_api.posts[0]['id']}"

    with pytest.raises(ReplyRefused) as duplicate:
        sender("x", user, policy).send(Reply("x", POST_ID, "We're on it."))
    assert duplicate.value.reason == "You are not allowed to create a Tweet with duplicate content."
    assert str(duplicate.value) == (
        "X refused the reply (HTTP 403): You are not allowed to create a Tweet with duplicate content.")
    assert not isinstance(duplicate.value, ReplyCredentialsRejected)

    app_only = {**user, "password": x_api.app_token}
    with pytest.raises(ReplyCredentialsRejected, match="x_reply connection .*Unsupported Authentication|OAuth 2.0 "
                                                       "Application-Only is forbidden"):
        sender("x", app_only, policy).send(Reply("x", POST_ID, "Another answer"))
    assert len(x_api.posts) == 1


def test_reddit_reply_to_a_post_and_to_a_comment_through_praw(reddit_api, policy):
    reddit = sender("reddit", reddit_credentials(reddit_api), policy)
    on_post = reddit.send(Reply("reddit", "t3_1h2x3y", "Thanks for flagging, we're checking the outage in your area."))
    on_comment = reddit.send(Reply("reddit", "t1_m9k2p4q", "Could you DM us your postcode?"))

    assert [(c["parent_id"], c["body"]) for c in reddit_api.comments] == [
        ("t3_1h2x3y", "Thanks for flagging, we're checking the outage in your area."),
        ("t1_m9k2p4q", "Could you DM us your postcode?"),
    ]
    first = reddit_api.comments[0]
    assert on_post == SentReply(
        "reddit", f"https://www.reddit.com/r/brightwave/comments/1h2x3y/comment/{first['id']}/", f"t1_{first['id']}")
    assert on_comment.native_id == f"t1_{reddit_api.comments[1]['id']}"
    assert reddit_api.received_at("POST /api/comment/")[0].form()["api_type"] == "json"


def test_reddit_refusals_say_reddits_reason_and_a_rate_limit_is_not_a_refusal(reddit_api, policy):
    reddit = sender("reddit", reddit_credentials(reddit_api), policy)
    reddit_api.locked.add("t3_locked1")
    with pytest.raises(ReplyRefused, match="THREAD_LOCKED: Comments are locked.") as locked:
        reddit.send(Reply("reddit", "t3_locked1", "Hello"))
    assert locked.value.reason == "THREAD_LOCKED: Comments are locked."

    reddit_api.rate_limited = True
    with pytest.raises(ReplyNotSent, match="Take a break for 5 minutes"):
        reddit.send(Reply("reddit", "t3_1h2x3y", "Hello"))

    wrong = reddit_credentials(reddit_api)
    wrong["extra"]["password"] = "not-the-password"
    with pytest.raises(ReplyCredentialsRejected, match="refused to log in the reddit_reply account \\(invalid_grant\\)"):
        sender("reddit", wrong, policy).send(Reply("reddit", "t3_1h2x3y", "Hello"))
    assert reddit_api.comments == []


def test_bluesky_reply_names_the_threads_root_and_the_parent_by_strong_ref(bluesky_api, policy):
    root = "at://did:plc:alice0000000000000000000/app.bsky.feed.post/3lroot0000001"
    parent = "at://did:plc:bob000000000000000000000/app.bsky.feed.post/3lparent00001"
    root_cid = bluesky_api.add_post(root, "Brightwave is down again", "alice.bsky.social")
    parent_cid = bluesky_api.add_post(parent, "same here, Brightwave broadband out in Leeds", "bob.bsky.social",
                                      reply={"root": {"uri": root, "cid": root_cid}, "parent": {"uri": root, "cid": root_cid}})
    bluesky = sender("bluesky", bluesky_credentials(bluesky_api), policy)

    text = "Désolé Bob — état du réseau : https://status.brightwave.example/leeds."
    sent = bluesky.send(Reply("bluesky", parent, text))

    [record] = bluesky_api.records
    assert record["reply"] == {"root": {"uri": root, "cid": root_cid}, "parent": {"uri": parent, "cid": parent_cid}}
    assert record["text"] == text
    link = "https://status.brightwave.example/leeds"  # the full stop is not part of it
    start = len("Désolé Bob — état du réseau : ".encode())  # offsets count UTF-8 bytes, not characters
    assert record["facets"] == [{"index": {"byteStart": start, "byteEnd": start + len(link)},
                                 "features": [{"$type": "app.bsky.richtext.facet#link", "uri": link}]}]
    assert sent.url == f"https://bsky.app/profile/{DEMO_BLUESKY['handle']}/post/{sent.native_id.rsplit('/', 1)[1]}"

    bluesky_api.expire_sessions()  # a later send logs in again once, and posts once
    bluesky.send(Reply("bluesky", root, "Hi Alice, we're on it."))
    assert len(bluesky_api.received_at("POST /xrpc/com.atproto.server.createSession")) == 2
    assert [r["reply"]["parent"]["uri"] for r in bluesky_api.records] == [parent, root]

    with pytest.raises(ReplyRefused, match="must not be longer than 300 graphemes") as too_long:
        bluesky.send(Reply("bluesky", root, "x" * 301))
    assert too_long.value.reason.startswith("InvalidRequest: Invalid app.bsky.feed.post record")
    assert len(bluesky_api.records) == 2


def test_mastodon_reply_mentions_the_author_and_finds_another_servers_post(mastodon_api, policy):
    local = mastodon_api.add_status("carol", "Brightwave billed me twice")
    remote_url = "https://fosstodon.example/@dave/113399999"
    remote = mastodon_api.add_status("dave@fosstodon.example", "Brightwave outage?", url=remote_url)
    mastodon = sender("mastodon", mastodon_credentials(mastodon_api), policy)

    on_local = mastodon.send(Reply("mastodon", f"127.0.0.1:{local}", "Sorry Carol, refund on its way.",
                                   in_reply_to_author="@carol"))
    on_remote = mastodon.send(Reply("mastodon", "fosstodon.example:113399999", "@dave@fosstodon.example checking now",
                                    in_reply_to_url=remote_url, in_reply_to_author="@dave@fosstodon.example"))

    posted = mastodon_api.received_at("POST /api/v1/statuses")
    assert [(r.form()["in_reply_to_id"], r.form()["status"]) for r in posted] == [
        (local, "@carol Sorry Carol, refund on its way."),
        (remote, "@dave@fosstodon.example checking now"),
    ]
    assert mastodon_api.received_at("GET /api/v2/search")[0].query["q"] == [remote_url]
    assert on_local.url == f"{mastodon_api.base_url}/@brightwavehelp/{on_local.native_id}"
    assert on_remote.native_id != on_local.native_id

    with pytest.raises(ReplyRefused, match="Text character limit of 500 exceeded"):
        mastodon.send(Reply("mastodon", f"127.0.0.1:{local}", "y" * 501))


SECRETS = {
    "x": [DEMO_X_KEYS["consumer_secret"], DEMO_X_KEYS["access_token_secret"], DEMO_X_KEYS["access_token"]],
    "reddit": [DEMO_REDDIT["client_secret"], DEMO_REDDIT["password"]],
    "bluesky": [DEMO_BLUESKY["app_password"]],
    "mastodon": [DEMO_MASTODON_TOKEN],
}


def _echo(secrets: list[str], login: str | None) -> str:
    """What a misbehaving upstream says back: each secret plain, URL-encoded and base64, and Basic login:password."""
    forms = [form for secret in secrets
             for form in (secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode())]
    if login:
        forms.append(base64.b64encode(f"{login}:{secrets[0]}".encode()).decode())
    return "denied for " + " ".join(forms)


@pytest.mark.parametrize("platform", ["x", "reddit", "bluesky", "mastodon"])
def test_no_credential_reaches_an_error_even_when_the_platform_echoes_it(platform, policy, x_api, reddit_api,
                                                                         bluesky_api, mastodon_api):
    echo = _echo(SECRETS[platform], {"x": DEMO_X_KEYS["consumer_key"], "reddit": DEMO_REDDIT["client_id"]}.get(platform))
    if platform == "x":
        x_api.script("POST /2/tweets", Answer(403, {"title": "Forbidden", "detail": echo, "status": 403}))
        credentials, target = x_credentials(x_api), POST_ID
    elif platform == "reddit":
        reddit_api.script("POST /api/comment/", Answer(200, {"json": {"errors": [["BAD", echo, "text"]]}}))
        credentials, target = reddit_credentials(reddit_api), "t3_1h2x3y"
    elif platform == "bluesky":
        target = "at://did:plc:alice0000000000000000000/app.bsky.feed.post/3lroot0000001"
        bluesky_api.add_post(target, "Brightwave?", "alice.bsky.social")
        bluesky_api.script("POST /xrpc/com.atproto.repo.createRecord", Answer(400, {"error": "InvalidRequest", "message": echo}))
        credentials = bluesky_credentials(bluesky_api)
    else:
        local = mastodon_api.add_status("carol", "Brightwave?")
        mastodon_api.script("POST /api/v1/statuses", Answer(422, {"error": echo}))
        credentials, target = mastodon_credentials(mastodon_api), f"127.0.0.1:{local}"

    with pytest.raises(ReplyRefused) as refused:
        sender(platform, credentials, policy).send(Reply(platform, target, "Hello"))

    said = f"{refused.value} {refused.value.reason}"
    assert "denied for ***" in said
    for secret in SECRETS[platform]:
        for form in (secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode()):
            assert form not in said


def test_a_post_that_may_have_been_applied_is_never_sent_again(x_api, reddit_api, policy):
    """The retry policy retries reads; a reply's POST goes once, whatever happens after it is sent."""
    x = sender("x", x_credentials(x_api), policy)
    x_api.script("POST /2/tweets", hang(policy.timeout_seconds + 1.5))
    with pytest.raises(ReplyOutcomeUnknown, match=f"timed out.*may have been posted: look at https://x.com/alice/status/{POST_ID}"):
        x.send(Reply("x", POST_ID, "Sorry!", in_reply_to_url=f"https://x.com/alice/status/{POST_ID}"))
    x_api.script("POST /2/tweets", Answer(503, {"title": "Service Unavailable"}))
    with pytest.raises(ReplyOutcomeUnknown, match="HTTP 503"):
        x.send(Reply("x", POST_ID, "Sorry again!"))
    x_api.script("POST /2/tweets", Answer(429, {"title": "Too Many Requests"}))
    with pytest.raises(ReplyNotSent, match="rate limit"):
        x.send(Reply("x", POST_ID, "Sorry a third time!"))
    assert len(x_api.received_at("POST /2/tweets")) == 3  # one each: never repeated

    reddit = sender("reddit", reddit_credentials(reddit_api), policy)
    reddit_api.script("POST /api/comment/", Answer(502, b"<html><title>502 Bad Gateway</title></html>"),
                      hang(policy.timeout_seconds + 1.5))
    with pytest.raises(ReplyOutcomeUnknown, match="HTTP 502"):  # prawcore retries a 502 on its own when it sees one
        reddit.send(Reply("reddit", "t3_1h2x3y", "Hello"))
    with pytest.raises(ReplyOutcomeUnknown, match="timed out"):  # within the policy's timeout, not prawcore's 16 s
        reddit.send(Reply("reddit", "t3_1h2x3y", "Hello"))
    assert len(reddit_api.received_at("POST /api/comment/")) == 2


def test_reads_are_retried_and_a_refused_connection_posted_nothing(bluesky_api, policy):
    post = "at://did:plc:alice0000000000000000000/app.bsky.feed.post/3lroot0000001"
    bluesky_api.add_post(post, "Brightwave down", "alice.bsky.social")
    bluesky_api.script("GET /xrpc/app.bsky.feed.getPosts", Answer(503, {"error": "InternalServerError"}))
    sender("bluesky", bluesky_credentials(bluesky_api), policy).send(Reply("bluesky", post, "On it"))
    assert len(bluesky_api.received_at("GET /xrpc/app.bsky.feed.getPosts")) == 2
    assert len(bluesky_api.records) == 1

    with FakeXWrites() as gone:
        credentials = x_credentials(gone)
    with pytest.raises(ReplyNotSent, match="connection refused.*nothing was posted"):
        sender("x", credentials, policy).send(Reply("x", POST_ID, "Hello"))


class SqliteLedger:
    """A `ReplyLedger` on SQLite, as the desk keeps one: the claim is an INSERT that does nothing on conflict."""

    def __init__(self, path: Path):
        self.path = path
        with self._connect() as db:
            db.execute("CREATE TABLE IF NOT EXISTS reply_attempts (item_key TEXT PRIMARY KEY, state TEXT NOT NULL, "
                       "text TEXT NOT NULL, claimed_at TEXT NOT NULL, url TEXT, reason TEXT)")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30, isolation_level=None)

    def claim(self, item_key: str, reply: Reply) -> ReplyAttempt | None:
        with self._connect() as db:
            inserted = db.execute(
                "INSERT INTO reply_attempts (item_key, state, text, claimed_at) VALUES (?, 'sending', ?, ?) "
                "ON CONFLICT (item_key) DO NOTHING", [item_key, reply.text, datetime.now(UTC).isoformat()]).rowcount
            if inserted:
                return None
            key, state, text, claimed_at, url, reason = db.execute(
                "SELECT * FROM reply_attempts WHERE item_key = ?", [item_key]).fetchone()
            return ReplyAttempt(key, state, text, datetime.fromisoformat(claimed_at), url, reason)

    def record_sent(self, item_key: str, sent: SentReply) -> None:
        with self._connect() as db:
            db.execute("UPDATE reply_attempts SET state = 'sent', url = ? WHERE item_key = ?", [sent.url, item_key])

    def record_unknown(self, item_key: str, reason: str) -> None:
        with self._connect() as db:
            db.execute("UPDATE reply_attempts SET state = 'unknown', reason = ? WHERE item_key = ?", [reason, item_key])

    def release(self, item_key: str) -> None:
        with self._connect() as db:
            db.execute("DELETE FROM reply_attempts WHERE item_key = ?", [item_key])


def test_twenty_agents_sending_one_items_reply_post_it_once(x_api, policy, tmp_path):
    ledger = SqliteLedger(tmp_path / "desk.sqlite")
    x = sender("x", x_credentials(x_api, username="brightwavehelp"), policy)
    start = threading.Barrier(20)
    outcomes: list[object] = []

    def agent(number: int) -> None:
        start.wait()
        try:
            outcomes.append(send_once(ledger, f"x:{POST_ID}", Reply("x", POST_ID, f"Agent {number} here, sorry!"), x))
        except ReplyAlreadyRecorded as refused:
            outcomes.append(refused)

    threads = [threading.Thread(target=agent, args=(number,)) for number in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    [sent] = [outcome for outcome in outcomes if isinstance(outcome, SentReply)]
    assert len(x_api.received_at("POST /2/tweets")) == 1
    assert x_api.posts[0]["in_reply_to_tweet_id"] == POST_ID
    assert len([o for o in outcomes if isinstance(o, ReplyAlreadyRecorded)]) == 19
    with pytest.raises(ReplyAlreadyRecorded, match=f"already answered: {sent.url}"):
        send_once(ledger, f"x:{POST_ID}", Reply("x", POST_ID, "Late agent"), x)


def test_send_once_frees_a_refused_reply_and_holds_one_that_may_have_posted(x_api, policy, tmp_path):
    ledger = SqliteLedger(tmp_path / "desk.sqlite")
    x = sender("x", x_credentials(x_api), policy)
    x_api.deleted.add("111")
    with pytest.raises(ReplyRefused, match="deleted or not visible"):
        send_once(ledger, "x:111", Reply("x", "111", "Hello"), x)
    x_api.deleted.clear()
    assert send_once(ledger, "x:111", Reply("x", "111", "Hello"), x).native_id == x_api.posts[0]["id"]

    x_api.script("POST /2/tweets", hang(policy.timeout_seconds + 1.5))
    with pytest.raises(ReplyOutcomeUnknown):
        send_once(ledger, "x:222", Reply("x", "222", "Hello there"), x)
    with pytest.raises(ReplyAlreadyRecorded, match="may have been posted .*timed out"):
        send_once(ledger, "x:222", Reply("x", "222", "Hello there"), x)
    assert len(x_api.received_at("POST /2/tweets")) == 3


def test_platforms_without_a_write_api_say_what_to_do_and_missing_connections_say_how(policy):
    assert [has_write_api(p) for p in ("x", "reddit", "bluesky", "mastodon", "hackernews", "news", "blog")] == [
        True, True, True, True, False, False, False]
    with pytest.raises(NoWriteApi, match="Hacker News has no API to reply through: answer there, then record the URL"):
        reply_sender("hackernews", None, policy=policy, user_agent=UA)
    with pytest.raises(ReplyCredentialsRejected, match="bluesky_reply Airflow connection.*AIRFLOW_CONN_BLUESKY_REPLY"):
        reply_sender("bluesky", None, policy=policy, user_agent=UA)
    with pytest.raises(ReplyCredentialsRejected, match="x_reply connection has no access_token, access_token_secret"):
        reply_sender("x", {"login": "key", "password": "secret", "extra": {}}, policy=policy, user_agent=UA)
    assert issubclass(ReplyOutcomeUnknown, ReplyError) and ReplyOutcomeUnknown.may_have_posted
