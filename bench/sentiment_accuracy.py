"""Benchmark: how well a sentiment backend labels a file of labelled texts.

Reads FILE.tsv: a header `text<TAB>label`, then one text per line with its label (negative, neutral
or positive). Each line is split at its last tab and nothing else: quotes are part of the text, as in
TweetEval. Every text is scored with `enrich.sentiment.sentiment_backend(BACKEND, MODEL, ...)`, in one
call, as a task would. It prints the backend's model, the confusion matrix, recall, precision and F1
per class, and texts/s (scoring only, model loading excluded). The last line is
`macro_recall=<x> macro_f1=<y> accuracy=<z>` (fractions, 4 decimals). Macro-averaged recall is
TweetEval's official sentiment metric.

Usage:
    .venv/bin/python bench/sentiment_accuracy.py ../shared/data/sentiment/val.tsv --backend lexicon
    .venv/bin/python bench/sentiment_accuracy.py ../shared/data/sentiment/val.tsv --backend transformers \\
        --model cardiffnlp/twitter-roberta-base-sentiment-latest     # the model must be on this machine
    .venv/bin/python bench/sentiment_accuracy.py FILE.tsv --backend auto --limit 200   # smoke check
    .venv/bin/python bench/sentiment_accuracy.py ../shared/data/sentiment/val.tsv --backend auto --precision int8

With `--backend auto` and no `--model` it measures the shipped model (shipped:overheard-sentiment-v1),
as the pipeline's default does; the `backend:` line shows the model chosen and why.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from enrich.sentiment import LABELS
from enrich.sentiment_training import agreement, read_labelled_texts


def main() -> None:
    """Parse the flags, score the file, print the report and the summary line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path, help="labelled TSV: header text<TAB>label")
    parser.add_argument("--backend", choices=["lexicon", "transformers", "auto"], default="auto")
    parser.add_argument("--model", help="hub name (org/name[@revision]) or local directory; default: the default model")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default auto)")
    parser.add_argument("--batch-size", type=int, default=32, help="texts per forward pass (default 32)")
    parser.add_argument(
        "--precision", choices=["float32", "bfloat16", "float16", "int8"], default="float32",
        help="the transformer's weights (default float32; int8: torch dynamic quantisation)",
    )
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's, the physical cores)")
    parser.add_argument("--limit", type=int, help="score only the first N rows")
    arguments = parser.parse_args()
    if not arguments.file.is_file():
        parser.error(f"{arguments.file} does not exist (the labelled tweets are in ../shared/data/sentiment/)")

    from enrich.sentiment import SentimentModelUnavailable, sentiment_backend

    examples = read_labelled_texts(arguments.file)[: arguments.limit]
    texts, truth = [example.text for example in examples], [example.label for example in examples]
    if arguments.threads and arguments.backend != "lexicon":
        import torch

        torch.set_num_threads(arguments.threads)
    started = time.perf_counter()
    try:
        backend = sentiment_backend(
            arguments.backend, arguments.model, arguments.device, arguments.batch_size, arguments.precision
        )
    except SentimentModelUnavailable as missing:
        parser.exit(2, f"{parser.prog}: cannot run the {arguments.backend} backend here: {missing}\n")
    loaded = time.perf_counter()
    scores = backend.score(texts)
    scored = time.perf_counter()
    result = agreement(truth, [score.label for score in scores])

    print(f"file: {arguments.file} ({len(texts):,} texts, {len(set(texts)):,} distinct)")
    print(f"backend: {arguments.backend} -> {backend.model}")
    if reason := getattr(backend, "reason", None):
        print(f"reason: {reason}")
    print(f"loading: {loaded - started:.2f} s; scoring: {scored - loaded:.2f} s, {len(texts) / (scored - loaded):,.1f} texts/s")
    print()
    print("true \\ predicted  " + "".join(f"{label:>10}" for label in LABELS) + "     total")
    for label in LABELS:
        row = result.confusion[label]
        print(f"{label:<17} " + "".join(f"{row[guess]:>10,}" for guess in LABELS) + f"{sum(row.values()):>10,}")
    print()
    print(f"{'class':<10}{'recall':>10}{'precision':>11}{'F1':>8}")
    for label in LABELS:
        print(f"{label:<10}{result.recall(label):>10.4f}{result.precision(label):>11.4f}{result.f1(label):>8.4f}")
    print()
    print(f"macro_recall={result.macro_recall:.4f} macro_f1={result.macro_f1:.4f} accuracy={result.accuracy:.4f}")


if __name__ == "__main__":
    main()
