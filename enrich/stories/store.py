"""What story assignment remembers between batches: the records, the `StoryStore` interface and the
in-memory store (the warehouse's is `enrich.stories.duckdb_store.DuckDBStoryStore`)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

StoryReason = Literal["original", "retweet", "link", "near_duplicate"]


@dataclass(frozen=True)
class StoryAssignment:
    """The story a mention belongs to, and why.

    Attributes:
        story_id: the key of the story's root (see `enrich.stories`).
        reason: original, retweet, link or near_duplicate.
        similarity: for near_duplicate, the estimated Jaccard similarity of word 3-shingles with
            `via`; None for the other reasons.
        via: the amplified post (retweet), the linked key or canonical URL (link), or the most
            similar earlier mention (near_duplicate); None for an original.
    """

    story_id: str
    reason: StoryReason
    similarity: float | None = None
    via: str | None = None


@dataclass(frozen=True)
class Amplification:
    """How much a post was amplified: its retweets, reblogs, reposts and crossposts that were collected.

    Attributes:
        amplifiers: how many.
        amplified_reach: the sum of their authors' followers (unknown counts as 0).
    """

    amplifiers: int = 0
    amplified_reach: int = 0


@dataclass(frozen=True)
class IndexedText:
    """A mention in the near-duplicate index.

    Attributes:
        key: the mention key.
        story_id: its story.
        signature: its MinHash signature, `NUM_PERM` uint32 values.
        band_hashes: the LSH buckets it is filed under, int64 (at most `LSH_BANDS`; fewer where its
            story already has `BUCKET_CAP` members).
    """

    key: str
    story_id: str
    signature: np.ndarray
    band_hashes: np.ndarray


class StoryStore(Protocol):
    """What `StoryIndex` needs to remember between batches. Every call covers a whole batch."""

    def assignments(self, keys: Collection[str]) -> dict[str, StoryAssignment]:
        """The stored assignments of those of `keys` that have one."""
        ...

    def existing_story_ids(self, story_ids: Collection[str]) -> set[str]:
        """Those of `story_ids` that name a stored story."""
        ...

    def candidates(self, band_hashes: np.ndarray) -> list[IndexedText]:
        """The indexed mentions filed under any of `band_hashes` (distinct, int64), in a fixed order."""
        ...

    def add(
        self,
        assignments: Mapping[str, StoryAssignment],
        indexed: Sequence[IndexedText],
        amplifications: Sequence[tuple[str, int]],
    ) -> None:
        """Remember a batch: its new assignments, its newly indexed texts, and for each of its new
        retweets the key of the post it amplifies and its author's followers."""
        ...

    def amplification(self, key: str) -> Amplification:
        """The amplification of the post with this key."""
        ...


class MemoryStoryStore:
    """A `StoryStore` held in memory: for tests, benchmarks and one-off runs."""

    def __init__(self) -> None:
        self._assignments: dict[str, StoryAssignment] = {}
        self._story_ids: set[str] = set()
        self._indexed: list[IndexedText] = []
        self._band_index: tuple[np.ndarray, np.ndarray] | None = None  # sorted band hashes, their entries
        self._amplification: dict[str, Amplification] = {}

    def assignments(self, keys: Collection[str]) -> dict[str, StoryAssignment]:
        return {key: self._assignments[key] for key in keys if key in self._assignments}

    def existing_story_ids(self, story_ids: Collection[str]) -> set[str]:
        return {story_id for story_id in story_ids if story_id in self._story_ids}

    def candidates(self, band_hashes: np.ndarray) -> list[IndexedText]:
        if not self._indexed or not len(band_hashes):
            return []
        if self._band_index is None:
            hashes = np.concatenate([entry.band_hashes for entry in self._indexed])
            entries = np.repeat(np.arange(len(self._indexed)), [len(entry.band_hashes) for entry in self._indexed])
            order = np.argsort(hashes, kind="stable")
            self._band_index = hashes[order], entries[order]
        hashes, entries = self._band_index
        query = np.asarray(band_hashes, dtype=np.int64)
        first, last = np.searchsorted(hashes, query, "left"), np.searchsorted(hashes, query, "right")
        hits = np.flatnonzero(last > first)
        found = sorted({int(entry) for at in hits for entry in entries[first[at]:last[at]]})
        return [self._indexed[entry] for entry in found]

    def add(
        self,
        assignments: Mapping[str, StoryAssignment],
        indexed: Sequence[IndexedText],
        amplifications: Sequence[tuple[str, int]],
    ) -> None:
        for key, assignment in assignments.items():
            self._assignments[key] = assignment
            self._story_ids.add(assignment.story_id)
        if indexed:
            self._indexed.extend(indexed)
            self._band_index = None
        for original, followers in amplifications:
            before = self._amplification.get(original, Amplification())
            self._amplification[original] = Amplification(before.amplifiers + 1, before.amplified_reach + followers)

    def amplification(self, key: str) -> Amplification:
        return self._amplification.get(key, Amplification())
