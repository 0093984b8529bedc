"""Back-test: spike detection (`care.spikes`) on synthetic hourly series with injected spikes.

    .venv/bin/python bench/spike_backtest.py                  # 12 weeks, 12 brands, about 1 s
    .venv/bin/python bench/spike_backtest.py --weeks 6        # smoke check

Each brand's series is hourly earned mentions over `--weeks` weeks from Monday 31 August 2026, in the
UTC hours a warehouse would count them. Its rate is a mean hourly volume (12 brands from 0.2 to 500 an
hour: a third of them under 2, where `min_volume` decides) times:
- a daily profile in local time (`--zone`, default Europe/Berlin, whose clocks go back on 25 October):
  "consumer" brands peak at lunch and in the evening, "business" brands in office hours on weekdays;
- a weekly rhythm: weekends busier or quieter by brand, and a recurring hour that is not a spike: a
  Monday 09:00 newsletter at 4x for a third of the brands, a Thursday 20:00 show at 3x for another;
- a drift of -20% to +30% over the whole period, and a random level per day (lognormal, sigma
  `--day-noise`, default 0.15): real volumes vary more than Poisson noise.
Counts are Poisson draws of that rate. Spikes are then injected after the first `baseline_weeks`
weeks, about one per brand every three and a half days, at least 36 hours apart: 2x, 3x, 5x or 10x
the hour's rate for 1 to 4 hours (the count drawn again at the multiplied rate). Generation is not
timed.

Detection runs as the pipeline would, hour by hour: for each hour of the evaluated weeks,
`recent_spikes(volumes, until=<hour end>, lookback_hours=1)` over all brands (the hours of the last
`cooldown_hours` are tested again each time, so a spike still going is not reported again). A detected
spike is a hit when it starts inside an injected window; an injected spike is found when a detection
starts inside its window. Recall is printed per magnitude and per volume tier, and also over the
injected spikes that could be found at all: some hour of theirs reached `min_volume`. Throughput is
series-hours brought up to date per second of detection. The last line is
`precision=<p> recall=<r> recall_detectable=<r> hours_per_second=<n>`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from care.spikes import Spike, SpikeKey, SpikeSettings, recent_spikes  # noqa: E402

HOUR = timedelta(hours=1)
START_LOCAL_DATE = datetime(2026, 8, 31)  # a Monday
MEAN_RATES = [0.2, 0.5, 1, 1.5, 3, 6, 12, 25, 50, 100, 250, 500]
MAGNITUDES = [2, 3, 5, 10]
TIERS = [("under 2/h", 0, 2), ("2-20/h", 2, 20), ("over 20/h", 20, float("inf"))]


@dataclass(frozen=True)
class InjectedSpike:
    """A spike put into a series: its first hour (UTC), hours, multiplier and peak count."""

    brand: str
    hour_start: datetime
    hours: int
    magnitude: int
    mean_rate: float
    peak_count: int


def daily_profile(kind: str) -> np.ndarray:
    """Relative activity by local clock hour (mean 1)."""
    hours = np.arange(24)
    if kind == "consumer":
        shape = 0.15 + np.exp(-((hours - 12.5) / 2.5) ** 2) + 1.3 * np.exp(-((hours - 20.5) / 2.2) ** 2)
    else:
        shape = 0.1 + np.where((hours >= 8) & (hours <= 18), 1.0, 0.0) + 0.4 * np.exp(-((hours - 21) / 1.5) ** 2)
    return shape / shape.mean()


def synthetic_series(
    weeks: int, zone: ZoneInfo, day_noise: float, baseline_weeks: int, rng: np.random.Generator
) -> tuple[dict[str, dict[datetime, int]], list[InjectedSpike]]:
    """Hourly counts per brand with injected spikes, and the spikes injected."""
    first_hour = START_LOCAL_DATE.replace(tzinfo=zone).astimezone(UTC)
    last_hour = (START_LOCAL_DATE + timedelta(weeks=weeks)).replace(tzinfo=zone).astimezone(UTC)
    hours = [first_hour + index * HOUR for index in range(int((last_hour - first_hour) / HOUR))]
    local = [hour.astimezone(zone) for hour in hours]
    days = np.array([(moment.date() - START_LOCAL_DATE.date()).days for moment in local])
    clock = np.array([moment.hour for moment in local])
    weekday = np.array([moment.weekday() for moment in local])
    evaluated_from = (START_LOCAL_DATE + timedelta(weeks=baseline_weeks)).replace(tzinfo=zone).astimezone(UTC)
    first_evaluated = hours.index(evaluated_from)
    volumes: dict[str, dict[datetime, int]] = {}
    injected: list[InjectedSpike] = []
    for number, mean_rate in enumerate(MEAN_RATES):
        brand = f"brand{number:02d}"
        kind = "consumer" if number % 2 == 0 else "business"
        weekend = rng.uniform(1.1, 1.4) if kind == "consumer" else rng.uniform(0.3, 0.6)
        weekly = np.where(weekday >= 5, weekend, 1.0)
        if number % 3 == 0:
            weekly = weekly * np.where((weekday == 0) & (clock == 9), 4.0, 1.0)
        elif number % 3 == 1:
            weekly = weekly * np.where((weekday == 3) & (clock == 20), 3.0, 1.0)
        drift = np.linspace(1.0, 1.0 + rng.uniform(-0.2, 0.3), len(hours))
        day_level = np.exp(rng.normal(-day_noise**2 / 2, day_noise, days.max() + 1))[days]
        rate = mean_rate * daily_profile(kind)[clock] * weekly * drift * day_level
        counts = rng.poisson(rate)
        position = first_evaluated + int(rng.integers(0, 96))
        while position < len(hours) - 4:
            magnitude, length = int(rng.choice(MAGNITUDES)), int(rng.integers(1, 5))
            window = slice(position, position + length)
            counts[window] = rng.poisson(rate[window] * magnitude)
            peak = int(counts[window].max())
            injected.append(InjectedSpike(brand, hours[position], length, magnitude, mean_rate, peak))
            position += length + 36 + int(rng.integers(0, 96))
        volumes[brand] = dict(zip(hours, counts.tolist(), strict=True))
    return volumes, injected


def main() -> None:
    """Generate, detect hour by hour, and print precision, recall and throughput."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7, help="random seed (defaults were tuned on seed 1)")
    parser.add_argument("--weeks", type=int, default=12, help="weeks of history, the first baseline_weeks unevaluated")
    parser.add_argument("--zone", default="Europe/Berlin", help="the time zone of the audience's daily rhythm")
    parser.add_argument("--detect-zone", default=None, help="the zone detection uses (default: --zone)")
    parser.add_argument("--day-noise", type=float, default=0.15, help="sigma of the lognormal level of each day")
    arguments = parser.parse_args()

    settings = SpikeSettings()
    zone = ZoneInfo(arguments.zone)
    detect_zone = arguments.detect_zone or arguments.zone
    rng = np.random.default_rng(arguments.seed)
    series, injected = synthetic_series(arguments.weeks, zone, arguments.day_noise, settings.baseline_weeks, rng)
    volumes: dict[SpikeKey, dict[datetime, int]] = {(brand, None): counts for brand, counts in series.items()}
    all_hours = sorted(next(iter(series.values())))
    evaluated_from = (START_LOCAL_DATE + timedelta(weeks=settings.baseline_weeks)).replace(tzinfo=zone).astimezone(UTC)
    run_ends = [hour + HOUR for hour in all_hours if hour >= evaluated_from]

    detected: dict[tuple[str, datetime], Spike] = {}
    started = time.perf_counter()
    for until in run_ends:
        for spike in recent_spikes(volumes, until=until, settings=settings, timezone=detect_zone, lookback_hours=1):
            detected[(spike.brand, spike.hour_start)] = spike
    seconds = time.perf_counter() - started

    windows = {
        (spike.brand, spike.hour_start + offset * HOUR): spike for spike in injected for offset in range(spike.hours)
    }
    hits = [key for key in detected if key in windows]
    found = {windows[key] for key in hits}
    false_alarms = Counter(brand for brand, hour in detected if (brand, hour) not in windows)
    detectable = [spike for spike in injected if spike.peak_count >= settings.min_volume]
    precision = len(hits) / len(detected) if detected else 1.0
    recall = len(found) / len(injected)
    recall_detectable = len(found & set(detectable)) / len(detectable)
    series_hours = len(volumes) * len(run_ends)

    print(
        f"seed {arguments.seed}, {arguments.weeks} weeks ({len(run_ends)} hours evaluated), {len(volumes)} brands, "
        f"rhythm in {arguments.zone}, detection in {detect_zone}, day noise {arguments.day_noise}"
    )
    print(f"settings: {settings}")
    print(f"injected {len(injected)} spikes ({len(detectable)} reaching min_volume); detected {len(detected)}")
    print(f"hits {len(hits)}, false alarms {len(detected) - len(hits)} "
          f"({(len(detected) - len(hits)) / (len(volumes) * len(run_ends) / 168):.3f} per brand-week)")
    print("recall by magnitude (all / reaching min_volume):")
    for magnitude in MAGNITUDES:
        group = [spike for spike in injected if spike.magnitude == magnitude]
        eligible = [spike for spike in group if spike in detectable]
        print(f"  {magnitude:>2}x: {sum(spike in found for spike in group)}/{len(group)}"
              f" = {sum(spike in found for spike in group) / max(len(group), 1):.2f};"
              f" {sum(spike in found for spike in eligible)}/{len(eligible)}"
              f" = {sum(spike in found for spike in eligible) / max(len(eligible), 1):.2f}")
    print("recall by mean volume (all / reaching min_volume), false alarms:")
    for name, low, high in TIERS:
        group = [spike for spike in injected if low <= spike.mean_rate < high]
        eligible = [spike for spike in group if spike in detectable]
        brands = {f"brand{number:02d}" for number, rate in enumerate(MEAN_RATES) if low <= rate < high}
        print(f"  {name:>10}: {sum(spike in found for spike in group)}/{len(group)};"
              f" {sum(spike in found for spike in eligible)}/{len(eligible)};"
              f" false alarms {sum(false_alarms[brand] for brand in brands)}")
    print(f"detection: {seconds:.2f} s for {len(run_ends)} hourly runs, {series_hours / seconds:,.0f} series-hours/s, "
          f"{seconds / len(run_ends) * 1000:.2f} ms per run of {len(volumes)} series")
    print(f"precision={precision:.3f} recall={recall:.3f} recall_detectable={recall_detectable:.3f} "
          f"hours_per_second={series_hours / seconds:.0f}")


if __name__ == "__main__":
    main()
