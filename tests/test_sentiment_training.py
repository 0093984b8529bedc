"""Fine-tuning the sentiment model (enrich/sentiment_training.py) and `overheard sentiment train`.

Tiny models built here (tests/test_sentiment.py's 2-layer BERT of width 16) train in a second; no network.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from safetensors import safe_open  # noqa: E402

from cli.main import main as overheard  # noqa: E402
from cli.sentiment_train import CORRECTIONS_SQL  # noqa: E402
from config.model import Config  # noqa: E402
from enrich.sentiment import TransformerSentiment  # noqa: E402
from enrich.sentiment_training import (  # noqa: E402
    LabelledText,
    TrainingSettings,
    agreement,
    fine_tune,
    read_labelled_texts,
    wilson_interval,
)
from tests.test_care import MONDAY_NOON, add_mention  # noqa: E402
from tests.test_sentiment import THREE, save_tiny_bert  # noqa: E402
from warehouse.connection import open_warehouse  # noqa: E402

EXAMPLES = [
    LabelledText("good great love", "positive"),
    LabelledText("love the fast service", "positive"),
    LabelledText("great line today", "positive"),
    LabelledText("awful bad hate", "negative"),
    LabelledText("hate the slow outage", "negative"),
    LabelledText("bad service again", "negative"),
    LabelledText("the line is my line", "neutral"),
    LabelledText("my service today", "neutral"),
    LabelledText("a line is a line", "neutral"),
]
FAST = TrainingSettings(epochs=40, batch_size=4, learning_rate=3e-3, max_length=16, warmup_share=0.0, seed=3)


@pytest.fixture
def tiny_base(tmp_path: Path) -> Path:
    """A tiny BERT classifier with labels in another order than negative/neutral/positive, to be fine-tuned."""
    return save_tiny_bert(tmp_path / "base", {0: "positive", 1: "neutral", 2: "negative"})


def test_fine_tuning_learns_the_examples_and_writes_a_float16_model_that_loads(tiny_base, tmp_path):
    before = [score.label for score in TransformerSentiment(str(tiny_base)).score([e.text for e in EXAMPLES])]
    report = fine_tune(tiny_base, EXAMPLES, tmp_path / "trained", FAST, base_name="tiny")

    backend = TransformerSentiment(str(tmp_path / "trained"))
    after = [score.label for score in backend.score([example.text for example in EXAMPLES])]
    assert after == [example.label for example in EXAMPLES] != before
    assert backend.network.config.id2label == THREE and backend.network.dtype == torch.float32
    with safe_open(str(tmp_path / "trained" / "model.safetensors"), "pt") as weights:
        assert {weights.get_tensor(name).dtype for name in weights.keys()} == {torch.float16}
    assert backend.max_length == 16  # the tokenizer keeps the training max_length

    assert report.steps == 3 * 40 and report.examples == 9
    assert report.class_counts == {"negative": 3, "neutral": 3, "positive": 3}
    record = json.loads((tmp_path / "trained" / "training.json").read_text(encoding="utf-8"))
    assert record["base"] == "tiny" and record["steps"] == 120 and record["settings"]["seed"] == 3
    assert record["labels"] == ["negative", "neutral", "positive"]


def test_the_same_seed_gives_the_same_model_and_another_seed_another(tiny_base, tmp_path):
    settings = TrainingSettings(epochs=2, batch_size=4, learning_rate=1e-3, max_length=16, seed=5)
    for name, seed in (("first", 5), ("again", 5), ("other", 6)):
        fine_tune(tiny_base, EXAMPLES, tmp_path / name, replace(settings, seed=seed))
    first, again, other = ((tmp_path / name / "model.safetensors").read_bytes() for name in ("first", "again", "other"))
    assert first == again != other


def test_each_class_weighs_by_the_inverse_of_its_share(tiny_base, tmp_path):
    examples = EXAMPLES[:1] + EXAMPLES[3:5] + EXAMPLES[6:9]  # 1 positive, 2 negative, 3 neutral
    report = fine_tune(tiny_base, examples, tmp_path / "m", TrainingSettings(epochs=1, batch_size=8, max_length=16))
    assert report.class_weights == pytest.approx({"negative": 1.0, "neutral": 2 / 3, "positive": 2.0})
    unweighted = fine_tune(
        tiny_base, examples, tmp_path / "n", TrainingSettings(epochs=1, batch_size=8, max_length=16, class_weighted=False)
    )
    assert unweighted.class_weights == {"negative": 1.0, "neutral": 1.0, "positive": 1.0}

    with pytest.raises(ValueError, match="no training example labelled positive"):
        fine_tune(tiny_base, EXAMPLES[3:], tmp_path / "o", FAST)


def test_agreement_gives_the_metrics_and_their_intervals():
    truth = ["negative"] * 2 + ["neutral"] * 4 + ["positive"] * 4
    predicted = ["negative", "neutral"] + ["neutral"] * 4 + ["positive", "positive", "positive", "neutral"]
    result = agreement(truth, predicted)

    assert result.confusion["positive"] == {"negative": 0, "neutral": 1, "positive": 3}
    assert result.macro_recall == pytest.approx((0.5 + 1 + 0.75) / 3)
    assert result.accuracy == pytest.approx(0.8)
    low, high = result.macro_recall_interval
    assert 0.3 < low < result.macro_recall < high <= 1.0
    assert result.accuracy_interval == pytest.approx(wilson_interval(8, 10))
    assert wilson_interval(8, 10) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_labelled_files_are_read_and_bad_lines_refused(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text('text\tlabel\n"quoted\ttab" stays\tpositive\nplain\tneutral\n', encoding="utf-8")
    assert read_labelled_texts(path) == [LabelledText('"quoted\ttab" stays', "positive"), LabelledText("plain", "neutral")]
    path.write_text("text\tlabel\nfine\tmixed\n", encoding="utf-8")
    with pytest.raises(ValueError, match="t.tsv:2: expected text<TAB>negative|neutral|positive"):
        read_labelled_texts(path)


@pytest.fixture
def corrected_warehouse(tmp_path: Path) -> Path:
    """A warehouse whose corrections are of a mention, of a one-brand mention's brand, and of one brand of two."""
    config = Config.model_validate({
        "warehouse": {"path": str(tmp_path / "w.duckdb")}, "staging": str(tmp_path / "s"),
        "brands": [{"name": "Brightwave", "aliases": ["Brightwave"]}],
        "competitors": [{"name": "Tidewell", "aliases": ["Tidewell"]}],
        "sources": [{"kind": "rss", "name": "news", "url": "https://n.example/feed"}],
    })
    connection = open_warehouse(config.warehouse.path)
    add_mention(connection, "x:1", "Switched from Tidewell to Brightwave, love it", "run-1", MONDAY_NOON)
    connection.execute("INSERT INTO mention_brands (mention_key, brand, role, matched_terms) "
                       "VALUES ('x:1', 'Tidewell', 'competitor', [])")
    add_mention(connection, "x:2", "Brightwave good great love", "run-1", MONDAY_NOON)
    add_mention(connection, "x:3", "Brightwave awful bad hate", "run-1", MONDAY_NOON, sentiment=0.6)
    connection.execute("UPDATE mentions SET title = 'Review' WHERE mention_key = 'x:3'")
    add_mention(connection, "x:4", "Brightwave my line today", "run-1", MONDAY_NOON)
    connection.executemany(
        "INSERT INTO sentiment_corrections (mention_key, brand, label, model, corrected_by, corrected_at, via) "
        "VALUES (?, ?, ?, 'vader-3.3', 'ana', ?::TIMESTAMPTZ, 'sql')",
        [
            ("x:1", "Brightwave", "positive", "2026-11-02 13:00+00"),  # one brand of two: not the sentence's label
            ("x:2", None, "negative", "2026-11-02 13:00+00"),  # the mention, then its only brand, later: positive
            ("x:2", "Brightwave", "positive", "2026-11-02 14:00+00"),
            ("x:3", "Brightwave", "negative", "2026-11-02 13:00+00"),  # its only brand
            ("x:4", None, "positive", "2026-11-02 13:00+00"),  # the mention, corrected twice: neutral in force
            ("x:4", None, "neutral", "2026-11-02 15:00+00"),
        ],
    )
    assert connection.execute(CORRECTIONS_SQL).fetchall() == [
        ("Brightwave good great love", "positive"),
        ("Review\nBrightwave awful bad hate", "negative"),
        ("Brightwave my line today", "neutral"),
    ]
    connection.close()
    path = tmp_path / "config.json"
    path.write_text(config.model_dump_json(exclude_none=True), encoding="utf-8")
    return path


