"""Corrections of sentiment count: in the views at once, in the audit trail, by SQL at the next load, and
in the model's accuracy (`overheard sentiment correct` and `accuracy`, the weekly report's line)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from care.erasure import erase_author
from care.sentiment_corrections import CorrectionRefused, brand_sentiments, correct_sentiment
from cli.main import main as overheard
from config.model import Config
from core.transactions import transaction
from desk.state import DeskState, desk_state_path
from reports.render import render_weekly_report
from tests.test_care import MONDAY_NOON, PLAYBOOK, add_mention
from tests.test_desk_server import csrf_token, desk_config, served_desk, set_passwords, sign_in, triage
from warehouse.connection import open_warehouse, read_warehouse
from warehouse.daily_aggregates import refresh_daily_aggregates
from warehouse.load import load_run
from warehouse.sentiment_accuracy import sentiment_accuracy, wilson_interval

LATER = MONDAY_NOON + timedelta(hours=3)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config.model_validate({
        "timezone": "Europe/London", "warehouse": {"path": str(tmp_path / "w.duckdb")}, "staging": str(tmp_path / "s"),
        "brands": [{"name": "Brightwave", "aliases": ["Brightwave"]}],
        "competitors": [{"name": "Tidewell", "aliases": ["Tidewell"]}],
        "sources": [{"kind": "rss", "name": "news", "url": "https://n.example/feed"}],
        "playbook": {**PLAYBOOK, "admins": ["root"]},
    })


@pytest.fixture
def warehouse(config):
    """Monday's mentions, loaded and aggregated; x:1 names both brands and the model called both negative."""
    connection = open_warehouse(config.warehouse.path)
    add_mention(connection, "x:1", "Switched from Tidewell to Brightwave, couldn't be happier", "run-1", MONDAY_NOON)
    connection.execute("INSERT INTO mention_brands (mention_key, brand, role, matched_terms, sentiment_label) "
                       "VALUES ('x:1', 'Tidewell', 'competitor', [], 'negative')")
    connection.execute("UPDATE mention_brands SET sentiment_label = 'negative' WHERE mention_key = 'x:1'")
    add_mention(connection, "x:2", "Brightwave down again", "run-1", MONDAY_NOON)
    add_mention(connection, "x:3", "Brightwave cambia el router", "run-1", MONDAY_NOON, lang="es")
    add_mention(connection, "x:6", "Thanks Brightwave, brilliant engineer", "run-1", MONDAY_NOON, sentiment=0.8)
    add_mention(connection, "x:8", "Brightwave dw i'n hoffi", "run-1", MONDAY_NOON, lang="cy")
    connection.execute("UPDATE mentions SET sentiment_label = NULL, sentiment_reason = 'cy: no model covers it', "
                       "sentiment_model = NULL WHERE mention_key = 'x:8'")
    connection.execute("UPDATE mentions SET sentiment_model = 'vader-3.3' WHERE mention_key <> 'x:8'")
    with transaction(connection):
        refresh_daily_aggregates(connection)
    yield connection
    connection.close()


def volume(connection, brand: str) -> tuple:
    """(positive, neutral, negative, unscored) of the brand on Monday, from the daily aggregates."""
    return connection.execute(
        "SELECT sum(positive), sum(neutral), sum(negative), sum(unscored) FROM daily_brand_volume "
        "WHERE brand = ? AND day = DATE '2026-11-02'", [brand]
    ).fetchone()


def net(connection, brand: str) -> float:
    return connection.execute(
        "SELECT net_sentiment FROM net_sentiment WHERE brand = ? AND day = DATE '2026-11-02'", [brand]
    ).fetchone()[0]


