"""The inbox: triage items as the desk shows them, filtered, searched, in the queue's order, a page at a time.

Escalated first, then priority, then due time (`care.desk.TriageDesk.queue`'s order). Items read
from the committed snapshot with the queued desk actions replayed on top (`ActionQueue.overlay`), so
filters such as "mine" or "open" already count an action taken a moment ago. An agent sees the items
of their queues and the items given to them; leads and admins see every queue.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

import duckdb

from desk.accounts import Person
from desk.actions import ItemState

PAGE_SIZE = 50
VIEWS = {"todo": ("open", "claimed"), "responded": ("responded",), "closed": ("closed",),
         "all": ("open", "claimed", "responded", "closed")}
"""Which statuses each inbox view lists; "todo" (open and claimed) is the default."""
_ITEM_NUMBER = re.compile(r"^#?(\d{1,12})$")


@dataclass(frozen=True)
class InboxFilters:
    """What the inbox is narrowed to (every field optional)."""

    view: str = "todo"
    queue: str | None = None
    mine: bool = False
    category: str | None = None
    brand: str | None = None
    platform: str | None = None
    overdue: bool = False
    search: str | None = None


@dataclass(frozen=True)
class InboxRow:
    """One item as a row of the inbox."""

    mention_key: str
    platform: str
    author_handle: str | None
    author_followers: int | None
    title: str | None
    text: str
    url: str | None
    category: str
    brand: str
    sentiment: str | None
    priority: float
    escalated: bool
    status: str
    assignee: str | None
    queue: str
    opened_at: datetime
    due_at: datetime
    first_response_at: datetime | None
    matched_terms: tuple[str, ...] = ()


@dataclass(frozen=True)
class InboxPage:
    """A page of the inbox and how many items match in all."""

    rows: list[InboxRow]
    total: int
    page: int
    page_size: int = PAGE_SIZE
    choices: dict[str, list[str]] = field(default_factory=dict)
    """The values each filter can take among the items the person sees: queue, category, brand, platform."""

    @property
    def pages(self) -> int:
        """How many pages the matching items fill."""
        return max(1, -(-self.total // self.page_size))


def item_number_searched(search: str | None) -> int | None:
    """The item number a search asks for ("#123" or "123"), if it is one."""
    found = _ITEM_NUMBER.match((search or "").strip())
    return int(found.group(1)) if found else None


def inbox_page(
    cursor: duckdb.DuckDBPyConnection,
    overlay: dict[str, ItemState],
    person: Person,
    filters: InboxFilters,
    now: datetime,
    page: int = 1,
    searched_key: str | None = None,
) -> InboxPage:
    """One page of the inbox.

    Args:
        cursor: a cursor on the committed snapshot.
        overlay: items as queued actions leave them (`ActionQueue.overlay`).
        person: who is looking (an agent sees their queues and their items).
        filters: the filters.
        now: now (for "overdue").
        page: the page, from 1.
        searched_key: when the search is an item number, the item it stands for (None: no such item).

    Returns:
        The page, with the total and the filters' choices.
    """
    parameters = overlay_parameters(overlay)
    visible, visible_parameters = _visible_to(person)
    conditions = [visible]
    parameters.update(visible_parameters)
    conditions.append("i.status IN (SELECT unnest($statuses::VARCHAR[]))")
    parameters["statuses"] = list(VIEWS.get(filters.view, VIEWS["todo"]))
    for column in ("queue", "category", "brand", "platform"):
        value = getattr(filters, column)
        if value:
            conditions.append(f"{'m' if column == 'platform' else 'i'}.{column} = ${column}")
            parameters[column] = value
    if filters.mine:
        conditions.append("i.assignee = $me")
        parameters["me"] = person.name
    if filters.overdue:
        conditions.append("i.first_response_at IS NULL AND i.due_at < $now")
        parameters["now"] = now
    if filters.search and item_number_searched(filters.search) is not None:
        conditions.append("i.mention_key = $searched_key")
        parameters["searched_key"] = searched_key or ""
    elif filters.search:
        conditions.append("(m.text ILIKE $search OR m.title ILIKE $search OR m.author_handle ILIKE $search)")
        parameters["search"] = "%" + filters.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    where = " AND ".join(conditions)
    joins = f"{ITEMS_WITH_OVERLAY} FROM items AS i JOIN mentions AS m USING (mention_key)"
    (total,) = cursor.execute(f"{joins} SELECT count(*) WHERE {where}", parameters).fetchone() or (0,)
    parameters.update(limit=PAGE_SIZE, offset=(max(page, 1) - 1) * PAGE_SIZE)
    rows = cursor.execute(
        f"""
        {joins}
        SELECT i.mention_key, m.platform, m.author_handle, m.author_followers, m.title, m.text, m.url, i.category,
               i.brand, m.sentiment_label, i.priority, i.escalated, i.status, i.assignee, i.queue, i.opened_at,
               i.due_at, i.first_response_at
        WHERE {where}
        ORDER BY i.escalated DESC, i.priority DESC, i.due_at, i.mention_key
        LIMIT $limit OFFSET $offset
        """,
        parameters,
    ).fetchall()
    terms = matched_terms(cursor, [row[0] for row in rows])
    return InboxPage(
        rows=[inbox_row(row, terms.get(row[0], ())) for row in rows],
        total=int(total), page=max(page, 1), choices=_choices(cursor, person),
    )


def inbox_row(columns: Sequence[Any], terms: tuple[str, ...]) -> InboxRow:
    """An inbox row from the columns a query selected, in the order of `InboxRow`'s fields."""
    names = [column.name for column in fields(InboxRow) if column.name != "matched_terms"]
    return InboxRow(**dict(zip(names, columns, strict=True)), matched_terms=terms)


