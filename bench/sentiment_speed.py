"""Benchmark: texts/s and peak RSS of the transformer sentiment backend against bare transformers.

With `--model shipped:overheard-sentiment-v1` (or any model directory) it measures that model;
otherwise it builds, without any network, a model of roberta-base's size: `RobertaConfig` defaults (12 layers,
768 wide, 50,265 token ids; 514 positions and 3 labels as in cardiffnlp's models) with random weights
(speed does not depend on the weights), and a byte-level BPE tokenizer trained with `tokenizers` on
train.tsv's tweets, saved together with `save_pretrained`. Then it scores the first N tweets of
val.tsv, each way in its own child process so that its peak RSS (wait4) is its own:

    bare         the model alone: tokenize + forward, batches of B in input order, torch.inference_mode (a)
    bare-sorted  the model alone on the texts tokenized once and batched by number of tokens, as the
                 backend batches them: the difference to the backend is the backend's own work
    backend      enrich.sentiment.TransformerSentiment(...).score(texts), batch B (b)
    pipeline     transformers.pipeline("text-classification"), one text per call, as naive code does (c)
    bare-single  (only with --steps) the model alone, one text per forward pass: what batching saves,
                 apart from the pipeline's own work
    enrich       (only with --steps) the enrich step: `enrich.pipeline.Enricher(config).enrich(mentions)`
                 on one mention per text (the tweet plus the brand name, so that every mention
                 matches), with `sentiment: {backend: auto, model: MODEL}`: brand matching,
                 ownership, language, sentiment per mention and per brand, reach. Its load time
                 is the Enricher's (the model's); its peak RSS is an enrich task's

Each child loads the model (not timed), warms up on one batch, then times one pass over the texts,
and prints the cores it kept busy (CPU time / wall time): well under the thread count means another
process took the CPU.
The steps take turns, R rounds of the four, so that a burst of other work on a shared machine does
not fall on one step only; each step's median and best pass are reported. `--precision bfloat16`
runs all four steps in bfloat16. Goals (issue): backend >= 90% of bare, backend >= 3x pipeline. The
last line printed is `backend_vs_bare=<b/a> backend_vs_pipeline=<b/c> peak_rss_mb=<max of the
children>`, from each step's best pass (as timeit does: other work only ever slows a pass down);
the line before it gives the same ratios from the medians. With the enrich step and bare measured,
one more line follows: `enrich_mentions_per_s=<x> enrich_vs_bare=<x/a> enrich_load_s=<s>
enrich_peak_rss_mb=<MB>` (best passes; goals: >= 300 mentions/s and >= 0.90).

Needs ../shared/data/sentiment/val.tsv (and train.tsv for the tokenizer; val.tsv is used if absent).

Usage:
    .venv/bin/python bench/sentiment_speed.py                          # 512 tweets, 3 rounds, ~5 min
    .venv/bin/python bench/sentiment_speed.py --precision bfloat16     # the same in bfloat16, ~2 min
    .venv/bin/python bench/sentiment_speed.py --texts 64 --repeat 1    # smoke check, ~40 s (building the model)
    .venv/bin/python bench/sentiment_speed.py --model shipped:overheard-sentiment-v1 --texts 2000 \
        --steps bare backend enrich --repeat 3                            # the shipped model through enrich, ~3 min
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from enrich.sentiment import Precision

# One way of scoring: it scores the texts it is given (what it returns is not used).
Scorer = Callable[[list[str]], object]

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sentiment"
STEPS = ("bare", "bare-sorted", "backend", "pipeline")
OPTIONAL_STEPS = ("bare-single", "enrich")
SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]  # RoBERTa's ids 0-4


@dataclass
class Step:
    """One way of scoring, measured in one child process per round.

    Attributes:
        name: bare, bare-sorted, backend or pipeline.
        passes: seconds of each timed pass over the texts, one per round.
        cores: CPU seconds / wall seconds of each pass.
        load_seconds: loading the model and tokenizer, per round.
        peak_rss_mb: the highest peak resident set (getrusage via wait4) of the step's children, in MB (10^6 bytes).
    """

    name: str
    passes: list[float]
    cores: list[float]
    load_seconds: list[float]
    peak_rss_mb: float

    def texts_per_second(self, texts: int) -> float:
        """Median pass, as texts/s."""
        return texts / statistics.median(self.passes)


def main() -> None:
    """Parse the flags; run the whole benchmark, or (in a child) one step of it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=512, help="tweets from val.tsv to score (default 512)")
    parser.add_argument("--batch-size", type=int, default=32, help="texts per forward pass (default 32)")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads in each child (default 2)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds: timed passes per step (default 3)")
    parser.add_argument(
        "--precision", choices=["float32", "bfloat16", "int8"], default="float32",
        help="float type of every step's model (int8: torch dynamic quantisation of the Linear layers)",
    )
    parser.add_argument(
        "--model", help="measure this model (a directory or shipped:<name>) instead of building a roberta-base-size one"
    )
    parser.add_argument("--data", type=Path, default=DATA, help=f"folder with val.tsv and train.tsv (default {DATA})")
    parser.add_argument(
        "--workdir", type=Path, help="where to save the model (default: a temp dir, removed at the end); kept if given"
    )
    parser.add_argument(
        "--steps", nargs="+", choices=STEPS + OPTIONAL_STEPS, default=list(STEPS),
        help=f"steps to measure (default: {' '.join(STEPS)})",
    )
    parser.add_argument("--step", choices=STEPS + OPTIONAL_STEPS, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.texts < 1 or arguments.repeat < 1 or arguments.batch_size < 1:
        parser.error("--texts, --repeat and --batch-size must be at least 1")
    if not (arguments.data / "val.tsv").is_file():
        parser.exit(2, f"{parser.prog}: skipped: {arguments.data / 'val.tsv'} is not there (see shared/data/README.md)\n")
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    texts = tweets(arguments.data / "val.tsv", arguments.texts)
    if arguments.step:
        print(json.dumps(measure(arguments.step, model_directory(arguments, arguments.workdir), texts, arguments)))
        return
    keep = arguments.workdir is not None
    workdir = arguments.workdir or Path(tempfile.mkdtemp(prefix="overheard-bench-sentiment-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        run_benchmark(workdir, texts, arguments)
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


def tweets(path: Path, count: int) -> list[str]:
    """The first `count` distinct texts of a `text<TAB>label` file."""
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    return list(dict.fromkeys(line.rpartition("\t")[0] for line in lines))[:count]


def run_benchmark(workdir: Path, texts: list[str], arguments: argparse.Namespace) -> None:
    """Build the model, measure the steps in turn in children, print the table and the summary line."""
    print(f"overheard sentiment speed benchmark: {len(texts)} tweets from {arguments.data / 'val.tsv'}, "
          f"batch {arguments.batch_size}, {arguments.threads} torch threads, {arguments.precision}, "
          f"{arguments.repeat} round(s)")
    print(f"workdir: {workdir}; load average {_load_average()}")
    model = model_directory(arguments, workdir)
    if not (model / "config.json").is_file():
        started = time.perf_counter()
        build_model(model, arguments.data)
        print(f"built the model in {time.perf_counter() - started:.1f} s")
    print(describe(model, texts, arguments.batch_size))
    by_name = {name: Step(name, [], [], [], 0.0) for name in arguments.steps}
    for round_number in range(1, arguments.repeat + 1):
        for name in arguments.steps:
            seconds, cpu_seconds, load_seconds, peak_rss_mb = _child(name, workdir, arguments)
            step = by_name[name]
            step.passes.append(seconds)
            step.cores.append(cpu_seconds / seconds)
            step.load_seconds.append(load_seconds)
            step.peak_rss_mb = max(step.peak_rss_mb, peak_rss_mb)
            print(f"round {round_number} {name}: {seconds:.2f} s, {len(texts) / seconds:,.1f} texts/s, "
                  f"CPU {cpu_seconds / seconds:.2f} cores, peak RSS {peak_rss_mb:,.0f} MB; "
                  f"load average {_load_average()}")
    steps = list(by_name.values())
    print()
    print("| step | texts/s median | texts/s best | passes s | CPU cores busy | load s | peak RSS MB |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for step in steps:
        passes = ", ".join(f"{seconds:.2f}" for seconds in step.passes)
        cores = ", ".join(f"{cores:.2f}" for cores in step.cores)
        print(f"| {step.name} | {step.texts_per_second(len(texts)):,.1f} | {len(texts) / min(step.passes):,.1f} "
              f"| {passes} | {cores} | {statistics.median(step.load_seconds):.1f} | {step.peak_rss_mb:,.0f} |")
    speed = {step.name: step.texts_per_second(len(texts)) for step in steps}
    best = {step.name: len(texts) / min(step.passes) for step in steps}
    if {"enrich", "bare"} <= set(speed):
        enrich = by_name["enrich"]
        print()
        print(f"enrich_mentions_per_s={best['enrich']:.1f} enrich_vs_bare={best['enrich'] / best['bare']:.2f} "
              f"enrich_load_s={statistics.median(enrich.load_seconds):.2f} enrich_peak_rss_mb={enrich.peak_rss_mb:.0f}")
    if not {"bare", "backend", "pipeline"} <= set(speed):
        return
    print()
    print(f"medians: backend_vs_bare={speed['backend'] / speed['bare']:.2f} "
          f"backend_vs_pipeline={speed['backend'] / speed['pipeline']:.2f}")
    print(f"backend_vs_bare={best['backend'] / best['bare']:.2f} "
          f"backend_vs_pipeline={best['backend'] / best['pipeline']:.2f} "
          f"peak_rss_mb={max(step.peak_rss_mb for step in steps):.0f}")


def model_directory(arguments: argparse.Namespace, workdir: Path) -> Path:
    """The model to measure: `--model` (a directory, or a shipped model by name), else the one built in workdir."""
    if not arguments.model:
        return workdir / "model"
    from enrich.sentiment import SHIPPED_PREFIX, shipped_model

    if arguments.model.startswith(SHIPPED_PREFIX):
        return shipped_model(arguments.model.removeprefix(SHIPPED_PREFIX))
    return Path(arguments.model)


def build_model(directory: Path, data: Path) -> None:
    """A randomly initialised roberta-base-size classifier and a BPE tokenizer trained on tweets, saved together."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaConfig, RobertaForSequenceClassification, RobertaTokenizerFast

    corpus = data / "train.tsv" if (data / "train.tsv").is_file() else data / "val.tsv"
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        (line.rpartition("\t")[0] for line in corpus.read_text(encoding="utf-8").splitlines()[1:]),
        vocab_size=RobertaConfig().vocab_size, min_frequency=2, special_tokens=SPECIAL_TOKENS, show_progress=False,
    )
    directory.mkdir(parents=True)
    vocab, merges = bpe.save_model(str(directory))
    tokenizer = RobertaTokenizerFast(vocab=vocab, merges=merges, model_max_length=512)
    labels = {0: "negative", 1: "neutral", 2: "positive"}
    config = RobertaConfig(max_position_embeddings=514, id2label=labels, label2id={v: k for k, v in labels.items()})
    torch.manual_seed(0)
    RobertaForSequenceClassification(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    print(f"tokenizer: byte-level BPE trained on {corpus.name}, {len(tokenizer):,} tokens")


def describe(model: Path, texts: list[str], batch_size: int) -> str:
    """Parameters, tokens per text, and how much of each batch is padding, in input order and sorted."""
    from transformers import AutoConfig, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)
    lengths = [len(ids) for ids in tokenizer(texts, truncation=True)["input_ids"]]

    def padded(order: list[int]) -> int:
        batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
        return sum(len(batch) * max(lengths[i] for i in batch) for batch in batches)

    in_order = padded(list(range(len(texts))))
    by_length = padded(sorted(range(len(texts)), key=lambda i: lengths[i], reverse=True))
    config = AutoConfig.from_pretrained(model)
    return (
        f"model: {type(config).__name__}, {config.num_hidden_layers} layers x {config.hidden_size}, "
        f"vocab {config.vocab_size:,}; "
        f"tokens per text: mean {statistics.mean(lengths):.1f}, max {max(lengths)}; "
        f"real tokens in padded batches: {sum(lengths) / in_order:.0%} in input order, "
        f"{sum(lengths) / by_length:.0%} batched by number of tokens"
    )


def measure(step: str, model: Path, texts: list[str], arguments: argparse.Namespace) -> dict[str, Any]:
    """In a child: load, warm up on one batch, then time one pass of one way of scoring."""
    import torch

    torch.set_num_threads(arguments.threads)
    started = time.perf_counter()
    score = SCORERS[step](model, arguments.batch_size, arguments.precision)
    load_seconds = time.perf_counter() - started
    score(texts[: arguments.batch_size])
    started, cpu_started = time.perf_counter(), time.process_time()
    score(texts)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    return {
        "seconds": seconds, "cpu_seconds": cpu_seconds, "load_seconds": load_seconds, "threads": torch.get_num_threads()
    }


def bare_model(model: Path, batch_size: int, precision: Precision, *, sort: bool = False) -> Scorer:
    """Tokenize + forward in batches, nothing else: in input order, or batched by number of tokens."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)
    network = AutoModelForSequenceClassification.from_pretrained(model, dtype=_dtype(torch, precision)).eval()
    if precision == "int8":
        network = torch.ao.quantization.quantize_dynamic(network, {torch.nn.Linear}, dtype=torch.qint8)

    def in_order(texts: list[str]) -> None:
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                encoded = tokenizer(texts[start : start + batch_size], padding=True, truncation=True,
                                    return_tensors="pt")
                network(**encoded).logits

    def by_tokens(texts: list[str]) -> None:
        encoded = tokenizer(texts, truncation=True)
        order = sorted(range(len(texts)), key=lambda index: len(encoded["input_ids"][index]), reverse=True)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                batch = tokenizer.pad({key: [encoded[key][i] for i in rows] for key in encoded.keys()},
                                      return_tensors="pt")
                network(**batch).logits

    return by_tokens if sort else in_order


def our_backend(model: Path, batch_size: int, precision: Precision) -> Scorer:
    """`TransformerSentiment` on the saved model, as the pipeline would build it."""
    from enrich.sentiment import TransformerSentiment

    return TransformerSentiment(str(model), device="cpu", batch_size=batch_size, precision=precision).score


def naive_pipeline(model: Path, batch_size: int, precision: Precision) -> Scorer:
    """`pipeline("text-classification")` called once per text, every class's probability returned."""
    import torch
    from transformers import pipeline

    classify = pipeline(
        "text-classification", model=str(model), device="cpu", dtype=_dtype(torch, precision), top_k=None
    )
    if precision == "int8":
        classify.model = torch.ao.quantization.quantize_dynamic(classify.model, {torch.nn.Linear}, dtype=torch.qint8)

    def score(texts: list[str]) -> None:
        for text in texts:
            classify(text, truncation=True)

    return score


def enrich_step(model: Path, batch_size: int, precision: Precision) -> Scorer:
    """The enrich step on one mention per text, sentiment by `model` as `auto` loads it; checks every mention matched."""
    from config.model import Config
    from core.mention import Mention
    from enrich.pipeline import Enricher

    config = Config.model_validate({
        "warehouse": {"path": "unused.duckdb"}, "staging": "unused",
        "brands": [{"name": "Brightwave", "aliases": ["Brightwave"]}],
        "sources": [{"kind": "rss", "name": "bench", "url": "https://bench.example/feed"}],
        "sentiment": {"backend": "auto", "model": str(model), "device": "cpu", "batch_size": batch_size,
                      "precision": precision},
    })
    enricher = Enricher(config)
    if enricher.sentiment.model.startswith("vader"):
        raise SystemExit(f"the enrich step fell back to VADER: {getattr(enricher.sentiment, 'reason', '')}")

    def score(texts: list[str]) -> None:
        mentions = [
            Mention("x", "bench", str(number), f"https://x.example/{number}", f"Brightwave: {text}")
            for number, text in enumerate(texts)
        ]
        enriched = sum(1 for _ in enricher.enrich(mentions))
        if enriched != len(texts):
            raise SystemExit(f"the enrich step kept {enriched} of {len(texts)} mentions")

    return score


def _dtype(torch: Any, precision: str) -> Any:
    """The torch dtype the weights load in (int8 loads in float32, then quantises)."""
    return torch.float32 if precision == "int8" else getattr(torch, precision)


SCORERS: dict[str, Callable[[Path, int, Precision], Scorer]] = {
    "bare": bare_model,
    "bare-sorted": lambda model, batch_size, precision: bare_model(model, batch_size, precision, sort=True),
    "backend": our_backend,
    "pipeline": naive_pipeline,
    "bare-single": lambda model, batch_size, precision: bare_model(model, 1, precision),
    "enrich": enrich_step,
}


def _child(name: str, workdir: Path, arguments: argparse.Namespace) -> tuple[float, float, float, float]:
    """Run one pass of one step in a fresh interpreter: seconds, CPU seconds, load seconds, peak RSS MB (wait4)."""
    output = workdir / f"{name}.out"
    command = [
        sys.executable, __file__, "--step", name, "--workdir", str(workdir), "--data", str(arguments.data),
        "--texts", str(arguments.texts), "--batch-size", str(arguments.batch_size),
        "--threads", str(arguments.threads), "--precision", arguments.precision,
        *(["--model", arguments.model] if arguments.model else []),
    ]
    with open(output, "w", encoding="utf-8") as handle:
        process = subprocess.Popen(command, stdout=handle, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        _, status, usage = os.wait4(process.pid, 0)
    text = output.read_text(encoding="utf-8")
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"step {name} failed (exit {os.waitstatus_to_exitcode(status)}); its output:\n{text}")
    report = json.loads(text.strip().splitlines()[-1])
    if report["threads"] != arguments.threads:
        raise SystemExit(f"step {name} ran with {report['threads']} torch threads, not {arguments.threads}")
    return report["seconds"], report["cpu_seconds"], report["load_seconds"], usage.ru_maxrss * 1024 / 1e6


def _load_average() -> str:
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


if __name__ == "__main__":
    main()
