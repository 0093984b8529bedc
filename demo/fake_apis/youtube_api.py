"""A fake YouTube Data API v3 on loopback, for the demo and the tests. Standard library only.

`FakeYouTubeApi` serves, under `/youtube/v3`, the four methods the `youtube` collector calls, in the
API's own wire format (`kind`, `etag`, `pageInfo`, opaque `nextPageToken`s), and answers the way the
real API does where a collector can tell the difference:

- `search` (`part=snippet`, `type=video`, `q`, `channelId`, `publishedAfter`, `publishedBefore`,
  `order=date`, `maxResults`, `pageToken`): videos whose title or description matches `q`, newest
  first. `q` is read as YouTube documents it: alternatives joined with `|`, a `-word` excludes,
  "quoted phrases" are phrases, matched case-insensitively. Deleted videos are not found.
- `channels` (`part=contentDetails`, `id` with up to 50 comma-separated ids): each known channel's
  `contentDetails.relatedPlaylists.uploads`; unknown ids are left out of `items`, as the API does.
- `playlistItems` (`part=snippet,contentDetails`, `playlistId`, `maxResults`, `pageToken`): an uploads
  playlist, newest upload first; 404 `playlistNotFound` for an unknown playlist.
- `commentThreads` (`part=snippet,replies`, `videoId`, `order=time`, `textFormat`, `maxResults`,
  `pageToken`): the video's threads, newest first; 403 `commentsDisabled`, 404 `videoNotFound` for a
  deleted or unknown video.

Every page is at most `page_size` items (and at most the method's `maxResults` ceiling). The key comes
in the `X-Goog-Api-Key` header or the `key` parameter: none is 403 `forbidden`, a wrong one is 400
`keyInvalid`. Each call costs its method's quota units (search 100, the others 1) against
`daily_quota`; a call the quota left cannot pay for is 403 `quotaExceeded` and costs nothing. Errors
have the API's body: `{"error": {"code", "message", "errors": [{"message", "domain", "reason"}]}}`.

Tests add channels, videos and comments (`add_channel`, `add_video`, `add_comment`), script failures
with `fail(...)`, and read `requests` and `quota_used`. `from_corpus` loads `demo/corpus/youtube.json`.

Run `python -m demo.fake_apis.youtube_api` to serve the sample corpus by hand.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

from demo.fake_apis.loopback import LoopbackServer, QuietRequestHandler, wait_until_interrupted

CORPUS_FILE = Path(__file__).resolve().parents[1] / "corpus" / "youtube.json"
DEMO_API_KEY = "demo-youtube-api-key"
API_PATH = "/youtube/v3"
QUOTA_COSTS = {"search": 100, "channels": 1, "playlistItems": 1, "commentThreads": 1}
MAX_RESULTS = {"search": 50, "channels": 50, "playlistItems": 50, "commentThreads": 100}

_Answer = tuple[int, bytes]
_TERM = re.compile(r'(-?)"([^"]+)"|(-?)(\S+)')


@dataclass
class FakeVideo:
    """A video the fake knows: its search snippet's fields, and what its comments do."""

    video_id: str
    channel_id: str
    title: str
    published_at: str
    description: str = ""
    comments_disabled: bool = False
    deleted: bool = False
    threads: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class SeenRequest:
    """A request the fake received: its method name (search, channels, ...), parameters and quota cost."""

    method: str
    params: dict[str, str]
    cost: int


