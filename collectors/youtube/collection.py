"""One run of one YouTube source: find videos, then read their new comments, within the day's quota.

The run spends its share of the day's quota (`DailyQuota`) in this order, cheapest finds first:

1. the configured channels' new uploads (`channels.list` once per 50 channels to learn each uploads
   playlist, kept in the cursor; then `playlistItems.list`, 1 unit a page);
2. the new comments of the videos already followed, newest video first (`commentThreads.list`, 1 unit
   a page of 100): recent videos of the brands' channels and videos their searches found;
3. one search per brand and competitor (`search.list`, 100 units a page) for videos published since
   its last search;
4. the comments of the videos those searches found, newest first.

A video is followed from the run that finds it until `follow_days` after it was published. Each
video's cursor is the newest comment read: a run reads newest first down to it (a first read, down to
the window's start). A video whose read is cut short keeps its old cursor, so nothing is skipped (the
pages read again cost units, not duplicates). What the quota left unread is reported in `left_out`
and read by later runs while the video is followed. A video whose comments are disabled, or that is
gone, is dropped with a line in `left_out`. YouTube's `quotaExceeded` stops the source at once,
keeping what it read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from collectors.source_run import SourceRun, Status
from collectors.youtube.api import QUOTA_COSTS, CommentsUnavailable, DataApi, QuotaExceeded
from collectors.youtube.parsing import (
    VideoFound,
    next_page,
    parse_time,
    playlist_videos,
    search_videos,
    thread_mentions,
    thread_time,
    uploads_playlists,
)
from config.model import YouTubeChannel, YouTubeSource
from core.errors import CollectorError, CredentialsRejected, TerminalError, TransientError
from core.mention import Mention
from core.time_budget import TimeBudget

CHANNELS_PER_CALL = 50


@dataclass
class FollowedVideo:
    """A video whose comments each run reads, and where its reading resumes.

    Attributes:
        video_id: its id.
        published_at: when it was published (it is followed `follow_days` from then).
        found_by: how it was found, in a user's words ("channel UC...", "search Brightwave|...").
        title: its title.
        brand: the brand of the configured channel it is on; None for a video found by search.
        newest: the newest comment read (None: never read); the next read stops there.
        seen: ids of the comments read at `newest`.
    """

    video_id: str
    published_at: datetime
    found_by: str
    title: str = ""
    brand: str | None = None
    newest: datetime | None = None
    seen: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The cursor's record of the video."""
        return {
            "published": self.published_at.isoformat(), "found_by": self.found_by, "title": self.title,
            "brand": self.brand, "newest": self.newest.isoformat() if self.newest else None, "seen": self.seen,
        }

    @classmethod
    def from_json(cls, video_id: str, record: Any) -> FollowedVideo | None:
        """The inverse of `to_json`; None when the record is unreadable."""
        try:
            return cls(
                video_id, parse_time(record["published"]), str(record["found_by"]), str(record.get("title") or ""),
                record.get("brand") if isinstance(record.get("brand"), str) else None,
                parse_time(record["newest"]) if record.get("newest") else None,
                [str(seen) for seen in record.get("seen") or []],
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            return None


class YouTubeRun:
    """One run of one YouTube source (see the module docstring).

    Args:
        source: the source's config.
        api: the Data API, charging the day's quota.
        queries: the searches, one per brand with terms (empty when `search` is off).
        window: the run's collection window.
        budget: the source's time budget.
    """

    def __init__(
        self, source: YouTubeSource, api: DataApi, queries: Sequence[str], window: tuple[datetime, datetime],
        budget: TimeBudget,
    ):
        self.source = source
        self.api = api
        self.quota = api.quota
        self.queries = list(queries)
        self.window_start, self.window_end = window
        self.horizon = self.window_end - timedelta(days=source.follow_days)
        self.budget = budget
        self.mentions: dict[str, Mention] = {}
        self.warnings: dict[str, None] = {}
        self.asked: list[str] = []
        self.left_out: list[str] = []
        self.items_fetched = 0
        self.answered = 0
        self.dropped: set[str] = set()
        self.stop: CollectorError | None = None

    def run(self, cursor: Mapping[str, Any] | None) -> SourceRun:
        """Collect within the quota and assemble the outcome, with its coverage ledger."""
        previous = cursor if isinstance(cursor, Mapping) else {}
        videos = self._followed(previous.get("videos"))
        channels = _mapping(previous.get("channels"))
        searches = _mapping(previous.get("searches"))
        channel_state: dict[str, dict[str, Any]] = {}
        search_state: dict[str, dict[str, Any]] = {}
        read: set[str] = set()
        try:
            if self.source.channels:
                channel_state = self._read_channels(channels, videos)
            self._read_comments(videos, read)
            for query in self.queries:
                search_state[query] = self._search(query, _mapping(searches.get(query)), videos)
            self._read_comments(videos, read)
        except CredentialsRejected as error:
            return self._outcome("failed", error=str(error))
        self._report_unread(videos, read)
        next_cursor = {
            "quota": self.quota.to_json(),
            "channels": channel_state,
            "searches": {query: state for query, state in search_state.items() if state},
            "videos": {video_id: video.to_json() for video_id, video in videos.items()},
        }
        if self.stop is not None and not self.answered:
            return self._outcome("failed", error=str(self.stop))
        if self.stop is not None:
            self._warn(f"{self.stop}; what was read is kept and the rest is read next run")
        polled_before = bool(previous.get("videos") or previous.get("searches"))
        status: Status = "ok" if self.mentions or videos or polled_before else "empty"
        return self._outcome(status, cursor=next_cursor)

    # --- videos -------------------------------------------------------------------------------

    @property
    def _brand_of_channel(self) -> dict[str, str]:
        return {channel.id: channel.brand for channel in self.source.channels}

    def _followed(self, stored: Any) -> dict[str, FollowedVideo]:
        """The stored videos still followed (published after the horizon)."""
        videos: dict[str, FollowedVideo] = {}
        for video_id, record in _mapping(stored).items():
            video = FollowedVideo.from_json(str(video_id), record)
            if video is not None and video.published_at >= self.horizon:
                videos[video.video_id] = video
        return videos

    def _follow(self, videos: dict[str, FollowedVideo], found: VideoFound, found_by: str, brand: str | None) -> bool:
        """Start following a video published after the horizon and up to the window's end; whether it is new."""
        if found.video_id in videos or found.video_id in self.dropped:
            return False
        if not self.horizon <= found.published_at < self.window_end:
            return False
        videos[found.video_id] = FollowedVideo(found.video_id, found.published_at, found_by, found.title, brand)
        return True

    def _read_channels(self, stored: Mapping[str, Any], videos: dict[str, FollowedVideo]) -> dict[str, dict[str, Any]]:
        """Each configured channel's uploads since the newest one seen; returns the channels' cursors."""
        states = {channel.id: dict(_mapping(stored.get(channel.id))) for channel in self.source.channels}
        unknown = [channel.id for channel in self.source.channels if not isinstance(states[channel.id].get("uploads"), str)]
        for start in range(0, len(unknown), CHANNELS_PER_CALL):
            batch = unknown[start : start + CHANNELS_PER_CALL]
            document = self._call("channels", f"the uploads playlists of {len(batch)} channels",
                                  part="contentDetails", id=",".join(batch), maxResults=CHANNELS_PER_CALL)
            if document is None:
                break
            playlists = uploads_playlists(document)
            for channel_id in batch:
                if channel_id in playlists:
                    states[channel_id]["uploads"] = playlists[channel_id]
                else:
                    self.left_out.append(f"channel {channel_id}: YouTube knows no such channel; check its id in the config")
        for channel in self.source.channels:
            state = states[channel.id]
            if isinstance(state.get("uploads"), str):
                self.asked.append(f"uploads of channel {channel.id} ({channel.brand})")
                state["newest"] = self._read_uploads(channel, state["uploads"], state.get("newest"), videos)
        return {channel_id: state for channel_id, state in states.items() if state.get("uploads")}

    def _read_uploads(
        self, channel: YouTubeChannel, playlist: str, newest: Any, videos: dict[str, FollowedVideo]
    ) -> str | None:
        """Page through a channel's uploads, newest first, down to the newest seen or the horizon."""
        seen_newest = _stored_time(newest)
        stop = seen_newest or self.horizon
        latest = seen_newest
        token: str | None = None
        while True:
            params: dict[str, str | int] = {"part": "snippet,contentDetails", "playlistId": playlist, "maxResults": 50}
            document = self._call("playlistItems", f"uploads of channel {channel.id}", **params,
                                  **({"pageToken": token} if token else {}))
            if document is None:
                return seen_newest.isoformat() if seen_newest else None
            found, warnings = playlist_videos(document)
            for warning in warnings:
                self._warn(f"channel {channel.id}: {warning}")
            for video in found:
                if video.published_at >= self.window_end or video.published_at <= stop:
                    continue  # the next run's, or seen by an earlier run
                latest = max(latest, video.published_at) if latest else video.published_at
                self._follow(videos, video, f"channel {channel.id}", channel.brand)
            token = next_page(document)
            if token is None or not found or min(video.published_at for video in found) <= stop:
                return latest.isoformat() if latest else None

    def _search(self, query: str, stored: Mapping[str, Any], videos: dict[str, FollowedVideo]) -> dict[str, Any]:
        """One brand's search for videos published since its last search; returns its cursor."""
        self.asked.append(f"search: {query}")
        after = _stored_time(stored.get("after"))
        if self.stop is not None or not self.quota.can_pay(QUOTA_COSTS["search"]):
            self.left_out.append(f"search {query}: {self._why_unread(QUOTA_COSTS['search'])}")
            return dict(stored)
        published_after = max(after, self.horizon) if after else self.horizon
        token: str | None = None
        pages = 0
        while True:
            if token and not self.quota.can_pay(QUOTA_COSTS["search"]):
                self.left_out.append(
                    f"search {query}: stopped after {pages} pages of results ({self._why_unread(QUOTA_COSTS['search'])}); "
                    "the next run searches the same period again"
                )
                return dict(stored)
            params: dict[str, str | int] = {
                "part": "snippet", "type": "video", "q": query, "order": "date", "maxResults": 50,
                "publishedAfter": _rfc3339(published_after), "publishedBefore": _rfc3339(self.window_end),
            }
            document = self._call("search", f"search {query}", **params, **({"pageToken": token} if token else {}))
            if document is None:
                return dict(stored)
            pages += 1
            found, warnings = search_videos(document)
            for warning in warnings:
                self._warn(f"search {query}: {warning}")
            for video in found:  # a configured channel's video is its brand's, however it was found
                self._follow(videos, video, f"search {query}", self._brand_of_channel.get(video.channel_id))
            token = next_page(document)
            if token is None:
                return {"after": self.window_end.isoformat()}

    # --- comments -----------------------------------------------------------------------------

    def _read_comments(self, videos: dict[str, FollowedVideo], read: set[str]) -> None:
        """The new comments of every followed video not read yet this run, newest video first."""
        for video in sorted(videos.values(), key=lambda video: video.published_at, reverse=True):
            if video.video_id in read:
                continue
            if self.stop is not None or not self.quota.can_pay(QUOTA_COSTS["commentThreads"]):
                return
            read.add(video.video_id)
            try:
                self._read_video(video)
            except CommentsUnavailable as error:
                self.left_out.append(str(error))
                self.dropped.add(video.video_id)
                del videos[video.video_id]

    def _read_video(self, video: FollowedVideo) -> None:
        """A video's comments newest first, down to its cursor (first read: the window's start)."""
        stop = video.newest or self.window_start
        seen = set(video.seen) if video.newest else set()
        newest = video.newest
        at_newest = list(video.seen)
        token: str | None = None
        while True:
            params: dict[str, str | int] = {
                "part": "snippet,replies", "videoId": video.video_id, "order": "time", "textFormat": "plainText",
                "maxResults": 100,
            }
            document = self._call("commentThreads", f"comments of video {video.video_id}", **params,
                                  **({"pageToken": token} if token else {}))
            if document is None:
                return  # cut short: the video keeps its cursor
            reached = False
            for thread in document.get("items", []):
                try:
                    published, thread_id = thread_time(thread)
                except (KeyError, TypeError, ValueError) as error:
                    self._warn(f"video {video.video_id}: a comment thread was skipped ({error!r}): {str(thread)[:120]}")
                    continue
                if published >= self.window_end:
                    continue  # the next run's
                if published < stop or (published == stop and thread_id in seen):
                    reached = True
                    break
                mentions = thread_mentions(thread, self.source.name, about_brand=video.brand, video_title=video.title)
                self.items_fetched += len(mentions)
                for mention in mentions:
                    self.mentions.setdefault(mention.key, mention)
                if newest is None or published > newest:
                    newest, at_newest = published, [thread_id]
                elif published == newest:
                    at_newest.append(thread_id)
            token = next_page(document)
            if reached or token is None:
                video.newest, video.seen = newest, at_newest
                return

    def _report_unread(self, videos: Mapping[str, FollowedVideo], read: set[str]) -> None:
        unread = [video_id for video_id in videos if video_id not in read]
        self.asked.append(f"comments of {len(read)} videos")
        if unread:
            self.left_out.append(f"comments of {len(unread)} videos: {self._why_unread()}")

    # --- calls and outcome ----------------------------------------------------------------------

    def _call(self, method: str, what: str, **params: str | int) -> dict[str, Any] | None:
        """One call, or None when the run must stop (the quota, the time budget, a failure: see `stop`).

        Raises:
            CredentialsRejected: YouTube refused the key.
            CommentsUnavailable: (commentThreads) the video's comments cannot be read.
        """
        if self.stop is not None:
            return None
        if self.budget.spent:
            self.stop = TransientError(f"the source's {self.budget.seconds:g} s time budget was spent")
            return None
        if not self.quota.can_pay(QUOTA_COSTS[method]):
            self.left_out.append(f"{what}: {self._why_unread(QUOTA_COSTS[method])}")
            return None
        try:
            document = self.api.call(method, **params)
        except (CredentialsRejected, CommentsUnavailable):
            raise
        except (QuotaExceeded, TransientError) as error:
            self.stop = error
            return None
        except TerminalError as error:
            self._warn(f"{what}: {error}")
            self.left_out.append(f"{what}: {error}")
            return None
        self.answered += 1
        return document

    def _why_unread(self, cost: int = 1) -> str:
        """Why something was not asked this run, for `left_out`."""
        resets = f"it resets at midnight Pacific time, {self.quota.resets_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        if isinstance(self.stop, QuotaExceeded) or self.quota.refused:
            return f"the day's quota was spent (YouTube answered quotaExceeded; {resets})"
        if self.stop is not None:
            return "the run stopped early"
        if self.quota.left < cost:
            return (f"the day's quota was spent (daily_quota_units {self.quota.budget}: {self.quota.left} units left, "
                    f"this needs {cost}; {resets})")
        return (f"this run's share of the day's quota was spent ({self.quota.allowance} units); later runs today "
                "read on")

    def _warn(self, warning: str) -> None:
        self.warnings[warning] = None

    def _outcome(self, status: Status, *, error: str | None = None, cursor: dict[str, Any] | None = None) -> SourceRun:
        return SourceRun(
            self.source.name, self.source.kind, status, mentions=[] if status == "failed" else list(self.mentions.values()),
            items_fetched=self.items_fetched, cursor=cursor, error=error, warnings=list(self.warnings), asked=self.asked,
            quota=self.quota.quota_use(), left_out=self.left_out,
        )


def _stored_time(value: Any) -> datetime | None:
    """A time the cursor holds; None when it holds none readable (a fresh start)."""
    try:
        return parse_time(value)
    except (TypeError, ValueError):
        return None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _rfc3339(moment: datetime) -> str:
    """A time as the API's filters take it: UTC, with `Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
