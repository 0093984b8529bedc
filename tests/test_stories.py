"""Stories: retweets collapse into their original, links into the page they share, near-duplicate
texts into the first of them; the same rows always give the same stories, batch after batch."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from datasketch import MinHash

from core.mention import Mention
from enrich.stories.duckdb_store import DuckDBStoryStore, assign_warehouse_stories
from enrich.stories.index import BUCKET_CAP, STORY_MODEL, StoryIndex
from enrich.stories.minhash import (
    LSH_BANDS,
    MAX_WORDS,
    NUM_PERM,
    PERMUTATION_SEED,
    minhash_signatures,
    shingle_hashes,
    story_words,
)
from enrich.stories.store import Amplification, MemoryStoryStore, StoryAssignment
from warehouse.connection import open_warehouse

REPO = Path(__file__).resolve().parents[1]
START = datetime(2026, 11, 2, 9, tzinfo=UTC)

OUTAGE = (
    "Brightwave broadband has been down all evening across north Leeds and the support line keeps telling us "
    "engineers are on the way but nobody has turned up and the status page still says everything is fine"
)
MERGER = (
    "Tidewell has agreed to buy Skylark Fibre for 1.2 billion pounds in a deal that would create the third largest "
    "full fibre network in Britain, the two companies said on Tuesday. The combined business will serve about four "
    "million homes and plans to keep both brands for at least two years while regulators review the merger."
)
CAMPAIGN = (
    "I have been a loyal Brightwave customer for six years and this week they doubled my monthly bill without any "
    "warning at all. Please explain why loyal customers pay more than new ones #brightwavefail"
)
# Texts about the same brands and in the same words, but each a different thing said.
UNRELATED = [
    "Brightwave broadband has been really fast since the upgrade last month and the router finally reaches the "
    "back bedroom without any extra boosters",
    "Brightwave support kept me on hold for forty minutes tonight and then the call dropped just as somebody "
    "finally answered the phone",
    "Switching from Tidewell to Brightwave was painless, the engineer came on time and the whole install took "
    "less than an hour from start to finish",
    "Is anybody else in north Leeds seeing Brightwave broadband drop every evening around eight, it has happened "
    "four nights in a row now",
    "Tidewell shares rose four percent on Tuesday after analysts said the Skylark Fibre deal would lift profits "
    "within two years of closing",
    "The Brightwave app keeps logging me out whenever I try to check my bill, which is annoying when you only "
    "want to see one number",
    "Skylark Fibre engineers dug up our street for the third time this year and still nobody on the road can "
    "get a fibre connection",
    "Brightwave has announced price rises of six percent for all broadband customers from April, the company "
    "said in an email to customers on Monday",
]


def x_post(number: int, text: str, followers: int | None = None, minute: int = 0, amplifies: str | None = None,
           shared_links: list[str] | None = None) -> Mention:
    """An X post as the X collector records it."""
    return Mention(
        "x", "x-search", str(number), f"https://x.com/user{number}/status/{number}", text,
        author_handle=f"@user{number}", author_followers=followers, published_at=START + timedelta(minutes=minute),
        amplifies=amplifies, shared_links=shared_links or [],
    )


def retweet(number: int, original: int, text: str, followers: int | None = None, minute: int = 0) -> Mention:
    """A retweet as the X collector records it."""
    return x_post(number, f"RT @user{original}: {text}", followers, minute, amplifies=f"x:{original}")


def x_linking(number: int, text: str, *urls: str, minute: int = 0) -> Mention:
    return x_post(number, text, minute=minute, shared_links=list(urls))


def article(url: str, text: str, title: str, minute: int = 0, source: str = "techwire") -> Mention:
    published_at = START + timedelta(minutes=minute)
    return Mention("news", source, url, url, text, title=title, published_at=published_at)


def stories(assignments: dict[str, StoryAssignment]) -> dict[str, set[str]]:
    """Keys grouped by story id."""
    grouped: dict[str, set[str]] = {}
    for key, assignment in assignments.items():
        grouped.setdefault(assignment.story_id, set()).add(key)
    return grouped


# --- Retweets -------------------------------------------------------------------------------------


def test_retweets_join_the_original_and_count_as_its_amplification():
    index = StoryIndex()
    assigned = index.assign([
        x_post(100, OUTAGE, followers=80),
        retweet(101, 100, OUTAGE, followers=1_000, minute=1),
        retweet(102, 100, OUTAGE, followers=250, minute=2),
        retweet(103, 100, OUTAGE, followers=None, minute=3),
        x_post(200, UNRELATED[0], followers=5_000, minute=4),
    ])

    assert assigned["x:100"] == StoryAssignment("x:100", "original")
    for key in ("x:101", "x:102", "x:103"):
        assert assigned[key] == StoryAssignment("x:100", "retweet", via="x:100")
    assert assigned["x:200"] == StoryAssignment("x:200", "original")
    assert index.amplification("x:100") == Amplification(amplifiers=3, amplified_reach=1_250)
    assert index.amplification("x:200") == Amplification(0, 0)


def test_a_retweet_seen_before_its_original_names_the_story_after_the_original():
    index = StoryIndex()
    first = index.assign([retweet(301, 300, OUTAGE, followers=40), retweet(302, 300, OUTAGE, followers=60, minute=1)])
    second = index.assign([x_post(300, OUTAGE, followers=10, minute=-5), retweet(303, 300, OUTAGE, followers=900)])

    assert {first["x:301"].story_id, first["x:302"].story_id} == {"x:300"}
    assert second["x:300"] == StoryAssignment("x:300", "original")
    assert second["x:303"] == StoryAssignment("x:300", "retweet", via="x:300")
    assert index.amplification("x:300") == Amplification(3, 1_000)


def test_mastodon_reblogs_and_bluesky_reposts_are_retweets_too():
    original = Mention("mastodon", "fedi", "mastodon.social:1", "https://mastodon.social/@a/1", OUTAGE)
    reblog = Mention("mastodon", "fedi", "mastodon.social:2", "https://mastodon.social/@b/2", OUTAGE,
                     author_followers=700, amplifies="mastodon:mastodon.social:1")
    repost = Mention("bluesky", "sky", "at://did:plc:b/app.bsky.feed.repost/3", None, "", author_followers=30,
                     amplifies="bluesky:at://did:plc:a/app.bsky.feed.post/9")
    index = StoryIndex()
    assigned = index.assign([original, reblog, repost])

    assert assigned["mastodon:mastodon.social:2"] == StoryAssignment(
        "mastodon:mastodon.social:1", "retweet", via="mastodon:mastodon.social:1"
    )
    assert assigned["bluesky:at://did:plc:b/app.bsky.feed.repost/3"].story_id == "bluesky:at://did:plc:a/app.bsky.feed.post/9"
    assert index.amplification("mastodon:mastodon.social:1") == Amplification(1, 700)


# --- Links ----------------------------------------------------------------------------------------


def test_posts_linking_one_article_share_its_story_whatever_the_tracking_parameters():
    url = "https://news.techwire.example/2026/11/tidewell-skylark"
    index = StoryIndex()
    assigned = index.assign([
        x_linking(1, "Big news for fibre", f"{url}?utm_source=twitter&utm_medium=social", minute=1),
        x_linking(2, "wow", "https://NEWS.techwire.example:443/2026/11/tidewell-skylark?fbclid=a#c", minute=2),
        Mention("reddit", "r-uk", "t3_abc", "https://www.reddit.com/r/uk/comments/abc/tidewell/",
                "Tidewell buys Skylark", title="Tidewell buys Skylark", published_at=START + timedelta(minutes=3),
                shared_links=[f"{url}?ref_src=twsrc"]),
        Mention("mastodon", "fedi", "m.s:5", "https://m.s/@c/5", "Tidewell is buying Skylark Fibre",
                published_at=START + timedelta(minutes=4), shared_links=[f"{url}?utm_campaign=x"]),
        article(url, MERGER, "Tidewell to buy Skylark Fibre", minute=0),
    ])

    assert stories(assigned) == {url: {url, "x:1", "x:2", "reddit:t3_abc", "mastodon:m.s:5"}}
    assert assigned[url] == StoryAssignment(url, "original")
    assert assigned["x:2"] == StoryAssignment(url, "link", via=url)


def test_an_article_collected_after_the_posts_linking_it_is_their_original():
    url = "https://news.techwire.example/outage"
    index = StoryIndex()
    first = index.assign([x_linking(1, "this", f"{url}?utm_source=tw"), x_linking(2, "and this", url, minute=1)])
    second = index.assign([article(url, OUTAGE, "Brightwave outage", minute=-10)])

    assert {first["x:1"].story_id, first["x:2"].story_id} == {url}
    assert second[url] == StoryAssignment(url, "original")


def test_a_linked_article_stays_with_its_linkers_even_when_it_copies_another():
    wire, gazette = "https://wire.example/merger", "https://gazette.example/merger"
    index = StoryIndex()
    index.assign([article(wire, MERGER, "Tidewell to buy Skylark"), x_linking(8, "Read", gazette, minute=5)])
    assigned = index.assign([article(gazette, "LONDON (Reuters) - " + MERGER, "Tidewell buys Skylark", minute=3)])

    assert assigned[gazette] == StoryAssignment(gazette, "original")


def test_a_post_linking_itself_links_nowhere():
    permalink = "https://www.reddit.com/r/uk/comments/xyz/brightwave_down/"
    post = Mention("reddit", "r-uk", "t3_xyz", permalink, "Brightwave down?", title="Brightwave down?",
                   shared_links=[permalink])

    assert StoryIndex().assign([post])["reddit:t3_xyz"] == StoryAssignment("reddit:t3_xyz", "original")


def test_a_link_to_a_syndicated_copy_joins_the_syndicated_story():
    first_url, copy_url = "https://wire.example/merger", "https://gazette.example/business/merger"
    assigned = StoryIndex().assign([
        article(first_url, MERGER, "Tidewell to buy Skylark", minute=0, source="wire"),
        article(copy_url, "LONDON (Reuters) - " + MERGER, "Tidewell to buy Skylark Fibre", minute=30, source="gazette"),
        x_linking(7, "Read this", copy_url + "?utm_source=share", minute=40),
    ])

    assert assigned[copy_url].reason == "near_duplicate"
    assert assigned["x:7"] == StoryAssignment(first_url, "link", via=copy_url)


def test_a_quote_joins_the_quoted_posts_story_but_is_not_amplification():
    index = StoryIndex()
    assigned = index.assign([
        x_post(10, OUTAGE, followers=100),
        x_post(11, "This is the third time this month", followers=9_000, minute=5,
               shared_links=["https://x.com/i/web/status/10", "https://twitter.com/user10/status/10"]),
    ])

    assert assigned["x:11"] == StoryAssignment("x:10", "link", via="x:10")
    assert index.amplification("x:10") == Amplification(0, 0)


def test_home_pages_profiles_and_a_posts_own_media_are_not_stories():
    assigned = StoryIndex().assign([
        x_linking(20, "Go Brightwave", "https://brightwave.example/", "https://x.com/user20/status/20/photo/1"),
        x_linking(21, "Go Brightwave", "https://brightwave.example/?utm_source=tw", "https://x.com/brightwave"),
    ])

    assert assigned["x:20"] == StoryAssignment("x:20", "original")
    assert assigned["x:21"] == StoryAssignment("x:21", "original")


def test_a_retweet_is_a_retweet_even_when_it_carries_the_originals_links():
    url = "https://news.techwire.example/a"
    rt = dataclasses.replace(retweet(31, 30, "Read " + url, followers=5), shared_links=[url])
    assigned = StoryIndex().assign([x_linking(30, "Read " + url, url), rt])

    assert assigned["x:30"] == StoryAssignment(url, "link", via=url)
    assert assigned["x:31"] == StoryAssignment(url, "retweet", via="x:30")


# --- Near-duplicates ------------------------------------------------------------------------------


def test_syndicated_copies_group_under_the_first_published():
    rows = [
        article("https://gazette.example/merger", "LONDON (Reuters) - " + MERGER, "Tidewell buys Skylark", minute=45),
        article("https://wire.example/merger", MERGER, "Tidewell to buy Skylark Fibre", minute=0),
        article("https://daily.example/b/merger", MERGER + " Reporting by Jane Doe; editing by Tom Roe.",
                "Tidewell agrees Skylark deal", minute=90),
    ]
    assigned = StoryIndex().assign(rows)

    assert assigned["https://wire.example/merger"] == StoryAssignment("https://wire.example/merger", "original")
    for key in ("https://gazette.example/merger", "https://daily.example/b/merger"):
        assert assigned[key].story_id == "https://wire.example/merger"
        assert assigned[key].reason == "near_duplicate"
        assert assigned[key].similarity >= 0.7
        assert assigned[key].via in {row.key for row in rows} - {key}


def test_a_copy_paste_campaign_is_one_story_of_near_duplicates():
    rows = [x_post(1000 + n, f"@user{n * 7} {CAMPAIGN} @brightwavehelp", minute=n) for n in range(40)]
    assigned = StoryIndex().assign(rows)

    assert stories(assigned) == {"x:1000": {row.key for row in rows}}
    assert [a.reason for a in assigned.values()].count("near_duplicate") == 39


def test_short_texts_are_never_grouped_as_near_duplicates():
    nine = "Brightwave broadband down again in Leeds tonight, so annoying"
    ten = "Brightwave broadband down again in Leeds tonight, so very annoying"
    assert (len(story_words(nine)), len(story_words(ten))) == (9, 10)
    assigned = StoryIndex().assign([x_post(1, nine), x_post(2, nine, minute=1), x_post(3, ten, minute=2),
                                    x_post(4, ten, minute=3), x_post(5, "Brightwave down?", minute=4),
                                    x_post(6, "Brightwave down?", minute=5)])

    assert assigned["x:2"] == StoryAssignment("x:2", "original")
    assert assigned["x:4"] == StoryAssignment("x:3", "near_duplicate", 1.0, "x:3")
    assert assigned["x:6"] == StoryAssignment("x:6", "original")


def test_unrelated_texts_on_the_same_brands_are_not_grouped():
    rows = [x_post(n, text, minute=n) for n, text in enumerate([OUTAGE, CAMPAIGN, *UNRELATED])]
    rows.append(article("https://wire.example/merger", MERGER, "Tidewell to buy Skylark Fibre", minute=30))
    assigned = StoryIndex().assign(rows)

    assert {assignment.reason for assignment in assigned.values()} == {"original"}
    assert len(stories(assigned)) == len(rows)


def test_urls_handles_and_case_do_not_make_texts_different():
    first = OUTAGE + " https://t.co/AbC123"
    second = OUTAGE.upper() + " https://t.co/xYz789"
    assert story_words(first) == story_words(second)
    assert StoryIndex().assign([x_post(1, first), x_post(2, second, minute=1)])["x:2"].reason == "near_duplicate"


# --- Batches, reruns, determinism -----------------------------------------------------------------


def first_batch() -> list[Mention]:
    return [
        x_post(100, OUTAGE, followers=80),
        retweet(101, 100, OUTAGE, followers=1_000, minute=1),
        article("https://wire.example/merger", MERGER, "Tidewell to buy Skylark Fibre", minute=2),
        x_post(500, f"@user1 {CAMPAIGN}", minute=3),
        x_post(600, UNRELATED[1], minute=4),
    ]


def second_batch() -> list[Mention]:
    return [
        retweet(102, 100, OUTAGE, followers=250, minute=60),
        x_linking(700, "Big fibre news", "https://wire.example/merger?utm_source=tw", minute=61),
        article("https://gazette.example/merger", "LONDON (Reuters) - " + MERGER, "Tidewell buys Skylark", minute=62),
        x_post(501, f"@user2 {CAMPAIGN}", minute=63),
        x_post(601, UNRELATED[2], minute=64),
        x_post(100, OUTAGE, followers=95, minute=65),  # the original seen again by a later run
    ]


def test_a_second_batch_joins_the_stories_of_the_first():
    index = StoryIndex()
    index.assign(first_batch())
    assigned = index.assign(second_batch())

    assert assigned["x:102"] == StoryAssignment("x:100", "retweet", via="x:100")
    assert assigned["x:700"] == StoryAssignment("https://wire.example/merger", "link", via="https://wire.example/merger")
    assert assigned["https://gazette.example/merger"].story_id == "https://wire.example/merger"
    assert assigned["x:501"].story_id == "x:500"
    assert assigned["x:501"].reason == "near_duplicate"
    assert assigned["x:601"] == StoryAssignment("x:601", "original")
    assert assigned["x:100"] == StoryAssignment("x:100", "original")
    assert index.amplification("x:100") == Amplification(2, 1_250)


def test_loading_a_batch_again_changes_nothing():
    index = StoryIndex()
    once = {**index.assign(first_batch()), **index.assign(second_batch())}
    again = {**index.assign(second_batch()), **index.assign(first_batch())}

    assert again == once
    assert index.amplification("x:100") == Amplification(2, 1_250)


def test_a_key_twice_in_a_batch_is_one_mention():
    rows = [retweet(101, 100, OUTAGE, followers=1_000), retweet(101, 100, OUTAGE, followers=1_000),
            x_post(5, OUTAGE, minute=1), x_post(5, OUTAGE + " again", minute=2)]
    index = StoryIndex()
    assigned = index.assign(rows)

    assert list(assigned) == ["x:101", "x:5"]
    assert assigned["x:5"] == StoryAssignment("x:5", "original")
    assert index.amplification("x:100") == Amplification(1, 1_000)


def test_the_same_rows_in_any_order_give_the_same_stories():
    rows = first_batch() + second_batch()[:-1]
    expected = StoryIndex().assign(rows)
    shuffled = list(rows)
    random.Random(7).shuffle(shuffled)

    assert StoryIndex().assign(shuffled) == expected
    assert StoryIndex().assign(list(reversed(rows))) == expected


def test_the_same_rows_give_the_same_stories_in_another_process():
    rows = first_batch() + second_batch()[:-1]
    here = {key: [a.story_id, a.reason, a.similarity, a.via] for key, a in StoryIndex().assign(rows).items()}
    script = (
        "import json, sys\nfrom core.mention import Mention\nfrom enrich.stories.index import StoryIndex\n"
        "assigned = StoryIndex().assign(Mention.from_json(row) for row in json.load(sys.stdin))\n"
        "print(json.dumps({k: [a.story_id, a.reason, a.similarity, a.via] for k, a in assigned.items()}))"
    )
    rows_json = json.dumps([row.to_json() for row in rows])
    done = subprocess.run([sys.executable, "-c", script], input=rows_json, capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, "PYTHONHASHSEED": "12345"}, timeout=60, check=True)

    assert json.loads(done.stdout) == here


def test_signatures_are_datasketch_minhashes():
    texts = [story_words(MERGER), story_words("LONDON (Reuters) - " + MERGER), story_words(OUTAGE)]
    expected = []
    for words in texts:
        minhash = MinHash(num_perm=NUM_PERM, seed=PERMUTATION_SEED, scheme="affine32", hashfunc=int)
        minhash.update_batch(shingle_hashes(words))
        expected.append(minhash)
    signatures = minhash_signatures(texts)

    assert signatures.dtype == np.uint32
    assert [len(set(shingle_hashes(words))) for words in texts] == [len(words) - 2 for words in texts]
    for signature, minhash in zip(signatures, expected, strict=True):
        assert np.array_equal(signature, minhash.hashvalues)
    assert np.count_nonzero(signatures[0] == signatures[1]) / NUM_PERM == expected[0].jaccard(expected[1])


def test_a_batch_gives_each_text_the_signature_it_gets_alone():
    chooser = random.Random(3)
    vocabulary = story_words(MERGER + " " + OUTAGE)
    texts = [chooser.choices(vocabulary, k=chooser.choice([0, 1, 2, 3, 4, 12, 40])) for _ in range(300)]
    together = minhash_signatures(texts)

    for words, signature in zip(texts, together, strict=True):
        assert np.array_equal(signature, minhash_signatures([words])[0])
        assert len(shingle_hashes(words)) == max(len(words) - 2, 0)
    assert (together[[len(words) < 3 for words in texts]] == 0xFFFFFFFF).all()


def test_min_words_below_a_shingle_is_refused():
    with pytest.raises(ValueError, match="at least 3"):
        StoryIndex(min_words=2)


# --- In the warehouse -----------------------------------------------------------------------------

@pytest.fixture
def warehouse(tmp_path):
    connection = open_warehouse(tmp_path / "w.duckdb")
    yield connection
    connection.close()


def load(connection, rows: list[Mention], chunk: int = 10_000) -> dict[str, StoryAssignment]:
    """A load (the rows upserted into mentions, first row of a key wins, no story yet), then the
    stories step after it; returns the stories of the rows' keys as the warehouse holds them."""
    firsts: dict[str, Mention] = {}
    for row in rows:
        firsts.setdefault(row.key, row)
    for key, row in firsts.items():
        connection.execute(
            """
            INSERT INTO mentions (mention_key, platform, source, title, text, author_handle, author_followers,
                                  published_at, amplifies, shared_links, is_owned, first_run_id, first_seen_at,
                                  last_run_id, last_seen_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, false, 'run', ?, 'run', ?)
            ON CONFLICT (mention_key) DO NOTHING
            """,
            [key, row.platform, row.source, row.title, row.text, row.author_handle, row.author_followers,
             row.published_at, row.amplifies, row.shared_links, START, START],
        )
    assign_warehouse_stories(connection, chunk=chunk)
    stored = DuckDBStoryStore(connection).assignments(list(firsts))
    return {key: stored[key] for key in firsts}


