"""Enrichment: brand matching, ownership, language, sentiment and reach on the values analysts see."""

from __future__ import annotations

import pytest

from config.model import BrandConfig, Config, HackerNewsSource, ReachSettings
from core.enriched_mention import EnrichedMention
from core.mention import Mention
from enrich.language import LanguageDetector, LanguageGuess
from enrich.brand_sentiment import ScoredBrandMatch
from enrich.ownership import OwnedContent
from enrich.pipeline import Enricher
from enrich.reach import Reach, reach_estimate
from enrich.sentiment import LexiconSentiment
from query.brand_matching import BrandMatch, BrandMatcher

BRIGHTWAVE = BrandConfig(
    name="Brightwave",
    aliases=["Brightwave", "Brightwave Broadband"],
    hashtags=["#brightwavedown"],
    handles=["@brightwavehelp"],
    owned_handles=["@brightwavehelp"],
    owned_domains=["brightwave.example"],
)
TIDEWELL = BrandConfig(name="Tidewell", aliases=["Tidewell", "Tidewell Telecom"], owned_domains=["tidewell.example"])
SKYLARK = BrandConfig(name="Skylark Fibre", aliases=["Skylark Fibre"], hashtags=["#skylarkfibre"])


@pytest.fixture(scope="module")
def matcher() -> BrandMatcher:
    return BrandMatcher([BRIGHTWAVE], [TIDEWELL, SKYLARK])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Brightwave is down again", [BrandMatch("Brightwave", "brand", ("Brightwave",))]),
        ("BRIGHTWAVE's router, brightwave support", [BrandMatch("Brightwave", "brand", ("Brightwave",))]),
        ("Switched to Brightwave   Broadband today", [BrandMatch("Brightwave", "brand", ("Brightwave Broadband",))]),
        ("#BrightwaveDown for the third night", [BrandMatch("Brightwave", "brand", ("#brightwavedown",))]),
        ("@BrightwaveHelp any news?", [BrandMatch("Brightwave", "brand", ("@brightwavehelp",))]),
        (
            "Leaving Tidewell Telecom for Brightwave, then #skylarkfibre",
            [
                BrandMatch("Brightwave", "brand", ("Brightwave",)),
                BrandMatch("Tidewell", "competitor", ("Tidewell Telecom",)),
                BrandMatch("Skylark Fibre", "competitor", ("#skylarkfibre",)),
            ],
        ),
        ("Brightwaves of light; a skylark sang by the tide well; Tidewells", []),
        ("xBrightwave and Brightwave_2 are usernames", []),
    ],
)
def test_brand_matching_on_word_boundaries(matcher, text, expected):
    assert matcher.match(text) == expected


def test_owned_content_by_handle_or_domain():
    owned = OwnedContent([BRIGHTWAVE, TIDEWELL])
    assert owned.owner("@BrightwaveHelp", None) == "Brightwave"
    assert owned.owner("brightwavehelp", "https://x.example/") == "Brightwave"
    assert owned.owner(None, "https://press.brightwave.example/2026/outage") == "Brightwave"
    assert owned.owner(None, "https://tidewell.example/blog") == "Tidewell"
    assert owned.owner("someone", "https://notbrightwave.example/") is None
    assert owned.owner(None, "https://brightwave.example.attacker.net/") is None


def test_language_detection():
    detector = LanguageDetector()
    assert detector.detect("Brightwave a encore coupé ma connexion ce soir, inadmissible pour le prix.").lang == "fr"
    assert detector.detect("Mi conexión de Brightwave se cae todas las noches desde hace una semana.").lang == "es"
    assert detector.detect("My Brightwave connection drops every single evening this week.").lang == "en"
    assert detector.detect("Brightwave!").lang == "und"
    assert detector.detect("Brightwave!", declared="fr-CA") == LanguageGuess("fr", 0.0)


def test_lexicon_sentiment_labels_and_version():
    negative, neutral, positive = LexiconSentiment().score(
        [
            "Brightwave is the worst, third outage this week and nobody answers. Furious!",
            "Brightwave announced new prices on Tuesday.",
            "Brightwave fixed my line in an hour, brilliant support, thank you!",
        ]
    )
    assert (negative.label, neutral.label, positive.label) == ("negative", "neutral", "positive")
    assert negative.score < -0.5 < 0.5 < positive.score
    assert neutral.score == 0.0
    assert sum(positive.probabilities.values()) == pytest.approx(1.0, abs=0.01)
    assert positive.model == "vader-3.3.2"


