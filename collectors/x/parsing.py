"""X recent-search responses read into mentions: pure functions of the decoded JSON."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.mention import Mention

# (engagement name, public_metrics field); impressions only where X reports them.
_ENGAGEMENT = (
    ("likes", "like_count"), ("replies", "reply_count"), ("retweets", "retweet_count"),
    ("quotes", "quote_count"), ("impressions", "impression_count"),
)
# X's `lang` values that name no language: undetermined, no text, and its own q* codes.
_NO_LANGUAGE = frozenset({"und", "zxx", "art", "qam", "qct", "qht", "qme", "qst"})


@dataclass
class SearchPage:
    """One page of recent search results, read into mentions.

    Attributes:
        mentions: one per post, in the page's order (newest first), less posts whose author is gone.
        posts: how many posts the page held (what X bills for), including those left out.
        newest_id: the newest post id on the page.
        oldest_id: the oldest post id on the page.
        next_token: the token for the next page; None on the last page.
        deleted_keys: keys of posts X reports as deleted, or whose author is suspended or deleted.
        authors_missing: posts whose author was not in `includes.users`.
        warnings: partial errors that are not deletions.
    """

    mentions: list[Mention] = field(default_factory=list)
    posts: int = 0
    newest_id: str | None = None
    oldest_id: str | None = None
    next_token: str | None = None
    deleted_keys: list[str] = field(default_factory=list)
    authors_missing: int = 0
    warnings: list[str] = field(default_factory=list)


def parse_search_page(payload: Any, source: str) -> SearchPage:
    """Read a recent-search response body (already JSON-decoded) into mentions.

    Args:
        payload: the decoded JSON: `data`, `includes.users`, `errors`, `meta`.
        source: the source name to stamp on each mention.

    Returns:
        The page's mentions, paging state, deletions and warnings.

    Raises:
        ValueError: the body is not a recent-search response.
    """
    if not isinstance(payload, Mapping) or not isinstance(payload.get("meta"), Mapping):
        raise ValueError("the answer is not a recent-search response (no `meta` object)")  # noqa: TRY004 (a bad value)
    posts = payload.get("data") or []
    if not isinstance(posts, list) or not all(isinstance(post, Mapping) and post.get("id") for post in posts):
        raise ValueError("`data` is not a list of posts with ids")
    includes = payload.get("includes") or {}
    users = {
        str(user.get("id")): user
        for user in (includes.get("users") or [] if isinstance(includes, Mapping) else [])
        if isinstance(user, Mapping)
    }
    gone_posts, gone_authors, warnings = _partial_errors(payload.get("errors") or [])
    page = SearchPage(posts=len(posts), next_token=payload["meta"].get("next_token") or None, warnings=warnings)
    page.deleted_keys = [f"x:{post_id}" for post_id in gone_posts]
    ids = [str(post["id"]) for post in posts]
    if ids:
        page.newest_id = max(ids, key=int)
        page.oldest_id = min(ids, key=int)
    for post in posts:
        author_id = str(post.get("author_id") or "")
        if author_id in gone_authors:
            page.deleted_keys.append(f"x:{post['id']}")
            continue
        author = users.get(author_id)
        if author is None:
            page.authors_missing += 1
        page.mentions.append(post_to_mention(post, author, source))
    return page


def post_to_mention(post: Mapping[str, Any], author: Mapping[str, Any] | None, source: str) -> Mention:
    """One post (and its expanded author, when X sent it) as a mention.

    Args:
        post: a post object: id, text, author_id, created_at, lang, public_metrics, conversation_id,
            referenced_tweets, entities, and note_tweet for long posts.
        author: its user object (username, name, verified, public_metrics), or None when missing.
        source: the source name.

    Returns:
        The mention; author fields are None when the author is missing.
    """
    post_id = str(post["id"])
    username = author.get("username") if author else None
    followers = ((author or {}).get("public_metrics") or {}).get("followers_count")
    metrics = post.get("public_metrics") or {}
    referenced = [
        {"type": str(reference.get("type")), "id": str(reference.get("id"))}
        for reference in post.get("referenced_tweets") or []
        if isinstance(reference, Mapping) and reference.get("id")
    ]
    replied_to = next((reference["id"] for reference in referenced if reference["type"] == "replied_to"), None)
    retweet_of = next((reference["id"] for reference in referenced if reference["type"] == "retweeted"), None)
    note = post.get("note_tweet")
    long_text = note.get("text") if isinstance(note, Mapping) else None
    extras: dict[str, Any] = {
        "author_id": str(post["author_id"]) if post.get("author_id") else None,
        "verified": author.get("verified") if author else None,
        "referenced_tweets": referenced,
        "entities": _entities(post.get("entities")),
    }
    if author and author.get("verified_type"):
        extras["verified_type"] = author["verified_type"]
    quoted = [reference["id"] for reference in referenced if reference["type"] == "quoted"]
    expanded_urls = [url for url in (extras["entities"] or {}).get("urls") or [] if isinstance(url, str)]
    return Mention(
        platform="x",
        source=source,
        native_id=post_id,
        url=f"https://x.com/{username}/status/{post_id}" if username else f"https://x.com/i/web/status/{post_id}",
        text=html.unescape(long_text or post.get("text") or ""),
        author_handle=f"@{username}" if username else None,
        author_name=author.get("name") if author else None,
        author_followers=followers if isinstance(followers, int) else None,
        published_at=_timestamp(post.get("created_at")),
        engagement={name: metrics[key] for name, key in _ENGAGEMENT if isinstance(metrics.get(key), int)},
        parent_id=f"x:{replied_to}" if replied_to else None,
        thread_id=str(post["conversation_id"]) if post.get("conversation_id") else None,
        lang_hint=_language(post.get("lang")),
        amplifies=f"x:{retweet_of}" if retweet_of else None,
        shared_links=[*(f"https://x.com/i/web/status/{post_id}" for post_id in quoted), *expanded_urls],
        extras=extras,
    )


def _partial_errors(errors: Iterable[Any]) -> tuple[list[str], set[str], list[str]]:
    """Deleted post ids, gone author ids, and warnings for the rest of a response's `errors` array.

    X reports a post that no longer exists as `resource_type: tweet` and a suspended or deleted
    account as `resource_type: user`, both with type `.../problems/resource-not-found`.
    """
    gone_posts: list[str] = []
    gone_authors: set[str] = set()
    warnings: list[str] = []
    for error in errors:
        if not isinstance(error, Mapping):
            continue
        resource = str(error.get("resource_id") or error.get("value") or "")
        if str(error.get("type", "")).endswith("/resource-not-found") and resource:
            if error.get("resource_type") == "tweet":
                gone_posts.append(resource)
                continue
            if error.get("resource_type") == "user":
                gone_authors.add(resource)
                continue
        warnings.append(f"X reported a partial error: {error.get('title') or 'error'}: {error.get('detail') or error.get('message')}")
    return gone_posts, gone_authors, warnings


def _entities(entities: Any) -> dict[str, list[str]]:
    entities = entities if isinstance(entities, Mapping) else {}

    def values(kind: str, *keys: str) -> list[str]:
        found = []
        for entity in entities.get(kind) or []:
            value = next((entity.get(key) for key in keys if isinstance(entity, Mapping) and entity.get(key)), None)
            if value:
                found.append(str(value))
        return found

    return {
        "urls": values("urls", "expanded_url", "url"),
        "mentions": values("mentions", "username"),
        "hashtags": values("hashtags", "tag"),
        "cashtags": values("cashtags", "tag"),
    }


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).astimezone(UTC)
    except ValueError:
        return None


def _language(code: Any) -> str | None:
    return code if isinstance(code, str) and code and code not in _NO_LANGUAGE else None
