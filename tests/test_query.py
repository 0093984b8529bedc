"""Brand queries: which texts match, how precedence applies, the error messages, the compiled X and Reddit queries."""

from __future__ import annotations

import random
import re
from functools import cache
from pathlib import Path

import pytest

from core.mention import Mention
from query.boolean import QueryError, QuerySet, fold, mention_text, parse_query
from query.platform_syntax import QueryCompileError, to_reddit_query, to_x_query
from tests.test_docs import tables_in

QUERY_LANGUAGE = Path(__file__).resolve().parents[1] / "docs" / "query-language.md"


def mention(text: str, **fields) -> Mention:
    platform = fields.pop("platform", "x")
    return Mention(platform=platform, source="test", native_id="1", url=fields.pop("url", None), text=text, **fields)


def matches(query: str, text: str, **fields) -> bool:
    lang = fields.pop("lang", None)
    return parse_query(query).matches(mention(text, **fields), lang=lang)


# --- Which texts match ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        # Terms: case-insensitive, on word boundaries, as query.brand_matching matches aliases.
        ("brightwave", "BRIGHTWAVE is down again", True),
        ("brightwave", "#Brightwave and Brightwave's router", True),
        ("brightwave", "Brightwaves of light, xBrightwave, Brightwave_2", False),
        ('"brightwave broadband"', "switched to Brightwave\n   Broadband today", True),
        ('"brightwave broadband"', "Brightwave, broadband and more", False),
        ("“skylark fibre”", "Skylark Fibre opened an exchange", True),  # curly quotes pasted from a document
        # Wildcards: * is any run of letters and digits, also inside phrases.
        ("serv*", "the serv, service and Servers", True),
        ("serv*", "observers deserve better", False),
        ('"serv* outage"', "a servers outage in Leeds", True),
        ('"serv* outage"', "the outage hit servers", False),
        ("colo*r", "what colour is it", True),
        # Hashtags, handles and cashtags match only with their sign.
        ("#brightwavedown", "#BrightwaveDown third night", True),
        ("#brightwavedown", "brightwavedown third night", False),
        ("@brightwavehelp", "@BrightwaveHelp any news?", True),
        ("@brightwavehelp", "mail brightwavehelp@example.com", False),
        ("$TDW", "$tdw up 4%.", True),
        ("$TDW", "TDW up 4%", False),
        # Boolean operators.
        ("brightwave AND outage", "Brightwave: outage in Leeds", True),
        ("brightwave AND outage", "Brightwave is fine", False),
        ("brightwave OR tidewell", "Tidewell price rise", True),
        ("brightwave AND NOT (job* OR hiring)", "Brightwave is hiring engineers", False),
        ("brightwave AND NOT (job* OR hiring)", "Brightwave outage", True),
        ("brightwave NOT hiring", "Brightwave is hiring", False),  # a NOT b is a AND NOT b
        ("brightwave OR tidewell AND outage", "Brightwave is fine", True),  # AND binds tighter than OR
        ("(brightwave OR tidewell) AND outage", "Brightwave is fine", False),
        # NEAR/n: at most n words between, either order; ONEAR/n: left first.
        ("brightwave NEAR/2 outage", "Brightwave had an outage", True),
        ("brightwave NEAR/2 outage", "Outage again at Brightwave", True),
        ("brightwave NEAR/2 outage", "Brightwave had a long outage", False),
        ("brightwave NEAR/0 outage", "the Brightwave outage", True),
        ("brightwave NEAR/0 outage", "Brightwave's outage", True),  # punctuation stays with its word
        ("brightwave NEAR/0 outage", "Brightwave, the outage", False),
        ("brightwave ONEAR/2 outage", "Brightwave had an outage", True),
        ("brightwave ONEAR/2 outage", "Outage again at Brightwave", False),
        ("brightwave NEAR/2f outage", "Outage again at Brightwave", False),  # Brandwatch's ordered NEAR
        ("(brightwave OR tidewell) NEAR/1 (price* OR bill)", "Tidewell announced prices", True),
        ('"price rise" NEAR/3 tidewell', "a price rise from Tidewell", True),
        ("(router NEAR/1 hub) NEAR/2 brightwave", "router or hub from Brightwave", True),
        ("(router NEAR/1 hub) NEAR/2 brightwave", "router, modem and hub from Brightwave", False),
        ("outage NEAR/3 outage", "one outage only", False),  # two different occurrences
        ("outage NEAR/3 outage", "outage after outage", True),
        # Unicode: what re.IGNORECASE treats as equal.
        ("istanbul", "İSTANBUL and Istanbul", True),
        ("straße", "STRAẞE", True),
        ("kelvin", "\u212aELVIN", True),
    ],
)
def test_which_texts_match(query, text, expected):
    assert matches(query, text) is expected


