"""Stories: mentions that say the same thing again, grouped under one story id.

stories-v1. Every mention of a batch gets a story, by the first rule that applies:

1. Already assigned by an earlier batch: it keeps that assignment (a rerun changes nothing).
2. `retweet`: an X retweet (`extras.referenced_tweets` of type `retweeted`, or `extras.retweet_of`),
   a Mastodon reblog (`extras.reblog_of`) or a Bluesky repost (`extras.repost_of`) joins the story of
   the post it amplifies. `via` is that post's key; the post's amplification counts it.
3. `original`: a mention whose own key is already a story id (it was retweeted, quoted or linked
   before it was collected) is that story's original.
4. `link`: a post that links to a page or a post joins the story of what it links to: the first
   link that is a known mention or story, else a new story named after its first link. Links are
   read from X `extras.entities.urls` and quoted posts, a Reddit link post's `extras.url`, and
   `extras.links` (for any collector). URLs are canonicalised as natural keys are
   (`core.mention.canonical_url`: tracking parameters dropped), links to X statuses and
   Reddit posts become those posts' keys, and links to home pages and to the post itself are ignored.
5. `near_duplicate`: a text of at least `MIN_WORDS` words whose word 3-shingles (of its first
   `MAX_WORDS` words: a page's opening says what it is) have an estimated Jaccard similarity of at
   least `SIMILARITY_THRESHOLD` with an earlier mention's joins the story of the most similar one
   (ties: the smaller key). `similarity` is that estimate. Text is the title and the body.
6. `original`: anything else starts a story named after its own key.

A story id is therefore the key of the story's root: the post amplified, the page linked (its
canonical URL, which is its mention key once a feed or crawl collects it), or the first mention of a
group of near-duplicates. Within a batch, mentions are taken in published order (then by key), so the
same rows give the same story ids in any order. Stories never merge: a mention joins one story, and
assignments already made are never rewritten.

Near-duplicates are found with MinHash and LSH. Signatures are datasketch's (scheme affine32,
`NUM_PERM` permutations, seed `PERMUTATION_SEED`), computed for a whole batch at once in numpy (see
`minhash_signatures`). LSH cuts each signature into `LSH_BANDS` bands of `LSH_ROWS` values, each
hashed to a signed 64-bit `band_hash`: two texts are compared only when they share a band, so the
cost does not grow with the index. 20 bands of 6 make a pair of similarity 0.7 a candidate 92% of
the time, 0.8 99.8%; a candidate is kept when its signatures agree on at least 70% of positions.
Two bounds keep a campaign of thousands of copies as cheap as a handful: a near-duplicate at least
`REPRESENTED_AT` similar to the mention it matched is not indexed itself (that mention stands for
it), and a story keeps at most `BUCKET_CAP` members in any one band bucket.

The index lives behind `StoryStore`: `MemoryStoryStore` for one process, `DuckDBStoryStore` for the
warehouse (the `mentions.story_*` columns and the `story_bands` table), which
`assign_warehouse_stories` brings up to date after each load.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, Literal, Protocol

import numpy as np
from datasketch import MinHash

from core.mention import canonical_url

STORY_MODEL = "stories-v1"
SHINGLE_WORDS = 3
MIN_WORDS = 10
MAX_WORDS = 500
NUM_PERM = 128
PERMUTATION_SEED = 1
SIMILARITY_THRESHOLD = 0.7
LSH_BANDS = 20
LSH_ROWS = 6
BUCKET_CAP = 8
REPRESENTED_AT = 0.9

StoryReason = Literal["original", "retweet", "link", "near_duplicate"]

# Where collectors put the key of the post a repost amplifies.
_AMPLIFIED_KEY_FIELDS = ("retweet_of", "reblog_of", "repost_of")
_URL_IN_TEXT = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_WORD = re.compile(r"\w+")
_X_HOSTS = frozenset({"x.com", "twitter.com", "mobile.x.com", "mobile.twitter.com", "www.x.com", "www.twitter.com"})
_X_STATUS_PATH = re.compile(r"^/(?:[^/]+|i/web)/status(?:es)?/(\d+)")
_REDDIT_POST_PATH = re.compile(r"^/(?:r/[^/]+/)?comments/([a-z0-9]+)", re.IGNORECASE)
_MAX_TARGET_DEPTH = 50  # retweet/link chains inside one batch are followed this deep

# The 64-bit MurmurHash3 finalizer, a band salt and the shingle's word multipliers: shingle and band
# hashes are stable across processes, machines and versions.
_FMIX64 = (np.uint64(33), np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53))
_BAND_SALT = np.uint64(0x9E3779B97F4A7C15)
_SHINGLE_MULTIPLIERS = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F), np.uint64(0x165667B19E3779F9))
_EMPTY_HASH = np.uint32(0xFFFFFFFF)
_SIGNATURE_CHUNK = 64  # texts per step: their permuted shingle hashes stay in the CPU cache


@dataclass(frozen=True)
class StoryAssignment:
    """The story a mention belongs to, and why.

    Attributes:
        story_id: the key of the story's root (see the module docstring).
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
    """How much a post was amplified: its retweets, reblogs or reposts that were collected.

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
        amplifier_followers: Mapping[str, int],
    ) -> None:
        """Remember a batch: its new assignments, its newly indexed texts, and the followers of its
        new retweets (by retweet key)."""
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
        amplifier_followers: Mapping[str, int],
    ) -> None:
        for key, assignment in assignments.items():
            self._assignments[key] = assignment
            self._story_ids.add(assignment.story_id)
        if indexed:
            self._indexed.extend(indexed)
            self._band_index = None
        for key, followers in amplifier_followers.items():
            original = assignments[key].via
            before = self._amplification.get(original, Amplification())
            self._amplification[original] = Amplification(before.amplifiers + 1, before.amplified_reach + followers)

    def amplification(self, key: str) -> Amplification:
        return self._amplification.get(key, Amplification())


class DuckDBStoryStore:
    """A `StoryStore` in the warehouse, on an open DuckDB connection (duckdb is not imported here).

    Assignments live in the `story_id`, `story_reason`, `story_similarity` and `story_via` columns of
    `mentions` (written by `assign_warehouse_stories`, not by `add`); the LSH index lives in
    `story_bands`, one row per band a mention is filed under. Signatures are not stored: those of
    the few mentions that share a band with a batch are computed again from their title and text.

    Args:
        connection: a DuckDB connection to a warehouse with the story columns and `story_bands`.
    """

    def __init__(self, connection: Any):
        self.connection = connection

    def assignments(self, keys: Collection[str]) -> dict[str, StoryAssignment]:
        if not keys:
            return {}
        rows = self.connection.execute(
            """
            SELECT mention_key, story_id, story_reason, story_similarity, story_via FROM mentions
            WHERE story_id IS NOT NULL AND mention_key IN (SELECT unnest(?::VARCHAR[]))
            """,
            [list(keys)],
        ).fetchall()
        return {row[0]: StoryAssignment(*row[1:]) for row in rows}

    def existing_story_ids(self, story_ids: Collection[str]) -> set[str]:
        if not story_ids:
            return set()
        rows = self.connection.execute(
            "SELECT DISTINCT story_id FROM mentions WHERE story_id IN (SELECT unnest(?::VARCHAR[]))", [list(story_ids)]
        ).fetchall()
        return {row[0] for row in rows}

    def candidates(self, band_hashes: np.ndarray) -> list[IndexedText]:
        if not len(band_hashes):
            return []
        self.connection.register("story_batch_bands", {"band_hash": np.asarray(band_hashes, dtype=np.int64)})
        try:
            rows = self.connection.execute(
                """
                WITH hit AS (SELECT DISTINCT mention_key FROM story_bands JOIN story_batch_bands USING (band_hash)),
                filed AS (
                    SELECT mention_key, list(band_hash ORDER BY band_hash) AS bands FROM story_bands
                    WHERE mention_key IN (SELECT * FROM hit) GROUP BY mention_key
                )
                SELECT mention_key, m.story_id, m.title, m.text, filed.bands
                FROM filed JOIN mentions AS m USING (mention_key)
                ORDER BY mention_key
                """
            ).fetchall()
        finally:
            self.connection.unregister("story_batch_bands")
        signatures = minhash_signatures(_compared_words(title, text) for _, _, title, text, _ in rows)
        return [
            IndexedText(key, story_id, signature, np.array(bands, dtype=np.int64))
            for (key, story_id, _, _, bands), signature in zip(rows, signatures, strict=True)
        ]

    def add(
        self,
        assignments: Mapping[str, StoryAssignment],
        indexed: Sequence[IndexedText],
        amplifier_followers: Mapping[str, int],
    ) -> None:
        if not indexed:
            return
        keys = np.array([entry.key for entry in indexed], dtype=object)
        filed = {
            "band_hash": np.concatenate([entry.band_hashes for entry in indexed]).astype(np.int64),
            "mention_key": np.repeat(keys, [len(entry.band_hashes) for entry in indexed]),
        }
        self.connection.register("story_batch_filed", filed)
        try:
            self.connection.execute("INSERT INTO story_bands (band_hash, mention_key) SELECT * FROM story_batch_filed")
        finally:
            self.connection.unregister("story_batch_filed")

    def amplification(self, key: str) -> Amplification:
        amplifiers, reach = self.connection.execute(
            """
            SELECT count(*), coalesce(sum(author_followers), 0) FROM mentions
            WHERE story_reason = 'retweet' AND story_via = ? AND NOT is_deleted
            """,
            [key],
        ).fetchone()
        return Amplification(int(amplifiers), int(reach))

    def refresh_amplification(self) -> int:
        """Make `mentions.amplified_by` and `amplified_reach` count each post's retweets that are in
        `mentions` and not deleted, rewriting only the rows whose counts changed.

        Returns:
            How many rows changed.
        """
        return self.connection.execute(
            """
            UPDATE mentions SET amplified_by = counted.amplifiers, amplified_reach = counted.reach
            FROM (
                SELECT original.mention_key, coalesce(retweets.amplifiers, 0) AS amplifiers,
                       coalesce(retweets.reach, 0) AS reach
                FROM mentions AS original
                LEFT JOIN (
                    SELECT story_via, count(*) AS amplifiers, coalesce(sum(author_followers), 0) AS reach
                    FROM mentions WHERE story_reason = 'retweet' AND NOT is_deleted GROUP BY story_via
                ) AS retweets ON retweets.story_via = original.mention_key
                WHERE original.amplified_by > 0 OR retweets.story_via IS NOT NULL
            ) AS counted
            WHERE mentions.mention_key = counted.mention_key
            AND (mentions.amplified_by IS DISTINCT FROM counted.amplifiers
                 OR mentions.amplified_reach IS DISTINCT FROM counted.reach)
            """
        ).fetchone()[0]


def assign_warehouse_stories(connection: Any, chunk: int = 50_000) -> int:
    """Give every mention in the warehouse that has no story yet its story, then recount amplification.

    Mentions are taken oldest published first, `chunk` at a time, each chunk in a transaction of its
    own: memory stays flat however large the run, and an interrupted call is finished by the next
    (a mention with a story is never assigned again). Mentions loaded before stories existed are
    given theirs the same way.

    Args:
        connection: an open warehouse (`warehouse.connection.open_warehouse`), outside a transaction.
        chunk: mentions per transaction.

    Returns:
        How many mentions were given a story.
    """
    index = StoryIndex(DuckDBStoryStore(connection))
    columns = ["key", "platform", "title", "text", "author_followers", "published_at", "extras"]
    assigned_total = 0
    while True:
        connection.execute("BEGIN TRANSACTION")
        try:
            rows = connection.execute(
                """
                SELECT mention_key, platform, title, text, author_followers, epoch(published_at), extras
                FROM mentions WHERE story_id IS NULL ORDER BY published_at NULLS LAST, mention_key LIMIT ?
                """,
                [chunk],
            ).fetchall()
            assigned = index.assign(dict(zip(columns, row, strict=True)) for row in rows)
            if assigned:
                keys = list(assigned)
                connection.execute(
                    """
                    UPDATE mentions SET story_id = s.story_id, story_reason = s.story_reason,
                        story_via = s.story_via, story_similarity = s.story_similarity, story_model = $model
                    FROM (
                        SELECT unnest($keys::VARCHAR[]) AS mention_key, unnest($ids::VARCHAR[]) AS story_id,
                               unnest($reasons::VARCHAR[]) AS story_reason, unnest($vias::VARCHAR[]) AS story_via,
                               unnest($similarities::DOUBLE[]) AS story_similarity
                    ) AS s
                    WHERE mentions.mention_key = s.mention_key
                    """,
                    {
                        "model": STORY_MODEL,
                        "keys": keys,
                        "ids": [assigned[key].story_id for key in keys],
                        "reasons": [assigned[key].reason for key in keys],
                        "vias": [assigned[key].via for key in keys],
                        "similarities": [assigned[key].similarity for key in keys],
                    },
                )
            else:
                DuckDBStoryStore(connection).refresh_amplification()
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        if not assigned:
            return assigned_total
        assigned_total += len(assigned)


@dataclass(slots=True)
class _Item:
    """What story assignment reads from one row."""

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

    def assign(self, rows: Iterable[Mapping[str, Any]]) -> dict[str, StoryAssignment]:
        """The story of every mention in a batch; the store remembers them for later batches.

        Args:
            rows: staged rows (`Mention.to_json()` plus enrichment fields, or rows read back from
                DuckDB): `key`, `platform`, `text`, `title`, `author_followers`, `published_at`
                (datetime, ISO 8601 or seconds since the epoch) and `extras` (dict or JSON text)
                are read. A key seen twice counts once, as its first row.

        Returns:
            Each key's assignment, in the order the keys first appear in `rows`.
        """
        firsts: dict[str, Mapping[str, Any]] = {}
        for row in rows:
            firsts.setdefault(row["key"], row)
        items = {key: self._read(row) for key, row in firsts.items()}
        targets = {item.amplified_key for item in items.values() if item.amplified_key}
        targets.update(link for item in items.values() for link in item.links)
        assigned = self.store.assignments(items.keys() | targets)
        texts = _TextBatch()
        for key, row in firsts.items():
            item = items[key]
            if key in assigned or item.amplified_key:
                continue  # a rerun, or a retweet: no text to compare
            words = _compared_words(row.get("title"), row.get("text"))
            if len(words) >= self.min_words:
                item.signature_row = texts.add(words)
        signatures = texts.signatures()
        del texts, firsts
        return _Batch(self, items, signatures, assigned, targets).assign()

    def amplification(self, key: str) -> Amplification:
        """How many collected retweets, reblogs or reposts the post with this key has, and their reach."""
        return self.store.amplification(key)

    def _read(self, row: Mapping[str, Any]) -> _Item:
        key = row["key"]
        extras = row.get("extras") or {}
        if isinstance(extras, str):
            extras = json.loads(extras)
        amplified_key = _amplified_key(row.get("platform"), extras)
        return _Item(
            key=key,
            published=_instant(row.get("published_at")),
            followers=int(row.get("author_followers") or 0),
            amplified_key=amplified_key if amplified_key != key else None,
            links=[] if amplified_key else _links(key, row.get("platform"), extras),
        )


class _Batch:
    """One call of `StoryIndex.assign`: the batch's rows, what the store knows of them, and the
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
        self.amplifier_followers: dict[str, int] = {}
        self.in_progress: set[str] = set()

    def assign(self) -> dict[str, StoryAssignment]:
        for item in sorted(self.items.values(), key=lambda item: (item.published, item.key)):
            self._resolve(item, 0)
        self.index.store.add(self.new_assignments, self.new_indexed, self.amplifier_followers)
        return {key: self.assigned[key] for key in self.items}

    def _resolve(self, item: _Item, depth: int) -> StoryAssignment:
        if item.key in self.assigned:
            return self.assigned[item.key]
        self.in_progress.add(item.key)
        if item.amplified_key:
            story_id = self._story_of(item.amplified_key, depth) or item.amplified_key
            assignment = StoryAssignment(story_id, "retweet", via=item.amplified_key)
            self.amplifier_followers[item.key] = item.followers
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
            self._file(item, assignment.story_id)
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

    def _file(self, item: _Item, story_id: str) -> None:
        """Put an assigned text into the LSH buckets where its story has room. Only buckets another
        text of the batch or the store shares are kept in memory: nobody else looks the others up."""
        full = []
        for band_hash in self.shared_bands.get(item.signature_row, ()):
            members = self.buckets.members(band_hash)
            if len(members) >= BUCKET_CAP and sum(self.indexed_story[key] == story_id for key in members) >= BUCKET_CAP:
                full.append(band_hash)
            else:
                self.buckets.add(band_hash, item.key)
        filed = self.bands[item.signature_row]
        if full:
            filed = filed[~np.isin(filed, full)]
        if not filed.size:
            return
        signature = self.signatures[item.signature_row]
        self.indexed_signature[item.key] = signature
        self.indexed_story[item.key] = story_id
        self.new_indexed.append(IndexedText(item.key, story_id, signature, filed))


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


