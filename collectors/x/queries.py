"""X recent-search queries built from the brands: the one builder of X's search syntax.

The search terms of every brand and competitor (aliases, hashtags, handles, cashtags) are OR-ed into
queries of at most 512 characters (the limit of X's Basic and pay-per-use tiers), each followed by
the same filters: `-from:` every owned account, `-is:retweet` unless retweets are wanted, and the
configured languages. A brand with its own boolean query is searched with that query compiled to X
syntax (`query.platform_syntax.to_x_query`), on its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from config.model import BrandConfig
from query.platform_syntax import to_x_query

QUERY_MAX_CHARS = 512


def search_terms(brands: Iterable[BrandConfig]) -> list[str]:
    """The OR-able search terms of the brands, in config order, without duplicates.

    Single-word aliases are keywords; multi-word aliases (or any with punctuation) become "exact
    phrases"; hashtags, handles and cashtags are used as configured.

    Args:
        brands: brands then competitors.

    Returns:
        Terms such as `Brightwave`, `"Skylark Fibre"`, `#brightwave`, `@tidewell`, `$TDW`.
    """
    terms: list[str] = []
    seen: set[str] = set()
    for brand in brands:
        for term in [*(_keyword(alias) for alias in brand.aliases), *brand.hashtags, *brand.handles, *brand.cashtags]:
            term = term.strip()
            if term and term.lower() not in seen and term != '""':
                seen.add(term.lower())
                terms.append(term)
    return terms


def query_filters(brands: Iterable[BrandConfig], *, include_retweets: bool, languages: Sequence[str]) -> str:
    """The filters every query ends with: owned accounts out, retweets out (unless wanted), languages.

    Args:
        brands: brands then competitors; every `owned_handles` entry becomes `-from:handle`.
        include_retweets: False adds `-is:retweet`.
        languages: ISO 639-1 codes; one becomes `lang:xx`, several `(lang:xx OR lang:yy)`.

    Returns:
        The filters, space-separated (empty when there are none).
    """
    parts: list[str] = []
    for handle in dict.fromkeys(handle.strip().lower() for brand in brands for handle in brand.owned_handles):
        parts.append(f"-from:{handle.lstrip('@')}")
    if not include_retweets:
        parts.append("-is:retweet")
    codes = list(dict.fromkeys(code.strip().lower() for code in languages if code.strip()))
    if len(codes) == 1:
        parts.append(f"lang:{codes[0]}")
    elif codes:
        parts.append("(" + " OR ".join(f"lang:{code}" for code in codes) + ")")
    return " ".join(parts)


def build_queries(
    brands: Sequence[BrandConfig],
    *,
    include_retweets: bool,
    languages: Sequence[str],
    max_chars: int = QUERY_MAX_CHARS,
) -> list[str]:
    """The recent-search queries for the brands: OR-ed terms, then the filters, each within `max_chars`.

    Terms are packed in config order into as few queries as fit; every query carries the full
    filters, so splitting never lets an owned account, a retweet or another language in.

    Args:
        brands: brands then competitors.
        include_retweets: whether retweets are searched too.
        languages: languages to keep (none: all).
        max_chars: the API's query length limit (512 on Basic and pay-per-use, 4,096 on Pro).

    Returns:
        The queries, e.g. `(Brightwave OR "Brightwave Broadband" OR #brightwave) -from:brightwave -is:retweet`;
        empty when the brands have no terms.

    Raises:
        ValueError: a single term does not fit in a query next to the filters.
    """
    filters = query_filters(brands, include_retweets=include_retweets, languages=languages)
    queries: list[str] = []
    for brand in brands:
        compiled = to_x_query(brand.query) if brand.query else None
        if compiled:  # a brand's own query is searched on its own; None: nothing on X can match it
            query = _query([compiled], filters)
            if len(query) > max_chars:
                raise ValueError(
                    f"the query of {brand.name} is {len(query)} characters in X syntax with the filters; "
                    f"X takes {max_chars}: shorten it"
                )
            queries.append(query)
    group: list[str] = []
    for term in search_terms([brand for brand in brands if not brand.query]):
        if len(_query([term], filters)) > max_chars:
            raise ValueError(
                f"the search term {term[:60]!r} does not fit in a {max_chars}-character X query next to the "
                f"filters ({len(filters)} characters: owned handles, retweets, languages); shorten it"
            )
        if group and len(_query([*group, term], filters)) > max_chars:
            queries.append(_query(group, filters))
            group = []
        group.append(term)
    if group:
        queries.append(_query(group, filters))
    return queries


def _keyword(alias: str) -> str:
    text = " ".join(alias.replace('"', " ").split())
    if re.fullmatch(r"\w+", text) and text.upper() not in ("OR", "AND", "NOT"):
        return text
    return f'"{text}"'


def _query(terms: Sequence[str], filters: str) -> str:
    return f"({' OR '.join(terms)})" + (f" {filters}" if filters else "")