def test_overheard_sentiment_train_fine_tunes_on_the_corrections_and_the_base_data(
    corrected_warehouse, tiny_base, tmp_path, capsys
):
    base_data = tmp_path / "base.tsv"
    base_data.write_text("text\tlabel\n" + "".join(f"{e.text}\t{e.label}\n" for e in EXAMPLES), encoding="utf-8")
    output = tmp_path / "sentiment-v2"

    assert overheard([
        "sentiment", "train", "--config", str(corrected_warehouse), "--output", str(output), "--base", str(tiny_base),
        "--base-data", str(base_data), "--base-sample", "4", "--correction-weight", "3", "--epochs", "1",
    ]) == 0
    out = capsys.readouterr().out
    assert f"training {tiny_base} on 3 corrections (x3) and 4 examples of base.tsv into {output}" in out
    assert f"    model: {output.resolve()}" in out
    record = json.loads((output / "training.json").read_text(encoding="utf-8"))
    assert record["examples"] == 4 + 3 * 3 and record["extra"]["corrections"] == 3
    assert record["base"] == str(tiny_base)
    [scored] = TransformerSentiment(str(output)).score(["good"])
    assert scored.model == f"transformers:{output}@local"


def test_overheard_sentiment_train_says_what_is_missing(corrected_warehouse, tmp_path, capsys):
    command = ["sentiment", "train", "--config", str(corrected_warehouse), "--output", str(tmp_path / "m")]
    assert overheard([*command, "--base-data", str(tmp_path / "absent.tsv")]) == 2
    assert f"the base data {tmp_path / 'absent.tsv'} is not there; pass --base-data FILE" in capsys.readouterr().err
    assert overheard([*command, "--base-data", str(corrected_warehouse), "--base", "shipped:v0"]) == 2
    assert "no shipped sentiment model 'v0'" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()
