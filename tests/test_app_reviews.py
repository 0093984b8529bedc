"""App Store reviews: `collect_app_reviews` against a fake reviews feed on 127.0.0.1 that answers in
Apple's JSON format, the config's validation, and a review's way through collect, enrich and load."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pytest
from pydantic import ValidationError

from care.triage import CareStep
from collectors.app_reviews import collect_app_reviews
from collectors.context import CollectionContext
from collectors.units import collect_unit, plan_units, stage_unit
from config.model import AppReviewsSource, Config, HttpSettings
from core.staging import StagingArea
from demo.fake_apis.app_store import PACIFIC, FakeAppStore, app_entry, review_entry
from enrich.pipeline import enrich_unit
from transport.http import HttpClient
from warehouse.connection import open_warehouse
from warehouse.cursors import read_cursors
from warehouse.load import load_run

NOV_1, NOV_2, NOV_3 = (datetime(2026, 11, day, tzinfo=UTC) for day in (1, 2, 3))
BRIGHTWAVE_APP, TIDEWELL_APP, QUIET_APP = "1111111111", "2222222222", "3333333333"
BRANDS = [{"name": "Brightwave", "aliases": ["Brightwave"]}]
COMPETITORS = [{"name": "Tidewell", "aliases": ["Tidewell"]}]


def review(review_id: int, at: datetime, rating: int, title: str, text: str) -> dict[str, Any]:
    """A review of the Brightwave app (gb), as Apple's feed gives it."""
    return review_entry(review_id, at, rating, title, text, app_id=BRIGHTWAVE_APP)


def in_window(minutes: int) -> datetime:
    """A moment inside the window NOV_1..NOV_2, `minutes` before its end."""
    return NOV_2 - timedelta(minutes=minutes)


def brightwave_reviews() -> list[Any]:
    """54 usable reviews in the window over two pages, one malformed, one edited after the window's end,
    and two older than the window's start: newest first, as the feed sorts them."""
    reviews: list[Any] = [review(9000, NOV_2 + timedelta(hours=3), 1, "Down again", "No signal tonight")]
    reviews += [review(8000 - n, in_window(10 + n * 20), 1 + n % 5, f"Review {n}", f"The app, as seen by reviewer {n}.")
                for n in range(54)]
    malformed = review(7900, in_window(10 + 52 * 20 + 5), 2, "No time", "This entry has no usable time")
    malformed["updated"] = {"label": "yesterday-ish"}
    reviews.insert(53, malformed)  # on page 2
    reviews += [review(7000, NOV_1 - timedelta(hours=2), 5, "Old", "Before the window"),
                review(6999, NOV_1 - timedelta(hours=5), 4, "Older", "Long before the window")]
    return reviews


@pytest.fixture
def store() -> Iterator[FakeAppStore]:
    with FakeAppStore() as fake:
        fake.publish("gb", BRIGHTWAVE_APP, brightwave_reviews(), first=app_entry(BRIGHTWAVE_APP))
        tidewell = review(55501, in_window(30), 2, "Slow since update", "Pages take ages to load.")
        tidewell["content"] = [{"label": "Pages take ages to load.", "attributes": {"type": "text"}},
                               {"label": "<table><tr><td>Pages take ages to load.</td></tr></table>", "attributes": {"type": "html"}}]
        fake.publish("us", TIDEWELL_APP, [tidewell], single_as_object=True)
        fake.fail("us", TIDEWELL_APP)
        fake.publish("gb", QUIET_APP, [], first=app_entry(QUIET_APP))
        yield fake


def source(store: FakeAppStore, *apps: tuple[str, str, str]) -> AppReviewsSource:
    return AppReviewsSource(kind="app_reviews", name="app-store", base_url=store.base_url,
                            apps=[{"id": app_id, "country": country, "brand": brand} for app_id, country, brand in apps])


def collect(store: FakeAppStore, http: HttpSettings, *apps: tuple[str, str, str], cursor: Any = None,
            window: tuple[datetime, datetime] = (NOV_1, NOV_2)):
    settings = source(store, *apps)
    return collect_app_reviews(settings, cursor, CollectionContext(HttpClient(http), (), window))


ALL_APPS = ((BRIGHTWAVE_APP, "gb", "Brightwave"), (TIDEWELL_APP, "us", "Tidewell"), (QUIET_APP, "gb", "Brightwave"))


