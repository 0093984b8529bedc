"""Staffing: next week's arrivals per triage queue, and the agents that answer them within the SLA.

staffing-v1, written out for analysts in docs/data-dictionary.md.

Forecast (`forecast_hourly_arrivals`). The coming week is the seven local days from `week_start`
in the plan's time zone: 168 clock hours, 167 when the clocks go forward, 169 when they go back.
Each hour is forecast as the mean arrivals of the same weekday and clock hour in each of the last
`weeks` weeks (default 4), so a 09:00 Monday is compared with 09:00 Mondays whatever the UTC offset.
- A week counts only if history had started by its first day (history starts on the local day of
  the first arrival) and it was collected (`staffing_plan`: some source had a successful run in it;
  a week nobody collected is no evidence of a quiet week); within it, an hour with no arrivals
  counts as 0. With fewer such weeks the mean is over those there are, and the forecast says how
  many (`weeks_used`; 0: all zeros).
- The hour skipped when the clocks go forward is left out of that week's mean for that hour; the
  repeated hour when they go back is forecast like the first of the two. (With one week of history,
  an hour that week skipped takes the forecast of the hour after it.)
- Level adjustment: every hour is multiplied by (L + 100) / (M + 100), L the last week's total and
  M the mean weekly total of the weeks used (1 with one week), so a growing or shrinking queue is
  not forecast at its level of two weeks earlier. The 100 (`LEVEL_DAMPING_ARRIVALS`) damps it where
  a week says little: at thousands of arrivals a week the factor is almost L / M; at a few dozen,
  where Poisson noise alone moves a week by 15-20%, it stays near 1.

Agents (Erlang C, an M/M/N queue: Poisson arrivals, exponential handle times, nobody abandons).
With λ arrivals per hour, average handle time AHT seconds, N agents and answer-within time t seconds:
- traffic A = λ × AHT / 3600 Erlangs;
- Erlang B by its recursion B(0) = 1, B(k) = A·B(k−1) / (k + A·B(k−1)) (no factorials, so no
  overflow at any traffic);
- probability of waiting C(N, A) = N·B(N) / (N − A·(1 − B(N))) for N > A, which equals the textbook
  (A^N/N! · N/(N−A)) / (Σ_{k<N} A^k/k! + A^N/N! · N/(N−A)); 1 when N ≤ A (the queue grows forever);
- service level SL = 1 − C(N, A) · exp(−(N − A) · t / AHT), the share answered within t
  (0 when N ≤ A, 1 when there are no arrivals);
- agents needed: the smallest N with N > A, occupancy A/N ≤ `max_occupancy` (default 0.85) and
  SL ≥ the target share; 0 when there are no arrivals.
Agents are people answering in that hour, one queue at a time: breaks, absence and training
(shrinkage) are not included, and agents shared between queues need fewer than the sum.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import duckdb

from config.playbook import Playbook

STAFFING_MODEL = "staffing-v1"
DEFAULT_WEEKS = 4
DEFAULT_SLA_MINUTES = 240
DEFAULT_MAX_OCCUPANCY = 0.85
LEVEL_DAMPING_ARRIVALS = 100
_SECONDS_PER_HOUR = 3600
_BUCKET_SECONDS = 900  # arrivals are counted in UTC quarter hours: every UTC offset is a multiple of 15 minutes

# An hour of a week: (days after the week's first day, local clock hour, fold: 1 for the repeated hour).
_Slot = tuple[int, int, int]


@dataclass(frozen=True)
class QueueStaffing:
    """What a queue promises and how long its work takes.

    Attributes:
        handle_seconds: average time an agent spends on one item (AHT).
        target_share: share of items to answer within `answer_within_seconds`, e.g. 0.8.
        answer_within_seconds: the first-response SLA, e.g. 3600 for "within an hour".
        max_occupancy: the busiest share of their time agents may be planned to work.
    """

    handle_seconds: float
    target_share: float
    answer_within_seconds: float
    max_occupancy: float = DEFAULT_MAX_OCCUPANCY


@dataclass(frozen=True)
class ArrivalForecast:
    """Expected arrivals of one queue in each hour of a week.

    Attributes:
        hourly: UTC start of each local clock hour of the week, in order → expected arrivals.
        weeks_used: how many past weeks the mean is over (fewer than asked when history is shorter).
        level_factor: the level adjustment applied to every hour.
        model: the formula version.
    """

    hourly: dict[datetime, float]
    weeks_used: int
    level_factor: float
    model: str = STAFFING_MODEL


@dataclass(frozen=True)
class StaffingHour:
    """One queue in one hour of the plan."""

    queue: str
    hour_start: datetime
    forecast_arrivals: float
    agents: int
    service_level: float


@dataclass(frozen=True)
class StaffingDay:
    """One queue on one local day of the plan."""

    queue: str
    day: date
    hours: int
    forecast_arrivals: float
    peak_agents: int
    agent_hours: int


@dataclass(frozen=True)
class StaffingPlan:
    """Agents needed per queue and hour for one week.

    Attributes:
        week_start: the week's first local day.
        timezone: the IANA time zone the week's days and hours are in.
        weeks_used: per queue, how many past weeks its forecast is over.
        hours: per queue (in the order configured), each hour of the week in order.
        model: the formula version.
    """

    week_start: date
    timezone: str
    weeks_used: dict[str, int]
    hours: tuple[StaffingHour, ...]
    model: str = STAFFING_MODEL


def erlang_c(traffic_erlangs: float, agents: int) -> float:
    """The probability that an arrival waits for an agent (Erlang C).

    Args:
        traffic_erlangs: offered traffic A = arrivals per hour × handle hours.
        agents: number of agents N.

    Returns:
        C(N, A) in [0, 1]; 1 when N ≤ A, 0 when there is no traffic. For A = 2, N = 3 it is 4/9.
    """
    if traffic_erlangs < 0 or agents < 0:
        raise ValueError(f"traffic ({traffic_erlangs}) and agents ({agents}) must not be negative")
    if traffic_erlangs == 0:
        return 0.0
    if agents <= traffic_erlangs:
        return 1.0
    blocking = 1.0
    for servers in range(1, agents + 1):
        blocking = traffic_erlangs * blocking / (servers + traffic_erlangs * blocking)
    return _waiting_probability(traffic_erlangs, agents, blocking)


def service_level(
    arrivals_per_hour: float, handle_seconds: float, agents: int, answer_within_seconds: float
) -> float:
    """The share of arrivals answered within `answer_within_seconds`: 1 − C·exp(−(N − A)·t / AHT).

    Args:
        arrivals_per_hour: expected arrivals in the hour (λ).
        handle_seconds: average handle time (AHT).
        agents: agents answering (N).
        answer_within_seconds: the target answer time (t).

    Returns:
        The service level in [0, 1]: 1 without arrivals, 0 when N ≤ A.
    """
    _check_work(arrivals_per_hour, handle_seconds, answer_within_seconds)
    traffic = arrivals_per_hour * handle_seconds / _SECONDS_PER_HOUR
    if traffic == 0:
        return 1.0
    if agents <= traffic:
        return 0.0
    waiting = erlang_c(traffic, agents)
    return 1.0 - waiting * math.exp(-(agents - traffic) * answer_within_seconds / handle_seconds)


def agents_needed(
    arrivals_per_hour: float,
    handle_seconds: float,
    target_share: float,
    answer_within_seconds: float,
    max_occupancy: float = DEFAULT_MAX_OCCUPANCY,
) -> int:
    """The fewest agents that answer `target_share` of arrivals within `answer_within_seconds`.

    Args:
        arrivals_per_hour: expected arrivals in the hour (λ).
        handle_seconds: average handle time (AHT).
        target_share: the service level to reach, in (0, 1).
        answer_within_seconds: the target answer time (t).
        max_occupancy: the largest planned occupancy A/N, in (0, 1]; 1 for plain Erlang C.

    Returns:
        The smallest N > A with A/N ≤ max_occupancy and service level ≥ target_share; 0 without arrivals.
    """
    _check_work(arrivals_per_hour, handle_seconds, answer_within_seconds)
    if not 0 < target_share < 1:
        raise ValueError(f"target_share must be between 0 and 1 (exclusive), got {target_share}")
    if not 0 < max_occupancy <= 1:
        raise ValueError(f"max_occupancy must be in (0, 1], got {max_occupancy}")
    traffic = arrivals_per_hour * handle_seconds / _SECONDS_PER_HOUR
    if traffic == 0:
        return 0
    fewest = max(math.floor(traffic) + 1, math.ceil(traffic / max_occupancy - 1e-9))
    blocking, agents = 1.0, 0
    while True:  # ends: the service level tends to 1 as agents are added, and target_share < 1
        agents += 1
        blocking = traffic * blocking / (agents + traffic * blocking)
        if agents < fewest:
            continue
        waiting = _waiting_probability(traffic, agents, blocking)
        if 1.0 - waiting * math.exp(-(agents - traffic) * answer_within_seconds / handle_seconds) >= target_share:
            return agents


def week_hours(week_start: date, timezone: str) -> list[datetime]:
    """The UTC starts of the local clock hours of the seven days from `week_start`, in order.

    Args:
        week_start: the week's first local day.
        timezone: an IANA time zone name, e.g. "Europe/London".

    Returns:
        168 hour starts; 167 in a week the clocks go forward, 169 when they go back.
    """
    return [start for start, _ in _clock_hours(week_start, ZoneInfo(timezone))]


def forecast_hourly_arrivals(
    history: Mapping[datetime, float],
    week_start: date,
    *,
    weeks: int = DEFAULT_WEEKS,
    timezone: str = "UTC",
    history_start: datetime | None = None,
    level_adjustment: bool = True,
    uncollected_weeks: Collection[date] = (),
) -> ArrivalForecast:
    """Expected arrivals of one queue in each hour of the week from `week_start` (staffing-v1).

    Args:
        history: arrivals per hour, keyed by the (timezone-aware) start of a local clock hour;
            hours missing after history starts count as 0, keys from `week_start` on are ignored.
        week_start: the first local day of the week to forecast.
        weeks: how many past weeks to average.
        timezone: the IANA time zone whose weekdays and clock hours are compared.
        history_start: when arrivals started being recorded; default the earliest key of `history`.
        level_adjustment: scale by the damped ratio of the last week's total to the mean weekly total.
        uncollected_weeks: the first local days of past weeks nothing was collected in: left out, not zeros.

    Returns:
        The forecast, with how many weeks it is over and the level factor applied.
    """
    if weeks < 1:
        raise ValueError(f"weeks must be at least 1, got {weeks}")
    zone = ZoneInfo(timezone)
    counts = _counts_by_local_hour(history, zone)
    started = history_start if history_start is not None else min(history, default=None)
    past_weeks: list[dict[_Slot, float]] = []
    if started is not None:
        first_day = started.astimezone(zone).date()
        for back in range(1, weeks + 1):
            day = week_start - timedelta(weeks=back)
            if day >= first_day and day not in uncollected_weeks:
                slots = [slot for _, slot in _clock_hours(day, zone)]
                past_weeks.append({slot: counts.get((day + timedelta(days=slot[0]), *slot[1:]), 0.0) for slot in slots})
    level_factor = 1.0
    if level_adjustment and past_weeks:
        mean_total = sum(sum(week.values()) for week in past_weeks) / len(past_weeks)
        level_factor = (sum(past_weeks[0].values()) + LEVEL_DAMPING_ARRIVALS) / (mean_total + LEVEL_DAMPING_ARRIVALS)
    hourly: dict[datetime, float] = {}
    for start, (offset, hour, fold) in _clock_hours(week_start, zone):
        mean = _mean_over_weeks(past_weeks, (offset, hour, fold))
        if mean is None:  # every week used skipped this hour: take the hour after it
            following = datetime.combine(week_start, time(hour)) + timedelta(days=offset, hours=1)
            mean = _mean_over_weeks(past_weeks, ((following.date() - week_start).days, following.hour, 0)) or 0.0
        hourly[start] = mean * level_factor
    return ArrivalForecast(hourly=hourly, weeks_used=len(past_weeks), level_factor=level_factor)


def staffing_plan(
    connection: duckdb.DuckDBPyConnection,
    week_start: date,
    *,
    queues: Mapping[str, QueueStaffing],
    timezone: str = "UTC",
    weeks: int = DEFAULT_WEEKS,
) -> StaffingPlan:
    """Forecast arrivals and agents needed per queue and hour for the week from `week_start`.

    Arrivals are `triage_items` rows by `opened_at`. History starts at the first row of the table
    (triage began then), so a quiet queue's empty weeks count as zeros. A past week in which no source
    had a successful run (`runs`, status ok or empty, its window overlapping the week) was not collected:
    it is left out of the history, not counted as a week of zeros. (Without any runs, triage items
    written by hand, every week counts.)

    Args:
        connection: a warehouse connection with the `triage_items` table.
        week_start: the first local day of the week to plan.
        queues: per queue name, its handle time and service-level target.
        timezone: the IANA time zone of the plan's days and hours.
        weeks: how many past weeks the forecast averages.

    Returns:
        The plan: every hour of the week for every configured queue.
    """
    zone = ZoneInfo(timezone)
    history_end = datetime.combine(week_start, time(), tzinfo=zone)
    history_begin = datetime.combine(week_start - timedelta(weeks=weeks), time(), tzinfo=zone)
    (triage_began,) = connection.execute("SELECT min(opened_at) FROM triage_items").fetchone() or (None,)
    histories: dict[str, dict[datetime, float]] = {queue: {} for queue in queues}
    for queue, bucket, arrivals in connection.execute(
        f"""SELECT queue, CAST(floor(epoch(opened_at) / {_BUCKET_SECONDS}) AS BIGINT), count(*)
            FROM triage_items WHERE opened_at >= ? AND opened_at < ? GROUP BY ALL""",
        [history_begin, history_end],
    ).fetchall():
        if queue in histories:
            local = datetime.fromtimestamp(bucket * _BUCKET_SECONDS, UTC).astimezone(zone)
            hour_start = local.replace(minute=0).astimezone(UTC)
            histories[queue][hour_start] = histories[queue].get(hour_start, 0) + arrivals
    uncollected = _uncollected_weeks(connection, week_start, weeks, zone)
    weeks_used: dict[str, int] = {}
    hours: list[StaffingHour] = []
    for queue, staffing in queues.items():
        forecast = forecast_hourly_arrivals(
            histories[queue], week_start, weeks=weeks, timezone=timezone, history_start=triage_began,
            uncollected_weeks=uncollected,
        )
        weeks_used[queue] = forecast.weeks_used
        for hour_start, arrivals in forecast.hourly.items():
            agents = agents_needed(
                arrivals, staffing.handle_seconds, staffing.target_share, staffing.answer_within_seconds,
                staffing.max_occupancy,
            )
            level = service_level(arrivals, staffing.handle_seconds, agents, staffing.answer_within_seconds)
            hours.append(StaffingHour(queue, hour_start, arrivals, agents, level))
    return StaffingPlan(week_start=week_start, timezone=timezone, weeks_used=weeks_used, hours=tuple(hours))


def _uncollected_weeks(
    connection: duckdb.DuckDBPyConnection, week_start: date, weeks: int, zone: ZoneInfo
) -> frozenset[date]:
    """The first local days of the past `weeks` weeks before `week_start` without a successful run of any source."""
    mondays = [week_start - timedelta(weeks=back) for back in range(1, weeks + 1)]
    bounds = [(monday, datetime.combine(monday, time(), tzinfo=zone),
               datetime.combine(monday + timedelta(weeks=1), time(), tzinfo=zone)) for monday in mondays]
    (has_runs,) = connection.execute(
        "SELECT count(*) > 0 FROM information_schema.tables WHERE table_name = 'runs'"
    ).fetchone() or (False,)
    if not has_runs or not connection.execute("SELECT 1 FROM runs LIMIT 1").fetchall():
        return frozenset()
    collected = {
        monday for monday, start, end in bounds
        if (connection.execute(
            "SELECT count(*) > 0 FROM (SELECT 1 FROM runs WHERE status IN ('ok', 'empty') "
            "AND window_start < ? AND window_end > ? AND window_end > window_start LIMIT 1)",
            [end, start],
        ).fetchone() or (False,))[0]
    }
    return frozenset(mondays) - collected


def daily_staffing(plan: StaffingPlan) -> list[StaffingDay]:
    """Per queue and local day of a plan: arrivals, the busiest hour's agents and agent-hours.

    Args:
        plan: a plan from `staffing_plan`.

    Returns:
        One row per queue and day, in the plan's order.
    """
    zone = ZoneInfo(plan.timezone)
    days: dict[tuple[str, date], list[StaffingHour]] = {}
    for hour in plan.hours:
        days.setdefault((hour.queue, hour.hour_start.astimezone(zone).date()), []).append(hour)
    return [
        StaffingDay(
            queue=queue,
            day=day,
            hours=len(hours),
            forecast_arrivals=sum(hour.forecast_arrivals for hour in hours),
            peak_agents=max(hour.agents for hour in hours),
            agent_hours=sum(hour.agents for hour in hours),
        )
        for (queue, day), hours in days.items()
    ]


def _waiting_probability(traffic: float, agents: int, blocking: float) -> float:
    """Erlang C from Erlang B with the same traffic and agents (agents > traffic)."""
    return agents * blocking / (agents - traffic * (1.0 - blocking))


def _check_work(arrivals_per_hour: float, handle_seconds: float, answer_within_seconds: float) -> None:
    if arrivals_per_hour < 0:
        raise ValueError(f"arrivals_per_hour must not be negative, got {arrivals_per_hour}")
    if handle_seconds <= 0:
        raise ValueError(f"handle_seconds must be positive, got {handle_seconds}")
    if answer_within_seconds < 0:
        raise ValueError(f"answer_within_seconds must not be negative, got {answer_within_seconds}")


def _clock_hours(first_day: date, zone: ZoneInfo) -> list[tuple[datetime, _Slot]]:
    """The local clock hours of seven days from `first_day`: UTC start and slot, in order."""
    hours: list[tuple[datetime, _Slot]] = []
    for offset in range(7):
        day = first_day + timedelta(days=offset)
        for hour in range(24):
            wall = datetime.combine(day, time(hour), tzinfo=zone)
            start = wall.astimezone(UTC)
            if start.astimezone(zone).replace(tzinfo=None) != wall.replace(tzinfo=None):
                continue  # skipped: the clocks went forward
            hours.append((start, (offset, hour, 0)))
            repeated = wall.replace(fold=1)
            if repeated.utcoffset() != wall.utcoffset():
                hours.append((repeated.astimezone(UTC), (offset, hour, 1)))
    return hours


def _counts_by_local_hour(history: Mapping[datetime, float], zone: ZoneInfo) -> dict[tuple[date, int, int], float]:
    counts: dict[tuple[date, int, int], float] = {}
    for hour_start, arrivals in history.items():
        if hour_start.tzinfo is None:
            raise ValueError(f"history keys must be timezone-aware, got {hour_start}")
        local = hour_start.astimezone(zone)
        if (local.minute, local.second, local.microsecond) != (0, 0, 0):
            raise ValueError(f"history key {hour_start.isoformat()} is not the start of a clock hour in {zone.key}")
        key = (local.date(), local.hour, local.fold)
        counts[key] = counts.get(key, 0.0) + arrivals
    return counts


def _mean_over_weeks(past_weeks: Sequence[dict[_Slot, float]], slot: _Slot) -> float | None:
    """Mean of `slot` over the weeks that have it (the first of a repeated hour standing in for the second)."""
    first_of_hour = (slot[0], slot[1], 0)
    values = [week.get(slot, week.get(first_of_hour)) for week in past_weeks]
    present = [value for value in values if value is not None]
    return sum(present) / len(present) if present else None


def queue_staffing(playbook: Playbook) -> dict[str, QueueStaffing]:
    """Per playbook queue, what staffing it needs: its handle time, its service-level target, and its
    shortest first-response target (the smallest `sla_minutes` of the categories routed to it by their
    own queue or the default queue; 240 minutes when none is)."""
    return {
        queue.name: QueueStaffing(
            handle_seconds=queue.handle_minutes * 60,
            target_share=queue.service_level_target,
            answer_within_seconds=60 * min(
                (c.sla_minutes for c in playbook.categories if (c.queue or playbook.default_queue) == queue.name),
                default=DEFAULT_SLA_MINUTES,
            ),
        )
        for queue in playbook.queues
    }