def amplification_columns(connection, key: str) -> tuple[int, int]:
    sql = "SELECT amplified_by, amplified_reach FROM mentions WHERE mention_key = ?"
    return connection.execute(sql, [key]).fetchone()


def index_sizes(connection) -> tuple[int, int]:
    """Mentions in the LSH index, and its rows."""
    return connection.execute("SELECT count(DISTINCT mention_key), count(*) FROM story_bands").fetchone()


def test_the_warehouse_store_gives_the_same_stories_as_the_memory_store(warehouse):
    memory = StoryIndex(MemoryStoryStore())
    expected = [memory.assign(first_batch()), memory.assign(second_batch())]

    assert [load(warehouse, first_batch()), load(warehouse, second_batch())] == expected
    assert warehouse.execute(
        "SELECT story_id, mentions, amplifiers, amplified_reach, links, near_duplicates, root_collected FROM stories "
        "WHERE mentions > 1 ORDER BY story_id"
    ).fetchall() == [
        ("https://wire.example/merger", 3, 0, 0, 1, 1, True),
        ("x:100", 3, 2, 1_250, 0, 0, True),
        ("x:500", 2, 0, 0, 0, 1, True),
    ]
    assert amplification_columns(warehouse, "x:100") == (2, 1_250)
    assert DuckDBStoryStore(warehouse).amplification("x:100") == Amplification(2, 1_250)
    assert warehouse.execute("SELECT DISTINCT story_model FROM mentions").fetchall() == [(STORY_MODEL,)]


