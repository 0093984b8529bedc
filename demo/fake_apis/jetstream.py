"""A fake Jetstream on loopback, for the demo and the tests: a real websocket server speaking Jetstream's frames.

`GET /subscribe?wantedCollections=<nsid>&...&cursor=<unix microseconds>` upgrades to a websocket and
sends one JSON text frame per event (github.com/bluesky-social/jetstream: `did`, `time_us`, `kind`
commit/identity/account, a commit's `operation`, `collection`, `rkey`, `record`, `cid`), in time_us order:

- replay from the first event at or after the cursor (the real instances' cursor is "from this moment");
  a cursor older than the retained stretch replays from its oldest event, as an instance that has
  dropped older events does; no cursor (or one in the future) tails live only;
- `wantedCollections` filters commits by collection (exact, or an NSID prefix `app.bsky.*`); identity
  and account events reach every subscriber, as on the real service;
- after the replay, live tail: events published later are sent as they come, until the client leaves.

The clock is `now` when given (`set_clock` moves it, as a replay of the demo's month moves its clocks): an
event after it has not happened yet and is not sent, and with `retention` the instance keeps only the
events of that long before it, as a real instance keeps a rolling stretch. Without a clock, every event
published has happened and all are kept.

Faults for tests: `retain_from(t)` drops events before `t` from every replay; `drop_next_connection(after=n)`
closes the next subscription's socket abruptly after n frames (no close frame, as a network failure);
`publish_frame(time_us, frame)` sends any text or bytes as they are (a malformed frame, a binary one).
`subscriptions` records every subscription's query (cursor, collections) for the tests to read.

`background_posts` makes a deterministic stream of posts that name no brand, at an even rate with jitter:
the demo's stream (`publish_demo_stream`) is mostly these, as the real one is.
"""

from __future__ import annotations

import bisect
import json
import logging
import random
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.sync.server import Server, ServerConnection, serve

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# websockets logs every connection opened and closed at INFO; the fake's are of no interest beside a run's log.
_QUIET = logging.getLogger(__name__)
_QUIET.setLevel(logging.WARNING)
_VOCABULARY = (
    "the a my our this that today tonight morning coffee train bus rain sun weekend football match game music album "
    "gig film book reading garden cat dog walk run gym dinner lunch pizza tea work meeting deadline code bug release "
    "school exam kids holiday beach city park museum photo art painting election news vote council bright wave tide "
    "river sky lark fibre cable phone laptop battery update app new old great awful lovely tired happy finally again "
    "why how when what really just so very quite never always maybe still honestly love hate miss need want think"
)
_WORDS = _VOCABULARY.split()
_HASHTAGS = ("#caturday", "#photography", "#gamedev", "#booksky", "#football", "#art", "#music", "#weather")
_LANGS = ("en", "en", "en", "en", "pt", "ja", "de", "es")


@dataclass(frozen=True, order=True)
class _Frame:
    time_us: int
    collection: str | None  # a commit's collection; None for identity/account events and raw frames
    payload: str | bytes


def to_us(moment: datetime) -> int:
    """An instant as unix microseconds."""
    return (moment - EPOCH) // timedelta(microseconds=1)


def post_event(
    did: str, rkey: str, text: str, time_us: int, *, created_at: str | None = None, langs: Sequence[str] = ("en",),
    reply: Mapping[str, Any] | None = None, embed: Mapping[str, Any] | None = None, operation: str = "create",
) -> dict[str, Any]:
    """A commit event creating (or updating, deleting) a post, as Jetstream sends it."""
    commit: dict[str, Any] = {"rev": f"rev{time_us:x}", "operation": operation, "collection": "app.bsky.feed.post",
                              "rkey": rkey}
    if operation != "delete":
        record: dict[str, Any] = {"$type": "app.bsky.feed.post", "text": text, "langs": list(langs),
                                  "createdAt": created_at or _iso(time_us)}
        if reply:
            record["reply"] = dict(reply)
        if embed:
            record["embed"] = dict(embed)
        commit["record"] = record
        commit["cid"] = f"bafyrei{rkey}{time_us:x}"
    return {"did": did, "time_us": time_us, "kind": "commit", "commit": commit}