@pytest.mark.parametrize(
    ("query", "fields", "expected"),
    [
        ("brightwave AND lang:en", {"lang": "en"}, True),
        ("brightwave AND lang:en", {"lang": "de"}, False),
        ("brightwave AND lang:en", {"lang_hint": "en-GB"}, True),  # no detected language: the declared one
        ("brightwave AND lang:en", {"lang": "de", "lang_hint": "en"}, False),  # detection wins
        ("brightwave AND lang:en", {}, False),  # neither: "und"
        ("brightwave AND lang:und", {}, True),
        ("brightwave AND site:bbc.co.uk", {"url": "https://www.bbc.co.uk/news/1"}, True),
        ("brightwave AND site:bbc.co.uk", {"url": "https://bbc.co.uk/"}, True),
        ("brightwave AND site:bbc.co.uk", {"url": "https://notbbc.co.uk/"}, False),
        ("brightwave AND site:bbc.co.uk", {}, False),
        ("brightwave AND author:priya_codes", {"author_handle": "@Priya_Codes"}, True),
        ("brightwave AND author:@priya_codes", {"author_handle": "priya_codes"}, True),
        ("brightwave AND author:leeds_lurker", {"author_handle": "u/leeds_lurker", "platform": "reddit"}, True),
        ("brightwave AND author:priya_codes", {"author_handle": "@priya"}, False),
        ("brightwave AND platform:reddit", {"platform": "reddit"}, True),
        ("brightwave AND platform:reddit", {"platform": "x"}, False),
        ("brightwave AND NOT author:brightwavehelp", {"author_handle": "@brightwavehelp"}, False),
        ("author:brightwavehelp OR tidewell", {"author_handle": "@brightwavehelp"}, True),
    ],
)
def test_field_filters(query, fields, expected):
    assert matches(query, "Brightwave is down", **fields) is expected


def test_fields_a_query_uses():
    assert parse_query("brightwave AND (lang:en OR NOT site:bbc.co.uk)").fields == {"lang", "site"}
    assert parse_query("brightwave").fields == set()


def test_the_title_is_searched_with_the_body():
    query = parse_query("brightwave AND outage")
    assert query.matches(mention("third time this week", title="Brightwave outage")) is True


def test_matched_terms_are_the_positive_terms_found_in_text_order():
    query = parse_query(
        '(Brightwave OR "Brightwave Broadband" OR #brightwavedown OR serv*) AND NOT (spam OR Tidewell) '
        "AND (outage NEAR/3 Leeds OR lang:en)"
    )
    text = "Servers down: Brightwave broadband outage, #BrightwaveDown, Tidewell fine, not Leeds; BRIGHTWAVE"
    assert query.matched_terms(text) == (
        "serv*", "Brightwave", "Brightwave Broadband", "outage", "#brightwavedown", "Leeds"
    )
    assert [term.text for term in query.positive_terms] == [
        "Brightwave", "Brightwave Broadband", "#brightwavedown", "serv*", "outage", "Leeds"
    ]
    assert query.matched_terms("nothing here") == ()


