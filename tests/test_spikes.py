"""Spikes: the detector on hourly series, and volumes, explanations and spikes read from a warehouse."""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb
import pytest

from care.spikes import (
    SPIKE_MODEL,
    SpikeSettings,
    detect_spikes,
    explain_spike,
    find_spikes,
    hourly_volume,
    recent_spikes,
    spike_score,
)

HOUR = timedelta(hours=1)
START = datetime(2026, 9, 7, tzinfo=UTC)  # a Monday


def poisson_series(rate: float, weeks: int, seed: int, start: datetime = START) -> dict[datetime, int]:
    """`weeks` weeks of hourly Poisson(rate) counts (Knuth's sampler)."""
    chooser = random.Random(seed)
    series = {}
    for index in range(weeks * 168):
        count, product, limit = 0, chooser.random(), math.exp(-rate)
        while product > limit:
            count += 1
            product *= chooser.random()
        series[start + index * HOUR] = count
    return series


def test_spike_score_is_minus_log10_of_the_negative_binomial_upper_tail():
    # Reference values from scipy.stats.nbinom.sf(c - 1, n * expected + 0.5, n / (n + 1)).
    assert spike_score(10, 2, 4) == pytest.approx(-math.log10(6.760920674256e-04), abs=1e-6)
    assert spike_score(10, 4, 4) == pytest.approx(-math.log10(2.011996959125e-02), abs=1e-6)
    assert spike_score(20, 5, 1) == pytest.approx(-math.log10(1.279389542668e-03), abs=1e-6)
    assert spike_score(300, 150, 4) == pytest.approx(-math.log10(4.591769387825e-21), abs=1e-6)
    assert spike_score(3, 5, 4) == pytest.approx(-math.log10(0.8565079156981), abs=1e-9)  # below the mean
    assert spike_score(0, 3, 4) == 0
    assert spike_score(5000, 0.5, 4) > 3000  # no underflow to infinity


def test_an_injected_spike_in_a_flat_series_is_found_at_its_hour():
    series = poisson_series(5, weeks=5, seed=3)
    spike_hour = START + timedelta(weeks=4, days=2, hours=14)
    series[spike_hour] = 40

    spikes = detect_spikes(series, brand="acme")

    assert [(spike.brand, spike.category, spike.hour_start, spike.mentions) for spike in spikes] == [
        ("acme", None, spike_hour, 40)
    ]
    assert 3 <= spikes[0].baseline <= 7
    assert spikes[0].score == pytest.approx(spike_score(40, spikes[0].baseline, 4), abs=1e-3)
    assert (spikes[0].peak_hour, spikes[0].last_hour, spikes[0].spike_hours) == (spike_hour, spike_hour, 1)
    assert spikes[0].spike_model == SPIKE_MODEL


def test_a_busy_monday_morning_every_week_is_not_a_spike_in_local_time():
    berlin = ZoneInfo("Europe/Berlin")
    series = poisson_series(3, weeks=8, seed=5)  # 7 Sep to 2 Nov 2026: clocks go back on 25 Oct
    mondays = [datetime(2026, 9, 7, 9, tzinfo=berlin) + timedelta(weeks=week) for week in range(8)]
    for monday in mondays:
        series[monday.astimezone(UTC)] = 60

    assert detect_spikes(series, brand="acme", timezone="Europe/Berlin") == []
    # Counted in UTC, the newsletter hour moves after the clock change: its first Monday is a spike.
    in_utc = detect_spikes(series, brand="acme")
    assert [spike.hour_start for spike in in_utc] == [mondays[7].astimezone(UTC)]


def test_a_quiet_brand_needs_min_volume():
    series = poisson_series(0.1, weeks=5, seed=7)
    spike_hour = START + timedelta(weeks=4, hours=20)
    series[spike_hour] = 8

    assert detect_spikes(series, brand="acme") == []
    lower = SpikeSettings(min_volume=8)
    assert [spike.hour_start for spike in detect_spikes(series, brand="acme", settings=lower)] == [spike_hour]


