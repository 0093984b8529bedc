"""The daily quota budget of a YouTube source: units spent on the day, and this run's share of what is left.

YouTube's quota is counted per Google Cloud project and day, and the day ends at midnight Pacific time.
Overheard counts what each source spends against `daily_quota_units` in the source's cursor (other apps
on the same key spend too: Google's `quotaExceeded` stops the source whatever the count says). A run
takes an even share of what is left of the day among the runs still to come before midnight Pacific,
judged by the length of its window (a run every hour at 18:00 Pacific takes a sixth).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from collectors.source_run import QuotaUse

PACIFIC = ZoneInfo("America/Los_Angeles")


def quota_reset(moment: datetime) -> datetime:
    """When the quota day of `moment` ends: the next midnight Pacific time (timezone-aware)."""
    day = moment.astimezone(PACIFIC).date()
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=PACIFIC)


@dataclass
class DailyQuota:
    """Quota units of the day of the run's window end (Pacific), and what this run may spend.

    Attributes:
        day: the Pacific date, `YYYY-MM-DD`.
        resets_at: when that day's quota resets (its end, midnight Pacific).
        budget: `daily_quota_units`.
        used_before: units spent on the day before this run.
        allowance: units this run may spend (its share of what is left).
        used: units spent so far this run.
        refused: Google answered `quotaExceeded`: the day's quota is spent whatever the count says.
    """

    day: str
    resets_at: datetime
    budget: int
    used_before: int
    allowance: int
    used: int = 0
    refused: bool = False

    @classmethod
    def for_run(cls, stored: Any, window: tuple[datetime, datetime], budget: int) -> DailyQuota:
        """The day's count from the cursor's `quota` (another day's starts at 0), and this run's share.

        Args:
            stored: the cursor's `{"day": "YYYY-MM-DD", "used": N}`, or anything else on a first run.
            window: the run's window; its end fixes the day, its length how many runs are still to come.
            budget: `daily_quota_units`.
        """
        end = window[1]
        day = end.astimezone(PACIFIC).date().isoformat()
        used_before = 0
        if isinstance(stored, Mapping) and stored.get("day") == day and isinstance(stored.get("used"), int):
            used_before = max(0, stored["used"])
        interval = min(max(window[1] - window[0], timedelta(minutes=1)), timedelta(days=1))
        runs_left = max(1, math.ceil((quota_reset(end) - end) / interval))
        left = max(0, budget - used_before)
        return cls(day=day, resets_at=quota_reset(end), budget=budget, used_before=used_before, allowance=left // runs_left)

    def can_pay(self, cost: int) -> bool:
        """Whether this run may still spend `cost` units."""
        return not self.refused and self.used + cost <= self.allowance

    def spend(self, cost: int) -> None:
        """Count a call's units (every call costs, whatever its answer)."""
        self.used += cost

    @property
    def day_spent(self) -> bool:
        """Whether the day's budget (or Google's quota) has nothing left for the cheapest call."""
        return self.refused or self.left < 1

    @property
    def left(self) -> int:
        """Units left of the day's budget after what this run spent."""
        return 0 if self.refused else max(0, self.budget - self.used_before - self.used)

    def to_json(self) -> dict[str, Any]:
        """The cursor's `quota`: the day and every unit spent on it (all of it once Google refused)."""
        used = self.used_before + self.used
        return {"day": self.day, "used": max(used, self.budget) if self.refused else used}

    def quota_use(self) -> QuotaUse:
        """What the run spent, for the coverage ledger."""
        return QuotaUse(unit="quota units", used=self.used, limit=self.budget, left=self.left, period="day")
