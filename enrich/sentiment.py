"""Sentiment scoring behind one interface; the lexicon backend (VADER) is the offline baseline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version
from typing import Literal, Protocol

Label = Literal["negative", "neutral", "positive"]


@dataclass(frozen=True)
class SentimentScore:
    """How a text feels.

    Attributes:
        label: negative, neutral or positive.
        score: from -1 (most negative) to 1 (most positive).
        probabilities: the share of negative, neutral and positive (summing to 1).
        model: the model or lexicon version that produced it.
    """

    label: Label
    score: float
    probabilities: dict[str, float]
    model: str


class SentimentBackend(Protocol):
    """Anything that scores a batch of texts."""

    model: str

    def score(self, texts: Sequence[str]) -> list[SentimentScore]:
        """One score per text, in order."""
        ...


class LexiconSentiment:
    """VADER: a lexicon and rules tuned for social media text (emoji, caps, "!!!", slang).

    The label follows VADER's own thresholds: compound >= 0.05 positive, <= -0.05 negative.
    """

    model = f"vader-{version('vaderSentiment')}"

    def __init__(self) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._analyzer = SentimentIntensityAnalyzer()

    def score(self, texts: Sequence[str]) -> list[SentimentScore]:
        """One score per text, in order."""
        return [self._score_one(text) for text in texts]

    def _score_one(self, text: str) -> SentimentScore:
        polarity = self._analyzer.polarity_scores(text)
        compound = polarity["compound"]
        label: Label = "positive" if compound >= 0.05 else "negative" if compound <= -0.05 else "neutral"
        return SentimentScore(
            label=label,
            score=compound,
            probabilities={"negative": polarity["neg"], "neutral": polarity["neu"], "positive": polarity["pos"]},
            model=self.model,
        )


def sentiment_backend(name: str = "lexicon") -> SentimentBackend:
    """The backend called `name`.

    Raises:
        ValueError: for a name that is not a backend.
    """
    if name == "lexicon":
        return LexiconSentiment()
    raise ValueError(f"unknown sentiment backend {name!r}; available: lexicon")
