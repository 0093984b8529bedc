"""What collecting one source in one run produced: mentions, a status, the next cursor; and running a
collector so that whatever it does costs no other source (`collect_isolated`)."""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from core.errors import CollectorError
from core.mention import Mention
from core.secret_scrubbing import SecretScrubber

logger = logging.getLogger(__name__)

Status = Literal["ok", "empty", "failed", "skipped"]


@dataclass(frozen=True)
class QuotaUse:
    """What a source spent of its platform's allowance in one run (the coverage and cost ledger).

    Attributes:
        unit: what is counted, in the platform's words: "posts read" (X bills per post read),
            "quota units" (YouTube's daily quota).
        used: how many this run spent.
        limit: the allowance for `period`, when configured or known.
        left: what is left of it after this run, when known.
        period: what the allowance is for ("day", "month"), when there is one.
        price_per_unit: what the platform charges for one `unit`, from the source's config (X's
            `price_per_post_read`); None when nothing is charged or no price is configured. The
            warehouse's `source_coverage` view multiplies it by `used` (the estimated cost).
        currency: the price's currency (ISO 4217), with a price.
    """

    unit: str
    used: int
    limit: int | None = None
    left: int | None = None
    period: str | None = None
    price_per_unit: Decimal | None = None
    currency: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form, for the run's summary (a price as a decimal string, never rounded through a float)."""
        return {
            "unit": self.unit, "used": self.used, "limit": self.limit, "left": self.left, "period": self.period,
            "price_per_unit": None if self.price_per_unit is None else str(self.price_per_unit),
            "currency": self.currency,
        }


@dataclass
class SourceRun:
    """The outcome of one source in one run.

    Attributes:
        source: the configured source name.
        kind: the source kind (rss, blog, ...).
        status: ok (items came back, or nothing new since last time), empty (a valid answer with no
            items), failed (see `error`; the cursor stays where it was) or skipped (see `error`).
        mentions: everything collected, before brand matching.
        items_fetched: how many items the source returned (before de-duplication).
        cursor: where the next run resumes; None keeps the previous cursor.
        error: why it failed or was skipped, and what to do about it.
        warnings: problems that did not stop collection (a malformed feed, a page that failed).
        duration_seconds: wall time spent on the source.
        deleted_keys: mention keys the platform says are gone (deleted post, suspended author);
            the warehouse marks them deleted and they leave the views.
        window: the period the source was searched over when it is not the run's data interval (a first
            run reaching back `backfill_days`, shortened to what the platform reaches); `runs` records it,
            so that coverage counts what was asked for.
        asked: what the source was asked this run, each in words a user recognises ("search: brightwave
            OR @brightwave", "r/broadband", "channel UC...", "app 1234567890 (gb)", "stream
            app.bsky.feed.post"): the coverage ledger's "what we listened to".
        quota: what the run spent of the platform's allowance (None: the platform meters nothing).
        left_out: what the source did not ask or read this run and why, each one line ("comments of 12
            videos: the day's quota was spent", "r/private: 403 forbidden"): the ledger's "what we could not".
    """

    source: str
    kind: str
    status: Status
    mentions: list[Mention] = field(default_factory=list)
    items_fetched: int = 0
    cursor: dict[str, Any] | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    duration_seconds: float = 0.0
    deleted_keys: list[str] = field(default_factory=list)
    window: tuple[datetime, datetime] | None = None
    asked: list[str] = field(default_factory=list)
    quota: QuotaUse | None = None
    left_out: list[str] = field(default_factory=list)

    @classmethod
    def failed(cls, source: str, kind: str, error: CollectorError | str) -> SourceRun:
        """A source that produced nothing usable this run."""
        return cls(source=source, kind=kind, status="failed", error=str(error))

    @classmethod
    def skipped(cls, source: str, kind: str, reason: str) -> SourceRun:
        """A source that was not collected this run; `reason` says what to configure."""
        return cls(source=source, kind=kind, status="skipped", error=reason)

    @classmethod
    def crashed(cls, source: str, kind: str, error: BaseException) -> SourceRun:
        """A source whose collector raised an exception no collector should let out (a bug, or input
        nobody foresaw): failed, naming the exception and where it was raised."""
        frames = traceback.extract_tb(error.__traceback__)
        where = f", at {Path(frames[-1].filename).name} line {frames[-1].lineno}" if frames else ""
        return cls.failed(source, kind, (
            f"the {kind} collector failed unexpectedly ({type(error).__name__}: {error}{where}); nothing of this "
            "source was kept this run and its cursor stays, so the next run tries again. If this repeats, "
            "report it as an Overheard bug with this message (the task log has the traceback)"
        ))

    @classmethod
    def cut_off(cls, source: str, kind: str, after_seconds: float, budget_seconds: float) -> SourceRun:
        """A source still running well past its time budget (a server too slow, a page too heavy to parse)."""
        return cls.failed(source, kind, (
            f"cut off after {after_seconds:.0f} s: still running past its {budget_seconds:g} s time budget (a "
            "server too slow, or a response too heavy to parse); nothing of this source was kept this run and its "
            "cursor stays, so the next run tries again"
        ))

    def scrub(self, scrubber: SecretScrubber) -> None:
        """Mask every secret in the error, warnings and ledger: upstream errors may echo the credentials sent,
        and what was asked may name a URL with its login."""
        if self.error is not None:
            self.error = scrubber.scrub(self.error)
        self.warnings = [scrubber.scrub(warning) for warning in self.warnings]
        self.asked = [scrubber.scrub(line) for line in self.asked]
        self.left_out = [scrubber.scrub(line) for line in self.left_out]

    def summary(self) -> dict[str, Any]:
        """Everything but the mentions, JSON-ready: what the warehouse records in `runs`."""
        return {
            "source": self.source,
            "kind": self.kind,
            "status": self.status,
            "items_fetched": self.items_fetched,
            "mentions_collected": len(self.mentions),
            "cursor": self.cursor,
            "error": self.error,
            "warnings": self.warnings,
            "duration_seconds": round(self.duration_seconds, 3),
            "deleted_keys": self.deleted_keys,
            "window": [moment.isoformat() for moment in self.window] if self.window else None,
            "asked": self.asked,
            "quota": self.quota.to_json() if self.quota else None,
            "left_out": self.left_out,
        }


