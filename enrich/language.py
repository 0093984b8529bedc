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
