"""One run of one X source: each query's backlog, then its new posts, within the per-run cap, the
monthly read budget and the time budget; partial results are kept and the cursor resumes them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from collectors.source_run import SourceRun
from collectors.x.cursors import MonthlyReads, QueryCursor, next_month
from collectors.x.parsing import SearchPage, parse_search_page
from collectors.x.transport import PAGE_MAX, PAGE_MIN, RecentSearchApi, StaleCursorError
from config.model import XSource
from core.errors import CollectorError, CredentialsRejected, TerminalError, TransientError
from core.mention import Mention


@dataclass
class SearchPass:
    """One paginated search (a backlog or the new posts of a query)."""

    posts: int = 0
    newest_id: str | None = None
    oldest_id: str | None = None
    complete: bool = False
    interruption: CollectorError | None = None


# Recent search reaches 7 days back from X's clock; a window starting earlier (a first run with a long
# `backfill_days`) starts this long after the 7 days before the window's end instead, since the run asks X
# a little after the window ends.
RECENT_SEARCH_REACH = timedelta(days=7)
REACH_MARGIN = timedelta(hours=1)


class RecentSearch:
    """One run of one X source: the queries in turn, within the cap, the monthly budget and the time budget.

    Args:
        source: the X source's config.
        api: the recent-search endpoint (its time budget bounds every wait).
        window: the run's collection window. A start beyond recent search's reach (more than 7 days
            before the end, less `REACH_MARGIN`) is moved to the reach, with a warning.
    """

    def __init__(self, source: XSource, api: RecentSearchApi, window: tuple[datetime, datetime]):
        self.source = source
        self.api = api
        self.window_start, self.window_end = window
        self.mentions: dict[str, Mention] = {}
        self.deleted_keys: dict[str, None] = {}
        self.warnings: dict[str, None] = {}
        self.authors_missing = 0
        self.reads: MonthlyReads | None = None
        self.left_out: list[str] = []
        reach = self.window_end - RECENT_SEARCH_REACH + REACH_MARGIN
        if self.window_start < reach:
            self._warn(
                f"X recent search reaches 7 days back: searched from {reach:%Y-%m-%d %H:%M} UTC, not from the window "
                f"start ({self.window_start:%Y-%m-%d %H:%M} UTC); older posts were not collected"
            )
            self.left_out.append(
                f"posts from {self.window_start:%Y-%m-%d %H:%M} to {reach:%Y-%m-%d %H:%M} UTC: recent search reaches "
                "7 days back"
            )
            self.window_start = reach
        self.searched_window = (self.window_start, self.window_end)

    def run(self, queries: list[str], cursor: Mapping[str, Any] | None) -> SourceRun:
        """Read every query (fair shares of the run's allowance) and assemble the outcome, with its ledger: the
        queries asked, the posts read against the monthly budget (priced at `price_per_post_read`), and what
        was left out (queries with older posts left, what recent search does not reach)."""
        outcome = self._read_queries(queries, cursor)
        outcome.asked = [f"search: {query}" for query in queries]
        outcome.left_out = self.left_out
        if self.reads is not None:
            outcome.quota = self.reads.quota_use(self.source.price_per_post_read, self.source.price_currency)
        return outcome

    def _read_queries(self, queries: list[str], cursor: Mapping[str, Any] | None) -> SourceRun:
        previous = cursor if isinstance(cursor, Mapping) else {}
        saved = previous.get("queries")
        saved = saved if isinstance(saved, Mapping) else {}
        states = {query: QueryCursor.from_json(saved.get(query)) for query in queries}
        reads = MonthlyReads.from_cursor(
            previous.get("reads"), self.window_end, self.source.max_posts_per_run, self.source.monthly_read_budget
        )
        self.reads = reads
        budget_note = (
            f"monthly read budget of {reads.budget} posts is spent; X collection resumes on {next_month(self.window_end)}"
        )
        if reads.budget is not None and reads.allowance < PAGE_MIN:
            self.left_out.append(f"every query: the {budget_note}")
            return SourceRun(self.source.name, self.source.kind, "ok", cursor=_cursor(queries, states, reads), warnings=[budget_note])

        unfinished: list[str] = []
        stop: CollectorError | None = None
        for position, query in enumerate(queries):
            if stop is not None or reads.left < PAGE_MIN:
                unfinished.append(query)
                continue
            share = max(PAGE_MIN, reads.left // (len(queries) - position))
            try:
                states[query], finished, interruption = self._read_query(query, states[query], share, reads)
            except CredentialsRejected as error:
                return SourceRun.failed(self.source.name, self.source.kind, error)
            if not finished:
                unfinished.append(query)
            stop = interruption

        if stop is not None:
            if reads.this_run == 0:
                return SourceRun.failed(self.source.name, self.source.kind, stop)
            self._warn(f"{stop}; {len(unfinished)} of {len(queries)} queries resume next run")
            why = "the run stopped on an error"
        elif unfinished and not reads.budget_spent:
            self._warn(
                f"max_posts_per_run ({self.source.max_posts_per_run}) reached; "
                f"{len(unfinished)} of {len(queries)} queries have older posts left for the next run"
            )
            why = f"max_posts_per_run ({self.source.max_posts_per_run}) reached"
        else:
            why = "the monthly read budget is spent"
        self.left_out += [f"search: {query}: posts left for the next run ({why})" for query in unfinished]
        if reads.budget_spent:
            self._warn(budget_note)
        if self.authors_missing:
            self._warn(f"X sent {self.authors_missing} posts without their author (includes.users missing); their author fields are empty")
        # Nothing new since the last poll is normal; nothing at all on a first search is "empty".
        polled_before = any(QueryCursor.from_json(saved.get(query)).since_id for query in queries)
        return SourceRun(
            source=self.source.name,
            kind=self.source.kind,
            status="ok" if self.mentions or self.deleted_keys or polled_before or unfinished else "empty",
            mentions=list(self.mentions.values()),
            items_fetched=reads.this_run,
            cursor=_cursor(queries, states, reads),
            warnings=list(self.warnings),
            deleted_keys=list(self.deleted_keys),
            window=self.searched_window,
        )

    def _read_query(
        self, query: str, state: QueryCursor, share: int, reads: MonthlyReads
    ) -> tuple[QueryCursor, bool, CollectorError | None]:
        """Read one query's backlog, then its new posts. Returns (cursor, finished, interruption).

        A cursor older than the 7 days recent search reaches is dropped once, with a warning, and the
        query starts again at the window start.
        """
        before = reads.this_run
        out_of_reach = TerminalError(
            f"X recent search at {self.api.endpoint} reaches only 7 days back and this run's window starts "
            f"{self.window_start:%Y-%m-%d %H:%M} UTC; collect older posts another way"
        )
        try:
            return self._read_query_from(query, state, share, reads)
        except StaleCursorError:
            if state == QueryCursor():
                return state, False, out_of_reach
        self._warn(
            f"the cursor of X query {_short(query)} is older than the 7 days recent search reaches; restarted at the "
            f"window start ({self.window_start:%Y-%m-%d %H:%M} UTC), posts in between were not collected"
        )
        try:
            return self._read_query_from(query, QueryCursor(), share - (reads.this_run - before), reads)
        except StaleCursorError:
            return state, False, out_of_reach

    def _read_query_from(
        self, query: str, state: QueryCursor, share: int, reads: MonthlyReads
    ) -> tuple[QueryCursor, bool, CollectorError | None]:
        start_time = None if state.since_id else (state.start_time or self.window_start.astimezone(UTC).isoformat())
        if state.until_id:
            backlog = self._paginate(query, state.since_id, start_time, state.until_id, share, reads)
            share -= backlog.posts
            if not backlog.complete:
                oldest = backlog.oldest_id or state.until_id
                return QueryCursor(state.since_id, start_time, oldest, state.newest_id), False, backlog.interruption
            state, start_time = QueryCursor(since_id=state.newest_id), None
        if min(share, reads.left) < PAGE_MIN:
            return state, False, None
        if start_time and datetime.fromisoformat(start_time) >= self.window_end:
            return state, True, None
        fresh = self._paginate(query, state.since_id, start_time, None, share, reads)
        if fresh.complete:
            return QueryCursor(since_id=fresh.newest_id or state.since_id), True, None
        if fresh.posts:
            return QueryCursor(state.since_id, start_time, fresh.oldest_id, fresh.newest_id), False, fresh.interruption
        return QueryCursor(state.since_id, start_time), False, fresh.interruption

    def _paginate(
        self, query: str, since_id: str | None, start_time: str | None, until_id: str | None, limit: int,
        reads: MonthlyReads,
    ) -> SearchPass:
        """Page through one search until its last page, `limit` posts, or an interruption."""
        passed = SearchPass()
        next_token: str | None = None
        while True:
            size = min(PAGE_MAX, limit - passed.posts, reads.left)
            if size < PAGE_MIN:
                return passed
            try:
                body = self.api.search(
                    query, max_results=size, end_time=self.window_end, since_id=since_id,
                    start_time=datetime.fromisoformat(start_time) if start_time else None, until_id=until_id,
                    next_token=next_token,
                )
                try:
                    page = parse_search_page(body, self.source.name)
                except ValueError as error:
                    raise TransientError(f"X API at {self.api.endpoint} sent an unexpected answer: {error}") from error
            except StaleCursorError:
                if passed.posts:
                    passed.interruption = TransientError(f"X API at {self.api.endpoint} refused to continue a search")
                    return passed
                raise
            except CredentialsRejected:
                raise
            except CollectorError as error:
                passed.interruption = error
                return passed
            self._keep(page)
            reads.this_run += page.posts
            passed.posts += page.posts
            if page.newest_id and (passed.newest_id is None or int(page.newest_id) > int(passed.newest_id)):
                passed.newest_id = page.newest_id
            if page.oldest_id and (passed.oldest_id is None or int(page.oldest_id) < int(passed.oldest_id)):
                passed.oldest_id = page.oldest_id
            if not page.next_token:
                passed.complete = True
                return passed
            next_token = page.next_token

    def _keep(self, page: SearchPage) -> None:
        for mention in page.mentions:
            self.mentions.setdefault(mention.key, mention)
        for key in page.deleted_keys:
            self.deleted_keys[key] = None
        for warning in page.warnings:
            self._warn(warning)
        self.authors_missing += page.authors_missing

    def _warn(self, warning: str) -> None:
        self.warnings[warning] = None


def _cursor(queries: list[str], states: Mapping[str, QueryCursor], reads: MonthlyReads) -> dict[str, Any]:
    return {"queries": {query: states[query].to_json() for query in queries}, "reads": reads.to_json()}


def _short(query: str) -> str:
    return repr(query if len(query) <= 60 else query[:57] + "...")
