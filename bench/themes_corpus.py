"""A labelled set for themes: posts about a broadband brand written from known topics, plus noise.

Used by bench/themes_quality.py (how well themes recover the topics) and bench/themes_speed.py (how fast
200,000 of them are grouped). Each topic has its own vocabulary (the things people would say about an
outage in Leeds, a price rise, a new router, ...); a topic post is an opener, two or three of its topic's
phrases in random order and wording, and a closer, with a third of the posts also carrying half a real
tweet as off-topic words. Noise posts are real tweets (../shared/data/sentiment/train.tsv, or generated
chatter when that file is absent) with the brand's name put in: talk that belongs to no topic. The same
seed gives the same posts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

BRAND = "Fibrely"
TWEETS = Path(__file__).resolve().parents[2] / "shared" / "data" / "sentiment" / "train.tsv"

TOPICS: dict[str, list[str]] = {
    "outage_leeds": [
        "broadband down in Leeds", "no internet in Leeds since this morning", "outage across Leeds",
        "Leeds postcode still offline", "whole street in Headingley without internet", "service status says Leeds outage",
        "engineers working on the Leeds exchange", "LS6 connection dropped again",
    ],
    "price_rise": [
        "price rise in April", "bill going up again", "another price increase", "monthly price hike",
        "mid contract price rise", "paying more for the same speed", "inflation plus price rise",
        "letter about the price change",
    ],
    "new_router": [
        "new router arrived", "the new wifi 7 router", "router upgrade is great", "setting up the new hub",
        "new router has mesh built in", "swapped the old hub for the new router", "router app setup was easy",
        "the new router range is better",
    ],
    "customer_service": [
        "on hold for an hour", "customer service never called back", "support chat kept disconnecting",
        "the agent on the phone was rude", "waited forty minutes on hold", "complaint ignored by support",
        "support ticket closed without a fix", "call centre hung up on me",
    ],
    "speed_slow": [
        "speeds are terrible in the evening", "getting a fraction of the promised speed", "speed test shows 8 mbps",
        "download speed dropped after the upgrade", "upload speed is awful", "gaming latency spikes every night",
        "slow speeds since last week", "paying for 500 mbps and getting 40",
    ],
    "fibre_rollout": [
        "full fibre rollout reached our village", "fibre cabinet installed down the road",
        "when is full fibre coming to my street", "fibre installation van outside", "gigabit fibre now available here",
        "rollout map says fibre next year", "fibre engineers digging up the pavement", "finally got full fibre",
    ],
    "cancellation": [
        "trying to cancel my contract", "exit fee to leave is outrageous", "cancelled and switched provider",
        "they will not let me cancel", "cancellation department keeps transferring me", "leaving after ten years",
        "notice period to cancel is thirty days", "cancel before the price rise",
    ],
    "tv_sports": [
        "football channels missing from the tv box", "the tv box froze during the match", "sports package stream buffering",
        "champions league stream kept dropping", "tv guide not loading", "the new tv box remote is great",
        "sports bundle worth it", "match replay not available on the tv app",
    ],
}
OPENERS = [
    "", "", "Honestly", "Ugh", "So", "Anyone else?", "Update:", "Just saying,", "Well", "PSA:", "Lol",
    "Not impressed,", "Good news,", "Day three and",
]
CLOSERS = [
    "", "", "", "!", "...", "#broadband", "thanks a lot", "cheers", "fix it please", "seriously", "what a week",
    "any tips?", "love it", "not happy", "again",
]
CHATTER = [
    "what a morning", "coffee first", "the weather is grim today", "watching the match later",
    "cannot wait for the weekend", "my cat says hello", "traffic on the ring road", "new phone who dis",
    "just got back from holiday", "the ads are everywhere", "my neighbour told me", "saw the advert on tv",
]


@dataclass(frozen=True)
class LabelledPost:
    """A generated post and the topic it was written from (None: noise)."""

    text: str
    topic: str | None


def labelled_posts(count: int, *, seed: int = 14, noise_share: float = 0.3,
                   topics: list[str] | None = None) -> list[LabelledPost]:
    """`count` posts: `noise_share` of them noise, the rest spread over the topics with unequal sizes.

    Args:
        count: how many posts.
        seed: the random seed.
        noise_share: the share of posts that are noise.
        topics: which of `TOPICS` to write from (all of them by default).
    """
    rng = random.Random(seed)
    chosen = topics or sorted(TOPICS)
    tweets = _tweets()
    # Topic sizes 1 : 1.5 : 2 : ... so themes of very different sizes must all be found.
    sizes = [1 + 0.5 * index for index in range(len(chosen))]
    posts: list[LabelledPost] = []
    for _ in range(count):
        if rng.random() < noise_share:
            posts.append(LabelledPost(_noise(rng, tweets), None))
            continue
        topic = rng.choices(chosen, weights=sizes)[0]
        phrases = rng.sample(TOPICS[topic], rng.choice((2, 2, 3)))
        parts = [rng.choice(OPENERS), *phrases]
        if rng.random() < 0.5:
            parts.insert(rng.randrange(1, len(parts) + 1), f"@{BRAND}" if rng.random() < 0.5 else BRAND)
        if rng.random() < 0.33:
            parts.append(_half(rng, rng.choice(tweets)))
        parts.append(rng.choice(CLOSERS))
        posts.append(LabelledPost(" ".join(part for part in parts if part), topic))
    return posts


def _noise(rng: random.Random, tweets: list[str]) -> str:
    text = rng.choice(tweets)
    words = text.split()
    words.insert(rng.randrange(len(words) + 1), BRAND)
    return " ".join(words)


def _half(rng: random.Random, text: str) -> str:
    words = text.split()
    start = rng.randrange(max(1, len(words) // 2))
    return " ".join(words[start:start + max(3, len(words) // 2)])


def _tweets() -> list[str]:
    if not TWEETS.exists():
        rng = random.Random(0)
        return [" ".join(rng.sample(CHATTER, 3)) for _ in range(2000)]
    lines = TWEETS.read_text(encoding="utf-8").splitlines()[1:]
    return [line.rsplit("\t", 1)[0] for line in lines if "\t" in line]
