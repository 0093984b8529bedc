"""Reading keyless search APIs term by term (Hacker News, Bluesky, Mastodon).

A source runs one search per term (a search term; a Mastodon instance), and each term keeps its own
cursor. `collect_searches` reads every term within the run's `ReadBudget` (items and time): a term
that fails keeps the cursor it started from and becomes a warning, the source fails only when every
term failed, and a platform that refuses the credentials fails the source at once. A platform
supplies a `TermSearch`: how one term is read from its cursor, and how an item becomes a mention.

For APIs that filter on time, `RangeSearch` is that `TermSearch`: a term's cursor is the stretches
of time it still has to read (`SearchRange`), and the platform supplies how one page is fetched and
parsed (`SearchPage`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from collectors.context import CollectionContext
from collectors.source_run import SourceRun
from core.errors import CollectorError, CredentialsRejected, TerminalError
from core.mention import Mention
from core.time_budget import TimeBudget
from transport.http import HttpResponse

Moment = TypeVar("Moment", int, str)
PageToken = TypeVar("PageToken")
JsonObject = dict[str, Any]


@dataclass(frozen=True)
class Tombstone:
    """An item the platform says was deleted; the warehouse marks its mention deleted.

    Attributes:
        key: the mention key it had (`platform:native_id`).
    """

    key: str


@dataclass
class ReadBudget:
    """What a source's run may still read: a number of items, within the source's time budget.

    Attributes:
        max_items: how many items the run may read (`max_items_per_run`).
        time: the source's time budget.
        items_read: items read so far.
        stopped: whether a reader stopped because the budget was spent (something is left to read).
    """

    max_items: int
    time: TimeBudget
    items_read: int = 0
    stopped: bool = False

    def spent(self) -> bool:
        """Whether reading must stop; readers ask before each request and each item."""
        if self.items_read >= self.max_items or self.time.spent:
            self.stopped = True
        return self.stopped

    def count(self) -> None:
        """Count one item read."""
        self.items_read += 1


@dataclass(frozen=True)
class TermRead:
    """What reading one term produced.

    Attributes:
        items: the items read (JSON objects), each to become a mention.
        cursor: where the term resumes next run, JSON-ready; empty: nothing to remember.
    """

    items: list[JsonObject]
    cursor: Any


class TermSearch(Protocol):
    """How a platform reads one term of its searches; see `RangeSearch` and `collectors.mastodon`."""

    def describe(self, term: str) -> str:
        """How warnings name the term's search, e.g. "search for Brightwave"."""
        ...

    def resume(self, stored: Any) -> Any:
        """Where the term reads from: its stored cursor when readable, else where a first read begins.

        A term that fails keeps this as its cursor, so a term that fails on its first run still
        starts from this run's window next time.
        """
        ...

    def read(self, term: str, resume: Any, budget: ReadBudget, warnings: list[str]) -> TermRead:
        """Read a term from `resume` (as `resume` returned it) within the budget.

        Raises:
            CredentialsRejected: the platform refused the credentials: no term can be read.
            CollectorError: this term could not be read.
        """
        ...

    def mention(self, term: str, item: Mapping[str, Any]) -> Mention | Tombstone:
        """An item the term read as a mention, or the tombstone of a deleted one.

        Raises:
            KeyError, TypeError, ValueError: the item is unusable; it is skipped with a warning.
        """
        ...


class SearchSource(Protocol):
    """What `collect_searches` reads of a source's config."""

    @property
    def name(self) -> str:
        """The source's name."""
        ...

    @property
    def kind(self) -> str:
        """The source kind."""
        ...

    @property
    def max_items_per_run(self) -> int:
        """Items a run may read."""
        ...


