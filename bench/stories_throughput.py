"""Benchmark: story assignment (`enrich.stories.StoryIndex.assign`) on 100,000 synthetic mentions.

    .venv/bin/python bench/stories_throughput.py                      # 100,000 mentions, ~1 min
    .venv/bin/python bench/stories_throughput.py --mentions 10000     # smoke check, ~10 s

The mentions are real social posts (the labelled tweets in ../shared/data/sentiment/, each used once,
then spliced halves of two) spread over X, Reddit, Mastodon, Bluesky and news, published one second
apart. Planted among them: 10% near-duplicates of an earlier post (a campaign-style @handle in
front, a "via"/"Read more" tail, one word replaced, or an exact copy), 5% X retweets of an earlier X
post, and 8% X posts linking one of 1,000 articles with tracking parameters (a third of those
articles are collected as news mentions too). Generation is not timed.

Three modes, each in a fresh interpreter whose peak RSS is read with wait4:

- `memory-1`: one `assign` of every mention with `MemoryStoryStore`;
- `memory-N`: batches of `--batch` mentions with `MemoryStoryStore` (incremental loads);
- `duckdb-N`: `--batch` mentions inserted into `mentions` of a DuckDB file (as a load would), then
  `assign_warehouse_stories` (timed), batch after batch: reading the new mentions back, `assign`
  with `DuckDBStoryStore`, writing `story_*` and `story_bands`, recounting amplification.
  `mentions` has only the columns story assignment reads and writes.

Each mode checks the stories against what was planted: retweets and link posts in the right story,
near-duplicates grouped with their source (recall, split at a true shingle Jaccard of 0.7), and the
true Jaccard of every near_duplicate assignment with the mention it matched (precision). The last
line is `mentions_per_second=<memory-1> peak_rss_mb=<largest>`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.mention import Mention
from enrich.stories.duckdb_store import DuckDBStoryStore, assign_warehouse_stories
from enrich.stories.index import MIN_WORDS, StoryIndex
from enrich.stories.minhash import minhash_signatures, story_words
from enrich.stories.store import MemoryStoryStore, StoryAssignment

TWEETS = REPO.parent / "shared" / "data" / "sentiment" / "train.tsv"
START = datetime(2026, 11, 2, tzinfo=UTC)
PLATFORMS = ["x"] * 5 + ["reddit", "mastodon", "bluesky", "news", "x"]
TRACKING = ["utm_source=twitter&utm_medium=social", "fbclid=IwAR{n}", "utm_campaign=wk{n}", "", "ref_src=twsrc{n}"]
# The columns of `mentions` that story assignment reads and writes (the rest do not matter to it).
SCHEMA_SQL = """
CREATE TABLE mentions (mention_key VARCHAR PRIMARY KEY, platform VARCHAR, title VARCHAR, text VARCHAR,
    author_followers BIGINT, published_at TIMESTAMPTZ, amplifies VARCHAR, shared_links VARCHAR[],
    is_deleted BOOLEAN NOT NULL DEFAULT false,
    story_id VARCHAR, story_reason VARCHAR, story_via VARCHAR, story_similarity DOUBLE, story_model VARCHAR,
    amplified_by INTEGER NOT NULL DEFAULT 0, amplified_reach BIGINT NOT NULL DEFAULT 0);