def test_loading_again_into_the_warehouse_changes_nothing(warehouse):
    load(warehouse, first_batch())
    load(warehouse, second_batch())
    before = index_sizes(warehouse), warehouse.execute("SELECT count(*) FROM mentions").fetchone()
    stored = warehouse.execute("SELECT * FROM mentions ORDER BY mention_key").fetchall()

    again = load(warehouse, second_batch())

    assert (index_sizes(warehouse), warehouse.execute("SELECT count(*) FROM mentions").fetchone()) == before
    assert warehouse.execute("SELECT * FROM mentions ORDER BY mention_key").fetchall() == stored
    assert again["x:501"].story_id == "x:500"


def test_a_run_assigned_in_chunks_gets_the_stories_of_one_batch(warehouse):
    rows = first_batch() + second_batch()

    assert load(warehouse, rows, chunk=3) == StoryIndex().assign(rows)
    assert amplification_columns(warehouse, "x:100") == (2, 1_250)


def test_mentions_loaded_before_stories_existed_get_theirs(warehouse):
    load(warehouse, first_batch() + second_batch())
    warehouse.execute("UPDATE mentions SET story_id = NULL, story_reason = NULL, story_via = NULL, "
                      "story_similarity = NULL, amplified_by = 0, amplified_reach = 0")
    warehouse.execute("DELETE FROM story_bands")

    assert assign_warehouse_stories(warehouse) == 10
    rows = first_batch() + second_batch()
    assert DuckDBStoryStore(warehouse).assignments([row.key for row in rows]) == StoryIndex().assign(rows)
    assert amplification_columns(warehouse, "x:100") == (2, 1_250)
    assert assign_warehouse_stories(warehouse) == 0