def collect_searches(
    source: SearchSource,
    context: CollectionContext,
    terms: Sequence[str],
    cursor: Mapping[str, Any] | None,
    search: TermSearch,
    cursor_field: str = "terms",
) -> SourceRun:
    """Read every term, each from where it left off, within the run's item and time budget.

    Args:
        source: the source's config.
        context: the source's context: its `time_budget()` is the time part of the budget, the same
            budget its `client` charges every request and retry wait to.
        terms: the searches, in order.
        cursor: the previous run's `{cursor_field: {term: term cursor}}`, or None.
        search: how the platform reads a term.
        cursor_field: the cursor's field holding the terms' cursors.

    Returns:
        The run outcome: ok when it collected something (mentions or tombstones), else empty. A term
        that fails keeps its cursor and adds a warning; the source fails when every term failed or
        the credentials were refused. Its ledger: every term's search asked (`search.describe`), and
        left out the terms that failed and what the budget left for the next run.
    """
    stored = (cursor or {}).get(cursor_field)
    stored = stored if isinstance(stored, Mapping) else {}
    budget = ReadBudget(source.max_items_per_run, context.time_budget())
    cursors: dict[str, Any] = {}
    run = SourceRun(source.name, source.kind, "empty", cursor={cursor_field: cursors})
    mentions: dict[str, Mention] = {}
    deleted: set[str] = set()
    failures: list[str] = []
    run.asked = [search.describe(term) for term in terms]
    for term in terms:
        resume = search.resume(stored.get(term))
        try:
            read = search.read(term, resume, budget, run.warnings)
        except CredentialsRejected as error:
            return SourceRun.failed(source.name, source.kind, error)
        except CollectorError as error:
            failures.append(str(error))
            run.warnings.append(f"{search.describe(term)} failed; it is retried next run: {error}")
            run.left_out.append(f"{search.describe(term)}: failed ({error}); retried next run")
            read = TermRead([], resume)
        if read.cursor:
            cursors[term] = read.cursor
        run.items_fetched += len(read.items)
        for item in read.items:
            try:
                found = search.mention(term, item)
                key = found.key
            except (KeyError, TypeError, ValueError) as error:
                run.warnings.append(f"{search.describe(term)}: an item was skipped ({error!r}): {str(item)[:120]}")
                continue
            if isinstance(found, Tombstone):
                deleted.add(key)
            else:
                mentions.setdefault(key, found)
    if failures and len(failures) == len(terms):
        failed = SourceRun.failed(source.name, source.kind, "; ".join(failures))
        failed.asked = run.asked
        return failed
    if budget.stopped:
        run.warnings.append(
            f"stopped after {run.items_fetched} items (max_items_per_run {budget.max_items}, or the time budget); "
            "the rest is read next run"
        )
        run.left_out.append(
            f"items past the first {run.items_fetched}: max_items_per_run ({budget.max_items}) or the time budget "
            "reached; read next run"
        )
    run.mentions = list(mentions.values())
    run.deleted_keys = sorted(deleted)
    run.status = "ok" if run.mentions or run.deleted_keys else "empty"
    return run


def json_body(response: HttpResponse) -> Any:
    """A search API's answer as JSON.

    Raises:
        TerminalError: the body is not JSON (the message names the URL).
    """
    try:
        return json.loads(response.body)
    except ValueError as error:
        raise TerminalError(
            f"{response.url} answered with malformed JSON ({error}); the API may be failing or have changed"
        ) from error


@dataclass
class SearchRange(Generic[Moment]):
    """A stretch of time a search still has to read, newest first.

    Moments are whatever the API filters on and that sort in time order (HN: epoch seconds; Bluesky:
    ISO 8601 UTC strings of one fixed format). Both edges are inclusive, because several items can
    share a moment; `seen` lists the ids at the edges that were read already.

    Attributes:
        low: the oldest moment to read.
        high: the newest moment to read; None: up to the end of the run's window (the open range).
        seen: ids already read at `low` or `high`.
    """

    low: Moment
    high: Moment | None = None
    seen: list[str] = field(default_factory=list)

    def after_reading(self, read: list[tuple[Moment, str]], complete: bool) -> list[SearchRange[Moment]]:
        """What is left of this range once `read` (moment, id) were read newest first.

        Args:
            read: the items read, in any order.
            complete: whether the read reached the range's oldest end.

        Returns:
            The ranges still to read: the unread older part (when not complete), then, for the open
            range, a new open range from the newest item read.
        """
        if not read:
            return [] if complete and self.high is not None else [self]
        left: list[SearchRange[Moment]] = []
        if not complete:
            oldest = min(moment for moment, _ in read)
            at_oldest: list[str] = [item for moment, item in read if moment == oldest]
            left.append(SearchRange(self.low, oldest, [*self.seen, *at_oldest]))
        if self.high is None:
            newest = max(moment for moment, _ in read)
            at_newest: list[str] = [item for moment, item in read if moment == newest]
            left.append(SearchRange(newest, None, [*self.seen, *at_newest] if newest == self.low else at_newest))
        return left

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form, for the cursor."""
        return {"low": self.low, "high": self.high, "seen": self.seen}

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> SearchRange[Any]:
        """The inverse of `to_json`."""
        return cls(record["low"], record.get("high"), list(record.get("seen", [])))

    @classmethod
    def pending(cls, stored: Any, start: Moment) -> list[SearchRange[Any]]:
        """The ranges a term's stored cursor holds; an open range from `start` when it holds none readable."""
        try:
            return [cls.from_json(record) for record in stored] or [cls(start)]
        except (AttributeError, KeyError, TypeError):
            return [cls(start)]


