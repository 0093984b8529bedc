"""Language detection with py3langid (a model shipped in the package; no download)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from importlib.metadata import version
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from py3langid.langid import LanguageIdentifier

LANGUAGE_MODEL = f"py3langid-{version('py3langid')}"
UNDETERMINED = "und"


@dataclass(frozen=True)
class LanguageGuess:
    """An ISO 639-1 code (or "und" when unsure) and the classifier's probability for it."""

    lang: str
    confidence: float


class LanguageDetector:
    """Guesses the language of mention texts.

    Args:
        min_confidence: below this probability the language is recorded as "und".
    """

    def __init__(self, min_confidence: float = 0.5):
        self.min_confidence = min_confidence

    @cached_property
    def _identifier(self) -> LanguageIdentifier:  # loaded on first use: the model takes a moment to unpack
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)

    def detect(self, text: str, declared: str | None = None) -> LanguageGuess:
        """The language of `text`.

        Args:
            text: the mention's title and body.
            declared: the language the platform or feed declares (e.g. "en-GB"); used, with
                confidence 0, only when the text is too short or too mixed to tell.

        Returns:
            The guess; "und" when neither the text nor a declaration tells.
        """
        if len(text.split()) >= 3:
            lang, probability = self._identifier.classify(text)
            if probability >= self.min_confidence:
                return LanguageGuess(lang, round(float(probability), 4))
        if declared:
            return LanguageGuess(declared.split("-")[0].lower()[:3], 0.0)
        return LanguageGuess(UNDETERMINED, 0.0)


# --- which sentiment model covers which language ------------------------------------------------------

ENGLISH = frozenset({"en"})
MULTILINGUAL_TWEET_LANGUAGES = frozenset({"ar", "en", "fr", "de", "hi", "it", "es", "pt"})
"""The languages of cardiffnlp/twitter-xlm-roberta-base-sentiment (UMSAB)."""
_LANGUAGE_NAMES = {
    "en": "English", "ar": "Arabic", "fr": "French", "de": "German", "hi": "Hindi", "it": "Italian",
    "es": "Spanish", "pt": "Portuguese",
}


def sentiment_languages(model: str, declared: frozenset[str] | None = None) -> frozenset[str]:
    """The languages a sentiment model was trained for.

    Args:
        model: the backend's `model` string (`vader-3.3.2`, `transformers:<name>@<revision>`, ...).
        declared: what the backend itself declares (its `languages` attribute), which wins.

    Returns:
        VADER: English. A model whose name says XLM (cardiffnlp/twitter-xlm-roberta-base-sentiment):
        the 8 languages of its training tweets. Any other model, the shipped one included: English;
        configure `sentiment.languages` for a model that covers more.
    """
    if declared is not None:
        return frozenset(declared)
    if "xlm" in model.lower() or "multilingual" in model.lower():
        return MULTILINGUAL_TWEET_LANGUAGES
    return ENGLISH


def describe_languages(languages: frozenset[str]) -> str:
    """`English`, or `ar, de, en, ...` for several."""
    if len(languages) == 1:
        (language,) = languages
        return _LANGUAGE_NAMES.get(language, language)
    return ", ".join(sorted(languages))


@dataclass(frozen=True)
class SentimentRoute:
    """Which model scores a mention's sentiment, by its language.

    Attributes:
        model: the key of the model to use: `""` for the configured backend, else the model named in
            `sentiment.languages`; None when no model covers the language (the mention stays unscored).
        reason: why, for `sentiment_reason`; None when the backend covers the language.
    """

    model: str | None
    reason: str | None


def sentiment_route(
    lang: str, backend_model: str, covered: frozenset[str], language_models: dict[str, str]
) -> SentimentRoute:
    """Which model scores a mention in `lang`.

    An undetermined language ("und": a text too short to tell) is scored by the backend. A language the
    backend covers is scored by it; else by `sentiment.languages`' model for that language, else by its
    `*` model; else it is left unscored, never scored as if it were English.

    Args:
        lang: the mention's language (`LanguageGuess.lang`).
        backend_model: the configured backend's `model`.
        covered: the languages it covers (`sentiment_languages`).
        language_models: `sentiment.languages` (language or `*` → model).

    Returns:
        The route, with the reason to record when it is not the backend.
    """
    if lang == UNDETERMINED or lang in covered:
        return SentimentRoute("", None)
    not_covered = f"language {lang} is not covered by {backend_model} ({describe_languages(covered)})"
    for key in (lang, "*"):
        if key in language_models:
            return SentimentRoute(
                language_models[key], f"scored by {language_models[key]}: {not_covered}; sentiment.languages.{key}"
            )
    return SentimentRoute(None, f"not scored: {not_covered}; configure sentiment.languages")
