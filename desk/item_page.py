"""The item page: one triage item with the conversation around it and its history.

The parent post and the rest of the thread, the story the mention belongs to (copies, retweets,
reach), the author's other mentions with any triage items they have, the item's audit trail
(actions still queued for the warehouse included, marked as such), the playbook's response
template for its category, the sentiment of each brand the mention names: the label the views count,
whether and by whom it was corrected (a correction still queued shows at once), and the week's theme the
mention is in for the item's brand (`themes`: its label, size and whether it is new or growing).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import duckdb

from care.helpdesk import Ticket, recorded_ticket
from care.sentiment_corrections import LABEL_IN_FORCE, BrandSentiment, brand_sentiments
from desk.actions import AUDIT_ACTIONS, DeskAction, ItemState
from desk.inbox import InboxRow, inbox_row, matched_terms

RELATED_LIMIT = 20


@dataclass(frozen=True)
class Post:
    """A mention shown around the item (its parent, thread, story or the author's others)."""

    mention_key: str
    platform: str
    author_handle: str | None
    text: str
    url: str | None
    published_at: datetime | None
    triage_status: str | None = None
    """Its own triage item's status, when it has one."""


@dataclass(frozen=True)
class Story:
    """The story a mention belongs to (`stories` view)."""

    story_id: str
    mentions: int
    amplifiers: int
    amplified_reach: int
    links: int
    near_duplicates: int
    authors: int
    reach_estimate: int | None


@dataclass(frozen=True)
class TrailEntry:
    """One line of the item's audit trail."""

    at: datetime
    actor: str
    action: str
    detail: dict[str, Any]
    queued: bool = False
    """Not in the warehouse yet: the desk's writer is applying it."""


@dataclass(frozen=True)
class ShownSentiment:
    """The sentiment of one brand of the item's mention, as the item page shows it."""

    sentiment: BrandSentiment
    queued: bool = False
    """The correction shown is on its way to the warehouse (the views count it once it is applied)."""


@dataclass(frozen=True)
class MentionTheme:
    """The theme of the week that the item's mention is in, for the item's brand (`themes`, themes-v1)."""

    label: str
    week: str
    mentions: int
    status: str
    """new, growing, shrinking or steady: against the week before."""


@dataclass(frozen=True)
class ItemSummary:
    """A triage item with its mention, as queued actions leave it: what an action on it is checked against."""

    item: InboxRow
    native_id: str | None
    routed_by: str
    sla_minutes: int
    reach_estimate: int | None
    parent_id: str | None
    thread_id: str | None
    story_id: str | None
    ticket: Ticket | None
    """The helpdesk ticket the item was handed to, if it was."""


@dataclass(frozen=True)
class ItemDetails:
    """Everything the item page shows about an item."""

    summary: ItemSummary
    parent: Post | None
    thread: list[Post]
    story: Story | None
    story_posts: list[Post]
    author_mentions: list[Post]
    trail: list[TrailEntry]
    sentiments: list[ShownSentiment]
    """Each brand the mention names (the item's brands first, then competitors)."""
    theme: MentionTheme | None = None
    """The theme its mention is in for the item's brand, if any."""

    @property
    def item(self) -> InboxRow:
        """The item's row."""
        return self.summary.item


def item_summary(
    cursor: duckdb.DuckDBPyConnection, mention_key: str, overlay: dict[str, ItemState], queued: list[DeskAction]
) -> ItemSummary | None:
    """The item and its mention, or None when there is no such triage item.

    Args:
        cursor: a cursor on the committed snapshot.
        mention_key: the item.
        overlay: the item as queued actions leave it (`ActionQueue.overlay`), if they change it.
        queued: the item's actions not in the snapshot yet (a queued hand-off gives the item its ticket).
    """
    row = cursor.execute(
        """
        SELECT t.mention_key, m.platform, m.author_handle, m.author_followers, m.title, m.text, m.url, t.category,
               t.brand, {sentiment}, t.priority, t.escalated, t.status, t.assignee, t.queue, t.opened_at,
               t.due_at, t.first_response_at, m.native_id, t.routed_by, t.sla_minutes, m.reach_estimate, m.parent_id,
               m.thread_id, m.story_id
        FROM triage_items AS t JOIN mentions AS m USING (mention_key) WHERE t.mention_key = ?
        """.format(sentiment=LABEL_IN_FORCE.format(mention="t.mention_key", brand="t.brand")),
        [mention_key],
    ).fetchone()
    if row is None:
        return None
    *listed, native_id, routed_by, sla_minutes, reach, parent_id, thread_id, story_id = row
    item = inbox_row(listed, matched_terms(cursor, [mention_key]).get(mention_key, ()))
    if mention_key in overlay:
        now = overlay[mention_key]
        item = replace(item, status=now.status, assignee=now.assignee, queue=now.queue,
                       first_response_at=now.first_response_at)
    corrected = [a.params for a in queued if a.action == "correct_sentiment" and a.state != "failed"
                 and a.params.get("brand") in (None, item.brand)]
    if corrected:
        item = replace(item, sentiment=str(corrected[-1]["label"]))
    handed = [action.params for action in queued if action.action == "hand_off" and action.state != "failed"]
    ticket = recorded_ticket(cursor, mention_key) or (
        Ticket(str(handed[0]["ticket_id"]), handed[0].get("url"), str(handed[0]["status"])) if handed else None)
    return ItemSummary(item, native_id, routed_by, sla_minutes, reach, parent_id, thread_id, story_id, ticket)


def item_details(cursor: duckdb.DuckDBPyConnection, summary: ItemSummary, queued: list[DeskAction]) -> ItemDetails:
    """The item page's content: the conversation around the item and its history.

    Args:
        cursor: a cursor on the committed snapshot.
        summary: the item (`item_summary`).
        queued: the item's actions not in the snapshot yet, oldest first.
    """
    item, key = summary.item, summary.item.mention_key
    parent = _posts(cursor, "m.mention_key = ?", [summary.parent_id]) if summary.parent_id else []
    thread = _posts(cursor, "m.thread_id = ? AND m.mention_key <> ?", [summary.thread_id, key]) \
        if summary.thread_id else []
    story, story_posts = _story(cursor, summary.story_id, key) if summary.story_id else (None, [])
    author_mentions = _posts(
        cursor, "m.platform = ? AND m.author_handle = ? AND m.mention_key <> ?", [item.platform, item.author_handle, key]
    ) if item.author_handle else []
    trail = [
        TrailEntry(at, actor, action, json.loads(detail) if detail else {})
        for at, actor, action, detail in cursor.execute(
            "SELECT acted_at, actor, action, detail FROM triage_actions WHERE mention_key = ? ORDER BY action_id", [key]
        ).fetchall()
    ]
    trail += [TrailEntry(a.at, a.actor, AUDIT_ACTIONS[a.action], a.params, queued=True) for a in queued
              if a.state != "failed"]
    return ItemDetails(summary, parent[0] if parent else None, thread, story, story_posts, author_mentions, trail,
                       _sentiments(cursor, key, queued), _theme(cursor, key, item.brand))


def _theme(cursor: duckdb.DuckDBPyConnection, mention_key: str, brand: str) -> MentionTheme | None:
    """The theme the mention is in for the brand: of its latest week with themes (a mention whose published
    time moved to another week stays in its old week's themes until that week is recomputed)."""
    row = cursor.execute(
        """SELECT t.label, t.week, t.mentions, t.status FROM mention_themes AS mt JOIN themes AS t USING (theme_id)
           WHERE mt.mention_key = ? AND mt.brand = ? ORDER BY t.week_start DESC LIMIT 1""",
        [mention_key, brand],
    ).fetchone()
    return MentionTheme(*row) if row else None


def _sentiments(cursor: duckdb.DuckDBPyConnection, mention_key: str, queued: list[DeskAction]) -> list[ShownSentiment]:
    """The brands' sentiment in the snapshot, with the corrections still queued on top (a brand's own first)."""
    shown = {s.brand: ShownSentiment(s) for s in brand_sentiments(cursor, mention_key)}
    for action in queued:
        if action.action != "correct_sentiment" or action.state == "failed":
            continue
        brand = action.params.get("brand")
        for name, now in shown.items():
            if brand == name or (brand is None and not (now.queued and now.sentiment.corrected_by)):
                corrected = replace(now.sentiment, label=str(action.params["label"]), corrected_by=action.actor,
                                    corrected_at=action.at, via="desk")
                shown[name] = ShownSentiment(corrected, queued=True)
    return list(shown.values())


def _posts(cursor: duckdb.DuckDBPyConnection, condition: str, parameters: list[Any]) -> list[Post]:
    rows = cursor.execute(
        f"""
        SELECT m.mention_key, m.platform, m.author_handle, m.text, m.url, m.published_at, t.status
        FROM mentions AS m LEFT JOIN triage_items AS t USING (mention_key)
        WHERE NOT m.is_deleted AND {condition}
        ORDER BY m.published_at DESC NULLS LAST, m.mention_key LIMIT {RELATED_LIMIT}
        """,
        parameters,
    ).fetchall()
    return [Post(*row) for row in rows]


def _story(cursor: duckdb.DuckDBPyConnection, story_id: str, mention_key: str) -> tuple[Story | None, list[Post]]:
    row = cursor.execute(
        "SELECT story_id, mentions, amplifiers, amplified_reach, links, near_duplicates, authors, reach_estimate "
        "FROM stories WHERE story_id = ?",
        [story_id],
    ).fetchone()
    if row is None or row[1] < 2:
        return None, []
    return Story(*row), _posts(cursor, "m.story_id = ? AND m.mention_key <> ?", [story_id, mention_key])

