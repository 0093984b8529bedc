"""Benchmark: sentiment per brand on mentions that compare brands, against the mention-level label.

Reads bench/data/comparative_sentiment.jsonl: one post per line (`id`, `split`, `source`, `text`, and
`brands`: each brand named with its label), written in the style of X, Reddit and review posts, each
naming two or more of the brands of bench/data/comparative_brands.json. Every text is matched with
`query.brand_matching.BrandMatcher` as enrichment does (a post whose matched brands differ from its
labelled ones is listed; a brand it misses counts as neutral), scored at mention level by the backend in one call, and
each brand is then labelled by `enrich.brand_sentiment.BrandSentimentScorer` with the same backend.

The baseline gives every brand of a post the post's label (what Overheard did before sentiment per
brand). Per split (`dev`: every third post, the only one looked at while adjusting the rules;
`test`: the rest, held out; `all`) it prints per-brand accuracy and macro-recall (the mean of the
negative, neutral and positive recalls) of both, and how each brand's label was found. The last line
is `test: brand_accuracy=<x> baseline_accuracy=<y> brand_macro_recall=<z> baseline_macro_recall=<w>`.

Usage:
    .venv/bin/python bench/brand_sentiment_accuracy.py --backend lexicon
    .venv/bin/python bench/brand_sentiment_accuracy.py --backend auto
    .venv/bin/python bench/brand_sentiment_accuracy.py --backend lexicon --show-errors test
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from config.model import BrandConfig  # noqa: E402
from enrich.brand_sentiment import BrandSentimentScorer  # noqa: E402
from enrich.sentiment import SentimentModelUnavailable, sentiment_backend  # noqa: E402
from enrich.sentiment_training import agreement  # noqa: E402
from query.brand_matching import BrandMatcher  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
SPLITS = ("dev", "test", "all")


def main() -> None:
    """Parse the flags, label the set, print the report and the summary line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, default=DATA / "comparative_sentiment.jsonl")
    parser.add_argument("--brands", type=Path, default=DATA / "comparative_brands.json")
    parser.add_argument("--backend", choices=["lexicon", "transformers", "auto"], default="auto")
    parser.add_argument("--model", help="hub name (org/name[@revision]) or local directory; default: the default model")
    parser.add_argument("--show-errors", choices=SPLITS, help="print the brands labelled wrong in this split")
    arguments = parser.parse_args()

    posts = [json.loads(line) for line in arguments.file.read_text(encoding="utf-8").splitlines() if line.strip()]
    brands = [BrandConfig.model_validate(brand) for brand in json.loads(arguments.brands.read_text(encoding="utf-8"))]
    matcher = BrandMatcher(brands[:1], brands[1:])
    try:
        backend = sentiment_backend(arguments.backend, arguments.model)
    except SentimentModelUnavailable as missing:
        parser.exit(2, f"{parser.prog}: cannot run the {arguments.backend} backend here: {missing}\n")

    matches = [matcher.match(post["text"]) for post in posts]
    unmatched = [post["id"] for post, found in zip(posts, matches, strict=True)
                 if {match.brand for match in found} != set(post["brands"])]
    mention_scores = backend.score([post["text"] for post in posts])
    readings = BrandSentimentScorer(backend).read(
        [(post["text"], found, score) for post, found, score in zip(posts, matches, mention_scores, strict=True)]
    )

    # One row per (post, labelled brand): split, truth, per-brand label, baseline label, how, post.
    rows = []
    for post, found, score, reading in zip(posts, matches, mention_scores, readings, strict=True):
        by_brand = {match.brand: brand_reading for match, brand_reading in zip(found, reading, strict=True)}
        for brand, truth in post["brands"].items():
            brand_reading = by_brand.get(brand)
            predicted = brand_reading.label if brand_reading else "missing"
            how = brand_reading.how.split(":")[0] if brand_reading else "missing"
            rows.append((post["split"], truth, predicted, score.label, how, post, brand))

    print(f"file: {arguments.file} ({len(posts)} posts, {len(rows)} brand labels; "
          f"dev {sum(p['split'] == 'dev' for p in posts)}, test {sum(p['split'] == 'test' for p in posts)} posts)")
    print(f"backend: {arguments.backend} -> {backend.model}")
    print(f"labels: {dict(Counter(truth for _, truth, *_ in rows))}")
    print(f"posts whose matched brands differ from the labelled ones: {unmatched or 'none'}")
    print()
    summary = {}
    print(f"{'split':<6}{'labels':>7}{'brand acc':>11}{'base acc':>10}{'brand mR':>10}{'base mR':>9}   how (right/all)")
    for split in SPLITS:
        chosen = [row for row in rows if split in ("all", row[0])]
        truth = [row[1] for row in chosen]
        per_brand = agreement(truth, [_known(row[2]) for row in chosen])
        baseline = agreement(truth, [row[3] for row in chosen])
        found_by = Counter(row[4] for row in chosen)
        right = Counter(row[4] for row in chosen if row[1] == row[2])
        print(f"{split:<6}{len(chosen):>7}{per_brand.accuracy:>11.4f}{baseline.accuracy:>10.4f}"
              f"{per_brand.macro_recall:>10.4f}{baseline.macro_recall:>9.4f}   "
              + ", ".join(f"{name} {right[name]}/{total}" for name, total in found_by.most_common()))
        summary[split] = (per_brand, baseline)
    if arguments.show_errors:
        print()
        for split, truth, predicted, mention, how, post, brand in rows:
            if arguments.show_errors in ("all", split) and truth != predicted:
                print(f"#{post['id']} {brand}: {truth} != {predicted} ({how}; mention {mention}): {post['text']}")
    print()
    for split in ("dev", "test"):
        low, high = _difference_interval([row for row in rows if row[0] == split])
        per_brand, baseline = summary[split]
        print(f"{split}: accuracy gain {per_brand.accuracy - baseline.accuracy:+.4f} "
              f"(95% interval {low:+.4f} to {high:+.4f}, bootstrap over posts)")
    per_brand, baseline = summary["test"]
    print()
    print(f"test: brand_accuracy={per_brand.accuracy:.4f} baseline_accuracy={baseline.accuracy:.4f} "
          f"brand_macro_recall={per_brand.macro_recall:.4f} baseline_macro_recall={baseline.macro_recall:.4f}")


def _difference_interval(rows: list[tuple], resamples: int = 2000) -> tuple[float, float]:
    """A 95% percentile-bootstrap interval of per-brand minus baseline accuracy, resampling posts (seeded)."""
    by_post: dict[int, list[tuple[bool, bool]]] = {}
    for _, truth, predicted, mention, _, post, _ in rows:
        by_post.setdefault(post["id"], []).append((truth == predicted, truth == mention))
    posts = list(by_post.values())
    generator = random.Random(13)
    gains = []
    for _ in range(resamples):
        chosen = [pair for post in generator.choices(posts, k=len(posts)) for pair in post]
        gains.append(sum(right - base for right, base in chosen) / len(chosen))
    gains.sort()
    return gains[int(0.025 * resamples)], gains[int(0.975 * resamples) - 1]


def _known(label: str) -> str:
    """A brand the matcher missed (listed above) is counted as labelled neutral."""
    return label if label != "missing" else "neutral"


if __name__ == "__main__":
    main()
