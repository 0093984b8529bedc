"""Stories in the warehouse: the `StoryStore` on the `mentions.story_*` columns and the `story_bands`
table, and the stories step that brings every mention's story up to date after a load."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import duckdb
import numpy as np

from core.transactions import transaction
from enrich.stories.index import STORY_MODEL, StoryIndex
from enrich.stories.minhash import compared_words, minhash_signatures
from enrich.stories.store import Amplification, IndexedText, StoryAssignment


class DuckDBStoryStore:
    """A `StoryStore` in the warehouse, on an open DuckDB connection.

    Assignments live in the `story_id`, `story_reason`, `story_similarity` and `story_via` columns of
    `mentions` (written by `assign_warehouse_stories`, not by `add`); the LSH index lives in
    `story_bands`, one row per band a mention is filed under. Signatures are not stored: those of
    the few mentions that share a band with a batch are computed again from their title and text.

    Args:
        connection: a DuckDB connection to a warehouse with the story columns and `story_bands`.
    """

    def __init__(self, connection: duckdb.DuckDBPyConnection):
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
        signatures = minhash_signatures(compared_words(title, text) for _, _, title, text, _ in rows)
        return [
            IndexedText(key, story_id, signature, np.array(bands, dtype=np.int64))
            for (key, story_id, _, _, bands), signature in zip(rows, signatures, strict=True)
        ]

    def add(
        self,
        assignments: Mapping[str, StoryAssignment],
        indexed: Sequence[IndexedText],
        amplifications: Sequence[tuple[str, int]],
    ) -> None:
        # Assignments are written by assign_warehouse_stories; amplification is counted from them in SQL.
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
        [(amplifiers, reach)] = self.connection.execute(
            """
            SELECT count(*), coalesce(sum(author_followers), 0) FROM mentions
            WHERE story_reason = 'retweet' AND story_via = ? AND NOT is_deleted
            """,
            [key],
        ).fetchall()
        return Amplification(int(amplifiers), int(reach))

    def refresh_amplification(self) -> int:
        """Make `mentions.amplified_by` and `amplified_reach` count each post's retweets that are in
        `mentions` and not deleted, rewriting only the rows whose counts changed.

        Returns:
            How many rows changed.
        """
        [(changed,)] = self.connection.execute(
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
        ).fetchall()
        return int(changed)


def assign_warehouse_stories(connection: duckdb.DuckDBPyConnection, chunk: int = 50_000) -> int:
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
    store = DuckDBStoryStore(connection)
    index = StoryIndex(store)
    assigned_total = 0
    while True:
        with transaction(connection):
            rows = connection.execute(
                """
                SELECT mention_key, title, text, author_followers, published_at, amplifies, shared_links
                FROM mentions WHERE story_id IS NULL ORDER BY published_at NULLS LAST, mention_key LIMIT ?
                """,
                [chunk],
            ).fetchall()
            assigned = index.assign(_StoredMention(*row) for row in rows)
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
                store.refresh_amplification()
        if not assigned:
            return assigned_total
        assigned_total += len(assigned)


@dataclass(frozen=True, slots=True)
class _StoredMention:
    """A mention as story assignment reads it back from `mentions` (a `StorySubject`)."""

    key: str
    title: str | None
    text: str
    author_followers: int | None
    published_at: datetime | None
    amplifies: str | None
    shared_links: list[str]
