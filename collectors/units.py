"""Collection units: the coarse pieces a run is split into (a batch of feeds, one blog, one
platform source), and collecting one of them into the staging area."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from collectors.context import CollectionContext
from collectors.source_run import SourceRun, collect_isolated
from config.model import Config, Source
from core.mention import Mention
from core.secret_scrubbing import SecretScrubber
from core.staging import StagingArea, read_json
from transport.http import HttpClient

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
    "bluesky_jetstream": "collectors.bluesky_jetstream:collect_bluesky_jetstream",
    "app_reviews": "collectors.app_reviews:collect_app_reviews",
    "youtube": "collectors.youtube:collect_youtube",
}

# How long one source may take in a run, by kind (`CollectionContext.time_budget_seconds`): a feed is one
# request and its retries; the others page through searches or crawl pages. docs/configuration.md says these.
TIME_BUDGET_SECONDS: dict[str, float] = {
    "bluesky_jetstream": 600.0,
    "rss": 120.0, "google_news": 120.0, "blog": 600.0, "x": 600.0, "reddit": 600.0, "hackernews": 600.0,
    "mastodon": 600.0, "bluesky": 600.0, "app_reviews": 600.0,
    "youtube": 600.0,
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
    time_budget_seconds: float | None = None,
) -> list[SourceRun]:
    """Collect every source of a unit, hosts in parallel, each source isolated from the others.

    Whatever one source's collector raises, or however long it hangs, is recorded as that source's
    failure and the others are collected (`collect_isolated`); every error and warning is scrubbed of
    the secrets of every configured connection and of the unit's source URLs.

    Args:
        config: the whole config.
        unit: which sources to collect.
        cursors: the last stored cursor of each source (missing: first run).
        window: the run's collection window. A source's first run (no cursor yet) reaches back
            `backfill_days` from the window's end instead, where its platform allows.
        credentials: by connection id (see `CollectionContext`).
        client: the HTTP client; one is built from the config when not given.
        time_budget_seconds: each source's time budget; by default its kind's (`TIME_BUDGET_SECONDS`).

    Returns:
        One outcome per source, in the unit's order.
    """
    client = client or HttpClient(config.http)
    brands = tuple(config.all_brands)
    first_run_window = (min(window[0], window[1] - timedelta(days=config.backfill_days)), window[1])
    collector = collector_for(unit.kind)
    budget_seconds = time_budget_seconds or TIME_BUDGET_SECONDS[unit.kind]
    sources = [config.source(name) for name in unit.sources]
    scrubber = SecretScrubber.for_connections(credentials or {}, (url for source in sources for url in _urls_of(source)))

    def collect(source: Source) -> SourceRun:
        cursor = cursors.get(source.name)

        def run_collector() -> SourceRun:
            context = CollectionContext(
                client, brands, window if cursor else first_run_window, credentials or {},
                time_budget_seconds=budget_seconds,
            )
            return collector(source, cursor, context)

        started = time.perf_counter()
        run = collect_isolated(source.name, source.kind, run_collector, budget_seconds, scrubber)
        run.duration_seconds = time.perf_counter() - started
        if not cursor and run.window is None and first_run_window != window:
            run.window = first_run_window  # what a first run asked for: `runs` records it as covered
        return run

    return client.map_by_host(sources, lambda source: source.endpoint, collect)


def _urls_of(source: Source) -> list[str]:
    """Every URL a source's settings hold (its feed, its API base, its instances), which may carry a login."""
    values = source.model_dump(mode="json").values()
    return [
        str(item) for value in values for item in (value if isinstance(value, list) else [value])
        if isinstance(item, str) and "://" in item
    ]


def stage_unit(staging: StagingArea, unit: CollectionUnit, runs: list[SourceRun]) -> str:
    """Write a unit's mentions and outcomes to staging.

    A mention that cannot be keyed (a URL that cannot be read, neither URL nor id) is left out with a
    warning on its source, so that one row never costs the others.

    Returns:
        The URL of the unit's manifest: `{"unit": ..., "mentions": URL, "sources": [outcome, ...]}`.
    """
    left_out: list[tuple[SourceRun, Mention]] = []

    def rows() -> Iterator[dict[str, Any]]:
        for run in runs:
            for mention in run.mentions:
                try:
                    yield mention.to_json()
                except ValueError as error:
                    left_out.append((run, mention))
                    run.warnings.append(f"a mention was left out: {error}")

    mentions_url = staging.write_jsonl(f"{unit.id}/collected.jsonl", rows())
    for run, mention in left_out:
        run.mentions.remove(mention)
    return staging.write_json(
        f"{unit.id}/collected.json",
        {"unit": unit.to_json(), "mentions": mentions_url, "sources": [run.summary() for run in runs]},
    )


def staged_unit(staging: StagingArea, unit: CollectionUnit) -> str | None:
    """The URL of the manifest an earlier attempt at the unit staged in this run (`stage_unit`, which writes the
    manifest last), if it got that far and the manifest reads; None otherwise, when the unit is to be collected."""
    url = staging.url(unit.id, "collected.json")
    try:
        read_json(url)
    except (FileNotFoundError, ValueError):  # never staged, or cut off while writing its manifest
        return None
    return url