class FakeYouTubeApi(LoopbackServer):
    """The fake Data API on `host`, on `port` (0: a free one), until stopped.

    Args:
        api_key: the one key it accepts.
        daily_quota: quota units it grants before answering `quotaExceeded`.
        page_size: the largest page any method answers with.
        host: the loopback address to bind.
        port: the port; 0 picks a free one.

    Attributes:
        channels: channel id -> title.
        videos: video id -> `FakeVideo`.
        quota_used: units spent so far (`reset_quota` starts a new day).
        requests: every call that reached a method, in order.
        api_url: what `YouTubeSource.api_base_url` is set to.
    """

    def __init__(
        self, api_key: str = DEMO_API_KEY, daily_quota: int = 10_000, page_size: int = 50,
        host: str = "127.0.0.1", port: int = 0,
    ):
        self.api_key = api_key
        self.daily_quota = daily_quota
        self.page_size = page_size
        self.channels: dict[str, str] = {}
        self.videos: dict[str, FakeVideo] = {}
        self.quota_used = 0
        self.requests: list[SeenRequest] = []
        self._failures: list[tuple[str, int, bytes, int]] = []
        self._lock = threading.Lock()
        self._bind(host, port, _handler_for(self))
        self.api_url = self.base_url + API_PATH

    @classmethod
    def from_corpus(cls, corpus_file: Path = CORPUS_FILE, **settings: Any) -> Self:
        """A fake serving the channels, videos and comments of a corpus file (see `demo/corpus/youtube.json`)."""
        api = cls(**settings)
        api.load(json.loads(Path(corpus_file).read_text(encoding="utf-8")))
        return api

    def load(self, corpus: dict[str, Any]) -> None:
        """Add a corpus: `{"channels": [{"id", "title"}], "videos": [{"id", "channel", "title", "published",
        "description"?, "comments_disabled"?, "deleted"?, "comments": [{"id", "author", "text", "published",
        "likes"?, "replies"?: [{"id", "author", "text", "published", "likes"?}]}]}]}`."""
        for channel in corpus.get("channels", []):
            self.add_channel(channel["id"], channel["title"])
        for video in corpus.get("videos", []):
            self.add_video(
                video["id"], video["channel"], video["title"], video["published"], video.get("description", ""),
                comments_disabled=video.get("comments_disabled", False), deleted=video.get("deleted", False),
            )
            for comment in video.get("comments", []):
                self.add_comment(
                    video["id"], comment["id"], comment["author"], comment["text"], comment["published"],
                    likes=comment.get("likes", 0), replies=comment.get("replies", ()),
                )

    def add_channel(self, channel_id: str, title: str) -> None:
        """A channel whose uploads playlist is `UU` + the id after `UC`, as YouTube names them."""
        self.channels[channel_id] = title

    def add_video(
        self, video_id: str, channel_id: str, title: str, published_at: str, description: str = "", *,
        comments_disabled: bool = False, deleted: bool = False,
    ) -> FakeVideo:
        """A video on a channel (added with `add_channel` when unknown), published at an ISO 8601 time."""
        self.channels.setdefault(channel_id, f"Channel {channel_id[-4:]}")
        video = FakeVideo(video_id, channel_id, title, published_at, description, comments_disabled, deleted)
        self.videos[video_id] = video
        return video

    def add_comment(
        self, video_id: str, comment_id: str, author: str, text: str, published_at: str, *, likes: int = 0,
        replies: Iterable[dict[str, Any]] = (),
    ) -> dict[str, Any]:
        """A top-level comment on a video, with its replies (`{"id", "author", "text", "published", "likes"?}`),
        as the `youtube#commentThread` resource the API returns."""
        video = self.videos[video_id]
        replies = list(replies)
        top = _comment(comment_id, video, author, text, published_at, likes)
        thread: dict[str, Any] = {
            "kind": "youtube#commentThread", "etag": _etag(comment_id), "id": comment_id,
            "snippet": {"channelId": video.channel_id, "videoId": video_id, "topLevelComment": top, "canReply": True,
                        "totalReplyCount": len(replies), "isPublic": True},
        }
        if replies:
            thread["replies"] = {"comments": [
                _comment(f"{comment_id}.{reply['id']}", video, reply["author"], reply["text"], reply["published"],
                         reply.get("likes", 0), parent=comment_id)
                for reply in replies
            ]}
        video.threads.append(thread)
        return thread

    def reset_quota(self) -> None:
        """A new day: the quota is whole again (the real one resets at midnight Pacific time)."""
        with self._lock:
            self.quota_used = 0

    def fail(self, method: str, status: int = 503, body: bytes = b'{"error": {"code": 503}}', times: int = 1) -> None:
        """Answer the next `times` calls of `method` (search, channels, playlistItems, commentThreads) with
        `status` and `body`."""
        with self._lock:
            self._failures.append((method, status, body, times))

    def calls(self, method: str) -> list[SeenRequest]:
        """The calls of one method, in order."""
        return [request for request in self.requests if request.method == method]

    # --- dispatch ---------------------------------------------------------------------------

    def answer(self, path: str, params: dict[str, str], headers: dict[str, str]) -> _Answer:
        """What the fake says to a GET of `path`."""
        method = path.removeprefix(API_PATH + "/") if path.startswith(API_PATH + "/") else ""
        if method not in QUOTA_COSTS:
            return _error(404, "notFound", "global", f"No such method: {path}")
        key = headers.get("x-goog-api-key") or params.get("key")
        if not key:
            return _error(403, "forbidden", "global", "The request is missing a valid API key.")
        if key != self.api_key:
            return _error(400, "keyInvalid", "usageLimits", "API key not valid. Please pass a valid API key.")
        with self._lock:
            for position, (failing, status, body, times) in enumerate(self._failures):
                if failing == method and times > 0:
                    self._failures[position] = (failing, status, body, times - 1)
                    self.requests.append(SeenRequest(method, params, 0))
                    return status, body
            cost = QUOTA_COSTS[method]
            if self.quota_used + cost > self.daily_quota:
                self.requests.append(SeenRequest(method, params, 0))
                return _error(403, "quotaExceeded", "youtube.quota", (
                    'The request cannot be completed because you have exceeded your '
                    '<a href="/youtube/v3/getting-started#quota">quota</a>.'
                ))
            self.quota_used += cost
            self.requests.append(SeenRequest(method, params, cost))
        size = min(self.page_size, MAX_RESULTS[method], max(1, int(params.get("maxResults") or 5)))
        if method == "search":
            return self._search(params, size)
        if method == "channels":
            return self._channels(params)
        if method == "playlistItems":
            return self._playlist_items(params, size)
        return self._comment_threads(params, size)

    def _search(self, params: dict[str, str], size: int) -> _Answer:
        after, before = params.get("publishedAfter"), params.get("publishedBefore")
        found = [
            video for video in self.videos.values()
            if not video.deleted and matches(params.get("q", ""), f"{video.title}\n{video.description}")
            and (not params.get("channelId") or video.channel_id == params["channelId"])
            and (not after or _instant(video.published_at) >= _instant(after))
            and (not before or _instant(video.published_at) < _instant(before))
        ]
        found.sort(key=lambda video: _instant(video.published_at), reverse=True)
        items = [
            {"kind": "youtube#searchResult", "etag": _etag(video.video_id),
             "id": {"kind": "youtube#video", "videoId": video.video_id},
             "snippet": {**self._snippet(video), "liveBroadcastContent": "none", "publishTime": video.published_at}}
            for video in found
        ]
        return _page("youtube#searchListResponse", items, params, size, regionCode="GB")

    def _channels(self, params: dict[str, str]) -> _Answer:
        ids = [part for part in params.get("id", "").split(",") if part]
        if len(ids) > 50:
            return _error(400, "invalidParameter", "youtube.parameter", "Too many channel ids (at most 50).")
        items = [
            {"kind": "youtube#channel", "etag": _etag(channel_id), "id": channel_id,
             "contentDetails": {"relatedPlaylists": {"likes": "", "uploads": uploads_playlist(channel_id)}}}
            for channel_id in ids if channel_id in self.channels
        ]
        document = {"kind": "youtube#channelListResponse", "etag": _etag(params.get("id", "")),
                    "pageInfo": {"totalResults": len(items), "resultsPerPage": 5}, "items": items}
        return 200, _json(document)

    def _playlist_items(self, params: dict[str, str], size: int) -> _Answer:
        playlist = params.get("playlistId", "")
        channel = next((channel for channel in self.channels if uploads_playlist(channel) == playlist), None)
        if channel is None:
            return _error(404, "playlistNotFound", "youtube.playlistItem", (
                "The playlist identified with the request's <code>playlistId</code> parameter cannot be found."
            ))
        uploads = sorted(
            (video for video in self.videos.values() if video.channel_id == channel and not video.deleted),
            key=lambda video: _instant(video.published_at), reverse=True,
        )
        items = [
            {"kind": "youtube#playlistItem", "etag": _etag(playlist + video.video_id), "id": _etag(playlist + video.video_id),
             "snippet": {**self._snippet(video), "playlistId": playlist, "position": position,
                         "resourceId": {"kind": "youtube#video", "videoId": video.video_id},
                         "videoOwnerChannelTitle": self.channels[channel], "videoOwnerChannelId": channel},
             "contentDetails": {"videoId": video.video_id, "videoPublishedAt": video.published_at}}
            for position, video in enumerate(uploads)
        ]
        return _page("youtube#playlistItemListResponse", items, params, size)

    def _comment_threads(self, params: dict[str, str], size: int) -> _Answer:
        video = self.videos.get(params.get("videoId", ""))
        if video is None or video.deleted:
            return _error(404, "videoNotFound", "youtube.commentThread", (
                "The video identified by the <code><a href=\"/youtube/v3/docs/commentThreads/list#videoId\">videoId"
                "</a></code> parameter could not be found."
            ))
        if video.comments_disabled:
            return _error(403, "commentsDisabled", "youtube.commentThread", (
                "The video identified by the <code><a href=\"/youtube/v3/docs/commentThreads/list#videoId\">videoId"
                "</a></code> parameter has disabled comments."
            ))
        threads = sorted(
            video.threads, key=lambda thread: _instant(thread["snippet"]["topLevelComment"]["snippet"]["publishedAt"]),
            reverse=True,
        )
        if "replies" not in params.get("part", ""):
            threads = [{name: value for name, value in thread.items() if name != "replies"} for thread in threads]
        return _page("youtube#commentThreadListResponse", threads, params, size)

    def _snippet(self, video: FakeVideo) -> dict[str, Any]:
        return {
            "publishedAt": video.published_at, "channelId": video.channel_id, "title": video.title,
            "description": video.description,
            "thumbnails": {"default": {"url": f"https://i.ytimg.com/vi/{video.video_id}/default.jpg", "width": 120,
                                       "height": 90}},
            "channelTitle": self.channels.get(video.channel_id, ""),
        }