def test_a_brands_correction_counts_in_the_views_at_once_and_the_audit_trail_says_who(config, warehouse):
    assert volume(warehouse, "Tidewell") == (0, 0, 1, 0)
    assert volume(warehouse, "Brightwave") == (1, 0, 3, 1)

    correct_sentiment(warehouse, "x:1", "positive", "ana", config.playbook, LATER, via="cli", brand="Brightwave")

    # Only Brightwave's label changed: the post praises it and leaves Tidewell.
    assert volume(warehouse, "Brightwave") == (2, 0, 2, 1)
    assert volume(warehouse, "Tidewell") == (0, 0, 1, 0)
    assert net(warehouse, "Brightwave") == 0.0  # (2 - 2) / 4
    assert warehouse.execute("SELECT sum(positive) FROM daily_volume WHERE brand = 'Brightwave'").fetchone() == (2,)
    assert warehouse.execute(
        "SELECT mention_key, brand, label, model_label, model, corrected_by, corrected_at, via, counted_at IS NOT NULL "
        "FROM sentiment_corrections").fetchall() == [
        ("x:1", "Brightwave", "positive", "negative", "vader-3.3", "ana", LATER, "cli", True)]
    assert warehouse.execute(
        "SELECT mention_key, action, actor, acted_at, detail::VARCHAR FROM triage_actions").fetchall() == [
        ("x:1", "sentiment_corrected", "ana", LATER,
         '{"brand": "Brightwave", "label": "positive", "model_label": "negative", "via": "cli"}')]

    # A lead then corrects the mention as a whole to neutral: Tidewell follows it, Brightwave keeps its own.
    correct_sentiment(warehouse, "x:1", "neutral", "lead", config.playbook, LATER + timedelta(minutes=5), via="cli")
    assert volume(warehouse, "Tidewell") == (0, 1, 0, 0)
    assert [(s.brand, s.model_label, s.label, s.corrected_by) for s in brand_sentiments(warehouse, "x:1")] == [
        ("Brightwave", "negative", "positive", "ana"), ("Tidewell", "negative", "neutral", "lead")]
    assert warehouse.execute("SELECT sentiment_label FROM earned_mentions WHERE mention_key = 'x:1'").fetchone() == (
        "neutral",)


@pytest.mark.parametrize(("key", "label", "person", "brand", "error"), [
    ("x:99", "positive", "ana", None, "no mention 'x:99' in the warehouse"),
    ("x:1", "positive", "ana", "Skylark", "x:1 does not name 'Skylark'; it names: Brightwave, Tidewell"),
    ("x:1", "happy", "ana", None, "'happy' is not a sentiment label; labels: negative, neutral, positive"),
    ("x:1", "positive", "zed", None, ("'zed' cannot correct sentiment: not on the playbook's roster (its leads, "
                                      "agents and admins); on it: lead, ana, bo, root")),
])
def test_a_refused_correction_says_what_would_be_right_and_changes_nothing(
        config, warehouse, key, label, person, brand, error):
    with pytest.raises(CorrectionRefused) as refused:
        correct_sentiment(warehouse, key, label, person, config.playbook, LATER, via="cli", brand=brand)

    assert str(refused.value) == error
    assert warehouse.execute("SELECT count(*) FROM sentiment_corrections").fetchone() == (0,)
    assert warehouse.execute("SELECT count(*) FROM triage_actions").fetchone() == (0,)
    assert volume(warehouse, "Brightwave") == (1, 0, 3, 1)


@pytest.mark.parametrize("counted_by", ["the next load", "overheard sentiment correct --count-pending"])
def test_an_analysts_sql_correction_counts_at_the_next_load_or_at_once(config, warehouse, tmp_path, capsys, counted_by):
    warehouse.execute("""
        INSERT INTO sentiment_corrections (mention_key, brand, label, model_label, model, corrected_by, corrected_at, via)
        VALUES ('x:2', NULL, 'positive', 'negative', 'vader-3.3', 'nadia (analyst)', TIMESTAMPTZ '2026-11-03 09:00Z', 'sql')
    """)
    assert volume(warehouse, "Brightwave") == (1, 0, 3, 1)  # not counted yet
    warehouse.close()

    if counted_by == "the next load":
        # The next run loads nothing of Monday; its recomputation takes in Monday for the correction.
        load_run(config.warehouse.path, "run-2", (LATER, LATER + timedelta(hours=1)), [])
    else:
        path = tmp_path / "config.json"
        path.write_text(config.model_dump_json(exclude_none=True))
        assert overheard(["sentiment", "correct", "--count-pending", "--config", str(path)]) == 0
        assert capsys.readouterr().out == "1 correction made by SQL counted in the daily aggregates\n"

    snapshot = read_warehouse(config.warehouse.path)  # the analysts' copy, republished
    assert snapshot is not None
    with snapshot:
        assert volume(snapshot, "Brightwave") == (2, 0, 2, 1)
        assert snapshot.execute("SELECT count(*) FROM sentiment_corrections WHERE counted_at IS NULL").fetchone() == (0,)


