"""Reddit's answers read into items and mentions: pure functions of the decoded JSON or feed bytes.

Listings (`{"kind": "Listing", "data": {"children", "after"}}`) become pages of `(kind, data)`
items, a `/comments/{id}` answer a thread with its comment tree flattened, a `search.rss` feed a
page shaped like the API's posts; posts (t3) and comments (t1) become mentions.
"""

from __future__ import annotations

import calendar
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import feedparser
import lxml.etree
import lxml.html

from collectors.html_text import html_to_text
from core.errors import TerminalError, TransientError
from core.mention import Mention

PLATFORM = "reddit"
# What Reddit puts in place of a body, and of an author, that is gone.
GONE_MARKERS = frozenset({"[deleted]", "[removed]"})

@dataclass(frozen=True)
class Page:
    """One page of a newest-first listing.

    Attributes:
        items: `(kind, data)` pairs: kind is t3 (post) or t1 (comment), data the object's fields.
        after: the token of the next page, None on the last one.
    """

    items: list[tuple[str, dict[str, Any]]]
    after: str | None


@dataclass(frozen=True)
class Thread:
    """A post as `/comments/{id}` returns it, with its comments flattened.

    Attributes:
        post: the post's fields, as fresh as the thread.
        comments: every comment in the thread, parents before replies.
        more: how many comments sat behind "load more" stubs and were not fetched.
    """

    post: dict[str, Any]
    comments: list[dict[str, Any]]
    more: int


def is_gone(data: Mapping[str, Any]) -> bool:
    """Whether a post or comment itself was deleted or removed: its body is `[deleted]` or `[removed]`,
    or Reddit names why it was removed (`removed_by_category`, the only sign on a removed link post).

    An author shown as `[deleted]` (or missing) with the body intact is a deleted account, not a
    deleted post: the post is still public, and is kept without an author.
    """
    if data.get("removed_by_category"):
        return True
    text = data.get("body") if "body" in data else data.get("selftext")
    return isinstance(text, str) and text.strip() in GONE_MARKERS


def fullname(kind: str, data: Mapping[str, Any]) -> str:
    """The object's fullname (t3_abc, t1_def): Reddit's id, unique across kinds."""
    return str(data.get("name") or f"{kind}_{data['id']}")


def post_mention(post: Mapping[str, Any], source: str, reddit_url: str) -> Mention:
    """A mention from a post's fields (a t3 object's `data`).

    Args:
        post: the post as the API (or the feed fallback) gives it.
        source: the configured source name.
        reddit_url: the base of permalinks (https://www.reddit.com).

    Returns:
        The mention; text is the title and the self-text. A score Reddit hides for now (`hide_score`)
        is a placeholder and is left out of `engagement`; a deleted account leaves no author.
    """
    name = fullname("t3", post)
    title = post.get("title") or ""
    selftext = post.get("selftext") or ""
    author = _author(post)
    score_hidden = post.get("hide_score") is True
    return Mention(
        platform=PLATFORM,
        source=source,
        native_id=name,
        url=_permalink(reddit_url, post.get("permalink"))
        or f"{reddit_url.rstrip('/')}/comments/{name.removeprefix('t3_')}/",
        text=f"{title}\n\n{selftext}" if selftext else title,
        title=title,
        author_handle=f"u/{author}" if author else None,
        author_name=author,
        author_followers=None,
        published_at=datetime.fromtimestamp(float(post["created_utc"]), tz=UTC),
        engagement=_counts(score=None if score_hidden else post.get("score"), comments=post.get("num_comments"),
                           upvote_ratio=post.get("upvote_ratio")),
        thread_id=name,
        amplifies=f"{PLATFORM}:{post['crosspost_parent']}" if isinstance(post.get("crosspost_parent"), str) else None,
        shared_links=[link] if not post.get("is_self") and (link := post.get("url_overridden_by_dest") or post.get("url")) else [],
        community_size=_community_size(post),
        score_hidden=score_hidden,
        publisher=post.get("subreddit_name_prefixed"),
        extras=_extras(post),
    )


