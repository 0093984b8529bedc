"""Story assignment: the stories-v1 rules (see `enrich.stories`) applied to a batch of mentions.

`StoryIndex.assign` takes a batch, asks its `StoryStore` what earlier batches decided, and resolves
every mention in published order. Near-duplicates are looked up in LSH buckets (`.minhash`): a
candidate is kept when its signature agrees with the mention's on at least `SIMILARITY_THRESHOLD` of
positions. Two bounds keep a campaign of thousands of copies as cheap as a handful: a near-duplicate
at least `REPRESENTED_AT` similar to the mention it matched is not indexed itself (that mention
stands for it), and a story keeps at most `BUCKET_CAP` members in any one band bucket.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import numpy as np

from enrich.stories.links import linked_keys
from enrich.stories.minhash import NUM_PERM, SHINGLE_WORDS, TextBatch, band_hashes, compared_words
from enrich.stories.store import Amplification, IndexedText, MemoryStoryStore, StoryAssignment, StoryStore

STORY_MODEL = "stories-v1"
MIN_WORDS = 10
SIMILARITY_THRESHOLD = 0.7
BUCKET_CAP = 8
REPRESENTED_AT = 0.9
_MAX_TARGET_DEPTH = 50  # retweet/link chains inside one batch are followed this deep


class StorySubject(Protocol):
    """What story assignment reads of a mention: a `core.mention.Mention`, or one read back from the warehouse."""

    @property
    def key(self) -> str:
        """The mention's natural key."""
        ...

    @property
    def title(self) -> str | None:
        """Its headline, if any."""
        ...

    @property
    def text(self) -> str:
        """Its body."""
        ...

    @property
    def author_followers(self) -> int | None:
        """Its author's audience (unknown counts as 0)."""
        ...

    @property
    def published_at(self) -> datetime | None:
        """When it was published (a naive time is UTC; unknown sorts last)."""
        ...

    @property
    def amplifies(self) -> str | None:
        """The key of the post it passes on unchanged (a retweet, reblog, repost or crosspost)."""
        ...

    @property
    def shared_links(self) -> Sequence[str]:
        """The URLs it links to or quotes, in order."""
        ...


@dataclass(slots=True)
class _Item:
    """What story assignment reads from one mention."""

    key: str
    published: float
    followers: int
    amplified_key: str | None
    links: list[str]
    signature_row: int | None = None


class StoryIndex:
    """Assigns stories to batches of mentions, remembering earlier batches in a `StoryStore`.

    Args:
        store: where assignments and the near-duplicate index are kept (in memory when not given).
        min_words: texts with fewer words are never grouped as near-duplicates.
        threshold: the estimated Jaccard similarity from which two texts are near-duplicates.
    """

    def __init__(
        self, store: StoryStore | None = None, *, min_words: int = MIN_WORDS, threshold: float = SIMILARITY_THRESHOLD
    ):
        if min_words < SHINGLE_WORDS:
            raise ValueError(f"min_words must be at least {SHINGLE_WORDS}, the words in one shingle; got {min_words}")
        self.store: StoryStore = store if store is not None else MemoryStoryStore()
        self.min_words = min_words
        self.threshold = threshold

    def assign(self, mentions: Iterable[StorySubject]) -> dict[str, StoryAssignment]:
        """The story of every mention in a batch; the store remembers them for later batches.

        Args:
            mentions: the batch (see `StorySubject`). A key seen twice counts once, as its first mention.

        Returns:
            Each key's assignment, in the order the keys first appear in `mentions`.
        """
        firsts: dict[str, StorySubject] = {}
        for mention in mentions:
            firsts.setdefault(mention.key, mention)
        items = {key: _item(key, mention) for key, mention in firsts.items()}
        targets = {item.amplified_key for item in items.values() if item.amplified_key}
        targets.update(link for item in items.values() for link in item.links)
        assigned = self.store.assignments(items.keys() | targets)
        texts = TextBatch()
        for key, mention in firsts.items():
            item = items[key]
            if key in assigned or item.amplified_key:
                continue  # a rerun, or a retweet: no text to compare
            words = compared_words(mention.title, mention.text)
            if len(words) >= self.min_words:
                item.signature_row = texts.add(words)
        signatures = texts.signatures()
        del texts, firsts
        return _Batch(self, items, signatures, assigned, targets).assign()

    def amplification(self, key: str) -> Amplification:
        """How many collected retweets, reblogs, reposts or crossposts the post with this key has, and their reach."""
        return self.store.amplification(key)


