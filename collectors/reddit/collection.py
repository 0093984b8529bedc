"""One run of one Reddit source: every brand search and watched comment stream read a page at a
time in turn, each down to the cursor, within the window and `max_items_per_run`.

The cursor is `{"created_utc": <newest second seen>, "seen_ids": [<fullnames seen at that second>]}`,
so an item created at the boundary second is neither lost nor collected twice. Nothing created at or
after the end of the run's window is collected; the first run starts at the window's start.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from collectors.reddit.parsing import PLATFORM, Page, comment_mention, fullname, is_gone, post_mention
from collectors.reddit.queries import search_queries
from collectors.reddit.transport import ListingUnreadable, RedditReader
from collectors.source_run import SourceRun
from config.model import BrandConfig, RedditSource
from core.errors import CollectorError, CredentialsRejected, TerminalError, TransientError
from core.mention import Mention
from query.brand_matching import BrandMatcher


@dataclass(frozen=True)
class CollectionBounds:
    """Which items a run collects: created in [start, end), less those seen at the `start` second.

    Attributes:
        start: the cursor's second (or the window's start on the first run), as a Unix time.
        seen_at_start: fullnames already collected at the `start` second.
        end: the window's end, as a Unix time; nothing created at or after it is collected.
    """

    start: float
    seen_at_start: frozenset[str]
    end: float

    @classmethod
    def from_cursor(cls, cursor: Mapping[str, Any] | None, window: tuple[datetime, datetime]) -> CollectionBounds:
        """Bounds from the previous cursor, else from the run's window."""
        end = window[1].timestamp()
        if cursor and cursor.get("created_utc") is not None:
            return cls(float(cursor["created_utc"]), frozenset(cursor.get("seen_ids") or ()), end)
        return cls(window[0].timestamp(), frozenset(), end)

    def admits(self, created: float, name: str) -> bool:
        """Whether an item created at `created` with this fullname is new and inside the window."""
        if created >= self.end:
            return False
        return created > self.start or (created == self.start and name not in self.seen_at_start)

    def passed(self, created: float) -> bool:
        """Whether a newest-first listing that reached `created` has gone past everything new."""
        return created < self.start


