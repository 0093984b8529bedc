"""Themes: what a set of mentions talks about, as clusters of mentions about the same thing.

themes-v1, for the mentions of one brand in one week (`warehouse.themes` calls it per brand and week):

1. **Features.** Each text (its title and body, links and @handles removed) becomes a TF-IDF vector of
   its words (hyphenated ones whole: "wi-fi") and word pairs (scikit-learn's `CountVectorizer` and
   `TfidfTransformer`: 1-2 grams, sublinear tf, English stop words plus the brand's own names; terms in
   at least `MIN_TERM_MENTIONS` mentions and `MIN_TERM_SHARE` of them, since a word a handful of 200,000
   posts use says little about what they share, and in at most `MAX_TERM_SHARE` of them), reduced by
   latent semantic analysis (`TruncatedSVD`: one dimension per `MENTIONS_PER_DIMENSION` mentions, at most `DIMENSIONS`, learnt
   from at most `FIT_SAMPLE` mentions evenly spread through the input). A mention whose vector keeps
   less than `MIN_FOCUS` of its length in those dimensions talks mostly in words few others use
   (chatter that happens to name the brand) and joins no theme; the others are scaled to unit length.
2. **Clusters.** `MiniBatchKMeans` (learnt from at most `FIT_SAMPLE` of them) splits the mentions into
   more clusters than there are likely themes (about √(n/2), `MIN_CLUSTERS` to `MAX_CLUSTERS`);
   agglomerative clustering of those clusters' centres (cosine distance, average linkage) merges the
   ones closer than `MERGE_DISTANCE`, so a theme is not cut in two because k-means was asked for many
   clusters.
3. **Noise.** Besides the unfocused mentions, a mention less similar than `MIN_SIMILARITY` (cosine) to
   its theme's centre is left out, and so is every mention of a theme with fewer than `min_mentions`
   mentions: many mentions of a brand are chatter that belongs to no theme, and a theme should be
   something several people said.
4. **Labels.** A theme's phrases are its most distinctive terms by class-based TF-IDF: the term counts of
   each theme (and of the left-out mentions, as one more class) weighted by `TfidfTransformer`, so a
   phrase that every theme uses ranks low. A phrase pair stands for its words: it takes the place of a
   word of it ranked higher, and a word of a higher-ranked pair is not listed again. The label is the
   first `LABEL_PHRASES` phrases.

Everything is seeded (`random_state`), the mentions are taken in the order given, and scikit-learn's and
BLAS's thread pools run exactly `THREADS` threads (sums taken in another order can move a borderline
mention), so the same mentions in the same order give the same themes, members and labels on any machine. Themes are numbered by size, largest first.
No clustering arithmetic is written here: vectors, clusters and weights are scikit-learn's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.cluster import AgglomerativeClustering, MiniBatchKMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer, TfidfTransformer
from sklearn.preprocessing import normalize
from threadpoolctl import threadpool_limits

THEMES_MODEL = "themes-v1"
DIMENSIONS = 100
MENTIONS_PER_DIMENSION = 10
MIN_CLUSTERS = 4
MAX_CLUSTERS = 120
MERGE_DISTANCE = 0.75
MIN_SIMILARITY = 0.35
MIN_FOCUS = 0.5
MIN_THEME_MENTIONS = 5
MIN_TERM_MENTIONS = 2
MIN_TERM_SHARE = 0.0001
MAX_TERM_SHARE = 0.6
PHRASES = 12
LABEL_PHRASES = 3
RANDOM_STATE = 0
THREADS = 2
FIT_SAMPLE = 25_000
MATCH_SIMILARITY = 0.5

_LINK_OR_HANDLE = re.compile(r"https?://\S+|www\.\S+|@\w+", re.IGNORECASE)
_TOKEN = r"(?u)\b[^\W\d_][\w'-]*[^\W_]\b"
_WORD = re.compile(_TOKEN)


@dataclass(frozen=True)
class Theme:
    """One theme of a set of texts.

    Attributes:
        members: positions of its texts in the input, most central first.
        similarities: each member's cosine similarity to the theme's centre, in `members` order.
        phrases: its most distinctive words and word pairs, most distinctive first.
        weights: each phrase's class-based TF-IDF weight (the theme's phrase vector has unit length).
    """

    members: tuple[int, ...]
    similarities: tuple[float, ...]
    phrases: tuple[str, ...]
    weights: tuple[float, ...]

    @property
    def label(self) -> str:
        """Its first `LABEL_PHRASES` phrases, e.g. "outage leeds · broadband down · since morning"."""
        return " · ".join(self.phrases[:LABEL_PHRASES])


def find_themes(
    texts: Sequence[str],
    *,
    brand_words: Iterable[str] = (),
    min_mentions: int = MIN_THEME_MENTIONS,
    random_state: int = RANDOM_STATE,
) -> list[Theme]:
    """Group texts about the same thing into themes (themes-v1, described in the module docstring).

    Args:
        texts: the mentions' texts (title and body), in a stable order (e.g. by mention key).
        brand_words: names of the brand (and of others named beside it), left out of the features:
            every mention names its brand, so its name says nothing about what a mention is about.
        min_mentions: the fewest mentions a theme may have.
        random_state: the seed of the SVD and k-means.

    Returns:
        The themes, most mentions first (ties: the one whose most central member comes first). Texts in
        no theme are in none of them.
    """
    with threadpool_limits(limits=THREADS):
        return _find_themes(texts, list(brand_words), min_mentions, random_state)


def _find_themes(texts: Sequence[str], brand_words: list[str], min_mentions: int, random_state: int) -> list[Theme]:
    if len(texts) < max(min_mentions, 2):
        return []
    cleaned = [_LINK_OR_HANDLE.sub(" ", text) for text in texts]
    stop_words = sorted(ENGLISH_STOP_WORDS | {word.lower() for name in brand_words for word in _WORD.findall(name)})
    counter = CountVectorizer(
        ngram_range=(1, 2), stop_words=stop_words, token_pattern=_TOKEN, strip_accents="unicode",
        min_df=max(MIN_TERM_MENTIONS, math.ceil(len(texts) * MIN_TERM_SHARE)), max_df=MAX_TERM_SHARE, dtype=np.float32,
    )
    try:
        counts = counter.fit_transform(cleaned)
    except ValueError:  # no term is in enough mentions (or every one is in too many)
        return []
    terms = counter.get_feature_names_out()
    if len(terms) < 3:
        return []
    tfidf = TfidfTransformer(sublinear_tf=True).fit_transform(counts)
    dimensions = max(2, min(DIMENSIONS, len(terms) - 1, len(texts) // MENTIONS_PER_DIMENSION))
    svd = TruncatedSVD(n_components=dimensions, random_state=random_state).fit(tfidf[_sample(tfidf.shape[0])])
    projected = svd.transform(tfidf)
    focused = np.flatnonzero(np.linalg.norm(projected, axis=1) >= MIN_FOCUS)
    if len(focused) < max(min_mentions, 2):
        return []
    vectors = normalize(projected)
    assignment = np.full(len(texts), -1, dtype=np.int64)
    assignment[focused] = _clusters(vectors[focused], random_state)
    centres = normalize(_sums_by_cluster(vectors[focused], assignment[focused]))
    similarity = np.where(assignment >= 0, np.einsum("ij,ij->i", vectors, centres[np.maximum(assignment, 0)]), 0.0)
    assignment = np.where(similarity >= MIN_SIMILARITY, assignment, -1)
    sizes = np.bincount(assignment[assignment >= 0], minlength=len(centres))
    assignment = np.where((assignment >= 0) & (sizes[np.maximum(assignment, 0)] >= min_mentions), assignment, -1)
    kept = [cluster for cluster in range(len(centres)) if sizes[cluster] >= min_mentions]
    if not kept:
        return []
    phrase_weights = _class_tfidf(counts, assignment, kept)
    themes = []
    for row, cluster in enumerate(kept):
        positions = np.flatnonzero(assignment == cluster)
        order = positions[np.lexsort((positions, -similarity[positions]))]
        phrases, weights = _phrases(phrase_weights[row], terms)
        themes.append(Theme(
            members=tuple(int(p) for p in order),
            similarities=tuple(round(float(similarity[p]), 6) for p in order),
            phrases=phrases,
            weights=weights,
        ))
    return sorted(themes, key=lambda theme: (-len(theme.members), theme.members[0]))


def phrase_similarity(phrases: Sequence[str], weights: Sequence[float],
                      other_phrases: Sequence[str], other_weights: Sequence[float]) -> float:
    """How alike two themes are (0 to 1): the cosine similarity of their words, each word weighing the
    weights of the phrases it is in. Words, not phrases: one week's "fibre rollout" and the next week's
    "gigabit fibre" are the same theme; they share the word."""
    mine, theirs = _word_weights(phrases, weights), _word_weights(other_phrases, other_weights)
    dot = sum(weight * theirs.get(word, 0.0) for word, weight in mine.items())
    norms = math.sqrt(sum(w * w for w in mine.values())) * math.sqrt(sum(w * w for w in theirs.values()))
    return dot / norms if norms else 0.0


def _word_weights(phrases: Sequence[str], weights: Sequence[float]) -> dict[str, float]:
    found: dict[str, float] = {}
    for phrase, weight in zip(phrases, weights, strict=True):
        for word in phrase.split():
            found[word] = found.get(word, 0.0) + weight
    return found


def match_themes(
    themes: Sequence[tuple[Sequence[str], Sequence[float]]],
    earlier: Sequence[tuple[Sequence[str], Sequence[float]]],
) -> list[int | None]:
    """Which earlier theme (e.g. of the week before) each theme continues: one to one, best pairs first.

    Two themes are the same when their phrases (`Theme.phrases`, `Theme.weights`) have a
    `phrase_similarity` of at least `MATCH_SIMILARITY`; pairs are taken most similar first (ties: lower
    positions), and an earlier theme continues at most one theme.

    Args:
        themes: (phrases, weights) of each theme.
        earlier: (phrases, weights) of each earlier theme.

    Returns:
        For each theme, the position of the earlier theme it continues, or None (a new theme).
    """
    pairs = sorted(
        (-similarity, mine, theirs)
        for mine, (phrases, weights) in enumerate(themes)
        for theirs, (earlier_phrases, earlier_weights) in enumerate(earlier)
        if (similarity := phrase_similarity(phrases, weights, earlier_phrases, earlier_weights)) >= MATCH_SIMILARITY
    )
    matched: list[int | None] = [None] * len(themes)
    taken: set[int] = set()
    for _, mine, theirs in pairs:
        if matched[mine] is None and theirs not in taken:
            matched[mine] = theirs
            taken.add(theirs)
    return matched


def _clusters(vectors: np.ndarray, random_state: int) -> np.ndarray:
    """Each vector's cluster: k-means into many clusters, then their centres merged when close."""
    count = len(vectors)
    wanted = min(count, max(MIN_CLUSTERS, min(MAX_CLUSTERS, round(math.sqrt(count / 2)))))
    kmeans = MiniBatchKMeans(
        n_clusters=wanted, random_state=random_state, n_init=1, batch_size=4096, max_no_improvement=20,
    )
    fine = kmeans.fit(vectors[_sample(count)]).predict(vectors)
    used = np.unique(fine)
    centres = normalize(kmeans.cluster_centers_[used])
    if len(used) < 2:
        return np.zeros(count, dtype=np.int64)
    merged = AgglomerativeClustering(
        n_clusters=None, distance_threshold=MERGE_DISTANCE, metric="cosine", linkage="average",
    ).fit_predict(centres)
    coarse = np.full(fine.max() + 1, -1, dtype=np.int64)
    coarse[used] = merged
    return coarse[fine]


