"""Near-duplicate texts for stories: words, word shingles, MinHash signatures and LSH band hashes.

Signatures are datasketch's (scheme affine32, `NUM_PERM` permutations, seed `PERMUTATION_SEED`),
computed for a whole batch at once in numpy (see `minhash_signatures`). LSH cuts each signature into
`LSH_BANDS` bands of `LSH_ROWS` values, each hashed to a signed 64-bit band hash (`band_hashes`): two
texts are compared only when they share a band, so the cost does not grow with the index. 20 bands
of 6 make a pair of similarity 0.7 a candidate 92% of the time, 0.8 99.8%.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Sequence
from functools import cache

import numpy as np
from datasketch import MinHash

SHINGLE_WORDS = 3
MAX_WORDS = 500
NUM_PERM = 128
PERMUTATION_SEED = 1
LSH_BANDS = 20
LSH_ROWS = 6

_URL_IN_TEXT = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_WORD = re.compile(r"\w+")
# The 64-bit MurmurHash3 finalizer, a band salt and the shingle's word multipliers: shingle and band
# hashes are stable across processes, machines and versions.
_FMIX64 = (np.uint64(33), np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53))
_BAND_SALT = np.uint64(0x9E3779B97F4A7C15)
_SHINGLE_MULTIPLIERS = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F), np.uint64(0x165667B19E3779F9))
_EMPTY_HASH = np.uint32(0xFFFFFFFF)
_SIGNATURE_CHUNK = 64  # texts per step: their permuted shingle hashes stay in the CPU cache


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
    texts = TextBatch()
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
    batch = TextBatch()
    for words in texts:
        batch.add(words)
    return batch.signatures()


class TextBatch:
    """The words of many texts as one run of CRC-32 word hashes (ints: nothing for the garbage
    collector to walk), turned into MinHash signatures all at once."""

    def __init__(self) -> None:
        self.word_hashes: list[int] = []
        self.lengths: list[int] = []
        self._known: dict[str, int] = {}

    def add(self, words: Sequence[str]) -> int:
        """Add a text's words; returns its row in `signatures()`."""
        known = self._known
        try:
            values = list(map(known.__getitem__, words))
        except KeyError:  # a word not seen before
            for word in words:
                if word not in known:
                    known[word] = zlib.crc32(word.encode())
            values = list(map(known.__getitem__, words))
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


def compared_words(title: str | None, text: str | None) -> list[str]:
    """The words of a mention that near-duplicate detection compares: title and body, at most `MAX_WORDS`.

    Args:
        title: the headline, if any (left out when the body starts with it).
        text: the body.
    """
    text = text or ""
    return story_words(f"{title}\n{text}" if title and not text.startswith(title) else text)[:MAX_WORDS]

