"""Reddit search queries built from a brand: the one builder of Reddit's search syntax.

A brand's aliases (quoted when multi-word), hashtags without '#' and handles without '@' are OR-ed
into queries of at most 512 characters; a brand with its own boolean query is searched with that
query compiled to Reddit syntax (`query.platform_syntax.to_reddit_query`).
"""

from __future__ import annotations

from config.model import BrandConfig
from core.errors import TerminalError
from query.platform_syntax import QueryCompileError, to_reddit_query

# Reddit rejects longer search queries.
MAX_QUERY_CHARS = 512

def search_queries(brand: BrandConfig) -> list[str]:
    """Reddit search queries for a brand: its aliases (quoted when multi-word), hashtags and handles, OR-ed.

    Hashtags lose their '#' and handles their '@'; terms repeated in another case are asked once.
    Terms that do not fit one query (512 characters) go into another. A brand with its own query
    is searched with that query in Reddit syntax (none when nothing on Reddit can match it).
    """
    if brand.query:
        try:
            compiled = to_reddit_query(brand.query)
        except QueryCompileError as error:
            raise TerminalError(f"the query of {brand.name} cannot be searched on Reddit: {error}") from None
        if compiled and len(compiled) > MAX_QUERY_CHARS:
            raise TerminalError(
                f"the query of {brand.name} is {len(compiled)} characters in Reddit syntax; Reddit takes "
                f"{MAX_QUERY_CHARS}: shorten it"
            )
        return [compiled] if compiled else []
    terms: list[str] = []
    seen: set[str] = set()
    for raw in [*brand.aliases, *(tag.lstrip("#") for tag in brand.hashtags), *(h.lstrip("@") for h in brand.handles)]:
        term = " ".join(raw.replace('"', " ").split())
        if term and term.casefold() not in seen:
            seen.add(term.casefold())
            terms.append(f'"{term}"' if " " in term else term)
    queries: list[str] = []
    for term in terms:
        if queries and len(queries[-1]) + len(" OR ") + len(term) <= MAX_QUERY_CHARS:
            queries[-1] += f" OR {term}"
        else:
            queries.append(term[:MAX_QUERY_CHARS])
    return queries