def _item(key: str, mention: StorySubject) -> _Item:
    return _Item(
        key=key,
        published=_instant(mention.published_at),
        followers=mention.author_followers or 0,
        amplified_key=mention.amplifies if mention.amplifies != key else None,
        links=[] if mention.amplifies else linked_keys(key, mention.shared_links),
    )


class _Batch:
    """One call of `StoryIndex.assign`: the batch's mentions, what the store knows of them, and the
    in-batch LSH buckets."""

    def __init__(
        self,
        index: StoryIndex,
        items: dict[str, _Item],
        signatures: np.ndarray,
        assigned: dict[str, StoryAssignment],
        targets: set[str],
    ):
        self.index = index
        self.items = items
        self.signatures = signatures
        self.bands = band_hashes(signatures)
        store = index.store
        self.assigned = assigned
        self.story_ids: set[str] = store.existing_story_ids(items.keys() | targets)
        self.story_ids.update(assignment.story_id for assignment in self.assigned.values())
        self.buckets = _Buckets()
        self.indexed_signature: dict[str, np.ndarray] = {}
        self.indexed_story: dict[str, str] = {}
        stored = store.candidates(_distinct(self.bands))
        for entry in stored:
            self.indexed_signature[entry.key] = entry.signature
            self.indexed_story[entry.key] = entry.story_id
            for band_hash in entry.band_hashes.tolist():
                self.buckets.add(band_hash, entry.key)
        self.shared_bands = _shared_bands(self.bands, [entry.band_hashes for entry in stored])
        self.new_assignments: dict[str, StoryAssignment] = {}
        self.new_indexed: list[IndexedText] = []
        self.amplifications: list[tuple[str, int]] = []
        self.in_progress: set[str] = set()

    def assign(self) -> dict[str, StoryAssignment]:
        for item in sorted(self.items.values(), key=lambda item: (item.published, item.key)):
            self._resolve(item, 0)
        self.index.store.add(self.new_assignments, self.new_indexed, self.amplifications)
        return {key: self.assigned[key] for key in self.items}

    def _resolve(self, item: _Item, depth: int) -> StoryAssignment:
        if item.key in self.assigned:
            return self.assigned[item.key]
        self.in_progress.add(item.key)
        if item.amplified_key:
            story_id = self._story_of(item.amplified_key, depth) or item.amplified_key
            assignment = StoryAssignment(story_id, "retweet", via=item.amplified_key)
            self.amplifications.append((item.amplified_key, item.followers))
        elif item.key in self.story_ids:
            assignment = StoryAssignment(item.key, "original")
        elif item.links:
            assignment = self._by_link(item, depth)
        else:
            assignment = self._by_text(item) or StoryAssignment(item.key, "original")
        self.in_progress.discard(item.key)
        self.assigned[item.key] = assignment
        self.new_assignments[item.key] = assignment
        self.story_ids.add(assignment.story_id)
        if item.signature_row is not None and (assignment.similarity or 0.0) < REPRESENTED_AT:
            self._file(item.key, item.signature_row, assignment.story_id)
        return assignment

    def _story_of(self, key: str, depth: int) -> str | None:
        """The story of a key: its assignment (resolving it first when it is later in this batch), the
        story it names, or None."""
        if key in self.assigned:
            return self.assigned[key].story_id
        if key in self.items and key not in self.in_progress and depth < _MAX_TARGET_DEPTH:
            return self._resolve(self.items[key], depth + 1).story_id
        return key if key in self.story_ids else None

    def _by_link(self, item: _Item, depth: int) -> StoryAssignment:
        for link in item.links:
            story_id = self._story_of(link, depth)
            if story_id is not None:
                return StoryAssignment(story_id, "link", via=link)
        return StoryAssignment(item.links[0], "link", via=item.links[0])

    def _by_text(self, item: _Item) -> StoryAssignment | None:
        shared = self.shared_bands.get(item.signature_row) if item.signature_row is not None else None
        candidates = self.buckets.keys_in(shared) if shared else None
        if not candidates:
            return None
        signature = self.signatures[item.signature_row]
        agreeing = np.count_nonzero(np.stack([self.indexed_signature[key] for key in candidates]) == signature, axis=1)
        best = min(range(len(candidates)), key=lambda at: (-agreeing[at], candidates[at]))
        similarity = float(agreeing[best]) / NUM_PERM
        if similarity < self.index.threshold:
            return None
        return StoryAssignment(self.indexed_story[candidates[best]], "near_duplicate", similarity, candidates[best])

    def _file(self, key: str, signature_row: int, story_id: str) -> None:
        """Put an assigned text into the LSH buckets where its story has room. Only buckets another
        text of the batch or the store shares are kept in memory: nobody else looks the others up."""
        full = []
        for band_hash in self.shared_bands.get(signature_row, ()):
            members = self.buckets.members(band_hash)
            if len(members) >= BUCKET_CAP and sum(self.indexed_story[key] == story_id for key in members) >= BUCKET_CAP:
                full.append(band_hash)
            else:
                self.buckets.add(band_hash, key)
        filed = self.bands[signature_row]
        if full:
            filed = filed[~np.isin(filed, full)]
        if not filed.size:
            return
        signature = self.signatures[signature_row]
        self.indexed_signature[key] = signature
        self.indexed_story[key] = story_id
        self.new_indexed.append(IndexedText(key, story_id, signature, filed))


