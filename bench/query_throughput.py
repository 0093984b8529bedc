"""Benchmark: 100 brand queries evaluated on 1,000,000 mentions with `query.boolean.QuerySet`.

Builds `--queries` boolean queries for synthetic brands, ten shapes a listening team writes (brand
names, phrases, #hashtags, @handles, $cashtags, wildcards, NOT, NEAR/n, ONEAR/n, lang:, site:,
author:, platform:), then generates `--mentions` mentions in chunks of `--chunk` (so memory stays
flat) and times `QuerySet.matching` on each chunk. Generation is not timed.

Mentions look like collected ones: 15 to 45 words of topic vocabulary; 70% name one brand, 15%
two, 15% none (a search also brings in items whose brand term is a false friend); about a third
carry non-ASCII text (emoji, accents, curly apostrophes); news and blog items (and a tenth of the
others) have a title; platforms x, reddit, news and blog with their URL hosts and author handles;
a detected language, mostly en.

It checks the result: for the first `--check` mentions the matches equal those of every query
evaluated on its own (`Query.matches`), which it times too, as the naive way. It reports
mention-query evaluations/s, mentions/s for all queries, the share of pairs the prefilter let
through to a full evaluation, matches, and peak RSS.

Usage:
    .venv/bin/python bench/query_throughput.py                     # 1,000,000 mentions, ~40 s
    .venv/bin/python bench/query_throughput.py --mentions 20000    # smoke check, ~5 s
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.mention import Mention  # noqa: E402
from query.boolean import Query, QuerySet, parse_query  # noqa: E402
from query.platform_syntax import QueryCompileError, to_reddit_query, to_x_query  # noqa: E402

_STEMS = [
    "Bright", "Tide", "Sky", "Stone", "River", "Lumen", "Nova", "Iron", "Silver", "Green",
    "Harbour", "North", "Swift", "Clear", "Open", "Amber", "Bold", "Quant", "Vertex", "Cobalt",
]
_ENDINGS = ["wave", "well", "lark", "gate", "line", "path", "field", "port", "link", "core"]

# Ten shapes of brand query, as a team writes them; {name}, {lower}, {ticker} filled per brand.
_SHAPES = [
    '({name} OR "{name} Mobile" OR #{lower} OR @{lower}help) AND NOT (job* OR hiring OR "apply now")',
    '({name} OR #{lower}) AND (outage* OR down OR "no signal" OR slow*)',
    "{name} NEAR/5 (price* OR bill* OR contract OR refund*)",
    '({name} OR "{name} Mobile") AND lang:en AND NOT site:{lower}.example',
    "@{lower}help OR ({name} ONEAR/3 (support OR help* OR complain*))",
    "${ticker} OR ({name} AND (shares OR stock* OR earnings OR investor*))",
    "({name} OR #{lower} OR #{lower}fail) AND NOT author:{lower}help AND NOT platform:news",
    '("{name} Broadband" OR "{name} fibre*" OR {name}) AND (router* OR hub OR wifi OR wi-fi)',
    "{name} OR (#{lower} AND (deal* OR offer*))",
    '({name} OR "{name} Mobile") NEAR/3 (love* OR great OR brilliant OR awful OR terrible)',
]

_VOCABULARY = (
    "the a and to of in is it for on my with this that was at but not have just again so now today "
    "still they their our your after since about from when all any more been than what why how who "
    "outage outages down slow no signal internet broadband fibre router routers hub wifi wi-fi mobile "
    "price prices bill billing bills contract refund refunds support help helpline complaint complained "
    "shares stock stocks earnings investor investors deal deals offer offers love loved great brilliant "
    "awful terrible engineer install installed installer speed speeds upload download latency evening "
    "morning week month customer customers service servers network coverage street village town city "
    "leeds bristol london manchester glasgow cardiff switching provider app update fixed broken again "
    "hiring job jobs apply careers announced launch launched new plan plans unlimited data minutes"
).split()
_NON_ASCII = ["😤", "📡", "👍", "café", "naïve", "Zürich", "don’t", "it’s", "—", "“really”", "São", "Škoda"]
_HOSTS = {
    "news": ["www.telecomdaily.example", "news.techwire.example"],
    "blog": ["broadbandforum.example", "homefixers.example"],
}
_PLATFORMS = ["x"] * 8 + ["reddit"] * 5 + ["news"] * 4 + ["blog"] * 3
_LANGS = ["en"] * 16 + ["de", "fr", "es", "und"]


def brands(count: int) -> list[dict[str, str]]:
    """`count` made-up brands: a name, its lower-case form and a ticker."""
    names = [stem + ending for ending in _ENDINGS for stem in _STEMS][:count]
    return [{"name": name, "lower": name.lower(), "ticker": name[:3].upper() + name[-1].upper()} for name in names]


def brand_queries(count: int) -> dict[str, str]:
    """One query per brand, the shapes dealt round-robin."""
    return {brand["name"]: _SHAPES[index % len(_SHAPES)].format(**brand) for index, brand in enumerate(brands(count))}


def mention_chunk(rng: random.Random, first: int, count: int, names: list[dict[str, str]]) -> list[tuple[Mention, str]]:
    """`count` synthetic mentions and their detected languages."""
    chunk = []
    for number in range(first, first + count):
        words = rng.choices(_VOCABULARY, k=rng.randint(15, 45))
        draw = rng.random()
        for brand in rng.sample(names, 2 if draw < 0.15 else 1 if draw < 0.85 else 0):
            form = rng.random()
            if form < 0.55:
                term = brand["name"]
            elif form < 0.65:
                term = brand["name"] + "’s"
            elif form < 0.75:
                term = "#" + brand["lower"]
            elif form < 0.83:
                term = "@" + brand["lower"] + "help"
            elif form < 0.88:
                term = "$" + brand["ticker"]
            else:
                term = brand["name"] + " Mobile"
            words.insert(rng.randrange(len(words) + 1), term)
        if rng.random() < 0.25:
            words.insert(rng.randrange(len(words) + 1), rng.choice(_NON_ASCII))
        platform = rng.choice(_PLATFORMS)
        handle = rng.choice(names)["lower"] + "help" if rng.random() < 0.05 else f"user{number % 50000}"
        if platform in _HOSTS:
            url = f"https://{rng.choice(_HOSTS[platform])}/2026/11/story-{number}"
        else:
            url = f"https://{'x.com' if platform == 'x' else 'www.reddit.com'}/item/{number}"
        title = " ".join(words[:8]).capitalize() if platform in _HOSTS or rng.random() < 0.1 else None
        text = " ".join(words[8:] if title else words)
        item = Mention(
            platform=platform, source=f"{platform}-source", native_id=str(number), url=url, text=text, title=title,
            author_handle=("@" if platform == "x" else "u/" if platform == "reddit" else "") + handle,
        )
        chunk.append((item, rng.choice(_LANGS)))
    return chunk


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mentions", type=int, default=1_000_000, help="mentions to evaluate (default 1,000,000)")
    parser.add_argument("--queries", type=int, default=100, help="brand queries (default 100, at most 200)")
    parser.add_argument("--chunk", type=int, default=10_000, help="mentions generated and evaluated at a time")
    parser.add_argument("--check", type=int, default=5_000, help="mentions also evaluated query by query, and compared")
    parser.add_argument("--seed", type=int, default=2026)
    arguments = parser.parse_args()

    sources = brand_queries(arguments.queries)
    started = time.perf_counter()
    parsed: dict[str, Query] = {name: parse_query(source) for name, source in sources.items()}
    parse_seconds = time.perf_counter() - started
    refused = {"x": 0, "reddit": 0}
    for query in parsed.values():
        for platform, compile_query in (("x", to_x_query), ("reddit", to_reddit_query)):
            try:
                compile_query(query)
            except QueryCompileError:
                refused[platform] += 1
    queries = QuerySet(parsed)
    names = brands(arguments.queries)
    rng = random.Random(arguments.seed)
    print(
        f"{len(parsed)} queries parsed in {parse_seconds * 1000:.1f} ms; compiled for X and Reddit "
        f"(refused: X {refused['x']}, Reddit {refused['reddit']}); RSS {peak_rss_mb():.0f} MB before the run",
        flush=True,
    )

    matching_seconds = generate_seconds = naive_seconds = 0.0
    matched_mentions = matches = checked = characters = 0
    done = 0
    while done < arguments.mentions:
        count = min(arguments.chunk, arguments.mentions - done)
        before = time.perf_counter()
        chunk = mention_chunk(rng, done, count, names)
        generated = time.perf_counter()
        found = [queries.matching(item, lang=lang) for item, lang in chunk]
        matching_seconds += time.perf_counter() - generated
        generate_seconds += generated - before
        for names_found in found:
            matches += len(names_found)
            matched_mentions += bool(names_found)
        characters += sum(len(item.text) + len(item.title or "") for item, _ in chunk)
        if checked < arguments.check:
            sample = chunk[: arguments.check - checked]
            before = time.perf_counter()
            naive = [
                [name for name, query in parsed.items() if query.matches(item, lang=lang)] for item, lang in sample
            ]
            naive_seconds += time.perf_counter() - before
            if naive != found[: len(sample)]:
                raise SystemExit("QuerySet.matching and Query.matches disagree: the prefilter dropped a match")
            checked += len(sample)
        done += count
        if done % 200_000 == 0 or done == arguments.mentions:
            print(f"  {done:,} mentions, {matching_seconds:.1f} s matching so far", flush=True)

    pairs = done * len(parsed)
    print(
        f"mentions={done:,} queries={len(parsed)} chunk={arguments.chunk:,} mean_chars={characters / done:.0f}\n"
        f"matching: {matching_seconds:.1f} s = {done / matching_seconds:,.0f} mentions/s (all {len(parsed)} queries), "
        f"{pairs / matching_seconds:,.0f} mention-query evaluations/s\n"
        f"prefilter: {queries.evaluations:,} full evaluations of {pairs:,} pairs ({queries.evaluations / pairs:.2%})\n"
        f"matches: {matches:,} (mentions with at least one: {matched_mentions / done:.1%})\n"
        f"query by query on the first {checked:,}: {naive_seconds:.1f} s = {checked / naive_seconds:,.0f} mentions/s "
        f"(QuerySet {(naive_seconds / checked) / (matching_seconds / done):.0f}x faster), same matches\n"
        f"generation (not timed above): {generate_seconds:.1f} s\n"
        f"peak_rss_mb={peak_rss_mb():.0f}"
    )


if __name__ == "__main__":
    main()
