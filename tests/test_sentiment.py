"""Sentiment backends: the transformer backend on tiny models built here, the shipped model, `auto`'s choice.

No network: the models are written with `save_pretrained` into temporary directories (or a
temporary Hugging Face cache), or are the model shipped in enrich/sentiment_models/, and every test
that loads one forbids outgoing connections.
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import struct
import subprocess
import sys
import tomllib
from collections.abc import Callable
from fnmatch import fnmatch
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from pydantic import ValidationError  # noqa: E402

from config.model import Config, SentimentSettings  # noqa: E402
from core.mention import Mention  # noqa: E402
from core.staging import StagingArea, read_json, read_jsonl  # noqa: E402
from enrich import sentiment as sentiment_module  # noqa: E402
from enrich.pipeline import enrich_unit  # noqa: E402
from enrich.sentiment import (  # noqa: E402 - after the offline switch
    DEFAULT_TRANSFORMER_MODEL,
    SHIPPED_MODEL,
    SHIPPED_MODELS,
    SentimentModelUnavailable,
    TransformerSentiment,
    sentiment_backend,
    sentiment_classes,
    shipped_model,
    tweeteval_text,
)

REPO = Path(__file__).resolve().parents[1]
WORDS = "good great love awful bad hate the a is my service outage line fast slow again today @user http".split()
THREE = {0: "negative", 1: "neutral", 2: "positive"}
COMMIT = "0123456789abcdef0123456789abcdef01234567"
SHIPPED = f"shipped:{SHIPPED_MODEL}"
NO_MODEL_CONFIGURED = f"auto: no sentiment.model configured; shipped model {SHIPPED_MODEL}"


def save_tiny_bert(
    directory: Path, id2label: dict[int, str], *, class_probabilities: list[float] | None = None, positions: int = 16
) -> Path:
    """A 2-layer BERT of width 16 with a one-word-per-token vocabulary, saved with its tokenizer.

    Args:
        directory: where to save it.
        id2label: the config's labels.
        class_probabilities: when given, the classifier ignores the text and always gives these
            probabilities; otherwise its random weights are large enough that texts differ clearly.
        positions: max_position_embeddings.

    Returns:
        The directory.
    """
    directory.mkdir(parents=True)
    vocab = directory / "words.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n", encoding="utf-8")
    tokenizer = transformers.BertTokenizerFast(vocab=str(vocab))
    config = transformers.BertConfig(
        vocab_size=len(WORDS) + 5, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
        max_position_embeddings=positions, id2label=id2label, label2id={v: k for k, v in id2label.items()},
        initializer_range=0.3,
    )
    torch.manual_seed(7)
    network = transformers.BertForSequenceClassification(config)
    if class_probabilities is not None:
        with torch.no_grad():
            network.classifier.weight.zero_()
            network.classifier.bias.copy_(torch.tensor(class_probabilities).log())
    network.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def save_tiny_roberta(directory: Path, positions: int, *, as_the_default_model: bool = False) -> Path:
    """A 1-layer RoBERTa with a byte-level BPE trained here, saved with its tokenizer.

    Args:
        directory: where to save it.
        positions: max_position_embeddings (pad_token_id is 1, as in RoBERTa).
        as_the_default_model: lay the files out as cardiffnlp/twitter-roberta-base-sentiment-latest's are
            on the hub: config.json, vocab.json, merges.txt and pytorch_model.bin, with labels
            negative/neutral/positive; otherwise `save_pretrained`'s layout and labels LABEL_0..2.

    Returns:
        The directory.
    """
    from tokenizers import ByteLevelBPETokenizer

    directory.mkdir(parents=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        ["good service today", "awful outage again", "I love the fast line", "slow and bad"] * 5,
        vocab_size=300, min_frequency=1, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
        show_progress=False,
    )
    vocab, merges = bpe.save_model(str(directory))
    tokenizer = transformers.RobertaTokenizerFast(vocab=vocab, merges=merges)
    config = transformers.RobertaConfig(
        vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
        max_position_embeddings=positions, pad_token_id=1,
        id2label=THREE if as_the_default_model else {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"},
    )
    torch.manual_seed(7)
    network = transformers.RobertaForSequenceClassification(config)
    if as_the_default_model:
        config.save_pretrained(directory)
        torch.save(network.state_dict(), directory / "pytorch_model.bin")
    else:
        network.save_pretrained(directory)
        tokenizer.save_pretrained(directory)
    return directory


def save_tiny_xlm_roberta(directory: Path) -> Path:
    """A 1-layer XLM-RoBERTa whose only tokenizer file is a SentencePiece model, as the multilingual model's."""
    import sentencepiece

    directory.mkdir(parents=True)
    sentences = ["Le service est excellent", "El servicio es terrible", "Der Dienst ist gut", "good service"] * 20
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences), model_prefix=str(directory / "sentencepiece.bpe"), vocab_size=60,
        model_type="bpe", minloglevel=2,
    )
    config = transformers.XLMRobertaConfig(
        vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
        max_position_embeddings=18, pad_token_id=1, id2label=THREE,
    )
    transformers.XLMRobertaForSequenceClassification(config).save_pretrained(directory)
    return directory