def _distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted (numpy's `unique` is many times slower on 64-bit hashes)."""
    ordered = np.sort(values, axis=None)
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))] if ordered.size else ordered


def _shared_bands(bands: np.ndarray, stored: Sequence[np.ndarray]) -> dict[int, list[int]]:
    """For each signature row that shares a band hash with another row or with a stored text, those
    band hashes; rows that share none (most of them) have nothing to look up."""
    if not bands.size:
        return {}
    _, inverse, counts = np.unique(bands, return_inverse=True, return_counts=True)
    shared = (counts[inverse] > 1).reshape(bands.shape)
    if stored:
        shared |= np.isin(bands, np.concatenate(stored))
    return {int(row): bands[row][shared[row]].tolist() for row in np.flatnonzero(shared.any(axis=1))}


class _Buckets:
    """LSH buckets: the keys filed under each band hash. Most buckets hold one key, kept as a bare
    string: a list per bucket would make hundreds of thousands of small objects."""

    def __init__(self) -> None:
        self._keys: dict[int, str | list[str]] = {}

    def add(self, band_hash: int, key: str) -> None:
        filed = self._keys.get(band_hash)
        if filed is None:
            self._keys[band_hash] = key
        elif isinstance(filed, str):
            self._keys[band_hash] = [filed, key]
        else:
            filed.append(key)

    def members(self, band_hash: int) -> Sequence[str]:
        filed = self._keys.get(band_hash)
        if filed is None:
            return ()
        return (filed,) if isinstance(filed, str) else filed

    def keys_in(self, band_hashes: Iterable[int]) -> list[str]:
        """The keys filed under any of `band_hashes`, each once, in order."""
        found: dict[str, None] = {}
        for band_hash in band_hashes:
            filed = self._keys.get(band_hash)
            if filed is None:
                continue
            if isinstance(filed, str):
                found[filed] = None
            else:
                found.update(dict.fromkeys(filed))
        return list(found)


def _instant(published_at: datetime | None) -> float:
    """Seconds since the epoch for sorting (naive times taken as UTC); unknown times sort last."""
    if published_at is None:
        return float("inf")
    return (published_at if published_at.tzinfo else published_at.replace(tzinfo=UTC)).timestamp()
