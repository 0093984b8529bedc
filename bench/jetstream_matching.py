"""Benchmark: how many Jetstream posts per second the bluesky_jetstream collector matches on one core.

The stream is everything Bluesky posts; most of it names no brand, so the collector's local matching must
keep up with the stream. This builds `--posts` Jetstream frames (JSON text, as the instance sends them):
posts that name no brand (`demo.fake_apis.jetstream.background_posts`: 4 to 40 everyday words, replies,
reposts, identity events, several languages), with the demo's Bluesky posts and `--matching` posts naming a
brand spread among them. The brands are the demo config's (config/demo.yaml: three, on their terms) plus 20
synthetic brands with boolean queries of the shapes a team writes (OR groups, phrases, #hashtags, NOT,
NEAR/n, lang:, author:, one that a field alone can satisfy, so it is evaluated on every post).

Two figures:
- matching alone: `StreamReading.take` on every frame, the collector's own per-frame work (parse the JSON,
  skip what is not a post, run the brand matcher, build a mention for a match), in this process on one
  core; and, as a floor, `json.loads` of the same frames;
- through the websocket: `collect_bluesky_jetstream` reading the same stream from the fake Jetstream on
  127.0.0.1 (the fake server runs in this process too, so both share one core's worth of the GIL).

It checks the result: the posts kept are exactly the injected ones (the demo's posts and the `--matching`
ones) that the brand matcher matches on their own, and no background post, in both runs.

Usage:
    .venv/bin/python bench/jetstream_matching.py                    # 200,000 posts, about 1 min
    .venv/bin/python bench/jetstream_matching.py --posts 20000      # smoke check, seconds
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collectors.bluesky_jetstream import StreamReading, collect_bluesky_jetstream
from collectors.context import CollectionContext
from config import load_config
from config.model import BlueskyJetstreamSource, BrandConfig
from demo.fake_apis.jetstream import (
    FakeJetstream,
    background_posts,
    events_from_post_views,
    post_event,
    to_us,
)
from query.brand_matching import BrandMatcher
from transport.http import HttpClient

REPO = Path(__file__).resolve().parents[1]
START = datetime(2026, 10, 1, tzinfo=UTC)

# Twenty brands with boolean queries, as a listening team writes them; {name} and {lower} filled per brand.
_NAMES = [
    "Northgate Energy", "Pellow Bank", "Kestrel Mobile", "Ardent Air", "Lumora", "Quillfield", "Harbourline Rail",
    "Tessaro", "Brackwater", "Vantora", "Glenmere Water", "Corvid Insurance", "Oakhollow", "Zephra", "Marlow Motors",
    "Fernway", "Cindral", "Halcyon Homes", "Rookery Bikes", "Solent Ferries",
]
_SHAPES = [
    '("{name}" OR #{lower} OR @{lower}help) AND NOT (job* OR hiring OR "apply now")',
    '("{name}" OR #{lower}) AND (outage* OR down OR "no signal" OR slow*)',
    '"{name}" NEAR/5 (price* OR bill* OR contract OR refund*)',
    '"{name}" AND lang:en',
    'author:{lower}help OR "{name}"',  # a field alone satisfies it: evaluated on every post
]
_COMPLAINTS = ["is down again", "raised my bill", "support was brilliant", "outage since this morning",
               "refund still not here", "finally fixed it"]


def brands() -> list[BrandConfig]:
    """The demo's brands and competitors, then the twenty query brands."""
    config = load_config(REPO / "config" / "demo.yaml")
    queried = [
        BrandConfig(name=name, query=_SHAPES[number % len(_SHAPES)].format(
            name=name, lower=name.lower().replace(" ", "")))
        for number, name in enumerate(_NAMES)
    ]
    return [*config.all_brands, *queried]


