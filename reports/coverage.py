"""How much of the report week, and of the week before, each configured source was collected.

From the warehouse's `source_coverage_between` macro (migration 019): a source's collected hours are
the union of the data intervals of its successful runs (ok or empty) within the week. The week is
- `collected`: every configured source collected all of it (to within `FULL_SHARE`);
- `partial`: some collection, not all: its figures are compared with the week before per collected
  source-hour, or not at all when either week has less than `COMPARABLE_SHARE` of its source-hours;
  a source collected in neither week (no credentials, say) gave nothing to either and is left out of
  that comparison (it is still named as not collected), and a source collected in one week only (X's
  search reaches back 7 days, say) is left out of the volume comparison, which counts the mentions
  of the sources collected in both weeks;
- `not collected`: no configured source had a successful run in it: no figures, never "no mentions".
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from reports.weeks import ReportWeek

FULL_SHARE = 0.99
COMPARABLE_SHARE = 0.5


@dataclass(frozen=True)
class SourceCoverage:
    """A configured source's collected hours in the report week and the week before.

    Attributes:
        source: the source's name in the config.
        collected_hours: hours of the week with a successful run.
        previous_collected_hours: the same in the week before.
        week_hours: the week's hours (167 or 169 across a clock change).
        previous_week_hours: the week before's hours.
    """

    source: str
    collected_hours: float
    previous_collected_hours: float
    week_hours: float
    previous_week_hours: float

    @property
    def share(self) -> float:
        """Collected hours over the week's hours."""
        return self.collected_hours / self.week_hours

    @property
    def previous_share(self) -> float:
        """Collected hours over the week before's hours."""
        return self.previous_collected_hours / self.previous_week_hours


@dataclass(frozen=True)
class WeekCoverage:
    """The configured sources' coverage of the report week and the week before."""

    sources: tuple[SourceCoverage, ...]

    @property
    def share(self) -> float:
        """Collected source-hours over the week's source-hours (1: everything collected all week)."""
        return _share([(source.collected_hours, source.week_hours) for source in self.sources])

    @property
    def previous_share(self) -> float:
        """The same for the week before."""
        return _share([(source.previous_collected_hours, source.previous_week_hours) for source in self.sources])

    @property
    def state(self) -> str:
        """`collected`, `partial` or `not collected` (see the module's docstring)."""
        return _state(self.share, [source.share for source in self.sources])

    @property
    def previous_state(self) -> str:
        """The week before's state."""
        return _state(self.previous_share, [source.previous_share for source in self.sources])

    @property
    def compared(self) -> tuple[SourceCoverage, ...]:
        """The sources collected in either week: what a comparison of the two weeks rests on."""
        return tuple(source for source in self.sources if source.collected_hours or source.previous_collected_hours)

    @property
    def comparable(self) -> bool:
        """Whether the two weeks may be compared: each has at least `COMPARABLE_SHARE` of the source-hours of
        the sources collected in either week."""
        compared = self.compared
        now = _share([(source.collected_hours, source.week_hours) for source in compared])
        before = _share([(source.previous_collected_hours, source.previous_week_hours) for source in compared])
        return bool(compared) and min(now, before) >= COMPARABLE_SHARE

    @property
    def in_both(self) -> tuple[SourceCoverage, ...]:
        """The sources collected in both weeks: the only ones whose counts can be compared."""
        return tuple(source for source in self.sources if source.collected_hours and source.previous_collected_hours)

    @property
    def restricted(self) -> bool:
        """Whether some source was collected in one of the two weeks only: volume is then compared over the
        mentions of the sources collected in both (`in_both`)."""
        return len(self.in_both) < len(self.compared)

    @property
    def per_collected_hour(self) -> bool:
        """Whether counts are compared per collected source-hour (the sources collected in both weeks did not
        collect both whole)."""
        return self.comparable and bool(self.in_both) and min(
            min(source.share, source.previous_share) for source in self.in_both
        ) < FULL_SHARE

    @property
    def exposure_ratio(self) -> float:
        """This week's collected source-hours over the week before's, of the sources collected in both weeks:
        what a volume change is measured against."""
        before = sum(source.previous_collected_hours for source in self.in_both)
        now = sum(source.collected_hours for source in self.in_both)
        return now / before if before else float("inf")

    @property
    def partly_collected(self) -> tuple[SourceCoverage, ...]:
        """The sources that did not collect the whole report week."""
        return tuple(source for source in self.sources if source.share < FULL_SHARE)


def week_coverage(connection: duckdb.DuckDBPyConnection, week: ReportWeek, configured: list[str]) -> WeekCoverage:
    """Each configured source's collected hours in the week and the week before.

    Args:
        connection: the warehouse (read-only is fine).
        week: the report week.
        configured: the configured sources' names, in order.
    """
    week_hours = (week.end - week.start).total_seconds() / 3600
    previous_hours = (week.start - week.previous_start).total_seconds() / 3600
    hours = {
        (source, this_week): collected
        for this_week, start, end in ((True, week.start, week.end), (False, week.previous_start, week.start))
        for source, collected in connection.execute(
            "SELECT source, collected_hours FROM source_coverage_between($start, $end)", {"start": start, "end": end}
        ).fetchall()
    }
    return WeekCoverage(tuple(
        SourceCoverage(source, hours.get((source, True), 0.0), hours.get((source, False), 0.0), week_hours,
                       previous_hours)
        for source in configured
    ))


def _share(hours: list[tuple[float, float]]) -> float:
    total = sum(possible for _, possible in hours)
    return sum(collected for collected, _ in hours) / total if total else 0.0


def _state(share: float, source_shares: list[float]) -> str:
    if share <= 0:
        return "not collected"
    return "collected" if min(source_shares) >= FULL_SHARE else "partial"