CREATE TABLE story_bands (band_hash BIGINT NOT NULL, mention_key VARCHAR NOT NULL);
"""


def synthetic_mentions(count: int, seed: int) -> tuple[list[Mention], dict[str, Any]]:
    """`count` mentions and what was planted among them."""
    tweets = [line.split("\t", 1)[0] for line in TWEETS.read_text(encoding="utf-8").splitlines()[1:]]
    chooser = random.Random(seed)
    chooser.shuffle(tweets)
    articles = [f"https://news{n % 20}.example/2026/11/story-{n}" for n in range(1_000)]
    collected_articles = articles[::3]
    rows: list[Mention] = []
    x_originals: list[str] = []
    long_texts: list[int] = []
    planted: dict[str, Any] = {"retweets": {}, "links": {}, "near_duplicates": {}}
    fresh = 0
    for number in range(count):
        draw = chooser.random()
        at = START + timedelta(seconds=number)
        followers = chooser.randrange(20_000)
        if draw < 0.05 and x_originals:
            original = chooser.choice(x_originals)
            text = "RT @someone: " + rows[int(original[2:])].text
            rows.append(_row("x", number, text, followers, at, amplifies=original))
            planted["retweets"][f"x:{number}"] = original
            continue
        if draw < 0.15 and long_texts:
            source = chooser.choice(long_texts)
            text = _edit(rows[source].text, chooser)
            rows.append(_row(chooser.choice(PLATFORMS[:-2]), number, text, followers, at))
            planted["near_duplicates"][rows[-1].key] = rows[source].key
            continue
        if draw < 0.23:
            target = chooser.choice(articles)
            query = chooser.choice(TRACKING).format(n=number)
            rows.append(_row("x", number, "Worth a read: " + tweets[number % len(tweets)][:60], followers, at,
                             shared_links=[target + ("?" + query if query else "")]))
            planted["links"][f"x:{number}"] = target
            continue
        if fresh < len(tweets):
            text = tweets[fresh]
        else:
            first, second = (tweets[chooser.randrange(len(tweets))].split() for _ in range(2))
            text = " ".join(first[: len(first) // 2] + second[len(second) // 2:])
        fresh += 1
        platform = PLATFORMS[number % len(PLATFORMS)]
        if platform == "news" and collected_articles:
            url = collected_articles.pop()  # a list: a set's order would change with PYTHONHASHSEED
            rows.append(Mention("news", "wire", url, url, text, title=text[:40], published_at=at))
        else:
            rows.append(_row(platform, number, text, followers, at))
            if platform == "x":
                x_originals.append(f"x:{number}")
        if len(story_words(text)) >= MIN_WORDS + 2:
            long_texts.append(len(rows) - 1)
    return rows, planted


def _row(platform: str, number: int, text: str, followers: int, at: datetime, amplifies: str | None = None,
         shared_links: list[str] | None = None) -> Mention:
    native = {"reddit": f"t3_{number}", "mastodon": f"m.s:{number}"}.get(platform, str(number))
    return Mention(platform, platform, native, None, text, author_handle=f"@user{number % 7000}",
                   author_followers=followers, published_at=at, amplifies=amplifies, shared_links=shared_links or [])


def _edit(text: str, chooser: random.Random) -> str:
    """A near-duplicate of `text`, as campaigns and syndication make them."""
    words = text.split()
    kind = chooser.randrange(4)
    if kind == 0:
        return f"@user{chooser.randrange(100_000)} " + text
    if kind == 1:
        return text + chooser.choice([" via @techwire", " | Read more at techwire.example", " (Reuters)"])
    if kind == 2:
        words[len(words) // 2] = chooser.choice(["Brightwave", "Tidewell", "today", "again"])
        return " ".join(words)
    return text


def true_jaccard(first: str, second: str) -> float:
    """The Jaccard similarity of two texts' sets of word 3-shingles, exactly."""
    a, b = (set(zip(words, words[1:], words[2:])) for words in (story_words(first), story_words(second)))
    return len(a & b) / len(a | b) if a | b else 0.0


def check(rows: list[Mention], planted: dict[str, Any], assigned: dict[str, StoryAssignment]) -> dict[str, Any]:
    """How the stories compare with what was planted."""
    text = {row.key: row.text for row in rows}
    story = {key: assignment.story_id for key, assignment in assigned.items()}
    retweets_right = sum(
        assigned[key].reason == "retweet" and story[key] == story.get(original, original)
        for key, original in planted["retweets"].items()
    )
    links_right = sum(story[key] == story.get(url, url) for key, url in planted["links"].items())
    above, above_grouped, below, below_grouped = 0, 0, 0, 0
    for key, source in planted["near_duplicates"].items():
        grouped = story[key] == story[source]
        if true_jaccard(text[key], text[source]) >= 0.7:
            above, above_grouped = above + 1, above_grouped + grouped
        else:
            below, below_grouped = below + 1, below_grouped + grouped
    matched = [true_jaccard(text[key], text[a.via]) for key, a in assigned.items() if a.reason == "near_duplicate" and a.via]
    reasons: dict[str, int] = {}
    for assignment in assigned.values():
        reasons[assignment.reason] = reasons.get(assignment.reason, 0) + 1
    return {
        "stories": len(set(story.values())), "reasons": reasons,
        "retweets_right": f"{retweets_right}/{len(planted['retweets'])}",
        "links_right": f"{links_right}/{len(planted['links'])}",
        "near_dup_recall_at_0.7": f"{above_grouped}/{above}", "near_dup_below_0.7_grouped": f"{below_grouped}/{below}",
        "near_dup_assignments": len(matched),
        "near_dup_true_jaccard_min": round(min(matched), 3) if matched else None,
        "near_dup_true_jaccard_below_0.5": sum(value < 0.5 for value in matched),
    }


def run_mode(mode: str, count: int, batch: int, seed: int) -> dict[str, Any]:
    rows, planted = synthetic_mentions(count, seed)
    rss_before = _rss_mb()
    report: dict[str, Any] = {"mode": mode, "mentions": count, "rss_after_generation_mb": rss_before}
    if mode == "memory-1":
        texts = [story_words(row.text) for row in rows]
        started = time.perf_counter()
        minhash_signatures([words for words in texts if len(words) >= MIN_WORDS])
        report["signatures_only_seconds"] = time.perf_counter() - started
        started = time.perf_counter()
        assigned = StoryIndex(MemoryStoryStore()).assign(rows)
        report["seconds"] = time.perf_counter() - started
    elif mode == "memory-N":
        index = StoryIndex(MemoryStoryStore())
        assigned = {}
        started = time.perf_counter()
        for first in range(0, count, batch):
            assigned.update(index.assign(rows[first:first + batch]))
        report["seconds"] = time.perf_counter() - started
    else:
        assigned, seconds, load_seconds, sizes = _duckdb_batches(rows, batch)
        report.update(seconds=seconds, load_seconds=load_seconds, **sizes)
    report["mentions_per_second"] = count / report["seconds"]
    report["quality"] = check(rows, planted, assigned)
    return report


