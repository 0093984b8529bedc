"""Routing: which queue a triage item goes to, and which agent of its roster gets it.

Routing works like a contact centre's ACD: the playbook's `routing` rules are tried in order and
the first whose every condition holds names the queue (and the skills an agent needs). When none
holds, the item goes to its category's queue, else to `default_queue`.

Assignment is fair: among the queue's agents who have every skill the item needs, the one with
the fewest open items (open or claimed, assigned to them), then the one idle longest (whose last
triage action is oldest; never acted counts as idle longest), then by name.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from config.playbook import CategoryConfig, Playbook, QueueConfig, RoutingRule
from query.boolean import Matchable, Query, parse_query


@dataclass(frozen=True)
class Route:
    """Where an item goes.

    Attributes:
        queue: the queue's name.
        routed_by: `routing[N]` (the rule that held), `category` or `default_queue`.
        skills: the skills an agent needs for it (from the rule).
    """

    queue: str
    routed_by: str
    skills: tuple[str, ...] = ()


@dataclass(frozen=True)
class RoutedMention:
    """What routing rules read about a mention."""

    mention: Matchable
    brand: str
    category: CategoryConfig
    lang: str | None
    priority: float
    escalated: bool


def route(item: RoutedMention, playbook: Playbook) -> Route:
    """The queue for an item: the first routing rule that holds, else its category's queue, else the default."""
    for number, rule in enumerate(playbook.routing):
        if _holds(rule, item):
            return Route(rule.queue, f"routing[{number}]", tuple(rule.skills))
    if item.category.queue:
        return Route(item.category.queue, "category")
    return Route(playbook.default_queue, "default_queue")


def fair_agent(
    queue: QueueConfig,
    skills: Sequence[str],
    open_items: Mapping[str, int],
    last_acted: Mapping[str, float],
) -> str | None:
    """The agent who should get the next item of `queue`, or None when no agent has the skills.

    Args:
        queue: the queue and its roster.
        skills: skills the item needs.
        open_items: agent name to items open or claimed that are assigned to them.
        last_acted: agent name to the time (epoch seconds) of their latest triage action (absent: never acted).
    """
    able = [agent.name for agent in queue.agents if set(skills) <= set(agent.skills)]
    if not able:
        return None
    return min(able, key=lambda name: (open_items.get(name, 0), last_acted.get(name, -math.inf), name))


def _holds(rule: RoutingRule, item: RoutedMention) -> bool:
    if rule.categories and item.category.name not in rule.categories:
        return False
    if rule.brands and item.brand not in rule.brands:
        return False
    if rule.languages and (item.lang or "und") not in rule.languages:
        return False
    if rule.platforms and item.mention.platform not in rule.platforms:
        return False
    if rule.min_priority is not None and item.priority < rule.min_priority:
        return False
    if rule.escalated is not None and item.escalated != rule.escalated:
        return False
    return rule.query is None or _parsed(rule.query).matches(item.mention, item.lang)


@cache
def _parsed(query: str) -> Query:
    return parse_query(query)