@dataclass
class Harvest:
    """What one run collects, and the round-robin over its listings that collects it.

    Every search (a brand's query, sitewide and per subreddit) and every comment stream is a listing
    read a page at a time, in turn, so that when `max_items_per_run` cuts collection short it cuts
    the oldest pages of all listings rather than whole listings.

    One listing's failure costs only what it cannot give: a subreddit or thread Reddit will not show
    is skipped (its other listings too) with one warning; a listing refused for any other lasting
    reason (a 400, say) is skipped with one warning per cause; a transient failure (a rate limit
    beyond the budget, a 5xx through the retries, the network) stops the run, keeping what was read
    and the previous cursor; refused credentials fail the source, keeping what was read.
    """

    source: RedditSource
    bounds: CollectionBounds
    brands: Sequence[BrandConfig]
    mentions: dict[str, Mention] = field(default_factory=dict)
    deleted_keys: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    items_fetched: int = 0
    cut: bool = False
    stopped_by: TransientError | None = None
    refused_by: CredentialsRejected | None = None
    more_comments: int = 0
    asked: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    _newest: float = 0.0
    _newest_names: set[str] = field(default_factory=set)
    _threads: set[str] = field(default_factory=set)
    _gone: set[str] = field(default_factory=set)
    _unreadable: set[str] = field(default_factory=set)
    _refusals: list[str] = field(default_factory=list)
    _listings_read: int = 0
    _listings: deque[Iterator[None]] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self._newest = self.bounds.start
        self._newest_names = set(self.bounds.seen_at_start)
        self._matcher = BrandMatcher(list(self.brands), [])

    def run(self, reader: RedditReader) -> None:
        """Read every listing until each reaches the cursor, or the cap is reached, or Reddit stops the run."""
        self._reader = reader
        # "r/UKBroadband" and "/r/UKBroadband" in a config mean "UKBroadband".
        subreddits = [name.strip().lstrip("/").removeprefix("r/").strip("/") for name in self.source.subreddits]
        for brand in self.brands:
            try:
                queries = search_queries(brand)
            except TerminalError as error:
                self._refused(error)
                continue
            for query in queries:
                if self.source.sitewide:
                    self._listings.append(self._search(query, None))
                    self.asked.append(f"search sitewide: {query}")
                for subreddit in subreddits:
                    self._listings.append(self._search(query, subreddit))
        streams = self.source.include_comments and reader.reads_comments
        if streams:
            for subreddit in subreddits:
                self._listings.append(self._comment_stream(subreddit))
        self.asked += [f"r/{subreddit}: the brands' searches{', its comments' if streams else ''}" for subreddit in subreddits]
        while self._listings and not self.cut:
            listing = self._listings.popleft()
            try:
                next(listing)
            except StopIteration:
                self._listings_read += 1
                continue
            except ListingUnreadable as unreadable:
                if unreadable.where not in self._unreadable:
                    self.left_out.append(str(unreadable))
                self._unreadable.add(unreadable.where)
                self._warn(str(unreadable))
                continue
            except CredentialsRejected as error:
                self.refused_by = error
                return
            except TransientError as error:
                self.stopped_by = error
                return
            except CollectorError as error:
                self._refused(error)
                continue
            self._listings.append(listing)

    def outcome(self, previous_cursor: Mapping[str, Any] | None) -> SourceRun:
        """The run's result: the mentions, deleted keys, warnings and the next cursor.

        Failed (what was read kept, the cursor where it was) when the credentials were refused, when a
        transient failure stopped the run before anything was collected, or when every listing was refused.
        """
        warnings, left_out = list(self.warnings), list(self.left_out)
        if self.cut:
            warnings.append(
                f"stopped at max_items_per_run ({self.source.max_items_per_run}): older items in this window were "
                "left out; raise max_items_per_run to collect them"
            )
            left_out.append(f"older items of this window: max_items_per_run ({self.source.max_items_per_run}) reached")
        if self.more_comments:
            warnings.append(f"{self.more_comments} comments behind 'load more' links in long threads were not collected")
            left_out.append(f"{self.more_comments} comments behind 'load more' links in long threads")
        cursor: dict[str, Any] | None = {"created_utc": self._newest, "seen_ids": sorted(self._newest_names)}
        error: str | None = None
        if self.refused_by is not None:
            error = str(self.refused_by)
        elif self.stopped_by is not None and not self.mentions:
            error = str(self.stopped_by)
        elif self.stopped_by is not None:
            warnings.append(f"{self.stopped_by}; kept the {len(self.mentions)} items collected before it")
            cursor = dict(previous_cursor) if previous_cursor else None
        elif self._refusals and not self._listings_read and not self.mentions:
            error = "; ".join(self._refusals)
        if error is None:
            warnings += [f"{refusal}; the rest was still read" for refusal in self._refusals]
        return SourceRun(
            source=self.source.name,
            kind=self.source.kind,
            status="failed" if error is not None else "ok" if self.mentions or self.items_fetched else "empty",
            mentions=list(self.mentions.values()),
            items_fetched=self.items_fetched,
            cursor=None if error is not None else cursor,
            error=error,
            warnings=warnings,
            deleted_keys=self.deleted_keys,
            asked=self.asked,
            left_out=left_out,
        )

    def _search(self, query: str, subreddit: str | None) -> Iterator[None]:
        where = f"r/{subreddit}" if subreddit else None
        for page in self._pages(lambda after: self._reader.search(query, subreddit, after), where):
            for kind, post in page.items:
                new = kind == "t3" and self.bounds.admits(float(post["created_utc"]), fullname(kind, post))
                if new and self._take_post(post):
                    self._handled(kind, post)
            yield

    def _comment_stream(self, subreddit: str) -> Iterator[None]:
        for page in self._pages(lambda after: self._reader.comment_stream(subreddit, after), f"r/{subreddit}"):
            for kind, comment in page.items:
                if kind != "t1" or not self.bounds.admits(float(comment["created_utc"]), fullname(kind, comment)):
                    continue
                if is_gone(comment):
                    self._forget(f"{PLATFORM}:{fullname(kind, comment)}")
                elif self._matcher.match(comment.get("body") or "") and not self._keep(
                    comment_mention(comment, self.source.name, self.source.reddit_url)
                ):
                    continue
                self._handled(kind, comment)
            yield

    def _thread(self, post_fullname: str) -> Iterator[None]:
        """The post's thread: refreshes the post (or finds it gone) and keeps every comment in the window.

        The comments of a post that was deleted or removed are still public, and still read; a thread
        that answers 404 is gone with its comments.
        """
        thread = self._reader.thread(post_fullname)
        key = f"{PLATFORM}:{post_fullname}"
        if thread is None or is_gone(thread.post):
            self.mentions.pop(key, None)
            self._forget(key)
        elif key in self.mentions:
            self.mentions[key] = post_mention(thread.post, self.source.name, self.source.reddit_url)
        if thread is None:
            yield
            return
        self.items_fetched += len(thread.comments)
        self.more_comments += thread.more
        for comment in thread.comments:
            if not self.bounds.admits(float(comment["created_utc"]), fullname("t1", comment)):
                continue
            if is_gone(comment):
                self._forget(f"{PLATFORM}:{fullname('t1', comment)}")
            elif not self._keep(comment_mention(comment, self.source.name, self.source.reddit_url)):
                break
            self._handled("t1", comment)
        yield

    def _pages(self, fetch: Callable[[str | None], Page], where: str | None) -> Iterator[Page]:
        """Pages of a newest-first listing until it passes the cursor or ends; yields after each fetch.

        Args:
            fetch: one page, from the `after` token of the one before.
            where: the subreddit it lists (`r/<name>`); once that is found unreadable, no page is asked for.
        """
        after: str | None = None
        while not self.cut and where not in self._unreadable:
            page = fetch(after)
            self.items_fetched += len(page.items)
            yield page
            if not page.items or page.after is None:
                return
            if any(self.bounds.passed(float(data["created_utc"])) for _, data in page.items):
                return
            after = page.after

    def _take_post(self, post: dict[str, Any]) -> bool:
        """Keep a post (or note it gone) and queue its thread if it names a brand; False if the cap refused it."""
        name = fullname("t3", post)
        if is_gone(post):
            # Its title stays, and so do its comments: the thread is read if the title names a brand.
            self._forget(f"{PLATFORM}:{name}")
            text = str(post.get("title") or "")
        else:
            mention = post_mention(post, self.source.name, self.source.reddit_url)
            if not self._keep(mention):
                return False
            text = mention.text
        wants_thread = self.source.include_comments and self._reader.reads_comments and post.get("num_comments") != 0
        if wants_thread and name not in self._threads and self._matcher.match(text):
            self._threads.add(name)
            self._listings.appendleft(self._thread(name))
        return True

    def _handled(self, kind: str, data: Mapping[str, Any]) -> None:
        """Move the cursor over an item that was dealt with (kept, noted gone, or not about a brand)."""
        created, name = float(data["created_utc"]), fullname(kind, data)
        if created > self._newest:
            self._newest, self._newest_names = created, {name}
        elif created == self._newest:
            self._newest_names.add(name)

    def _keep(self, mention: Mention) -> bool:
        """Hold a mention (once per key, never one found gone); False when `max_items_per_run` refuses it."""
        if mention.key not in self.mentions and mention.key not in self._gone:
            if len(self.mentions) >= self.source.max_items_per_run:
                self.cut = True
                return False
            self.mentions[mention.key] = mention
        return True

    def _warn(self, warning: str) -> None:
        """One warning per cause per run, however many listings meet it."""
        if warning not in self.warnings:
            self.warnings.append(warning)

    def _refused(self, error: CollectorError) -> None:
        """Note a listing (or a brand's query) refused for a lasting reason; the others are still read."""
        if str(error) not in self._refusals:
            self._refusals.append(str(error))

    def _forget(self, key: str) -> None:
        if key not in self._gone:
            self._gone.add(key)
            self.deleted_keys.append(key)