def overlay_parameters(overlay: dict[str, ItemState]) -> dict[str, Any]:
    """The parameters `ITEMS_WITH_OVERLAY` takes for these replayed items."""
    return {
        "overlay_keys": list(overlay), "overlay_status": [item.status for item in overlay.values()],
        "overlay_assignee": [item.assignee for item in overlay.values()],
        "overlay_queue": [item.queue for item in overlay.values()],
        "overlay_first_response": [item.first_response_at for item in overlay.values()],
    }


def matched_terms(cursor: duckdb.DuckDBPyConnection, mention_keys: list[str]) -> dict[str, tuple[str, ...]]:
    """The brand terms each mention matched (every brand's), to highlight in its text."""
    if not mention_keys:
        return {}
    rows = cursor.execute(
        """
        SELECT mention_key, list_distinct(flatten(list(matched_terms))) FROM mention_brands
        WHERE mention_key IN (SELECT unnest(?::VARCHAR[])) GROUP BY mention_key
        """,
        [mention_keys],
    ).fetchall()
    return {key: tuple(terms) for key, terms in rows}


def _visible_to(person: Person) -> tuple[str, dict[str, Any]]:
    if person.sees_every_queue:
        return "true", {}
    return "(i.queue IN (SELECT unnest($my_queues::VARCHAR[])) OR i.assignee = $me)", {
        "my_queues": list(person.queues), "me": person.name,
    }


def _choices(cursor: duckdb.DuckDBPyConnection, person: Person) -> dict[str, list[str]]:
    rows = cursor.execute(
        "SELECT list(DISTINCT queue ORDER BY queue), list(DISTINCT category ORDER BY category), "
        "list(DISTINCT brand ORDER BY brand) FROM triage_items"
    ).fetchone()
    (platforms,) = cursor.execute(
        "SELECT list(DISTINCT platform ORDER BY platform) FROM mentions WHERE mention_key IN "
        "(SELECT mention_key FROM triage_items)"
    ).fetchone() or ([],)
    queues, categories, brands = rows or ([], [], [])
    if not person.sees_every_queue:
        queues = [queue for queue in queues or [] if queue in person.queues]
    return {"queue": list(queues or []), "category": list(categories or []), "brand": list(brands or []),
            "platform": list(platforms or [])}


ITEMS_WITH_OVERLAY = """
WITH overlay AS (
    SELECT unnest($overlay_keys::VARCHAR[]) AS mention_key, unnest($overlay_status::VARCHAR[]) AS status,
           unnest($overlay_assignee::VARCHAR[]) AS assignee, unnest($overlay_queue::VARCHAR[]) AS queue,
           unnest($overlay_first_response::TIMESTAMPTZ[]) AS first_response_at
), items AS (
    SELECT t.mention_key, t.brand, t.category, t.priority, t.escalated, t.opened_at, t.due_at,
           CASE WHEN o.mention_key IS NULL THEN t.status ELSE o.status END AS status,
           CASE WHEN o.mention_key IS NULL THEN t.assignee ELSE o.assignee END AS assignee,
           CASE WHEN o.mention_key IS NULL THEN t.queue ELSE o.queue END AS queue,
           CASE WHEN o.mention_key IS NULL THEN t.first_response_at ELSE o.first_response_at END AS first_response_at
    FROM triage_items AS t LEFT JOIN overlay AS o USING (mention_key)
)"""
"""`items`: the triage items with the queued actions replayed on top (status, assignee, queue, first
response); a WITH clause taking `overlay_parameters`."""
