"""One bad source never costs the others of its unit: `collectors.units.collect_unit`, as the DAG runs it.

Whatever one source does (answers an empty body, trickles, sends an entity bomb, raises an exception
no collector should let out, hangs), it is recorded as that source's outcome with a clear reason,
secrets scrubbed, and every other source of the unit is collected.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import feedparser
import pytest

from collectors.context import CollectionContext
from collectors.source_run import SourceRun
from collectors.units import (
    COLLECTORS,
    TIME_BUDGET_SECONDS,
    CollectionUnit,
    collect_unit,
    plan_units,
    stage_unit,
    staged_unit,
)
from config.model import Config, FeedSource, HttpSettings
from core.errors import TerminalError
from core.mention import Mention
from core.staging import StagingArea
from tests.hostile_web import entity_bomb_feed, feed
from tests.local_http import LocalHttpServer, Reply
from transport.http import HttpClient

WINDOW = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))
SECRET = "reddit/secret+4Qx9=&key"
CONNECTIONS = {"reddit_default": {"login": "reddit-client-id-4Qx9", "password": SECRET, "extra": {}}}


def _config(tmp_path: Path, feeds: Mapping[str, str]) -> Config:
    return Config.model_validate({
        "warehouse": {"path": str(tmp_path / "overheard.duckdb")}, "staging": str(tmp_path / "staging"),
        "brands": [{"name": "Brightwave", "aliases": ["Brightwave"]}],
        "sources": [{"kind": "rss", "name": name, "url": url} for name, url in feeds.items()],
    })


def test_a_batch_of_feeds_loads_every_good_feed_beside_hostile_ones(
    tmp_path: Path, http_server: LocalHttpServer, fast_http: HttpSettings
) -> None:
    rss = {"Content-Type": "application/rss+xml"}
    feeds = {
        "good": http_server.route("/good.xml", Reply(200, feed(), rss)),
        "empty-body": http_server.route("/empty.xml", Reply(200, b"", rss)),
        "entity-bomb": http_server.route("/bomb.xml", Reply(200, entity_bomb_feed(), rss)),
        "bad-entries": http_server.route("/bad.xml", Reply(200, feed(
            b"<item><title>Surrogate &#xD800;</title><link>https://news.example.com/s</link></item>"
            b"<item><title>Bad port</title><link>http://news.example.com:80x/</link></item>"), rss)),
        "trickling": http_server.route("/slow.xml", Reply(200, feed(), rss, delay=0.2, drip=40)),
        "gone": http_server.route("/gone.xml", Reply(404, b"not found")),
    }
    config = _config(tmp_path, feeds)
    [unit] = plan_units(config)

    started = time.monotonic()
    runs = collect_unit(config, unit, {}, WINDOW, CONNECTIONS,
                        client=HttpClient(fast_http.model_copy(update={"timeout_seconds": 1.0, "max_retries": 0})))
    elapsed = time.monotonic() - started

    by_source = {run.source: run for run in runs}
    assert [run.source for run in runs] == list(feeds)
    assert {name: run.status for name, run in by_source.items()} == {
        "good": "ok", "empty-body": "failed", "entity-bomb": "ok", "bad-entries": "ok", "trickling": "failed",
        "gone": "failed",
    }
    assert [mention.title for mention in by_source["good"].mentions] == ["Brightwave raises prices"]
    assert [mention.title for mention in by_source["entity-bomb"].mentions] == ["Brightwave raises prices", "Boom"]
    assert [mention.title for mention in by_source["bad-entries"].mentions] == [
        "Brightwave raises prices", "Surrogate \ufffd"
    ]
    assert by_source["empty-body"].error == (
        f"{feeds['empty-body']} answered with an empty body, not RSS or Atom; check the feed URL (the site may be "
        "failing, or the feed may have moved)"
    )
    assert by_source["trickling"].error == f"{feeds['trickling']} could not be fetched after 1 attempts: timed out"
    assert by_source["gone"].error == f"HTTP 404 from {feeds['gone']}; check the URL in the config"
    assert elapsed < 5  # the trickling feed is cut off after 1 s, not served for 8 s

    manifest = stage_unit(StagingArea(str(tmp_path / "staging"), "manual__2026-11-02"), unit, runs)
    assert manifest.endswith("collected.json")


def scripted_collector(source: FeedSource, cursor: Any, context: CollectionContext) -> SourceRun:
    """A collector whose behaviour each test source names: what real collectors have done, and worse."""
    basic = base64.b64encode(f"reddit-client-id-4Qx9:{SECRET}".encode()).decode()
    if source.name == "good":
        mention = Mention("news", source.name, None, "https://news.example.com/prices", "Brightwave raises prices")
        return SourceRun(source.name, source.kind, "ok", mentions=[mention], items_fetched=1,
                         warnings=[f"the server echoed Authorization: Basic {basic}"])
    if source.name == "bad-link":
        mentions = [Mention("news", source.name, None, url, "Brightwave outage")
                    for url in ("http://news.example.com:80x/outage", "https://news.example.com/outage")]
        return SourceRun(source.name, source.kind, "ok", mentions=mentions, items_fetched=2)
    if source.name == "not-a-feed":
        return SourceRun(source.name, source.kind, "ok", items_fetched=feedparser.parse(b"").version)
    if source.name == "echoes-a-secret":
        raise ValueError(f"token endpoint said: client_secret={quote(SECRET, safe='')} is wrong ({SECRET.upper()})")
    if source.name == "refused":
        raise TerminalError("https://news.example.com/private answered 401; check the feed's login")
    if source.name == "exits":
        raise SystemExit(3)
    time.sleep(30)  # "hangs": neither a request nor an answer to cut short
    raise AssertionError("never reached within the test")


def test_any_exception_or_hang_of_one_source_is_its_own_failure_with_secrets_scrubbed(
    tmp_path: Path, fast_http: HttpSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(COLLECTORS, "rss", f"{__name__}:scripted_collector")
    names = ["good", "bad-link", "not-a-feed", "echoes-a-secret", "refused", "exits", "hangs"]
    config = _config(tmp_path, {name: f"https://{name}.example.com/feed.xml" for name in names})
    [unit] = plan_units(config)

    started = time.monotonic()
    runs = collect_unit(config, unit, {}, WINDOW, CONNECTIONS, client=HttpClient(fast_http), time_budget_seconds=0.5)
    elapsed = time.monotonic() - started

    outcomes = {run.source: (run.status, run.error) for run in runs}
    assert outcomes["good"] == ("ok", None)
    assert runs[0].warnings == ["the server echoed Authorization: Basic ***"]
    assert [mention.title or mention.text for mention in runs[0].mentions] == ["Brightwave raises prices"]
    assert outcomes["not-a-feed"] == ("failed", (
        "the rss collector failed unexpectedly (AttributeError: object has no attribute 'version', at util.py line 158); "
        "nothing of this source was kept this run and its cursor stays, so the next run tries again. If this repeats, "
        "report it as an Overheard bug with this message (the task log has the traceback)"
    ))
    assert outcomes["echoes-a-secret"][1].startswith(
        "the rss collector failed unexpectedly (ValueError: token endpoint said: client_secret=*** is wrong (***), at "
    )
    assert outcomes["refused"] == ("failed", "https://news.example.com/private answered 401; check the feed's login")
    assert outcomes["exits"][1].startswith("the rss collector failed unexpectedly (SystemExit: 3, at ")
    assert outcomes["hangs"] == ("failed", (
        "cut off after 2 s: still running past its 0.5 s time budget (a server too slow, or a response too heavy to "
        "parse); nothing of this source was kept this run and its cursor stays, so the next run tries again"
    ))
    assert all(run.cursor is None for run in runs[2:])
    assert elapsed < 3  # the hanging source is cut off at 1.5 s, its budget and a grace of 1 s

    # Staged: every mention that can be keyed; the one that cannot is a warning of its source.
    manifest_url = stage_unit(StagingArea(str(tmp_path / "staging"), "manual__2026-11-02"), unit, runs)
    [staged_file] = (tmp_path / "staging").rglob("collected.jsonl")
    staged = [json.loads(line) for line in staged_file.read_text(encoding="utf-8").splitlines()]
    assert [(row["source"], row["key"]) for row in staged] == [
        ("good", "https://news.example.com/prices"), ("bad-link", "https://news.example.com/outage")
    ]
    assert runs[1].warnings == [(
        "a mention was left out: 'http://news.example.com:80x/outage' is not a valid URL "
        "(Port could not be cast to integer value as '80x')"
    )]
    assert manifest_url.endswith("collected.json") and runs[1].summary()["mentions_collected"] == 1


def test_every_source_kind_has_a_time_budget() -> None:
    assert set(TIME_BUDGET_SECONDS) == set(COLLECTORS)
    assert TIME_BUDGET_SECONDS["rss"] < TIME_BUDGET_SECONDS["blog"]


def test_a_retried_unit_finds_what_its_first_attempt_staged_and_nothing_it_did_not_finish(tmp_path: Path) -> None:
    # The DAG's collect_and_enrich task enriches what an earlier attempt collected and staged rather than
    # reading its sources again; a manifest cut off while being written counts as never staged.
    staging = StagingArea(str(tmp_path / "staging"), "manual__2026-11-02")
    unit = CollectionUnit("rss-001", "rss", ("gazette",))
    assert staged_unit(staging, unit) is None
    staged = stage_unit(staging, unit, [SourceRun("gazette", "rss", "ok", items_fetched=1, mentions=[
        Mention("news", "gazette", "a", "https://gazette.example/a", "Brightwave prices rise")])])
    assert staged_unit(staging, unit) == staged
    Path(staged).write_text('{"unit": {"id": "rss-001", "kind"', encoding="utf-8")
    assert staged_unit(staging, unit) is None
