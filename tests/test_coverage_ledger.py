"""The coverage and cost ledger (issue 16, items 4 and 5): what each source was asked, what answered, items seen
against matched, the share of the run's interval covered, quota and estimated cost, and what was left out; in the
`source_coverage` view, the run summary and the weekly report; and source health's `not matching`."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import duckdb
import pytest

from collectors.rss import collect_feed
from collectors.source_run import QuotaUse, SourceRun
from collectors.units import CollectionUnit, stage_unit
from config.model import Config, FeedSource, HttpSettings
from core.mention import Mention
from core.staging import StagingArea
from enrich.pipeline import enrich_unit
from reports.html import weekly_report_html
from reports.weekly import weekly_report_data
from tests.local_http import LocalHttpServer, Reply
from tests.test_report import read_page
from transport.http import HttpClient
from warehouse.load import load_run
from warehouse.summary import run_summary

MONDAY = datetime(2026, 11, 2, tzinfo=UTC)  # 2026-W45
POSTS_LEFT = "search: Brightwave: posts left for the next run (max_posts_per_run (40) reached)"


@pytest.fixture
def config(tmp_path) -> Config:
    return Config.model_validate({
        "warehouse": {"path": str(tmp_path / "overheard.duckdb")},
        "staging": str(tmp_path / "staging"),
        "brands": [{"name": "Brightwave", "aliases": ["Brightwave"]}],
        "sentiment": {"backend": "lexicon"},
        "sources": [
            {"kind": "x", "name": "x-search", "monthly_read_budget": 1000, "price_per_post_read": "0.005"},
            {"kind": "rss", "name": "techwire", "url": "https://techwire.example/feed"},
            {"kind": "rss", "name": "gazette", "url": "https://gazette.example/feed"},
            {"kind": "rss", "name": "wire", "url": "https://wire.example/feed"},
        ],
    })


def post(source: str, native_id: str, text: str) -> Mention:
    return Mention("news", source, native_id, f"https://{source}.example/{native_id}", text,
                   published_at=MONDAY + timedelta(hours=9, minutes=15))


def load(config: Config, hour: int, *outcomes: SourceRun) -> None:
    """Stage, enrich and load one run whose data interval is the hour before `hour` on Monday."""
    run_id = f"run-{hour:02d}"
    window = (MONDAY + timedelta(hours=hour - 1), MONDAY + timedelta(hours=hour))
    staging = StagingArea(config.staging, run_id)
    unit = CollectionUnit("unit-001", "rss", tuple(outcome.source for outcome in outcomes))
    load_run(config.warehouse.path, run_id, window, [enrich_unit(config, stage_unit(staging, unit, list(outcomes)), staging)])


def first_run() -> list[SourceRun]:
    return [
        SourceRun(
            "x-search", "x", "ok", items_fetched=40,
            mentions=[post("x-search", "1", "Brightwave is down again"), post("x-search", "2", "Brightwave fixed it"),
                      post("x-search", "3", "Nice weather today")],
            asked=["search: Brightwave"], left_out=[POSTS_LEFT],
            quota=QuotaUse("posts read", 40, 1000, 960, "month", Decimal("0.005"), "USD"),
            # X searched only the last half hour of the run's hour.
            window=(MONDAY + timedelta(hours=9, minutes=30), MONDAY + timedelta(hours=10)),
        ),
        SourceRun.failed("techwire", "rss", "HTTP 503 from techwire.example"),
        SourceRun("gazette", "rss", "ok", items_fetched=3, asked=["feed https://gazette.example/feed"], mentions=[
            post("gazette", "a", "Brightwave prices rise"), post("gazette", "b", "Local fair"),
            post("gazette", "c", "Road works"),
        ]),
    ]


def test_the_view_gives_seen_against_matched_window_share_and_cost_and_a_reload_doubles_nothing(config):
    for _ in range(2):
        load(config, 10, *first_run())

    with duckdb.connect(config.warehouse.path, read_only=True) as connection:
        rows = connection.execute(
            """SELECT source, answered, asked, items_seen, mentions_matched, matched_share, window_share, quota_used,
                      quota_left, quota_period, price_per_unit, estimated_cost, price_currency, left_out, error
               FROM source_coverage ORDER BY source"""
        ).fetchall()

    assert rows == [
        ("gazette", True, ["feed https://gazette.example/feed"], 3, 1, 0.3333, 1.0, None, None, None, None, None, None,
         [], None),
        ("techwire", False, [], 0, 0, None, 0.0, None, None, None, None, None, None, [],
         "HTTP 503 from techwire.example"),
        # 40 posts read x 0.005 USD = 0.20 USD; half the hour searched.
        ("x-search", True, ["search: Brightwave"], 40, 2, 0.05, 0.5, 40, 960, "month", Decimal("0.005"),
         Decimal("0.2"), "USD", [POSTS_LEFT], None),
    ]


def test_the_run_summary_has_a_ledger_line_per_source_and_what_was_left_out(config):
    load(config, 10, *first_run())

    lines = run_summary(config.warehouse.path, "run-10", alert_channels=[]).splitlines()

    start = lines.index("Coverage and cost (what each source was asked, what it spent):")
    assert [" ".join(line.split()) for line in lines[start + 1:start + 5]] == [
        "source answered asked seen matched window quota used left cost left out",
        "gazette ok 1 3 1 100% 0",
        "techwire failed 0 0 0 0% 0",
        "x-search ok 1 40 2 50% 40 posts read 960 this month 0.20 USD 1",
    ]
    assert lines[start + 6:start + 8] == ["Left out (what we could not listen to):", f"  x-search: {POSTS_LEFT}"]


def test_a_source_that_keeps_answering_but_stops_matching_is_not_matching_after_three_runs(config):
    techwire = [post("techwire", f"t{n}", "Brightwave news") for n in range(2)]
    for hour in (1, 2, 3):  # the feeds work: techwire sees 10 items a run and 2 name the brand (a rate of 0.2);
        # wire is a busy general feed where the brand is rare: 1 item in 100.
        load(config, hour, SourceRun("techwire", "rss", "ok", items_fetched=10, mentions=techwire),
             SourceRun("gazette", "rss", "ok", items_fetched=3, mentions=[post("gazette", f"g{hour}", "Brightwave")]),
             SourceRun("wire", "rss", "ok", items_fetched=100, mentions=[post("wire", f"w{hour}", "Brightwave")]))

    def health() -> dict[str, tuple[str, int, float | None]]:
        with duckdb.connect(config.warehouse.path, read_only=True) as connection:
            return {source: (state, unmatched, expected) for source, state, unmatched, expected in connection.execute(
                "SELECT source, health, consecutive_unmatched_runs, expected_matches FROM source_health").fetchall()}

    # Then techwire still answers about 10 items a run (a quiet run of 1 item is passed over) and none names the
    # brand, wire its 100, and gazette answers empty.
    for hour, items in ((4, 9), (5, 1), (6, 11)):
        load(config, hour, SourceRun("techwire", "rss", "ok", items_fetched=items, mentions=[]),
             SourceRun("gazette", "rss", "empty"), SourceRun("wire", "rss", "ok", items_fetched=100, mentions=[]))
    # Two such runs of techwire: not yet flagged; gazette, answering empty three times, is silent.
    assert health() == {"techwire": ("healthy", 2, 4.0), "gazette": ("silent", 0, 0.0), "wire": ("healthy", 3, 3.0)}

    load(config, 7, SourceRun("techwire", "rss", "ok", items_fetched=10, mentions=[]), SourceRun("gazette", "rss", "empty"),
         SourceRun("wire", "rss", "ok", items_fetched=100, mentions=[]))
    # The third: techwire is flagged (6 matches expected among its 30 items); gazette stays silent, never "not
    # matching"; wire's 400 items without the brand are not yet unusual (4 expected: none happens 1.8% of the time).
    assert health() == {"techwire": ("not matching", 3, 6.0), "gazette": ("silent", 0, 0.0), "wire": ("healthy", 4, 4.0)}
    summary = run_summary(config.warehouse.path, "run-07", alert_channels=[])
    assert (
        "  techwire has matched nothing for 3 runs in a row; last matching mention 2026-11-02 03:00; it still answers "
        "as usual but nothing names a brand: did the brand's terms change, did the feed change topic, or is the query "
        "too narrow?"
    ) in summary
    assert "  gazette has returned nothing for 4 runs in a row; last matching mention 2026-11-02 03:00; check that it still works" in summary
    with duckdb.connect(config.warehouse.path, read_only=True) as connection:
        page = read_page(weekly_report_html(weekly_report_data(connection, config, "2026-W45"), sections=["source-health"]))
    assert {name: row["health"] for name, row in page.tables["source-health"].items()} == {
        "x-search": "no runs", "techwire": "not matching", "gazette": "silent", "wire": "healthy"}
    assert "not matching: 3 or more runs in a row with its usual volume of items, enough that at its usual rate" in page.text

    # A run that matches again ends the streak.
    load(config, 8, SourceRun("techwire", "rss", "ok", items_fetched=10, mentions=techwire[:1]))
    assert health()["techwire"] == ("healthy", 0, 0.0)


def test_the_weekly_report_says_what_we_listened_to_and_what_we_could_not(config, tmp_path):
    load(config, 10, *first_run())
    load(config, 11, SourceRun(
        "x-search", "x", "ok", items_fetched=20, asked=["search: Brightwave"],
        quota=QuotaUse("posts read", 20, 1000, 940, "month", Decimal("0.005"), "USD"),
    ), SourceRun.skipped("techwire", "rss", "no such feed yet"))

    with duckdb.connect(config.warehouse.path, read_only=True) as connection:
        report = weekly_report_data(connection, config, "2026-W45")
    page = read_page(weekly_report_html(report, sections=["listening"]))

    assert page.row_order["listening"] == ["x-search", "techwire", "gazette", "wire"]
    rows = page.tables["listening"]
    assert {key: rows["x-search"][key] for key in ("items_seen", "matched", "quota_used", "cost")} == {
        "items_seen": "60", "matched": "2", "quota_used": "60", "cost": "0.300000 USD",  # 60 posts x 0.005
    }
    assert rows["gazette"]["items_seen"] == "3" and rows["gazette"]["cost"] == ""
    assert "What we listened to this week, and what we could not" in page.text
    assert "60 posts read 940 left this month 0.30 USD" in page.text
    assert POSTS_LEFT in page.text
    assert "failed: HTTP 503 from techwire.example" in page.text and "skipped: no such feed yet" in page.text
    assert "feed https://gazette.example/feed" in page.text


def test_a_feed_is_asked_for_without_the_login_its_url_carries(fast_http: HttpSettings) -> None:
    with LocalHttpServer() as server:
        server.route("/feed.xml", Reply(200, b"<rss version='2.0'><channel><title>T</title></channel></rss>",
                                        {"Content-Type": "application/rss+xml"}))
        url = server.base_url.replace("://", "://reader:s3cret-pass@") + "/feed.xml"
        run = collect_feed(FeedSource(kind="rss", name="private", url=url), None, HttpClient(fast_http))

    assert run.status == "empty"
    assert run.asked == [f"feed {server.base_url}/feed.xml"]


@pytest.mark.parametrize(("setting", "message"), [
    ({"price_currency": "usd"}, "price_currency 'usd' is not a currency code: use its three capital letters (ISO 4217)"),
    ({"price_per_post_read": "-0.01"}, "greater than or equal to 0"),
    ({"price_per_post_read": "0.0000001"}, "no more than 6 decimal places"),
])
def test_a_price_that_cannot_be_one_is_refused_naming_the_setting(config: Config, setting: dict, message: str) -> None:
    settings = {**config.model_dump(mode="json"), "sources": [{"kind": "x", "name": "x-search", **setting}]}
    with pytest.raises(ValueError, match=re.escape(message)) as refused:
        Config.model_validate(settings)
    assert str(refused.value).count(f"sources.0.x.{next(iter(setting))}") == 1


def test_a_run_is_in_the_ledger_of_every_week_it_searched_and_of_no_other(config):
    def load_window(run_id: str, start: datetime, end: datetime, outcome: SourceRun) -> None:
        staging = StagingArea(config.staging, run_id)
        unit = CollectionUnit("unit-001", "rss", (outcome.source,))
        load_run(config.warehouse.path, run_id, (start, end), [enrich_unit(config, stage_unit(staging, unit, [outcome]), staging)])

    # The gazette's first run reached back across the week boundary (a backfill); the wire's last run of
    # W44 searched that week's last hour, ending as W45 starts.
    load_window("first", MONDAY - timedelta(days=2), MONDAY + timedelta(hours=10),
                SourceRun("gazette", "rss", "ok", items_fetched=7, asked=["feed https://gazette.example/feed"]))
    load_window("late-w44", MONDAY - timedelta(hours=1), MONDAY,
                SourceRun("wire", "rss", "ok", items_fetched=5, asked=["feed https://wire.example/feed"]))

    def listening(week: str) -> dict[str, dict[str, str]]:
        with duckdb.connect(config.warehouse.path, read_only=True) as connection:
            report = weekly_report_data(connection, config, week)
        return read_page(weekly_report_html(report, sections=["listening"])).tables["listening"]

    w45, w44 = listening("2026-W45"), listening("2026-W44")
    assert (w45["gazette"]["items_seen"], w44["gazette"]["items_seen"]) == ("7", "7")
    assert (w45["wire"]["items_seen"], w44["wire"]["items_seen"]) == ("0", "5")
