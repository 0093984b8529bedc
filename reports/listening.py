"""The weekly report's "What we listened to this week, and what we could not": per configured source, what
it was asked, how much of the week it collected, the items it saw against those that named a brand, what it
spent of its platform's allowance and what that cost, what it left out and why, and how it failed.

Everything but the collected hours is the warehouse's coverage and cost ledger (`source_coverage`, migration
021) over the source's runs whose searched window overlaps the week (an hourly run belongs to the week its
hour is in; a first run reaching back `backfill_days` belongs to every week it searched, with its whole
counts, so that a week its collected hours come from never reads "no runs"); the collected hours are
`reports.coverage`'s. A source's quota left is its latest run's; its cost is the sum of its runs'
estimated costs (posts read × the configured price), per currency.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

import duckdb

from reports.coverage import WeekCoverage
from reports.weeks import ReportWeek


@dataclass(frozen=True)
class SourceListening:
    """One source's week in the ledger.

    Attributes:
        source: the source's name in the config.
        kind: its kind; None without runs this week.
        asked: what its runs asked, each once, first asked first.
        collected_hours: hours of the week it collected (`reports.coverage`).
        week_hours: the week's hours.
        runs: its runs whose searched window overlaps the week.
        answered: of those, the ones that answered (ok or empty).
        items_seen: items its runs returned, before matching.
        matched: of its items, the ones that named a brand or competitor.
        quota_unit: what its platform meters ("posts read"); None when nothing is.
        quota_used: how many of them the week's runs spent.
        quota_left: what its latest metered run left, for `quota_period`.
        quota_period: what the allowance is for ("month").
        costs: the week's estimated cost per currency; empty when unpriced.
        left_out: what its runs did not ask or read and why, each once.
        failures: why its runs failed or were skipped, each once.
    """

    source: str
    kind: str | None
    asked: tuple[str, ...]
    collected_hours: float
    week_hours: float
    runs: int
    answered: int
    items_seen: int
    matched: int
    quota_unit: str | None
    quota_used: int | None
    quota_left: int | None
    quota_period: str | None
    costs: tuple[tuple[str, Decimal], ...]
    left_out: tuple[str, ...]
    failures: tuple[str, ...]


class _LedgerRun(NamedTuple):
    """A run of the week as `source_coverage` gives it: the columns `week_listening` reads, by their names."""

    source: str
    kind: str
    asked: list[str] | None
    answered: bool
    status: str
    error: str | None
    items_seen: int
    mentions_matched: int
    quota_unit: str | None
    quota_used: int | None
    quota_left: int | None
    quota_period: str | None
    estimated_cost: Decimal | None
    price_currency: str | None
    left_out: list[str] | None


def week_listening(
    connection: duckdb.DuckDBPyConnection, week: ReportWeek, coverage: WeekCoverage
) -> tuple[SourceListening, ...]:
    """The ledger of each configured source (in `coverage`'s order) for the report week.

    Args:
        connection: the warehouse (read-only is fine).
        week: the report week.
        coverage: the week's coverage of the configured sources.
    """
    rows = connection.execute(
        f"""
        SELECT {", ".join(_LedgerRun._fields)}
        FROM source_coverage
        WHERE window_end > $start AND window_start < $end
        ORDER BY source, window_end, run_id
        """,
        {"start": week.start, "end": week.end},
    ).fetchall()
    by_source: dict[str, list[_LedgerRun]] = {}
    for row in rows:
        run = _LedgerRun(*row)
        by_source.setdefault(run.source, []).append(run)
    return tuple(_source_week(source.source, source.collected_hours, source.week_hours, by_source.get(source.source, []))
                 for source in coverage.sources)


def _source_week(source: str, collected_hours: float, week_hours: float, runs: list[_LedgerRun]) -> SourceListening:
    """One source's runs of the week, oldest first, added up."""
    metered = [run for run in runs if run.quota_unit is not None]
    costs: dict[str, Decimal] = {}
    for run in runs:
        if run.estimated_cost is not None and run.price_currency is not None:
            costs[run.price_currency] = costs.get(run.price_currency, Decimal(0)) + run.estimated_cost
    return SourceListening(
        source=source,
        kind=runs[-1].kind if runs else None,
        asked=tuple(dict.fromkeys(line for run in runs for line in run.asked or ())),
        collected_hours=collected_hours,
        week_hours=week_hours,
        runs=len(runs),
        answered=sum(1 for run in runs if run.answered),
        items_seen=sum(run.items_seen for run in runs),
        matched=sum(run.mentions_matched for run in runs),
        quota_unit=metered[-1].quota_unit if metered else None,
        quota_used=sum(run.quota_used or 0 for run in metered) if metered else None,
        quota_left=metered[-1].quota_left if metered else None,
        quota_period=metered[-1].quota_period if metered else None,
        costs=tuple(costs.items()),
        left_out=tuple(dict.fromkeys(line for run in runs for line in run.left_out or ())),
        failures=tuple(dict.fromkeys(f"{run.status}: {run.error}" for run in runs if run.status in ("failed", "skipped"))),
    )
