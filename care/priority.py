"""The priority score of a triage item (priority-v1): the one place its formula lives.

    priority = w_negativity * negativity + w_reach * reach + w_velocity * velocity
             + w_severity * severity + w_influence * influence

Each part is in [0, 1]; the weights (config `playbook.priority_weights`) sum to 1, so the score is
in [0, 1] too:

- negativity = max(0, -sentiment_score): 0 for neutral or positive text, 1 for the most negative.
- reach = min(1, log10(1 + reach_estimate) / 7): 10 million potential readers or more is 1.
- velocity = min(1, log10(1 + interactions gained per hour) / 3), between the mention's last two
  engagement observations (one per run that saw it); 1,000 an hour or more is 1, and 0 until it
  has been seen twice.
- severity = the category's `severity` from the playbook.
- influence = min(1, log10(1 + author_followers) / 6): a million followers or more is 1.

A mention whose priority reaches `playbook.escalation_threshold`, or whose category has
`escalate: true`, is escalated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from config.playbook import PriorityWeights

PRIORITY_MODEL = "priority-v1"

# Interactions counted in engagement, per platform's engagement keys; views and ratios are not interactions.
INTERACTION_KEYS = frozenset(
    {"likes", "replies", "retweets", "quotes", "reposts", "reblogs", "favourites", "points", "comments", "score"}
)


@dataclass(frozen=True)
class PriorityParts:
    """The parts of a priority score, each in [0, 1]."""

    negativity: float
    reach: float
    velocity: float
    severity: float
    influence: float

    def score(self, weights: PriorityWeights) -> float:
        """The weighted sum: the priority."""
        return round(
            weights.negativity * self.negativity + weights.reach * self.reach + weights.velocity * self.velocity
            + weights.severity * self.severity + weights.influence * self.influence,
            4,
        )


def priority_parts(
    sentiment_score: float | None,
    reach_estimate: int | None,
    interactions_per_hour: float | None,
    severity: float,
    author_followers: int | None,
) -> PriorityParts:
    """The parts of the priority of one mention (see the module docstring for the formulas)."""
    return PriorityParts(
        negativity=max(0.0, -(sentiment_score or 0.0)),
        reach=_log_share(reach_estimate, 7),
        velocity=_log_share(interactions_per_hour, 3),
        severity=severity,
        influence=_log_share(author_followers, 6),
    )


def interactions(engagement: Mapping[str, object] | None) -> int:
    """Interactions in a mention's engagement (likes, reposts, replies, quotes, points, comments, score)."""
    if not engagement:
        return 0
    counted = (value for key, value in engagement.items() if key in INTERACTION_KEYS and isinstance(value, int | float))
    return int(sum(max(0, value) for value in counted))


def _log_share(value: float | None, decades: int) -> float:
    if not value or value <= 0:
        return 0.0
    return min(1.0, math.log10(1 + value) / decades)