def test_a_busy_brand_needs_min_ratio():
    series = poisson_series(200, weeks=5, seed=11)
    spike_hour = START + timedelta(weeks=4, hours=15)
    series[spike_hour] = 300  # 1.5 times the usual: p < 1e-10, still not a spike

    assert detect_spikes(series, brand="acme") == []
    assert len(detect_spikes(series, brand="acme", settings=SpikeSettings(min_ratio=1.4))) == 1


def test_spike_hours_within_the_cooldown_are_one_spike():
    series = {START + index * HOUR: 2 for index in range(6 * 168)}
    first = START + timedelta(weeks=5, hours=10)
    for offset, count in ((0, 30), (1, 50), (2, 20), (5, 25), (12, 30)):
        series[first + offset * HOUR] = count

    spikes = detect_spikes(series, brand="acme")
    assert [(s.hour_start, s.mentions, s.peak_hour, s.peak_mentions, s.last_hour, s.spike_hours) for s in spikes] == [
        (first, 30, first + HOUR, 50, first + 5 * HOUR, 4),
        (first + 12 * HOUR, 30, first + 12 * HOUR, 30, first + 12 * HOUR, 1),
    ]
    shorter = detect_spikes(series, brand="acme", settings=SpikeSettings(cooldown_hours=2))
    assert [spike.hour_start for spike in shorter] == [first, first + 5 * HOUR, first + 12 * HOUR]


def test_history_before_the_series_started_is_not_taken_as_zero():
    # One week of 12 an hour: in its second week, 12 an hour is usual (one week of history, not three zeros).
    series = {START + index * HOUR: 12 for index in range(2 * 168)}
    assert detect_spikes(series, brand="acme") == []
    # The same counts with three earlier weeks of silence are a spike the moment they start.
    silent = {START - timedelta(weeks=3) + index * HOUR: 0 for index in range(3 * 168)}
    assert [spike.hour_start for spike in detect_spikes(silent | series, brand="acme")] == [START]


def test_recent_spikes_report_a_spike_once_whatever_the_window():
    series = poisson_series(4, weeks=6, seed=13)
    onset = START + timedelta(weeks=5, days=1, hours=8)
    for offset in range(30):  # a crisis of 30 hours
        series[onset + offset * HOUR] = 40
    whole = detect_spikes(series, brand="acme")
    assert [spike.hour_start for spike in whole] == [onset]

    hourly_runs = {
        (spike.brand, spike.hour_start): spike
        for until in (onset + hours * HOUR for hours in range(1, 60))
        for spike in recent_spikes({("acme", None): series}, until=until, lookback_hours=1)
    }
    assert list(hourly_runs) == [("acme", onset)]
    late_run = recent_spikes({("acme", None): series}, until=onset + 40 * HOUR, lookback_hours=24)
    assert late_run == []  # the crisis began 40 hours before: not a new spike


# The warehouse columns the spike functions read, as in warehouse/migrations and migration 005.
WAREHOUSE_SQL = """
CREATE TABLE mentions (mention_key VARCHAR PRIMARY KEY, platform VARCHAR NOT NULL, source VARCHAR NOT NULL,
    url VARCHAR, title VARCHAR, text VARCHAR NOT NULL, author_handle VARCHAR, published_at TIMESTAMPTZ,
    reach_estimate BIGINT, is_owned BOOLEAN NOT NULL, is_deleted BOOLEAN NOT NULL DEFAULT false,
    first_seen_at TIMESTAMPTZ NOT NULL, published_precision VARCHAR NOT NULL DEFAULT 'second');
CREATE TABLE mention_brands (mention_key VARCHAR NOT NULL, brand VARCHAR NOT NULL, role VARCHAR NOT NULL,
    matched_terms VARCHAR[] NOT NULL, PRIMARY KEY (mention_key, brand));
CREATE VIEW earned_mentions AS SELECT * FROM mentions WHERE NOT is_owned AND NOT is_deleted;
CREATE TABLE mention_categories (mention_key VARCHAR, category VARCHAR, PRIMARY KEY (mention_key, category));
"""