# --- Precedence ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "parsed"),
    [
        ("a OR b AND c", "a OR (b AND c)"),
        ("a AND b OR c AND d", "(a AND b) OR (c AND d)"),
        ("a NEAR/3 b AND c", "(a NEAR/3 b) AND c"),
        ("a OR b NEAR/3 c", "a OR (b NEAR/3 c)"),
        ("NOT a AND b", "NOT a AND b"),
        ("a NOT b OR c", "(a AND NOT b) OR c"),
        ("a AND NOT NOT b", "a AND b"),
        ("NOT (a OR b) AND c", "NOT (a OR b) AND c"),
        ("(a OR b) NEAR/5 c ONEAR/2 d", "((a OR b) NEAR/5 c) ONEAR/2 d"),
        ("a NEAR/2f b", "a ONEAR/2 b"),
        ("(a AND b) AND (c AND d)", "a AND b AND c AND d"),
        ('"Skylark   Fibre" OR lang:EN', '"Skylark Fibre" OR lang:en'),
    ],
)
def test_precedence_not_near_and_or(query, parsed):
    assert parse_query(query).canonical == parsed


# --- Errors -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", 'query error at column 1: the query is empty; expected a term or "("\n  \n  ^'),
        (
            "(Brightwave OR Tidewell) AND",
            'query error at column 29: expected a term or "(" after AND, found end of query\n'
            "  (Brightwave OR Tidewell) AND\n"
            "                              ^",
        ),
        (
            "Brightwave OR OR Tidewell",
            'query error at column 15: expected a term or "(" after OR, found OR\n'
            "  Brightwave OR OR Tidewell\n"
            "                ^",
        ),
        (
            "OR Brightwave",
            'query error at column 1: expected a term or "(", found OR\n  OR Brightwave\n  ^',
        ),
        (
            "(Brightwave OR Tidewell AND outage",
            'query error at column 35: expected ")" to close the "(" at column 1, found end of query\n'
            "  (Brightwave OR Tidewell AND outage\n"
            "                                    ^",
        ),
        (
            "Brightwave OR Tidewell)",
            'query error at column 23: found ")" without a "(" before it to close\n'
            "  Brightwave OR Tidewell)\n"
            "                        ^",
        ),
        (
            'Brightwave AND "price rise',
            'query error at column 16: expected a closing " for the phrase that starts here\n'
            '  Brightwave AND "price rise\n'
            "                 ^",
        ),
        (
            'Brightwave OR ""',
            "query error at column 15: expected words between the quotes, found an empty phrase\n"
            '  Brightwave OR ""\n'
            "                ^",
        ),
        (
            "Brightwave NEAR/five outage",
            'query error at column 17: expected a number of words after NEAR/, e.g. NEAR/5, found "five"\n'
            "  Brightwave NEAR/five outage\n"
            "                  ^",
        ),
        (
            "Brightwave NEAR/ outage",
            "query error at column 17: expected a number of words after NEAR/, e.g. NEAR/5, found nothing\n"
            "  Brightwave NEAR/ outage\n"
            "                  ^",
        ),
        (
            "Brightwave NEAR outage",
            "query error at column 12: expected NEAR/n with the most words between the terms, e.g. NEAR/5\n"
            "  Brightwave NEAR outage\n"
            "             ^",
        ),
        (
            "NOT spam NEAR/3 Brightwave",
            "query error at column 1: NEAR/3 works on terms, phrases and OR groups of them, found NOT; "
            "to exclude, put NOT before the whole group: NOT (a NEAR/3 b)\n"
            "  NOT spam NEAR/3 Brightwave\n"
            "  ^",
        ),
        (
            "(a AND b) NEAR/3 c",
            "query error at column 4: NEAR/3 works on terms, phrases and OR groups of them, found AND\n"
            "  (a AND b) NEAR/3 c\n"
            "     ^",
        ),
        (
            "Brightwave AND titel:outage",
            'query error at column 16: unknown field "titel:"; expected one of lang:, site:, author:, platform: '
            "(to search for the text, put it in quotes)\n"
            "  Brightwave AND titel:outage\n"
            "                 ^",
        ),
        (
            "Brightwave AND lang:english",
            'query error at column 21: expected a two- or three-letter language code after lang:, e.g. lang:en, '
            'found "english"\n'
            "  Brightwave AND lang:english\n"
            "                      ^",
        ),
        (
            "Brightwave AND site:https://bbc.co.uk/",
            "query error at column 21: expected a host name after site:, e.g. site:bbc.co.uk, "
            'found "https://bbc.co.uk/"\n'
            "  Brightwave AND site:https://bbc.co.uk/\n"
            "                      ^",
        ),
        (
            "Brightwave AND lang:",
            "query error at column 21: expected a value right after lang:, e.g. lang:en\n"
            "  Brightwave AND lang:\n"
            "                      ^",
        ),
        (
            "Brightwave outage",
            "query error at column 12: expected AND, OR, NOT, NEAR/n or ONEAR/n before \"outage\"; terms are not "
            'joined without an operator (for the exact phrase write "Brightwave outage")\n'
            "  Brightwave outage\n"
            "             ^",
        ),
        (
            "Brightwave or Tidewell",
            "query error at column 12: operators are written in capitals: OR, found or\n"
            "  Brightwave or Tidewell\n"
            "             ^",
        ),
        (
            "Brightwave -hiring",
            'query error at column 12: "-" does not exclude here; write NOT before what to exclude, e.g. NOT hiring\n'
            "  Brightwave -hiring\n"
            "             ^",
        ),
        (
            "Brightwave OR s*",
            'query error at column 16: a wildcard needs at least two letters or digits right before "*", e.g. serv*, '
            'found "s*"\n'
            "  Brightwave OR s*\n"
            "                 ^",
        ),
        (
            "Brightwave OR &&",
            'query error at column 15: expected a term with a letter or digit, found "&&"\n'
            "  Brightwave OR &&\n"
            "                ^",
        ),
        (
            "NOT (hiring OR jobs)",
            "query error at column 1: the query only excludes; it needs a term or field that is not under NOT\n"
            "  NOT (hiring OR jobs)\n"
            "  ^",
        ),
        (
            "(Brightwave OR Tidewell) AND\n  (outage OR down",
            'query error at line 2, column 18: expected ")" to close the "(" at line 2, column 3, found end of query\n'
            "    (outage OR down\n"
            "                   ^",
        ),
        (
            "(Brightwave OR Tidewell)\n  AND (outage OR",
            'query error at line 2, column 17: expected a term or "(" after OR, found end of query\n'
            "    AND (outage OR\n"
            "                  ^",
        ),
    ],
)
def test_error_messages_point_at_the_column(query, message):
    with pytest.raises(QueryError) as raised:
        parse_query(query)
    assert str(raised.value) == message
    error = raised.value
    where = f"line {error.line}, column {error.column}" if "\n" in query else f"column {error.column}"
    assert str(error).startswith(f"query error at {where}:")


