"""Where an X source resumes: a cursor per query, and the posts read this month against the budget."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from collectors.source_run import QuotaUse
from collectors.x.transport import PAGE_MIN


@dataclass(frozen=True)
class QueryCursor:
    """Where one query resumes.

    Recent search returns the newest posts first, so when a run stops before the last page (the
    per-run cap, the monthly budget, a rate limit that outlasts the time budget, a failure), the posts
    read are the newest and the unread ones lie between the old `since_id` and the oldest post read.
    Advancing `since_id` then would skip them for good; keeping it alone would make the next run read
    the same newest posts again (paid twice) and, under steady volume, never reach the older ones.
    So the cursor records the gap instead: the next run first reads posts newer than `since_id` (or
    from `start_time`) and older than `until_id`, and only when that backlog is read does `since_id`
    jump to `newest_id`, the newest post read before the stop. Ids are used rather than a saved
    `next_token`, which X documents as possibly expiring.

    Attributes:
        since_id: every post up to this id has been read; newer ones are owed.
        start_time: without a since_id, where reading starts (ISO 8601); else the run's window start.
        until_id: set while a backlog is owed: posts older than this one are still unread.
        newest_id: set with until_id: the newest post read; since_id once the backlog is read.
    """

    since_id: str | None = None
    start_time: str | None = None
    until_id: str | None = None
    newest_id: str | None = None

    def to_json(self) -> dict[str, str]:
        """The JSON form, without empty fields."""
        return {name: value for name, value in vars(self).items() if value}

    @classmethod
    def from_json(cls, record: Any) -> QueryCursor:
        """The inverse of `to_json`; anything unreadable is a fresh start."""
        if not isinstance(record, Mapping):
            return cls()
        values = {name: str(record[name]) for name in ("since_id", "start_time", "until_id", "newest_id") if record.get(name)}
        if bool(values.get("until_id")) != bool(values.get("newest_id")):
            values.pop("until_id", None)
            values.pop("newest_id", None)
        return cls(**values)



@dataclass
class MonthlyReads:
    """Posts read this calendar month against the monthly read budget, and this run's allowance.

    Attributes:
        month: the month of the run's window end, `YYYY-MM`.
        count: posts read this month before this run.
        budget: `monthly_read_budget` (None: no budget).
        allowance: posts this run may read: the per-run cap, within what is left of the budget.
        this_run: posts read so far this run.
    """

    month: str
    count: int
    budget: int | None
    allowance: int
    this_run: int = 0

    @classmethod
    def from_cursor(cls, record: Any, window_end: datetime, max_posts_per_run: int, budget: int | None) -> MonthlyReads:
        """The reads of the window end's month, from the cursor's `reads` (another month's count starts again at 0)."""
        month = window_end.astimezone(UTC).strftime("%Y-%m")
        count = 0
        if isinstance(record, Mapping) and record.get("month") == month and isinstance(record.get("count"), int):
            count = record["count"]
        allowance = max_posts_per_run if budget is None else min(max_posts_per_run, max(0, budget - count))
        return cls(month=month, count=count, budget=budget, allowance=allowance)

    @property
    def left(self) -> int:
        """Posts this run may still read."""
        return self.allowance - self.this_run

    @property
    def budget_spent(self) -> bool:
        """Whether the monthly budget has fewer posts left than recent search can be asked for."""
        return self.budget is not None and self.budget - self.count - self.this_run < PAGE_MIN

    def quota_use(self, price_per_post_read: Decimal | None, currency: str) -> QuotaUse:
        """This run's posts read against the monthly budget, priced at `price_per_post_read` (None: unpriced)."""
        left = None if self.budget is None else max(0, self.budget - self.count - self.this_run)
        priced = price_per_post_read is not None
        return QuotaUse(
            "posts read", self.this_run, self.budget, left, "month", price_per_post_read, currency if priced else None
        )

    def to_json(self) -> dict[str, Any]:
        """The cursor's `reads`: the month and every post read in it, this run included."""
        return {"month": self.month, "count": self.count + self.this_run}


def next_month(moment: datetime) -> str:
    """The first day of the month after `moment`'s (UTC), as `YYYY-MM-DD`."""
    moment = moment.astimezone(UTC)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return f"{year:04d}-{month:02d}-01"
