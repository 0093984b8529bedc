"""Sentiment scoring behind one interface.

Three ways to score, chosen by `sentiment_backend` from `sentiment.backend`:

- `auto` (the default): the Hugging Face model `sentiment.model` names, when it can be loaded here;
  else the model Overheard ships (`SHIPPED_MODEL`, in enrich/sentiment_models/: all-MiniLM-L6-v2
  fine-tuned on SemEval-2017 tweets, see docs/sentiment-model.md); else VADER. The choice and why
  are logged and kept on the backend as `reason`, which every scored row records
  (`sentiment_reason`); its `model` is recorded per row too (`shipped:overheard-sentiment-v1`).
- `transformers` (`TransformerSentiment`): any Hugging Face sequence-classification model, by hub
  name or local directory, loaded from local files only (a directory, or the Hugging Face cache). It
  never downloads. Without `sentiment.model` it is `DEFAULT_TRANSFORMER_MODEL` (English tweets);
  for mentions in several languages use `MULTILINGUAL_TRANSFORMER_MODEL`, whose tokenizer needs the
  sentencepiece package.
- `lexicon` (`LexiconSentiment`, VADER): no model files, the baseline and the last fallback.

Loading a transformer takes about a second (the shipped model) to several (roberta-base), so a task
builds one backend and scores all its batches with it. torch and transformers are imported only
when a transformer backend is built, never when this module is imported.
"""

from __future__ import annotations

import importlib.util
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from types import ModuleType

    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

Label = Literal["negative", "neutral", "positive"]
BackendName = Literal["lexicon", "transformers", "auto"]
Precision = Literal["float32", "bfloat16", "float16", "int8"]

LABELS: tuple[Label, ...] = ("negative", "neutral", "positive")
DEFAULT_TRANSFORMER_MODEL = "cardiffnlp/twitter-roberta-base-sentiment-latest"
"""English tweets (TweetEval), labels negative / neutral / positive."""
MULTILINGUAL_TRANSFORMER_MODEL = "cardiffnlp/twitter-xlm-roberta-base-sentiment"
"""Tweets in 8 languages (ar, en, fr, de, hi, it, es, pt), labels negative / neutral / positive."""
SHIPPED_MODEL = "overheard-sentiment-v1"
"""The model shipped in enrich/sentiment_models/, which `auto` uses when no other model is configured."""
SHIPPED_MODELS = Path(__file__).resolve().parent / "sentiment_models"
SHIPPED_PREFIX = "shipped:"
"""`sentiment.model: shipped:<name>` names a shipped model; rows it scores record `shipped:<name>`."""

logger = logging.getLogger(__name__)


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


class SentimentModelUnavailable(RuntimeError):
    """The transformer model's files (or torch and transformers) are not on this machine.

    Terminal: retrying does not help until the model is copied here or the config points elsewhere.
    """


class LexiconSentiment:
    """VADER: a lexicon and rules tuned for social media text (emoji, caps, "!!!", slang).

    The label follows VADER's own thresholds: compound >= 0.05 positive, <= -0.05 negative.
    """

    model = f"vader-{version('vaderSentiment')}"

    def __init__(self, fallback_reason: str | None = None, reason: str | None = None) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._analyzer = SentimentIntensityAnalyzer()
        self.fallback_reason = fallback_reason
        """Why `auto` scored with the lexicon instead of a transformer (None when it was asked for)."""
        self.reason = reason
        """Why this backend scores, for each row's `sentiment_reason` (None: it was configured by name)."""

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


