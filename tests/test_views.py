"""The analyst views give the numbers an analyst would work out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

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
    connection.execute("INSERT INTO mention_brands VALUES (?, ?, ?, [])", [key, brand, role])


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