def test_deep_nesting_is_an_error_not_a_crash():
    with pytest.raises(QueryError, match="nested more than 100 deep"):
        parse_query("(" * 150 + "a" + ")" * 150)
    assert parse_query("(" * 100 + "a" + ")" * 100).canonical == "a"


# --- Many queries at once -----------------------------------------------------------------------------

BRAND_QUERIES = {
    "Brightwave": (
        '(Brightwave OR "Brightwave Broadband" OR #brightwavedown OR @brightwavehelp) AND NOT (job* OR hiring)'
    ),
    "Tidewell": "(Tidewell OR $TDW) AND NOT site:tidewell.example",
    "Skylark Fibre": '"Skylark Fibre" OR #skylarkfibre OR (skylark NEAR/3 (fibre OR broadband OR install*))',
    "Outages": "(outage* OR \"no signal\" OR down) ONEAR/4 (Leeds OR Bristol) AND lang:en",
    "Help desk": "author:brightwavehelp OR platform:reddit AND support",
    "Istanbul": "istanbul OR straße",
}


def test_query_set_reports_every_matching_brand_in_order():
    queries = QuerySet({name: parse_query(query) for name, query in BRAND_QUERIES.items()})
    assert queries.matching(mention("Brightwave and Tidewell both down; Skylark engineers installing fibre")) == [
        "Brightwave", "Tidewell", "Skylark Fibre",
    ]
    assert queries.matching(mention("Brightwave is hiring")) == []
    assert queries.matching(mention("$TDW news", url="https://ir.tidewell.example/q3")) == []
    assert queries.matching(mention("Outages in Leeds tonight"), lang="en") == ["Outages"]
    assert queries.matching(mention("Outages in Leeds tonight"), lang="de") == []
    assert queries.matching(mention("any news?", author_handle="@brightwavehelp")) == ["Help desk"]
    assert queries.matching(mention("İSTANBUL, STRASSE")) == ["Istanbul"]


