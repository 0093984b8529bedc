"""Brand and competitor matching on aliases, hashtags and handles."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from collectors.mention import Mention
from config.model import BrandConfig
from enrich.query import Query, parse_query

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

    def __init__(self, brands: list[BrandConfig], competitors: list[BrandConfig]):
        self._owners: defaultdict[str, list[tuple[BrandConfig, Role, str]]] = defaultdict(list)
        self._order = {brand.name: position for position, brand in enumerate([*brands, *competitors])}
        self._queries: dict[str, tuple[Role, Query]] = {}
        for role, group in (("brand", brands), ("competitor", competitors)):
            for brand in group:
                if brand.query:
                    self._queries[brand.name] = (role, parse_query(brand.query))
                    continue
                for term in brand.terms:
                    self._owners[_fold(term)].append((brand, role, term))
        self.needs_language = any("lang" in query.fields for _, query in self._queries.values())
        # Longest first, so "Tidewell Telecom" is preferred to "Tidewell" where both start.
        alternatives = sorted(self._owners, key=len, reverse=True)
        pattern = "|".join(r"\s+".join(map(re.escape, term.split())) for term in alternatives)
        self._pattern = re.compile(rf"(?<!\w)(?:{pattern})(?!\w)", re.IGNORECASE) if alternatives else None

    def match(self, text: str, mention: Mention | None = None, lang: str | None = None) -> list[BrandMatch]:
        """The brands a mention names, in configuration order.

        Args:
            text: the mention's title and body.
            mention: the mention itself, for queries that filter on its site, author or platform
                (without it those filters cannot hold).
            lang: its detected language, for queries that filter on `lang:`.
        """
        found: dict[str, tuple[Role, list[str]]] = {}
        for hit in self._pattern.finditer(text) if self._pattern else ():
            for brand, role, term in self._owners[_fold(hit.group(0))]:
                _, terms = found.setdefault(brand.name, (role, []))
                if term not in terms:
                    terms.append(term)
        if self._queries:
            subject = mention or Mention(platform="", source="", native_id=None, url=None, text=text)
            for name, (role, query) in self._queries.items():
                if query.matches(subject, lang):
                    found[name] = (role, list(query.matched_terms(text)))
        ordered = sorted(found.items(), key=lambda item: self._order[item[0]])
        return [BrandMatch(name, role, tuple(terms)) for name, (role, terms) in ordered]


class OwnedContent:
    """Recognises content a tracked company published itself: its handles and its domains.

    Args:
        brands: every brand and competitor; content owned by any of them is not earned media.
    """

    def __init__(self, brands: list[BrandConfig]):
        self._handles = {_fold(handle.lstrip("@")): brand.name for brand in brands for handle in brand.owned_handles}
        self._domains = {domain.lower().lstrip("."): brand.name for brand in brands for domain in brand.owned_domains}

    def owner(self, author_handle: str | None, url: str | None) -> str | None:
        """The brand that owns content with this author and URL, or None for earned content."""
        if author_handle:
            owner = self._handles.get(_fold(author_handle.lstrip("@")))
            if owner:
                return owner
        host = (urlsplit(url).hostname or "") if url else ""
        while host:
            if host in self._domains:
                return self._domains[host]
            host = host.partition(".")[2]
        return None


def _fold(term: str) -> str:
    return " ".join(term.casefold().split())
