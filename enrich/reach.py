"""The reach estimate: how many people could have seen a mention, and how many probably did.
One model, versioned; written out for analysts in docs/data-dictionary.md.

reach-v2
- Potential reach, by platform:
  - news and blog items: the source's configured `audience`, else `reach.default_feed_audience`
    (feeds, Google News) or `reach.default_blog_audience` (blogs);
  - X, Mastodon, Bluesky: the author's followers (0 when the platform does not say);
  - Reddit: the subreddit's subscribers times the share a post with that score reaches,
    0.01 + 0.99 * score / (score + 100): 1% at score 0, about half at 100, 91% at 1,000;
    the source's `audience`-less default tier (`reach.default_forum_audience`) when the
    subscriber count is unknown (the public-feed fallback);
  - Hacker News: the source's `audience`, else `reach.default_forum_audience`, times the same
    share for its points.
- Estimated actual reach: a band of 1% to 20% of the potential (industry data puts real
  impressions there), except where the platform counts impressions (X's `impression_count`):
  then both ends are that count.
Reach through amplification (retweets, quotes) is added where the amplifiers are collected.
"""

from __future__ import annotations

from dataclasses import dataclass

from config.model import ReachSettings, Source
from core.mention import WEB_PLATFORMS, Mention

REACH_MODEL = "reach-v2"
ACTUAL_SHARE_LOW = 0.01
ACTUAL_SHARE_HIGH = 0.20
_SCORE_HALF_REACH = 100


@dataclass(frozen=True)
class Reach:
    """Potential reach and the band of people who probably saw it."""

    potential: int
    actual_low: int
    actual_high: int


def reach_estimate(mention: Mention, source: Source, defaults: ReachSettings) -> Reach:
    """The reach of one mention under reach-v2."""
    potential = _potential(mention, source, defaults)
    impressions = mention.engagement.get("impressions")
    if isinstance(impressions, int) and impressions > 0:
        return Reach(max(potential, impressions), impressions, impressions)
    return Reach(potential, round(potential * ACTUAL_SHARE_LOW), round(potential * ACTUAL_SHARE_HIGH))


def _potential(mention: Mention, source: Source, defaults: ReachSettings) -> int:
    if mention.platform in WEB_PLATFORMS:
        if source.audience is not None:
            return source.audience
        return defaults.default_blog_audience if source.kind == "blog" else defaults.default_feed_audience
    if mention.platform == "reddit":
        audience = mention.community_size if mention.community_size is not None else defaults.default_forum_audience
        return round(audience * _score_share(mention.engagement.get("score")))
    if mention.platform == "hackernews":
        audience = source.audience if source.audience is not None else defaults.default_forum_audience
        return round(audience * _score_share(mention.engagement.get("points")))
    return mention.author_followers or 0


def _score_share(score: object) -> float:
    """The share of a community a post with this score reaches (saturating in the score)."""
    score = max(score, 0) if isinstance(score, int) else 0
    return 0.01 + 0.99 * score / (score + _SCORE_HALF_REACH)
