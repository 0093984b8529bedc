"""The enriched mention: a mention that matched a brand, with what enrichment added to it.

It is what the enrich stage hands the load, staged as one JSON row per mention (`to_json`). The
warehouse's staged columns are derived from `row_types`, so a field added here (or to `Mention`) is
loaded or refused, never silently dropped.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Protocol, get_type_hints

from core.mention import Mention


class MatchedBrand(Protocol):
    """One brand or competitor a mention is about (`query.brand_matching.BrandMatch`)."""

    @property
    def brand(self) -> str:
        """The configured brand name."""
        ...

    @property
    def role(self) -> str:
        """brand (ours) or competitor."""
        ...

    @property
    def terms(self) -> tuple[str, ...]:
        """The configured terms that matched, in the order first seen."""
        ...


@dataclass(frozen=True)
class EnrichedMention:
    """A mention that matched a brand or competitor, with its enrichment.

    Attributes:
        mention: the collected mention, every field of it.
        ordinal: its position among the enriched mentions of its unit (when a run stages a key
            twice, the first is loaded).
        brands: the brands and competitors it is about.
        is_owned: published by a tracked company itself (an owned handle or domain).
        owned_by: the brand or competitor that owns it.
        lang: the detected language, an ISO 639-1 code or "und".
        lang_confidence: the classifier's probability for `lang` (0 when declared, not detected).
        lang_model: the language model's version.
        reach_estimate: the potential reach.
        reach_low: the estimated actual reach, low end.
        reach_high: the estimated actual reach, high end.
        reach_model: the reach formula's version.
        sentiment_label: negative, neutral or positive.
        sentiment_score: -1 (most negative) to 1 (most positive).
        sentiment_negative: the share or probability of negative.
        sentiment_neutral: the share or probability of neutral.
        sentiment_positive: the share or probability of positive.
        sentiment_model: the sentiment model's version.
    """

    mention: Mention
    ordinal: int
    brands: tuple[MatchedBrand, ...]
    is_owned: bool
    owned_by: str | None
    lang: str
    lang_confidence: float
    lang_model: str
    reach_estimate: int
    reach_low: int
    reach_high: int
    reach_model: str
    sentiment_label: str
    sentiment_score: float
    sentiment_negative: float
    sentiment_neutral: float
    sentiment_positive: float
    sentiment_model: str

    def to_json(self) -> dict[str, Any]:
        """The staged row: the mention's `to_json()` (its fields and `key`), then the enrichment's fields.

        Returns:
            A JSON-ready dict with a value for each field of `row_types()`.
        """
        row = self.mention.to_json()
        for field in dataclasses.fields(self)[1:]:
            row[field.name] = getattr(self, field.name)
        row["brands"] = [{"brand": match.brand, "role": match.role, "terms": list(match.terms)} for match in self.brands]
        return row

    @classmethod
    def row_types(cls) -> dict[str, object]:
        """Each field of the staged row (`to_json()`) and its Python type.

        Returns:
            `key` (str), every field of `Mention`, then every field of the enrichment.
        """
        enrichment = get_type_hints(cls)
        del enrichment["mention"]
        return {"key": str, **get_type_hints(Mention), **enrichment}