def cache_snapshot(cache: Path, repo_id: str, commit: str, build: Callable[[Path], Path]) -> None:
    """Lay out `repo_id` at `commit` in a hub cache as huggingface_hub does: blobs, symlinked snapshot, refs/main."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    files = build(repo / "staging")
    (repo / "blobs").mkdir(parents=True)
    (repo / "snapshots" / commit).mkdir(parents=True)
    for number, file in enumerate(sorted(files.iterdir())):
        blob = repo / "blobs" / f"blob{number}"
        file.rename(blob)
        (repo / "snapshots" / commit / file.name).symlink_to(Path("..", "..", "blobs", blob.name))
    files.rmdir()
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit, encoding="utf-8")


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BERT whose random weights give texts clearly different sentiments."""
    return save_tiny_bert(tmp_path_factory.mktemp("models") / "tiny-bert", THREE)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any outgoing connection fails the test."""

    def refuse(self: socket.socket, address: object) -> None:
        raise AssertionError(f"the sentiment backend tried to connect to {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture
def hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face hub cache that huggingface_hub uses for this test."""
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


def forward_inputs(backend: TransformerSentiment) -> list[tuple[int, int]]:
    """(texts, tokens) of every forward pass the backend makes from now on."""
    shapes: list[tuple[int, int]] = []
    backend.network.register_forward_pre_hook(
        lambda module, args, kwargs: shapes.append(tuple(kwargs["input_ids"].shape)), with_kwargs=True
    )
    return shapes


