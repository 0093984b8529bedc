"""Helpers shared by the search-API collectors (Hacker News, Bluesky, Mastodon): the search terms
built from the brand config, the stretches of time each search still has to read, and the
per-run item budget."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from config.model import BrandConfig

Moment = TypeVar("Moment", int, str)


@dataclass
class SearchRange(Generic[Moment]):
    """A stretch of time a search still has to read, newest first.

    Moments are whatever the API filters on and that sort in time order (HN: epoch seconds; Bluesky:
    ISO 8601 UTC strings of one fixed format). Both edges are inclusive, because several items can
    share a moment; `seen` lists the ids at the edges that were read already.

    Attributes:
        low: the oldest moment to read.
        high: the newest moment to read; None: up to the end of the run's window (the open range).
        seen: ids already read at `low` or `high`.
    """

    low: Moment
    high: Moment | None = None
    seen: list[str] = field(default_factory=list)

    def after_reading(self, read: list[tuple[Moment, str]], complete: bool) -> list[SearchRange[Moment]]:
        """What is left of this range once `read` (moment, id) were read newest first.

        Args:
            read: the items read, in any order.
            complete: whether the read reached the range's oldest end.

        Returns:
            The ranges still to read: the unread older part (when not complete), then, for the open
            range, a new open range from the newest item read.
        """
        if not read:
            return [] if complete and self.high is not None else [self]
        left: list[SearchRange[Moment]] = []
        if not complete:
            oldest = min(moment for moment, _ in read)
            left.append(SearchRange(self.low, oldest, [*self.seen, *(item for moment, item in read if moment == oldest)]))
        if self.high is None:
            newest = max(moment for moment, _ in read)
            at_newest = [item for moment, item in read if moment == newest]
            left.append(SearchRange(newest, None, [*self.seen, *at_newest] if newest == self.low else at_newest))
        return left

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form, for the cursor."""
        return {"low": self.low, "high": self.high, "seen": self.seen}

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> SearchRange[Any]:
        """The inverse of `to_json`."""
        return cls(record["low"], record.get("high"), list(record.get("seen", [])))

    @classmethod
    def pending(cls, stored: Any, start: Moment) -> list[SearchRange[Any]]:
        """The ranges a term's stored cursor holds; an open range from `start` when it holds none readable."""
        try:
            return [cls.from_json(record) for record in stored] or [cls(start)]
        except (AttributeError, KeyError, TypeError):
            return [cls(start)]


@dataclass
class Budget:
    """What a run may still spend: items to read, and time (a `time.monotonic()` deadline).

    Attributes:
        items: items the run may still read.
        deadline: when the run must stop.
        stopped: whether a reader stopped because the budget was spent (something is left to read).
    """

    items: int
    deadline: float
    stopped: bool = False

    def spent(self) -> bool:
        """Whether the run must stop reading; readers ask before each request and each item."""
        if self.items <= 0 or time.monotonic() > self.deadline:
            self.stopped = True
        return self.stopped


def search_terms(brands: Iterable[BrandConfig], *, hashtags_as_words: bool = True) -> list[str]:
    """One search per term, for APIs without OR: aliases (multi-word ones quoted) and hashtags.

    An alias that contains another of its brand's terms is left out: the search for "Brightwave"
    already finds "Brightwave Broadband".

    Args:
        brands: brands then competitors.
        hashtags_as_words: search "#brightwave" as the word "brightwave" (HN has no hashtags); else
            keep the "#".

    Returns:
        Distinct terms (case-insensitively), in brand order.
    """
    terms: list[str] = []
    for brand in brands:
        candidates = [*brand.aliases, *(tag.lstrip("#") if hashtags_as_words else tag for tag in brand.hashtags)]
        for term in candidates:
            if any(other.lower() != term.lower() and _contains_words(term, other) for other in candidates):
                continue
            quoted = f'"{term}"' if " " in term.strip() else term.strip()
            if quoted.lower() not in (known.lower() for known in terms):
                terms.append(quoted)
    return terms


def _contains_words(term: str, other: str) -> bool:
    """Whether `other`'s words appear, in order and together, among `term`'s (case-insensitively)."""
    words, part = term.lower().split(), other.lower().split()
    return 0 < len(part) < len(words) and any(words[i : i + len(part)] == part for i in range(len(words) - len(part) + 1))
