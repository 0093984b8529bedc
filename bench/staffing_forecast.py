"""Benchmark: back-test of the staffing-v1 arrivals forecast and the agents it staffs (`care.staffing`).

    .venv/bin/python bench/staffing_forecast.py                 # 12 weeks, 4 queues, seed 5, ~2 s
    .venv/bin/python bench/staffing_forecast.py --seed 7        # another draw

Arrivals are synthetic and seeded: for each queue, a Poisson count per local clock hour (Europe/London,
from Monday 2 March 2026, so the clocks go forward in week 4) around a rate that has a daily shape
(quiet at night, peaks at lunchtime and in the evening), a weekday shape (busier Mondays, quieter
weekends), the queue's weekly volume and growth, and a day-to-day level that varies by a lognormal
factor (σ 0.1) as news-driven days do. Each week from week 5 on is forecast from the 4 before it by
`forecast_hourly_arrivals`, with and without the level adjustment, and staffed hour by hour with
`agents_needed`. Reported per queue and over all queues:

- WAPE = Σ|forecast − actual| / Σ actual, of hourly and of local-day totals; MAPE = mean of
  |forecast − actual| / actual over the hours (days) with arrivals; WAPE against the true rate too
  (what the forecast can at best reach: Poisson noise is excluded); bias = Σ forecast / Σ actual − 1;
- the share of hours whose realised service level, Erlang C at the staffed agents with the realised
  count as the hour's rate, reaches the target (all hours, and hours with arrivals), the
  arrival-weighted realised service level, and the agent-hours staffed over those an exact forecast of
  the realised counts would have staffed.

The last line is `hourly_wape=<x> daily_wape=<y> hourly_mape=<z> daily_mape=<w> sl_met_hours=<v>`
for the staffing-v1 default (with the level adjustment), over all queues, as fractions.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from care.staffing import (  # noqa: E402
    QueueStaffing,
    agents_needed,
    forecast_hourly_arrivals,
    service_level,
    week_hours,
)

TIMEZONE = "Europe/London"
FIRST_WEEK = date(2026, 3, 2)
HISTORY_WEEKS = 4
# Relative arrivals by local clock hour 0-23 and by weekday (Monday first).
HOUR_SHAPE = [0.2, 0.12, 0.08, 0.06, 0.06, 0.1, 0.3, 0.6, 0.9, 1.0, 1.05, 1.1, 1.25, 1.2, 1.05, 1.0, 1.0, 1.05,
              1.15, 1.3, 1.35, 1.1, 0.7, 0.4]
WEEKDAY_SHAPE = [1.2, 1.1, 1.05, 1.0, 0.95, 0.8, 0.9]
DAY_LEVEL_SIGMA = 0.1


@dataclass(frozen=True)
class SyntheticQueue:
    """A queue's weekly volume in week 1, its growth per week, and its service-level target."""

    weekly_arrivals: float
    growth_per_week: float
    staffing: QueueStaffing


QUEUES = {  # weekly arrivals in week 1, growth per week, then AHT (s), target share, answer within (s)
    "support": SyntheticQueue(3000, 0.0, QueueStaffing(360, 0.8, 1800)),
    "complaints": SyntheticQueue(700, 0.03, QueueStaffing(600, 0.9, 3600)),
    "sales": SyntheticQueue(400, -0.02, QueueStaffing(240, 0.8, 3600)),
    "safety": SyntheticQueue(40, 0.0, QueueStaffing(900, 0.95, 900)),
}


@dataclass
class Tally:
    """Sums over the back-tested hours of one queue (or all) under one forecast variant."""

    hours: int = 0
    actual: float = 0.0
    forecast: float = 0.0
    true_rate: float = 0.0
    hourly_abs_error: float = 0.0
    hourly_abs_error_vs_rate: float = 0.0
    hourly_ape_sum: float = 0.0
    hours_with_arrivals: int = 0
    daily_abs_error: float = 0.0
    daily_ape_sum: float = 0.0
    days_with_arrivals: int = 0
    hours_met: int = 0
    busy_hours_met: int = 0
    answered_in_time: float = 0.0
    agent_hours: int = 0
    exact_agent_hours: int = 0

    def add(self, other: Tally) -> None:
        """Add another tally's sums into this one."""
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def figures(self) -> dict[str, float]:
        """The reported ratios."""
        return {
            "hourly_wape": self.hourly_abs_error / self.actual,
            "hourly_wape_vs_rate": self.hourly_abs_error_vs_rate / self.true_rate,
            "hourly_mape": self.hourly_ape_sum / self.hours_with_arrivals,
            "daily_wape": self.daily_abs_error / self.actual,
            "daily_mape": self.daily_ape_sum / self.days_with_arrivals,
            "bias": self.forecast / self.actual - 1,
            "sl_met_hours": self.hours_met / self.hours,
            "sl_met_busy_hours": self.busy_hours_met / self.hours_with_arrivals,
            "realised_sl": self.answered_in_time / self.actual,
            "agent_hours_ratio": self.agent_hours / self.exact_agent_hours,
        }


