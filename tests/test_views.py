"""The analyst views give the numbers an analyst would work out by hand, and the weekly report the same ones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from config.model import Config
from reports.weekly import weekly_report_data
from warehouse.connection import open_warehouse
from warehouse.daily_aggregates import refresh_daily_aggregates

DAY = datetime(2026, 11, 2, 10, tzinfo=UTC)


@pytest.fixture
def warehouse(tmp_path):
    connection = open_warehouse(tmp_path / "w.duckdb")
    yield connection
    connection.close()


def mention(connection, key, brand, *, day=0, sentiment="neutral", author="a", reach=100, platform="x", story=None,
            owned=False, role="brand") -> None:
    at = DAY + timedelta(days=day)
    connection.execute(
        """
        INSERT INTO mentions (mention_key, platform, source, text, author_handle, author_followers, published_at,
            sentiment_label, reach_estimate, is_owned, story_id, story_reason, first_run_id, first_seen_at,
            last_run_id, last_seen_at, url)
        VALUES (?, ?, 'src', 'text', ?, ?, ?, ?, ?, ?, ?, 'original', 'r', ?, 'r', ?, ?)
        """,
        [key, platform, author, reach, at, sentiment, reach, owned, story or key, at, at, f"https://e.example/{key}"],
    )
    connection.execute("INSERT INTO mention_brands (mention_key, brand, role, matched_terms) VALUES (?, ?, ?, [])", [key, brand, role])


def test_daily_volume_share_of_voice_and_net_sentiment(warehouse):
    for n, sentiment in enumerate(["positive", "positive", "positive", "negative"]):
        mention(warehouse, f"x:b{n}", "Brightwave", sentiment=sentiment, author=f"u{n % 2}", reach=1_000)
    mention(warehouse, "x:t1", "Tidewell", sentiment="negative", author="t", reach=3_000, role="competitor")
    mention(warehouse, "x:own", "Brightwave", owned=True)  # owned: left out everywhere
    for n in range(2):  # a week later: Brightwave turns negative
        mention(warehouse, f"x:late{n}", "Brightwave", day=7, sentiment="negative", author="u9")
    refresh_daily_aggregates(warehouse)  # as a load does for the days it touched

    assert warehouse.execute(
        "SELECT day, brand, mentions, unique_authors, reach, positive, negative FROM daily_volume ORDER BY day, brand"
    ).fetchall() == [
        (date(2026, 11, 2), "Brightwave", 4, 2, 4_000, 3, 1),
        (date(2026, 11, 2), "Tidewell", 1, 1, 3_000, 0, 1),
        (date(2026, 11, 9), "Brightwave", 2, 1, 200, 0, 2),
    ]
    assert warehouse.execute(
        "SELECT brand, share_by_volume, share_by_reach, share_by_unique_authors FROM share_of_voice "
        "WHERE day = '2026-11-02' ORDER BY brand"
    ).fetchall() == [("Brightwave", 0.8, 0.5714, 0.6667), ("Tidewell", 0.2, 0.4286, 0.3333)]
    assert warehouse.execute(
        "SELECT day, net_sentiment, net_sentiment_7d, trend_7d FROM net_sentiment WHERE brand = 'Brightwave' ORDER BY day"
    ).fetchall() == [(date(2026, 11, 2), 0.5, 0.5, None), (date(2026, 11, 9), -1.0, -1.0, -1.5)]


def test_top_authors_and_top_stories_cover_the_last_28_days(warehouse):
    mention(warehouse, "x:old", "Brightwave", day=-40, author="gone", reach=10**6)
    for n in range(3):
        mention(warehouse, f"x:k{n}", "Brightwave", author="kez", reach=50, story="x:k0")
    mention(warehouse, "x:big", "Brightwave", author="news", reach=9_000)

    assert warehouse.execute("SELECT author, mentions, reach FROM top_authors").fetchall() == [
        ("x:kez", 3, 150), ("x:news", 1, 9_000)
    ]
    assert warehouse.execute("SELECT story_id, mentions, reach, url FROM top_stories").fetchall() == [
        ("x:big", 1, 9_000, "https://e.example/x:big"), ("x:k0", 3, 150, "https://e.example/x:k0")
    ]


def test_the_views_and_the_weekly_report_give_the_same_figures(warehouse, tmp_path):
    # 2026-W45 in UTC: Monday 2 to Sunday 8 November. Each week's mentions fall on its Wednesday, so the
    # views' figures for that day are the week's.
    for n, sentiment in enumerate(["positive"] * 3 + ["negative"] + ["neutral"] * 2):
        mention(warehouse, f"x:b{n}", "Brightwave", day=2, sentiment=sentiment, author=f"b{n % 3}", reach=500)
    for n, sentiment in enumerate(["positive"] + ["negative"] * 3):
        mention(warehouse, f"x:t{n}", "Tidewell", day=2, sentiment=sentiment, author=f"t{n}", reach=1_500,
                role="competitor")
    mention(warehouse, "x:before-b", "Brightwave", day=-5, sentiment="positive")
    for n in range(3):
        mention(warehouse, f"x:before-t{n}", "Tidewell", day=-5, sentiment="negative", author=f"t{n}",
                role="competitor")
    # techwire produced, then fell silent; gazette produced, then failed.
    runs = [("techwire", "ok", 2, 1), ("gazette", "ok", 1, 1), ("gazette", "failed", 0, 3)]
    runs += [("techwire", "empty", 0, day) for day in (3, 4, 5)]
    for source, status, collected, day in runs:
        warehouse.execute(
            """INSERT INTO runs (run_id, source, kind, status, items_fetched, mentions_collected, mentions_matched,
                   dropped_unmatched, mentions_new, error, warnings, duration_seconds, window_start, window_end)
               VALUES (?, ?, 'rss', ?, ?, ?, ?, 0, ?, NULL, [], 1.0, ?, ?)""",
            [f"run-{day}", source, status, collected, collected, collected, collected,
             DAY + timedelta(days=day, hours=-1), DAY + timedelta(days=day)],
        )
    refresh_daily_aggregates(warehouse)
    config = Config.model_validate({
        "timezone": "UTC", "warehouse": {"path": str(tmp_path / "w.duckdb")}, "staging": str(tmp_path / "staging"),
        "brands": [{"name": "Brightwave", "aliases": ["Brightwave"]}],
        "competitors": [{"name": "Tidewell", "aliases": ["Tidewell"]}],
        "sources": [{"kind": "rss", "name": name, "url": f"https://{name}.example/feed"}
                    for name in ("techwire", "gazette")],
    })
    report = weekly_report_data(warehouse, config, "2026-W45")

    def view(sql: str, day: date) -> dict[str, tuple]:
        return {brand: tuple(values) for brand, *values in warehouse.execute(sql, [day]).fetchall()}

    wednesday, wednesday_before = date(2026, 11, 4), date(2026, 10, 28)
    volume = view("SELECT brand, sum(mentions) FROM daily_volume WHERE day = ? GROUP BY brand", wednesday)
    assert volume == {"Brightwave": (6,), "Tidewell": (4,)}
    assert {row.brand: (row.mentions, row.daily[2]) for row in report.volume} == {
        "Brightwave": (6, 6), "Tidewell": (4, 4)
    }

    share_sql = ("SELECT brand, share_by_volume, share_by_reach, share_by_unique_authors, unique_authors "
                 "FROM share_of_voice WHERE day = ?")
    shares, shares_before = view(share_sql, wednesday), view(share_sql, wednesday_before)
    assert shares == {"Brightwave": (0.6, 0.3333, 0.4286, 3), "Tidewell": (0.4, 0.6667, 0.5714, 4)}
    for row in report.share_of_voice:
        assert (row.share_by_volume, row.share_by_reach, row.share_by_unique_authors, row.unique_authors) == (
            pytest.approx(shares[row.brand], abs=5e-5)
        )
        assert row.previous_share_by_volume == shares_before[row.brand][0]
    assert {brand: share[0] for brand, share in shares_before.items()} == {"Brightwave": 0.25, "Tidewell": 0.75}

    sentiment = view("SELECT brand, net_sentiment, net_sentiment_7d FROM net_sentiment WHERE day = ?", wednesday)
    assert sentiment == {"Brightwave": (0.5, 0.5), "Tidewell": (-0.5, -0.5)}
    assert {row.brand: row.net_sentiment for row in report.sentiment} == {"Brightwave": 0.5, "Tidewell": -0.5}
    assert {row.brand: row.previous_net_sentiment for row in report.sentiment} == {
        "Brightwave": 1.0, "Tidewell": -1.0
    }

    # Reach-v2 counts each author once: three Brightwave authors, two mentions of 500 each.
    assert view("SELECT brand, unique_authors, unique_author_reach FROM daily_unique_author_reach WHERE day = ?",
                wednesday) == {"Brightwave": (3, 1_500), "Tidewell": (4, 6_000)}

    health = dict(warehouse.execute("SELECT source, health FROM source_health").fetchall())
    assert health == {"techwire": "silent", "gazette": "broken"}
    assert {row.source: row.health for row in report.sources} == health
