"""A Bluesky post record (app.bsky.feed.post) as a mention, wherever it was read: the post search
(`collectors.bluesky`, a post view with its author and counts) and Jetstream (`collectors.bluesky_jetstream`,
the bare record of a commit). One mapping, so both give the same mention the same key and links."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from core.mention import Mention

WEB_POST_URL = "https://bsky.app/profile/{profile}/post/{rkey}"
POST_COLLECTION = "app.bsky.feed.post"


def mention_from_record(
    uri: str,
    record: Mapping[str, Any],
    source: str,
    *,
    handle: str | None = None,
    author_name: str | None = None,
    engagement: Mapping[str, int] | None = None,
    extras: Mapping[str, Any] | None = None,
) -> Mention:
    """A post record as a mention: its reply parent and thread root, and what it quotes and links to.

    Args:
        uri: the post's at:// uri (at://<did>/app.bsky.feed.post/<rkey>).
        record: the post record (text, createdAt, langs, reply, embed, facets).
        source: the configured source's name.
        handle: the author's handle, when known (the search's post view has it; Jetstream does not):
            the web URL names the author by it, else by DID.
        author_name: the author's display name, when known.
        engagement: likes, replies, reposts, quotes, when known.
        extras: kept as they are (cid, did, ...).

    Raises:
        ValueError: `uri` is not an at:// post uri.
    """
    did, rkey = post_uri_parts(uri)
    reply = _object(record.get("reply"))
    parent, root = (_object(reply.get(name)).get("uri") for name in ("parent", "root"))
    langs = record.get("langs") or []
    text = record.get("text")
    return Mention(
        platform="bluesky",
        source=source,
        native_id=uri,
        url=WEB_POST_URL.format(profile=handle or did, rkey=rkey),
        text=text if isinstance(text, str) else "",
        author_handle=f"@{handle}" if handle else None,
        author_name=author_name or None,
        published_at=instant(record.get("createdAt")),
        engagement=dict(engagement or {}),
        parent_id=f"bluesky:{parent}" if isinstance(parent, str) and parent else None,
        thread_id=f"bluesky:{root if isinstance(root, str) and root else uri}",
        lang_hint=langs[0] if isinstance(langs, list) and langs and isinstance(langs[0], str) else None,
        shared_links=shared_links(record),
        extras=dict(extras or {}),
    )


def post_uri_parts(uri: str) -> tuple[str, str]:
    """The author's DID and the record key of an at:// post uri.

    Raises:
        ValueError: not an at:// uri of the form at://<did>/<collection>/<rkey>.
    """
    parts = uri.split("/")
    if not uri.startswith("at://") or len(parts) != 5 or not parts[2] or not parts[4]:
        raise ValueError(f"not an at:// post uri: {uri!r}")
    return parts[2], parts[4]


def web_url(uri: str) -> str:
    """Where a person reads the post an at:// uri names, by its author's DID (which `enrich.stories.links`
    reads back as the post's key)."""
    did, rkey = post_uri_parts(uri)
    return WEB_POST_URL.format(profile=did, rkey=rkey)


def shared_links(record: Mapping[str, Any]) -> list[str]:
    """What a post quotes and links to, in order, without repeats: the quoted post (an embedded record,
    with or without media) as its web URL, the link card's URL, then the links in its text (facets)."""
    links: list[str] = []
    embed = _object(record.get("embed"))
    quoted = embed.get("record")
    if isinstance(quoted, dict) and isinstance(quoted.get("record"), dict):  # app.bsky.embed.recordWithMedia
        quoted = quoted["record"]
    quoted_uri = quoted.get("uri") if isinstance(quoted, dict) else None
    if isinstance(quoted_uri, str) and f"/{POST_COLLECTION}/" in quoted_uri:
        try:
            links.append(web_url(quoted_uri))
        except ValueError:
            pass  # a quote of something that is not a post uri links nowhere a story can follow
    external = embed.get("external")
    if isinstance(external, dict) and isinstance(external.get("uri"), str):
        links.append(external["uri"])
    for facet in record.get("facets") or []:
        for feature in (facet.get("features") or []) if isinstance(facet, dict) else []:
            if (isinstance(feature, dict) and feature.get("$type") == "app.bsky.richtext.facet#link"
                    and isinstance(feature.get("uri"), str)):
                links.append(feature["uri"])
    return list(dict.fromkeys(links))


def instant(value: Any) -> datetime | None:
    """A record's timestamp (createdAt, indexedAt) as an aware datetime, or None when it is not one."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _object(value: Any) -> dict[str, Any]:
    """A JSON object of a record, or an empty one where the record has something else."""
    return value if isinstance(value, dict) else {}