def corrections_to_check(config, warehouse) -> None:
    """Five scored corrections (three agree with the model) and one of an unscored mention."""
    playbook, at = config.playbook, LATER
    correct_sentiment(warehouse, "x:1", "positive", "ana", playbook, at, via="desk", brand="Brightwave")
    correct_sentiment(warehouse, "x:1", "negative", "ana", playbook, at, via="desk", brand="Tidewell")
    correct_sentiment(warehouse, "x:2", "positive", "bo", playbook, at, via="cli")
    correct_sentiment(warehouse, "x:2", "negative", "bo", playbook, at + timedelta(minutes=1), via="cli")  # wins
    correct_sentiment(warehouse, "x:3", "neutral", "bo", playbook, at, via="cli")
    correct_sentiment(warehouse, "x:6", "positive", "lead", playbook, at, via="cli")
    correct_sentiment(warehouse, "x:8", "neutral", "lead", playbook, at, via="cli")


def test_accuracy_per_label_brand_and_language_with_wilson_intervals(config, warehouse):
    corrections_to_check(config, warehouse)

    groups = {(g.group, g.name): g for g in sentiment_accuracy(warehouse)}

    assert list(groups) == [("overall", ""), ("brand", "Brightwave"), ("brand", "Tidewell"),
                            ("lang", "cy"), ("lang", "en"), ("lang", "es")]
    overall = groups[("overall", "")]
    assert (overall.agreement.hits, overall.agreement.total, overall.unscored) == (3, 5, 1)
    assert {label.label: (label.precision.hits, label.precision.total, label.recall.hits, label.recall.total)
            for label in overall.labels} == {
        "negative": (2, 4, 2, 2), "neutral": (0, 0, 0, 1), "positive": (1, 1, 1, 2)}
    negative = overall.labels[0]
    assert negative.precision.value == 0.5 and negative.precision.interval == pytest.approx((0.1500, 0.8500), abs=1e-4)
    assert overall.labels[1].precision.interval is None  # the model never said neutral
    assert [(g.agreement.hits, g.agreement.total, g.unscored) for key, g in groups.items() if key[0] != "overall"] == [
        (2, 4, 1), (1, 1, 0), (0, 0, 1), (3, 4, 0), (0, 1, 0)]
    assert wilson_interval(8, 10) == pytest.approx((0.4902, 0.9433), abs=1e-4)  # Newcombe (1998)'s table