def test_enricher_keeps_matches_counts_drops_and_records_versions():
    config = Config.model_validate(
        {
            "warehouse": {"path": "w.duckdb"},
            "staging": "s",
            "brands": [BRIGHTWAVE.model_dump()],
            "competitors": [TIDEWELL.model_dump()],
            "sources": [
                {"kind": "rss", "name": "news", "url": "https://news.example/feed", "audience": 12000},
                {"kind": "blog", "name": "blog", "url": "https://blog.example/"},
            ],
            "sentiment": {"backend": "lexicon"},  # the versions recorded, not the model, are the point
        }
    )
    mentions = [
        Mention("news", "news", "1", "https://news.example/a?utm_source=x", "Another outage tonight. Terrible service, I am furious.",
                title="Brightwave down"),
        Mention("news", "news", "2", "https://news.example/b", "Weather: bright waves of sunshine all week."),
        Mention("blog", "blog", None, "https://brightwave.example/press", "Tidewell and Brightwave agree on a deal."),
    ]
    enricher = Enricher(config)
    enriched = list(enricher.enrich(mentions))

    assert [row.mention.key for row in enriched] == ["https://news.example/a", "https://brightwave.example/press"]
    assert [row.ordinal for row in enriched] == [0, 1]
    assert set(enriched[0].to_json()) == set(EnrichedMention.row_types())  # every field the load reads
    first, press = enriched
    assert first.brands == (ScoredBrandMatch("Brightwave", "brand", ("Brightwave",)),)  # one brand: the mention's label
    assert first.sentiment_label == "negative" and first.sentiment_model == "vader-3.3.2"
    assert (first.reach_estimate, first.reach_low, first.reach_high, first.reach_model) == (12000, 120, 2400, "reach-v2")
    assert (first.is_owned, first.lang, first.lang_model) == (False, "en", "py3langid-0.4.0")
    assert [match.brand for match in press.brands] == ["Brightwave", "Tidewell"]
    assert (press.is_owned, press.owned_by) == (True, "Brightwave")
    assert press.reach_estimate == config.reach.default_blog_audience
    assert enricher.matched == {"news": 1, "blog": 1}
    assert enricher.dropped_unmatched == {"news": 1}


def test_a_brand_query_decides_instead_of_terms_with_fields_and_proximity():
    outages = BrandConfig(name="Brightwave outages", query='Brightwave NEAR/3 (outage OR down*) AND lang:en AND NOT site:brightwave.example')
    matcher = BrandMatcher([outages], [TIDEWELL])
    assert matcher.needs_language

    def matched(text: str, lang: str = "en", url: str = "https://forum.example/t/1") -> list[BrandMatch]:
        return matcher.match(text, Mention("news", "news", None, url, text), lang)

    assert matched("Brightwave is down again tonight") == [BrandMatch("Brightwave outages", "brand", ("Brightwave", "down*"))]
    assert matched("Brightwave, after a long and boring week of sunshine, went down") == []  # too far apart
    assert matched("Brightwave is down again tonight", lang="fr") == []
    assert matched("Brightwave is down again tonight", url="https://status.brightwave.example/") == []
    assert matched("Tidewell and Brightwave outage") == [
        BrandMatch("Brightwave outages", "brand", ("Brightwave", "outage")), BrandMatch("Tidewell", "competitor", ("Tidewell",))
    ]


def test_brand_queries_are_sent_to_x_and_reddit_in_their_syntax():
    from collectors.reddit.queries import search_queries
    from collectors.x.queries import build_queries

    outages = BrandConfig(name="Brightwave", query='"Brightwave Broadband" AND (outage OR down) NOT author:brightwavehelp')
    assert build_queries([outages, TIDEWELL], include_retweets=False, languages=[]) == [
        '("Brightwave Broadband" (outage OR down) -from:brightwavehelp) -is:retweet',
        '(Tidewell OR "Tidewell Telecom") -is:retweet',
    ]
    assert search_queries(outages) == ['"Brightwave Broadband" AND (outage OR down) AND NOT author:brightwavehelp']


@pytest.mark.parametrize(
    ("mention", "expected"),
    [
        (Mention("x", "x", "1", None, "hi", author_followers=48210), Reach(48210, 482, 9642)),
        (Mention("x", "x", "2", None, "hi", author_followers=500, engagement={"impressions": 7300}), Reach(7300, 7300, 7300)),
        (Mention("reddit", "r", "t3_a", None, "hi", engagement={"score": 100}, community_size=200_000),
         Reach(101_000, 1010, 20200)),
        (Mention("reddit", "r", "t3_b", None, "hi", engagement={"score": 0}), Reach(500, 5, 100)),  # unknown subreddit size
        (Mention("hackernews", "hn", "9", None, "hi", engagement={"points": 900}), Reach(45_050, 450, 9010)),
        (Mention("bluesky", "bsky", "at://p", None, "hi"), Reach(0, 0, 0)),
    ],
)
def test_reach_v2_by_platform(mention, expected):
    hacker_news = HackerNewsSource(kind="hackernews", name="hn")  # no audience: the forum default applies
    assert reach_estimate(mention, hacker_news, ReachSettings()) == expected
