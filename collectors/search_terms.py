"""The searches the keyless sources run, built from the brands' terms: one builder per platform syntax.

- `separate_terms`: one search per term, for search APIs without OR (Hacker News, Bluesky).
- `hashtag_names`: the hashtags to follow as timelines (Mastodon).
- `or_query`: one search per brand, its terms joined with OR (Google News).
- `pipe_query`: one search per brand, its terms joined with `|` (YouTube).

X and Reddit searches are compiled from the boolean query language (`query.platform_syntax`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from config.model import BrandConfig

NO_SEARCH_TERMS = "no search terms: give the brands aliases or hashtags"


def separate_terms(brands: Iterable[BrandConfig], *, hashtags_as_words: bool) -> list[str]:
    """One search per term: aliases (multi-word ones quoted) and hashtags.

    An alias that contains another of its brand's terms is left out: the search for "Brightwave"
    already finds "Brightwave Broadband".

    Args:
        brands: brands then competitors.
        hashtags_as_words: search "#brightwave" as the word "brightwave" (Hacker News has no
            hashtags); else keep the "#" (Bluesky).

    Returns:
        Distinct terms (case-insensitively), in brand order.
    """
    terms: list[str] = []
    for brand in brands:
        candidates = [*brand.aliases, *(tag.lstrip("#") if hashtags_as_words else tag for tag in brand.hashtags)]
        for term in candidates:
            if any(other.lower() != term.lower() and _contains_words(term, other) for other in candidates):
                continue
            quoted = _quoted(term)
            if quoted.lower() not in (known.lower() for known in terms):
                terms.append(quoted)
    return terms


def hashtag_names(brands: Iterable[BrandConfig], chosen: Sequence[str] = ()) -> list[str]:
    """The hashtags to follow, without "#", lowercased, each once.

    Args:
        brands: brands then competitors.
        chosen: the source's own hashtags; when given, they replace the brands'.

    Returns:
        Tag names in order, e.g. ["brightwave", "brightwavedown"].
    """
    tags = chosen or [tag for brand in brands for tag in brand.hashtags]
    return list(dict.fromkeys(tag.lstrip("#").lower() for tag in tags if tag.lstrip("#")))


def or_query(brand: BrandConfig) -> str:
    """A brand's one search: its aliases (multi-word ones quoted) and hashtags, joined with OR.

    Returns:
        E.g. 'Brightwave OR "Brightwave Broadband" OR #brightwave'; empty when the brand has no terms.
    """
    return " OR ".join(_brand_search_terms(brand))


def pipe_query(brand: BrandConfig) -> str:
    """A brand's one search where `|` means OR (YouTube's `q`): its aliases (multi-word ones quoted) and hashtags.

    Returns:
        E.g. 'Brightwave|"Brightwave Broadband"|#brightwave'; empty when the brand has no terms.
    """
    return "|".join(_brand_search_terms(brand))


def _brand_search_terms(brand: BrandConfig) -> list[str]:
    """A brand's aliases (multi-word ones quoted) and hashtags, each once, in order."""
    terms = [_quoted(alias) for alias in brand.aliases] + list(brand.hashtags)
    return list(dict.fromkeys(term for term in terms if term.strip('"')))


def _quoted(term: str) -> str:
    """The term as a search word, or as a "phrase" when it has several words."""
    return f'"{term.strip()}"' if " " in term.strip() else term.strip()


def _contains_words(term: str, other: str) -> bool:
    """Whether `other`'s words appear, in order and together, among `term`'s (case-insensitively)."""
    words, part = term.lower().split(), other.lower().split()
    starts = range(len(words) - len(part) + 1)
    return 0 < len(part) < len(words) and any(words[i : i + len(part)] == part for i in starts)
