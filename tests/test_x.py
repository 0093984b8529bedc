"""X recent search: the query builder and page parser fed directly, `collect_x` driving the real
tweepy Client against the fake X API (`demo.fake_apis.x_api`) serving the demo's sample posts.

The fake server's clock starts at NOW and moves only when the collector sleeps (the recorded sleep
advances it), so rate-limit resets and time budgets are exact and nothing really waits.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from collectors.context import CollectionContext
from collectors.source_run import QuotaUse, SourceRun
from collectors.x import collect_x
from collectors.x.parsing import parse_search_page
from collectors.x.queries import build_queries, query_filters, search_terms
from config.model import BrandConfig, HttpSettings, XSource
from demo.fake_apis.x_api import (
    SEARCH_PATH,
    FakeXApi,
    deleted_post_error,
    forbidden,
    load_corpus,
    malformed_json,
    rate_limited,
    server_error,
    snowflake_id,
    suspended_user_error,
)
from transport.http import HttpClient

NOW = datetime(2026, 11, 2, 12, 5, tzinfo=UTC)
WINDOW = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, 12, 0, tzinfo=UTC))
TOKEN = "AAAAAAAAAAAAAAAAAAAAAtestbearer0123456789"
# The demo config's brands (config/demo.yaml).
BRANDS = (
    BrandConfig(
        name="Brightwave", aliases=["Brightwave", "Brightwave Broadband"], hashtags=["#brightwave", "#brightwavedown"],
        handles=["@brightwave", "@brightwavehelp"], owned_handles=["@brightwave", "@brightwavehelp"],
    ),
    BrandConfig(name="Skylark Fibre", aliases=["Skylark Fibre"], hashtags=["#skylarkfibre"], handles=["@skylarkfibre"]),
    BrandConfig(name="Tidewell", aliases=["Tidewell", "Tidewell Telecom"], hashtags=["#tidewell"], handles=["@tidewell"]),
)
DEMO_QUERY = (
    '(Brightwave OR "Brightwave Broadband" OR #brightwave OR #brightwavedown OR @brightwave OR @brightwavehelp OR '
    '"Skylark Fibre" OR #skylarkfibre OR @skylarkfibre OR Tidewell OR "Tidewell Telecom" OR #tidewell OR @tidewell) '
    "-from:brightwave -from:brightwavehelp -is:retweet"
)
TWEETS, USERS = load_corpus()
# What the demo brands' search finds in the corpus: everything but the two owned accounts' posts,
# the retweet and the post about a plumber.
EXPECTED_POSTS = 17
NEWEST_POST = max((tweet["id"] for tweet in TWEETS), key=int)


def post_id(text_start: str) -> str:
    """The id of the corpus post whose text starts so."""
    return next(tweet["id"] for tweet in TWEETS if tweet["text"].startswith(text_start))


@dataclass
class Harness:
    """A fake X API and what the collector needs to talk to it."""

    api: FakeXApi
    slept: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.api.advance(seconds)

    def source(self, **options: Any) -> XSource:
        return XSource(kind="x", name="x-search", api_base_url=self.api.base_url, **options)

    def context(
        self,
        *,
        credentials: dict[str, Any] | None = None,
        brands: tuple[BrandConfig, ...] = BRANDS,
        window: tuple[datetime, datetime] = WINDOW,
        time_budget_seconds: float = 600.0,
        max_retries: int = 2,
    ) -> CollectionContext:
        settings = HttpSettings(timeout_seconds=2.0, max_retries=max_retries, backoff_seconds=1.0, politeness_delay_seconds=0.0)
        return CollectionContext(
            client=HttpClient(settings),
            brands=brands,
            window=window,
            credentials={"twitter_default": {"login": None, "password": TOKEN, "host": None, "extra": {}}}
            if credentials is None else credentials,
            time_budget_seconds=time_budget_seconds,
            sleep=self.sleep,
        )

    def collect(self, cursor: dict[str, Any] | None = None, *, source: XSource | None = None, **context: Any) -> SourceRun:
        return collect_x(source or self.source(), cursor, self.context(**context))


@pytest.fixture
def x() -> Iterator[Harness]:
    """The fake X API over the demo corpus, five posts a page."""
    with FakeXApi.from_corpus(bearer_token=TOKEN, now=NOW, page_size=5) as api:
        yield Harness(api)


def new_post(moment: datetime, text: str, author: str = "deeokafor", **fields: Any) -> dict[str, Any]:
    user_id = next(user["id"] for user in USERS if user["username"] == author)
    post = {
        "id": snowflake_id(moment), "text": text, "author_id": user_id, "lang": "en",
        "created_at": moment.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "public_metrics": {"retweet_count": 0, "reply_count": 0, "like_count": 1, "quote_count": 0},
    }
    post["conversation_id"] = post["id"]
    return {**post, **fields}


# --- Queries ------------------------------------------------------------------------------------


def test_query_ors_the_brand_terms_quotes_phrases_and_excludes_owned_accounts_and_retweets() -> None:
    assert build_queries(BRANDS, include_retweets=False, languages=[]) == [DEMO_QUERY]


def test_query_filters_for_retweets_and_languages() -> None:
    assert query_filters(BRANDS, include_retweets=True, languages=["en", "FR", "en"]) == (
        "-from:brightwave -from:brightwavehelp (lang:en OR lang:fr)"
    )
    assert query_filters(BRANDS[1:], include_retweets=False, languages=["de"]) == "-is:retweet lang:de"


def test_search_terms_keep_cashtags_and_drop_duplicates() -> None:
    brands = [
        BrandConfig(name="Acme", aliases=["Acme", "ACME", "Acme & Co", "OR"], cashtags=["$ACME"], handles=["@acme"]),
        BrandConfig(name="Rival", aliases=["Rival's"], handles=["@ACME", "@rival"]),
    ]
    assert search_terms(brands) == ["Acme", '"Acme & Co"', '"OR"', "@acme", "$ACME", '"Rival\'s"', "@rival"]


def test_a_long_query_is_split_and_every_part_keeps_the_filters() -> None:
    brands = [
        BrandConfig(name=f"Brand {n}", aliases=[f"Brand Number {n:02d}", f"brandno{n:02d}"], owned_handles=[f"@brand{n:02d}"])
        for n in range(30)
    ]
    filters = query_filters(brands, include_retweets=False, languages=["en"])

    queries = build_queries(brands, include_retweets=False, languages=["en"])

    assert len(queries) > 1
    assert all(len(query) <= 512 and query.endswith(f") {filters}") for query in queries)
    terms = [term for query in queries for term in query.removesuffix(f" {filters}")[1:-1].split(" OR ")]
    assert terms == search_terms(brands)


def test_a_term_that_cannot_fit_is_an_error() -> None:
    brands = [BrandConfig(name="Long", aliases=["word " * 110])]
    with pytest.raises(ValueError, match="does not fit in a 512-character X query"):
        build_queries(brands, include_retweets=False, languages=[])


# --- Parsing ------------------------------------------------------------------------------------


def test_parse_page_maps_a_post_and_its_author() -> None:
    payload = {
        "data": [{
            "id": "20", "author_id": "7", "text": "Long post &amp; more…", "note_tweet": {"text": "Long post &amp; much more 🚀"},
            "created_at": "2026-11-02T08:00:02.000Z", "lang": "und", "conversation_id": "10",
            "referenced_tweets": [{"type": "replied_to", "id": "19"}, {"type": "quoted", "id": "5"}],
            "public_metrics": {"like_count": 3, "reply_count": 1, "retweet_count": 2, "quote_count": 0},
            "entities": {"urls": [{"url": "https://t.co/x", "expanded_url": "https://example.com/a"}],
                         "mentions": [{"username": "tidewell", "id": "8"}], "hashtags": [{"tag": "tidewell"}]},
        }],
        "includes": {"users": [{"id": "7", "username": "ada", "name": "Ada L", "verified": True,
                                "public_metrics": {"followers_count": 1234}}]},
        "meta": {"result_count": 1, "newest_id": "20", "oldest_id": "20", "next_token": "abc"},
    }

    page = parse_search_page(payload, "x-search")

    assert (page.posts, page.newest_id, page.oldest_id, page.next_token) == (1, "20", "20", "abc")
    mention = page.mentions[0]
    assert mention.key == "x:20"
    assert mention.url == "https://x.com/ada/status/20"
    assert mention.text == "Long post & much more 🚀"
    assert (mention.author_handle, mention.author_name, mention.author_followers) == ("@ada", "Ada L", 1234)
    assert mention.published_at == datetime(2026, 11, 2, 8, 0, 2, tzinfo=UTC)
    assert mention.engagement == {"likes": 3, "replies": 1, "retweets": 2, "quotes": 0}
    assert (mention.parent_id, mention.thread_id, mention.lang_hint) == ("x:19", "10", None)
    assert mention.extras == {
        "author_id": "7", "verified": True,
        "referenced_tweets": [{"type": "replied_to", "id": "19"}, {"type": "quoted", "id": "5"}],
        "entities": {"urls": ["https://example.com/a"], "mentions": ["tidewell"], "hashtags": ["tidewell"], "cashtags": []},
    }


def test_parse_rejects_a_body_that_is_not_a_search_response() -> None:
    with pytest.raises(ValueError, match="not a recent-search response"):
        parse_search_page({"title": "Service Unavailable"}, "x-search")


# --- Collection ---------------------------------------------------------------------------------


def test_first_run_reads_every_page_from_the_window_start(x: Harness) -> None:
    run = x.collect()

    assert (run.status, run.error, run.warnings) == ("ok", None, [])
    assert run.items_fetched == len(run.mentions) == EXPECTED_POSTS
    handles = {mention.author_handle for mention in run.mentions}
    assert "@brightwavehelp" not in handles and "@brightwave" not in handles
    assert not any(mention.text.startswith("RT @") for mention in run.mentions)
    assert run.cursor == {"queries": {DEMO_QUERY: {"since_id": NEWEST_POST}}, "reads": {"month": "2026-11", "count": 17}}
    first, *rest = x.api.searches
    assert len(rest) == 3  # 17 posts at 5 a page
    assert first["query"] == DEMO_QUERY
    assert (first["start_time"], first["end_time"], first["max_results"]) == ("2026-11-01T00:00:00Z", "2026-11-02T12:00:00Z", "100")
    assert "since_id" not in first and "next_token" not in first
    assert first["expansions"] == "author_id"
    assert set(first["tweet.fields"].split(",")) >= {
        "created_at", "lang", "public_metrics", "conversation_id", "referenced_tweets", "entities"}
    assert set(first["user.fields"].split(",")) >= {"public_metrics", "verified"}
    assert all(request["next_token"] and request["end_time"] == "2026-11-02T12:00:00Z" for request in rest)
    request = x.api.requests[0]
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["user-agent"].startswith("Overheard/")


def test_mentions_carry_what_an_analyst_reads(x: Harness) -> None:
    by_key = {mention.key: mention for mention in x.collect().mentions}

    reply = by_key[f"x:{post_id('@brightwavehelp DM sent')}"]
    assert reply.url == f"https://x.com/priya_codes/status/{reply.native_id}"
    assert (reply.author_handle, reply.author_name, reply.author_followers) == ("@priya_codes", "Priya Natarajan", 1840)
    assert reply.parent_id == f"x:{post_id('@priya_codes Sorry')}"
    assert reply.thread_id == post_id("Third evening")
    assert reply.extras["entities"]["mentions"] == ["brightwavehelp"]
    news = by_key[f"x:{post_id('Brightwave Broadband announces')}"]
    assert news.text.startswith("Brightwave Broadband announces a gigabit social tariff at £20/month & free installation")
    assert news.engagement == {"likes": 112, "replies": 18, "retweets": 41, "quotes": 9, "impressions": 48211}
    assert news.extras["entities"]["urls"] == ["https://techwire.example/articles/brightwave-social-tariff"]
    assert news.extras["verified"] is True
    assert news.published_at == datetime(2026, 11, 2, 8, 0, 2, tzinfo=UTC)


def test_unicode_and_emoji_come_through_unchanged(x: Harness) -> None:
    texts = {mention.native_id: (mention.text, mention.author_name, mention.lang_hint) for mention in x.collect().mentions}

    assert texts[post_id("Brightwave の光回線")] == ("Brightwave の光回線、やっと復旧しました 🎉 マンチェスターから #brightwave", "渡辺 健二 Kenji", "ja")
    assert texts[post_id("Finished my first marathon")][0] == (
        "Finished my first marathon 🏃‍♂️🏅 Thank you to everyone who sponsored the Tidewell family fun run!")
    assert texts[post_id("Seit zwei Tagen")] == ("Seit zwei Tagen kein Internet von Tidewell. Störungsmeldung läuft… 😤", "Lina Schröder", "de")


def test_second_run_reads_only_posts_since_the_first(x: Harness) -> None:
    first = x.collect()
    later = datetime(2026, 11, 2, 12, 40, tzinfo=UTC)
    x.api.add([new_post(later, "Brightwave fixed it overnight, thank you 🙌")])
    x.api.advance(3600)

    second = x.collect(first.cursor, window=(WINDOW[1], WINDOW[1] + timedelta(hours=1)))

    assert [mention.text for mention in second.mentions] == ["Brightwave fixed it overnight, thank you 🙌"]
    request = x.api.searches[-1]
    assert request["since_id"] == NEWEST_POST and "start_time" not in request
    assert request["end_time"] == "2026-11-02T13:00:00Z"
    assert second.cursor["queries"][DEMO_QUERY] == {"since_id": snowflake_id(later)}
    assert second.cursor["reads"] == {"month": "2026-11", "count": 18}


def test_nothing_new_is_ok_and_keeps_the_cursor(x: Harness) -> None:
    first = x.collect()
    x.api.advance(3600)

    second = x.collect(first.cursor, window=(WINDOW[1], WINDOW[1] + timedelta(hours=1)))

    assert (second.status, second.mentions, second.cursor["queries"]) == ("ok", [], first.cursor["queries"])


def test_the_per_run_cap_keeps_a_backlog_that_the_next_run_reads_first() -> None:
    with FakeXApi.from_corpus(bearer_token=TOKEN, now=NOW) as api:
        x = Harness(api)
        first = x.collect(source=x.source(max_posts_per_run=10))
        second = x.collect(first.cursor)
        requests = api.searches

    assert (first.status, len(first.mentions)) == ("ok", 10)
    assert first.warnings == ["max_posts_per_run (10) reached; 1 of 1 queries have older posts left for the next run"]
    assert first.left_out == [f"search: {DEMO_QUERY}: posts left for the next run (max_posts_per_run (10) reached)"]
    assert first.quota == QuotaUse("posts read", 10, None, None, "month")  # no budget, no price: no cost
    oldest_read = min((mention.native_id for mention in first.mentions), key=int)
    assert first.cursor["queries"][DEMO_QUERY] == {
        "start_time": "2026-11-01T00:00:00+00:00", "until_id": oldest_read, "newest_id": NEWEST_POST}
    assert requests[0]["max_results"] == "10" and "until_id" not in requests[0]
    assert requests[1]["until_id"] == oldest_read
    assert len(second.mentions) == EXPECTED_POSTS - 10
    assert {m.key for m in first.mentions}.isdisjoint(m.key for m in second.mentions)
    assert second.cursor["queries"][DEMO_QUERY] == {"since_id": NEWEST_POST}
    assert second.warnings == []


def test_split_queries_each_keep_their_own_cursor(x: Harness) -> None:
    padding = BrandConfig(name="Padding", aliases=[f"unrelated phrase number {n:02d}" for n in range(20)])
    brands = (*BRANDS, padding)
    queries = build_queries(brands, include_retweets=False, languages=[])
    assert len(queries) == 2

    run = x.collect(brands=brands)

    assert len(run.mentions) == EXPECTED_POSTS
    assert set(run.cursor["queries"]) == set(queries)
    assert run.cursor["queries"][queries[0]] == {"since_id": NEWEST_POST}
    assert run.cursor["queries"][queries[1]] == {}  # nothing matched the padding
    assert {request["query"] for request in x.api.searches} == set(queries)


def test_a_rate_limit_that_resets_within_the_time_budget_is_waited_out(x: Harness) -> None:
    x.api.script(rate_limited(reset_after=30))

    run = x.collect()

    assert x.slept == [31.0]  # until x-rate-limit-reset by the response's Date, plus a second
    assert (run.status, len(run.mentions), run.warnings) == ("ok", EXPECTED_POSTS, [])


def test_a_rate_limit_beyond_the_time_budget_stops_cleanly_and_the_next_run_resumes(x: Harness) -> None:
    x.api.script(None, rate_limited(reset_after=900))

    first = x.collect(time_budget_seconds=60)

    assert x.slept == []
    assert (first.status, len(first.mentions)) == ("ok", 5)
    assert len(first.warnings) == 1
    assert "X rate limit reached" in first.warnings[0] and "resets in 901s" in first.warnings[0]
    assert first.warnings[0].endswith("1 of 1 queries resume next run")
    assert first.cursor["queries"][DEMO_QUERY]["until_id"] == min((m.native_id for m in first.mentions), key=int)

    x.api.advance(901)
    second = x.collect(first.cursor, time_budget_seconds=60)

    assert len(first.mentions) + len(second.mentions) == EXPECTED_POSTS
    assert {m.key for m in first.mentions}.isdisjoint(m.key for m in second.mentions)
    assert second.cursor["queries"][DEMO_QUERY] == {"since_id": NEWEST_POST}


def test_a_spent_rate_limit_window_is_waited_for_before_the_next_page() -> None:
    with FakeXApi.from_corpus(bearer_token=TOKEN, now=NOW, page_size=5, requests_per_window=2) as api:
        x = Harness(api)
        run = x.collect(time_budget_seconds=3600)

        assert x.slept == [901.0]  # x-rate-limit-remaining: 0 after the second page
        assert (len(run.mentions), run.warnings) == (EXPECTED_POSTS, [])
        assert all(request.params for request in api.requests)  # no request was refused with a 429


def test_a_rate_limit_that_does_not_reset_is_waited_for_max_retries_times_only(x: Harness) -> None:
    x.api.script(*[rate_limited(reset_after=5)] * 4)

    run = x.collect(max_retries=3)

    assert x.slept == [6.0, 6.0, 6.0]
    assert (run.status, run.cursor) == ("failed", None)
    assert "still reached after 3 waits" in run.error


def test_a_rate_limit_before_anything_is_read_fails_and_keeps_the_cursor(x: Harness) -> None:
    x.api.script(rate_limited(reset_after=900))

    run = x.collect({"queries": {DEMO_QUERY: {"since_id": post_id("Hot take")}}}, time_budget_seconds=60)

    assert (run.status, run.cursor, x.slept) == ("failed", None, [])
    assert "X rate limit reached" in run.error


def test_rejected_token_fails_with_a_credentials_error_that_does_not_show_it(x: Harness) -> None:
    wrong = "AAAAAAAAAAAAAAAAAAAAAwrongtoken987654321"

    run = x.collect(credentials={"twitter_default": {"password": wrong, "extra": {}}})

    assert (run.status, run.cursor) == ("failed", None)
    assert run.error == (
        "X rejected the bearer token of connection 'twitter_default' (HTTP 401 Unauthorized); set the "
        "twitter_default Airflow connection's password to a valid bearer token, or AIRFLOW_CONN_TWITTER_DEFAULT"
    )
    assert wrong not in json.dumps(run.summary())


def test_forbidden_app_names_the_access_problem(x: Harness) -> None:
    x.api.script(forbidden())

    run = x.collect()

    assert run.status == "failed"
    assert "HTTP 403 Client Forbidden (client-not-enrolled)" in run.error
    assert "AIRFLOW_CONN_TWITTER_DEFAULT" in run.error and TOKEN not in run.error


def test_skipped_without_credentials(x: Harness) -> None:
    run = x.collect(credentials={})

    assert (run.status, run.mentions, run.cursor) == ("skipped", [], None)
    assert run.error == (
        "no credentials: set the twitter_default Airflow connection (password = bearer token) or AIRFLOW_CONN_TWITTER_DEFAULT")
    assert x.api.requests == []


def test_token_may_sit_in_the_connection_extra(x: Harness) -> None:
    run = x.collect(credentials={"twitter_default": {"password": None, "extra": json.dumps({"bearer_token": TOKEN})}})

    assert len(run.mentions) == EXPECTED_POSTS


def test_the_token_never_reaches_the_logs(x: Harness, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        x.collect()

    assert "Making API request" in caplog.text  # tweepy logged its request headers...
    assert TOKEN not in caplog.text  # ...without the token, which the session adds afterwards


def test_a_server_error_then_success_is_ok(x: Harness) -> None:
    x.api.script(server_error(503))

    run = x.collect()

    assert (run.status, len(run.mentions), run.warnings) == ("ok", EXPECTED_POSTS, [])
    assert x.slept == [1.0]  # one backoff
    assert len(x.api.searches) == 5


def test_a_server_error_that_persists_fails_naming_the_endpoint(x: Harness) -> None:
    x.api.script(server_error(503), server_error(503), server_error(503))

    run = x.collect()

    assert (run.status, run.cursor) == ("failed", None)
    assert run.error == (
        f"X API answered HTTP 503 at {x.api.base_url}{SEARCH_PATH} after 3 attempts; it will be tried again next run")


def test_malformed_json_fails_naming_the_endpoint(x: Harness) -> None:
    x.api.script(malformed_json())

    run = x.collect()

    assert (run.status, run.cursor) == ("failed", None)
    assert f"X API at {x.api.base_url}{SEARCH_PATH} answered HTTP 200 with malformed JSON" in run.error


def test_missing_includes_leave_author_fields_empty_with_one_warning() -> None:
    with FakeXApi.from_corpus(bearer_token=TOKEN, now=NOW, page_size=5, include_users=False) as api:
        run = Harness(api).collect()

    assert len(run.mentions) == EXPECTED_POSTS
    assert all(m.author_handle is None and m.author_followers is None for m in run.mentions)
    assert all(m.url == f"https://x.com/i/web/status/{m.native_id}" for m in run.mentions)
    assert run.warnings == [
        "X sent 17 posts without their author (includes.users missing); their author fields are empty"]


def test_deleted_posts_and_suspended_authors_become_deleted_keys() -> None:
    suspended = {"id": "99", "username": "spammer"}
    spam = new_post(datetime(2026, 11, 2, 11, 50, tzinfo=UTC), "Cheap Brightwave accounts, DM me", author="garethp", author_id="99")
    gone = post_id("Third evening")  # a replied-to post that has since been deleted
    errors = [suspended_user_error(suspended["id"]), deleted_post_error(gone)]
    with FakeXApi.from_corpus(bearer_token=TOKEN, now=NOW, partial_errors=errors) as api:
        api.add([spam])
        run = Harness(api).collect()

    assert run.deleted_keys == [f"x:{gone}", f"x:{spam['id']}"]
    assert f"x:{spam['id']}" not in {m.key for m in run.mentions}
    assert (run.items_fetched, len(run.mentions)) == (EXPECTED_POSTS + 1, EXPECTED_POSTS)


def test_languages_filter_the_search(x: Harness) -> None:
    run = x.collect(source=x.source(languages=["de", "fr"]))

    assert x.api.searches[0]["query"].endswith(" -is:retweet (lang:de OR lang:fr)")
    assert sorted((m.lang_hint, m.author_name) for m in run.mentions) == [("de", "Lina Schröder"), ("fr", "Claire Dubois")]


def test_retweets_when_included_are_their_own_mentions_pointing_at_the_original(x: Harness) -> None:
    run = x.collect(source=x.source(include_retweets=True))

    assert len(run.mentions) == EXPECTED_POSTS + 1
    assert "-is:retweet" not in x.api.searches[0]["query"]
    retweet = next(m for m in run.mentions if m.text.startswith("RT @priya_codes"))
    original = post_id("Third evening")
    assert retweet.amplifies == f"x:{original}"
    assert retweet.extras["referenced_tweets"] == [{"type": "retweeted", "id": original}]
    assert f"x:{original}" in {m.key for m in run.mentions}


def test_the_monthly_read_budget_stops_collection_until_next_month() -> None:
    with FakeXApi.from_corpus(bearer_token=TOKEN, now=NOW) as api:
        x = Harness(api)
        source = x.source(monthly_read_budget=12, price_per_post_read="0.005", price_currency="EUR")
        spent = "monthly read budget of 12 posts is spent; X collection resumes on 2026-12-01"

        first = x.collect(source=source)

        assert api.searches[0]["max_results"] == "12"  # never more than the budget
        assert (first.status, len(first.mentions), first.warnings) == ("ok", 12, [spent])
        assert first.cursor["reads"] == {"month": "2026-11", "count": 12}
        # The ledger: the query asked, 12 posts read of the month's 12 at the configured price, its older posts left.
        assert first.asked == [f"search: {DEMO_QUERY}"]
        assert first.quota == QuotaUse("posts read", 12, 12, 0, "month", Decimal("0.005"), "EUR")
        assert first.left_out == [f"search: {DEMO_QUERY}: posts left for the next run (the monthly read budget is spent)"]

        second = x.collect(first.cursor, source=source)

        assert (second.status, second.mentions, second.warnings) == ("ok", [], [spent])
        assert second.cursor == first.cursor
        assert len(api.searches) == 1
        assert second.quota == QuotaUse("posts read", 0, 12, 0, "month", Decimal("0.005"), "EUR")
        assert second.left_out == [f"every query: the {spent}"]


def test_the_read_count_starts_again_each_month() -> None:
    with FakeXApi.from_corpus(bearer_token=TOKEN, now=NOW) as api:
        x = Harness(api)
        run = x.collect({"reads": {"month": "2026-10", "count": 12}}, source=x.source(monthly_read_budget=12))

    assert len(run.mentions) == 12
    assert run.cursor["reads"] == {"month": "2026-11", "count": 12}


def test_a_since_id_beyond_the_seven_day_reach_restarts_at_the_window_start(x: Harness) -> None:
    stale = snowflake_id(NOW - timedelta(days=8))

    run = x.collect({"queries": {DEMO_QUERY: {"since_id": stale}}})

    assert len(run.mentions) == EXPECTED_POSTS
    assert len(run.warnings) == 1 and "older than the 7 days recent search reaches" in run.warnings[0]
    assert x.api.searches[1]["start_time"] == "2026-11-01T00:00:00Z"


def test_a_run_started_right_at_its_window_end_waits_until_x_accepts_it() -> None:
    with FakeXApi.from_corpus(bearer_token=TOKEN, now=WINDOW[1] + timedelta(seconds=3)) as api:
        x = Harness(api)
        run = x.collect()

    assert x.slept == [8.0]  # end_time must be 10 s old: 7 s more, plus a second
    assert len(run.mentions) == EXPECTED_POSTS
