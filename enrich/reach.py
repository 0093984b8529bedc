"""The reach estimate: how many people could have seen a mention. One formula, versioned.

reach-v1 (written out in docs/data-dictionary.md):
- news and blog items: the source's configured `audience`, else `reach.default_feed_audience`
  (feeds) or `reach.default_blog_audience` (blogs);
- posts on social platforms: the author's follower count, else 0.
"""

from __future__ import annotations

from collectors.mention import WEB_PLATFORMS, Mention
from config.model import ReachSettings, Source

REACH_MODEL = "reach-v1"


def reach_estimate(mention: Mention, source: Source, defaults: ReachSettings) -> int:
    """Potential reach of one mention under reach-v1."""
    if mention.platform in WEB_PLATFORMS:
        if source.audience is not None:
            return source.audience
        return defaults.default_blog_audience if source.kind == "blog" else defaults.default_feed_audience
    return mention.author_followers or 0