def comment_mention(comment: Mapping[str, Any], source: str, reddit_url: str) -> Mention:
    """A mention from a comment's fields (a t1 object's `data`); parent and thread point at Reddit fullnames.

    A comment whose score Reddit hides for now (`score_hidden`) carries a placeholder score: it is
    left out of `engagement` (unknown, not 1). A comment without a `permalink` (older and some
    listing answers) gets the URL Reddit builds from its post and its id.
    """
    name = fullname("t1", comment)
    parent = comment.get("parent_id")
    thread = comment.get("link_id")
    author = _author(comment)
    score_hidden = comment.get("score_hidden") is True
    url = _permalink(reddit_url, comment.get("permalink"))
    if url is None and isinstance(thread, str) and thread:
        url = f"{reddit_url.rstrip('/')}/comments/{thread.removeprefix('t3_')}/_/{name.removeprefix('t1_')}/"
    return Mention(
        platform=PLATFORM,
        source=source,
        native_id=name,
        url=url,
        text=comment.get("body") or "",
        author_handle=f"u/{author}" if author else None,
        author_name=author,
        author_followers=None,
        published_at=datetime.fromtimestamp(float(comment["created_utc"]), tz=UTC),
        engagement=_counts(score=None if score_hidden else comment.get("score")),
        parent_id=f"{PLATFORM}:{parent}" if parent else None,
        thread_id=thread,
        community_size=_community_size(comment),
        score_hidden=score_hidden,
        publisher=comment.get("subreddit_name_prefixed"),
        extras=_extras(comment),
    )


def parse_listing(payload: Any, endpoint: str) -> Page:
    """The items and next-page token of a Listing (`{"kind": "Listing", "data": {"children", "after"}}`).

    Raises:
        TransientError: the payload is not a Listing of objects with a creation time.
    """
    if not isinstance(payload, Mapping) or payload.get("kind") != "Listing" or not isinstance(payload.get("data"), Mapping):
        raise _unexpected(endpoint, "a Listing")
    data = payload["data"]
    children = data.get("children")
    if not isinstance(children, list):
        raise _unexpected(endpoint, "a Listing with children")
    items = []
    for child in children:
        if not isinstance(child, Mapping) or not isinstance(child.get("data"), Mapping):
            raise _unexpected(endpoint, "Listing children with data")
        kind, item = child.get("kind"), dict(child["data"])
        if kind in ("t1", "t3"):
            if not isinstance(item.get("created_utc"), int | float) or not (item.get("name") or item.get("id")):
                raise _unexpected(endpoint, f"{kind} objects with an id and created_utc")
            items.append((kind, item))
    after = data.get("after")
    return Page(items, after if isinstance(after, str) and after else None)


def parse_thread(payload: Any, endpoint: str) -> Thread:
    """A `/comments/{id}` answer (`[post Listing, comment Listing]`) with the comment tree flattened.

    Raises:
        TransientError: the payload does not have that shape.
    """
    if not isinstance(payload, list) or len(payload) != 2:
        raise _unexpected(endpoint, "a post Listing and a comment Listing")
    posts = [data for kind, data in parse_listing(payload[0], endpoint).items if kind == "t3"]
    if not posts:
        raise _unexpected(endpoint, "the thread's post")
    comments: list[dict[str, Any]] = []
    more = 0
    pending = deque([payload[1]])
    while pending:
        listing = pending.popleft()
        if not isinstance(listing, Mapping) or not isinstance(listing.get("data"), Mapping):
            raise _unexpected(endpoint, "comment Listings")
        for child in listing["data"].get("children") or []:
            if not isinstance(child, Mapping) or not isinstance(child.get("data"), Mapping):
                raise _unexpected(endpoint, "comment Listing children with data")
            data = child["data"]
            if child.get("kind") == "more":
                more += int(data.get("count") or 0)
            elif child.get("kind") == "t1":
                if not isinstance(data.get("created_utc"), int | float):
                    raise _unexpected(endpoint, "comments with created_utc")
                comments.append({key: value for key, value in data.items() if key != "replies"})
                if isinstance(data.get("replies"), Mapping):
                    pending.append(data["replies"])
    return Thread(posts[0], comments, more)