def stream(posts: int, matching: int, seed: int) -> tuple[list[str], list[tuple[str, str, str | None]]]:
    """`posts` frames in time order over a day, and the at:// uri, text and declared language of each post
    put among the background (the demo's and the `matching` ones)."""
    rng = random.Random(seed)
    demo = [*json.loads((REPO / "demo" / "corpus" / "public_apis" / "bluesky.json").read_text())["posts"],
            *json.loads((REPO / "demo" / "corpus" / "month" / "public_apis.json").read_text())["bluesky"]]
    injected = events_from_post_views(demo)
    end = START + timedelta(days=1)
    for event, moment in zip(injected, sorted(rng.uniform(0, 86_000) for _ in injected), strict=True):
        event["time_us"] = to_us(START) + round(moment * 1_000_000)
    for number in range(matching):
        name = rng.choice(_NAMES)
        injected.append(post_event(f"did:plc:fan{number:05d}", f"3m{number:08d}", f"{name} {rng.choice(_COMPLAINTS)}",
                                   to_us(START) + rng.randrange(86_000_000_000)))
    events = background_posts(START, end, posts - len(injected), seed) + injected
    events.sort(key=lambda event: event["time_us"])
    events.append(post_event("did:plc:late", "3zend", "after the window", to_us(end) + 1))
    return [json.dumps(event) for event in events], [
        (f"at://{event['did']}/app.bsky.feed.post/{event['commit']['rkey']}", event["commit"]["record"]["text"],
         (event["commit"]["record"].get("langs") or [None])[0])
        for event in injected
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=200_000, help="frames in the stream")
    parser.add_argument("--matching", type=int, default=200, help="posts naming one of the 20 query brands")
    parser.add_argument("--seed", type=int, default=16)
    arguments = parser.parse_args()

    configured = brands()
    frames, injected = stream(arguments.posts, arguments.matching, arguments.seed)
    # What the run must keep: the injected posts the brands' matcher matches on their own, no background post.
    matcher = BrandMatcher(configured, [])
    naming = {uri for uri, text, lang in injected if matcher.match(text, lang=lang)}
    end_us = to_us(START + timedelta(days=1))
    print(f"{len(frames):,} frames ({sum(map(len, frames)) / len(frames):.0f} bytes each on average), "
          f"{len(naming)} naming a brand; {len(configured)} brands ({len(configured) - 20} on terms, 20 queries)")

    started = time.process_time()
    for frame in frames:
        json.loads(frame)
    parse_seconds = time.process_time() - started

    started = time.process_time()
    reading = StreamReading("bench", BrandMatcher(configured, []), end_us, 60.0, to_us(START) - 1)
    for frame in frames:
        if not reading.take(frame):
            break
    match_seconds = time.process_time() - started
    matched = {uri for uri, mention in reading.mentions.items() if mention.amplifies is None}
    assert matched == naming, (len(matched), len(naming), sorted(matched ^ naming)[:5])
    print(f"json.loads alone: {len(frames) / parse_seconds:,.0f} frames/s ({parse_seconds:.2f} CPU-s)")
    print(f"matching (StreamReading.take, one core): {len(frames) / match_seconds:,.0f} frames/s, "
          f"{reading.posts_seen / match_seconds:,.0f} posts/s ({match_seconds:.2f} CPU-s; {reading.posts_seen:,} posts "
          f"and reposts, {len(reading.mentions)} kept)")

    with FakeJetstream() as server:
        for number, frame in enumerate(frames):
            server.publish_frame(to_us(START) + number, frame)  # in order; publish_frame keeps the frames as they are
        source = BlueskyJetstreamSource(kind="bluesky_jetstream", name="bench", url=server.url, idle_seconds=5)
        context = CollectionContext(HttpClient(load_config(REPO / "config" / "demo.yaml").http), tuple(configured),
                                    (START, START + timedelta(days=1)), time_budget_seconds=600)
        started, cpu = time.perf_counter(), time.process_time()
        run = collect_bluesky_jetstream(source, None, context)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    kept = {str(mention.native_id) for mention in run.mentions if mention.amplifies is None}
    assert kept == naming and run.status == "ok", (run.status, run.error, len(kept), len(naming))
    print(f"through the websocket (collect_bluesky_jetstream, fake Jetstream on 127.0.0.1 in-process): "
          f"{run.items_fetched / wall:,.0f} posts/s ({wall:.2f} s wall, {cpu:.2f} CPU-s for client and server; "
          f"{run.items_fetched:,} posts and reposts, {len(run.mentions)} kept)")


if __name__ == "__main__":
    main()
