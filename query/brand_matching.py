"""Brand and competitor matching on aliases, hashtags, handles and boolean queries (ground layer).

Collectors that filter before staging (Reddit) and enrichment match brands with the same rules.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from query.boolean import Matchable, MatchableRecord, Query, QuerySet, parse_query


class BrandTerms(Protocol):
    """What matching reads of a configured brand (`config.model.BrandConfig`)."""

    @property
    def name(self) -> str: ...
    @property
    def terms(self) -> list[str]: ...
    @property
    def query(self) -> str | None: ...


Role = Literal["brand", "competitor"]


@dataclass(frozen=True)
class BrandMatch:
    """One brand a mention is about.

    Attributes:
        brand: the configured brand name.
        role: brand (ours) or competitor.
        terms: the configured terms that matched, in the order first seen.
    """

    brand: str
    role: Role
    terms: tuple[str, ...]


class BrandMatcher:
    """Finds every configured brand and competitor in a mention: case-insensitive, on word boundaries.

    A brand with a `query` matches when its boolean query does (see docs/query-language.md); the
    others match on their terms. A term matches where it is not glued to letters, digits or
    underscores on either side, so "Brightwave" matches "#Brightwave" and "Brightwave's" but not
    "Brightwaves". Spaces inside a multi-word alias match any run of white space.

    Args:
        brands: our brands.
        competitors: the competitors to track beside them.
    """

    def __init__(self, brands: Sequence[BrandTerms], competitors: Sequence[BrandTerms]):
        self._owners: defaultdict[str, list[tuple[BrandTerms, Role, str]]] = defaultdict(list)
        self._order = {brand.name: position for position, brand in enumerate([*brands, *competitors])}
        self._queries: dict[str, tuple[Role, Query]] = {}
        groups: tuple[tuple[Role, Sequence[BrandTerms]], ...] = (("brand", brands), ("competitor", competitors))
        self._roles: dict[str, Role] = {brand.name: role for role, group in groups for brand in group}
        for role, group in groups:
            for brand in group:
                if brand.query:
                    self._queries[brand.name] = (role, parse_query(brand.query))
                    continue
                for term in brand.terms:
                    self._owners[fold_term(term)].append((brand, role, term))
        self.needs_language = any("lang" in query.fields for _, query in self._queries.values())
        # The queries together: the text tokenised once, only the queries whose terms it has evaluated.
        self._query_set = QuerySet({name: query for name, (_, query) in self._queries.items()})
        # Longest first, so "Tidewell Telecom" is preferred to "Tidewell" where both start.
        alternatives = sorted(self._owners, key=len, reverse=True)
        pattern = "|".join(r"\s+".join(map(re.escape, term.split())) for term in alternatives)
        self._pattern = re.compile(rf"(?<!\w)(?:{pattern})(?!\w)", re.IGNORECASE) if alternatives else None

    def match(
        self, text: str, mention: Matchable | None = None, lang: str | None = None, about: str | None = None
    ) -> list[BrandMatch]:
        """The brands a mention names, in configuration order.

        Args:
            text: the mention's title and body.
            mention: the mention itself, for queries that filter on its site, author or platform
                (without it those filters cannot hold).
            lang: its detected language, for queries that filter on `lang:`.
            about: the configured brand or competitor the mention is about by where it was found
                (`Mention.about_brand`: the reviews of an app); it matches whatever the text says, with the
                terms the text names (none when it names none). A name not configured is ignored.
        """
        found: dict[str, tuple[Role, list[str]]] = {}
        for hit in self._pattern.finditer(text) if self._pattern else ():
            for brand, role, term in self._owners[fold_term(hit.group(0))]:
                _, terms = found.setdefault(brand.name, (role, []))
                if term not in terms:
                    terms.append(term)
        if self._queries:
            for name in self._query_set.matching(mention or MatchableRecord(text), lang):
                role, query = self._queries[name]
                found[name] = (role, list(query.matched_terms(text)))
        if about in self._roles and about not in found:
            found[about] = (self._roles[about], [])
        ordered = sorted(found.items(), key=lambda item: self._order[item[0]])
        return [BrandMatch(name, role, tuple(terms)) for name, (role, terms) in ordered]



def fold_term(term: str) -> str:
    """A term as matching compares it: case-folded, white space collapsed."""
    return " ".join(term.casefold().split())
