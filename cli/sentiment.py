"""`overheard sentiment`: try the sentiment model on any text, correct it, measure it, and retrain it.

    overheard sentiment score --config C < texts.txt          # one JSON object per line of input
    overheard sentiment correct KEY LABEL --config C --as NAME [--brand B]
    overheard sentiment accuracy --config C                    # the model against people's corrections
    overheard sentiment train --config C --output DIR          # fine-tune the shipped model on the corrections

Each subcommand lives in its own module (cli/sentiment_score.py, cli/sentiment_corrections.py,
cli/sentiment_train.py) with `add_arguments(parser)` and `run(config, arguments) -> int`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cli import sentiment_corrections, sentiment_score, sentiment_train
from config import Config

_SUBCOMMANDS = {
    "score": (sentiment_score, "score texts read from stdin, one per line: one JSON object per line"),
    "correct": (sentiment_corrections, "correct the sentiment of a mention, or of one brand in it"),
    "accuracy": (sentiment_corrections, "the model's precision and recall against people's corrections"),
    "train": (sentiment_train, "fine-tune the shipped model on the corrections plus its base data"),
}


def add_sentiment_commands(commands: argparse._SubParsersAction) -> None:
    """Add `sentiment score|correct|accuracy|train` to the `overheard` parser."""
    sentiment = commands.add_parser("sentiment", help="try, correct, measure and retrain the sentiment model")
    subcommands = sentiment.add_subparsers(dest="sentiment_command", required=True)
    for name, (module, summary) in _SUBCOMMANDS.items():
        parser = subcommands.add_parser(name, help=summary, description=summary)
        parser.add_argument("--config", required=True, type=Path, help="the config file")
        module.add_arguments(name, parser)


def run_sentiment_command(config: Config, arguments: argparse.Namespace) -> int:
    """Run the chosen `overheard sentiment` subcommand; returns the exit status."""
    module, _ = _SUBCOMMANDS[arguments.sentiment_command]
    return module.run(arguments.sentiment_command, config, arguments)