def uploads_playlist(channel_id: str) -> str:
    """A channel's uploads playlist id: `UC...` becomes `UU...`."""
    return "UU" + channel_id[2:]


def matches(query: str, text: str) -> bool:
    """Whether `text` matches a YouTube `q`: any `|` alternative whose terms all appear (a `-term` must not)."""
    folded = text.lower()
    for alternative in query.split("|"):
        terms = [(bool(match[1] or match[3]), (match[2] or match[4]).lower()) for match in _TERM.finditer(alternative)]
        if terms and all((term not in folded) if excluded else (term in folded) for excluded, term in terms):
            return True
    return False


def _comment(
    comment_id: str, video: FakeVideo, author: str, text: str, published_at: str, likes: int, parent: str | None = None
) -> dict[str, Any]:
    snippet: dict[str, Any] = {
        "channelId": video.channel_id, "videoId": video.video_id, "textDisplay": text, "textOriginal": text,
        "authorDisplayName": author, "authorProfileImageUrl": f"https://yt3.ggpht.example/{author.strip('@')}.jpg",
        "authorChannelUrl": f"http://www.youtube.com/{author}",
        "authorChannelId": {"value": "UC" + hashlib.sha1(author.encode()).hexdigest()[:22]},
        "canRate": True, "viewerRating": "none", "likeCount": likes, "publishedAt": published_at, "updatedAt": published_at,
    }
    if parent:
        snippet["parentId"] = parent
    return {"kind": "youtube#comment", "etag": _etag(comment_id), "id": comment_id, "snippet": snippet}


