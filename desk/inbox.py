"""The inbox: triage items as the desk shows them, filtered, searched, in the queue's order, a page at a time.

Escalated first, then priority, then due time (`care.desk.TriageDesk.queue`'s order). Items read
from the committed snapshot with the queued desk actions replayed on top (`ActionQueue.overlay`), so
filters such as "mine" or "open" already count an action taken a moment ago. An agent sees the items
of their queues and the items given to them; leads and admins see every queue. An item's sentiment is the
label the views count for its brand: a person's correction, else the model's (`care.sentiment_corrections`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

import duckdb

from care.sentiment_corrections import LABEL_IN_FORCE
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
    choices: dict[str, list[str]],
    page: int = 1,
    searched_key: str | None = None,
) -> InboxPage:
    """One page of the inbox.

    The matching items are counted and ordered on the triage items alone; only the page's 50 are joined
    to their mentions (a join of every item with its mention costs 20x more at 100,000 items).

    Args:
        cursor: a cursor on the committed snapshot.
        overlay: items as queued actions leave them (`ActionQueue.overlay`).
        person: who is looking (an agent sees their queues and their items).
        filters: the filters.
        now: now (for "overdue").
        choices: the values each filter can take (`filter_choices`); an agent is offered their queues only.
        page: the page, from 1.
        searched_key: when the search is an item number, the item it stands for (None: no such item).

    Returns:
        The page, with the total and the filters' choices.
    """
    prefix, parameters = (ITEMS_WITH_OVERLAY, overlay_parameters(overlay)) if overlay else ("", {})
    items = "items" if overlay else "triage_items"
    visible, visible_parameters = _visible_to(person)
    conditions = [visible, "i.status IN (SELECT unnest($statuses::VARCHAR[]))"]
    parameters.update(visible_parameters, statuses=list(VIEWS.get(filters.view, VIEWS["todo"])))
    for column in ("queue", "category", "brand"):
        if getattr(filters, column):
            conditions.append(f"i.{column} = ${column}")
            parameters[column] = getattr(filters, column)
    if filters.platform:
        conditions.append("i.mention_key IN (SELECT mention_key FROM mentions WHERE platform = $platform)")
        parameters["platform"] = filters.platform
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
        conditions.append("i.mention_key IN (SELECT mention_key FROM mentions "
                          "WHERE text ILIKE $search ESCAPE '\\' OR title ILIKE $search ESCAPE '\\' "
                          "OR author_handle ILIKE $search ESCAPE '\\')")
        parameters["search"] = "%" + filters.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    where = " AND ".join(conditions)
    (total,) = cursor.execute(f"{prefix} SELECT count(*) FROM {items} AS i WHERE {where}", parameters).fetchone() or (0,)
    keys = [key for (key,) in cursor.execute(
        f"{prefix} SELECT i.mention_key FROM {items} AS i WHERE {where} ORDER BY {_ORDER} LIMIT $limit OFFSET $offset",
        {**parameters, "limit": PAGE_SIZE, "offset": (max(page, 1) - 1) * PAGE_SIZE},
    ).fetchall()]
    rows = cursor.execute(
        f"""
        {prefix}
        SELECT i.mention_key, m.platform, m.author_handle, m.author_followers, m.title, m.text, m.url, i.category,
               i.brand, {LABEL_IN_FORCE.format(mention="i.mention_key", brand="i.brand")} AS sentiment,
               i.priority, i.escalated, i.status, i.assignee, i.queue, i.opened_at,
               i.due_at, i.first_response_at
        FROM (SELECT * FROM {items} WHERE mention_key IN (SELECT unnest($keys::VARCHAR[]))) AS i
        JOIN (SELECT * FROM mentions WHERE mention_key IN (SELECT unnest($keys::VARCHAR[]))) AS m USING (mention_key)
        ORDER BY {_ORDER}
        """,
        {**(overlay_parameters(overlay) if overlay else {}), "keys": keys},
    ).fetchall()
    terms = matched_terms(cursor, keys)
    if not person.sees_every_queue:
        choices = {**choices, "queue": [queue for queue in choices.get("queue", []) if queue in person.queues]}
    return InboxPage(rows=[inbox_row(row, terms.get(row[0], ())) for row in rows], total=int(total),
                     page=max(page, 1), choices=choices)


def filter_choices(cursor: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """The values the inbox's filters can take: the queues, categories, brands and platforms of triage items."""
    queues, categories, brands = cursor.execute(
        "SELECT list(DISTINCT queue ORDER BY queue), list(DISTINCT category ORDER BY category), "
        "list(DISTINCT brand ORDER BY brand) FROM triage_items"
    ).fetchone() or ([], [], [])
    (platforms,) = cursor.execute(
        "SELECT list(DISTINCT platform ORDER BY platform) FROM mentions "
        "WHERE mention_key IN (SELECT mention_key FROM triage_items)"
    ).fetchone() or ([],)
    return {"queue": list(queues or []), "category": list(categories or []), "brand": list(brands or []),
            "platform": list(platforms or [])}


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


_ORDER = "i.escalated DESC, i.priority DESC, i.due_at, i.mention_key"
"""The queue's order: escalated first, then priority, then due time (`care.desk.TriageDesk.queue`'s)."""

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