@dataclass(frozen=True)
class PageItem(Generic[Moment]):
    """A readable item of a search page.

    Attributes:
        moment: when the search files it (what it filters on).
        item_id: its id on the platform.
        item: its JSON.
    """

    moment: Moment
    item_id: str
    item: JsonObject


@dataclass(frozen=True)
class SearchPage(Generic[Moment, PageToken]):
    """One page of a search that filters on time, newest first, as its parser read it.

    Attributes:
        items: the readable items.
        entries: how many items the page held, unreadable ones included.
        next_page: what asks for the next page; None: this is the last.
        matched: how many items the search matched, when the API says; an API that pages through
            fewer than it matched leaves the rest for the next run.
        warnings: the unreadable items that were skipped.
    """

    items: list[PageItem[Moment]] = field(default_factory=list)
    entries: int = 0
    next_page: PageToken | None = None
    matched: int | None = None
    warnings: list[str] = field(default_factory=list)


PageFetcher = Callable[[str, SearchRange[Moment], PageToken | None], SearchPage[Moment, PageToken]]


class RangeSearch(Generic[Moment, PageToken]):
    """A `TermSearch` for APIs that filter on time: each term's cursor is the `SearchRange`s it still has to read.

    The first run reads the window; later runs read from the newest item already seen up to the
    window's end. When a run stops early (the budget), the older part it did not reach stays in the
    cursor as a gap that the next run reads first, so nothing is read twice or skipped.

    Args:
        window_start: where a term's first read begins, as the API's moment.
        fetch_page: one page of a term's search over a range, newest first, from a page token (None:
            the first page); an empty page, without asking, when the range is empty.
        mention: an item as a mention, or a tombstone.
    """

    def __init__(
        self,
        window_start: Moment,
        fetch_page: PageFetcher[Moment, PageToken],
        mention: Callable[[Mapping[str, Any]], Mention | Tombstone],
    ):
        self._window_start: Moment = window_start
        self._fetch_page: PageFetcher[Moment, PageToken] = fetch_page
        self._mention: Callable[[Mapping[str, Any]], Mention | Tombstone] = mention

    def describe(self, term: str) -> str:
        """Warnings name a term as "search for <term>"."""
        return f"search for {term}"

    def resume(self, stored: Any) -> list[dict[str, Any]]:
        """The ranges the term still has to read, as JSON: the stored ones, or the window from its start."""
        return [search_range.to_json() for search_range in SearchRange.pending(stored, self._window_start)]

    def read(self, term: str, resume: Any, budget: ReadBudget, warnings: list[str]) -> TermRead:
        """Read the term's ranges, oldest range first, until done or out of budget."""
        pending: list[SearchRange[Moment]] = [SearchRange.from_json(record) for record in resume]
        items: list[JsonObject] = []
        left: list[SearchRange[Moment]] = []
        for position, search_range in enumerate(pending):
            if budget.spent():
                left.extend(pending[position:])
                break
            read, complete = self._read_range(term, search_range, budget, warnings)
            items.extend(found.item for found in read)
            left.extend(search_range.after_reading([(found.moment, found.item_id) for found in read], complete))
        return TermRead(items, [search_range.to_json() for search_range in left])

    def mention(self, term: str, item: Mapping[str, Any]) -> Mention | Tombstone:
        """The platform's mention of an item (the term does not change it)."""
        return self._mention(item)

    def _read_range(
        self, term: str, search_range: SearchRange[Moment], budget: ReadBudget, warnings: list[str]
    ) -> tuple[list[PageItem[Moment]], bool]:
        """Page through one range newest first: the new items, and whether the range was read to its end."""
        read: list[PageItem[Moment]] = []
        ids = set(search_range.seen)
        served = 0
        token: PageToken | None = None
        while True:
            page = self._fetch_page(term, search_range, token)
            warnings.extend(page.warnings)
            served += page.entries
            for found in page.items:
                if found.item_id in ids:
                    continue
                if budget.spent():
                    return read, False
                budget.count()
                ids.add(found.item_id)
                read.append(found)
            if page.next_page is None:
                if page.matched is not None and page.matched > served:
                    warnings.append(f"{self.describe(term)} matched {page.matched} items but the API pages through "
                                    f"only {served}; the rest is read next run")
                    return read, False
                return read, True
            if budget.spent():
                return read, False
            token = page.next_page
