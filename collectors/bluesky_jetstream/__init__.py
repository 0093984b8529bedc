"""Bluesky through Jetstream (kind `bluesky_jetstream`): every public post, read from a keyless websocket
stream over the run's window and matched here against the brands' terms and queries.

A run subscribes to posts and reposts with the cursor at its start (the stored cursor, else the window's
start; never earlier than `retention_hours` before the window's end, the rest reported left out), reads
until the first event at or after the window's end, keeps the posts the brand matcher (`query.brand_matching`,
as enrichment matches) finds a brand in, and stores the last event it processed as the next cursor. Most
posts name no brand: matching runs on the record's text before any mention is made. A repost of a post
matched in the same run is a mention amplifying it; a post deleted in the same run is dropped and its key
reported deleted. Jetstream gives authors by DID only, so these mentions have no handle.

Everything the run did not read is in `left_out`: the part of the window beyond the stream's retention, a
gap where the stream started later than asked, and the rest of the window when the stream went idle, the
time budget ran out or the connection failed for good (then the posts matched so far are kept, and the
cursor is the last event processed, so the next run resumes there).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from collectors.bluesky_jetstream.events import REPOST_COLLECTION, MalformedFrame, StreamEvent, parse_frame
from collectors.bluesky_jetstream.stream import Connected, StreamReader
from collectors.bluesky_posts import POST_COLLECTION, instant, mention_from_record, web_url
from collectors.context import CollectionContext
from collectors.source_run import SourceRun
from config.model import BlueskyJetstreamSource
from core.errors import CollectorError
from core.mention import Mention
from query.boolean import MatchableRecord
from query.brand_matching import BrandMatcher

COLLECTIONS = (POST_COLLECTION, REPOST_COLLECTION)
MALFORMED_EXAMPLES = 3  # malformed frames quoted in the run's warning
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def collect_bluesky_jetstream(
    source: BlueskyJetstreamSource,
    cursor: Mapping[str, Any] | None,
    context: CollectionContext,
) -> SourceRun:
    """Read the stream over the window and keep the posts that name a brand.

    Args:
        source: the source's config.
        cursor: the previous run's `{"time_us": <last event processed>, "at_cursor": [event identities at
            that microsecond]}`, or None.
        context: brands, window, time budget and the retry policy (`context.client.policy`).

    Returns:
        ok with the matched posts (or none), the next cursor and what was asked and left out; empty when
        the stream had no event in the window; failed when the stream could not be read at all (the
        cursor stays where it was).
    """
    window_start, window_end = context.window
    warnings: list[str] = []
    resume_us, at_cursor = _resume_point(cursor, warnings)
    asked_from = _from_us(resume_us) if resume_us is not None else window_start
    left_out: list[str] = []
    reachable = window_end - timedelta(hours=source.retention_hours)
    if asked_from < reachable:
        left_out.append(f"posts from {_when(asked_from)} to {_when(reachable)}: beyond the stream's retention "
                        f"({source.retention_hours:g} h before the window's end)")
        asked_from, resume_us, at_cursor = reachable, None, set()
    asked = [f"stream {', '.join(COLLECTIONS)} from {_when(asked_from)} to {_when(window_end)}"]
    if asked_from >= window_end:
        return SourceRun(source.name, source.kind, "ok", asked=asked, left_out=left_out, warnings=warnings,
                         window=(window_end, window_end))
    reading = StreamReading(
        source.name, BrandMatcher(list(context.brands), []), _to_us(window_end), source.gap_seconds,
        cursor_us=resume_us if resume_us is not None else _to_us(asked_from) - 1, at_cursor=at_cursor,
    )
    reader = StreamReader(
        source.url, COLLECTIONS, context.client.policy, context.time_budget(), context.client.settings.user_agent,
        source.idle_seconds,
    )
    failure: CollectorError | None = None
    try:
        for frame in reader.frames(lambda: reading.cursor_us):
            if isinstance(frame, Connected):
                reading.connected(frame.cursor_us)
            elif not reading.take(frame):
                break
    except CollectorError as error:
        failure = error
    if failure is not None and not reading.events_read:
        return SourceRun.failed(source.name, source.kind, failure)
    covered_from = max(asked_from, _from_us(reading.started_us)) if reading.started_us else asked_from
    reached = window_end if reading.reached_end else _from_us(max(reading.cursor_us, _to_us(covered_from)))
    left_out += reading.gaps
    if not reading.reached_end:
        why = {
            "idle": f"the stream went quiet (no event for {source.idle_seconds:g} s: its live edge?)",
            "budget": "the time budget ran out",
            None: f"the stream failed ({failure})",
        }[reader.ending if failure is None else None]
        left_out.append(f"posts from {_when(reached)} to {_when(window_end)}: {why}; the next run resumes there")
    if failure is not None:
        warnings.append(f"the stream stopped: {failure}")
    if reader.connections > 1:
        warnings.append(f"reconnected {reader.connections - 1} times; resumed each time at the last event processed")
    warnings += reading.malformed_warnings()
    return SourceRun(
        source.name, source.kind, "ok" if reading.events_read else "empty",
        mentions=list(reading.mentions.values()),
        items_fetched=reading.posts_seen,
        cursor=reading.next_cursor(),
        warnings=warnings,
        deleted_keys=reading.deleted_keys,
        window=(min(covered_from, reached), reached),
        asked=asked,
        left_out=left_out,
    )


@dataclass
class StreamReading:
    """What one run made of the stream so far: the posts that matched, where it is, what it skipped.

    Attributes:
        source: the configured source's name.
        matcher: the brands' matcher, compiled once for the run.
        end_us: the window's end: the first event at or after it ends the reading.
        gap_seconds: a stream starting this much later than its cursor has a gap.
        cursor_us: the last event processed (the cursor); before the first, just before the start.
        at_cursor: the identities of the events processed at `cursor_us` (the cursor's tie-break).
        mentions: the matched posts and reposts, by at:// uri.
        posts_seen: post and repost records read (the coverage ledger's items seen).
        events_read: every event read in the window, of any kind.
        deleted_keys: keys of matched posts deleted in the window.
        gaps: the stretches the stream skipped, each one line for `left_out`.
        reached_end: an event at or after `end_us` was read.
        started_us: where the stream started, when it started later than asked (a gap at the start).
    """

    source: str
    matcher: BrandMatcher
    end_us: int
    gap_seconds: float
    cursor_us: int
    at_cursor: set[str] = field(default_factory=set)
    mentions: dict[str, Mention] = field(default_factory=dict)
    posts_seen: int = 0
    events_read: int = 0
    deleted_keys: list[str] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)
    reached_end: bool = False
    started_us: int | None = None
    _asked_us: int | None = None
    _malformed: list[str] = field(default_factory=list)

    def connected(self, cursor_us: int) -> None:
        """A (re)connection from `cursor_us`: its first event says whether the stream skipped a stretch."""
        self._asked_us = cursor_us

    def take(self, frame: str | bytes) -> bool:
        """Process one frame; False once the window's end is reached (read no further)."""
        try:
            event = parse_frame(frame)
        except MalformedFrame as error:
            self._malformed.append(str(error))
            return True
        if event.time_us >= self.end_us:
            self._check_gap(event.time_us)
            self.reached_end = True
            return False
        if event.time_us < self.cursor_us or (event.time_us == self.cursor_us and event.identity in self.at_cursor):
            return True  # replayed from the cursor: processed before
        self._check_gap(event.time_us)
        try:
            self._process(event)
        except ValueError as error:  # a record whose uri or fields cannot make a mention
            self._malformed.append(f"{event.uri}: {error}")
        if event.time_us > self.cursor_us:
            self.cursor_us, self.at_cursor = event.time_us, set()
        self.at_cursor.add(event.identity)
        self.events_read += 1
        return True

    def next_cursor(self) -> dict[str, Any] | None:
        """The cursor to store (None, keeping the stored one, when no event was processed)."""
        return {"time_us": self.cursor_us, "at_cursor": sorted(self.at_cursor)} if self.events_read else None

    def malformed_warnings(self) -> list[str]:
        """One warning for the frames skipped as malformed, quoting the first few."""
        if not self._malformed:
            return []
        return [f"{len(self._malformed)} malformed frames skipped (the first: "
                + "; ".join(self._malformed[:MALFORMED_EXAMPLES]) + ")"]

    def _check_gap(self, time_us: int) -> None:
        asked, self._asked_us = self._asked_us, None
        if asked is not None and time_us - asked > self.gap_seconds * 1_000_000:
            if not self.events_read:
                self.started_us = time_us
            self.gaps.append(
                f"posts from {_when(_from_us(asked))} to {_when(_from_us(time_us))}: the stream started there, "
                "later than asked (beyond the instance's retention, or a gap in its record)"
            )

    def _process(self, event: StreamEvent) -> None:
        if event.kind != "commit":
            return
        if event.collection == POST_COLLECTION:
            if event.operation == "delete":
                if self.mentions.pop(event.uri, None) is not None:
                    self.deleted_keys.append(f"bluesky:{event.uri}")
                return
            self.posts_seen += 1
            record = event.record or {}
            text = record.get("text")
            if not isinstance(text, str) or not text:
                return
            langs = record.get("langs")
            lang = langs[0] if isinstance(langs, list) and langs and isinstance(langs[0], str) else None
            matchable = MatchableRecord(text, url=web_url(event.uri), platform="bluesky", lang_hint=lang)
            if self.matcher.match(text, matchable):
                self.mentions[event.uri] = mention_from_record(
                    event.uri, record, self.source, extras={"cid": event.cid, "did": event.did, "time_us": event.time_us}
                )
        elif event.collection == REPOST_COLLECTION and event.operation == "create":
            self.posts_seen += 1
            subject = (event.record or {}).get("subject")
            subject_uri = subject.get("uri") if isinstance(subject, dict) else None
            original = self.mentions.get(subject_uri) if isinstance(subject_uri, str) else None
            if original is not None and original.amplifies is None:
                self.mentions[event.uri] = Mention(
                    platform="bluesky", source=self.source, native_id=event.uri, url=original.url, text=original.text,
                    published_at=instant((event.record or {}).get("createdAt")), amplifies=original.key,
                    thread_id=original.thread_id, lang_hint=original.lang_hint,
                    extras={"cid": event.cid, "did": event.did, "time_us": event.time_us},
                )


def _resume_point(cursor: Mapping[str, Any] | None, warnings: list[str]) -> tuple[int | None, set[str]]:
    """The stored cursor's time and tie-break, or (None, {}) without one; a cursor that is not ours is
    reported and ignored (the run starts at its window's start)."""
    if not cursor:
        return None, set()
    time_us, at_cursor = cursor.get("time_us"), cursor.get("at_cursor", [])
    if (not isinstance(time_us, int) or isinstance(time_us, bool) or time_us <= 0
            or not isinstance(at_cursor, list) or not all(isinstance(item, str) for item in at_cursor)):
        warnings.append(f"the stored cursor {dict(cursor)!r} is not a Jetstream cursor and was ignored: "
                        "the run started at its window's start")
        return None, set()
    return time_us, set(at_cursor)


def _to_us(moment: datetime) -> int:
    """An instant as unix microseconds (Jetstream's time_us and cursor)."""
    return (moment - EPOCH) // timedelta(microseconds=1)


def _from_us(time_us: int) -> datetime:
    """Unix microseconds as an aware instant."""
    return EPOCH + timedelta(microseconds=time_us)


def _when(moment: datetime) -> str:
    """An instant as the ledger writes it: 2026-11-02 11:00:00 UTC."""
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
