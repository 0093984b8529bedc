"""A fake App Store customer-reviews feed: Apple's public JSON feed of an app's reviews, on 127.0.0.1.

    GET /{country}/rss/customerreviews/page={n}/id={app_id}/sortby=mostrecent/json

answers `{"feed": {...}}` as Apple does: `author`, `updated`, `link` (alternate, self, first and a
`rel=last` link naming the last page), `id`, and `entry`: on page 1 the app's own entry first (its
`im:name`, no rating), then up to 50 reviews, newest first. An entry has every value wrapped as
`{"label": ...}`; a page with one entry gives it as an object, not a list; a page past the last, or
an app with no reviews, has no `entry`. `fail()` scripts 503s; `requests` lists the paths asked.

    with FakeAppStore() as store:
        store.publish("gb", "1111111111", [review_entry(8000, moment, 1, "Down again", "No signal")])
        # an app_reviews source with base_url=store.base_url
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler
from typing import Any

from demo.fake_apis.loopback import LoopbackServer, QuietRequestHandler

PAGE_SIZE = 50
PACIFIC = timezone(timedelta(hours=-8))  # Apple's feed states times in Cupertino's offset
_PATH = re.compile(r"^/(?P<country>[a-z]{2})/rss/customerreviews/page=(?P<page>\d+)/id=(?P<app>\d+)/sortby=mostrecent/json$")


def label(value: Any) -> dict[str, Any]:
    """A value as Apple's feed wraps it."""
    return {"label": str(value)}


def review_entry(review_id: int, at: datetime, rating: int, title: str, text: str, *, app_id: str = "1111111111",
                 country: str = "gb", author: str | None = None, version: str = "4.2.1", **fields: Any) -> dict[str, Any]:
    """A review entry as Apple's JSON feed gives it (`fields` add or replace keys, e.g. a malformed `updated`)."""
    return {
        "author": {"uri": label(f"https://itunes.apple.com/{country}/reviews/id{review_id + 7}"),
                   "name": label(author or f"reviewer{review_id}"), "label": ""},
        "updated": label(at.astimezone(PACIFIC).isoformat()),
        "im:rating": label(rating),
        "im:version": label(version),
        "id": label(review_id),
        "title": label(title),
        "content": {"label": text, "attributes": {"type": "text"}},
        "link": {"attributes": {"rel": "related",
                                "href": f"https://itunes.apple.com/{country}/review?id={app_id}&type=Purple%20Software"}},
        "im:voteSum": label(review_id % 3),
        "im:voteCount": label(review_id % 5),
        "im:contentType": {"attributes": {"term": "Application", "label": "Application"}},
        **fields,
    }


def app_entry(app_id: str, name: str = "Brightwave Home", artist: str = "Brightwave Ltd") -> dict[str, Any]:
    """The entry page 1 puts first: the app itself, not a review."""
    return {"im:name": label(name), "rights": label(f"© {artist}"), "id": label(f"https://apps.apple.com/app/id{app_id}"),
            "im:artist": label(artist), "im:contentType": {"attributes": {"term": "Application"}}}


@dataclass
class _App:
    reviews: list[Any]
    first: dict[str, Any] | None
    single_as_object: bool
    failures: int = 0


class FakeAppStore(LoopbackServer):
    """Apple's customer-reviews feed for the apps published on it, on `host:port` (0: a free port).

    Attributes:
        requests: the paths asked, in order.
        base_url: `http://host:port`, an app_reviews source's `base_url`.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.requests: list[str] = []
        self._apps: dict[tuple[str, str], _App] = {}
        self._lock = threading.Lock()
        self._bind(host, port, self._handler_class())

    def publish(self, country: str, app_id: str, reviews: Sequence[Any], first: dict[str, Any] | None = None,
                single_as_object: bool = False) -> None:
        """Serve an app's reviews, in the order given (the feed's: newest first), with `first` (the app's own
        entry) leading page 1; `single_as_object` gives a page's only entry as an object."""
        with self._lock:
            self._apps[(country, app_id)] = _App(list(reviews), first, single_as_object)

    def fail(self, country: str, app_id: str, times: int = 1) -> None:
        """Answer the app's next `times` requests with 503 Service Unavailable."""
        with self._lock:
            self._apps.setdefault((country, app_id), _App([], None, False)).failures += times

    def asked(self, country: str, app_id: str) -> list[str]:
        """The paths asked for one app."""
        return [path for path in self.requests if f"/{country}/rss/customerreviews/" in path and f"/id={app_id}/" in path]

    def _answer(self, path: str) -> tuple[int, bytes]:
        with self._lock:
            self.requests.append(path)
            found = _PATH.match(path)
            if not found:
                return 404, b'{"error": "not found"}'
            country, number, app_id = found["country"], int(found["page"]), found["app"]
            app = self._apps.get((country, app_id), _App([], None, False))
            if app.failures:
                app.failures -= 1
                return 503, b"Service Unavailable"
            pages = max(1, -(-len(app.reviews) // PAGE_SIZE))
            listed = app.reviews[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
            if number == 1 and app.first:
                listed = [app.first, *listed]
            return 200, json.dumps({"feed": self._feed(country, app_id, number, pages, listed, app.single_as_object)}).encode()

    def _feed(self, country: str, app_id: str, number: int, pages: int, listed: list[Any],
              single_as_object: bool) -> dict[str, Any]:
        path = f"/{country}/rss/customerreviews/page={number}/id={app_id}/sortby=mostrecent/json"

        def xml_page(page: int | None) -> str:
            at = f"page={page}/" if page else ""
            return (f"{self.base_url}/{country}/rss/customerreviews/{at}id={app_id}/sortby=mostrecent/xml"
                    f"?urlDesc=/customerreviews/{at}id={app_id}/sortby=mostrecent/json")

        feed: dict[str, Any] = {
            "author": {"name": label("iTunes Store"), "uri": label("http://www.apple.com/uk/itunes/")},
            "updated": label("2026-11-05T02:00:00-07:00"),
            "link": [
                {"attributes": {"rel": "alternate", "type": "text/html", "href": f"https://apps.apple.com/WebObjects/id{app_id}"}},
                {"attributes": {"rel": "self", "href": self.base_url + path}},
                {"attributes": {"rel": "first", "href": xml_page(None)}},
                {"attributes": {"rel": "last", "href": xml_page(pages)}},
            ],
            "id": label(self.base_url + path),
        }
        if listed:
            feed["entry"] = listed[0] if single_as_object and len(listed) == 1 else listed
        return feed

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        store = self

        class Handler(QuietRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                status, body = store._answer(self.path)
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8" if status != 503 else "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler
