"""Staffing: Erlang C, agents needed, the weekly arrivals forecast and the plan read from triage_items."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import duckdb
import pytest

from care.staffing import (
    LEVEL_DAMPING_ARRIVALS,
    STAFFING_MODEL,
    QueueStaffing,
    StaffingDay,
    agents_needed,
    daily_staffing,
    erlang_c,
    forecast_hourly_arrivals,
    service_level,
    staffing_plan,
    week_hours,
)

LONDON = ZoneInfo("Europe/London")
TRIAGE_ITEMS_DDL = """
CREATE TABLE triage_items (
    mention_key        VARCHAR PRIMARY KEY,
    brand              VARCHAR NOT NULL,
    category           VARCHAR NOT NULL,
    queue              VARCHAR NOT NULL,
    priority           DOUBLE NOT NULL,
    priority_model     VARCHAR NOT NULL,
    escalated          BOOLEAN NOT NULL,
    status             VARCHAR NOT NULL,
    assignee           VARCHAR,
    opened_at          TIMESTAMPTZ NOT NULL,
    sla_minutes        INTEGER NOT NULL,
    due_at             TIMESTAMPTZ NOT NULL,
    first_response_at  TIMESTAMPTZ,
    first_response_url VARCHAR,
    closed_at          TIMESTAMPTZ,
    updated_at         TIMESTAMPTZ NOT NULL
);
"""


def exact_erlang_c(traffic: Fraction, agents: int) -> Fraction:
    """The textbook factorial formula in exact rational arithmetic: independent of the Erlang B recursion."""
    queued = traffic**agents / math.factorial(agents) * agents / (agents - traffic)
    return queued / (sum(traffic**k / math.factorial(k) for k in range(agents)) + queued)


def exact_service_level(arrivals_per_hour: int, handle_seconds: int, agents: int, answer_within_seconds: int) -> float:
    traffic = Fraction(arrivals_per_hour * handle_seconds, 3600)
    return 1 - float(exact_erlang_c(traffic, agents)) * math.exp(
        -float(agents - traffic) * answer_within_seconds / handle_seconds
    )


def test_erlang_c_small_case_by_hand():
    # A = 2, N = 3: A^3/3! · 3/(3−2) = 4 over 1 + 2 + 2 + 4 = 9.
    assert erlang_c(2.0, 3) == pytest.approx(4 / 9, rel=1e-12)
    assert erlang_c(0.0, 3) == 0.0
    assert erlang_c(3.0, 3) == 1.0 and erlang_c(4.5, 3) == 1.0


def test_erlang_c_worked_example_360_calls_per_half_hour():
    # The widely reproduced step-by-step example (Westbay Engineers' "The Erlang-C Formula"): 360 calls per
    # half hour, 4 minute calls, 55 agents, target answer time 15 seconds, so A = 48 Erlangs.
    assert erlang_c(48.0, 55) == pytest.approx(float(exact_erlang_c(Fraction(48), 55)), rel=1e-12)
    assert erlang_c(48.0, 55) == pytest.approx(0.2387, abs=5e-5)
    assert service_level(720, 240, 55, 15) == pytest.approx(exact_service_level(720, 240, 55, 15), rel=1e-12)
    assert service_level(720, 240, 55, 15) == pytest.approx(0.8459, abs=5e-5)


def test_erlang_c_large_traffic_does_not_overflow():
    with pytest.raises(OverflowError):
        float(math.factorial(520))  # why the naive formula cannot be computed in floats
    assert erlang_c(500.0, 520) == pytest.approx(float(exact_erlang_c(Fraction(500), 520)), rel=1e-10)
    # 5,000 Erlangs, 100 agents over: the Halfin-Whitt limit 1 / (1 + β·Φ(β)/φ(β)), β = 100/√5000: ≈ 0.101.
    beta = 100 / math.sqrt(5000)
    density, cumulative = math.exp(-beta * beta / 2) / math.sqrt(2 * math.pi), (1 + math.erf(beta / math.sqrt(2))) / 2
    assert erlang_c(5000.0, 5100) == pytest.approx(1 / (1 + beta * cumulative / density), abs=0.005)


@pytest.mark.parametrize(
    ("arrivals_per_hour", "handle_seconds", "target_share", "answer_within_seconds"),
    [
        (720, 240, 0.8, 20),  # call-centre style: 80/20
        (720, 240, 0.8, 15),
        (6000, 300, 0.8, 20),  # 500 Erlangs
        (20, 360, 0.9, 60),  # social care: a few items an hour, answered within a minute
        (3, 900, 0.95, 900),
    ],
)
def test_agents_needed_is_the_fewest_that_meet_the_target(
    arrivals_per_hour, handle_seconds, target_share, answer_within_seconds
):
    agents = agents_needed(arrivals_per_hour, handle_seconds, target_share, answer_within_seconds, max_occupancy=1.0)
    traffic = arrivals_per_hour * handle_seconds / 3600
    assert agents > traffic
    assert exact_service_level(arrivals_per_hour, handle_seconds, agents, answer_within_seconds) >= target_share
    assert agents - 1 <= traffic or (
        exact_service_level(arrivals_per_hour, handle_seconds, agents - 1, answer_within_seconds) < target_share
    )


def test_agents_needed_known_answers():
    assert agents_needed(720, 240, 0.8, 20, max_occupancy=1.0) == 54
    assert agents_needed(720, 240, 0.8, 15, max_occupancy=1.0) == 55
    # 500 Erlangs: Erlang C alone plans 97% occupancy; the default cap of 85% needs ceil(500 / 0.85) = 589.
    assert agents_needed(6000, 300, 0.8, 20, max_occupancy=1.0) == 513
    assert agents_needed(6000, 300, 0.8, 20) == 589
    # Social care: 20 items an hour of 6 minutes (2 Erlangs), 80% answered within an hour: 3 agents, SL ≈ 1.
    assert agents_needed(20, 360, 0.8, 3600) == 3
    assert service_level(20, 360, 3, 3600) == pytest.approx(1 - 4 / 9 * math.exp(-10), rel=1e-12)


def test_no_arrivals_need_no_agents():
    assert agents_needed(0, 300, 0.8, 3600) == 0
    assert service_level(0, 300, 0, 3600) == 1.0
    assert service_level(10, 360, 1, 3600) == 0.0  # 1 Erlang on 1 agent: the queue never empties


def test_agents_needed_refuses_an_unreachable_target():
    with pytest.raises(ValueError, match="target_share"):
        agents_needed(10, 300, 1.0, 60)


def weekly_pattern(moment: datetime) -> float:
    """A known arrivals pattern by local weekday and clock hour."""
    local = moment.astimezone(LONDON)
    return float((local.weekday() + 1) * 10 + local.hour)


def history_of(week_starts: list[date], pattern=weekly_pattern, scale=None) -> dict[datetime, float]:
    return {
        hour: pattern(hour) * (scale[index] if scale else 1)
        for index, week_start in enumerate(week_starts)
        for hour in week_hours(week_start, "Europe/London")
    }


def mondays_before(week_start: date, count: int) -> list[date]:
    return [week_start - timedelta(weeks=back) for back in range(count, 0, -1)]


def test_forecast_reproduces_a_weekly_pattern():
    week_start = date(2026, 6, 15)
    forecast = forecast_hourly_arrivals(
        history_of(mondays_before(week_start, 6)), week_start, weeks=4, timezone="Europe/London"
    )
    assert forecast.weeks_used == 4 and forecast.level_factor == 1.0 and forecast.model == STAFFING_MODEL
    assert list(forecast.hourly) == week_hours(week_start, "Europe/London")
    assert all(expected == weekly_pattern(hour) for hour, expected in forecast.hourly.items())
    monday_nine = datetime(2026, 6, 15, 9, tzinfo=LONDON).astimezone(UTC)
    assert forecast.hourly[monday_nine] == 19.0


def test_forecast_with_less_history_averages_the_weeks_there_are():
    week_start = date(2026, 6, 15)
    history = history_of(mondays_before(week_start, 2), scale=[1, 3])
    flat = forecast_hourly_arrivals(history, week_start, timezone="Europe/London", level_adjustment=False)
    assert flat.weeks_used == 2
    assert all(expected == 2 * weekly_pattern(hour) for hour, expected in flat.hourly.items())
    # The last week had 3/2 of the mean: the level factor follows it, damped by 100 arrivals.
    adjusted = forecast_hourly_arrivals(history, week_start, timezone="Europe/London")
    week_total = sum(weekly_pattern(hour) for hour in week_hours(week_start, "Europe/London"))
    expected_factor = (3 * week_total + LEVEL_DAMPING_ARRIVALS) / (2 * week_total + LEVEL_DAMPING_ARRIVALS)
    assert adjusted.level_factor == pytest.approx(expected_factor)
    assert 1.45 < adjusted.level_factor < 1.5
    assert sum(adjusted.hourly.values()) == pytest.approx(sum(flat.hourly.values()) * expected_factor)


def test_forecast_without_history_is_zero():
    forecast = forecast_hourly_arrivals({}, date(2026, 6, 15), timezone="Europe/London")
    assert forecast.weeks_used == 0 and len(forecast.hourly) == 168 and set(forecast.hourly.values()) == {0.0}


def test_forecast_counts_missing_hours_as_zero_once_history_starts():
    week_start = date(2026, 6, 15)
    first = datetime(2026, 5, 18, 0, tzinfo=LONDON)  # four weeks before, one arrival at 00:00 Monday
    forecast = forecast_hourly_arrivals(
        {first.astimezone(UTC): 4.0}, week_start, timezone="Europe/London", level_adjustment=False
    )
    assert forecast.weeks_used == 4
    assert forecast.hourly[datetime(2026, 6, 15, 0, tzinfo=LONDON).astimezone(UTC)] == 1.0
    assert sum(forecast.hourly.values()) == 1.0


def test_dst_weeks_have_167_and_169_hours():
    spring, autumn = date(2026, 3, 23), date(2026, 10, 19)  # clocks change on Sunday 29 March and 25 October
    assert len(week_hours(spring, "Europe/London")) == 167
    assert len(week_hours(autumn, "Europe/London")) == 169
    assert len(week_hours(spring, "UTC")) == 168
    spring_forecast = forecast_hourly_arrivals(
        history_of(mondays_before(spring, 4)), spring, timezone="Europe/London"
    )
    assert len(spring_forecast.hourly) == 167
    assert all(expected == weekly_pattern(hour) for hour, expected in spring_forecast.hourly.items())
    autumn_forecast = forecast_hourly_arrivals(
        history_of(mondays_before(autumn, 4)), autumn, timezone="Europe/London"
    )
    sunday_one_bst, sunday_one_gmt = datetime(2026, 10, 25, 0, tzinfo=UTC), datetime(2026, 10, 25, 1, tzinfo=UTC)
    assert autumn_forecast.hourly[sunday_one_bst] == autumn_forecast.hourly[sunday_one_gmt] == 71.0
    assert sum(autumn_forecast.hourly.values()) == pytest.approx(
        sum(weekly_pattern(hour) for hour in week_hours(date(2026, 10, 12), "Europe/London")) + 71.0
    )


def test_the_hour_skipped_in_spring_is_left_out_of_the_mean_not_counted_as_zero():
    week_start = date(2026, 4, 6)  # its four weeks back include the 167-hour week of 23 March
    forecast = forecast_hourly_arrivals(
        history_of(mondays_before(week_start, 4)), week_start, timezone="Europe/London", level_adjustment=False
    )
    sunday_one = datetime(2026, 4, 12, 1, tzinfo=LONDON).astimezone(UTC)
    assert forecast.hourly[sunday_one] == 71.0  # counting the missing hour as 0 would give 53.25
    one_week = forecast_hourly_arrivals(
        history_of([date(2026, 3, 23)]), date(2026, 3, 30), timezone="Europe/London"
    )
    assert one_week.weeks_used == 1
    assert one_week.hourly[datetime(2026, 4, 5, 1, tzinfo=LONDON).astimezone(UTC)] == 72.0  # the hour after


def test_history_keys_must_be_local_hour_starts():
    with pytest.raises(ValueError, match="Asia/Kolkata"):
        forecast_hourly_arrivals({datetime(2026, 6, 1, 9, tzinfo=UTC): 1.0}, date(2026, 6, 15), timezone="Asia/Kolkata")


def insert_items(connection: duckdb.DuckDBPyConnection, queue: str, opened: list[datetime]) -> None:
    start = connection.execute("SELECT count(*) FROM triage_items").fetchone()[0]
    connection.executemany(
        """INSERT INTO triage_items (mention_key, brand, category, queue, priority, priority_model, escalated, status,
               opened_at, sla_minutes, due_at, updated_at)
           VALUES (?, 'acme', 'complaint', ?, 0.5, 'priority-v1', false, 'open', ?, 60, ? + INTERVAL 1 HOUR, ?)""",
        [[f"x:{start + index}", queue, moment, moment, moment] for index, moment in enumerate(opened)],
    )


@pytest.fixture
def triage() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute(TRIAGE_ITEMS_DDL)
    return connection


QUEUES = {
    "support": QueueStaffing(handle_seconds=360, target_share=0.8, answer_within_seconds=3600),
    "safety": QueueStaffing(handle_seconds=900, target_share=0.95, answer_within_seconds=900),
}


def test_staffing_plan_from_triage_items(triage):
    week_start = date(2026, 6, 15)
    for monday in mondays_before(week_start, 4):
        nine = datetime.combine(monday, datetime.min.time(), tzinfo=LONDON) + timedelta(hours=9)
        # 20 support items between 09:00 and 09:59:59 London time (08:00-08:59 UTC) every Monday.
        insert_items(triage, "support", [nine + timedelta(seconds=179 * n + 59) for n in range(20)])
    insert_items(triage, "support", [datetime(2026, 6, 15, 9, 30, tzinfo=LONDON)])  # in the planned week: ignored
    insert_items(triage, "sales", [datetime(2026, 6, 8, 9, 30, tzinfo=LONDON)])  # not a configured queue
    plan = staffing_plan(triage, week_start, queues=QUEUES, timezone="Europe/London")
    assert plan.model == STAFFING_MODEL and plan.weeks_used == {"support": 4, "safety": 4}
    assert len(plan.hours) == 2 * 168
    busy = [hour for hour in plan.hours if hour.agents]
    assert [(hour.queue, hour.hour_start, hour.forecast_arrivals, hour.agents) for hour in busy] == [
        ("support", datetime(2026, 6, 15, 8, tzinfo=UTC), 20.0, 3)  # 2 Erlangs: 3 agents
    ]
    assert busy[0].service_level == pytest.approx(1 - 4 / 9 * math.exp(-10))
    days = daily_staffing(plan)
    assert len(days) == 14
    assert days[0] == StaffingDay("support", date(2026, 6, 15), 24, 20.0, 3, 3)
    assert all(day.agent_hours == 0 for day in days[1:])


def test_staffing_plan_counts_only_weeks_after_triage_began(triage):
    week_start = date(2026, 6, 15)
    # Triage began on Wednesday 3 June: only the week of 8 June is complete history.
    insert_items(
        triage, "safety", [datetime(2026, 6, 3, 12, tzinfo=LONDON), datetime(2026, 6, 10, 12, 15, tzinfo=LONDON)]
    )
    plan = staffing_plan(triage, week_start, queues=QUEUES, timezone="Europe/London")
    assert plan.weeks_used == {"support": 1, "safety": 1}
    busy = [(hour.queue, hour.hour_start.astimezone(LONDON).isoformat(), hour.agents) for hour in plan.hours
            if hour.forecast_arrivals]
    assert busy == [("safety", "2026-06-17T12:00:00+01:00", 2)]