def warehouse() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'America/New_York'")  # hours must still come out in UTC
    connection.execute(WAREHOUSE_SQL)
    return connection


def add_mention(connection, key, at, *, brand="acme", text="loving my acme kettle", author="fan", source="x-search",
                platform="x", reach=100, owned=False, deleted=False, published=True, categories=(), precision="second"):
    connection.execute(
        "INSERT INTO mentions VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?)",
        [key, platform, source, f"https://{platform}.example/{key}", text, author, at if published else None,
         reach, owned, deleted, at if not published else at + timedelta(hours=5), precision],
    )
    connection.execute("INSERT INTO mention_brands (mention_key, brand, role, matched_terms) VALUES (?, ?, 'brand', ['acme'])", [key, brand])
    for category in categories:
        connection.execute("INSERT INTO mention_categories VALUES (?, ?)", [key, category])


def test_hourly_volume_counts_earned_mentions_per_brand_category_and_hour():
    connection = warehouse()
    t0 = datetime(2026, 11, 2, 10, tzinfo=UTC)
    add_mention(connection, "x:1", t0 + timedelta(minutes=5), categories=["delivery"])
    add_mention(connection, "x:2", t0 + timedelta(minutes=59), categories=["delivery", "billing"])
    add_mention(connection, "x:3", t0 + 3 * HOUR, published=False)  # counted at first_seen_at
    add_mention(connection, "x:4", t0 + timedelta(minutes=20), owned=True)
    add_mention(connection, "x:5", t0 + timedelta(minutes=20), deleted=True)
    add_mention(connection, "x:6", t0 - 2 * HOUR, brand="rival")
    add_mention(connection, "x:7", t0 + 30 * HOUR, brand="rival")  # after the window
    # A page that states only its day: stored at midnight, counted when first seen (not piled into hour 00).
    add_mention(connection, "blog:8", datetime(2026, 11, 2, tzinfo=UTC), platform="blog", precision="day")
    connection.execute("UPDATE mentions SET first_seen_at = ? WHERE mention_key = 'blog:8'", [t0 + HOUR + timedelta(minutes=10)])

    volumes = hourly_volume(connection, t0 - 4 * HOUR, t0 + 4 * HOUR, by_category=True)

    assert list(volumes) == [("acme", None), ("acme", "billing"), ("acme", "delivery"), ("rival", None)]
    assert volumes[("acme", None)] == {t0: 2, t0 + HOUR: 1, t0 + 2 * HOUR: 0, t0 + 3 * HOUR: 1}
    assert volumes[("acme", "billing")] == {t0: 1, t0 + HOUR: 0, t0 + 2 * HOUR: 0, t0 + 3 * HOUR: 0}
    assert volumes[("acme", "delivery")] == {t0: 2, t0 + HOUR: 0, t0 + 2 * HOUR: 0, t0 + 3 * HOUR: 0}
    assert volumes[("rival", None)] == {t0 + HOUR * offset: 1 if offset == -2 else 0 for offset in range(-2, 4)}
    assert all(hour.tzinfo is UTC for series in volumes.values() for hour in series)
    # Mentioned before the window and not since: a series of zeros from the window's start.
    later = hourly_volume(connection, t0 + 5 * HOUR, t0 + 7 * HOUR)
    assert later == {("acme", None): {t0 + 5 * HOUR: 0, t0 + 6 * HOUR: 0},
                     ("rival", None): {t0 + 5 * HOUR: 0, t0 + 6 * HOUR: 0}}