def test_first_run_reads_both_pages_of_each_app_down_to_the_window_start(store: FakeAppStore, fast_http: HttpSettings) -> None:
    run = collect(store, fast_http, *ALL_APPS)

    assert (run.status, run.error) == ("ok", None)
    assert run.warnings == [
        "app 1111111111 (gb, Brightwave): a malformed review skipped "
        "(ValueError(\"Invalid isoformat string: 'yesterday-ish'\")): " + str(brightwave_reviews()[53])[:120]
    ]
    ids = sorted(int(m.native_id or 0) for m in run.mentions)
    # Page 1: the app's own entry (not a review) and 50 reviews; page 2: 4 more, the malformed one, two too old.
    # 9000 was edited after the window's end: the next run's.
    assert ids == [*range(7947, 8001), 55501]
    assert run.items_fetched == 55
    assert store.asked("gb", BRIGHTWAVE_APP) == [
        f"/gb/rss/customerreviews/page={n}/id={BRIGHTWAVE_APP}/sortby=mostrecent/json" for n in (1, 2)
    ]
    # The 503 was retried; the app with no reviews was asked once.
    assert len(store.asked("us", TIDEWELL_APP)) == 2
    assert len(store.asked("gb", QUIET_APP)) == 1
    assert run.cursor == {"apps": {
        f"gb/{BRIGHTWAVE_APP}": {"updated": in_window(10).astimezone(PACIFIC).isoformat(), "id": "8000"},
        f"us/{TIDEWELL_APP}": {"updated": in_window(30).astimezone(PACIFIC).isoformat(), "id": "55501"},
    }}

    by_id = {m.native_id: m for m in run.mentions}
    first, tidewell = by_id["8000"], by_id["55501"]
    assert (first.platform, first.source, first.title, first.text, first.author_handle, first.rating, first.about_brand) == (
        "app_store", "app-store", "Review 0", "Review 0\nThe app, as seen by reviewer 0.", "reviewer8000", 1, "Brightwave"
    )
    assert first.published_at == in_window(10)
    assert first.engagement == {"helpful_votes": 8000 % 3, "votes": 8000 % 5}
    assert first.url == "https://itunes.apple.com/gb/review?id=1111111111&type=Purple%20Software"
    assert first.extras == {"app_id": BRIGHTWAVE_APP, "country": "gb", "version": "4.2.1",
                            "author_uri": "https://itunes.apple.com/gb/reviews/id8007"}
    assert [by_id[str(n)].rating for n in (7999, 7998, 7997, 7996)] == [2, 3, 4, 5]
    # The feed's plain-text content is taken over its HTML twin; a single review comes as an object, not a list.
    assert (tidewell.text, tidewell.rating, tidewell.about_brand) == ("Slow since update\nPages take ages to load.", 2, "Tidewell")


def test_a_rerun_from_the_cursor_reads_only_newer_reviews(store: FakeAppStore, fast_http: HttpSettings) -> None:
    first = collect(store, fast_http, *ALL_APPS)

    again = collect(store, fast_http, *ALL_APPS, cursor=first.cursor)
    assert (again.status, again.mentions, again.items_fetched, again.cursor) == ("empty", [], 0, first.cursor)

    later = collect(store, fast_http, *ALL_APPS, cursor=first.cursor, window=(NOV_2, NOV_3))
    # The review edited after the first window's end comes now, and reading stops at the cursor's review.
    assert [m.native_id for m in later.mentions] == ["9000"]
    assert later.cursor["apps"][f"gb/{BRIGHTWAVE_APP}"]["id"] == "9000"
    assert later.cursor["apps"][f"us/{TIDEWELL_APP}"] == first.cursor["apps"][f"us/{TIDEWELL_APP}"]


def test_an_app_with_no_reviews_is_empty_not_failed(store: FakeAppStore, fast_http: HttpSettings) -> None:
    run = collect(store, fast_http, (QUIET_APP, "gb", "Brightwave"))

    assert (run.status, run.error, run.warnings, run.items_fetched, run.cursor) == ("empty", None, [], 0, {"apps": {}})


def test_an_app_whose_feed_fails_is_a_warning_and_every_app_failing_fails_the_source(
    store: FakeAppStore, fast_http: HttpSettings
) -> None:
    store.fail("gb", "4444444444", times=100)
    cursor = {"apps": {"gb/4444444444": {"updated": "2026-10-30T10:00:00-07:00", "id": "42"}}}

    some = collect(store, fast_http, (QUIET_APP, "gb", "Brightwave"), ("4444444444", "gb", "Brightwave"), cursor=cursor)
    assert some.status == "empty"
    assert some.warnings[0].startswith("app 4444444444 (gb, Brightwave) failed; it is retried next run:")
    assert some.cursor == cursor  # the failed app keeps its place

    alone = collect(store, fast_http, ("4444444444", "gb", "Brightwave"))
    assert alone.status == "failed" and "503" in (alone.error or "")


