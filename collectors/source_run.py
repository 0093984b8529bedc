"""What collecting one source in one run produced: mentions, a status, the next cursor."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from core.errors import CollectorError
from core.mention import Mention

Status = Literal["ok", "empty", "failed", "skipped"]


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

    @classmethod
    def failed(cls, source: str, kind: str, error: CollectorError | str) -> SourceRun:
        """A source that produced nothing usable this run."""
        return cls(source=source, kind=kind, status="failed", error=str(error))

    @classmethod
    def skipped(cls, source: str, kind: str, reason: str) -> SourceRun:
        """A source that was not collected this run; `reason` says what to configure."""
        return cls(source=source, kind=kind, status="skipped", error=reason)

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
        }
