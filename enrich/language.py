"""Language detection with py3langid (a model shipped in the package; no download)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from importlib.metadata import version

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
    def _identifier(self):  # loaded on first use: the model takes a moment to unpack
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)

    def detect(self, text: str) -> LanguageGuess:
        """The language of `text`; "und" for text too short or too mixed to tell."""
        if len(text.split()) < 3:
            return LanguageGuess(UNDETERMINED, 0.0)
        lang, probability = self._identifier.classify(text)
        probability = float(probability)
        return LanguageGuess(lang if probability >= self.min_confidence else UNDETERMINED, round(probability, 4))