def story_words(text: str) -> list[str]:
    """The words near-duplicate detection compares: lower-cased, without URLs or punctuation.

    Args:
        text: a mention's title and body.

    Returns:
        The words, in order (`@handle` and `#tag` keep their word).
    """
    if "://" in text or "www." in text or "WWW." in text:
        text = _URL_IN_TEXT.sub(" ", text)
    return _WORD.findall(text.casefold())


def shingle_hashes(words: Sequence[str]) -> list[int]:
    """The 32-bit hashes of a text's word `SHINGLE_WORDS`-shingles (see `minhash_signatures`).

    Args:
        words: the text's words (see `story_words`).
    """
    texts = _TextBatch()
    texts.add(words)
    return texts.shingle_hashes()[0].tolist()


def minhash_signatures(texts: Iterable[Sequence[str]]) -> np.ndarray:
    """The MinHash signature of each text's set of shingle hashes, computed for a whole batch at once.

    The values are datasketch's: row i equals the `hashvalues` of
    `MinHash(NUM_PERM, seed=PERMUTATION_SEED, scheme="affine32", hashfunc=int)` updated with
    `shingle_hashes(texts[i])`. A shingle's hash is the CRC-32 of each of its words, combined with
    fixed odd multipliers and mixed by the 64-bit MurmurHash3 finalizer, top 32 bits.

    Args:
        texts: each text's words (see `story_words`).

    Returns:
        A (len(texts), NUM_PERM) uint32 array; a text with no shingle gets datasketch's empty value.
    """
    batch = _TextBatch()
    for words in texts:
        batch.add(words)
    return batch.signatures()


