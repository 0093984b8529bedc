"""The keyless sources' searches, built from the brands: one builder per platform syntax."""

from __future__ import annotations

from pathlib import Path

from collectors.search_terms import hashtag_names, or_query, separate_terms
from config.loading import load_config
from config.model import BrandConfig

BRANDS = tuple(load_config(Path(__file__).resolve().parents[1] / "config" / "demo.yaml").all_brands)
ODD = BrandConfig(name="Acme", aliases=["Acme", "ACME", "Acme Home Services", " Bright Spark ", "Home"],
                  hashtags=["#Acme", "#acmedown"])


def test_separate_terms_search_each_term_once_leaving_out_aliases_another_term_finds() -> None:
    # "Brightwave Broadband" and "Tidewell Telecom" are found by the searches for "Brightwave" and "Tidewell".
    assert separate_terms(BRANDS, hashtags_as_words=True) == [
        "Brightwave", "brightwavedown", '"Skylark Fibre"', "skylarkfibre", "Tidewell",
    ]
    assert separate_terms(BRANDS, hashtags_as_words=False) == [
        "Brightwave", "#brightwave", "#brightwavedown", '"Skylark Fibre"', "#skylarkfibre", "Tidewell", "#tidewell",
    ]
    # Case-insensitively distinct; a phrase is quoted without its stray spaces; "Home" covers
    # "Acme Home Services" as well as "Acme" does.
    assert separate_terms([ODD], hashtags_as_words=True) == ["Acme", '"Bright Spark"', "Home", "acmedown"]


def test_hashtag_names_are_the_sources_own_else_the_brands_lowercased_without_the_sign() -> None:
    assert hashtag_names(BRANDS) == ["brightwave", "brightwavedown", "skylarkfibre", "tidewell"]
    assert hashtag_names(BRANDS, ["#Tidewell", "tidewell", "#"]) == ["tidewell"]
    assert hashtag_names([BrandConfig(name="No tags", aliases=["Plain"])]) == []


def test_or_query_is_one_search_per_brand_with_phrases_quoted() -> None:
    assert [or_query(brand) for brand in BRANDS] == [
        'Brightwave OR "Brightwave Broadband" OR #brightwave OR #brightwavedown',
        '"Skylark Fibre" OR #skylarkfibre',
        'Tidewell OR "Tidewell Telecom" OR #tidewell',
    ]
    assert or_query(BrandConfig(name="Handles only", handles=["@acme"])) == ""