def synthetic_arrivals(
    weeks: int, seed: int
) -> tuple[dict[str, dict[datetime, float]], dict[str, dict[datetime, int]]]:
    """Per queue: the true rate and the realised Poisson count of every local hour of `weeks` weeks."""
    generator = np.random.default_rng(seed)
    zone = ZoneInfo(TIMEZONE)
    shape_total = sum(WEEKDAY_SHAPE) * sum(HOUR_SHAPE)
    rates: dict[str, dict[datetime, float]] = {queue: {} for queue in QUEUES}
    counts: dict[str, dict[datetime, int]] = {queue: {} for queue in QUEUES}
    for queue, spec in QUEUES.items():
        day_levels = np.exp(generator.normal(0.0, DAY_LEVEL_SIGMA, size=weeks * 7))
        for week in range(weeks):
            volume = spec.weekly_arrivals * (1 + spec.growth_per_week) ** week
            for hour_start in week_hours(FIRST_WEEK + timedelta(weeks=week), TIMEZONE):
                local = hour_start.astimezone(zone)
                day = (local.date() - FIRST_WEEK).days
                rate = volume * WEEKDAY_SHAPE[local.weekday()] * HOUR_SHAPE[local.hour] / shape_total * day_levels[day]
                rates[queue][hour_start] = rate
                counts[queue][hour_start] = int(generator.poisson(rate))
    return rates, counts


def back_test(
    spec: SyntheticQueue, rates: dict[datetime, float], counts: dict[datetime, int], weeks: int, level_adjustment: bool
) -> Tally:
    """Forecast and staff each week from week HISTORY_WEEKS + 1 on, and score it on what arrived."""
    zone = ZoneInfo(TIMEZONE)
    staffing = spec.staffing
    tally = Tally()
    history = {hour: float(count) for hour, count in counts.items()}
    for week in range(HISTORY_WEEKS, weeks):
        week_start = FIRST_WEEK + timedelta(weeks=week)
        forecast = forecast_hourly_arrivals(
            history, week_start, weeks=HISTORY_WEEKS, timezone=TIMEZONE, level_adjustment=level_adjustment
        )
        daily: dict[date, list[float]] = {}
        for hour_start, expected in forecast.hourly.items():
            actual = counts[hour_start]
            agents = agents_needed(
                expected, staffing.handle_seconds, staffing.target_share, staffing.answer_within_seconds,
                staffing.max_occupancy,
            )
            realised = service_level(actual, staffing.handle_seconds, agents, staffing.answer_within_seconds)
            met = realised >= staffing.target_share
            tally.hours += 1
            tally.actual += actual
            tally.forecast += expected
            tally.true_rate += rates[hour_start]
            tally.hourly_abs_error += abs(expected - actual)
            tally.hourly_abs_error_vs_rate += abs(expected - rates[hour_start])
            tally.hours_met += met
            tally.answered_in_time += realised * actual
            tally.agent_hours += agents
            tally.exact_agent_hours += agents_needed(
                actual, staffing.handle_seconds, staffing.target_share, staffing.answer_within_seconds,
                staffing.max_occupancy,
            )
            if actual:
                tally.hours_with_arrivals += 1
                tally.hourly_ape_sum += abs(expected - actual) / actual
                tally.busy_hours_met += met
            totals = daily.setdefault(hour_start.astimezone(zone).date(), [0.0, 0.0])
            totals[0] += expected
            totals[1] += actual
        for day_expected, day_actual in daily.values():
            tally.daily_abs_error += abs(day_expected - day_actual)
            if day_actual:
                tally.days_with_arrivals += 1
                tally.daily_ape_sum += abs(day_expected - day_actual) / day_actual
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weeks", type=int, default=12, help="weeks of synthetic arrivals (default 12)")
    parser.add_argument("--seed", type=int, default=5, help="random seed (default 5)")
    arguments = parser.parse_args()
    rates, counts = synthetic_arrivals(arguments.weeks, arguments.seed)
    print(f"{len(QUEUES)} queues, {arguments.weeks} weeks from {FIRST_WEEK} ({TIMEZONE}), seed {arguments.seed}; "
          f"weeks {HISTORY_WEEKS + 1}-{arguments.weeks} forecast from the {HISTORY_WEEKS} before")
    columns = ["hourly_wape", "hourly_wape_vs_rate", "hourly_mape", "daily_wape", "daily_mape", "bias",
               "sl_met_hours", "sl_met_busy_hours", "realised_sl", "agent_hours_ratio"]
    overall: dict[bool, Tally] = {}
    for level_adjustment in (True, False):
        print()
        print(f"level adjustment {'on (staffing-v1 default)' if level_adjustment else 'off'}")
        print(f"{'queue':<11}{'arrivals':>9}" + "".join(f"{name:>20}" for name in columns))
        overall[level_adjustment] = Tally()
        for queue, spec in QUEUES.items():
            tally = back_test(spec, rates[queue], counts[queue], arguments.weeks, level_adjustment)
            overall[level_adjustment].add(tally)
            _print_row(queue, tally, columns)
        _print_row("all", overall[level_adjustment], columns)
    figures = overall[True].figures()
    print()
    print(" ".join(f"{name}={figures[name]:.4f}" for name in
                   ("hourly_wape", "daily_wape", "hourly_mape", "daily_mape", "sl_met_hours")))


def _print_row(queue: str, tally: Tally, columns: list[str]) -> None:
    figures = tally.figures()
    print(f"{queue:<11}{tally.actual:>9,.0f}" + "".join(f"{figures[name]:>20.3f}" for name in columns))


if __name__ == "__main__":
    main()
