"""Enrich a staged unit: keep mentions that match a brand, add ownership, language, sentiment, reach."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import count, islice

from config.model import Config
from core.enriched_mention import EnrichedMention
from core.mention import Mention
from core.staging import StagingArea, read_json, read_jsonl
from enrich.language import LANGUAGE_MODEL, LanguageDetector, LanguageGuess
from enrich.ownership import OwnedContent
from enrich.reach import REACH_MODEL, Reach, reach_estimate
from enrich.sentiment import SentimentBackend, sentiment_backend
from query.brand_matching import BrandMatch, BrandMatcher

_SENTIMENT_BATCH = 256


class Enricher:
    """Turns collected mentions into enriched mentions (`core.enriched_mention.EnrichedMention`).

    Args:
        config: brands, competitors, sources and reach defaults.
        sentiment: the sentiment backend (when not given, the one `config.sentiment` describes).
    """

    def __init__(self, config: Config, sentiment: SentimentBackend | None = None):
        self.config = config
        self.matcher = BrandMatcher(config.brands, config.competitors)
        self.owned = OwnedContent(config.all_brands)
        self.language = LanguageDetector()
        settings = config.sentiment
        self.sentiment = sentiment or sentiment_backend(
            settings.backend, settings.model, settings.device, settings.batch_size, settings.precision
        )
        self.matched: Counter[str] = Counter()
        self.dropped_unmatched: Counter[str] = Counter()

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
            scores = self.sentiment.score([_readable_text(matched.mention) for matched in batch])
            for matched, score in zip(batch, scores, strict=True):
                yield EnrichedMention(
                    mention=matched.mention,
                    ordinal=next(ordinals),
                    brands=tuple(matched.brands),
                    is_owned=matched.owner is not None,
                    owned_by=matched.owner,
                    lang=matched.language.lang,
                    lang_confidence=matched.language.confidence,
                    lang_model=LANGUAGE_MODEL,
                    reach_estimate=matched.reach.potential,
                    reach_low=matched.reach.actual_low,
                    reach_high=matched.reach.actual_high,
                    reach_model=REACH_MODEL,
                    sentiment_label=score.label,
                    sentiment_score=score.score,
                    sentiment_negative=score.probabilities["negative"],
                    sentiment_neutral=score.probabilities["neutral"],
                    sentiment_positive=score.probabilities["positive"],
                    sentiment_model=score.model,
                )

    def _matching(self, mentions: Iterable[Mention]) -> Iterator[_Matched]:
        for mention in mentions:
            text = _readable_text(mention)
            guess = self.language.detect(text, mention.lang_hint) if self.matcher.needs_language else None
            matches = self.matcher.match(text, mention, guess.lang if guess else None)
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
    enricher = enricher or Enricher(config)
    unit_id = manifest["unit"]["id"]
    mentions = (Mention.from_json(record) for record in read_jsonl(manifest["mentions"]))
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
    return staging.write_json(f"{unit_id}/enriched.json", {**manifest, "mentions": rows_url})


def _readable_text(mention: Mention) -> str:
    return f"{mention.title}\n{mention.text}" if mention.title else mention.text
