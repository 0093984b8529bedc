"""Benchmark: full enrichment (brand matching, ownership, language, lexicon sentiment, reach) of
synthetic mentions through `enrich.pipeline.Enricher`, the code the enrich task runs.

    .venv/bin/python bench/enrichment_throughput.py [--mentions 100000] [--workers 1]

Texts are drawn from the labelled tweets in ../shared/data/sentiment/ (with brand names spliced
into 80% of them), so lengths and vocabulary are those of real social posts. `--workers 2` splits
the mentions across two processes, as two mapped enrich tasks would on this 2-core machine.
Prints mentions/s and peak RSS; the last line is `mentions_per_second=<x> peak_rss_mb=<y>`.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from config import load_config
from core.mention import Mention

TWEETS = REPO.parent / "shared" / "data" / "sentiment" / "train.tsv"
BRAND_WORDS = ["Brightwave", "Brightwave Broadband", "#brightwavedown", "@brightwavehelp", "Tidewell", "Skylark Fibre"]
PLATFORMS = [("x", "x"), ("reddit", "reddit"), ("mastodon", "mastodon"), ("news", "techwire"), ("bluesky", "bluesky")]


def synthetic_mentions(count: int, seed: int) -> list[Mention]:
    """`count` mentions: real tweet texts, 80% with a brand term spliced in, spread over platforms."""
    texts = [line.split("\t", 1)[0] for line in TWEETS.read_text(encoding="utf-8").splitlines()[1:]]
    chooser = random.Random(seed)
    mentions = []
    for number in range(count):
        words = chooser.choice(texts).split()
        if chooser.random() < 0.8:
            words.insert(chooser.randrange(len(words) + 1), chooser.choice(BRAND_WORDS))
        platform, source = PLATFORMS[number % len(PLATFORMS)]
        url = f"https://techwire.example/a/{number}" if platform == "news" else None
        mentions.append(Mention(platform, source, str(number), url, " ".join(words), author_handle=f"@user{number % 5000}",
                                author_followers=chooser.randrange(50_000), engagement={"score": chooser.randrange(500)},
                                published_at=datetime(2026, 11, 2, tzinfo=UTC)))
    return mentions


def enrich_slice(arguments: tuple[int, int]) -> tuple[int, float]:
    """Enrich `count` mentions in this process; returns (rows kept, seconds spent enriching)."""
    count, seed = arguments
    from enrich.pipeline import Enricher

    config = load_config(REPO / "config" / "demo.yaml")
    mentions = synthetic_mentions(count, seed)
    enricher = Enricher(config)
    enricher.language.detect("warm up the language model once")
    started = time.perf_counter()
    kept = 0
    for enriched in enricher.enrich(mentions):
        enriched.to_json()  # the staged row, as the enrich task writes it
        kept += 1
    return kept, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mentions", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=1)
    arguments = parser.parse_args()
    if not TWEETS.exists():
        sys.exit(f"{TWEETS} is missing: this benchmark needs the shared sentiment data (see ../shared/data/README.md)")
    share = arguments.mentions // arguments.workers
    started = time.perf_counter()
    if arguments.workers == 1:
        results = [enrich_slice((share, 0))]
    else:
        with ProcessPoolExecutor(arguments.workers) as pool:
            results = list(pool.map(enrich_slice, [(share, seed) for seed in range(arguments.workers)]))
    wall = time.perf_counter() - started
    kept = sum(result[0] for result in results)
    enriching = max(result[1] for result in results)
    total = share * arguments.workers
    peak_mb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    print(f"{total:,} mentions, {kept:,} kept, {arguments.workers} worker(s): enrichment {enriching:.2f} s, "
          f"wall {wall:.2f} s including data generation")
    print(f"mentions_per_second={total / enriching:.0f} peak_rss_mb={peak_mb:.0f}")


if __name__ == "__main__":
    main()
