"""Collection units: the coarse pieces a run is split into (a batch of feeds, one blog), and
collecting one of them into the staging area."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from collectors.blogs import collect_blog
from collectors.http import HttpClient
from collectors.rss import collect_feed
from collectors.source_run import SourceRun
from collectors.staging import StagingArea
from config.model import Config, Source

Collector = Callable[[Any, Mapping[str, Any] | None, HttpClient], SourceRun]

COLLECTORS: dict[str, Collector] = {"rss": collect_feed, "blog": collect_blog}


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
    """Split the configured sources into units: feeds in batches of `feeds_per_task`, one unit per blog."""
    feeds = [source.name for source in config.sources if source.kind == "rss"]
    units = [
        CollectionUnit(f"rss-{number:03d}", "rss", tuple(feeds[start : start + config.feeds_per_task]))
        for number, start in enumerate(range(0, len(feeds), config.feeds_per_task), start=1)
    ]
    units += [CollectionUnit(f"blog-{source.name}", "blog", (source.name,)) for source in config.sources if source.kind == "blog"]
    return units


def collect_unit(
    config: Config, unit: CollectionUnit, cursors: Mapping[str, Any], client: HttpClient | None = None
) -> list[SourceRun]:
    """Collect every source of a unit, hosts in parallel.

    Args:
        config: the whole config.
        unit: which sources to collect.
        cursors: the last stored cursor of each source (missing: first run).
        client: the HTTP client; one is built from the config when not given.

    Returns:
        One outcome per source, in the unit's order.
    """
    client = client or HttpClient(config.http)
    collector = COLLECTORS[unit.kind]

    def collect(source: Source) -> SourceRun:
        started = time.perf_counter()
        run = collector(source, cursors.get(source.name), client)
        run.duration_seconds = time.perf_counter() - started
        return run

    return client.map_by_host([config.source(name) for name in unit.sources], lambda source: source.url, collect)


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