class _TextBatch:
    """The words of many texts as one run of CRC-32 word hashes (ints: nothing for the garbage
    collector to walk), turned into MinHash signatures all at once."""

    def __init__(self) -> None:
        self.word_hashes: list[int] = []
        self.lengths: list[int] = []
        self._known: dict[str, int] = {}

    def add(self, words: Sequence[str]) -> int:
        """Add a text's words; returns its row in `signatures()`."""
        known = self._known
        values = list(map(known.get, words))
        if None in values:
            for at, word in enumerate(words):
                if values[at] is None:
                    values[at] = known[word] = known.get(word) or zlib.crc32(word.encode())
        self.word_hashes += values
        self.lengths.append(len(words))
        return len(self.lengths) - 1

    def shingle_hashes(self) -> tuple[np.ndarray, np.ndarray]:
        """Every text's shingle hashes, text after text (uint32), and how many each text has."""
        lengths = np.array(self.lengths, dtype=np.int64)
        counts = np.maximum(lengths - (SHINGLE_WORDS - 1), 0)
        words = np.array(self.word_hashes, dtype=np.uint64)
        starts = words.size - SHINGLE_WORDS + 1
        if starts <= 0:
            return np.empty(0, dtype=np.uint32), counts
        combined = np.zeros(starts, dtype=np.uint64)
        for position, multiplier in enumerate(_SHINGLE_MULTIPLIERS):
            combined += words[position:position + starts] * multiplier
        # A shingle starting in a text's last SHINGLE_WORDS - 1 words would run into the next text.
        crossing = (np.cumsum(lengths)[:, None] - np.arange(1, SHINGLE_WORDS)).ravel()
        keep = np.ones(starts, dtype=bool)
        keep[crossing[(crossing >= 0) & (crossing < starts)]] = False
        return (_fmix64(combined[keep]) >> np.uint64(32)).astype(np.uint32), counts

    def signatures(self) -> np.ndarray:
        """A (texts, NUM_PERM) uint32 array of MinHash signatures (see `minhash_signatures`)."""
        signatures = np.full((len(self.lengths), NUM_PERM), _EMPTY_HASH, dtype=np.uint32)
        hashes, counts = self.shingle_hashes()
        rows = np.flatnonzero(counts)
        if not rows.size:
            return signatures
        starts = np.concatenate(([0], np.cumsum(counts[rows])[:-1]))
        premixed = _fmix32(hashes)
        multipliers, offsets = _permutations()
        for first in range(0, rows.size, _SIGNATURE_CHUNK):
            chunk = slice(first, first + _SIGNATURE_CHUNK)
            low = starts[first]
            high = starts[first + _SIGNATURE_CHUNK] if first + _SIGNATURE_CHUNK < rows.size else premixed.size
            permuted = np.multiply(premixed[low:high, None], multipliers)
            np.add(permuted, offsets, out=permuted)
            signatures[rows[chunk]] = np.minimum.reduceat(permuted, starts[chunk] - low, axis=0)
        return signatures


