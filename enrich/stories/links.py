"""What a shared link names, for stories: a post's key, a page's canonical URL, or nothing."""

from __future__ import annotations

import re
from collections.abc import Iterable

from core.mention import canonical_url

_X_HOSTS = frozenset({"x.com", "twitter.com", "mobile.x.com", "mobile.twitter.com", "www.x.com", "www.twitter.com"})
_X_STATUS_PATH = re.compile(r"^/(?:[^/]+|i/web)/status(?:es)?/(\d+)")
_REDDIT_POST_PATH = re.compile(r"^/(?:r/[^/]+/)?comments/([a-z0-9]+)", re.IGNORECASE)
_BLUESKY_POST_PATH = re.compile(r"^/profile/(did:[a-z0-9]+:[^/]+)/post/([^/]+)")


def linked_keys(key: str, shared_links: Iterable[str]) -> list[str]:
    """The keys or canonical URLs a mention links to (see `link_key`), in order, without repeats or itself.

    Args:
        key: the mention's own key.
        shared_links: the URLs it links to or quotes (`Mention.shared_links`).
    """
    found = dict.fromkeys(link_key(url) for url in shared_links)
    return [link for link in found if link and link != key]


def link_key(url: str) -> str | None:
    """What a linked URL names: an X, Reddit or Bluesky post's key (a Bluesky post named by its author's
    DID), a page's canonical URL (tracking parameters dropped, as in natural keys), or None for anything that is not an http(s) link to a story (home
    pages, profiles, malformed URLs).

    Args:
        url: a URL as the platform gave it.
    """
    if not url.lower().startswith(("http://", "https://")):
        return None
    try:
        canonical = canonical_url(url)
    except ValueError:
        return None
    parts = canonical.split("/", 3)
    host, path = parts[2], "/" + (parts[3] if len(parts) > 3 else "")
    path = path.split("?", 1)[0]
    if host in _X_HOSTS:
        status = _X_STATUS_PATH.match(path)
        return f"x:{status.group(1)}" if status else None
    if host == "redd.it" and path.strip("/"):
        return f"reddit:t3_{path.strip('/').split('/')[0].lower()}"
    if host == "reddit.com" or host.endswith(".reddit.com"):
        post = _REDDIT_POST_PATH.match(path)
        return f"reddit:t3_{post.group(1).lower()}" if post else None
    if host == "bsky.app" and (post := _BLUESKY_POST_PATH.match(path)):
        return f"bluesky:at://{post.group(1)}/app.bsky.feed.post/{post.group(2)}"
    if path.rstrip("/") == "":
        return None
    return canonical