def test_query_set_evaluates_a_query_only_where_its_rarest_required_terms_occur():
    queries = QuerySet({
        "Brightwave": parse_query("(Brightwave OR #brightwave) AND (outage* OR down)"),
        "Help desk": parse_query("author:brightwavehelp OR brightwave"),  # a field alone can match it
    })
    assert queries.matching(mention("down again, outages everywhere")) == []
    assert queries.evaluations == 1  # the help desk query; the outage words are not looked up
    assert queries.matching(mention("#Brightwave down again")) == ["Brightwave", "Help desk"]
    assert queries.evaluations == 3


def _random_text(rng: random.Random) -> str:
    vocabulary = [
        "Brightwave", "brightwave's", "#BrightwaveDown", "@brightwavehelp", "Broadband", "Tidewell", "$TDW", "tdw",
        "Skylark", "fibre", "Fibre", "installer", "install", "outage", "OUTAGES", "no", "signal", "down", "Leeds",
        "Bristol", "jobs", "hiring", "support", "the", "and", "is", "in", "İSTANBUL", "Istanbul", "straße", "STRASSE",
        "servers", "wi-fi", "price", "rise", "price-rise", "😤", "“quoted”", "café", "spam", "#ad",
    ]
    separators = [" ", " ", " ", ", ", "\n", " - ", ": "]
    words = rng.choices(vocabulary, k=rng.randint(1, 14))
    return "".join(word + rng.choice(separators) for word in words).strip()


def test_query_set_agrees_with_each_query_on_its_own():
    rng = random.Random(7)
    parsed = {name: parse_query(query) for name, query in BRAND_QUERIES.items()}
    queries = QuerySet(parsed)
    found = 0
    for _ in range(1500):
        item = mention(
            _random_text(rng), author_handle=rng.choice(["@brightwavehelp", "@priya", None]),
            platform=rng.choice(["x", "reddit"]), url=rng.choice([None, "https://www.tidewell.example/x"]),
        )
        lang = rng.choice(["en", "de", None])
        expected = [name for name, query in parsed.items() if query.matches(item, lang=lang)]
        assert queries.matching(item, lang=lang) == expected
        found += len(expected)
    assert found > 1000  # the corpus exercises the queries


def test_fold_equates_exactly_what_ignorecase_equates():
    # Every word character folds to a word character that IGNORECASE matches with it, ...
    cased = [chr(code) for code in range(0x20000) if chr(code).lower() != chr(code) or chr(code).upper() != chr(code)]
    words = [char for char in cased if re.fullmatch(r"\w", char)]
    for char in words:
        assert re.fullmatch(re.escape(char), fold(char), re.IGNORECASE), hex(ord(char))
        assert re.fullmatch(r"\w", fold(char)), hex(ord(char))
    # ... no two different representatives are matched by IGNORECASE, ...
    representatives = "".join(sorted({fold(char) for char in words}))
    for char in representatives:
        assert len(re.findall(re.escape(char), representatives, re.IGNORECASE)) == 1, hex(ord(char))
    # ... and characters that separate tokens are left alone (U+0345 is the one IGNORECASE equates with letters).
    assert [char for char in cased if not re.fullmatch(r"\w", char) and fold(char) != char] == []
    like_iota = [hex(ord(char)) for char in cased if not re.fullmatch(r"\w", char) and re.fullmatch(char, "ι", re.I)]
    assert like_iota == ["0x345"]


