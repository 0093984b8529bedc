"""Data API answers read into videos and mentions: pure functions of the decoded JSON.

A comment is a mention on platform `youtube`: its id, its text as written (`textOriginal`, else
`textDisplay`), its author (`authorDisplayName`, the @handle; `authorChannelId.value` in extras), its
likes and (for a top-level comment) its thread's reply count, its publication time, and its link
(`https://www.youtube.com/watch?v=<video>&lc=<comment>`, the address YouTube's own "copy link" gives).
A reply's parent is the top-level comment; every comment's thread is the video.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from core.mention import Mention

WATCH_URL = "https://www.youtube.com/watch"


@dataclass(frozen=True)
class VideoFound:
    """A video a search or a channel's uploads listed.

    Attributes:
        video_id: its id.
        published_at: when it was published.
        title: its title, when the answer gave it.
        channel_id: the channel it is on, when the answer gave it.
    """

    video_id: str
    published_at: datetime
    title: str = ""
    channel_id: str = ""


def parse_time(value: Any) -> datetime:
    """An RFC 3339 time of the API (`2026-11-02T09:15:00Z`) as a timezone-aware datetime.

    Raises:
        ValueError: it is not such a time.
    """
    if not isinstance(value, str):
        raise TypeError(f"a time that is {type(value).__name__}, not text")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"time {value!r} has no UTC offset")
    return moment


def next_page(document: Mapping[str, Any]) -> str | None:
    """The `nextPageToken` of a list answer; None on the last page."""
    token = document.get("nextPageToken")
    return token if isinstance(token, str) and token else None


def search_videos(document: Mapping[str, Any]) -> tuple[list[VideoFound], list[str]]:
    """The videos of a `youtube#searchListResponse` page, and a warning for each unreadable item."""
    found: list[VideoFound] = []
    warnings: list[str] = []
    for item in document.get("items", []):
        try:
            snippet = item["snippet"]
            found.append(VideoFound(
                str(item["id"]["videoId"]), parse_time(snippet["publishedAt"]), str(snippet.get("title") or ""),
                str(snippet.get("channelId") or ""),
            ))
        except (KeyError, TypeError, ValueError) as error:
            warnings.append(f"a search result was skipped ({error!r}): {str(item)[:120]}")
    return found, warnings


def uploads_playlists(document: Mapping[str, Any]) -> dict[str, str]:
    """Channel id -> uploads playlist id, from a `youtube#channelListResponse` (part=contentDetails)."""
    playlists: dict[str, str] = {}
    for item in document.get("items", []):
        try:
            playlists[str(item["id"])] = str(item["contentDetails"]["relatedPlaylists"]["uploads"])
        except (KeyError, TypeError):
            continue
    return playlists


def playlist_videos(document: Mapping[str, Any]) -> tuple[list[VideoFound], list[str]]:
    """The videos of a `youtube#playlistItemListResponse` page (part=snippet,contentDetails).

    An entry without `contentDetails.videoPublishedAt` (a private or deleted upload) is passed over
    silently, as YouTube lists it without one.
    """
    found: list[VideoFound] = []
    warnings: list[str] = []
    for item in document.get("items", []):
        try:
            details = item["contentDetails"]
            if "videoPublishedAt" not in details:
                continue
            snippet = item.get("snippet") or {}
            found.append(VideoFound(
                str(details["videoId"]), parse_time(details["videoPublishedAt"]), str(snippet.get("title") or ""),
                str(snippet.get("videoOwnerChannelId") or snippet.get("channelId") or ""),
            ))
        except (KeyError, TypeError, ValueError) as error:
            warnings.append(f"an upload was skipped ({error!r}): {str(item)[:120]}")
    return found, warnings


def thread_time(thread: Mapping[str, Any]) -> tuple[datetime, str]:
    """When a `youtube#commentThread`'s top-level comment was published, and the thread's id.

    Raises:
        KeyError, TypeError, ValueError: the thread has no readable id or time.
    """
    top = thread["snippet"]["topLevelComment"]
    return parse_time(top["snippet"]["publishedAt"]), str(thread.get("id") or top["id"])


def thread_mentions(
    thread: Mapping[str, Any], source: str, *, about_brand: str | None = None, video_title: str = ""
) -> list[Mention]:
    """A comment thread as mentions: its top-level comment, then the replies that came with it.

    Args:
        thread: a `youtube#commentThread` (part=snippet,replies).
        source: the source name.
        about_brand: the brand every comment belongs to (a configured channel's video), else None.
        video_title: kept in extras.

    Raises:
        KeyError, TypeError, ValueError: the top-level comment has no id, video or time.
    """
    snippet = thread["snippet"]
    top = snippet["topLevelComment"]
    video_id = str(snippet.get("videoId") or top["snippet"]["videoId"])
    replies = thread.get("replies", {}).get("comments", []) if isinstance(thread.get("replies"), Mapping) else []
    mentions = [comment_mention(top, video_id, source, about_brand, video_title,
                                reply_count=int(snippet.get("totalReplyCount") or 0))]
    for reply in replies:
        try:
            mentions.append(comment_mention(reply, video_id, source, about_brand, video_title))
        except (KeyError, TypeError, ValueError):
            continue  # a reply without an id or a time: the thread's other comments still count
    return mentions


def comment_mention(
    comment: Mapping[str, Any], video_id: str, source: str, about_brand: str | None, video_title: str,
    reply_count: int | None = None,
) -> Mention:
    """One `youtube#comment` as a mention (see the module docstring).

    Raises:
        KeyError, TypeError, ValueError: it has no id or no readable time.
    """
    comment_id = str(comment["id"])
    if not comment_id:
        raise ValueError("a comment with an empty id")
    snippet = comment["snippet"]
    published = parse_time(snippet["publishedAt"])
    parent = snippet.get("parentId")
    engagement = {"likes": int(snippet.get("likeCount") or 0)}
    if reply_count is not None:
        engagement["replies"] = reply_count
    author_channel = snippet.get("authorChannelId")
    return Mention(
        platform="youtube",
        source=source,
        native_id=comment_id,
        url=f"{WATCH_URL}?{urlencode({'v': video_id, 'lc': comment_id})}",
        text=str(snippet.get("textOriginal") or snippet.get("textDisplay") or ""),
        author_handle=str(snippet.get("authorDisplayName") or "") or None,
        published_at=published,
        engagement=engagement,
        parent_id=f"youtube:{parent}" if parent else None,
        thread_id=f"youtube:video:{video_id}",
        about_brand=about_brand,
        extras={
            "video_id": video_id, "video_title": video_title,
            "author_channel_id": author_channel.get("value") if isinstance(author_channel, Mapping) else None,
            "updated_at": snippet.get("updatedAt"),
        },
    )