def repost_event(did: str, rkey: str, subject_uri: str, time_us: int) -> dict[str, Any]:
    """A commit event creating a repost of the post `subject_uri`."""
    return {"did": did, "time_us": time_us, "kind": "commit", "commit": {
        "rev": f"rev{time_us:x}", "operation": "create", "collection": "app.bsky.feed.repost", "rkey": rkey,
        "record": {"$type": "app.bsky.feed.repost", "createdAt": _iso(time_us),
                   "subject": {"uri": subject_uri, "cid": "bafyreisubject"}},
        "cid": f"bafyrei{rkey}{time_us:x}",
    }}


def events_from_post_views(posts: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Post views (app.bsky.feed.searchPosts answers, as the demo's corpus holds them) as the create events
    that put them on the stream, each at its indexedAt (else createdAt)."""
    events = []
    for post in posts:
        _, _, did, _, rkey = str(post["uri"]).split("/")
        when = post.get("indexedAt") or post["record"]["createdAt"]
        time_us = to_us(datetime.fromisoformat(str(when)))
        events.append({"did": did, "time_us": time_us, "kind": "commit", "commit": {
            "rev": f"rev{time_us:x}", "operation": "create", "collection": "app.bsky.feed.post", "rkey": rkey,
            "record": dict(post["record"]), "cid": post.get("cid"),
        }})
    return events


def background_posts(start: datetime, end: datetime, count: int, seed: int = 16) -> list[dict[str, Any]]:
    """`count` events between `start` and `end` that name no brand, evenly spread with jitter: mostly posts
    (some replies), a repost in twenty, an identity event in a hundred. The same seed gives the same events."""
    rng = random.Random(seed)
    start_us, step = to_us(start), max(1, (to_us(end) - to_us(start)) // max(count, 1))
    events: list[dict[str, Any]] = []
    uris: list[str] = []
    for number in range(count):
        time_us = start_us + number * step + rng.randrange(step)
        did = f"did:plc:noise{rng.randrange(50_000):06d}"
        rkey = f"3n{number:010d}"
        roll = rng.random()
        if roll < 0.01:
            events.append({"did": did, "time_us": time_us, "kind": "identity",
                           "identity": {"did": did, "handle": f"{did[8:]}.bsky.social", "seq": number, "time": _iso(time_us)}})
        elif roll < 0.06 and uris:
            events.append(repost_event(did, rkey, rng.choice(uris), time_us))
        else:
            words = rng.choices(_WORDS, k=rng.randint(4, 40))
            if rng.random() < 0.2:
                words.append(rng.choice(_HASHTAGS))
            reply = None
            if uris and rng.random() < 0.3:
                parent = rng.choice(uris)
                reply = {"root": {"uri": parent, "cid": "bafyreiroot"}, "parent": {"uri": parent, "cid": "bafyreiparent"}}
            events.append(post_event(did, rkey, " ".join(words).capitalize(), time_us, langs=(rng.choice(_LANGS),),
                                     reply=reply))
            uris.append(f"at://{did}/app.bsky.feed.post/{rkey}")
    return events


class FakeJetstream:
    """The fake instance: events in time order, served to each subscription from its cursor; a context manager.

    Args:
        host: where to listen.
        port: 0 picks a free port.
        now: the instance's clock; None: every event published has happened.
        retention: with a clock, how far back from it the instance replays.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, now: datetime | None = None, retention: timedelta | None = None
    ):
        self._frames: list[_Frame] = []
        self._changed = threading.Condition()
        self._stopping = False
        self._drops: list[int] = []
        self._retained_from_us = 0
        self._now_us = to_us(now) if now else None
        self._retention_us = retention // timedelta(microseconds=1) if retention else None
        self.subscriptions: list[dict[str, list[str]]] = []
        self._server: Server = serve(self._serve, host, port, process_request=self._check_request, logger=_QUIET)
        self.url = f"ws://{host}:{self._server.socket.getsockname()[1]}/subscribe"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> Self:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close every subscription and release the port."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        self._server.shutdown()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def publish(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Put events on the stream (each at its time_us); live subscribers get those past where they are."""
        frames = [
            _Frame(event["time_us"], (event.get("commit") or {}).get("collection"), json.dumps(event))
            for event in events
        ]
        self._insert(frames)

    def publish_frame(self, time_us: int, payload: str | bytes) -> None:
        """Put a frame on the stream as it is, at `time_us` (sent to every subscriber, whatever it filters on)."""
        self._insert([_Frame(time_us, None, payload)])

    def published(self) -> list[dict[str, Any]]:
        """Every event on the stream, in order (raw frames left out), as the tests count them."""
        with self._changed:
            return [json.loads(frame.payload) for frame in self._frames if frame.collection is not None
                    or isinstance(frame.payload, str) and frame.payload.startswith('{"did"')]

    def retain_from(self, moment: datetime) -> None:
        """Keep only the events from `moment` on: a replay from an earlier cursor starts there."""
        self._retained_from_us = to_us(moment)

    def set_clock(self, now: datetime) -> None:
        """Put the instance's clock at `now`: the events up to it have happened (live subscribers get them)."""
        with self._changed:
            self._now_us = to_us(now)
            self._changed.notify_all()

    def _oldest_kept_us(self) -> int:
        rolling = self._now_us - self._retention_us if self._now_us is not None and self._retention_us else 0
        return max(self._retained_from_us, rolling)

    def _happened(self, position: int) -> bool:
        return position < len(self._frames) and (self._now_us is None or self._frames[position].time_us <= self._now_us)

    def drop_next_connection(self, after: int) -> None:
        """Close the next subscription's socket, with no close frame, after it has sent `after` frames."""
        self._drops.append(after)

    def _insert(self, frames: list[_Frame]) -> None:
        with self._changed:
            if frames and (not self._frames or frames[0] >= self._frames[-1]) and frames == sorted(frames):
                self._frames.extend(frames)
            else:
                for frame in frames:
                    bisect.insort(self._frames, frame)
            self._changed.notify_all()

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        if parts.path != "/subscribe":
            return connection.respond(404, f"no such endpoint: {parts.path} (Jetstream serves /subscribe)\n")
        cursor = parse_qs(parts.query).get("cursor", ["0"])[0]
        if not cursor.lstrip("-").isdigit():
            return Response(400, "Bad Request", Headers(), f"invalid cursor: {cursor}\n".encode())
        return None

    def _serve(self, connection: ServerConnection) -> None:
        assert connection.request is not None
        params = parse_qs(urlsplit(connection.request.path).query)
        self.subscriptions.append(params)
        wanted = params.get("wantedCollections", [])
        cursor = int(params.get("cursor", ["0"])[0])
        with self._changed:
            drop_after = self._drops.pop(0) if self._drops else None
            times = [frame.time_us for frame in self._frames]
            live_edge = bisect.bisect_right(times, self._now_us) if self._now_us is not None else len(times)
            if 0 < cursor and (not live_edge or cursor <= times[live_edge - 1]):
                position = bisect.bisect_left(times, max(cursor, self._oldest_kept_us()))
            else:
                position = live_edge  # no cursor, or one in the future: live tail
        sent = 0
        try:
            while True:
                with self._changed:
                    while not self._happened(position) and not self._stopping:
                        if connection.state is not State.OPEN:
                            return
                        self._changed.wait(0.05)
                    if self._stopping:
                        return
                    frame = self._frames[position]
                position += 1
                if frame.collection is not None and wanted and not _wants(wanted, frame.collection):
                    continue
                if drop_after is not None and sent >= drop_after:
                    connection.close_socket()
                    return
                connection.send(frame.payload)
                sent += 1
        except ConnectionClosed:
            return


def _wants(wanted: list[str], collection: str) -> bool:
    return any(collection == name or (name.endswith(".*") and collection.startswith(name[:-1])) for name in wanted)


def _iso(time_us: int) -> str:
    moment = EPOCH + timedelta(microseconds=time_us)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# The demo's instance keeps three days before its clock (five minutes past each run, as the fake X's):
# a first run reaching back `backfill_days` reports the rest of its window left out. Beside the demo's
# Bluesky posts it carries a post that names no brand about every `DEMO_BACKGROUND_EVERY`, over the whole
# month, so that the month's replay, moving the clock, reads a stream mostly of these, as the real one is.
DEMO_RETENTION = timedelta(days=3)
DEMO_BACKGROUND_EVERY = timedelta(minutes=2)


def publish_demo_stream(server: FakeJetstream, posts: Iterable[Mapping[str, Any]], end: datetime) -> None:
    """Put the demo's Bluesky posts (post views) on the stream among posts that name no brand, one about
    every `DEMO_BACKGROUND_EVERY` from the day of the earliest post to `end`."""
    events = events_from_post_views(posts)
    earliest = EPOCH + timedelta(microseconds=min(event["time_us"] for event in events))
    start = earliest.replace(hour=0, minute=0, second=0, microsecond=0)
    events += background_posts(start, end, (end - start) // DEMO_BACKGROUND_EVERY)
    server.publish(sorted(events, key=lambda event: event["time_us"]))
