"""Sentiment per brand: what a mention that names several brands says of each.

"Switched from Northpeak to Larkspur, couldn't be happier" is positive as a whole, but negative for
Northpeak. A mention that names one brand keeps the mention's label for it (the per-brand fields stay
None); one that names two or more gets a label and score for each, found in this order:

1. **Clauses.** The text is cut into clauses at sentence ends, line breaks, semicolons and contrast
   words ("but", "however", "whereas", "though", "meanwhile", "on the other hand", a dash...). A
   clause that names no brand continues the last clause that named some ("Northpeak called back. Sorted
   in ten minutes." is about Northpeak). A brand's **own text** is the clauses that name it
   and no other brand, plus their continuations; it is scored by the same backend as the mention.
2. **Comparisons.** A clause that names two brands is read by the rules in `COMPARISONS`: switching
   ("switched from A to B", "ditched A for B", "A -> B", "B instead of A"), ranking ("A is better than
   B", "A > B", "prefer A over B", "A beats B"; negated: "A is not better than B"), contrast ("unlike A,
   B ...": B gets the clause's sentiment, A the opposite) and X slang ("W A", "A L"). A switch is read
   back to front when the post regrets it ("regret", "mistake", "should have stayed", "miss A"; not
   "no regrets", "never going back").
3. **Which wins.** A brand whose own text is not neutral takes its label; else the label a comparison
   gives it; else the label of the clauses it shares with other brands; else the mention's.

Every text is scored with one call to the backend per batch of mentions (`BrandSentimentScorer.score`),
so a transformer runs batched as for mention-level scoring. A label from a comparison takes the
strength of its clause's score (at least `RULE_STRENGTH`), signed by the label.

The rules were written before the labelled comparative set (bench/data/comparative_sentiment.jsonl)
and measured on it with bench/brand_sentiment_accuracy.py (docs/benchmarks.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from enrich.sentiment import SentimentBackend, SentimentScore
from query.brand_matching import BrandMatch

Label = Literal["negative", "neutral", "positive"]
BRAND_SENTIMENT_MODEL = "brand-clauses-v1"
"""The version of these rules: a brand's `sentiment_model` is `<the mention's model>+brand-clauses-v1`."""
RULE_STRENGTH = 0.3
"""The smallest |score| a label from a comparison gets (its clause may read neutral as a whole)."""

_OPPOSITE: dict[str, Label] = {"positive": "negative", "negative": "positive", "neutral": "neutral"}


@dataclass(frozen=True)
class ScoredBrandMatch:
    """A brand a mention names, with its own sentiment (the shape of `core.enriched_mention.MatchedBrand`).

    Attributes:
        brand: the configured brand name.
        role: brand (ours) or competitor.
        terms: the configured terms that matched.
        sentiment_label: negative, neutral or positive for this brand; None when the mention names one
            brand (its label is the mention's) or was left unscored.
        sentiment_score: -1 to 1 for this brand; None likewise.
        sentiment_model: what found them: the mention's model and these rules' version
            (`vader-3.3.2+brand-clauses-v1`); None likewise.
    """

    brand: str
    role: str
    terms: tuple[str, ...]
    sentiment_label: str | None = None
    sentiment_score: float | None = None
    sentiment_model: str | None = None


@dataclass(frozen=True)
class BrandReading:
    """How the label of one brand was found (for tests and the benchmark).

    Attributes:
        label: the brand's label.
        score: its score.
        how: `own` (its own clauses), `comparison` (a rule; its name follows, e.g. `comparison:switch`),
            `shared` (clauses shared with other brands) or `mention` (the mention's label).
    """

    label: Label
    score: float
    how: str


# --- where each brand is named ------------------------------------------------------------------------

_TOKEN = "\uff3b{}\uff3d"  # ［0］: brand 0, in the text the comparison rules read
_B = r"\uff3b(\d+)\uff3d"


def _term_pattern(term: str) -> str:
    """A configured term as the brand matcher reads it: case-insensitive, on word boundaries, `*` a suffix."""
    words = []
    for word in term.split():
        if word.endswith("*"):
            words.append(re.escape(word[:-1]) + r"\w*")
        else:
            words.append(re.escape(word))
    return r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)"


def _spans(text: str, matches: Sequence[BrandMatch]) -> list[tuple[int, int, int]]:
    """(start, end, brand index) of each place a brand is named, in text order, without overlaps."""
    found = []
    for index, match in enumerate(matches):
        for term in sorted(match.terms, key=len, reverse=True):
            for hit in re.finditer(_term_pattern(term), text, re.IGNORECASE):
                found.append((hit.start(), hit.end(), index))
    found.sort(key=lambda span: (span[0], -(span[1] - span[0])))
    kept: list[tuple[int, int, int]] = []
    for span in found:
        if not kept or span[0] >= kept[-1][1]:
            kept.append(span)
    return kept


def _tokenized(text: str, spans: list[tuple[int, int, int]]) -> str:
    """The text with each brand's name replaced by its token ［index］."""
    parts, position = [], 0
    for start, end, index in spans:
        parts += [text[position:start], _TOKEN.format(index)]
        position = end
    parts.append(text[position:])
    return "".join(parts)


# --- clauses --------------------------------------------------------------------------------------------

_CLAUSE_BREAK = re.compile(
    r"(?<=[.!?])\s+|\n+|;|(?<=\S)\s+[-\u2013\u2014|]+\s+|\.\.\.+|"
    r",?\s+\b(?:but|however|whereas|though|although|meanwhile|except|on the other hand|while|tho|otoh)\b[,:]?\s*",
    re.IGNORECASE,
)
_CLAUSE_TOKENS = re.compile(_B)
_COMMA_BREAK = re.compile(r"\s*[,:]\s+")
_AND_BREAK = re.compile(r"\s+(?:and|&|while)\s+", re.IGNORECASE)  # "A is brilliant and B is awful", if both halves say something


@dataclass(frozen=True)
class _Clause:
    text: str  # tokenized
    brands: frozenset[int]  # the brands it names, or (a continuation) the brands of the clause it continues
    names_any: bool


def _clauses(tokenized: str) -> list[_Clause]:
    """The clauses of a tokenized text, each with the brands it is about.

    A piece naming several brands that no comparison rule reads ("A lost my bag, B got me home early")
    is cut again at its commas and colons, so each brand's part is its own.
    """
    pieces = []
    for piece in _CLAUSE_BREAK.split(tokenized):
        if len(set(_CLAUSE_TOKENS.findall(piece))) > 1 and not any(rule.pattern.search(piece) for rule in COMPARISONS):
            for part in _COMMA_BREAK.split(piece):
                halves = _AND_BREAK.split(part)
                pieces += halves if all(len(half.split()) >= 3 for half in halves) else [part]
        else:
            pieces.append(piece)
    clauses: list[_Clause] = []
    last: frozenset[int] = frozenset()
    for piece in pieces:
        if not piece or not piece.strip(" ,.:!?"):
            continue
        named = frozenset(int(index) for index in _CLAUSE_TOKENS.findall(piece))
        if named:
            last = named
            clauses.append(_Clause(piece.strip(), named, True))
        elif last:
            clauses.append(_Clause(piece.strip(), last, False))
    return clauses


# --- comparisons ------------------------------------------------------------------------------------------

_GAP = r"(?:[^\uff3b\uff3d.,!?\n]{0,40}?)"  # a few words, never another brand, a comma or a sentence end
_SWITCH_FROM = (
    r"(?:switch\w*|mov\w*|chang\w*|went|go\w*|port\w*|migrat\w*|jump\w*|upgrad\w*|came|com\w+|transferr?\w*|"
    r"swapp?\w*|ran|fled|escap\w*)"
)
_LEAVE = (
    r"(?:ditch\w*|dump\w*|left|leav\w*|quit\w*|cancel+\w*|dropp?\w*|abandon\w*|replac\w*|swapp?\w*|trad\w*|"
    r"binn?\w*|kick\w*|divorc\w*|gave up on|giving up on|walked away from|said bye to|yeet\w*)"
)
_BETTER = (
    r"(?:better|faster|cheaper|more reliable|more stable|nicer|smoother|quicker|superior|stronger|way ahead of|"
    r"miles ahead of|leagues ahead of|beats?|beating|destroys?|destroying|wipes? the floor with|outperforms?|"
    r"smokes|mogs|clears|shits on|runs circles around|runs rings around|kills|crushes|blows \w+ away|"
    r"more \w+ than|cleaner|clearer|friendlier|kinder|tastier|fresher|comfier|roomier|easier)"
)
_WORSE = (
    r"(?:worse|slower|pricier|dearer|more expensive|less reliable|flakier|buggier|laggier|inferior|shittier|"
    r"crappier|weaker|behind|less \w+ than|noisier|dirtier|ruder|harder|greasier|colder|staler|clunkier)"
)
_NEGATION = r"(?:not|n't|no|never|hardly|nowhere near)\b"
_REGRET = re.compile(
    r"(?<!\bno )(?<!\bzero )(?<!\bnever )(?<!\bnot )(?<!n't )"
    r"\b(?:regret\w*|mistake|miss(?:ing)? \uff3b|should(?:'ve| have) stayed|wish i(?:'d| had)? stayed|going back|"
    r"go back|went back|crawling back|worst decision|big error)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _Comparison:
    name: str
    pattern: re.Pattern[str]
    first: Label | None  # the label of the brand named first in the pattern (None: see `follows`)
    second: Label | None
    switch: bool = False  # read back to front when the post regrets it
    follows: int = 0  # contrast: which brand (1 or 2) takes the clause's sentiment; the other the opposite


def _rule(
    name: str, pattern: str, first: Label | None, second: Label | None, switch: bool = False, follows: int = 0
) -> _Comparison:
    return _Comparison(name, re.compile(pattern, re.IGNORECASE), first, second, switch, follows)


COMPARISONS: tuple[_Comparison, ...] = (
    _rule("switch", rf"\b{_SWITCH_FROM}\b{_GAP}\bfrom\s+{_GAP}{_B}{_GAP}\b(?:to|for|over to|onto)\s+{_GAP}{_B}",
          "negative", "positive", switch=True),
    _rule("switch", rf"\b{_LEAVE}\s+{_GAP}{_B}{_GAP}\b(?:for|with|in favou?r of|and (?:went|switched|moved|got|"
                    rf"joined|signed up)(?: (?:to|with|for|up with))?)\s+{_GAP}{_B}", "negative", "positive", switch=True),
    _rule("switch", rf"{_B}\s*(?:->|=>|-->|\u2192|\u27a1\ufe0f?|to)\s*{_B}\s*$", "negative", "positive", switch=True),
    _rule("switch", rf"{_B}\s*(?:->|=>|-->|\u2192|\u27a1\ufe0f?)\s*{_B}", "negative", "positive", switch=True),
    _rule("switch", rf"\bfrom\s+{_B}\s+to\s+{_B}", "negative", "positive", switch=True),
    _rule("instead", rf"{_B}{_GAP}\binstead of\s+{_GAP}{_B}", "positive", "negative"),
    _rule("instead", rf"\binstead of\s+{_B}{_GAP}{_B}", "negative", "positive"),
    _rule("prefer", rf"\b(?:prefer\w*|rather (?:have|use|pay for)|choos\w*|chose|pick\w*|tak\w*|go with|going with|"
                    rf"went with|stick\w* with|recommend\w*)\s+{_GAP}{_B}{_GAP}\b(?:over|than|to|instead of)\s+{_GAP}{_B}",
          "positive", "negative"),
    _rule("better", rf"{_B}{_GAP}\b{_NEGATION}{_GAP}\b{_BETTER}\b{_GAP}{_B}", "negative", "positive"),
    _rule("worse", rf"{_B}{_GAP}\b{_NEGATION}{_GAP}\b{_WORSE}\b{_GAP}{_B}", "positive", "negative"),
    _rule("better", rf"{_B}{_GAP}\b{_BETTER}\b{_GAP}{_B}", "positive", "negative"),
    _rule("worse", rf"{_B}{_GAP}\b{_WORSE}\b{_GAP}{_B}", "negative", "positive"),
    _rule("better", rf"{_B}(?:\s*|{_GAP}\s)(?:>+|\u226b|\u2265|>=)\s*(?:{_GAP}\s)?{_B}", "positive", "negative"),
    _rule("worse", rf"{_B}(?:\s*|{_GAP}\s)(?:<+|\u226a|\u2264|<=)\s*(?:{_GAP}\s)?{_B}", "negative", "positive"),
    _rule("better", rf"{_B}\s+over\s+{_B}", "positive", "negative"),
    _rule("contrast", rf"\b(?:unlike|compared to|compared with|next to)\s+{_B}\s*,?\s*{_GAP}{_B}", None, None, follows=2),
    _rule("contrast", rf"{_B}{_GAP}\b(?:unlike|compared to|compared with|next to)\s+{_B}", None, None, follows=1),
    _rule("slang", rf"(?:^|\s)W\s+{_B}{_GAP}(?:\bL\s+{_B}|{_B}\s+L\b)", "positive", "negative"),
    _rule("slang", rf"(?:^|\s)L\s+{_B}{_GAP}(?:\bW\s+{_B}|{_B}\s+W\b)", "negative", "positive"),
    _rule("slang", rf"{_B}\s+W\b{_GAP}{_B}\s+L\b", "positive", "negative"),
    _rule("slang", rf"{_B}\s+L\b{_GAP}{_B}\s+W\b", "negative", "positive"),
)


def _compare(
    clause: str, clause_label: Label, after_label: Label | None, regretted: bool
) -> tuple[str, dict[int, Label]] | None:
    """The labels a comparison rule gives the brands of a clause naming two, or None when none reads it.

    Args:
        clause: the clause, tokenized.
        clause_label: the backend's label of the clause and the clauses that continue it.
        after_label: the label of the continuing clauses alone (None: there are none).
        regretted: the post regrets something (`_REGRET`).
    """
    for rule in COMPARISONS:
        found = rule.pattern.search(clause)
        if not found:
            continue
        first, second = int(found.group(1)), int(found.group(2))
        if first == second:
            continue
        if rule.follows:  # contrast: one brand takes the clause's sentiment, the other the opposite
            if clause_label == "neutral":
                continue
            follower, other = (first, second) if rule.follows == 1 else (second, first)
            return rule.name, {follower: clause_label, other: _OPPOSITE[clause_label]}
        assert rule.first is not None and rule.second is not None
        labels = {first: rule.first, second: rule.second}
        if rule.switch and regretted:
            labels = {first: rule.second, second: rule.first}
        elif rule.switch and after_label == "negative":  # "went from A to B. It is not cheaper."
            labels = {first: rule.first, second: "negative"}
        return rule.name, labels
    return None


# --- scoring ------------------------------------------------------------------------------------------------


@dataclass
class _Plan:
    """What to score for one mention, and how to combine it (filled in `score`)."""

    text: str
    brands: Sequence[BrandMatch]
    own: dict[int, str]
    shared: dict[int, str]
    compared: list[str]  # clauses naming two or more brands, tokenized (the rules read them)
    compared_plain: list[str]  # each with the clauses that continue it, as written (its sentiment is scored)
    after: list[str | None]  # the continuing clauses alone (None: none)


class BrandSentimentScorer:
    """Scores each brand of the mentions that name several, with the mention's backend.

    Args:
        backend: the sentiment backend that scored the mentions.
    """

    def __init__(self, backend: SentimentBackend):
        self.backend = backend

    def score(
        self, mentions: Sequence[tuple[str, Sequence[BrandMatch], SentimentScore | None]]
    ) -> list[tuple[ScoredBrandMatch, ...]]:
        """The brands of each mention with their own sentiment.

        Args:
            mentions: (text, the brands it names, its mention-level score or None when unscored).

        Returns:
            One tuple per mention, its brands in the order given; single-brand and unscored mentions
            keep None in the per-brand fields.
        """
        return [
            tuple(
                ScoredBrandMatch(match.brand, match.role, match.terms, *(
                    (reading.label, round(reading.score, 4), f"{score.model}+{BRAND_SENTIMENT_MODEL}")
                    if reading and score else (None, None, None)
                ))
                for match, reading in zip(brands, readings, strict=True)
            )
            for (_, brands, score), readings in zip(mentions, self.read(mentions), strict=True)
        ]

    def read(
        self, mentions: Sequence[tuple[str, Sequence[BrandMatch], SentimentScore | None]]
    ) -> list[list[BrandReading | None]]:
        """How each brand of each mention reads, with the way its label was found (`BrandReading.how`).

        Args:
            mentions: as for `score`.

        Returns:
            Per mention, per brand: its reading, or None (single-brand or unscored mention).
        """
        plans: list[_Plan | None] = []
        texts: dict[str, None] = {}
        for text, brands, mention_score in mentions:
            if len(brands) < 2 or mention_score is None:
                plans.append(None)
                continue
            plan = _plan(text, brands)
            plans.append(plan)
            texts.update(dict.fromkeys([
                *plan.own.values(), *plan.shared.values(), *plan.compared_plain,
                *(after for after in plan.after if after),
            ]))
        ordered = list(texts)
        scores = dict(zip(ordered, self.backend.score(ordered), strict=True)) if ordered else {}
        readings: list[list[BrandReading | None]] = []
        for planned, (_, brands, mention_score) in zip(plans, mentions, strict=True):
            if planned is None or mention_score is None:
                readings.append([None] * len(brands))
                continue
            readings.append(list(_combine(planned, scores, mention_score)))
        return readings


def _plan(text: str, brands: Sequence[BrandMatch]) -> _Plan:
    spans = _spans(text, brands)
    tokenized = _tokenized(text, spans)
    own: dict[int, list[str]] = {}
    shared: dict[int, list[str]] = {}
    compared: list[str] = []
    continued: list[list[str]] = []  # per compared clause: it and the clauses that continue it, as written
    for clause in _clauses(tokenized):
        plain = _untokenized(clause.text, brands)
        if len(clause.brands) == 1:
            (index,) = clause.brands
            own.setdefault(index, []).append(plain)
        else:
            for index in clause.brands:
                shared.setdefault(index, []).append(plain)
            if clause.names_any:
                compared.append(clause.text)
                continued.append([plain])
            elif continued:
                continued[-1].append(plain)
    return _Plan(
        text=tokenized,
        brands=brands,
        own={index: _joined(parts) for index, parts in own.items()},
        shared={index: _joined(parts) for index, parts in shared.items()},
        compared=compared,
        compared_plain=[_joined(parts) for parts in continued],
        after=[_joined(parts[1:]) if len(parts) > 1 else None for parts in continued],
    )


def _combine(plan: _Plan, scores: dict[str, SentimentScore], mention: SentimentScore) -> list[BrandReading]:
    regretted = bool(_REGRET.search(plan.text))
    compared: dict[int, tuple[Label, float, str]] = {}
    for clause, plain, after in zip(plan.compared, plan.compared_plain, plan.after, strict=True):
        clause_score = scores[plain]
        found = _compare(clause, clause_score.label, scores[after].label if after else None, regretted)
        if found is None:
            continue
        name, labels = found
        strength = max(abs(clause_score.score), RULE_STRENGTH)
        for index, label in labels.items():
            sign = {"positive": 1.0, "negative": -1.0, "neutral": 0.0}[label]
            compared.setdefault(index, (label, sign * strength, f"comparison:{name}"))
    readings = []
    for index in range(len(plan.brands)):
        own = scores.get(plan.own.get(index, ""))
        if own is not None and own.label != "neutral":
            readings.append(BrandReading(own.label, own.score, "own"))
        elif index in compared:
            label, value, how = compared[index]
            readings.append(BrandReading(label, value, how))
        elif own is not None:
            readings.append(BrandReading(own.label, own.score, "own"))
        elif (shared := scores.get(plan.shared.get(index, ""))) is not None:
            readings.append(BrandReading(shared.label, shared.score, "shared"))
        else:
            readings.append(BrandReading(mention.label, mention.score, "mention"))
    return readings


def _untokenized(tokenized: str, brands: Sequence[BrandMatch]) -> str:
    """A clause with the brands' names back (the backend scores what people wrote)."""
    return _CLAUSE_TOKENS.sub(lambda token: brands[int(token.group(1))].brand, tokenized)


def _joined(parts: list[str]) -> str:
    return " ".join(part if part.endswith((".", "!", "?")) else part + "." for part in parts)
