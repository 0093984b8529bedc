"""Fine-tune a sentiment classifier: the shipped model's training, shared by its script and the CLI.

`training/train_sentiment.py` fine-tunes a pretrained encoder (all-MiniLM-L6-v2) on labelled tweets
into the shipped model; `overheard sentiment train` fine-tunes the shipped model again on people's
corrections plus the same base data. Both call `fine_tune`, which:

- prepares each text as the runtime does (`enrich.sentiment.tweeteval_text`);
- batches texts of similar length together (shuffled with a fixed seed, so a run is reproducible);
- weighs the loss of each class by the inverse of its share of the examples (negatives are 16% of
  train.tsv), which lifts macro-averaged recall, the metric the model is judged on;
- writes a directory `AutoModelForSequenceClassification` loads, with labels negative / neutral /
  positive, weights in float16 safetensors, the tokenizer, and `training.json` (what it was trained
  on, how, how long).

This module never reads the warehouse (enrich may not import it): the CLI reads the corrections and
passes them in as `LabelledText`. torch and transformers are imported inside the functions.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from enrich.sentiment import LABELS, Label, SentimentBackend, tweeteval_text

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

_SENTIMENTS: tuple[str, ...] = LABELS
TRAINING_RECORD = "training.json"
"""The file in a model directory that says how the model was trained."""


@dataclass(frozen=True)
class LabelledText:
    """A text and its sentiment, one training or evaluation example."""

    text: str
    label: Label


@dataclass(frozen=True)
class TrainingSettings:
    """How to fine-tune.

    Attributes:
        epochs: passes over the examples (a fraction trains on the first part of the last pass).
        batch_size: examples per optimiser step.
        learning_rate: AdamW's peak learning rate, reached after the warm-up and decayed linearly to 0.
        max_length: tokens per text; longer texts are cut (99% of train.tsv's tweets have under 48).
        warmup_share: the share of the steps over which the learning rate rises from 0.
        weight_decay: AdamW's decoupled weight decay.
        class_weighted: weigh each class's loss by total / (3 × its count), so each class counts alike.
        seed: seeds torch and the batch order; the same seed, data and settings give the same model.
        threads: torch intra-op threads (None: torch's default, the physical cores).
    """

    epochs: float = 1.0
    batch_size: int = 32
    learning_rate: float = 6e-5
    max_length: int = 128
    warmup_share: float = 0.06
    weight_decay: float = 0.01
    class_weighted: bool = True
    seed: int = 13
    threads: int | None = None


@dataclass(frozen=True)
class TrainingReport:
    """What a fine-tuning run did.

    Attributes:
        examples: labelled texts trained on (a text repeated counts as often as it is given).
        class_counts: examples per label.
        class_weights: the loss weight of each label.
        steps: optimiser steps taken.
        seconds: wall time of the training loop (loading and saving excluded).
        mean_loss_last_100: the mean training loss of the last 100 steps.
        settings: the settings used.
        base: the model or encoder it started from.
        data_sha256: the SHA-256 of the examples (text TAB label, one per line, in order).
        extra: anything the caller wants kept with the model (data files, corrections counted).
    """

    examples: int
    class_counts: dict[str, int]
    class_weights: dict[str, float]
    steps: int
    seconds: float
    mean_loss_last_100: float
    settings: TrainingSettings
    base: str
    data_sha256: str
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def seconds_per_step(self) -> float:
        """Mean wall time of one optimiser step."""
        return self.seconds / self.steps if self.steps else 0.0


@dataclass(frozen=True)
class Evaluation:
    """How a model's labels agree with the true ones on a labelled set.

    Attributes:
        confusion: confusion[true][predicted] = number of texts.
        macro_recall_interval: the 95% bootstrap interval of the macro-averaged recall.
        accuracy_interval: the 95% Wilson interval of the accuracy.
    """

    confusion: dict[str, dict[str, int]]
    macro_recall_interval: tuple[float, float]
    accuracy_interval: tuple[float, float]

    def recall(self, label: str) -> float:
        """Share of the texts labelled `label` predicted `label`."""
        return _ratio(self.confusion[label][label], sum(self.confusion[label].values()))

    def precision(self, label: str) -> float:
        """Share of the texts predicted `label` that are labelled `label`."""
        return _ratio(self.confusion[label][label], sum(row[label] for row in self.confusion.values()))

    def f1(self, label: str) -> float:
        """Harmonic mean of precision and recall."""
        precision, recall = self.precision(label), self.recall(label)
        return _ratio(2 * precision * recall, precision + recall)

    @property
    def total(self) -> int:
        """Texts scored."""
        return sum(sum(row.values()) for row in self.confusion.values())

    @property
    def macro_recall(self) -> float:
        """Unweighted mean of the three recalls (TweetEval's sentiment metric)."""
        return sum(self.recall(label) for label in LABELS) / len(LABELS)

    @property
    def macro_f1(self) -> float:
        """Unweighted mean of the three F1 scores."""
        return sum(self.f1(label) for label in LABELS) / len(LABELS)

    @property
    def accuracy(self) -> float:
        """Share of all texts predicted right."""
        return _ratio(sum(self.confusion[label][label] for label in LABELS), self.total)

    def summary(self) -> str:
        """`macro_recall=<x> [lo, hi] macro_f1=<y> accuracy=<z> [lo, hi]`."""
        low, high = self.macro_recall_interval
        accuracy_low, accuracy_high = self.accuracy_interval
        return (
            f"macro_recall={self.macro_recall:.4f} [{low:.4f}, {high:.4f}] macro_f1={self.macro_f1:.4f} "
            f"accuracy={self.accuracy:.4f} [{accuracy_low:.4f}, {accuracy_high:.4f}] (n={self.total})"
        )


def read_labelled_texts(path: Path) -> list[LabelledText]:
    """The examples of a `text<TAB>label` file (header `text<TAB>label`; each line split at its last tab).

    Raises:
        FileNotFoundError: the file is not there.
        ValueError: a wrong header, or a line without a tab or a sentiment label (with its line number).
    """
    examples: list[LabelledText] = []
    with path.open(encoding="utf-8", newline="\n") as lines:
        header = next(lines, "").rstrip("\r\n")
        if header != "text\tlabel":
            raise ValueError(f"{path}: the header must be 'text<TAB>label', not {header!r}")
        for number, line in enumerate(lines, start=2):
            text, tab, label = line.rstrip("\r\n").rpartition("\t")
            if not tab or label not in LABELS:
                raise ValueError(f"{path}:{number}: expected text<TAB>negative|neutral|positive, got {line[:80]!r}")
            examples.append(LabelledText(text, LABELS[LABELS.index(label)]))
    return examples


def fine_tune(
    base: Path,
    examples: Sequence[LabelledText],
    output: Path,
    settings: TrainingSettings = TrainingSettings(),
    *,
    base_name: str | None = None,
    extra: dict[str, object] | None = None,
    progress: Callable[[str], None] = logger.info,
) -> TrainingReport:
    """Fine-tune the model or encoder in `base` on `examples` and save the classifier to `output`.

    Args:
        base: a directory `AutoModelForSequenceClassification` loads: a bare encoder (a new
            classification head is added) or a sentiment classifier with labels negative / neutral /
            positive (its head is kept and trained further).
        examples: the labelled texts, in the order the seed shuffles; a text given twice weighs twice.
        output: the directory to write (created; files in it are overwritten).
        settings: how to train.
        base_name: what to record as the base in `training.json` (default: the directory).
        extra: more facts to record in `training.json` (data files, corrections counted).
        progress: called with a line of progress every 100 steps.

    Returns:
        What the run did, also written to `output/training.json`.

    Raises:
        ValueError: no examples, a class with no example, or settings out of range.
    """
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup

    distinct = list(examples)
    counts = Counter(example.label for example in distinct)
    if missing := [label for label in LABELS if not counts[label]]:
        raise ValueError(f"no training example labelled {', '.join(missing)}: every sentiment needs examples")
    if settings.epochs <= 0 or settings.batch_size < 1 or settings.max_length < 8:
        raise ValueError(f"epochs must be > 0, batch_size >= 1 and max_length >= 8: {settings}")
    if settings.threads:
        torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    shuffler = random.Random(settings.seed)

    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    network = AutoModelForSequenceClassification.from_pretrained(
        base,
        local_files_only=True,
        dtype=torch.float32,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={label: index for index, label in enumerate(LABELS)},
    )
    encoded = tokenizer(
        [tweeteval_text(example.text) for example in distinct], truncation=True, max_length=settings.max_length
    )["input_ids"]
    targets = [LABELS.index(example.label) for example in distinct]
    weights: dict[str, float] = {
        label: (len(distinct) / (len(LABELS) * counts[label])) if settings.class_weighted else 1.0 for label in LABELS
    }
    loss_function = torch.nn.CrossEntropyLoss(weight=torch.tensor([weights[label] for label in LABELS]))

    steps_per_epoch = math.ceil(len(distinct) / settings.batch_size)
    total_steps = max(1, math.ceil(steps_per_epoch * settings.epochs))
    optimiser = torch.optim.AdamW(
        _decay_groups(network, settings.weight_decay), lr=settings.learning_rate
    )
    schedule = get_linear_schedule_with_warmup(optimiser, int(total_steps * settings.warmup_share), total_steps)
    network.train()
    losses: list[float] = []
    started = time.perf_counter()
    step = 0
    while step < total_steps:
        for rows in _length_bucketed_batches(encoded, settings.batch_size, shuffler):
            if step >= total_steps:
                break
            batch = tokenizer.pad({"input_ids": [encoded[row] for row in rows]}, return_tensors="pt")
            logits = network(**batch).logits
            loss = loss_function(logits, torch.tensor([targets[row] for row in rows]))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
            optimiser.step()
            schedule.step()
            optimiser.zero_grad()
            losses.append(loss.item())
            step += 1
            if step % 100 == 0 or step == total_steps:
                elapsed = time.perf_counter() - started
                progress(
                    f"step {step}/{total_steps} (epoch {step / steps_per_epoch:.2f}): loss "
                    f"{sum(losses[-100:]) / len(losses[-100:]):.4f}, {elapsed / step:.3f} s/step, "
                    f"{elapsed / step * (total_steps - step) / 60:.1f} min to go"
                )
    seconds = time.perf_counter() - started
    report = TrainingReport(
        examples=len(distinct),
        class_counts={label: counts[label] for label in LABELS},
        class_weights=weights,
        steps=step,
        seconds=seconds,
        mean_loss_last_100=sum(losses[-100:]) / len(losses[-100:]),
        settings=settings,
        base=base_name or str(base),
        data_sha256=_examples_sha256(distinct),
        extra=dict(extra or {}),
    )
    save_model(network, tokenizer, output, report)
    return report


def save_model(network: torch.nn.Module, tokenizer: object, output: Path, report: TrainingReport) -> None:
    """Write the classifier in float16 safetensors, its tokenizer, and `training.json`.

    The tokenizer's `model_max_length` becomes the training `max_length`, so the runtime cuts texts
    where training did. Loading with a float32 dtype (as `TransformerSentiment` does) casts back.
    """
    import torch

    output.mkdir(parents=True, exist_ok=True)
    network.eval()
    network.to(torch.float16).save_pretrained(output)  # type: ignore[operator]  # a PreTrainedModel
    network.to(torch.float32)
    tokenizer.model_max_length = report.settings.max_length  # type: ignore[attr-defined]
    tokenizer.save_pretrained(output)  # type: ignore[attr-defined]
    record = asdict(report) | {"seconds_per_step": report.seconds_per_step, "labels": list(LABELS)}
    (output / TRAINING_RECORD).write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")


def evaluate(backend: SentimentBackend, examples: Sequence[LabelledText], *, seed: int = 13) -> Evaluation:
    """Score `examples` with `backend` in one call and compare with their labels.

    Args:
        backend: any sentiment backend.
        examples: the labelled texts.
        seed: seeds the bootstrap of the macro-recall interval (1,000 resamples).

    Returns:
        The confusion matrix, with a 95% bootstrap interval of the macro recall and a Wilson interval of the accuracy.
    """
    predicted = [score.label for score in backend.score([example.text for example in examples])]
    truth = [example.label for example in examples]
    return agreement(truth, predicted, seed=seed)


def agreement(truth: Sequence[str], predicted: Sequence[str], *, seed: int = 13, resamples: int = 1000) -> Evaluation:
    """The confusion matrix of `predicted` against `truth`, with 95% intervals.

    Args:
        truth: the true labels.
        predicted: the predicted labels, in the same order.
        seed: seeds the bootstrap.
        resamples: bootstrap resamples of the macro recall (percentile interval).
    """
    confusion = {label: dict.fromkeys(_SENTIMENTS, 0) for label in _SENTIMENTS}
    pairs = list(zip(truth, predicted, strict=True))
    for true, guess in pairs:
        confusion[true][guess] += 1
    correct = sum(confusion[label][label] for label in LABELS)
    return Evaluation(
        confusion=confusion,
        macro_recall_interval=_bootstrap_macro_recall(pairs, seed, resamples),
        accuracy_interval=wilson_interval(correct, len(pairs)),
    )


def wilson_interval(successes: int, trials: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95% by default); (0, 1) for no trials."""
    if trials == 0:
        return 0.0, 1.0
    share = successes / trials
    centre = (share + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


def _bootstrap_macro_recall(pairs: list[tuple[str, str]], seed: int, resamples: int) -> tuple[float, float]:
    if not pairs:
        return 0.0, 1.0
    draw = random.Random(seed)
    values = []
    for _ in range(resamples):
        hits = dict.fromkeys(_SENTIMENTS, 0)
        totals = dict.fromkeys(_SENTIMENTS, 0)
        for true, guess in draw.choices(pairs, k=len(pairs)):
            totals[true] += 1
            hits[true] += true == guess
        present = [label for label in LABELS if totals[label]]
        values.append(sum(hits[label] / totals[label] for label in present) / len(present))
    values.sort()
    return values[int(0.025 * resamples)], values[min(resamples - 1, int(0.975 * resamples))]


def _length_bucketed_batches(encoded: Sequence[Sequence[int]], batch_size: int, shuffler: random.Random) -> list[list[int]]:
    """One epoch's batches: shuffled, then sorted by length within pools of 50 batches, batches shuffled.

    Texts of similar length share a batch, so little of it is padding, while the order stays random.
    """
    order = list(range(len(encoded)))
    shuffler.shuffle(order)
    pool = batch_size * 50
    batches: list[list[int]] = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda row: len(encoded[row]))
        batches.extend(chunk[offset : offset + batch_size] for offset in range(0, len(chunk), batch_size))
    shuffler.shuffle(batches)
    return batches


def _decay_groups(network: torch.nn.Module, weight_decay: float) -> list[dict[str, object]]:
    """AdamW parameter groups: no weight decay on biases and LayerNorm weights (as BERT was trained)."""
    decay: list[torch.nn.Parameter] = []
    no_decay: list[torch.nn.Parameter] = []
    for name, parameter in network.named_parameters():
        (no_decay if name.endswith("bias") or "LayerNorm" in name else decay).append(parameter)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _examples_sha256(examples: Sequence[LabelledText]) -> str:
    digest = hashlib.sha256()
    for example in examples:
        digest.update(f"{example.text}\t{example.label}\n".encode())
    return digest.hexdigest()


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0
