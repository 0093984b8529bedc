"""Mastodon hashtag timelines (no key): every configured instance × hashtag, newer than last time.

A tag timeline has no time filter but pages by status id. The first run for an (instance, tag) reads
back from the newest status to the window's start; later runs read forward from the newest status
already seen (`min_id`), oldest page first, up to the window's end, so a run that stops early resumes
exactly where it stopped. Each instance is one term of `collectors.search.collect_searches`: one that
fails is a warning and keeps its cursor, and the source fails only when every instance failed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import requests.utils

from collectors.context import CollectionContext
from collectors.html_text import html_to_text
from collectors.search import ReadBudget, TermRead, collect_searches, json_body
from collectors.search_terms import hashtag_names
from collectors.source_run import SourceRun
from config.model import MastodonSource
from core.errors import TerminalError
from core.mention import Mention
from transport.http import HttpClient, HttpResponse

TIMELINE_LIMIT = 40  # Mastodon's maximum page size for timelines


def collect_mastodon(source: MastodonSource, cursor: Mapping[str, Any] | None, context: CollectionContext) -> SourceRun:
    """Read every instance's tag timelines for the source's hashtags (else the brands').

    Args:
        source: the source's config.
        cursor: the previous run's `{"min_ids": {instance URL: {tag: newest status id seen}}}`, or None.
        context: client, brands, window and budgets.

    Returns:
        The run outcome (see `collect_searches`); its cursor keeps the previous min_ids of every
        instance that failed.
    """
    tags = hashtag_names(context.brands, source.hashtags)
    if not tags:
        return SourceRun.skipped(source.name, source.kind,
                                 "no hashtags: set hashtags on the source or give the brands hashtags")
    timelines = TagTimelines(context.client, tags, context.window, source.name)
    run = collect_searches(source, context, source.instances, cursor, timelines, cursor_field="min_ids")
    run.asked = [f"{instance}: {' '.join(f'#{tag}' for tag in tags)}" for instance in source.instances]
    return run


class TagTimelines:
    """The `TermSearch` of Mastodon: a term is an instance, read as every tag timeline on it; its
    cursor is `{tag: newest status id seen}`.

    Args:
        client: the HTTP client.
        tags: the tag names to follow.
        window: the run's collection window.
        source: the source name.
    """

    def __init__(self, client: HttpClient, tags: Sequence[str], window: tuple[datetime, datetime], source: str):
        self._client = client
        self._tags = tags
        self._window = window
        self._source = source

    def describe(self, instance: str) -> str:
        """Warnings name an instance by its URL."""
        return instance

    def resume(self, stored: Any) -> dict[str, str]:
        """The newest status id seen on each tag timeline of the instance (none on a first run)."""
        return {str(tag): str(min_id) for tag, min_id in stored.items()} if isinstance(stored, Mapping) else {}

    def read(self, instance: str, resume: Any, budget: ReadBudget, warnings: list[str]) -> TermRead:
        """Read every tag timeline of the instance from its min_id, within the budget."""
        min_ids = dict(resume)
        statuses: list[dict[str, Any]] = []
        for tag in self._tags:
            read, min_id = _read_timeline(self._client, instance, tag, min_ids.get(tag), self._window, budget, warnings)
            if min_id is not None:
                min_ids[tag] = min_id
            statuses.extend(read)
        return TermRead(statuses, min_ids)

    def mention(self, instance: str, status: Mapping[str, Any]) -> Mention:
        """A status read from the instance as a mention."""
        return mention_from_status(status, urlsplit(instance).hostname or instance, self._source)


def mention_from_status(status: Mapping[str, Any], instance_host: str, source: str) -> Mention:
    """A Mastodon Status entity as a mention.

    Args:
        status: the status JSON.
        instance_host: the host of the instance it was read from (its ids are that instance's).
        source: the source name.

    Raises:
        KeyError, TypeError, ValueError: the status has no id.
    """
    status_id = str(status["id"])
    if not status_id:
        raise ValueError("empty id")
    account = status.get("account") or {}
    acct = account.get("acct")
    if acct and "@" not in acct:  # a local account: its domain is its profile's host
        acct = f"{acct}@{urlsplit(account.get('url') or '').hostname or instance_host}"
    text = " ".join(part for part in (status.get("spoiler_text"), html_to_text(status.get("content") or "")) if part)
    return Mention(
        platform="mastodon",
        source=source,
        native_id=f"{instance_host}:{status_id}",
        url=status.get("url") or status.get("uri"),
        text=text,
        author_handle=f"@{acct}" if acct else None,
        author_name=account.get("display_name") or None,
        author_followers=_count(account.get("followers_count")),
        published_at=_created_at(status),
        engagement={
            name: count for name, field in (("replies", "replies_count"), ("reblogs", "reblogs_count"),
                                            ("favourites", "favourites_count"))
            if (count := _count(status.get(field))) is not None
        },
        parent_id=f"mastodon:{instance_host}:{status['in_reply_to_id']}" if status.get("in_reply_to_id") else None,
        lang_hint=status.get("language") or None,
        extras={"instance": instance_host, "uri": status.get("uri"),
                "tags": [tag.get("name") for tag in status.get("tags") or [] if isinstance(tag, dict)]},
    )


def timeline_url(instance: str, tag: str, **params: str | int) -> str:
    """The tag timeline URL of an instance."""
    return f"{instance.rstrip('/')}/api/v1/timelines/tag/{quote(tag)}?{urlencode({'limit': TIMELINE_LIMIT, **params})}"


def _read_timeline(
    client: HttpClient,
    instance: str,
    tag: str,
    min_id: str | None,
    window: tuple[datetime, datetime],
    budget: ReadBudget,
    warnings: list[str],
) -> tuple[list[dict[str, Any]], str | None]:
    """The statuses of one tag timeline to collect this run, and the min_id to resume from next run."""
    if min_id is None:
        return _read_back_to_window_start(client, timeline_url(instance, tag), window, budget, warnings)
    url: str | None = timeline_url(instance, tag, min_id=min_id)
    statuses: list[dict[str, Any]] = []
    while url and not budget.spent():
        response, page = _get_statuses(client, url, warnings)
        page = [status for status in page if _id_order(status) > _id_order_of(min_id)]
        if not page:
            break
        for status in sorted(page, key=_id_order):  # oldest first, so stopping anywhere leaves no hole
            created = _created_at(status)
            if created and created > window[1]:
                return statuses, min_id  # after the window: the next run's
            if budget.spent():
                return statuses, min_id
            budget.count()
            statuses.append(status)
            min_id = str(status["id"])
        url = _link(response, "prev") or timeline_url(instance, tag, min_id=min_id)
    return statuses, min_id


def _read_back_to_window_start(
    client: HttpClient, url: str, window: tuple[datetime, datetime], budget: ReadBudget, warnings: list[str]
) -> tuple[list[dict[str, Any]], str | None]:
    """First run of a timeline: newest first, back to the window's start. Returns the statuses and
    the newest id up to the window's end (None when the timeline had nothing that old)."""
    statuses: list[dict[str, Any]] = []
    newest: str | None = None
    next_url: str | None = url
    seen: set[str] = set()
    while next_url:
        response, page = _get_statuses(client, next_url, warnings)
        page = [status for status in page if str(status["id"]) not in seen]
        if not page:
            break
        seen.update(str(status["id"]) for status in page)
        for status in sorted(page, key=_id_order, reverse=True):
            created = _created_at(status)
            if created and created > window[1]:
                continue
            if budget.spent():
                warnings.append(f"{url}: the first run stopped before the window's start; older statuses are not collected")
                return statuses, newest
            newest = max(newest or status["id"], status["id"], key=_id_order_of)
            if created and created <= window[0]:
                return statuses, newest
            budget.count()
            statuses.append(status)
        next_url = _link(response, "next")
    return statuses, newest


def _get_statuses(client: HttpClient, url: str, warnings: list[str]) -> tuple[HttpResponse, list[dict[str, Any]]]:
    """A timeline page: the statuses with an id (others are warned about and dropped)."""
    response = client.get(url)
    page = json_body(response)
    if not isinstance(page, list):
        raise TerminalError(f"{url} answered with {type(page).__name__}, not a list of statuses; is it a Mastodon API?")
    valid = [status for status in page if isinstance(status, dict) and str(status.get("id") or "").strip()]
    if len(valid) < len(page):
        warnings.append(f"{url}: {len(page) - len(valid)} statuses without an id skipped")
    return response, valid


def _link(response: HttpResponse, relation: str) -> str | None:
    """The URL of a page the Link header points to (rel "next": older, "prev": newer)."""
    for link in requests.utils.parse_header_links(response.headers.get("Link", "")):
        if link.get("rel") == relation and link.get("url"):
            return link["url"]
    return None


def _id_order(status: Mapping[str, Any]) -> tuple[int, str]:
    return _id_order_of(status["id"])


def _id_order_of(status_id: Any) -> tuple[int, str]:
    """Mastodon ids are numeric strings that sort by length, then text (no int() of 19-digit ids needed)."""
    text = str(status_id)
    return len(text), text


def _created_at(status: Mapping[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(str(status["created_at"]))
    except (KeyError, ValueError):
        return None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