def warehouse_with_a_spike() -> tuple[duckdb.DuckDBPyConnection, datetime]:
    """Four weeks of 2 acme mentions an hour from regular fans, then an hour of 25 about a recall."""
    connection = warehouse()
    history_start = datetime(2026, 10, 5, tzinfo=UTC)
    spike_hour = history_start + timedelta(weeks=4, hours=13)
    connection.execute(
        """INSERT INTO mentions SELECT 'x:' || i, 'x', 'x-search', 'https://x.example/' || i, NULL,
               ['loving the new acme kettle', 'acme kettle boils fast', 'my acme toaster is great'][i % 3 + 1],
               'fan' || (i % 40), $start + to_minutes(i * 30), 10 + i % 50, false, false, $start + to_minutes(i * 30),
               'second'
           FROM range(CAST($hours * 2 AS BIGINT)) AS r(i)""",
        {"start": history_start, "hours": 4 * 168 + 20},
    )
    connection.execute("INSERT INTO mention_brands (mention_key, brand, role, matched_terms) SELECT mention_key, 'acme', 'brand', ['acme'] FROM mentions")
    connection.execute("INSERT INTO mention_categories SELECT mention_key, 'product' FROM mentions")
    connection.execute("INSERT INTO mention_categories SELECT mention_key, 'safety' FROM mentions LIMIT 3")
    for index in range(25):
        reddit = index < 9
        source, platform, author = ("reddit-acme", "reddit", "angry_dad") if reddit else ("x-search", "x", f"u{index}")
        add_mention(
            connection, f"spike:{index}", spike_hour + timedelta(minutes=2 * index),
            text=f"Is the acme kettle recall real? {['Mine caught fire', 'The lid melted', 'Mine too'][index % 3]} "
                 f"https://t.co/x{index}",
            author=author, source=source, platform=platform, reach=1000 + index, categories=["safety"],
        )
    return connection, spike_hour


def test_explain_spike_names_the_terms_authors_sources_and_posts_of_the_spike():
    connection, spike_hour = warehouse_with_a_spike()
    [spike] = detect_spikes(
        hourly_volume(connection, spike_hour - timedelta(weeks=4), spike_hour + HOUR)[("acme", None)], brand="acme",
        start=spike_hour,
    )
    assert (spike.hour_start, spike.mentions, spike.baseline) == (spike_hour, 27, 2)

    explanation = explain_spike(connection, spike, top=3)

    assert (explanation.mentions, explanation.baseline_mentions) == (27, 4 * 168 * 2)
    assert [(term.term, term.mentions, term.baseline_mentions) for term in explanation.terms] == [
        ("kettle recall", 25, 0), ("real", 25, 0), ("recall", 25, 0)  # equal keyness: alphabetical
    ]
    assert [(author.name, author.mentions) for author in explanation.authors][0] == ("reddit:angry_dad", 9)
    assert [(source.name, source.mentions) for source in explanation.sources] == [("x-search", 18), ("reddit-acme", 9)]
    assert [example.mention_key for example in explanation.examples] == ["spike:24", "spike:23", "spike:22"]
    assert explanation.examples[0].text == "Is the acme kettle recall real? Mine caught fire https://t.co/x24"
    stored = json.loads(explanation.as_json())
    assert stored["examples"][0]["published_at"] == (spike_hour + timedelta(minutes=48)).isoformat()
    assert stored["authors"][0] == {"name": "reddit:angry_dad", "mentions": 9}


def test_find_spikes_reports_recent_spikes_per_brand_and_category_with_explanations():
    connection, spike_hour = warehouse_with_a_spike()

    found = find_spikes(connection, until=spike_hour + 5 * HOUR + timedelta(minutes=30), lookback_hours=24)

    assert [(spike.brand, spike.category, spike.hour_start, spike.mentions) for spike, _ in found] == [
        ("acme", None, spike_hour, 27),
        ("acme", "safety", spike_hour, 25),
    ]
    assert found[1][1].authors[0].name == "reddit:angry_dad"
    assert find_spikes(connection, until=spike_hour + 30 * HOUR, lookback_hours=24) == []