# --- Compiling to X and Reddit -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "x", "reddit"),
    [
        ("Brightwave", "Brightwave", "Brightwave"),
        (
            '(Brightwave OR "Brightwave Broadband" OR #brightwavedown OR @brightwavehelp) AND NOT (job* OR hiring)',
            '(Brightwave OR "Brightwave Broadband" OR #brightwavedown OR @brightwavehelp) -hiring',
            '(Brightwave OR "Brightwave Broadband" OR brightwavedown OR brightwavehelp) AND NOT hiring',
        ),
        (
            "(Tidewell OR $TDW) AND NOT author:tidewell",
            "(Tidewell OR $TDW) -from:tidewell",
            "(Tidewell OR TDW) AND NOT author:tidewell",
        ),
        ("brightwave OR tidewell AND outage", "brightwave OR (tidewell outage)", "brightwave OR (tidewell AND outage)"),
        ("(brightwave OR tidewell) NEAR/3 (price* OR bill)", "brightwave OR tidewell", "brightwave OR tidewell"),
        ("brightwave ONEAR/2 (outage OR down)", "brightwave (outage OR down)", "brightwave AND (outage OR down)"),
        ('"serv* outage in" AND leeds', '"outage in" leeds', '"outage in" AND leeds'),
        ("brightwave AND (outage OR slow*)", "brightwave", "brightwave"),
        ("brightwave AND NOT serv*", "brightwave", "brightwave"),
        ('brightwave AND NOT ("price rise" OR spam OR #ad)', "brightwave -(spam OR #ad)", "brightwave AND NOT spam"),
        ("brightwave AND NOT (hiring NEAR/2 engineers)", "brightwave", "brightwave"),
        ("brightwave AND lang:en AND site:bbc.co.uk", "brightwave", "brightwave"),
        (
            "wi-fi OR AT&T OR brightwave's OR \"OR\"",
            '"wi-fi" OR "AT&T" OR "brightwave\'s" OR "OR"',
            '"wi-fi" OR "AT&T" OR "brightwave\'s" OR "OR"',
        ),
        (
            "author:@Priya_Codes OR author:u/leeds_lurker",
            "from:priya_codes OR from:leeds_lurker",
            "author:priya_codes OR author:leeds_lurker",
        ),
        ("platform:x AND brightwave", "brightwave", None),
        ("platform:reddit AND brightwave OR tidewell", "tidewell", "brightwave OR tidewell"),
        ("brightwave AND NOT platform:reddit", "brightwave", None),
        (
            "NOT (spam OR #ad) AND (skylark OR fibre)",
            "(skylark OR fibre) -(spam OR #ad)",
            "(skylark OR fibre) AND NOT spam",
        ),
        (
            "brightwave AND NOT (tidewell AND NOT outage)",
            "brightwave -(tidewell -outage)",
            "brightwave AND NOT (tidewell AND NOT outage)",
        ),
    ],
)
def test_compiled_queries(query, x, reddit):
    assert to_x_query(query) == x
    assert to_reddit_query(query) == reddit


def test_lang_is_sent_to_x_only_when_its_labels_are_trusted():
    assert to_x_query("brightwave AND lang:en") == "brightwave"
    assert to_x_query("brightwave AND lang:en", trust_platform_language=True) == "brightwave lang:en"
    assert to_x_query("brightwave AND NOT lang:de", trust_platform_language=True) == "brightwave -lang:de"


