"""`overheard sentiment score`: try the sentiment model on any text (issue 13, item 3).

    $ echo "switched from Tidewell to Brightwave, couldn't be happier" | overheard sentiment score --config C
    {"label": "positive", "score": 0.57, "model": "vader-3.3.2", "brands": {"Brightwave": {"label": "positive", ...},
     "Tidewell": {"label": "negative", ...}}, "lang": "en", "reason": null}

Each line of standard input is one text; each gets one JSON object on standard output, in order: the
text's label and score and the model that scored it, as the enrich step would record them for a mention
(the config's `sentiment` backend, or the model `sentiment.languages` gives its language), and the brands
and competitors of the config it names, each with its own label and score when it names several (else
the text's). `lang` is the detected language; `reason` says why the text was scored by another model, or
left unscored (then `label`, `score` and `model` are null). Texts are scored in batches of `--batch`.
"""

from __future__ import annotations

import argparse
import json
import sys
from itertools import islice
from typing import TYPE_CHECKING, Any

from config import Config

if TYPE_CHECKING:
    from enrich.pipeline import TextSentiment


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    """Add the arguments of `overheard sentiment score`."""
    parser.add_argument("--batch", type=int, default=256, help="texts scored together (default 256)")


def run(name: str, config: Config, arguments: argparse.Namespace) -> int:
    """Score each line of standard input; returns the exit status (0)."""
    from enrich.pipeline import Enricher  # the backend loads models: only when a text is to be scored

    enricher = Enricher(config)
    lines = (line.rstrip("\r\n") for line in sys.stdin)
    while batch := list(islice(lines, max(1, arguments.batch))):
        for result in enricher.score_texts(batch):
            print(json.dumps(as_json(result), ensure_ascii=False))
        sys.stdout.flush()
    return 0


def as_json(result: TextSentiment) -> dict[str, Any]:
    """The printed object of one text."""
    score = result.score
    return {
        "label": score.label if score else None,
        "score": round(score.score, 4) if score else None,
        "model": score.model if score else None,
        "brands": {
            brand: {"label": label, "score": None if value is None else round(value, 4)}
            for brand, (label, value) in result.brand_sentiment().items()
        },
        "lang": result.lang,
        "reason": result.reason,
    }
