"""Mastodon hashtag timelines (no key): every configured instance × hashtag, newer than last time.

A tag timeline has no time filter but pages by status id. The first run for an (instance, tag) reads
back from the newest status to the window's start; later runs read forward from the newest status
already seen (`min_id`), oldest page first, up to the window's end, so a run that stops early resumes
exactly where it stopped. Instances are independent: one that fails is a warning, and the source
fails only when every instance failed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import requests.utils

from collectors.context import CollectionContext
from collectors.html_text import html_to_text
from collectors.http import HttpClient, HttpResponse
from collectors.search import Budget
from collectors.source_run import SourceRun
from config.model import BrandConfig, MastodonSource
from core.errors import CollectorError, TerminalError
from core.mention import Mention

TIMELINE_LIMIT = 40  # Mastodon's maximum page size for timelines


def timeline_tags(source: MastodonSource, brands: Iterable[BrandConfig]) -> list[str]:
    """The hashtags to follow, without "#" and lowercased: the source's own, else every brand's."""
    tags = source.hashtags or [tag for brand in brands for tag in brand.hashtags]
    return list(dict.fromkeys(tag.lstrip("#").lower() for tag in tags if tag.lstrip("#")))


def collect_mastodon(source: MastodonSource, cursor: Mapping[str, Any] | None, context: CollectionContext) -> SourceRun:
    """Read every instance's tag timelines for the source's hashtags.

    Args:
        source: the source's config.
        cursor: the previous run's `{"min_ids": {instance URL: {tag: newest status id seen}}}`, or None.
        context: client, brands, window and budgets.

    Returns:
        The run outcome; its cursor keeps the previous min_id of every timeline that failed.
    """
    tags = timeline_tags(source, context.brands)
    if not tags:
        return SourceRun(source.name, source.kind, "skipped",
                         error="no hashtags: set hashtags on the source or give the brands hashtags")
    stored: Mapping[str, Mapping[str, str]] = (cursor or {}).get("min_ids", {})
    budget = Budget(source.max_items_per_run, time.monotonic() + context.time_budget_seconds)
    run = SourceRun(source.name, source.kind, "empty", cursor={"min_ids": {}})
    mentions: dict[str, Mention] = {}
    failures: list[str] = []
    for instance in source.instances:
        host = urlsplit(instance).hostname or instance
        min_ids = dict(stored.get(instance, {}))
        run.cursor["min_ids"][instance] = min_ids
        for tag in tags:
            try:
                statuses, min_id = _read_timeline(context.client, instance, tag, min_ids.get(tag), context.window,
                                                  budget, run.warnings)
            except CollectorError as error:
                failures.append(f"{instance}: {error}")
                run.warnings.append(f"{instance} failed; its timelines are read next run: {error}")
                break
            if min_id is not None:
                min_ids[tag] = min_id
            run.items_fetched += len(statuses)
            for status in statuses:
                try:
                    mention = mention_from_status(status, host, source.name)
                except (KeyError, TypeError, ValueError) as error:
                    run.warnings.append(f"status {status.get('id')!r} on {instance} skipped: {error!r}")
                    continue
                mentions.setdefault(mention.key, mention)
        if not min_ids:
            del run.cursor["min_ids"][instance]
    if len(failures) == len(source.instances):
        return SourceRun.failed(source.name, source.kind, "; ".join(failures))
    if budget.stopped:
        run.warnings.append(f"stopped after {run.items_fetched} statuses (max_items_per_run {source.max_items_per_run}, "
                            "or the time budget); later runs continue from there")
    run.mentions = list(mentions.values())
    run.status = "ok" if run.mentions else "empty"
    return run


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
    budget: Budget,
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
            budget.items -= 1
            statuses.append(status)
            min_id = str(status["id"])
        url = _link(response, "prev") or timeline_url(instance, tag, min_id=min_id)
    return statuses, min_id


def _read_back_to_window_start(
    client: HttpClient, url: str, window: tuple[datetime, datetime], budget: Budget, warnings: list[str]
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
            budget.items -= 1
            statuses.append(status)
        next_url = _link(response, "next")
    return statuses, newest


def _get_statuses(client: HttpClient, url: str, warnings: list[str]) -> tuple[HttpResponse, list[dict[str, Any]]]:
    """A timeline page: the statuses with an id (others are warned about and dropped)."""
    response = client.get(url)
    try:
        page = json.loads(response.body)
    except ValueError as error:
        raise TerminalError(f"{url} answered with malformed JSON ({error}); the instance may be failing") from error
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