@pytest.mark.parametrize(
    ("query", "compile_query", "message"),
    [
        (
            "Brightwave OR serv*",
            to_x_query,
            "query error at column 15: cannot compile for X: the wildcard serv* (X has no wildcards) leaves X nothing "
            "to search for, so it would return every post; AND it with a term X can search\n"
            "  Brightwave OR serv*\n"
            "                ^",
        ),
        (
            "Brightwave OR site:bbc.co.uk",
            to_reddit_query,
            "query error at column 15: cannot compile for Reddit: site:bbc.co.uk (checked locally only) leaves Reddit "
            "nothing to search for, so it would return every post or comment; AND it with a term Reddit can search\n"
            "  Brightwave OR site:bbc.co.uk\n"
            "                ^",
        ),
        (
            "lang:en AND NOT spam",
            to_x_query,
            "query error at column 1: cannot compile for X: lang:en (checked locally only: X labels languages with its "
            "own classifier) leaves X nothing to search for, so it would return every post; AND it with a term X can "
            "search\n"
            "  lang:en AND NOT spam\n"
            "  ^",
        ),
        (
            "platform:x OR brightwave",
            to_x_query,
            "query error at column 1: cannot compile for X: platform:x (true of every X post) leaves X nothing to "
            "search for, so it would return every post; AND it with a term X can search\n"
            "  platform:x OR brightwave\n"
            "  ^",
        ),
    ],
)
def test_queries_that_would_fetch_everything_are_refused(query, compile_query, message):
    with pytest.raises(QueryCompileError) as raised:
        compile_query(query)
    assert str(raised.value) == message


# A simple evaluator of the compiled syntaxes, as the platforms match: keywords and "phrases" on the
# text's word tokens (case-insensitive, punctuation ignored), #/@/$ entities with their sign, from:,
# author:, lang:; implicit or explicit AND, OR, - or NOT, parentheses; AND binds tighter than OR.

_PLATFORM_TOKEN = re.compile(r'"[^"]*"|[()]|-(?=\S)|[^\s()"]+')


@cache
def _platform_query(compiled: str) -> tuple:
    tokens = _PLATFORM_TOKEN.findall(compiled)
    position = 0

    def peek() -> str | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> str:
        nonlocal position
        position += 1
        return tokens[position - 1]

    def any_of() -> tuple:
        parts = [all_of()]
        while peek() == "OR":
            take()
            parts.append(all_of())
        return ("or", parts)

    def all_of() -> tuple:
        parts = [unary()]
        while peek() not in (None, "OR", ")"):
            if peek() == "AND":
                take()
            parts.append(unary())
        return ("and", parts)

    def unary() -> tuple:
        if peek() in ("-", "NOT"):
            take()
            return ("not", unary())
        token = take()
        if token == "(":
            inner = any_of()
            assert take() == ")", compiled
            return inner
        assert token not in (")", "AND", "OR"), compiled
        return ("leaf", token)

    parsed = any_of()
    assert position == len(tokens), compiled
    return parsed


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", fold(text))


def platform_matches(compiled: str, item: Mention, lang: str) -> bool:
    words = _words(mention_text(item))
    author = (item.author_handle or "").lower().lstrip("@").removeprefix("u/")

    def holds(node: tuple) -> bool:
        kind, value = node
        if kind == "or":
            return any(holds(part) for part in value)
        if kind == "and":
            return all(holds(part) for part in value)
        if kind == "not":
            return not holds(value)
        if value.startswith(("from:", "author:")):
            return author == value.split(":", 1)[1].lower()
        if value.startswith("lang:"):
            return lang == value[5:]
        if value[0] in "#@$":
            return re.search(rf"(?<!\w){re.escape(value)}(?!\w)", mention_text(item), re.IGNORECASE) is not None
        phrase = _words(value.strip('"'))
        return any(words[start : start + len(phrase)] == phrase for start in range(len(words) - len(phrase) + 1))

    return holds(_platform_query(compiled))