def _page(kind: str, items: list[dict[str, Any]], params: dict[str, str], size: int, **extra: Any) -> _Answer:
    """One page of a list, from the offset its page token holds."""
    token = params.get("pageToken")
    try:
        start = int(base64.urlsafe_b64decode(token.encode()).decode().removeprefix("offset:")) if token else 0
    except ValueError:
        return _error(400, "invalidPageToken", "youtube.parameter", "The request specifies an invalid page token.")
    document: dict[str, Any] = {"kind": kind, "etag": _etag(f"{kind}{start}"), **extra}
    if start + size < len(items):
        document["nextPageToken"] = base64.urlsafe_b64encode(f"offset:{start + size}".encode()).decode()
    document["pageInfo"] = {"totalResults": len(items), "resultsPerPage": size}
    document["items"] = items[start : start + size]
    return 200, _json(document)


def _error(status: int, reason: str, domain: str, message: str) -> _Answer:
    return status, _json({"error": {"code": status, "message": message,
                                    "errors": [{"message": message, "domain": domain, "reason": reason}]}})


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _etag(seed: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha1(seed.encode()).digest()).decode()[:27]


def _json(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def _handler_for(api: FakeYouTubeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_GET(self) -> None:  # http.server's naming
            parts = urlsplit(self.path)
            status, payload = api.answer(
                parts.path, dict(parse_qsl(parts.query, keep_blank_values=True)),
                {name.lower(): value for name, value in self.headers.items()},
            )
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


def main(argv: Iterable[str] | None = None) -> None:
    """Serve the sample corpus until interrupted, printing what to configure the source with."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8770, help="port on 127.0.0.1 (default 8770)")
    arguments = parser.parse_args(list(argv) if argv is not None else None)
    with FakeYouTubeApi.from_corpus(port=arguments.port) as api:
        print(f"youtube  api_base_url: {api.api_url}  (connection password: {api.api_key})")
        wait_until_interrupted()


if __name__ == "__main__":
    main()