def cut_off_seconds(budget_seconds: float) -> float:
    """When a source still running is cut off: its time budget, plus a tenth of it (at least 1 s) to
    finish what it read once its requests stopped at the budget's end."""
    return budget_seconds + max(1.0, budget_seconds / 10)


def collect_isolated(
    source: str, kind: str, collect: Callable[[], SourceRun], budget_seconds: float, scrubber: SecretScrubber
) -> SourceRun:
    """Run one source's collector so that nothing it does costs another source.

    The collector runs on a thread of its own. Any exception it raises becomes this source's failed
    run: a `CollectorError` with its own message, any other naming its type, message and place (and
    the task log gets the traceback). A collector still running at `cut_off_seconds(budget_seconds)`
    is reported cut off and left behind; its requests already stop at the budget's end. Every error
    and warning is scrubbed of secrets.

    Args:
        source: the source's name.
        kind: its kind.
        collect: runs the collector on the source.
        budget_seconds: the source's time budget.
        scrubber: masks the secrets of every configured connection.

    Returns:
        The source's run, never raising.
    """
    outcome: list[SourceRun] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(collect())
        except BaseException as error:  # noqa: BLE001 - whatever a collector raises is its own source's failure
            failure.append(error)

    thread = threading.Thread(target=run, name=f"collect-{source}", daemon=True)
    thread.start()
    thread.join(cut_off_seconds(budget_seconds))
    if thread.is_alive():
        result = SourceRun.cut_off(source, kind, cut_off_seconds(budget_seconds), budget_seconds)
    elif failure and isinstance(failure[0], CollectorError):
        result = SourceRun.failed(source, kind, failure[0])
    elif failure:
        logger.error("%s", scrubber.scrub(
            f"source {source} ({kind}) failed unexpectedly:\n" + "".join(traceback.format_exception(failure[0]))
        ))
        result = SourceRun.crashed(source, kind, failure[0])
    else:
        result = outcome[0]
    result.scrub(scrubber)
    return result