class TransformerSentiment:
    """A Hugging Face sequence-classification model, run in batches.

    Loading the model takes seconds and hundreds of MB, so build one instance per task (or process)
    and pass it to every caller; `score` may be called any number of times.

    Per call to `score`: identical texts (retweets, syndicated copies) are scored once; the distinct
    texts are tokenized, cut at the model's maximum input length (`max_length`), sorted by their
    number of tokens so that a batch pads little, scored `batch_size` at a time, and the scores come
    back in input order.

    The model's classes are mapped to negative / neutral / positive by `sentiment_classes`;
    `probabilities` sums the class probabilities per sentiment, `score` is P(positive) − P(negative)
    and `label` the most probable sentiment. Models without a neutral class give it probability 0.

    Attributes:
        model: `transformers:<name or path>@<revision>`: the commit of the cached snapshot for a hub
            name, `local` for a directory; `+bfloat16` or `+float16` follows when the model runs in
            that precision, since its scores differ slightly. Every scored row carries it.
        max_length: tokens per text that reach the model; longer texts are truncated.
        device: where the model runs.
        network: the loaded `PreTrainedModel`, in eval mode.
    """

    def __init__(
        self,
        model: str = DEFAULT_TRANSFORMER_MODEL,
        *,
        revision: str | None = None,
        device: str = "auto",
        batch_size: int = 32,
        precision: Precision = "float32",
        cache_dir: str | Path | None = None,
        mask_users_and_links: bool = True,
        model_id: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Load the model from local files.

        Args:
            model: a hub name (`org/name`) found in the Hugging Face cache, or a directory written by
                `save_pretrained`.
            revision: a branch, tag or commit of a hub name (default: the cached `main`).
            device: `cpu`, `cuda`, `cuda:N` or `auto` (CUDA when torch sees one, else the CPU).
            batch_size: texts per forward pass.
            precision: the weights' float type. `bfloat16` ran 3.6x faster than float32 on this
                project's CPUs (AVX512-BF16; see docs/benchmarks.md), with slightly different
                probabilities; `float16` is for GPUs; `int8` loads in float32 then applies torch's
                dynamic int8 quantisation to the Linear layers (CPU only).
            cache_dir: the Hugging Face hub cache to look in (default: HF_HUB_CACHE / HF_HOME's).
            mask_users_and_links: replace @handles by `@user` and links by `http` before scoring,
                as the TweetEval models (cardiffnlp) were trained.
            model_id: what to record as `model` instead of `transformers:<model>@<revision>` (the
                precision suffix follows it), e.g. `shipped:overheard-sentiment-v1`.
            reason: why this model scores, recorded per row (`sentiment_reason`).

        Raises:
            SentimentModelUnavailable: the model's files, or torch and transformers, are not here.
            ValueError: an unknown device or precision, a batch size below 1, or labels that are not sentiments.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        if precision not in ("float32", "bfloat16", "float16", "int8"):
            raise ValueError(f"unknown precision {precision!r}; use float32, bfloat16, float16 or int8")
        directory, resolved_revision = locate_model(model, revision, cache_dir)
        try:
            import torch
            from transformers import AutoModelForSequenceClassification, AutoTokenizer
        except ImportError as missing:
            raise SentimentModelUnavailable(
                f"the transformers sentiment backend needs torch and transformers ({missing}); "
                "install them with `pip install -r requirements.txt`"
            ) from missing
        self.device = _resolve_device(device, torch)
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
            network = AutoModelForSequenceClassification.from_pretrained(
                directory, local_files_only=True, dtype=torch.float32 if precision == "int8" else getattr(torch, precision)
            )
        except (OSError, ValueError) as incomplete:  # files missing from the directory or the snapshot
            raise SentimentModelUnavailable(
                f"sentiment model {model!r} could not be loaded from {directory} ({incomplete}). "
                + _how_to_load(model, directory)
            ) from incomplete
        self.network = network.to(self.device).eval()
        if precision == "int8":
            if self.device != "cpu":
                raise ValueError(f"int8 runs on the CPU only, not on {self.device}")
            # Dynamic quantisation: Linear weights stored in int8, activations quantised per batch.
            self.network = torch.ao.quantization.quantize_dynamic(self.network, {torch.nn.Linear}, dtype=torch.qint8)
        classes = sentiment_classes(network.config.id2label)
        # (model classes × 3) matrix that sums each class's probability into its sentiment.
        self._to_sentiment = torch.zeros(len(classes), len(LABELS))
        for index, label in classes.items():
            self._to_sentiment[index, LABELS.index(label)] = 1.0
        self._torch = torch
        self.model = (model_id or f"transformers:{model}@{resolved_revision}") + (
            "" if precision == "float32" else f"+{precision}"
        )
        self.reason = reason
        self.max_length = _max_input_tokens(self._tokenizer, network)
        self.batch_size = batch_size
        self.mask_users_and_links = mask_users_and_links

    def score(self, texts: Sequence[str]) -> list[SentimentScore]:
        """One score per text, in order.

        Args:
            texts: any number of texts; duplicates are scored once.

        Returns:
            The scores, in the order of `texts`.
        """
        prepared = [tweeteval_text(text) if self.mask_users_and_links else text for text in texts]
        distinct = list(dict.fromkeys(prepared))
        if not distinct:
            return []
        # Tokenize once, then batch the texts longest first so that each batch pads little.
        encoded = self._tokenizer(distinct, truncation=True, max_length=self.max_length)
        order = sorted(range(len(distinct)), key=lambda index: len(encoded["input_ids"][index]), reverse=True)
        by_text: dict[str, list[float]] = {}
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            batch = {key: [encoded[key][index] for index in rows] for key in encoded.keys()}
            probabilities = self._sentiment_probabilities(batch).tolist()
            by_text.update(zip((distinct[index] for index in rows), probabilities, strict=True))
        return [self._score_from(by_text[text]) for text in prepared]

    def _sentiment_probabilities(self, batch: dict[str, list[list[int]]]) -> torch.Tensor:
        """(texts × 3) negative, neutral, positive probabilities of a batch of tokenized texts."""
        torch = self._torch
        padded = self._tokenizer.pad(batch, return_tensors="pt").to(self.device)
        with torch.inference_mode():
            logits = self.network(**padded).logits
        return torch.softmax(logits.float(), dim=-1).cpu() @ self._to_sentiment

    def _score_from(self, probabilities: list[float]) -> SentimentScore:
        negative, neutral, positive = probabilities
        return SentimentScore(
            label=LABELS[max(range(len(LABELS)), key=probabilities.__getitem__)],
            score=positive - negative,
            probabilities={"negative": negative, "neutral": neutral, "positive": positive},
            model=self.model,
        )


def sentiment_backend(
    name: BackendName = "auto",
    model: str | None = None,
    device: str = "auto",
    batch_size: int = 32,
    precision: Precision = "float32",
) -> SentimentBackend:
    """The backend called `name`, ready to score.

    Args:
        name: `lexicon` (VADER); `transformers` (a Hugging Face model, which must be on this machine);
            or `auto`: the model `model` names when it can be loaded here, else the shipped model
            (`SHIPPED_MODEL`), else the lexicon; each fallback is logged as a warning saying why.
        model: for `transformers` and `auto`, a hub name, optionally pinned as `org/name@revision`,
            a local directory, or `shipped:<name>` (default: `DEFAULT_TRANSFORMER_MODEL` for
            `transformers`, the shipped model for `auto`). Ignored by `lexicon`.
        device: `cpu`, `cuda`, `cuda:N` or `auto`.
        batch_size: texts per forward pass of the transformer.
        precision: float32, bfloat16, float16 or int8 (see `TransformerSentiment`).

    Returns:
        A backend; build it once per task and reuse it. Its `reason` says, for `auto`, which model
        was chosen and why (also logged); it is None for a backend named in the config.

    Raises:
        ValueError: a name that is not a backend; for `transformers` and `auto`, an unknown device or
            precision, a CUDA device torch cannot see, or a model whose labels are not sentiments.
        SentimentModelUnavailable: for `transformers` when the model is not on this machine.
    """
    if name == "lexicon":
        return LexiconSentiment()
    if name == "transformers":
        return _transformer(model or DEFAULT_TRANSFORMER_MODEL, device, batch_size, precision, reason=None)
    if name != "auto":
        raise ValueError(f"unknown sentiment backend {name!r}; available: lexicon, transformers, auto")
    why = "auto: no sentiment.model configured"
    if model:
        try:
            backend = _transformer(model, device, batch_size, precision, reason=f"auto: sentiment.model {model} loaded")
        except SentimentModelUnavailable as missing:
            logger.warning("sentiment: sentiment.model %r cannot be loaded here, trying the shipped model: %s", model,
                           missing)
            why = f"auto: sentiment.model {model} could not be loaded ({_first_sentence(missing)})"
        else:
            logger.info("sentiment: %s (%s)", backend.model, backend.reason)
            return backend
    try:
        backend = _transformer(
            SHIPPED_PREFIX + SHIPPED_MODEL, device, batch_size, precision, reason=f"{why}; shipped model {SHIPPED_MODEL}"
        )
    except SentimentModelUnavailable as missing:
        why += f"; shipped model {SHIPPED_MODEL} could not be loaded ({_first_sentence(missing)})"
        logger.warning("sentiment: falling back to the lexicon backend (%s): %s", LexiconSentiment.model, missing)
        why += f"; lexicon {LexiconSentiment.model}"
        return LexiconSentiment(fallback_reason=why, reason=why)
    logger.info("sentiment: %s (%s)", backend.model, backend.reason)
    return backend


def shipped_model(name: str = SHIPPED_MODEL) -> Path:
    """The directory of a model shipped in enrich/sentiment_models/.

    Raises:
        SentimentModelUnavailable: no shipped model has that name (saying which there are).
    """
    directory = SHIPPED_MODELS / name
    if not (directory / "config.json").is_file():
        shipped = sorted(path.parent.name for path in SHIPPED_MODELS.glob("*/config.json"))
        raise SentimentModelUnavailable(
            f"no shipped sentiment model {name!r} in {SHIPPED_MODELS} (shipped: {', '.join(shipped) or 'none'}). "
            "Reinstall Overheard, or build it with `training/train_sentiment.py`."
        )
    return directory


def _transformer(
    model: str, device: str, batch_size: int, precision: Precision, *, reason: str | None
) -> TransformerSentiment:
    """A `TransformerSentiment` for a hub name (`@revision` allowed), a directory or `shipped:<name>`."""
    if model.startswith(SHIPPED_PREFIX):
        return TransformerSentiment(
            str(shipped_model(model.removeprefix(SHIPPED_PREFIX))), device=device, batch_size=batch_size,
            precision=precision, model_id=model, reason=reason,
        )
    source, revision = _split_revision(model)
    return TransformerSentiment(
        source, revision=revision, device=device, batch_size=batch_size, precision=precision, reason=reason
    )


def _first_sentence(error: Exception) -> str:
    """An error's first sentence, short enough to repeat on every row it concerns."""
    text = str(error)
    return text.split(". ", 1)[0].rstrip(".")


def locate_model(model: str, revision: str | None = None, cache_dir: str | Path | None = None) -> tuple[Path, str]:
    """Where the model's files are on this machine, without any network access.

    Args:
        model: a directory, or a hub name looked up in the Hugging Face cache.
        revision: for a hub name, a branch, tag or commit (default `main`).
        cache_dir: the hub cache (default: the one huggingface_hub uses).

    Returns:
        The directory to load from, and the revision to record: the snapshot's commit for a hub
        name, `local` for a directory.

    Raises:
        SentimentModelUnavailable: neither a directory nor in the cache, saying what to do.
    """
    if Path(model).expanduser().is_dir():
        return Path(model).expanduser(), "local"
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError
    except ImportError as missing:
        raise SentimentModelUnavailable(
            f"sentiment model {model!r} is not a local directory, and huggingface_hub is not installed to look "
            f"in the Hugging Face cache ({missing}); install it with `pip install -r requirements.txt`"
        ) from missing
    try:
        snapshot = Path(
            snapshot_download(model, revision=revision, cache_dir=cache_dir, local_files_only=True)  # never downloads
        )
    except (LocalEntryNotFoundError, HFValidationError) as missing:
        pinned = f"{model}@{revision}" if revision else model
        raise SentimentModelUnavailable(
            f"sentiment model {pinned!r} is not on this machine: it is neither a directory nor in the Hugging Face "
            f"cache ({cache_dir or _default_cache()}). " + _how_to_make_available(model, revision)
        ) from missing
    return snapshot, snapshot.name


_LABEL_INDEX = re.compile(r"(?:label_?)?(\d+)")
_STARS = re.compile(r"(\d)\s*stars?")
_WORD_SENTIMENT: dict[str, Label] = {
    "negative": "negative", "neg": "negative", "neutral": "neutral", "neu": "neutral", "positive": "positive",
    "pos": "positive",
}
# Models whose labels are bare indices (LABEL_0, LABEL_1, ... or 0, 1, ...), by number of classes.
_INDEX_CONVENTIONS: dict[int, tuple[Label, ...]] = {
    2: ("negative", "positive"),  # SST-2 and most binary sentiment models
    3: ("negative", "neutral", "positive"),  # cardiffnlp/twitter-roberta-base-sentiment, TweetEval
    5: ("negative", "negative", "neutral", "positive", "positive"),  # 1-5 stars, SST-5 very negative..very positive
}


def sentiment_classes(id2label: Mapping[int, str]) -> dict[int, Label]:
    """Which sentiment each of a model's classes stands for.

    Understood labels (case and surrounding words ignored):

    - words: `negative`/`neg`, `neutral`/`neu`, `positive`/`pos`, also within `Very Negative`,
      `LABEL_NEG` and the like;
    - stars: `1 star` and `2 stars` negative, `3 stars` neutral, `4 stars` and `5 stars` positive;
    - bare indices (`LABEL_0`, `LABEL_1`, ... or `0`, `1`, ...), by number of classes:
      2 classes: 0 negative, 1 positive; 3 classes: 0 negative, 1 neutral, 2 positive;
      5 classes: 0-1 negative, 2 neutral, 3-4 positive (read as 1-5 stars).

    Args:
        id2label: the model config's `id2label`.

    Returns:
        Class index → negative, neutral or positive.

    Raises:
        ValueError: labels that do not read as sentiments, or without both a negative and a positive class.
    """
    classes: dict[int, Label] = {}
    for index, raw in sorted(id2label.items()):
        sentiment = _sentiment_of(raw.strip().lower(), index, len(id2label))
        if sentiment is None:
            raise ValueError(
                f"cannot tell which sentiment the model's label {raw!r} stands for (labels: {dict(id2label)}); use a "
                "model whose labels are negative/neutral/positive, 1-5 stars, or LABEL_0.. with 2, 3 or 5 classes"
            )
        classes[index] = sentiment
    if not {"negative", "positive"} <= set(classes.values()):
        raise ValueError(f"a sentiment model needs a negative and a positive class; its labels are {dict(id2label)}")
    return classes


def _sentiment_of(label: str, index: int, classes: int) -> Label | None:
    if bare := _LABEL_INDEX.fullmatch(label):
        convention = _INDEX_CONVENTIONS.get(classes)
        return convention[index] if convention and int(bare.group(1)) == index else None
    if stars := _STARS.fullmatch(label):
        count = int(stars.group(1))
        return LABELS[(count > 2) + (count > 3)] if 1 <= count <= 5 else None
    words = {_WORD_SENTIMENT[word] for word in re.split(r"[^a-z]+", label) if word in _WORD_SENTIMENT}
    return words.pop() if len(words) == 1 else None


_USER = re.compile(r"(?<!\S)@\w+")
_LINK = re.compile(r"(?<!\S)https?://\S+")


def tweeteval_text(text: str) -> str:
    """`@someone` → `@user`, `https://…` → `http`: the TweetEval preprocessing the cardiffnlp models expect."""
    return _LINK.sub("http", _USER.sub("@user", text))


def _split_revision(model: str) -> tuple[str, str | None]:
    """`org/name@revision` → (`org/name`, `revision`); a directory or a bare name keeps no revision."""
    if "@" in model and not Path(model).expanduser().exists():
        source, _, revision = model.rpartition("@")
        return source, revision or None
    return model, None


def _resolve_device(device: str, torch: ModuleType) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        kind = torch.device(device).type
    except RuntimeError as unknown:
        raise ValueError(f"unknown device {device!r}; use cpu, cuda, cuda:N or auto") from unknown
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but torch sees no CUDA device here; use cpu or auto")
    return device


def _max_input_tokens(tokenizer: PreTrainedTokenizerBase, network: PreTrainedModel) -> int:
    """The longest input the model takes: the tokenizer's limit, capped by the position embeddings."""
    limits = [tokenizer.model_max_length] if tokenizer.model_max_length < 1_000_000 else []
    positions = getattr(network.config, "max_position_embeddings", None)
    if positions:
        embeddings = getattr(network.base_model, "embeddings", None)
        padding_idx = getattr(embeddings, "padding_idx", None)
        if padding_idx is not None and hasattr(embeddings, "create_position_ids_from_input_ids"):
            positions -= padding_idx + 1  # RoBERTa-style positions start after the padding index
        limits.append(positions)
    return min(limits, default=512)


def _default_cache() -> str:
    try:
        from huggingface_hub.constants import HF_HUB_CACHE
    except ImportError:
        return "~/.cache/huggingface/hub"
    return HF_HUB_CACHE


def _how_to_load(model: str, directory: Path) -> str:
    """What to do about a model directory that transformers could not load."""
    if importlib.util.find_spec("sentencepiece") is None and any(directory.glob("*.model")):
        return (
            "Its tokenizer is a SentencePiece model (as XLM-RoBERTa's is), which needs the sentencepiece "
            "package: `pip install -r requirements.txt`."
        )
    return _how_to_make_available(model)


def _how_to_make_available(model: str, revision: str | None = None) -> str:
    folder = "models--" + model.replace("/", "--")
    command = f"hf download {model}" + (f" --revision {revision}" if revision else "")
    return (
        f"To use it, download it once on a machine that reaches huggingface.co (`{command}`) and copy "
        f"its cache folder {folder} into this machine's cache ({_default_cache()}, or set HF_HOME), "
        "or save it with save_pretrained and set the sentiment model to that directory."
    )