def _sample(count: int) -> np.ndarray:
    """Positions of at most `FIT_SAMPLE` of `count` rows, evenly spaced: what the SVD and k-means learn from."""
    if count <= FIT_SAMPLE:
        return np.arange(count)
    return np.linspace(0, count - 1, FIT_SAMPLE).round().astype(np.int64)


def _sums_by_cluster(vectors: np.ndarray, assignment: np.ndarray) -> np.ndarray:
    """The sum of each cluster's vectors, one row per cluster number."""
    membership = sparse.csr_matrix(
        (np.ones(len(assignment), dtype=vectors.dtype), (assignment, np.arange(len(assignment)))),
        shape=(assignment.max() + 1, len(assignment)),
    )
    return np.asarray(membership @ vectors)


def _class_tfidf(counts: sparse.csr_matrix, assignment: np.ndarray, kept: list[int]) -> sparse.csr_matrix:
    """Class-based TF-IDF: one row per kept cluster (in `kept` order), over the term counts of its
    mentions, with the mentions of no kept cluster as one more class."""
    row_of = np.full(assignment.max() + 2, len(kept), dtype=np.int64)  # the last row: everything else
    row_of[np.asarray(kept)] = np.arange(len(kept))
    rows = row_of[np.where(assignment >= 0, assignment, len(row_of) - 1)]
    membership = sparse.csr_matrix(
        (np.ones(len(rows), dtype=counts.dtype), (rows, np.arange(len(rows)))), shape=(len(kept) + 1, len(rows)),
    )
    weights = TfidfTransformer().fit_transform(membership @ counts)
    return sparse.csr_matrix(weights[: len(kept)])