def test_the_config_says_what_is_wrong_with_an_app() -> None:
    def config(*apps: dict[str, Any]) -> Config:
        return Config.model_validate({
            "warehouse": {"path": "w.duckdb"}, "staging": "staging", "brands": BRANDS, "competitors": COMPETITORS,
            "sources": [{"kind": "app_reviews", "name": "app-store", "apps": list(apps)}],
        })

    parsed = config({"id": 1111111111, "country": "GB", "brand": "Tidewell"})
    assert parsed.sources[0].apps[0].model_dump() == {"id": "1111111111", "country": "gb", "brand": "Tidewell"}
    for apps, message in [
        ([{"id": "id1111", "brand": "Brightwave"}], "expected the App Store app id, the digits after 'id'"),
        ([{"id": "1111", "country": "gbr", "brand": "Brightwave"}], "two-letter country code such as 'gb' or 'us', got 'gbr'"),
        ([{"id": "1111", "brand": "Skylark"}], "apps[0].brand 'Skylark' is not a brand or competitor; name one of Brightwave, Tidewell"),
        ([{"id": "1111", "brand": "Brightwave"}, {"id": "1111", "country": "GB", "brand": "Tidewell"}], "the name 'gb/1111' is used twice"),
        ([], "at least 1 item"),
    ]:
        with pytest.raises(ValidationError, match=re.escape(message)):
            config(*apps)


def test_reviews_are_collected_enriched_and_loaded_with_their_rating_and_brand(
    store: FakeAppStore, fast_http: HttpSettings, tmp_path: Any
) -> None:
    config = Config.model_validate({
        "warehouse": {"path": str(tmp_path / "w.duckdb")}, "staging": str(tmp_path / "staging"),
        "brands": BRANDS, "competitors": COMPETITORS, "sentiment": {"backend": "lexicon"},
        "sources": [{"kind": "app_reviews", "name": "app-store", "base_url": store.base_url,
                     "apps": [{"id": app_id, "country": country, "brand": brand} for app_id, country, brand in ALL_APPS]}],
        "playbook": {"categories": [{"name": "bad-review", "query": "platform:app_store", "about": "any", "ratings": [1, 2]}],
                     "queues": [{"name": "care"}], "default_queue": "care"},
    })
    (unit,) = plan_units(config)
    assert (unit.id, unit.kind, unit.sources) == ("app_reviews-app-store", "app_reviews", ("app-store",))

    def run(run_id: str, window: tuple[datetime, datetime]) -> Any:
        staging = StagingArea(config.staging, run_id)
        runs = collect_unit(config, unit, read_cursors(config.warehouse.path), window, client=HttpClient(fast_http))
        enriched = enrich_unit(config, stage_unit(staging, unit, runs), staging)
        return load_run(config.warehouse.path, run_id, window, [enriched])

    first = run("run-1", (NOV_1, NOV_2))
    again = run("run-2", (NOV_1, NOV_2))

    assert (first.mentions_new, again.mentions_new, again.mentions_seen_again) == (55, 0, 0)
    with duckdb.connect(config.warehouse.path, read_only=True) as connection:
        def rows(sql: str) -> list[tuple[Any, ...]]:
            return connection.execute(sql).fetchall()

        assert rows("SELECT count(*), count(DISTINCT mention_key), min(rating), max(rating) FROM mentions") == [(55, 55, 1, 5)]
        assert rows("SELECT rating, count(*) FROM mentions GROUP BY 1 ORDER BY 1") == [(1, 11), (2, 12), (3, 11), (4, 11), (5, 10)]
        # No review names its brand: each belongs to its app's brand, with no term matched.
        assert rows("SELECT brand, role, matched_terms, count(*) FROM mention_brands GROUP BY ALL ORDER BY 1") == [
            ("Brightwave", "brand", [], 54), ("Tidewell", "competitor", [], 1),
        ]
        assert rows("SELECT mention_key, rating, about_brand, author_handle, published_at FROM mentions "
                    "WHERE mention_key = 'app_store:55501'") == [
            ("app_store:55501", 2, "Tidewell", "reviewer55501", in_window(30)),
        ]
        assert rows("SELECT run_id, status, items_fetched, mentions_matched, dropped_unmatched, mentions_new FROM runs ORDER BY 1") == [
            ("run-1", "ok", 55, 55, 0, 55), ("run-2", "empty", 0, 0, 0, 0),
        ]
    assert read_cursors(config.warehouse.path)["app-store"]["apps"][f"gb/{BRIGHTWAVE_APP}"]["id"] == "8000"

    # The playbook can pick reviews by their stars, whatever their words say: every 1- and 2-star review, no other.
    connection = open_warehouse(config.warehouse.path)
    try:
        CareStep(connection, config, "run-1", NOV_2).run()
        assert connection.execute(
            "SELECT m.rating, t.brand, count(*) FROM triage_items AS t JOIN mentions AS m USING (mention_key) "
            "GROUP BY ALL ORDER BY 1, 2"
        ).fetchall() == [(1, "Brightwave", 11), (2, "Brightwave", 11), (2, "Tidewell", 1)]
    finally:
        connection.close()