@cache
def _permutations() -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 permutations (a, b) for `NUM_PERM` and `PERMUTATION_SEED`."""
    multipliers, offsets = MinHash(num_perm=NUM_PERM, seed=PERMUTATION_SEED, scheme="affine32").permutations
    return multipliers.astype(np.uint32), offsets.astype(np.uint32)


def _fmix32(values: np.ndarray) -> np.ndarray:
    """The 32-bit MurmurHash3 finalizer: datasketch's pre-mix of input hashes in scheme affine32."""
    values = values ^ (values >> np.uint32(16))
    values = values * np.uint32(0x85EBCA6B)
    values = values ^ (values >> np.uint32(13))
    values = values * np.uint32(0xC2B2AE35)
    return values ^ (values >> np.uint32(16))


def band_hashes(signatures: np.ndarray) -> np.ndarray:
    """The LSH band hashes of MinHash signatures.

    Args:
        signatures: a (n, NUM_PERM) uint32 array.

    Returns:
        A (n, LSH_BANDS) int64 array: band b of a row hashes its values b*LSH_ROWS to
        (b+1)*LSH_ROWS - 1 together with b, so equal values in different bands never collide.
    """
    count = signatures.shape[0]
    values = signatures[:, : LSH_BANDS * LSH_ROWS].astype(np.uint64).reshape(count, LSH_BANDS, LSH_ROWS)
    hashed = np.broadcast_to(np.arange(LSH_BANDS, dtype=np.uint64) * _BAND_SALT, (count, LSH_BANDS))
    for position in range(LSH_ROWS):
        hashed = _fmix64(hashed ^ values[:, :, position] ^ _BAND_SALT)
    return hashed.view(np.int64)