def _phrases(row: sparse.csr_matrix, terms: np.ndarray) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """A theme's top phrases from its row of class-based TF-IDF, most distinctive first (ties: alphabetical).
    A phrase pair stands for its words: it takes the place of a word of it ranked above it ("new · router ·
    new router" reads "new router"), and a word of a pair ranked above it is left out."""
    order = sorted(zip(row.indices, row.data, strict=True), key=lambda item: (-item[1], terms[item[0]]))
    chosen: list[tuple[str, float]] = []
    covered: set[str] = set()
    for index, weight in order:
        term = str(terms[index])
        words = term.split()
        if len(words) == 1 and term in covered:
            continue
        replaced = [position for position, (phrase, _) in enumerate(chosen) if phrase in words]
        entry = (term, round(float(weight), 6))
        if replaced:
            chosen[replaced[0]] = entry
            chosen = [pair for position, pair in enumerate(chosen) if position not in replaced[1:]]
        else:
            chosen.append(entry)
        covered.update(words)
        if len(chosen) == PHRASES:
            break
    phrases = [phrase for phrase, _ in chosen]
    weights = [weight for _, weight in chosen]
    norm = math.sqrt(sum(w * w for w in weights)) or 1.0
    return tuple(phrases), tuple(round(w / norm, 6) for w in weights)
