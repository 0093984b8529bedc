"""The weekly mention report, rendered from a known warehouse: its numbers, its empty states, its safety,
its CSV, its PDF, its email, and how headless Chromium renders it.

The warehouse is in Europe/London. The report week is 2026-W43 (Mon 19 to Sun 25 October 2026), the week the
clocks go back, so it is 169 hours long: from Sun 18 Oct 23:00 UTC (Monday 00:00 BST) to Mon 26 Oct 00:00 UTC.
"""

from __future__ import annotations

import csv
import email
import html
import json
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope

from config.model import Config
from reports.delivery import email_report
from reports.exceptions import ChromiumNotFound, ReportDeliveryError
from reports.render import render_weekly_report
from reports.weekly import weekly_report_data
from reports.weeks import iso_week_bounds, iso_week_of
from warehouse.connection import open_warehouse

WEEK = "2026-W43"
CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("OVERHEARD_REQUIRE_CHROMIUM"),
    reason="Chromium is not installed (apt-get install chromium); set OVERHEARD_REQUIRE_CHROMIUM to fail instead",
)


def at(text: str) -> datetime:
    """A UTC instant from 'YYYY-MM-DD HH:MM'."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


# key: (platform, source, author_handle, published UTC or None, sentiment, reach, url, brands, text)
MENTIONS = {
    # The report week, Brightwave.
    "x:1": ("x", "x_search", "@ana", "2026-10-18 23:30", "positive", 5000, "https://x.com/ana/status/1",
            ["Brightwave"], "Love my new <script>alert(1)</script> Brightwave router"),  # Mon 00:30 BST
    "x:2": ("x", "x_search", "@ben", "2026-10-20 09:00", "negative", 200, "https://x.com/ben/status/2",
            ["Brightwave"], "Brightwave is down again"),
    "x:3": ("x", "x_search", "@ben", "2026-10-20 17:00", "neutral", 200, "https://x.com/ben/status/3",
            ["Brightwave"], "Still waiting on Brightwave"),
    "reddit:t3_c": ("reddit", "reddit", "u_cara", "2026-10-21 11:00", "negative", 12000,
                    "https://www.reddit.com/r/isp/comments/c", ["Brightwave"], "Brightwave outage megathread"),
    "https://techwire.example/bw": ("news", "techwire", None, "2026-10-22 08:00", "neutral", 1000,
                                    "https://www.techwire.example/2026/10/22/brightwave", ["Brightwave"],
                                    "Brightwave expands its fibre network"),
    "x:5": ("x", "x_search", "@ana", "2026-10-25 23:30", "positive", 5000, "https://x.com/ana/status/5",
            ["Brightwave"], "Brightwave, best support ever"),  # Sun 23:30 GMT: still the report week
    "mastodon:6": ("mastodon", "mastodon", "@dee", None, None, 300, "https://mastodon.social/@dee/6",
                   ["Brightwave"], "Brightwave at the expo"),  # no publication time: first seen Sat 15:00 UTC
    "x:7": ("x", "x_search", "@eve", "2026-10-23 11:00", "positive", 800, "javascript:alert(2)",
            ["Brightwave", "Tidewell"], "=1+2 Brightwave beats Tidewell"),
    # The report week, Tidewell.
    "x:11": ("x", "x_search", "@fred", "2026-10-20 12:00", "negative", 100, "https://x.com/fred/status/11",
             ["Tidewell"], "Tidewell billing is a mess"),
    "x:12": ("x", "x_search", "@gil", "2026-10-25 00:30", "positive", 50, "https://x.com/gil/status/12",
             ["Tidewell"], "Tidewell at 1:30 BST, before the clocks went back"),
    # The week before.
    "x:21": ("x", "x_search", "@ana", "2026-10-18 22:30", "positive", 1000, "https://x.com/ana/status/21",
             ["Brightwave"], "Brightwave on Sunday night"),  # Sun 23:30 BST: the week before
    "x:22": ("x", "x_search", "@hal", "2026-10-14 10:00", "negative", 100, "https://x.com/hal/status/22",
             ["Brightwave"], "Brightwave is slow"),
    "x:23": ("x", "x_search", "@ivy", "2026-10-15 10:00", "positive", 100, "https://x.com/ivy/status/23",
             ["Brightwave"], "Brightwave is fine"),
    "x:24": ("x", "x_search", "@fred", "2026-10-13 10:00", "positive", 100, "https://x.com/fred/status/24",
             ["Tidewell"], "Tidewell is fine"),
    # Outside both weeks, or not earned.
    "x:31": ("x", "x_search", "@ana", "2026-10-26 00:10", "positive", 99999, "https://x.com/ana/status/31",
             ["Brightwave"], "Brightwave on Monday after"),  # Mon 00:10 GMT: the next week
    "x:32": ("x", "x_search", "@ana", "2026-10-21 10:00", "positive", 99999, "https://x.com/ana/status/32",
             ["Unconfigured"], "A brand no longer configured"),
}
OWNED = {"x:41": "2026-10-21 10:00"}
DELETED = {"x:42": "2026-10-21 10:00"}
CATEGORIES = [("x:2", "complaint"), ("reddit:t3_c", "complaint"), ("x:7", "purchase-intent"), ("x:22", "complaint")]
# key: (queue, category, brand, opened, due, first response or None, business minutes, escalated)
TRIAGE = {
    "x:2": ("care", "complaint", "Brightwave", "2026-10-20 09:05", "2026-10-20 10:05", "2026-10-20 09:50", 45, False),
    "reddit:t3_c": ("care", "complaint", "Brightwave", "2026-10-21 11:05", "2026-10-21 12:05", "2026-10-21 13:00",
                    115, False),
    "x:3": ("care", "complaint", "Brightwave", "2026-10-20 17:05", "2026-10-20 18:05", None, None, False),
    "x:5": ("care", "complaint", "Brightwave", "2026-10-25 23:35", "2026-10-26 00:35", None, None, False),
    "x:7": ("sales", "purchase-intent", "Brightwave", "2026-10-23 11:05", "2026-10-23 15:05", "2026-10-23 12:05",
            60, True),
    "x:22": ("care", "complaint", "Brightwave", "2026-10-14 10:05", "2026-10-14 11:05", None, None, False),
}
SPIKE_EXPLANATION = {
    "mentions": 60, "baseline_mentions": 40,
    "terms": [{"term": "outage", "mentions": 30, "baseline_mentions": 1, "keyness": 80.5},
              {"term": "router down", "mentions": 9, "baseline_mentions": 0, "keyness": 20.1}],
    "authors": [{"name": "x:@ana", "mentions": 5}], "sources": [{"name": "x_search", "mentions": 50}],
    "examples": [{"mention_key": "x:9", "url": "https://x.com/ana/status/9", "author": "x:@ana",
                  "published_at": "2026-10-21T11:10:00+00:00", "reach_estimate": 5000,
                  "text": "<img src=x onerror=alert(3)> total outage"}],
}
# (source, kind, status, mentions collected, window end)
RUNS = [
    ("techwire", "rss", "ok", 2, "2026-10-16 12:00"),
    ("techwire", "rss", "ok", 3, "2026-10-20 12:00"),
    ("techwire", "rss", "ok", 0, "2026-10-22 12:00"),
    ("techwire", "rss", "failed", 0, "2026-10-24 12:00"),
    ("gazette", "rss", "ok", 4, "2026-10-17 12:00"),
    ("gazette", "rss", "empty", 0, "2026-10-20 12:00"),
    ("gazette", "rss", "empty", 0, "2026-10-21 12:00"),
    ("gazette", "rss", "empty", 0, "2026-10-22 12:00"),
    ("x_search", "x", "ok", 9, "2026-10-22 12:00"),
    ("x_search", "x", "failed", 0, "2026-10-26 00:15"),  # the next week: not in this report
]


def build_warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    connection = open_warehouse(path)
    rows = []
    for key, (platform, source, handle, published, label, reach, url, _, text) in MENTIONS.items():
        first_seen = at(published) + timedelta(minutes=5) if published else at("2026-10-24 15:00")
        rows.append((key, platform, source, url, text, handle, at(published) if published else None, label, reach,
                     False, False, first_seen))
    for keys, owned, deleted in ((OWNED, True, False), (DELETED, False, True)):
        for key, published in keys.items():
            rows.append((key, "x", "x_search", f"https://x.com/bw/status/{key}", "Brightwave news", "@brightwave",
                         at(published), "positive", 99999, owned, deleted, at(published)))
    connection.executemany(
        """INSERT INTO mentions (mention_key, platform, source, url, text, author_handle, published_at, sentiment_label,
               sentiment_score, sentiment_model, lang_model, reach_estimate, reach_model, story_id, story_model,
               is_owned, is_deleted, first_run_id, first_seen_at, last_run_id, last_seen_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?::VARCHAR, NULL, CASE WHEN ?::VARCHAR IS NULL THEN NULL ELSE 'vader-3.3.2' END,
                   'py3langid-0.4.0', ?, 'reach-v2', NULL, 'stories-v1', ?, ?, 'run', ?, 'run', now())""",
        [(key, platform, source, url, text, handle, published, label, label, reach, owned, deleted, seen)
         for key, platform, source, url, text, handle, published, label, reach, owned, deleted, seen in rows],
    )
    brands = [(key, brand) for key, row in MENTIONS.items() for brand in row[7]]
    brands += [(key, "Brightwave") for key in (*OWNED, *DELETED)]
    connection.executemany(
        "INSERT INTO mention_brands (mention_key, brand, role, matched_terms) VALUES (?, ?, CASE WHEN ? = 'Brightwave' THEN 'brand' ELSE 'competitor' END, [])",
        [(key, brand, brand) for key, brand in brands],
    )
    connection.executemany("INSERT INTO mention_categories VALUES (?, ?)", CATEGORIES)
    connection.executemany(
        """INSERT INTO triage_items (mention_key, brand, category, queue, routed_by, priority, priority_model,
               escalated, status, required_skills, opened_at, sla_minutes, due_at, first_response_at,
               first_response_minutes, updated_at)
           VALUES (?, ?, ?, ?, 'category', 0.5, 'priority-v1', ?, ?, [], ?, 60, ?, ?, ?, ?)""",
        [(key, brand, category, queue, escalated, "responded" if responded else "open", at(opened), at(due),
          at(responded) if responded else None, minutes, at(opened))
         for key, (queue, category, brand, opened, due, responded, minutes, escalated) in TRIAGE.items()],
    )
    connection.executemany(
        "INSERT INTO spikes VALUES (?, ?, ?, ?, ?, ?, ?, 'spikes-v1', ?, ?)",
        [("Brightwave", "", at("2026-10-21 11:00"), at("2026-10-21 12:00"), 42, 6.0, 5.2,
          json.dumps(SPIKE_EXPLANATION), at("2026-10-21 12:15")),
         ("Brightwave", "complaint", at("2026-10-14 11:00"), at("2026-10-14 11:00"), 15, 2.0, 4.4, "{}",
          at("2026-10-14 12:15")),
         ("Unconfigured", "", at("2026-10-21 11:00"), at("2026-10-21 11:00"), 15, 2.0, 4.4, "{}",
          at("2026-10-21 12:15"))],
    )
    connection.executemany(
        """INSERT INTO runs (run_id, source, kind, status, items_fetched, mentions_collected, mentions_matched,
               dropped_unmatched, mentions_new, error, warnings, duration_seconds, window_start, window_end)
           VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, [], 1.0, ?, ?)""",
        [(f"run-{n}", source, kind, status, collected, collected, collected, collected,
          "HTTP 503 from techwire.example" if status == "failed" else None,
          at(end) - timedelta(hours=1), at(end))
         for n, (source, kind, status, collected, end) in enumerate(RUNS)],
    )
    return connection


def make_config(tmp_path: Path, playbook: bool = True) -> Config:
    settings = {
        "timezone": "Europe/London",
        "warehouse": {"path": str(tmp_path / "w.duckdb")},
        "staging": str(tmp_path / "staging"),
        "brands": [{"name": "Brightwave", "aliases": ["Brightwave"]}],
        "competitors": [{"name": name, "aliases": [name]} for name in ("Tidewell", "Harborline")],
        "sources": [
            {"kind": "rss", "name": "techwire", "url": "https://techwire.example/feed"},
            {"kind": "rss", "name": "gazette", "url": "https://gazette.example/feed"},
            {"kind": "rss", "name": "quietfeed", "url": "https://quiet.example/feed"},
        ],
    }
    if playbook:
        settings["playbook"] = {
            "categories": [
                {"name": "complaint", "query": "(outage OR down)", "queue": "care", "sla_minutes": 60},
                {"name": "purchase-intent", "query": "(buy OR switch)", "queue": "sales", "sla_minutes": 240},
            ],
            "queues": [{"name": "care"}, {"name": "sales"}],
            "default_queue": "care",
        }
    return Config.model_validate(settings)


@dataclass
class Page:
    """What a test reads from the report: table cells by table id, row key and column, and the empty states."""

    tables: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    row_order: dict[str, list[str]] = field(default_factory=dict)
    empty: set[str] = field(default_factory=set)
    links: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    text: str = ""


class _ReportParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self._table: str | None = None
        self._row: str | None = None
        self._row_tag: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.page.tags.append(tag)
        if tag in ("table", "dl") and attributes.get("id"):
            self._table = attributes["id"]
            self.page.tables[self._table] = {}
            self.page.row_order[self._table] = []
        elif self._table and "data-key" in attributes:
            self._row, self._row_tag = attributes["data-key"], tag
            self.page.tables[self._table][self._row] = {}
            self.page.row_order[self._table].append(self._row)
        elif self._row is not None and "data-col" in attributes and "data-value" in attributes:
            self.page.tables[self._table][self._row][attributes["data-col"]] = attributes["data-value"]
        if tag == "a":
            self.page.links.append(attributes.get("href") or "")
        if "data-empty" in attributes:
            self.page.empty.add(attributes["data-empty"])

    def handle_endtag(self, tag: str) -> None:
        if tag in ("table", "dl"):
            self._table = None
        elif tag == self._row_tag:
            self._row = self._row_tag = None

    def handle_data(self, data: str) -> None:
        self._text.append(data)

    def close(self) -> None:
        super().close()
        self.page.text = " ".join(" ".join(self._text).split())


def read_page(html: str) -> Page:
    parser = _ReportParser()
    parser.feed(html)
    parser.close()
    return parser.page


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = build_warehouse(tmp_path_factory.mktemp("warehouse") / "w.duckdb")
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def rendered(warehouse: duckdb.DuckDBPyConnection, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("report")
    files = render_weekly_report(warehouse, make_config(out), WEEK, out)
    return files, read_page(files.html.read_text(encoding="utf-8"))


def test_weeks_are_bounded_by_local_mondays_across_the_clock_change():
    start, end = iso_week_bounds(WEEK, "Europe/London")
    assert (start, end) == (at("2026-10-18 23:00"), at("2026-10-26 00:00"))  # 169 hours: the clocks went back
    assert iso_week_bounds("2026-w44", "Europe/London") == (at("2026-10-26 00:00"), at("2026-11-02 00:00"))
    assert iso_week_bounds("2026-W13", "Europe/London") == (at("2026-03-23 00:00"), at("2026-03-29 23:00"))  # 167 h
    assert iso_week_bounds("2026-W01", "UTC") == (at("2025-12-29 00:00"), at("2026-01-05 00:00"))
    assert iso_week_of(at("2026-10-18 23:30"), "Europe/London") == WEEK
    assert iso_week_of(at("2026-10-18 23:30"), "UTC") == "2026-W42"
    for week, message in (("2026-45", "not an ISO week; write it like 2026-W45"),
                          ("2026-W54", "2026 has weeks 01 to 53"), ("2025-W53", "2025 has weeks 01 to 52")):
        with pytest.raises(ValueError, match=message):
            iso_week_bounds(week, "UTC")
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Base'"):
        iso_week_bounds(WEEK, "Mars/Base")


def test_volume_per_local_day_and_week_over_week(rendered):
    files, page = rendered
    volume = page.tables["volume"]
    assert page.row_order["volume"] == ["Brightwave", "Tidewell", "Harborline"]
    days = ["2026-10-19", "2026-10-20", "2026-10-21", "2026-10-22", "2026-10-23", "2026-10-24", "2026-10-25"]
    # Mon 00:30 BST (Sunday in UTC) is Monday; Sun 23:30 GMT is Sunday; Mon 26 Oct 00:10 GMT is not in the week.
    assert [volume["Brightwave"][day] for day in days] == ["1", "2", "1", "1", "1", "1", "1"]
    assert [volume["Tidewell"][day] for day in days] == ["0", "1", "0", "0", "1", "0", "1"]
    assert [volume["Harborline"][day] for day in days] == ["0"] * 7
    assert (volume["Brightwave"]["mentions"], volume["Brightwave"]["previous_mentions"]) == ("8", "3")
    assert float(volume["Brightwave"]["change"]) == pytest.approx(5 / 3)
    assert (volume["Tidewell"]["mentions"], volume["Tidewell"]["previous_mentions"]) == ("3", "1")
    assert volume["Harborline"]["change"] == ""  # no mentions the week before: no change to show
    assert page.tables["summary"]["all"]["mentions"] == "10"  # x:7 names both brands and counts once here
    assert files.week == WEEK and files.html.name == "overheard-2026-W43.html"


def test_share_of_voice_by_volume_reach_and_unique_authors(rendered):
    _, page = rendered
    share = page.tables["share-of-voice"]
    assert float(share["Brightwave"]["share_by_volume"]) == pytest.approx(8 / 11, abs=1e-6)
    assert float(share["Brightwave"]["share_by_volume_change"]) == pytest.approx(8 / 11 - 3 / 4, abs=1e-6)
    assert share["Brightwave"]["reach"] == "24500" and share["Tidewell"]["reach"] == "950"
    assert float(share["Brightwave"]["share_by_reach"]) == pytest.approx(24500 / 25450, abs=1e-6)
    assert (share["Brightwave"]["unique_authors"], share["Tidewell"]["unique_authors"]) == ("6", "3")
    assert float(share["Tidewell"]["share_by_unique_authors"]) == pytest.approx(3 / 9, abs=1e-6)
    assert float(share["Harborline"]["share_by_volume"]) == 0.0
    assert "72.7%" in page.text


def test_net_sentiment_split_and_change(rendered):
    _, page = rendered
    sentiment = page.tables["sentiment"]
    brightwave = sentiment["Brightwave"]
    assert [brightwave[label] for label in ("positive", "neutral", "negative", "unscored")] == ["3", "2", "2", "1"]
    assert float(brightwave["net_sentiment"]) == pytest.approx(0.2)  # (3 - 2) / (3 + 2)
    assert float(brightwave["previous_net_sentiment"]) == pytest.approx(1 / 3)
    assert float(brightwave["change"]) == pytest.approx(0.2 - 1 / 3)
    assert float(sentiment["Tidewell"]["net_sentiment"]) == pytest.approx(1 / 3)
    assert sentiment["Harborline"]["net_sentiment"] == ""
    assert float(page.tables["summary"]["Brightwave"]["net_sentiment"]) == pytest.approx(0.2)


def test_top_mentions_by_reach_with_links_authors_and_sites(rendered):
    _, page = rendered
    assert page.row_order["top-mentions"] == [
        "reddit:t3_c", "x:5", "x:1", "https://techwire.example/bw", "x:7", "mastodon:6", "x:3", "x:2",
    ]
    assert page.tables["top-mentions"]["x:5"]["mentioned_at"] == "2026-10-25T23:30:00+00:00"
    assert "https://www.reddit.com/r/isp/comments/c" in page.links
    assert page.row_order["top-authors"][:2] == ["x:@ana", "x:@ben"]
    assert page.tables["top-authors"]["x:@ana"] == {"mentions": "2", "reach": "10000", "followers": ""}
    assert page.tables["top-sites"]["x.com"]["mentions"] == "4"
    assert {"reddit.com", "techwire.example", "mastodon.social", "x_search"} <= set(page.tables["top-sites"])


def test_mention_text_and_links_cannot_run_script(rendered):
    files, page = rendered
    html = files.html.read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert "&lt;img src=x onerror=alert(3)&gt;" in html
    assert "script" not in page.tags and "img" not in page.tags
    assert not [link for link in page.links if not link.startswith("https://")]  # javascript:alert(2) is no link
    assert "Content-Security-Policy" in html and "default-src 'none'" in html


def test_spikes_categories_and_formula_versions(rendered):
    _, page = rendered
    assert page.row_order["spikes"] == ["Brightwave||2026-10-21T11:00:00+00:00"]
    spike = page.tables["spikes"]["Brightwave||2026-10-21T11:00:00+00:00"]
    assert (spike["mentions"], spike["baseline"], spike["score"]) == ("42", "6", "5.2")
    assert "outage" in page.text and "router down" in page.text and "x:@ana (5)" in page.text
    assert page.tables["categories"]["complaint"] == {
        "mentions": "2", "negative": "2", "previous_mentions": "1", "change": "1",
    }
    assert page.tables["categories"]["purchase-intent"]["change"] == ""
    versions = page.tables["formula-versions"]
    assert versions["sentiment_model|vader-3.3.2"]["rows"] == "9"
    assert versions["sentiment_model|"]["rows"] == "1"  # the mastodon post was not scored
    assert versions["reach_model|reach-v2"]["rows"] == "10"
    assert versions["priority_model|priority-v1"]["rows"] == "5"
    assert versions["spike_model|spikes-v1"]["rows"] == "1"
    assert versions["staffing_model|staffing-v1"]["rows"] == "2"


def test_service_levels_breaches_and_staffing(rendered):
    files, page = rendered
    breaches = files.html.read_text(encoding="utf-8").split('<table id="breaches">')[1].split("</table>")[0]
    # A care lead reads each breach by what its mention says, whatever its key.
    assert "Still waiting on Brightwave" in breaches and "Brightwave outage megathread" in breaches
    care = page.tables["service-levels"]["care"]
    assert {column: care[column] for column in ("items", "responded", "within_sla", "breaches", "pending")} == {
        "items": "4", "responded": "2", "within_sla": "1", "breaches": "2", "pending": "1",
    }
    assert float(care["share_within_sla"]) == pytest.approx(1 / 3)  # of the 3 items due by the week's end
    assert care["median_first_response_minutes"] == "80"
    sales = page.tables["service-levels"]["sales"]
    assert (sales["items"], sales["escalated"], sales["share_within_sla"]) == ("1", "1", "1")
    assert page.row_order["breaches"] == ["x:3", "reddit:t3_c"]  # by due time; x:22 was opened the week before
    assert page.tables["breaches"]["x:3"]["first_response_at"] == ""
    staffing = page.tables["staffing"]
    assert "Staffing forecast for week 2026-W44" in page.text
    arrivals = {queue: sum(float(value) for value in staffing[f"{queue}|forecast_arrivals"].values())
                for queue in ("care", "sales")}
    assert arrivals == pytest.approx({"care": 4.0, "sales": 1.0})  # one week of history, the report week's items
    assert max(int(value) for value in staffing["care|peak_agents"].values()) == 1


def test_source_health_at_the_weeks_end(rendered):
    _, page = rendered
    sources = page.tables["source-health"]
    assert page.row_order["source-health"] == ["techwire", "gazette", "quietfeed", "x_search"]
    assert {name: row["health"] for name, row in sources.items()} == {
        "techwire": "broken", "gazette": "silent", "quietfeed": "no runs", "x_search": "healthy",
    }
    assert (sources["techwire"]["runs"], sources["techwire"]["failed"], sources["techwire"]["mentions_collected"]) == (
        "3", "1", "3")
    assert "HTTP 503 from techwire.example" in page.text


def test_csv_has_the_weeks_mentions_quoted_and_guarded(rendered):
    files, _ = rendered
    assert files.csv.read_bytes().startswith(b"\xef\xbb\xbf")
    with files.csv.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert files.mentions == len(rows) == 10
    assert [row["mention_key"] for row in rows][:2] == ["x:1", "x:2"] and rows[-1]["mention_key"] == "x:5"
    by_key = {row["mention_key"]: row for row in rows}
    assert (by_key["x:1"]["published_at_local"], by_key["x:1"]["published_at_utc"]) == (
        "2026-10-19T00:30:00+01:00", "2026-10-18T23:30:00Z")
    assert by_key["x:12"]["published_at_local"] == "2026-10-25T01:30:00+01:00"  # the first 01:30 that night
    assert by_key["x:5"]["published_at_local"] == "2026-10-25T23:30:00+00:00"
    assert (by_key["mastodon:6"]["published_at_utc"], by_key["mastodon:6"]["first_seen_at_utc"]) == (
        "", "2026-10-24T15:00:00Z")
    assert by_key["x:7"]["brands"] == "Brightwave;Tidewell" and by_key["x:7"]["categories"] == "purchase-intent"
    assert by_key["x:7"]["text"] == "'=1+2 Brightwave beats Tidewell"
    assert by_key["x:1"]["text"] == "Love my new <script>alert(1)</script> Brightwave router"
    assert by_key["reddit:t3_c"]["reach_estimate"] == "12000" and by_key["x:2"]["sentiment_label"] == "negative"


def test_a_week_nobody_collected_says_not_collected_never_no_mentions(warehouse, tmp_path):
    files = render_weekly_report(warehouse, make_config(tmp_path), "2026-W30", tmp_path)
    page = read_page(files.html.read_text(encoding="utf-8"))
    assert {"not-collected", "volume", "share-of-voice", "sentiment", "top-mentions", "top-authors", "top-sites",
            "spikes", "categories", "service-levels"} <= page.empty
    assert "mentions" not in page.empty and "No mentions this week" not in page.text
    assert "Not collected: no configured source had a successful run this week" in page.text
    assert "Not collected this week: nothing to chart." in page.text
    assert page.tables["volume"]["Brightwave"]["mentions"] == "0"
    assert page.tables["share-of-voice"]["Brightwave"]["share_by_volume"] == ""
    assert {row["health"] for row in page.tables["source-health"].values()} == {"no runs"}
    assert {row["collected_hours"] for row in page.tables["coverage"].values()} == {"0"}
    assert files.mentions == 0 and files.csv.read_text(encoding="utf-8-sig").startswith("mention_key,brands,")
    assert files.summary[0].endswith(": not collected.") and files.summary[1].startswith("Not collected:")
    assert len(files.summary) == 2  # no volume, share or sentiment sentence for a week nobody listened to


def test_without_a_playbook_triage_and_staffing_say_so(warehouse, tmp_path):
    report = weekly_report_data(warehouse, make_config(tmp_path, playbook=False), WEEK)
    assert report.staffing is None and report.service_levels == () and not report.playbook_configured
    files = render_weekly_report(warehouse, make_config(tmp_path, playbook=False), WEEK, tmp_path)
    page = read_page(files.html.read_text(encoding="utf-8"))
    assert {"service-levels", "staffing"} <= page.empty
    assert "No playbook configured: there is no triage." in page.text
    assert "No playbook configured: there are no queues to staff." in page.text
    assert page.tables["categories"]["complaint"]["mentions"] == "2"  # categories already in the warehouse still show
    tables = {row[0] for row in warehouse.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()}
    assert not tables  # the staging tables are gone


def test_a_read_only_warehouse_renders(warehouse, tmp_path):
    (path,) = warehouse.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    warehouse.execute("CHECKPOINT")
    copy = tmp_path / "copy.duckdb"
    shutil.copyfile(path, copy)
    with duckdb.connect(str(copy), read_only=True) as read_only:
        report = weekly_report_data(read_only, make_config(tmp_path), WEEK)
    assert [row.mentions for row in report.volume] == [8, 3, 0]


def test_pdf_without_chromium_says_how_to_install_it(warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ChromiumNotFound, match="apt-get install chromium"):
        render_weekly_report(warehouse, make_config(tmp_path), WEEK, tmp_path / "out", pdf=True)
    assert not (tmp_path / "out").exists()


@needs_chromium
def test_chromium_renders_the_charts_without_script_errors(rendered, tmp_path):
    files, _ = rendered
    finished = subprocess.run(
        [CHROMIUM or "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0", "--dump-dom",
         files.html.resolve().as_uri()],
        capture_output=True, text=True, timeout=60, check=True,
    )
    dom = read_page(finished.stdout)
    assert dom.tags.count("svg") == 3
    assert dom.tags.count("polyline") == 3 and dom.tags.count("circle") == 21  # three brands, seven days each
    assert dom.tags.count("rect") >= 9
    assert dom.tables["volume"]["Brightwave"]["mentions"] == "8"
    console = [line for line in finished.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]
    assert console == []


@needs_chromium
def test_pdf_is_printed_beside_the_html(warehouse, tmp_path):
    files = render_weekly_report(warehouse, make_config(tmp_path), WEEK, tmp_path, pdf=True)
    assert files.pdf == tmp_path / "overheard-2026-W43.pdf"
    content = files.pdf.read_bytes()
    assert content.startswith(b"%PDF-") and content.count(b"/Type /Page\n") + content.count(b"/Type/Page") >= 2
    assert sorted(path.name for path in tmp_path.iterdir() if path.is_file()) == [
        "overheard-2026-W43-mentions.csv", "overheard-2026-W43.html", "overheard-2026-W43.pdf",
    ]


class SmtpSink:
    """An SMTP server on 127.0.0.1 keeping every message."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.messages: list[Message] = []
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: object, session: object, envelope: Envelope) -> str:  # noqa: N802
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    def __enter__(self) -> SmtpSink:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()