def test_long_pages_are_compared_by_their_opening_across_loads(warehouse):
    chooser = random.Random(11)
    vocabulary = story_words(MERGER + " " + OUTAGE + " " + CAMPAIGN)
    opening = " ".join(chooser.choices(vocabulary, k=MAX_WORDS))
    first = article("https://wire.example/long", opening + " " + " ".join(chooser.choices(vocabulary, k=500)), "Long")
    second = article("https://blog.example/long", opening + " " + " ".join(chooser.choices(vocabulary, k=500)), "Long",
                     minute=10)
    load(warehouse, [first])
    assigned = load(warehouse, [second])

    assert assigned[second.key].story_id == first.key
    assert assigned[second.key].similarity >= 0.9


def test_deleted_retweets_stop_counting(warehouse):
    load(warehouse, first_batch())
    load(warehouse, second_batch())
    warehouse.execute("UPDATE mentions SET is_deleted = true WHERE mention_key = 'x:101'")
    assign_warehouse_stories(warehouse)

    assert amplification_columns(warehouse, "x:100") == (1, 250)


def test_a_large_campaign_keeps_the_index_small(warehouse):
    rows = [x_post(2000 + n, f"@user{n * 7} {CAMPAIGN} @brightwavehelp", minute=n) for n in range(300)]
    assigned = load(warehouse, rows[:150])
    assigned.update(load(warehouse, rows[150:]))

    assert stories(assigned) == {"x:2000": {row.key for row in rows}}
    indexed, bands = index_sizes(warehouse)
    assert indexed <= BUCKET_CAP
    assert bands <= BUCKET_CAP * LSH_BANDS