def model_alone(directory: Path, text: str) -> list[float]:
    """The class probabilities the saved model gives `text` on its own, without our backend."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
    network = transformers.AutoModelForSequenceClassification.from_pretrained(directory).eval()
    with torch.inference_mode():
        logits = network(**tokenizer(text, truncation=True, return_tensors="pt")).logits
    return torch.softmax(logits, dim=-1)[0].tolist()


def test_importing_the_module_imports_neither_torch_nor_transformers():
    probe = "import sys, enrich.sentiment; print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("id2label", "sentiments"),
    [
        ({0: "negative", 1: "neutral", 2: "positive"}, ["negative", "neutral", "positive"]),
        ({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}, ["negative", "neutral", "positive"]),
        ({0: "NEG", 1: "NEU", 2: "POS"}, ["negative", "neutral", "positive"]),
        ({0: "Positive", 1: "Negative", 2: "Neutral"}, ["positive", "negative", "neutral"]),
        ({0: "neg", 1: "pos"}, ["negative", "positive"]),
        ({0: "LABEL_0", 1: "LABEL_1"}, ["negative", "positive"]),
        ({0: "1 star", 1: "2 stars", 2: "3 stars", 3: "4 stars", 4: "5 stars"},
         ["negative", "negative", "neutral", "positive", "positive"]),
        ({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2", 3: "LABEL_3", 4: "LABEL_4"},
         ["negative", "negative", "neutral", "positive", "positive"]),
        ({0: "Very Negative", 1: "Negative", 2: "Neutral", 3: "Positive", 4: "Very Positive"},
         ["negative", "negative", "neutral", "positive", "positive"]),
    ],
)
def test_model_labels_map_to_sentiments(id2label, sentiments):
    assert list(sentiment_classes(id2label).values()) == sentiments


@pytest.mark.parametrize(
    "id2label",
    [
        {0: "joy", 1: "anger", 2: "sadness"},
        {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2", 3: "LABEL_3"},
        {0: "neutral", 1: "positive"},
        {0: "not negative", 1: "negative"},
    ],
)
def test_labels_that_are_not_sentiments_are_refused(id2label):
    with pytest.raises(ValueError, match="label|negative and a positive"):
        sentiment_classes(id2label)


@pytest.mark.parametrize(
    ("id2label", "class_probabilities", "expected", "label"),
    [
        (THREE, [0.2, 0.3, 0.5], (0.2, 0.3, 0.5), "positive"),
        ({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}, [0.2, 0.3, 0.5], (0.2, 0.3, 0.5), "positive"),
        ({0: "positive", 1: "neutral", 2: "negative"}, [0.2, 0.3, 0.5], (0.5, 0.3, 0.2), "negative"),
        ({0: "NEG", 1: "POS"}, [0.25, 0.75], (0.25, 0.0, 0.75), "positive"),
        ({i: f"{i + 1} stars" for i in range(5)}, [0.1, 0.2, 0.3, 0.25, 0.15], (0.3, 0.3, 0.4), "positive"),
        ({i: f"LABEL_{i}" for i in range(5)}, [0.3, 0.3, 0.2, 0.1, 0.1], (0.6, 0.2, 0.2), "negative"),
    ],
)
def test_probabilities_score_and_label_follow_the_model_classes(
    tmp_path, no_network, id2label, class_probabilities, expected, label
):
    directory = save_tiny_bert(tmp_path / "model", id2label, class_probabilities=class_probabilities)
    [scored] = TransformerSentiment(str(directory)).score(["my line is slow again"])

    negative, neutral, positive = expected
    assert scored.probabilities == pytest.approx({"negative": negative, "neutral": neutral, "positive": positive})
    assert scored.score == pytest.approx(positive - negative)
    assert scored.label == label
    assert scored.model == f"transformers:{directory}@local"


def test_a_batch_scores_each_text_as_alone_and_keeps_the_input_order(tiny_bert, no_network):
    texts = [
        "good service",
        "awful outage again today , my line is slow",
        "love",
        "bad bad service",
        "great fast line today",
        "hate",
        "the outage is again",
    ]
    backend = TransformerSentiment(str(tiny_bert), batch_size=3)
    shapes = forward_inputs(backend)
    scores = backend.score(texts)

    for text, scored in zip(texts, scores, strict=True):
        negative, neutral, positive = model_alone(tiny_bert, text)
        assert scored.probabilities == pytest.approx(
            {"negative": negative, "neutral": neutral, "positive": positive}, abs=1e-5
        ), text
    # The texts differ enough that a mix-up would show.
    assert len({round(scored.score, 2) for scored in scores}) == len(texts)
    assert {scored.label for scored in scores} == {"neutral", "positive"}
    # Sorted by length, longest first: 3 passes of 3, 3, 1 texts, each padded less than the one before.
    assert [rows for rows, _ in shapes] == [3, 3, 1]
    assert [tokens for _, tokens in shapes] == sorted((tokens for _, tokens in shapes), reverse=True)
    assert shapes[0][1] == len("awful outage again today , my line is slow".split()) + 2


def test_identical_texts_are_scored_once_per_call(tiny_bert, no_network):
    backend = TransformerSentiment(str(tiny_bert), batch_size=2)
    shapes = forward_inputs(backend)
    texts = ["great fast line", "RT @alice outage again", "great fast line", "RT @bob outage again", "bad", "bad"]
    scores = backend.score(texts)

    assert sum(rows for rows, _ in shapes) == 3  # handles are masked: both retweets read "RT @user outage again"
    assert scores[0] == scores[2] and scores[1] == scores[3] and scores[4] == scores[5]
    assert len({scores[0].score, scores[1].score, scores[4].score}) == 3
    assert backend.score([]) == []


def test_a_text_longer_than_the_model_is_truncated_to_its_limit(tiny_bert, no_network):
    backend = TransformerSentiment(str(tiny_bert))
    shapes = forward_inputs(backend)
    long_text = " ".join(["awful"] * 10 + ["great"] * 90)
    [scored] = backend.score([long_text])

    assert backend.max_length == 16 and shapes == [(1, 16)]
    # What the model read: [CLS], the first 14 words, [SEP].
    [first_14_words] = backend.score([" ".join(["awful"] * 10 + ["great"] * 4)])
    assert scored.probabilities == pytest.approx(first_14_words.probabilities, abs=1e-6)


def test_bfloat16_is_recorded_in_the_model_and_scores_close_to_float32(tiny_bert, no_network):
    texts = ["good service", "awful outage again today , my line is slow", "hate"]
    exact = TransformerSentiment(str(tiny_bert)).score(texts)
    backend = TransformerSentiment(str(tiny_bert), precision="bfloat16")
    halved = backend.score(texts)

    assert backend.network.dtype == torch.bfloat16
    assert halved[0].model == f"transformers:{tiny_bert}@local+bfloat16" and exact[0].model.endswith("@local")
    for full, half in zip(exact, halved, strict=True):
        assert half.probabilities == pytest.approx(full.probabilities, abs=0.02)


def test_roberta_positions_after_the_padding_index_are_not_exceeded(tmp_path, no_network):
    # RoBERTa numbers positions from pad_token_id + 1: 18 position embeddings take 16 tokens.
    backend = TransformerSentiment(str(save_tiny_roberta(tmp_path / "tiny-roberta", positions=18)))
    shapes = forward_inputs(backend)
    scores = backend.score(["good service today " * 40, "slow"])

    assert backend.max_length == 16 and max(tokens for _, tokens in shapes) == 16
    assert [sum(scored.probabilities.values()) for scored in scores] == pytest.approx([1.0, 1.0])
    assert scores[0].model == f"transformers:{tmp_path / 'tiny-roberta'}@local"


def test_auto_uses_a_model_in_the_hub_cache_and_records_its_commit(hub_cache, no_network):
    cache_snapshot(
        hub_cache, "overheard/tiny-sentiment", COMMIT,
        lambda directory: save_tiny_bert(directory, THREE, class_probabilities=[0.6, 0.3, 0.1]),
    )

    for name in ("auto", "transformers"):
        backend = sentiment_backend(name, "overheard/tiny-sentiment", device="cpu", batch_size=8)
        [scored] = backend.score(["outage again"])
        assert backend.model == f"transformers:overheard/tiny-sentiment@{COMMIT}" == scored.model
        assert (scored.label, scored.score) == ("negative", pytest.approx(-0.5))
    pinned = sentiment_backend("transformers", f"overheard/tiny-sentiment@{COMMIT}")
    assert pinned.model == f"transformers:overheard/tiny-sentiment@{COMMIT}"
    with pytest.raises(SentimentModelUnavailable, match="tiny-sentiment@v2"):
        sentiment_backend("transformers", "overheard/tiny-sentiment@v2")


def test_transformers_takes_the_default_model_from_the_cache_with_its_hub_file_layout(hub_cache, no_network):
    cache_snapshot(
        hub_cache, DEFAULT_TRANSFORMER_MODEL, COMMIT,
        lambda directory: save_tiny_roberta(directory, positions=514, as_the_default_model=True),
    )
    backend = sentiment_backend("transformers")
    scores = backend.score(["I love the fast line", "awful outage again"])

    assert backend.model == f"transformers:cardiffnlp/twitter-roberta-base-sentiment-latest@{COMMIT}"
    assert backend.max_length == 512
    assert [sum(scored.probabilities.values()) for scored in scores] == pytest.approx([1.0, 1.0])


def test_the_multilingual_model_kind_loads_from_its_sentencepiece_file(tmp_path, no_network):
    pytest.importorskip("sentencepiece")
    directory = save_tiny_xlm_roberta(tmp_path / "tiny-xlm-roberta")
    backend = TransformerSentiment(str(directory))
    shapes = forward_inputs(backend)
    scores = backend.score(["Le service est excellent", "El servicio es terrible " * 20])

    assert backend.max_length == 16 and max(tokens for _, tokens in shapes) == 16
    assert [sum(scored.probabilities.values()) for scored in scores] == pytest.approx([1.0, 1.0])


def test_auto_falls_back_to_the_shipped_model_when_the_configured_model_is_missing(hub_cache, no_network, caplog):
    with caplog.at_level(logging.INFO, logger="enrich.sentiment"):
        backend = sentiment_backend("auto", "overheard/absent-model")

    assert backend.model == SHIPPED
    assert backend.reason == (
        "auto: sentiment.model overheard/absent-model could not be loaded (sentiment model 'overheard/absent-model' "
        f"is not on this machine: it is neither a directory nor in the Hugging Face cache ({hub_cache})); "
        f"shipped model {SHIPPED_MODEL}"
    )
    assert backend.score(["Brightwave fixed my line in an hour, brilliant support!"])[0].label == "positive"
    warning, chosen = caplog.records
    assert warning.levelno == logging.WARNING
    assert "overheard/absent-model" in warning.getMessage() and "hf download" in warning.getMessage()
    assert chosen.getMessage() == f"sentiment: {SHIPPED} ({backend.reason})"


def test_auto_falls_back_to_the_lexicon_when_no_model_can_be_loaded(hub_cache, tmp_path, no_network, monkeypatch, caplog):
    monkeypatch.setattr(sentiment_module, "SHIPPED_MODELS", tmp_path / "not-installed")
    with caplog.at_level(logging.WARNING, logger="enrich.sentiment"):
        backend = sentiment_backend("auto", "overheard/absent-model")

    assert backend.model == "vader-3.3.2"
    assert backend.reason.startswith("auto: sentiment.model overheard/absent-model could not be loaded (")
    assert backend.reason.endswith(
        f"; shipped model {SHIPPED_MODEL} could not be loaded (no shipped sentiment model '{SHIPPED_MODEL}' in "
        f"{tmp_path / 'not-installed'} (shipped: none)); lexicon vader-3.3.2"
    )
    assert backend.score(["Brightwave fixed my line in an hour, brilliant support!"])[0].label == "positive"
    assert [record.levelno for record in caplog.records] == [logging.WARNING, logging.WARNING]
    assert "falling back to the lexicon backend" in caplog.records[-1].getMessage()


def test_auto_uses_a_configured_model_directory_and_says_so(tiny_bert, no_network):
    backend = sentiment_backend("auto", str(tiny_bert))
    assert backend.model == f"transformers:{tiny_bert}@local"
    assert backend.reason == f"auto: sentiment.model {tiny_bert} loaded"
    assert sentiment_backend("transformers", str(tiny_bert)).reason is None
    assert sentiment_backend("lexicon").reason is None


def test_transformers_without_the_model_says_what_to_do(hub_cache, tmp_path, no_network):
    with pytest.raises(SentimentModelUnavailable) as missing:
        sentiment_backend("transformers", "overheard/absent-model")
    message = str(missing.value)
    assert "'overheard/absent-model' is not on this machine" in message
    assert "`hf download overheard/absent-model`" in message and str(hub_cache) in message
    assert "save_pretrained" in message

    with pytest.raises(SentimentModelUnavailable, match="not on this machine"):
        sentiment_backend("transformers", str(tmp_path / "no-such-directory"))


def test_a_directory_without_model_files_is_unavailable(tmp_path, no_network):
    (tmp_path / "empty-model").mkdir()
    with pytest.raises(SentimentModelUnavailable, match="could not be loaded"):
        sentiment_backend("transformers", str(tmp_path / "empty-model"))
    assert sentiment_backend("auto", str(tmp_path / "empty-model")).model == SHIPPED


def test_unknown_backend_device_or_batch_size_is_refused(tiny_bert):
    with pytest.raises(ValueError, match="available: lexicon, transformers, auto"):
        sentiment_backend("bert")
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        TransformerSentiment(str(tiny_bert), device="gpu")
    with pytest.raises(ValueError, match="batch_size"):
        TransformerSentiment(str(tiny_bert), batch_size=0)
    with pytest.raises(ValueError, match="unknown precision 'int4'"):
        TransformerSentiment(str(tiny_bert), precision="int4")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            TransformerSentiment(str(tiny_bert), device="cuda")
        assert TransformerSentiment(str(tiny_bert), device="auto").device == "cpu"


def test_handles_and_links_are_masked_as_tweeteval_models_expect():
    assert tweeteval_text("@alice see https://t.co/x1 and me@home http://a.b") == (
        "@user see http and me@home http"
    )


def test_auto_with_the_shipped_model_is_the_default(no_network):
    backend = sentiment_backend()
    assert SentimentSettings().backend == "auto" and SentimentSettings().model is None
    assert (backend.model, backend.reason) == (SHIPPED, NO_MODEL_CONFIGURED)
    lexicon = sentiment_backend("lexicon")
    assert lexicon.model == "vader-3.3.2" and math.isclose(lexicon.score(["Brightwave announced prices."])[0].score, 0.0)


def test_the_shipped_model_is_small_float16_packaged_and_loads_in_float32(no_network):
    directory = shipped_model()
    files = sorted(path.name for path in directory.iterdir())
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "training.json"} <= set(files)
    assert sum(path.stat().st_size for path in directory.iterdir()) < 50 * 1000 * 1000
    # Every tensor is stored in float16 (the safetensors header names each tensor's dtype).
    with (directory / "model.safetensors").open("rb") as weights:
        header = json.loads(weights.read(struct.unpack("<Q", weights.read(8))[0]))
    assert {entry["dtype"] for name, entry in header.items() if name != "__metadata__"} == {"F16"}
    # pyproject's package-data takes every file of the model into the wheel.
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-data"]
    assert [name for name in files if not any(fnmatch(name, pattern) for pattern in patterns["*"])] == []

    backend = sentiment_backend("transformers", SHIPPED, device="cpu")
    assert backend.network.dtype == torch.float32 and backend.model == SHIPPED
    assert backend.network.config.id2label == {0: "negative", 1: "neutral", 2: "positive"}
    with pytest.raises(SentimentModelUnavailable, match=f"no shipped sentiment model 'v0' .*shipped: {SHIPPED_MODEL}"):
        sentiment_backend("transformers", "shipped:v0")
    assert SHIPPED_MODELS == directory.parent


def test_the_shipped_model_labels_plain_cases_right(no_network):
    texts = [
        "Brightwave fixed my line in an hour, brilliant support, thank you!",
        "@Brightwave third outage this week. Furious, cancelling tomorrow",
        "Brightwave announces new broadband prices from 1 March https://t.co/abc",
    ]
    assert [scored.label for scored in sentiment_backend().score(texts)] == ["positive", "negative", "neutral"]


def test_int8_quantises_the_linear_layers_and_scores_close_to_float32(tiny_bert, no_network):
    texts = ["good service", "awful outage again today , my line is slow", "hate"]
    exact = TransformerSentiment(str(tiny_bert)).score(texts)
    backend = TransformerSentiment(str(tiny_bert), precision="int8")
    quantised = backend.score(texts)

    assert type(backend.network.classifier).__module__ == "torch.ao.nn.quantized.dynamic.modules.linear"
    assert type(TransformerSentiment(str(tiny_bert)).network.classifier).__module__ == "torch.nn.modules.linear"
    assert quantised[0].model == f"transformers:{tiny_bert}@local+int8"
    for full, small in zip(exact, quantised, strict=True):
        assert small.probabilities == pytest.approx(full.probabilities, abs=0.05)


def enrich_with(tmp_path: Path, sentiment: dict, texts: tuple[str, ...] = (
    "Brightwave is good, love the fast service", "Brightwave outage again, awful",
)) -> tuple[list[dict], list[str]]:
    """Enrich one staged unit of mentions of `texts` with the `sentiment` settings; returns the rows and warnings."""
    config = Config.model_validate({
        "warehouse": {"path": str(tmp_path / "w.duckdb")}, "staging": str(tmp_path / "staging"),
        "brands": [{"name": "Brightwave", "aliases": ["Brightwave"]}], "sources": [{"kind": "rss", "name": "news", "url": "https://n.example/f"}],
        "sentiment": sentiment,
    })
    staging = StagingArea(config.staging, "run-1")
    mentions = [Mention("news", "news", str(n), f"https://n.example/{n}", text) for n, text in enumerate(texts)]
    manifest = staging.write_json("unit/collected.json", {
        "unit": {"id": "unit"}, "sources": [{"source": "news", "warnings": []}],
        "mentions": staging.write_jsonl("unit/collected.jsonl", (mention.to_json() for mention in mentions)),
    })
    enriched = read_json(enrich_unit(config, manifest, staging))
    return list(read_jsonl(enriched["mentions"])), enriched["sources"][0]["warnings"]


def test_a_unit_that_collected_nothing_loads_no_model(tmp_path, no_network):
    missing = {"backend": "transformers", "model": str(tmp_path / "no-such-model")}

    assert enrich_with(tmp_path, missing, texts=()) == ([], [])  # an idle cycle's unit: nothing to score
    with pytest.raises(SentimentModelUnavailable, match="no-such-model"):
        enrich_with(tmp_path, missing)


def test_the_configured_backend_scores_the_run_and_every_row_records_it(tiny_bert, tmp_path, no_network):
    rows, warnings = enrich_with(tmp_path, {"backend": "transformers", "model": str(tiny_bert), "batch_size": 4})

    assert [row["sentiment_model"] for row in rows] == [f"transformers:{tiny_bert}@local"] * 2
    assert [row["sentiment_label"] for row in rows] != [None, None] and warnings == []
    alone = TransformerSentiment(str(tiny_bert)).score(["Brightwave is good, love the fast service"])[0]
    assert rows[0]["sentiment_score"] == pytest.approx(alone.score, abs=1e-5)


def test_by_default_the_shipped_model_scores_the_run_and_every_row_says_why(tmp_path, no_network):
    rows, warnings = enrich_with(tmp_path, {})

    assert [(row["sentiment_model"], row["sentiment_label"]) for row in rows] == [
        (SHIPPED, "positive"), (SHIPPED, "negative")
    ]
    assert [row["sentiment_reason"] for row in rows] == [NO_MODEL_CONFIGURED] * 2 and warnings == []


def test_auto_without_any_model_scores_with_the_lexicon_and_warns_in_the_run(hub_cache, tmp_path, no_network, monkeypatch):
    monkeypatch.setattr(sentiment_module, "SHIPPED_MODELS", tmp_path / "not-installed")
    rows, warnings = enrich_with(tmp_path, {"backend": "auto", "model": "overheard/absent-model"})

    assert [(row["sentiment_model"], row["sentiment_label"]) for row in rows] == [
        ("vader-3.3.2", "positive"), ("vader-3.3.2", "negative")
    ]
    assert rows[0]["sentiment_reason"] == rows[1]["sentiment_reason"]
    assert rows[0]["sentiment_reason"].startswith("auto: sentiment.model overheard/absent-model could not be loaded")
    assert rows[0]["sentiment_reason"].endswith("; lexicon vader-3.3.2")
    [warning] = warnings
    assert warning.startswith("sentiment: scored with vader-3.3.2, not a transformer:")
    assert "overheard/absent-model" in warning


def test_sentiment_settings_are_checked_when_the_config_loads():
    with pytest.raises(ValidationError, match="backend"):
        SentimentSettings(backend="bert")
    with pytest.raises(ValidationError, match="device"):
        SentimentSettings(device="gpu")
    assert SentimentSettings(precision="int8").precision == "int8"


def test_accuracy_benchmark_scores_a_labelled_file(tmp_path):
    labelled = tmp_path / "tweets.tsv"
    labelled.write_text(
        "text\tlabel\n"
        "Brightwave is the worst, third outage this week. Furious!\tnegative\n"
        "\"Brightwave announced new prices on Tuesday.\"\tneutral\n"
        "Brightwave fixed my line in an hour, brilliant support, thank you!\tpositive\n"
        "Brightwave support was brilliant, love it\tnegative\n",
        encoding="utf-8",
    )
    command = [sys.executable, str(REPO / "bench" / "sentiment_accuracy.py"), str(labelled), "--backend", "lexicon"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True)

    lines = result.stdout.strip().splitlines()
    assert "backend: lexicon -> vader-3.3.2" in lines
    # 3 of 4 right. Recall: negative 1/2, neutral 1, positive 1. F1: negative 2/3, neutral 1, positive 2/3.
    assert lines[-1] == "macro_recall=0.8333 macro_f1=0.7778 accuracy=0.7500"

    labelled.write_text("text\tlabel\nfine\tmixed\n", encoding="utf-8")
    refused = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    assert refused.returncode != 0 and "tweets.tsv:2: expected text<TAB>negative|neutral|positive" in refused.stderr
