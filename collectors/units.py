"""Collection units: the coarse pieces a run is split into (a batch of feeds, one blog, one
platform source), and collecting one of them into the staging area."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from collectors.context import CollectionContext
from collectors.http import HttpClient
from collectors.source_run import SourceRun
from config.model import Config, Source
from core.staging import StagingArea

Collector = Callable[[Any, Mapping[str, Any] | None, CollectionContext], SourceRun]

# Each kind's collector as "module:function"; imported when a unit of that kind runs, so a task
# collecting feeds never imports tweepy or praw.
COLLECTORS: dict[str, str] = {
    "rss": "collectors.rss:collect_feed_in_context",
    "blog": "collectors.blogs:collect_blog_in_context",
    "x": "collectors.x:collect_x",
    "reddit": "collectors.reddit:collect_reddit",
    "hackernews": "collectors.hackernews:collect_hackernews",
    "mastodon": "collectors.mastodon:collect_mastodon",
    "google_news": "collectors.google_news:collect_google_news",
    "bluesky": "collectors.bluesky:collect_bluesky",
}


def collector_for(kind: str) -> Collector:
    """The collector function of a source kind."""
    module_name, function_name = COLLECTORS[kind].split(":")
    return getattr(importlib.import_module(module_name), function_name)


@dataclass(frozen=True)
class CollectionUnit:
    """Sources collected together by one task.

    Attributes:
        id: unique within a run, safe in paths (e.g. "rss-001", "blog-homefixers").
        kind: the source kind all its sources share.
        sources: the source names.
    """

    id: str
    kind: str
    sources: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form, for the run plan."""
        return asdict(self)

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> CollectionUnit:
        """The inverse of `to_json`."""
        return cls(id=record["id"], kind=record["kind"], sources=tuple(record["sources"]))


def plan_units(config: Config) -> list[CollectionUnit]:
    """Split the configured sources into units: feeds in batches of `feeds_per_task`, every other source alone."""
    feeds = [source.name for source in config.sources if source.kind == "rss"]
    units = [
        CollectionUnit(f"rss-{number:03d}", "rss", tuple(feeds[start : start + config.feeds_per_task]))
        for number, start in enumerate(range(0, len(feeds), config.feeds_per_task), start=1)
    ]
    units += [
        CollectionUnit(f"{source.kind}-{source.name}", source.kind, (source.name,))
        for source in config.sources if source.kind != "rss"
    ]
    return units


def connections_of(config: Config, unit: CollectionUnit) -> set[str]:
    """The credential connection ids the unit's sources use."""
    return {source.connection for name in unit.sources if (source := config.source(name)).connection}


def collect_unit(
    config: Config,
    unit: CollectionUnit,
    cursors: Mapping[str, Any],
    window: tuple[datetime, datetime],
    credentials: Mapping[str, Mapping[str, Any]] | None = None,
    client: HttpClient | None = None,
) -> list[SourceRun]:
    """Collect every source of a unit, hosts in parallel.

    Args:
        config: the whole config.
        unit: which sources to collect.
        cursors: the last stored cursor of each source (missing: first run).
        window: the run's collection window. A source's first run (no cursor yet) reaches back
            `backfill_days` from the window's end instead, where its platform allows.
        credentials: by connection id (see `CollectionContext`).
        client: the HTTP client; one is built from the config when not given.

    Returns:
        One outcome per source, in the unit's order.
    """
    client = client or HttpClient(config.http)
    brands = tuple(config.all_brands)
    first_run_window = (min(window[0], window[1] - timedelta(days=config.backfill_days)), window[1])
    collector = collector_for(unit.kind)

    def collect(source: Source) -> SourceRun:
        cursor = cursors.get(source.name)
        context = CollectionContext(client, brands, window if cursor else first_run_window, credentials or {})
        started = time.perf_counter()
        run = collector(source, cursor, context)
        run.duration_seconds = time.perf_counter() - started
        return run

    return client.map_by_host([config.source(name) for name in unit.sources], lambda source: source.endpoint, collect)


def stage_unit(staging: StagingArea, unit: CollectionUnit, runs: list[SourceRun]) -> str:
    """Write a unit's mentions and outcomes to staging.

    Returns:
        The URL of the unit's manifest: `{"unit": ..., "mentions": URL, "sources": [outcome, ...]}`.
    """
    mentions_url = staging.write_jsonl(
        f"{unit.id}/collected.jsonl", (mention.to_json() for run in runs for mention in run.mentions)
    )
    return staging.write_json(
        f"{unit.id}/collected.json",
        {"unit": unit.to_json(), "mentions": mentions_url, "sources": [run.summary() for run in runs]},
    )
