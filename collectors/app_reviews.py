"""App Store customer reviews through Apple's public reviews feed (no key).

`{base_url}/{country}/rss/customerreviews/page={n}/id={app_id}/sortby=mostrecent/json` answers
`{"feed": {"entry": [...], "link": [...]}}`, newest review first, 50 a page, pages 1 to 10. `entry` is a
list, a single object when there is one, or absent when the app has no reviews; some answers put the app
itself first (an entry with `im:name` and no `im:rating`), which is not a review. Each app (a country and
an id) is one term of `collectors.search.collect_searches`: one that fails is a warning and keeps its
cursor, and the source fails only when every app failed. An app's cursor is its newest review read
(`{"updated": ISO time, "id": review id}`): the first run reads back to the window's start, later runs
down to that review, so a rerun adds nothing. Google Play has no keyless route Overheard can rely on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from collectors.context import CollectionContext
from collectors.html_text import html_to_text
from collectors.search import ReadBudget, TermRead, collect_searches, json_body
from collectors.source_run import SourceRun
from config.model import AppConfig, AppReviewsSource
from core.errors import TerminalError
from core.mention import Mention
from transport.http import HttpClient

REVIEWS_PER_PAGE = 50
APP_PAGE_URL = "https://apps.apple.com/{country}/app/id{app_id}"

# A review's place in the feed's order, newest last: (time of its last edit, id as Apple's ids sort).
ReviewOrder = tuple[datetime, int, str]


def collect_app_reviews(
    source: AppReviewsSource, cursor: Mapping[str, Any] | None, context: CollectionContext
) -> SourceRun:
    """Read the newest reviews of every configured app, down to where each left off.

    Args:
        source: the source's config.
        cursor: the previous run's `{"apps": {"<country>/<id>": {"updated": ISO time, "id": review id}}}`, or None.
        context: client, window and budgets.

    Returns:
        The run outcome (see `collect_searches`): ok with the new reviews as mentions, empty when no app
        had a new review (an app with no reviews at all is empty, not failed).
    """
    apps = {app_key(app): app for app in source.apps}
    feeds = ReviewFeeds(context.client, source, apps, context.window)
    return collect_searches(source, context, list(apps), cursor, feeds, cursor_field="apps")


def app_key(app: AppConfig) -> str:
    """How the cursor and warnings name an app: `<country>/<id>`."""
    return f"{app.country}/{app.id}"


def feed_url(base_url: str, country: str, app_id: str, page: int) -> str:
    """The URL of one page of an app's reviews, newest first, as JSON."""
    return f"{base_url.rstrip('/')}/{country}/rss/customerreviews/page={page}/id={app_id}/sortby=mostrecent/json"


class ReviewFeeds:
    """The `TermSearch` of the App Store: a term is an app (`app_key`), read page by page, newest first.

    Args:
        client: the HTTP client.
        source: the source's config.
        apps: the configured apps by `app_key`.
        window: the run's collection window.
    """

    def __init__(
        self, client: HttpClient, source: AppReviewsSource, apps: Mapping[str, AppConfig], window: tuple[datetime, datetime]
    ):
        self._client = client
        self._source = source
        self._apps = apps
        self._window = window

    def describe(self, key: str) -> str:
        """Warnings name an app by its id, storefront and brand."""
        app = self._apps[key]
        return f"app {app.id} ({app.country}, {app.brand})"

    def resume(self, stored: Any) -> dict[str, str]:
        """The newest review read of the app (empty on a first run, or when the stored cursor is unreadable)."""
        if isinstance(stored, Mapping) and isinstance(stored.get("id"), str) and isinstance(stored.get("updated"), str):
            try:
                datetime.fromisoformat(stored["updated"])
            except ValueError:
                return {}
            return {"updated": stored["updated"], "id": stored["id"]}
        return {}

    def read(self, key: str, resume: Any, budget: ReadBudget, warnings: list[str]) -> TermRead:
        """The app's reviews newer than `resume` (first run: newer than the window's start), up to the
        window's end, newest first, within `max_pages` and the budget.

        Raises:
            CollectorError: a page could not be fetched, or the answer is not a reviews feed.
        """
        app = self._apps[key]
        stop = _order_of(resume["updated"], resume["id"]) if resume else None
        newest: ReviewOrder | None = stop
        reviews: list[dict[str, Any]] = []
        reached = False
        page = 1
        while page <= self._source.max_pages and not reached:
            if budget.spent():
                break
            url = feed_url(self._source.base_url, app.country, app.id, page)
            entries, last_page = parse_feed(json_body(self._client.get(url)), url)
            ordered: list[tuple[ReviewOrder, Any]] = []
            for entry in entries:
                if isinstance(entry, dict) and is_app_entry(entry):
                    continue
                try:
                    ordered.append((review_order(entry), entry))
                except (KeyError, TypeError, ValueError) as error:
                    warnings.append(
                        f"{self.describe(key)}: a malformed review skipped ({error!r}): {str(entry)[:120]}"
                    )
            if not ordered:
                break  # no (more) reviews
            for order, entry in sorted(ordered, key=lambda pair: pair[0], reverse=True):
                if order[0] > self._window[1]:
                    continue  # edited after the window: the next run's
                if (stop is not None and order <= stop) or (stop is None and order[0] <= self._window[0]):
                    reached = True
                    break
                if budget.spent():
                    break
                budget.count()
                reviews.append(entry)
                newest = max(newest, order) if newest else order
            if last_page is not None and page >= last_page:
                reached = True
            page += 1
        if not reached and reviews:
            warnings.append(
                f"{self.describe(key)}: stopped after {len(reviews)} reviews (max_pages {self._source.max_pages}, "
                "the feed's 10 pages or the time budget) before reaching the reviews read last time or the window's "
                "start; older reviews in between are not collected"
            )
        cursor = {"updated": newest[0].isoformat(), "id": newest[2]} if newest else {}
        return TermRead(reviews, cursor)

    def mention(self, key: str, entry: Mapping[str, Any]) -> Mention:
        """A review of the app as a mention."""
        return mention_from_review(entry, self._apps[key], self._source.name)


