"""Sentiment per brand and per language: each brand of a comparison gets its own label, through the load
into the views, the weekly report and the playbook's competitor categories; a mention in a language no
model covers is left unscored with its reason, and counted apart."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import duckdb
import pytest

from care.triage import CareStep
from cli.main import main
from collectors.source_run import SourceRun
from collectors.units import CollectionUnit, stage_unit
from config.model import Config
from core.mention import Mention
from core.staging import StagingArea
from enrich.brand_sentiment import BrandSentimentScorer
from enrich.pipeline import Enricher, enrich_unit
from enrich.sentiment import LexiconSentiment, SentimentScore
from query.brand_matching import BrandMatch
from reports.week_summary import summary_lines
from reports.weekly import weekly_report_data
from warehouse.load import load_run

NORTHPEAK = BrandMatch("Northpeak", "brand", ("Northpeak",))
LARKSPUR = BrandMatch("Larkspur", "competitor", ("Larkspur", "@larkspur"))
WINDOW = (datetime(2026, 11, 2, 9, tzinfo=UTC), datetime(2026, 11, 2, 10, tzinfo=UTC))
NEXT_WINDOW = (datetime(2026, 11, 2, 10, tzinfo=UTC), datetime(2026, 11, 2, 11, tzinfo=UTC))
GERMAN = "Brightwave ist eine Katastrophe, seit drei Tagen kein Internet und niemand hilft mir."
VADER_ENGLISH_ONLY = "language de is not covered by vader-3.3.2 (English)"


@pytest.fixture(scope="module")
def lexicon() -> LexiconSentiment:
    return LexiconSentiment()


@pytest.mark.parametrize(
    ("text", "northpeak", "larkspur", "how"),
    [
        ("switched from Larkspur to Northpeak last month, signal everywhere now", "positive", "negative", "comparison"),
        ("Ditched Northpeak for Larkspur and I regret it every day", "positive", "negative", "comparison"),
        ("Ditched Larkspur for Northpeak, no regrets", "positive", "negative", "comparison"),
        ("Northpeak is way better than Larkspur", "positive", "negative", "comparison"),
        ("Northpeak is not better than Larkspur, it just has nicer colours", "negative", "positive", "comparison"),
        ("Larkspur > Northpeak and it's not even close", "negative", "positive", "comparison"),
        ("Unlike Larkspur, Northpeak actually answers the phone. Love them", "positive", "negative", "comparison"),
        ("Larkspur lost my order again, Northpeak got it here in 20 minutes, brilliant", "positive", "negative", "own"),
        ("@larkspur is useless, three outages this week. Northpeak has been great to me.", "positive", "negative", "own"),
        ("Northpeak and Larkspur both suck", "negative", "negative", "shared"),
    ],
)
def test_each_brand_of_a_comparison_gets_its_own_label(lexicon, text, northpeak, larkspur, how):
    mention = lexicon.score([text])[0]
    [readings] = BrandSentimentScorer(lexicon).read([(text, [NORTHPEAK, LARKSPUR], mention)])
    assert [reading.label for reading in readings] == [northpeak, larkspur]
    assert all(reading.how.startswith(how) for reading in readings)
    for reading in readings:  # the score's sign agrees with the label
        assert (reading.score > 0, reading.score < 0) == (reading.label == "positive", reading.label == "negative")


def test_one_brand_or_an_unscored_mention_keeps_no_label_of_its_own(lexicon):
    text = "Northpeak is brilliant and Larkspur is awful"
    scored = BrandSentimentScorer(lexicon).score([
        ("Northpeak is brilliant", [NORTHPEAK], lexicon.score(["Northpeak is brilliant"])[0]),
        (text, [NORTHPEAK, LARKSPUR], None),
        (text, [NORTHPEAK, LARKSPUR], lexicon.score([text])[0]),
    ])
    assert [(b.brand, b.sentiment_label) for b in scored[0]] == [("Northpeak", None)]
    assert [(b.brand, b.sentiment_label, b.sentiment_score) for b in scored[1]] == [
        ("Northpeak", None, None), ("Larkspur", None, None)
    ]
    assert [b.sentiment_label for b in scored[2]] == ["positive", "negative"]


class CountingBackend:
    """The lexicon, counting its calls: every text of a batch is scored in one call."""

    def __init__(self) -> None:
        self.lexicon = LexiconSentiment()
        self.model = self.lexicon.model
        self.calls: list[int] = []

    def score(self, texts):
        self.calls.append(len(texts))
        return self.lexicon.score(texts)


def config_for(tmp_path, **extra) -> Config:
    """Brightwave and Tidewell, one feed; VADER scores (the figures below are its)."""
    extra["sentiment"] = {"backend": "lexicon", **extra.get("sentiment", {})}
    return Config.model_validate({
        "timezone": "UTC",
        "warehouse": {"path": str(tmp_path / "w.duckdb")},
        "staging": str(tmp_path / "staging"),
        "brands": [{"name": "Brightwave", "aliases": ["Brightwave"]}],
        "competitors": [{"name": "Tidewell", "aliases": ["Tidewell"]}],
        "sources": [{"kind": "rss", "name": "techwire", "url": "https://techwire.example/feed", "audience": 1000}],
        **extra,
    })


def post(slug: str, text: str) -> Mention:
    return Mention("news", "techwire", slug, f"https://techwire.example/{slug}", text,
                   published_at=datetime(2026, 11, 2, 8, tzinfo=UTC))


def stage_run(config: Config, run_id: str, mentions: list[Mention]) -> list[str]:
    staging = StagingArea(config.staging, run_id)
    unit = CollectionUnit("rss-001", "rss", ("techwire",))
    outcome = SourceRun("techwire", "rss", "ok", items_fetched=len(mentions), mentions=mentions)
    return [enrich_unit(config, stage_unit(staging, unit, [outcome]), staging)]


def test_a_comparison_is_counted_for_each_brand_by_its_own_label_in_the_views_report_and_playbook(tmp_path):
    config = config_for(tmp_path, playbook={
        "categories": [
            {"name": "win-back", "query": "Tidewell", "about": "competitor", "sentiment": ["negative"],
             "severity": 0.3, "sla_minutes": 480},
        ],
        "queues": [{"name": "care"}], "default_queue": "care",
    })
    first_run = [
        post("switch", "Switched from Tidewell to Brightwave last week and the speeds are brilliant!"),
        post("praise", "Brightwave engineer was brilliant, thank you"),
        post("german", GERMAN),
    ]
    for _ in range(2):  # loading twice doubles nothing
        load_run(config.warehouse.path, "run-1", WINDOW, stage_run(config, "run-1", first_run))

    with duckdb.connect(config.warehouse.path) as connection:
        brands = connection.execute(
            "SELECT mention_key, brand, sentiment_label, sign(sentiment_score), sentiment_model FROM mention_brands "
            "ORDER BY ALL"
        ).fetchall()
        assert brands == [
            ("https://techwire.example/german", "Brightwave", None, None, None),
            ("https://techwire.example/praise", "Brightwave", None, None, None),  # one brand: the mention's label
            ("https://techwire.example/switch", "Brightwave", "positive", 1, "vader-3.3.2+brand-clauses-v1"),
            ("https://techwire.example/switch", "Tidewell", "negative", -1, "vader-3.3.2+brand-clauses-v1"),
        ]
        assert connection.execute(
            "SELECT sentiment_label, sentiment_model, sentiment_reason FROM mentions WHERE mention_key LIKE '%german'"
        ).fetchall() == [(None, None, f"not scored: {VADER_ENGLISH_ONLY}; configure sentiment.languages")]
        assert connection.execute("SELECT source, warnings FROM runs").fetchall() == [("techwire", [
            "sentiment: 1 mentions left unscored, in languages no configured model covers (de 1); "
            "configure sentiment.languages"
        ])]
        assert connection.execute(
            "SELECT brand, positive, neutral, negative, unscored, net_sentiment FROM net_sentiment ORDER BY brand"
        ).fetchall() == [("Brightwave", 2, 0, 0, 1, 1.0), ("Tidewell", 0, 0, 1, 0, -1.0)]
        assert connection.execute(
            "SELECT brand, sum(mentions), sum(unscored) FROM daily_volume GROUP BY brand ORDER BY brand"
        ).fetchall() == [("Brightwave", 3, 1), ("Tidewell", 1, 0)]
        assert connection.execute(
            "SELECT brand, mentions, negative, positive FROM top_authors ORDER BY brand"
        ).fetchall() == [("Brightwave", 3, 0, 2), ("Tidewell", 1, 1, 0)]

        # The competitor category reads Tidewell's own label (the mention as a whole is positive).
        CareStep(connection, config, "run-1", WINDOW[1]).run()
        assert connection.execute("SELECT mention_key, category, brand FROM triage_items").fetchall() == [
            ("https://techwire.example/switch", "win-back", "Tidewell")
        ]

        report = weekly_report_data(connection, config, "2026-W45")
        split = {row.brand: (row.positive, row.neutral, row.negative, row.unscored, row.net_sentiment)
                 for row in report.sentiment}
        assert split == {"Brightwave": (2, 0, 0, 1, 1.0), "Tidewell": (0, 0, 1, 0, -1.0)}
        assert "Brightwave's net sentiment was +1.00" in "\n".join(summary_lines(report))
        assert "; 1 mention unscored: a language no sentiment model covers." in "\n".join(summary_lines(report))

        # A person's correction of one brand wins over the model's label for it, in the report too.
        connection.execute(
            "INSERT INTO sentiment_corrections (mention_key, brand, label, corrected_by, corrected_at, via) "
            "VALUES ('https://techwire.example/switch', 'Tidewell', 'neutral', 'ana', now(), 'sql')"
        )
        tidewell = next(row for row in weekly_report_data(connection, config, "2026-W45").sentiment
                        if row.brand == "Tidewell")
        assert (tidewell.neutral, tidewell.negative, tidewell.net_sentiment) == (1, 0, None)

    # A later sighting that reads differently updates the brands' labels in place.
    edited = post("switch", "Switched from Tidewell to Brightwave. Big mistake, Brightwave drops every night, awful.")
    load_run(config.warehouse.path, "run-2", NEXT_WINDOW, stage_run(config, "run-2", [edited]))
    with duckdb.connect(config.warehouse.path, read_only=True) as connection:
        assert connection.execute(
            "SELECT brand, sentiment_label FROM mention_brands WHERE mention_key LIKE '%switch' ORDER BY brand"
        ).fetchall() == [("Brightwave", "negative"), ("Tidewell", "positive")]


class GermanModel:
    """A stand-in for a German sentiment model: everything is negative."""

    model = "transformers:example/german-sentiment@local"

    def score(self, texts):
        return [SentimentScore("negative", -0.9, {"negative": 0.95, "neutral": 0.05, "positive": 0.0}, self.model)
                for _ in texts]


def test_a_language_the_backend_does_not_cover_goes_to_the_model_configured_for_it_or_stays_unscored(tmp_path):
    mentions = [
        post("en", "Brightwave fixed my line in an hour, brilliant support, thank you!"),
        post("de", GERMAN),
        post("fr", "Brightwave a encore coupé ma connexion ce soir, inadmissible pour le prix."),
        post("short", "Brightwave!"),  # too short to tell its language: scored by the backend
    ]
    backend = CountingBackend()
    config = config_for(tmp_path, sentiment={"languages": {"de": "example/german-sentiment", "*": "/nowhere/model"}})
    enricher = Enricher(config, sentiment=backend, language_sentiment={"example/german-sentiment": GermanModel()})
    rows = {row.mention.native_id: row for row in enricher.enrich(mentions)}

    assert {key: (row.lang, row.sentiment_label, row.sentiment_model) for key, row in rows.items()} == {
        "en": ("en", "positive", "vader-3.3.2"),
        "de": ("de", "negative", GermanModel.model),
        "fr": ("fr", None, None),
        "short": ("und", "neutral", "vader-3.3.2"),
    }
    assert rows["en"].sentiment_reason is None
    assert rows["de"].sentiment_reason == (
        f"scored by example/german-sentiment: {VADER_ENGLISH_ONLY}; sentiment.languages.de"
    )
    assert rows["fr"].sentiment_reason.startswith("not scored: sentiment model '/nowhere/model' is not on this machine")
    assert backend.calls == [2]  # the English and the undetermined mention, in one batch
    assert enricher.unscored == {"techwire": {"fr": 1}}


def test_overheard_sentiment_score_prints_one_json_object_per_line_with_each_brands_label(
    tmp_path, monkeypatch, capsys
):
    config_file = tmp_path / "overheard.yaml"
    config_file.write_text(
        "warehouse: {path: w.duckdb}\nstaging: staging\n"
        "brands: [{name: Brightwave, aliases: [Brightwave]}]\n"
        "competitors: [{name: Tidewell, aliases: [Tidewell]}, {name: Skylark Fibre, aliases: [Skylark Fibre]}]\n"
        "sources: [{kind: rss, name: news, url: 'https://news.example/feed'}]\n"
        "sentiment: {backend: lexicon}\n",
        encoding="utf-8",
    )
    texts = [
        "Switched from Tidewell to Brightwave last week and the speeds are brilliant!",
        "Brightwave is down again, awful service",
        "nothing about anyone here",
        GERMAN,
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(texts) + "\n"))

    assert main(["sentiment", "score", "--config", str(config_file)]) == 0

    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(row["label"], row["model"], row["lang"]) for row in printed] == [
        ("positive", "vader-3.3.2", "en"), ("negative", "vader-3.3.2", "en"), ("neutral", "vader-3.3.2", "en"),
        (None, None, "de"),
    ]
    switch, outage, nobody, german = printed
    assert {brand: value["label"] for brand, value in switch["brands"].items()} == {
        "Brightwave": "positive", "Tidewell": "negative"
    }
    assert switch["brands"]["Tidewell"]["score"] < 0 < switch["brands"]["Brightwave"]["score"]
    assert outage["brands"] == {"Brightwave": {"label": "negative", "score": outage["score"]}}  # one brand: the text's
    assert outage["score"] < -0.3
    assert nobody["brands"] == {}
    assert german["brands"] == {"Brightwave": {"label": None, "score": None}}
    assert german["reason"] == f"not scored: {VADER_ENGLISH_ONLY}; configure sentiment.languages"


def test_sentiment_languages_must_name_language_codes(tmp_path):
    with pytest.raises(ValueError, match="'German' is not a language code such as 'de'"):
        config_for(tmp_path, sentiment={"languages": {"German": "example/german-sentiment"}})
    assert config_for(tmp_path).sentiment.languages.root == {}
