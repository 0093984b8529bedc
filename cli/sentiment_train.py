"""`overheard sentiment train`: fine-tune the shipped sentiment model on people's corrections plus its base data.

    overheard sentiment train --config C --output models/sentiment-2026-12 [--base-data FILE] [--base-sample N]

Reads the corrections in force (`latest_sentiment_corrections`) from the warehouse's snapshot: those of
a mention as a whole, and those of the brand of a mention that names one brand only (its label is the
mention's); a correction of one brand in a mention that names several says nothing of the sentence as
a whole, so it is left out. The text is the one the model scored (title and text). The corrections,
repeated `--correction-weight` times, and a seeded sample of the base data (train.tsv, the tweets
the shipped model was trained on) fine-tune the shipped model (or `--base`) for one epoch into
`--output`, a new model version. Select it with `sentiment: {model: <output>}` in the config; rows it
scores record `transformers:<output>@local`, so rows keep the version that scored them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import cast

from config import Config

REPOSITORY = Path(__file__).resolve().parents[1]
BASE_DATA = REPOSITORY.parent / "shared" / "data" / "sentiment" / "train.tsv"
"""The shipped model's training data, ../shared/data/sentiment/train.tsv relative to the repository."""

CORRECTIONS_SQL = """
WITH brands_named AS (
    SELECT mention_key, count(*) AS brands FROM mention_brands GROUP BY mention_key
), usable AS (
    SELECT c.mention_key, c.label, c.corrected_at,
           row_number() OVER (PARTITION BY c.mention_key ORDER BY c.corrected_at DESC, c.brand NULLS FIRST) AS latest
    FROM latest_sentiment_corrections AS c
    LEFT JOIN brands_named AS n USING (mention_key)
    WHERE c.brand IS NULL OR coalesce(n.brands, 0) = 1
)
SELECT CASE WHEN coalesce(m.title, '') <> '' THEN m.title || chr(10) || m.text ELSE m.text END AS text, u.label
FROM usable AS u JOIN mentions AS m USING (mention_key)
WHERE u.latest = 1
ORDER BY u.mention_key
"""
"""One label per corrected mention: the latest of its whole-mention and (one brand named) brand corrections."""


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    """Add the arguments of `overheard sentiment train`."""
    parser.add_argument(
        "--output", required=True, type=Path,
        help="directory to write the new model version to; select it with `sentiment: {model: DIR}`",
    )
    parser.add_argument(
        "--base", help="model to start from: a directory or shipped:<name> (default: the shipped model)"
    )
    parser.add_argument(
        "--base-data", type=Path, default=BASE_DATA,
        help=f"the base labelled tweets, text<TAB>label (default {BASE_DATA})",
    )
    parser.add_argument(
        "--base-sample", type=int, default=5000,
        help="base examples to train on beside the corrections, drawn with the seed (0: all; default 5000)",
    )
    parser.add_argument(
        "--correction-weight", type=int, default=10, help="times each correction is repeated (default 10)"
    )
    parser.add_argument("--epochs", type=float, default=1.0, help="passes over the examples (default 1)")
    parser.add_argument("--learning-rate", type=float, default=2e-5, help="peak learning rate (default 2e-5)")
    parser.add_argument("--seed", type=int, default=13, help="seeds the sample and the training (default 13)")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")


def run(name: str, config: Config, arguments: argparse.Namespace) -> int:
    """Run `overheard sentiment train`; returns the exit status (2: nothing to train on or no base data)."""
    import random

    from cli.warehouse_access import NoWarehouseYet, open_for_reading
    from enrich.sentiment import SHIPPED_MODEL, SHIPPED_PREFIX, Label, SentimentModelUnavailable, shipped_model
    from enrich.sentiment_training import LabelledText, TrainingSettings, fine_tune, read_labelled_texts

    if not arguments.base_data.is_file():
        print(
            f"overheard sentiment train: the base data {arguments.base_data} is not there; pass --base-data FILE "
            "(a text<TAB>label file with labels negative, neutral, positive, such as SemEval's train.tsv)",
            file=sys.stderr,
        )
        return 2
    if arguments.base_sample < 0 or arguments.correction_weight < 1:
        print("overheard sentiment train: --base-sample must be >= 0 and --correction-weight >= 1", file=sys.stderr)
        return 2
    base_name = arguments.base or SHIPPED_PREFIX + SHIPPED_MODEL
    try:
        base = (
            shipped_model(base_name.removeprefix(SHIPPED_PREFIX)) if base_name.startswith(SHIPPED_PREFIX)
            else Path(base_name)
        )
    except SentimentModelUnavailable as missing:
        print(f"overheard sentiment train: {missing}", file=sys.stderr)
        return 2
    try:
        connection = open_for_reading(config)
    except NoWarehouseYet as missing:
        print(f"overheard sentiment train: {missing}", file=sys.stderr)
        return 2
    with connection:
        rows = connection.execute(CORRECTIONS_SQL).fetchall()
    # The table's CHECK constraint keeps labels to negative, neutral and positive.
    corrections = [LabelledText(text, cast(Label, label)) for text, label in rows]
    if not corrections:
        print(
            "overheard sentiment train: no corrections to learn from yet (latest_sentiment_corrections has none of a "
            "mention as a whole or of a mention naming one brand); correct some with `overheard sentiment correct`",
            file=sys.stderr,
        )
        return 2
    base_examples = read_labelled_texts(arguments.base_data)
    if arguments.base_sample and arguments.base_sample < len(base_examples):
        base_examples = random.Random(arguments.seed).sample(base_examples, arguments.base_sample)
    examples = [*base_examples, *corrections * arguments.correction_weight]
    random.Random(arguments.seed).shuffle(examples)
    settings = TrainingSettings(
        epochs=arguments.epochs, learning_rate=arguments.learning_rate, seed=arguments.seed, threads=arguments.threads
    )
    print(f"training {base_name} on {len(corrections)} corrections (x{arguments.correction_weight}) and "
          f"{len(base_examples):,} examples of {arguments.base_data.name} into {arguments.output}", flush=True)
    report = fine_tune(
        base, examples, arguments.output, settings, base_name=base_name,
        extra={"corrections": len(corrections), "correction_weight": arguments.correction_weight,
               "base_data": str(arguments.base_data), "base_examples": len(base_examples)},
        progress=lambda line: print(line, flush=True),
    )
    print(f"wrote {arguments.output}: {report.steps} steps in {report.seconds:.0f} s. To score with it, set in "
          f"{arguments.config}:\n  sentiment:\n    model: {arguments.output.resolve()}")
    return 0