def parse_feed(document: Any, url: str) -> tuple[list[Any], int | None]:
    """One page of a reviews feed: its entries as given (none when the app has no reviews) and its last page number.

    Raises:
        TerminalError: the answer is not a reviews feed (no `feed` object).
    """
    feed = document.get("feed") if isinstance(document, dict) else None
    if not isinstance(feed, dict):
        raise TerminalError(f"{url} answered without a feed object; is it the App Store reviews feed?")
    entry = feed.get("entry")
    entries = [entry] if isinstance(entry, dict) else entry if isinstance(entry, list) else []
    last_page = None
    links = feed.get("link")
    for link in links if isinstance(links, list) else [links] if isinstance(links, dict) else []:
        attributes = link.get("attributes") if isinstance(link, dict) else None
        if isinstance(attributes, dict) and attributes.get("rel") == "last":
            found = re.search(r"/page=(\d+)/", str(attributes.get("href") or ""))
            last_page = int(found.group(1)) if found else None
    return entries, last_page


def is_app_entry(entry: Mapping[str, Any]) -> bool:
    """Whether an entry is the app itself (the first entry of some answers), not a review."""
    return "im:name" in entry and "im:rating" not in entry


def review_order(entry: Any) -> ReviewOrder:
    """Where a review stands in the feed's order.

    Raises:
        KeyError, TypeError, ValueError: it has no id or no readable `updated` time.
    """
    if not isinstance(entry, Mapping):
        raise TypeError(f"an entry that is {type(entry).__name__}, not an object")
    return _order_of(_label(entry, "updated"), _label(entry, "id"))


def mention_from_review(entry: Mapping[str, Any], app: AppConfig, source: str) -> Mention:
    """A review entry of the feed as a mention of the app's brand.

    Args:
        entry: the review's JSON entry.
        app: the app it reviews.
        source: the source name.

    Raises:
        KeyError, TypeError, ValueError: it lacks an id, a time or a rating from 1 to 5.
    """
    review_id = _label(entry, "id")
    updated, _, _ = _order_of(_label(entry, "updated"), review_id)
    rating = int(_label(entry, "im:rating"))
    if not 1 <= rating <= 5:
        raise ValueError(f"a rating of {rating} stars")
    title = _optional_label(entry, "title")
    body = _content_text(entry.get("content"))
    author = entry.get("author")
    author = author if isinstance(author, Mapping) else {}
    link = entry.get("link")
    href = link.get("attributes", {}).get("href") if isinstance(link, Mapping) else None
    return Mention(
        platform="app_store",
        source=source,
        native_id=review_id,
        url=href if isinstance(href, str) and href.startswith(("https://", "http://"))
        else APP_PAGE_URL.format(country=app.country, app_id=app.id),
        text="\n".join(part for part in (title, body) if part),
        title=title,
        author_handle=_optional_label(author, "name"),
        published_at=updated,
        engagement={
            name: count for name, field in (("helpful_votes", "im:voteSum"), ("votes", "im:voteCount"))
            if (count := _count(entry, field)) is not None
        },
        rating=rating,
        about_brand=app.brand,
        extras={"app_id": app.id, "country": app.country, "version": _optional_label(entry, "im:version"),
                "author_uri": _optional_label(author, "uri")},
    )


def _order_of(updated: str, review_id: str) -> ReviewOrder:
    moment = datetime.fromisoformat(updated)
    if moment.tzinfo is None:
        raise ValueError(f"updated time {updated!r} has no UTC offset")
    if not review_id:
        raise ValueError("an empty id")
    return moment, len(review_id), review_id


def _label(entry: Mapping[str, Any], name: str) -> str:
    """A field's `label` (Apple's JSON wraps every value as `{"label": ...}`)."""
    value = entry[name]["label"]
    if not isinstance(value, str):
        raise TypeError(f"{name} is {type(value).__name__}, not text")
    return value.strip()


def _optional_label(entry: Mapping[str, Any], name: str) -> str | None:
    try:
        return _label(entry, name) or None
    except (KeyError, TypeError):
        return None


def _content_text(content: Any) -> str:
    """The review's text: the plain-text content, else the HTML one as text (some answers give both)."""
    parts = content if isinstance(content, list) else [content]
    usable = [part for part in parts if isinstance(part, Mapping) and isinstance(part.get("label"), str)]
    for part in usable:
        if (part.get("attributes") or {}).get("type", "text") == "text":
            return str(part["label"]).strip()
    return html_to_text(str(usable[0]["label"])) if usable else ""


def _count(entry: Mapping[str, Any], name: str) -> int | None:
    try:
        return int(_label(entry, name))
    except (KeyError, TypeError, ValueError):
        return None