def test_email_sends_the_summary_with_the_files_attached(rendered, monkeypatch):
    files, _ = rendered
    with SmtpSink() as sink:
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_REPORTS", json.dumps({
            "conn_type": "smtp", "host": "127.0.0.1", "port": sink.port,
            "extra": {"disable_ssl": True, "disable_tls": True, "retry_limit": 0, "timeout": 5},
        }))
        email_report(files, smtp_conn_id="smtp_reports", to=["marketing@brightwave.example"],
                     from_address="overheard@example.org", subject="Mentions, week 2026-W43")
        email_report(files, smtp_conn_id="smtp_reports", to=["marketing@brightwave.example"],
                     from_address="overheard@example.org", subject="Mentions, small", max_attachment_bytes=100)
    full, small = sink.messages
    assert full["Subject"] == "Mentions, week 2026-W43" and full["X-Overheard-Report"] == WEEK
    alternatives, *attachments = full.get_payload()
    assert [part.get_filename() for part in attachments] == [
        "overheard-2026-W43.html", "overheard-2026-W43-mentions.csv",
    ]
    assert attachments[1].get_payload(decode=True) == files.csv.read_bytes()
    plain, body = alternatives.get_payload()  # a plain-text alternative, then the HTML
    assert (plain.get_content_type(), body.get_content_type()) == ("text/plain", "text/html")
    text = body.get_payload(decode=True).decode()
    assert "10 earned mentions of the tracked brands" in text
    assert "Brightwave had 8 earned mentions; there is no comparison with week 2026-W42" in text
    assert "Partly collected: 1% of" not in text and "Partly collected, like week 2026-W42 (under 1%): under 1% of the week&#x27;s source-hours" in text
    assert files.points and all(html.escape(point.text) in text for point in files.points)
    # What mail clients keep: inline styles only, no style sheet, no script, nothing fetched.
    lowered = text.lower()
    assert "<style" not in lowered and "<script" not in lowered and "src=" not in lowered and "<link" not in lowered
    assert lowered.count("<li style=") == len(files.points) and "<table role=\"presentation\" width=\"600\"" in lowered
    small_alternatives, *small_attachments = small.get_payload()
    assert [part.get_filename() for part in small_attachments] == []  # both files are over 100 bytes
    assert all(str(files.csv) in part.get_payload(decode=True).decode() for part in small_alternatives.get_payload())


def test_email_without_the_connection_says_what_to_set(rendered):
    files, _ = rendered
    with pytest.raises(ReportDeliveryError, match="set AIRFLOW_CONN_NO_SUCH_SMTP"):
        email_report(files, smtp_conn_id="no_such_smtp", to=["a@example.org"], from_address=None, subject="Week")