def parse_search_feed(body: bytes, feed_url: str, headers: Mapping[str, str] | None = None) -> Page:
    """Posts from a `search.rss` Atom feed, shaped like the API's t3 fields (no scores, no comment counts).

    The next-page token is the last entry's fullname; an empty feed is the last page.

    Raises:
        TerminalError: the body is not a feed.
    """
    # No content-location: feedparser would resolve the entries' ids (t3_...) against it as if they were URLs.
    response_headers = {key.lower(): value for key, value in (headers or {}).items() if key.lower() != "content-location"}
    document = feedparser.parse(body, response_headers=response_headers)
    if not document.version and not document.entries:
        raise TerminalError(f"{feed_url} did not return an Atom feed ({response_headers.get('content-type', 'no content type')})")
    items: list[tuple[str, dict[str, Any]]] = []
    for entry in document.entries:
        name = str(entry.get("id") or "")
        moment = entry.get("published_parsed") or entry.get("updated_parsed")
        if not name.startswith("t3_") or not moment:
            continue
        tags = entry.get("tags") or []
        items.append((
            "t3",
            {
                "id": name[3:],
                "name": name,
                "title": entry.get("title") or "",
                "selftext": _feed_selftext(entry),
                "author": (entry.get("author") or "").strip().removeprefix("/").removeprefix("u/") or None,
                "created_utc": float(calendar.timegm(moment)),
                "permalink": urlsplit(entry.get("link") or "").path or None,
                "subreddit": tags[0].get("term") if tags else None,
            },
        ))
    return Page(items, str(items[-1][1]["name"]) if items else None)


def _feed_selftext(entry: Any) -> str:
    """The self-text of a feed entry: the `<div class="md">` of its content, without Reddit's "submitted by" footer."""
    html = entry["content"][0].get("value", "") if entry.get("content") else entry.get("summary", "")
    if not html.strip():
        return ""
    try:
        fragment = lxml.html.fragment_fromstring(html, create_parent="div")
    except (ValueError, lxml.etree.ParserError):
        return ""
    bodies = fragment.xpath('.//div[contains(concat(" ", normalize-space(@class), " "), " md ")]')
    return html_to_text(lxml.html.tostring(bodies[0], encoding="unicode")) if bodies else ""


def _author(data: Mapping[str, Any]) -> str | None:
    """The author's username; None when the account was deleted (`[deleted]`) or is not given."""
    author = data.get("author")
    return author if isinstance(author, str) and author and author not in GONE_MARKERS else None


def _permalink(reddit_url: str, permalink: Any) -> str | None:
    if not isinstance(permalink, str) or not permalink:
        return None
    if permalink.startswith(("http://", "https://")):
        return permalink
    return f"{reddit_url.rstrip('/')}/{permalink.lstrip('/')}"


def _counts(**values: Any) -> dict[str, Any]:
    return {name: value for name, value in values.items() if isinstance(value, int | float) and not isinstance(value, bool)}


def _extras(data: Mapping[str, Any]) -> dict[str, Any]:
    return {name: data.get(name) for name in ("subreddit", "over_18", "link_flair_text")}


def _community_size(data: Mapping[str, Any]) -> int | None:
    subscribers = data.get("subreddit_subscribers")
    return subscribers if isinstance(subscribers, int) and not isinstance(subscribers, bool) else None


def _unexpected(endpoint: str, expected: str) -> TransientError:
    return TransientError(f"Reddit answered {endpoint} with JSON that is not {expected}; it will be tried again next run")
