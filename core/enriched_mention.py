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

    @property
    def sentiment_label(self) -> str | None:
        """Its own label in this mention (negative, neutral, positive); None when the mention names one brand
        (its label is the mention's) or was left unscored."""
        ...

    @property
    def sentiment_score(self) -> float | None:
        """Its own score in this mention, -1 to 1; None likewise."""
        ...

    @property
    def sentiment_model(self) -> str | None:
        """What gave it its own label: the mention's model and the per-brand rules' version; None likewise."""
        ...


@dataclass(frozen=True)
class EnrichedMention:
    """A mention that matched a brand or competitor, with its enrichment.

    Attributes:
        mention: the collected mention, every field of it.
        ordinal: its position among the enriched mentions of its unit (when a run stages a key
            twice, the first is loaded).
        brands: the brands and competitors it is about, each with its own sentiment when it names several
            (enrich/brand_sentiment.py).
        is_owned: published by a tracked company itself (an owned handle or domain).
        owned_by: the brand or competitor that owns it.
        lang: the detected language, an ISO 639-1 code or "und".
        lang_confidence: the classifier's probability for `lang` (0 when declared, not detected).
        lang_model: the language model's version.
        reach_estimate: the potential reach.
        reach_low: the estimated actual reach, low end.
        reach_high: the estimated actual reach, high end.
        reach_model: the reach formula's version.
        sentiment_label: negative, neutral or positive; None when no model covers its language (unscored).
        sentiment_score: -1 (most negative) to 1 (most positive); None when unscored.
        sentiment_negative: the share or probability of negative; None when unscored.
        sentiment_neutral: the share or probability of neutral; None when unscored.
        sentiment_positive: the share or probability of positive; None when unscored.
        sentiment_model: the sentiment model's version; None when unscored.
        sentiment_reason: why it has the sentiment it has, when it is not simply the configured backend's:
            scored by the model configured for its language, or left unscored and why.
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
    sentiment_label: str | None
    sentiment_score: float | None
    sentiment_negative: float | None
    sentiment_neutral: float | None
    sentiment_positive: float | None
    sentiment_model: str | None
    sentiment_reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The staged row: the mention's `to_json()` (its fields and `key`), then the enrichment's fields.

        Returns:
            A JSON-ready dict with a value for each field of `row_types()`.
        """
        row = self.mention.to_json()
        for field in dataclasses.fields(self)[1:]:
            row[field.name] = getattr(self, field.name)
        row["brands"] = [
            {"brand": match.brand, "role": match.role, "terms": list(match.terms),
             "sentiment_label": match.sentiment_label, "sentiment_score": match.sentiment_score,
             "sentiment_model": match.sentiment_model}
            for match in self.brands
        ]
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