def _fmix64(values: np.ndarray) -> np.ndarray:
    shift, first, second = _FMIX64
    values = values ^ (values >> shift)
    values = values * first
    values = values ^ (values >> shift)
    values = values * second
    return values ^ (values >> shift)


def _compared_words(title: str | None, text: str | None) -> list[str]:
    """The words of a mention that near-duplicate detection compares: title and body, at most `MAX_WORDS`."""
    text = text or ""
    return story_words(f"{title}\n{text}" if title and not text.startswith(title) else text)[:MAX_WORDS]


def _instant(value: Any) -> float:
    """Seconds since the epoch for sorting (naive times taken as UTC); unknown times sort last."""
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value:
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return float("inf")


def _amplified_key(platform: str | None, extras: Mapping[str, Any]) -> str | None:
    """The key of the post a retweet, reblog or repost amplifies, or None."""
    for name in _AMPLIFIED_KEY_FIELDS:
        if isinstance(extras.get(name), str) and extras[name]:
            return extras[name]
    if platform == "x":
        for reference in extras.get("referenced_tweets") or []:
            if isinstance(reference, Mapping) and reference.get("type") == "retweeted" and reference.get("id"):
                return f"x:{reference['id']}"
    return None


def _links(key: str, platform: str | None, extras: Mapping[str, Any]) -> list[str]:
    """The keys or canonical URLs a post links to, in order, without repeats or itself."""
    found: list[str] = []
    if platform == "x":
        for reference in extras.get("referenced_tweets") or []:
            if isinstance(reference, Mapping) and reference.get("type") == "quoted" and reference.get("id"):
                found.append(f"x:{reference['id']}")
        entities = extras.get("entities")
        urls = entities.get("urls") if isinstance(entities, Mapping) else None
        found.extend(_link_key(url) for url in urls or [])
    if platform == "reddit" and not extras.get("is_self"):
        found.append(_link_key(extras.get("url_overridden_by_dest") or extras.get("url")))
    found.extend(_link_key(url) for url in extras.get("links") or [])
    return [link for link in dict.fromkeys(found) if link and link != key]


def _link_key(url: Any) -> str | None:
    """What a linked URL names: an X or Reddit post's key, a page's canonical URL, or None for
    anything that is not an http(s) link to a story (home pages, profiles, malformed URLs)."""
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        return None
    try:
        canonical = canonical_url(url)
    except ValueError:
        return None
    parts = canonical.split("/", 3)
    host, path = parts[2], "/" + (parts[3] if len(parts) > 3 else "")
    path = path.split("?", 1)[0]
    if host in _X_HOSTS:
        status = _X_STATUS_PATH.match(path)
        return f"x:{status.group(1)}" if status else None
    if host == "redd.it" and path.strip("/"):
        return f"reddit:t3_{path.strip('/').split('/')[0].lower()}"
    if host == "reddit.com" or host.endswith(".reddit.com"):
        post = _REDDIT_POST_PATH.match(path)
        return f"reddit:t3_{post.group(1).lower()}" if post else None
    if path.rstrip("/") == "":
        return None
    return canonical