def test_the_commands_correct_by_key_or_desk_number_and_report_accuracy(config, warehouse, tmp_path, capsys):
    warehouse.close()
    path = tmp_path / "config.json"
    path.write_text(config.model_dump_json(exclude_none=True))
    number = DeskState(desk_state_path(config.warehouse.path)).item_numbers(["x:2"])["x:2"]

    assert overheard(["sentiment", "correct", "x:1", "positive", "--brand", "Brightwave",
                      "--config", str(path), "--as", "ana"]) == 0
    assert overheard(["sentiment", "correct", f"#{number}", "negative", "--config", str(path), "--as", "bo"]) == 0
    assert overheard(["sentiment", "correct", "x:1", "positive", "--brand", "Skylark",
                      "--config", str(path), "--as", "ana"]) == 2
    out, err = capsys.readouterr()
    assert out.splitlines() == ["x:1 (Brightwave): positive, was negative by vader-3.3",
                                "x:2: negative, was negative by vader-3.3"]
    assert err.strip() == "x:1 does not name 'Skylark'; it names: Brightwave, Tidewell"

    # The analysts' snapshot has the corrections already.
    snapshot = read_warehouse(config.warehouse.path)
    assert snapshot is not None
    with snapshot:
        assert volume(snapshot, "Brightwave") == (2, 0, 2, 1)

    assert overheard(["sentiment", "accuracy", "--config", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2:7] == [
        "Overall: 2 labels, agreement 50% [9%, 91%]; 0 unscored corrections apart",
        "  label     precision        95% CI    of   recall        95% CI    of",
        "  negative        50%     [9%, 91%]     2     100%   [21%, 100%]     1",
        "  neutral           -             -     0        -             -     0",
        "  positive          -             -     0       0%     [0%, 79%]     1",
    ]
    assert "Brand Brightwave: 2 labels, agreement 50% [9%, 91%]; 0 unscored corrections apart" in lines
    assert overheard(["sentiment", "accuracy", "--config", str(path), "--since", "2030-01-01"]) == 0
    assert capsys.readouterr().out.startswith("No corrections since 2030-01-01 yet")


def test_the_weekly_report_says_how_many_corrections_checked_the_model(config, warehouse, tmp_path):
    before = render_weekly_report(warehouse, config, "2026-W45", tmp_path / "before").html.read_text(encoding="utf-8")
    corrections_to_check(config, warehouse)

    html = render_weekly_report(warehouse, config, "2026-W45", tmp_path / "after").html.read_text(encoding="utf-8")

    assert "sentiment not yet checked against people's corrections" in before
    # Five scored corrections, three of which said what the model had said; x:8's (unscored) is not one.
    assert "sentiment checked against 5 corrections: 60% agreement" in html


def test_erasing_the_author_pseudonymises_the_corrections_of_their_mentions(config, warehouse):
    corrections_to_check(config, warehouse)

    erase_author(warehouse, "x", "someone", "dpo", LATER + timedelta(days=1))

    kept = warehouse.execute("SELECT mention_key, brand, label, model_label FROM latest_sentiment_corrections").fetchall()
    assert len(kept) == 6 and all(key.startswith("erased:") for key, *_ in kept)
    overall = sentiment_accuracy(warehouse)[0]
    assert (overall.agreement.hits, overall.agreement.total, overall.unscored) == (3, 5, 1)


def test_the_desk_takes_a_correction_only_from_its_form_on_an_item_of_yours_for_a_brand_it_names(tmp_path):
    config = desk_config(tmp_path)
    triage(config, "run-1", MONDAY_NOON)
    set_passwords(config)
    state = DeskState(desk_state_path(config.warehouse.path))
    numbers = state.item_numbers(["x:1", "x:5"])
    with served_desk(config) as base:
        ana = sign_in(base, "ana")
        token = csrf_token(ana, f"{base}/items/{numbers['x:1']}")
        correct = f"{base}/items/{numbers['x:1']}/correct_sentiment"

        without_token = ana.post(correct, data={"brand": "Brightwave", "label": "positive"}, allow_redirects=False)
        not_hers = ana.post(f"{base}/items/{numbers['x:5']}/correct_sentiment", allow_redirects=False,
                            data={"csrf_token": token, "brand": "Tidewell", "label": "positive"})
        not_named = ana.post(correct, data={"csrf_token": token, "brand": "Skylark", "label": "positive"})

        assert (without_token.status_code, not_hers.status_code) == (403, 403)
        assert f"item #{numbers['x:5']} is in the sales queue, which is not one of yours" in not_hers.text
        assert "x:1 does not name &#39;Skylark&#39;; it names: Brightwave" in not_named.text
    with state.connect() as connection:
        assert connection.execute("SELECT count(*) FROM desk_actions").fetchone() == (0,)