def _duckdb_batches(
    rows: list[Mention], batch: int
) -> tuple[dict[str, StoryAssignment], float, float, dict[str, Any]]:
    """Successive loads of `batch` rows, each followed by `assign_warehouse_stories`, which alone is timed."""
    import duckdb

    with tempfile.TemporaryDirectory(prefix="stories-bench-") as workdir:
        path = Path(workdir) / "w.duckdb"
        connection = duckdb.connect(str(path))
        connection.execute("SET memory_limit = '1GB'")
        connection.execute(SCHEMA_SQL)
        timed, loading = 0.0, 0.0
        columns = ["key", "platform", "title", "text", "author_followers", "published_at", "amplifies", "shared_links"]
        for first in range(0, len(rows), batch):
            part = rows[first:first + batch]
            started = time.perf_counter()
            connection.execute(
                "INSERT INTO mentions (mention_key, platform, title, text, author_followers, published_at, amplifies, "
                "shared_links) SELECT unnest(?), unnest(?), unnest(?), unnest(?), unnest(?), unnest(?::TIMESTAMPTZ[]), "
                "unnest(?), unnest(?::VARCHAR[][])",
                [[getattr(row, column) for row in part] for column in columns],
            )
            loading += time.perf_counter() - started
            started = time.perf_counter()
            assign_warehouse_stories(connection)
            timed += time.perf_counter() - started
        store = DuckDBStoryStore(connection)
        assigned = store.assignments([row.key for row in rows])
        [(indexed, band_rows)] = connection.execute(
            "SELECT count(DISTINCT mention_key), count(*) FROM story_bands"
        ).fetchall()
        # The index table alone, copied into a file of its own to weigh it.
        connection.execute(f"ATTACH '{Path(workdir) / 'index.duckdb'}' AS index_only")
        connection.execute("CREATE TABLE index_only.story_bands AS SELECT * FROM story_bands")
        connection.execute("DETACH index_only")
        connection.close()
        sizes = {"index_file_mb": (Path(workdir) / "index.duckdb").stat().st_size / 1e6,
                 "indexed_mentions": indexed, "story_bands_rows": band_rows}
    return assigned, timed, loading, sizes


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _child(mode: str, arguments: argparse.Namespace) -> dict[str, Any]:
    """One mode in a fresh interpreter; its peak RSS comes from wait4."""
    command = [sys.executable, __file__, "--mode", mode, "--mentions", str(arguments.mentions),
               "--batch", str(arguments.batch), "--seed", str(arguments.seed)]
    with tempfile.TemporaryFile("w+", encoding="utf-8") as output:
        process = subprocess.Popen(command, stdout=output)
        _, status, usage = os.wait4(process.pid, 0)
        output.seek(0)
        text = output.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"mode {mode} failed; its output:\n{text}")
    report = json.loads(text.strip().splitlines()[-1])
    report["peak_rss_mb"] = usage.ru_maxrss / 1024
    return report


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mentions", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=10_000, help="mentions per batch in the incremental modes")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--mode", choices=["memory-1", "memory-N", "duckdb-N"], help="run one mode in this process")
    arguments = parser.parse_args()
    if not TWEETS.exists():
        sys.exit(f"{TWEETS} is missing: this benchmark needs the shared sentiment data")
    if arguments.mode:
        print(json.dumps(run_mode(arguments.mode, arguments.mentions, arguments.batch, arguments.seed)))
        return
    reports = [_child(mode, arguments) for mode in ("memory-1", "memory-N", "duckdb-N")]
    for report in reports:
        extra = ""
        if "signatures_only_seconds" in report:
            extra = f", of which MinHash signatures alone {report['signatures_only_seconds']:.2f} s"
        if "load_seconds" in report:
            extra = (f" (the inserts before it: {report['load_seconds']:.2f} s); "
                     f"story_bands: {report['indexed_mentions']:,} mentions in {report['story_bands_rows']:,} rows, "
                     f"{report['index_file_mb']:.1f} MB on its own")
        print(f"{report['mode']}: {report['mentions']:,} mentions in {report['seconds']:.2f} s = "
              f"{report['mentions_per_second']:,.0f} mentions/s{extra}; peak RSS {report['peak_rss_mb']:.0f} MB "
              f"({report['rss_after_generation_mb']:.0f} MB after generating the rows)")
        print(f"    {json.dumps(report['quality'])}")
    print(f"mentions_per_second={reports[0]['mentions_per_second']:.0f} "
          f"peak_rss_mb={max(report['peak_rss_mb'] for report in reports):.0f}")


if __name__ == "__main__":
    main()
