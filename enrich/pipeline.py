"""Enrich a staged unit: keep mentions that match a brand, add ownership, language, sentiment, reach.

Sentiment is scored in batches, each mention by the model that covers its language (the configured
backend, else `sentiment.languages`' model for it; none: left unscored with the reason), and each brand
of a mention that names several gets its own label from the same model (enrich/brand_sentiment.py).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, count, islice

from config.model import Config
from core.enriched_mention import EnrichedMention
from core.mention import Mention
from core.staging import StagingArea, read_json, read_jsonl
from enrich.brand_sentiment import BrandSentimentScorer, ScoredBrandMatch
from enrich.language import (
    LANGUAGE_MODEL,
    LanguageDetector,
    LanguageGuess,
    SentimentRoute,
    sentiment_languages,
    sentiment_route,
)
from enrich.ownership import OwnedContent
from enrich.reach import REACH_MODEL, Reach, reach_estimate
from enrich.sentiment import (
    SentimentBackend,
    SentimentModelUnavailable,
    SentimentScore,
    sentiment_backend,
)
from query.brand_matching import BrandMatch, BrandMatcher

logger = logging.getLogger(__name__)

_SENTIMENT_BATCH = 256


class Enricher:
    """Turns collected mentions into enriched mentions (`core.enriched_mention.EnrichedMention`).

    Args:
        config: brands, competitors, sources, reach defaults and sentiment settings.
        sentiment: the sentiment backend (when not given, the one `config.sentiment` describes).
        language_sentiment: backends already built for the models of `sentiment.languages`, by model name
            (the others are built when a mention first needs them).
    """

    def __init__(
        self,
        config: Config,
        sentiment: SentimentBackend | None = None,
        language_sentiment: Mapping[str, SentimentBackend] | None = None,
    ):
        self.config = config
        self.matcher = BrandMatcher(config.brands, config.competitors)
        self.owned = OwnedContent(config.all_brands)
        self.language = LanguageDetector()
        settings = config.sentiment
        self.sentiment = sentiment or sentiment_backend(
            settings.backend, settings.model, settings.device, settings.batch_size, settings.precision
        )
        self.sentiment_languages = sentiment_languages(self.sentiment.model, getattr(self.sentiment, "languages", None))
        """The languages the backend covers; mentions in others go to `sentiment.languages` or stay unscored."""
        self._backends: dict[str, SentimentBackend | SentimentModelUnavailable] = {
            "": self.sentiment, **(language_sentiment or {})
        }
        self._brand_scorers: dict[str, BrandSentimentScorer] = {}
        self.matched: Counter[str] = Counter()
        self.dropped_unmatched: Counter[str] = Counter()
        self.unscored: defaultdict[str, Counter[str]] = defaultdict(Counter)
        """Mentions left unscored, per source and language (a language no configured model covers)."""

    def enrich(self, mentions: Iterable[Mention]) -> Iterator[EnrichedMention]:
        """The enriched mentions that match a brand or competitor; the rest are counted per source and dropped.

        Args:
            mentions: one unit's collected mentions.

        Yields:
            Each matching mention with its enrichment, `ordinal` counting from 0.
        """
        matching = self._matching(mentions)
        ordinals = count()
        while batch := list(islice(matching, _SENTIMENT_BATCH)):
            sentiments = self._sentiment(
                [(_readable_text(matched.mention), matched.brands, matched.language.lang) for matched in batch]
            )
            for matched, (score, brands, reason) in zip(batch, sentiments, strict=True):
                if score is None:
                    self.unscored[matched.mention.source][matched.language.lang] += 1
                yield EnrichedMention(
                    mention=matched.mention,
                    ordinal=next(ordinals),
                    brands=brands,
                    is_owned=matched.owner is not None,
                    owned_by=matched.owner,
                    lang=matched.language.lang,
                    lang_confidence=matched.language.confidence,
                    lang_model=LANGUAGE_MODEL,
                    reach_estimate=matched.reach.potential,
                    reach_low=matched.reach.actual_low,
                    reach_high=matched.reach.actual_high,
                    reach_model=REACH_MODEL,
                    sentiment_label=score.label if score else None,
                    sentiment_score=score.score if score else None,
                    sentiment_negative=score.probabilities["negative"] if score else None,
                    sentiment_neutral=score.probabilities["neutral"] if score else None,
                    sentiment_positive=score.probabilities["positive"] if score else None,
                    sentiment_model=score.model if score else None,
                    sentiment_reason=reason,
                )

    def score_texts(self, texts: Sequence[str]) -> list[TextSentiment]:
        """Score any texts as mentions are scored: by the model covering each one's language, per brand it names.

        Args:
            texts: the texts (they need not name a brand).

        Returns:
            One result per text, in order.
        """
        items = []
        for text in texts:
            lang = self.language.detect(text).lang
            items.append((text, self.matcher.match(text, None, lang), lang))
        return [
            TextSentiment(score, lang, reason, brands)
            for (_, _, lang), (score, brands, reason) in zip(items, self._sentiment(items), strict=True)
        ]

    def _sentiment(
        self, items: Sequence[tuple[str, Sequence[BrandMatch], str]]
    ) -> list[tuple[SentimentScore | None, tuple[ScoredBrandMatch, ...], str | None]]:
        """For each (text, brands it names, language): its score (None: unscored), its brands with their own
        sentiment, and the reason."""
        routes = [self.route(lang) for _, _, lang in items]
        scored: list[tuple[SentimentScore | None, tuple[ScoredBrandMatch, ...], str | None]] = [
            (None, tuple(ScoredBrandMatch(b.brand, b.role, b.terms) for b in brands), route.reason)
            for (_, brands, _), route in zip(items, routes, strict=True)
        ]
        for model in dict.fromkeys(route.model for route in routes if route.model is not None):
            backend = self._backend(model)
            rows = [index for index, route in enumerate(routes) if route.model == model]
            if isinstance(backend, SentimentModelUnavailable):
                for index in rows:
                    scored[index] = (None, scored[index][1], f"not scored: {backend}")
                continue
            texts = [items[index][0] for index in rows]
            scores = backend.score(texts)
            brands = self._brand_scorer(model, backend).score(
                [(text, items[index][1], score) for text, index, score in zip(texts, rows, scores, strict=True)]
            )
            # The route says why a language went to another model; else the backend says why it scores (auto's choice).
            chosen: str | None = getattr(backend, "reason", None)
            for index, score, scored_brands in zip(rows, scores, brands, strict=True):
                scored[index] = (score, scored_brands, routes[index].reason or chosen)
        return scored

    def route(self, lang: str) -> SentimentRoute:
        """Which model scores a mention in `lang` (see `enrich.language.sentiment_route`)."""
        return sentiment_route(lang, self.sentiment.model, self.sentiment_languages, self.config.sentiment.languages.root)

    def _backend(self, model: str) -> SentimentBackend | SentimentModelUnavailable:
        """The backend of a `sentiment.languages` model, built once; the error when it is not on this machine."""
        if model not in self._backends:
            settings = self.config.sentiment
            try:
                self._backends[model] = sentiment_backend(
                    "transformers", model, settings.device, settings.batch_size, settings.precision
                )
            except SentimentModelUnavailable as missing:
                logger.warning("sentiment: the model of sentiment.languages %r is not on this machine: %s", model, missing)
                self._backends[model] = missing
        return self._backends[model]

    def _brand_scorer(self, model: str, backend: SentimentBackend) -> BrandSentimentScorer:
        if model not in self._brand_scorers:
            self._brand_scorers[model] = BrandSentimentScorer(backend)
        return self._brand_scorers[model]

    def _matching(self, mentions: Iterable[Mention]) -> Iterator[_Matched]:
        for mention in mentions:
            text = _readable_text(mention)
            guess = self.language.detect(text, mention.lang_hint) if self.matcher.needs_language else None
            matches = self.matcher.match(text, mention, guess.lang if guess else None, mention.about_brand)
            if not matches:
                self.dropped_unmatched[mention.source] += 1
                continue
            self.matched[mention.source] += 1
            yield _Matched(
                mention=mention,
                brands=matches,
                owner=self.owned.owner(mention.author_handle, mention.url),
                language=guess or self.language.detect(text, mention.lang_hint),
                reach=reach_estimate(mention, self.config.source(mention.source), self.config.reach),
            )


@dataclass(frozen=True)
class TextSentiment:
    """How a text reads (`Enricher.score_texts`), as a mention's enrichment would record it.

    Attributes:
        score: its sentiment, None when no configured model covers its language.
        lang: its language.
        reason: why it was scored by another model than the backend, or left unscored.
        brands: the configured brands and competitors it names, each with its own sentiment when it names
            several (`ScoredBrandMatch.sentiment_label` None: one brand, whose sentiment is the text's).
    """

    score: SentimentScore | None
    lang: str
    reason: str | None
    brands: tuple[ScoredBrandMatch, ...]

    def brand_sentiment(self) -> dict[str, tuple[str | None, float | None]]:
        """Each brand's label and score: its own, or the text's when it is the only brand named."""
        own = {brand.brand: (brand.sentiment_label, brand.sentiment_score) for brand in self.brands}
        text = (self.score.label, self.score.score) if self.score else (None, None)
        return {name: labelled if labelled[0] is not None else text for name, labelled in own.items()}


@dataclass(frozen=True)
class _Matched:
    """A mention that matched, with what is known of it before sentiment (scored in batches)."""

    mention: Mention
    brands: list[BrandMatch]
    owner: str | None
    language: LanguageGuess
    reach: Reach


def enrich_unit(config: Config, collected_url: str, staging: StagingArea, enricher: Enricher | None = None) -> str:
    """Enrich one staged unit.

    Args:
        config: the run's config.
        collected_url: the unit's manifest written by `collectors.units.stage_unit`.
        staging: the run's staging area.
        enricher: a prepared enricher (it holds the sentiment model), or None to build one.

    Returns:
        The URL of the enriched manifest: like the collected one, with `mentions` pointing at the
        enriched rows and each source outcome counting `mentions_matched` and `dropped_unmatched`.
    """
    manifest = read_json(collected_url)
    unit_id = manifest["unit"]["id"]
    records = read_jsonl(manifest["mentions"])
    first = next(records, None)
    if first is None and enricher is None:
        # Nothing collected (an idle cycle): no enricher, so no sentiment model is loaded for nothing.
        for outcome in manifest["sources"]:
            outcome.update(mentions_matched=0, dropped_unmatched=0)
        rows_url = staging.write_jsonl(f"{unit_id}/enriched.jsonl", iter(()))
        return staging.write_json(f"{unit_id}/enriched.json", {**manifest, "mentions": rows_url})
    enricher = enricher or Enricher(config)
    mentions = (Mention.from_json(record) for record in chain([first] if first else [], records))
    rows_url = staging.write_jsonl(f"{unit_id}/enriched.jsonl", (enriched.to_json() for enriched in enricher.enrich(mentions)))
    fallback = getattr(enricher.sentiment, "fallback_reason", None)
    for outcome in manifest["sources"]:
        outcome["mentions_matched"] = enricher.matched[outcome["source"]]
        outcome["dropped_unmatched"] = enricher.dropped_unmatched[outcome["source"]]
        if fallback and outcome["mentions_matched"]:
            outcome["warnings"] = [
                *outcome.get("warnings", []),
                f"sentiment: scored with {enricher.sentiment.model}, not a transformer: {fallback}",
            ]
        if unscored := enricher.unscored.get(outcome["source"]):
            languages = ", ".join(f"{lang} {mentions}" for lang, mentions in sorted(unscored.items()))
            outcome["warnings"] = [
                *outcome.get("warnings", []),
                f"sentiment: {unscored.total()} mentions left unscored, in languages no configured model covers "
                f"({languages}); configure sentiment.languages",
            ]
    return staging.write_json(f"{unit_id}/enriched.json", {**manifest, "mentions": rows_url})


def _readable_text(mention: Mention) -> str:
    return f"{mention.title}\n{mention.text}" if mention.title else mention.text