SUPERSET_QUERIES = [
    *BRAND_QUERIES.values(),
    "brightwave AND NOT (outage OR #ad)",
    "(brightwave OR tidewell) AND NOT (spam OR \"price rise\" OR serv*)",
    "brightwave NEAR/2 (outage* OR down) OR tidewell ONEAR/1 price",
    '"price rise" OR "serv* down" OR wi-fi',
    "brightwave's OR @brightwavehelp OR $TDW OR #BrightwaveDown",
    "(brightwave AND lang:en) OR (tidewell AND NOT lang:de)",
    "brightwave AND NOT author:brightwavehelp",
    "(brightwave OR author:priya) AND NOT (tidewell AND NOT outage)",
    "NOT (spam OR #ad) AND (skylark OR fibre)",
    "brightwave AND NOT (tidewell NEAR/1 down)",
    "istanbul OR (straße AND NOT café)",
    "platform:x AND brightwave OR platform:reddit AND tidewell",
]


@pytest.mark.parametrize("platform", ["x", "reddit"])
def test_compiled_queries_match_everything_the_local_query_matches(platform):
    rng = random.Random(11)
    corpus = [
        (
            mention(
                _random_text(rng), platform=platform,
                author_handle=rng.choice(["@brightwavehelp", "@priya", "u/priya", None]),
            ),
            rng.choice(["en", "de", "und"]),
        )
        for _ in range(800)
    ]
    compile_query = to_x_query if platform == "x" else to_reddit_query
    for source in SUPERSET_QUERIES:
        query = parse_query(source)
        options = [{"trust_platform_language": False}, {"trust_platform_language": True}] if platform == "x" else [{}]
        for option in options:
            compiled = compile_query(query, **option)
            local = [item for item, lang in corpus if query.matches(item, lang=lang)]
            if compiled is None:
                assert local == [], source
                continue
            missed = [
                item.text for item, lang in corpus
                if query.matches(item, lang=lang) and not platform_matches(compiled, item, lang)
            ]
            assert missed == [], f"{source} -> {compiled}"


@pytest.mark.parametrize(
    "source",
    [
        "brightwave AND NOT (outage OR #ad)",
        "(tidewell OR skylark) AND (fibre OR outage) OR NOT spam AND leeds",
        "brightwave AND NOT author:priya",
    ],
)
def test_compiled_queries_are_exact_when_x_can_say_everything(source):
    rng = random.Random(3)
    query = parse_query(source)
    compiled = to_x_query(query)
    corpus = [mention(_random_text(rng), author_handle=rng.choice(["@priya", None])) for _ in range(500)]
    local = [item.text for item in corpus if query.matches(item)]
    remote = [item.text for item in corpus if platform_matches(compiled, item, "und")]
    assert local == remote and len(local) > 20


# --- The reference stays true ----------------------------------------------------------------------


def test_docs_examples_hold():
    markdown = QUERY_LANGUAGE.read_text(encoding="utf-8")
    tables = {name: [[cell.strip("`") for cell in row] for row in rows] for name, rows in tables_in(markdown).items()}
    assert [[query, parse_query(query).canonical] for query, _ in tables["Precedence"]] == tables["Precedence"]
    assert [matches(query, text) for query, text, _ in tables["Examples"]] == [
        expected == "yes" for _, _, expected in tables["Examples"]
    ]
    compiled = [
        [query, to_x_query(query) or "None", to_reddit_query(query) or "None"]
        for query, _, _ in tables["Compiled examples"]
    ]
    assert compiled == tables["Compiled examples"]
    assert len(tables["Precedence"]) >= 6 and len(tables["Examples"]) >= 10 and len(tables["Compiled examples"]) >= 7


def test_docs_error_messages_are_the_real_ones():
    markdown = QUERY_LANGUAGE.read_text(encoding="utf-8")
    blocks = re.findall(r"^    (query error at .*)\n    (.*)\n    (.*)$", markdown, re.MULTILINE)
    assert len(blocks) == 2
    for block in blocks:
        query = block[1][2:]
        with pytest.raises(QueryError) as raised:
            to_x_query(parse_query(query))
        assert str(raised.value) == "\n".join(block)
