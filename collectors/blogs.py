"""Blogs and news sites: find post URLs (feed autodiscovery, sitemap.xml), fetch the new ones,
extract title, authors, publish time and main text with trafilatura.

Extraction is bounded twice, because trafilatura's cost grows much faster than a page's size (its
main extractor and its readability and jusText fallbacks are quadratic on long tables, lists and
runs of blocks: an 8 MiB page took minutes):

- `bounded_page` hands it only what can be article: scripts (JSON-LD metadata kept), styles, inline
  SVG and MathML, frames, embeds and comments are dropped, and the body is cut at the element where
  it passes `MAX_EXTRACTED_MARKUP_CHARS` (the mention is then marked `text_truncated`);
- `PageExtractor` extracts each page in a worker process within `EXTRACTION_SECONDS_PER_PAGE` (or
  what is left of the source's time budget). A page over it is extracted again in trafilatura's fast
  mode (its main extractor without the readability and jusText fallbacks, which are the quadratic
  parts), within the same limit, with a warning; a page over that too is skipped for good with a
  warning. The worker is replaced after a page it overran on, so the other pages go on.

When a post was published comes from what the page states (`article:published_time`, JSON-LD
`datePublished`, `<time datetime>`), at its stated UTC offset; htmldate's guess (which may come from
a date in the URL) is only the fallback. A date without a time is kept as a day
(`Mention.published_precision`). Bylines become a clean list of names (`Mention.authors`).
"""

from __future__ import annotations

import email.utils
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urljoin

import lxml.etree
import lxml.html
import trafilatura
from lxml.html import HtmlElement
from trafilatura.settings import Document

from collectors.context import CollectionContext
from collectors.rss import parse_feed, without_login
from collectors.source_run import QuotaUse, SourceRun
from config.model import BlogSource
from core.errors import CollectorError, TerminalError, TransientError
from core.mention import Mention, PublishedPrecision, canonical_url
from core.time_budget import TimeBudget
from transport.http import HttpClient, host_of

_FEED_TYPES = ("application/rss+xml", "application/atom+xml")
_SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
_MAX_SITEMAPS = 20
# htmldate, for a page that states no publish time itself: full expressions before a date in the URL.
_DATE_FORMAT = {
    "outputformat": "%Y-%m-%dT%H:%M:%S%z", "original_date": True, "extensive_search": True, "deferred_url_extractor": True,
}

# Markup of a page's body handed to extraction, in characters, after scripts and styles are dropped:
# a long article's body is a few tens of KiB; trafilatura takes at most a few seconds on this much.
MAX_EXTRACTED_MARKUP_CHARS = 256 * 1024
# How long extracting one page may take, in seconds.
EXTRACTION_SECONDS_PER_PAGE = 10.0
# How long the extraction worker may take to start (import trafilatura, extract a first page).
_WORKER_START_SECONDS = 60.0
_DROPPED_ELEMENTS = ("script", "style", "noscript", "template", "svg", "math", "iframe", "frame", "object", "embed", "canvas")
_JSON_LD = "application/ld+json"
# JSON-LD kept in all, in characters (a page's metadata is a few KiB).
_MAX_JSON_LD_CHARS = 64 * 1024
_PROJECT_ROOT = Path(__file__).resolve().parents[1]
_WARM_UP_PAGE = b"<html><head><title>Warm-up</title></head><body><article><p>Warm-up text.</p></article></body></html>"

# Where a page states when it was published, by meta property/name/itemprop (lowercase).
_PUBLISHED_META = (
    "article:published_time", "og:article:published_time", "datepublished", "parsely-pub-date", "sailthru.date",
    "dc.date.issued", "dcterms.issued", "publish-date", "pubdate",
)
_EARLIEST_PLAUSIBLE_YEAR = 1995
_WEEKDAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_MONTH = r"(?:january|february|march|april|may|june|july|august|september|october|november|december)"
_MONTH_SHORT = r"(?:jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)\.?"
# What a byline adds around names: "By" before them; a date, a time or "Updated ..." after them.
_BYLINE_PREFIX = re.compile(r"^(?:(?:written|posted|words|story|text|reporting)\s+)?by\b[:\s]*", re.IGNORECASE)
_BYLINE_DATE_TAIL = re.compile(
    rf"(?:^|\s+)(?:(?:on|at)\s+)?(?:{_WEEKDAY}\b|(?:{_MONTH}|{_MONTH_SHORT})\s+\d|\d|(?:updated|published|posted)\b).*$",
    re.IGNORECASE,
)
_DATE_WORD = re.compile(rf"^(?:{_WEEKDAY}|{_MONTH})$", re.IGNORECASE)
_BYLINE_SEPARATORS = re.compile(r"\s*(?:;|,|\||&|\band\b)\s*")
_NAME_PUNCTUATION = " \t\n-–—|·•:,;"


@dataclass
class Discovery:
    """Post URLs found on a site, newest first where the site says when they changed.

    Attributes:
        urls: canonical post URLs.
        warnings: discovery routes that failed while another worked, and entries skipped.
    """

    urls: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class BoundedPage:
    """A page's markup as extraction gets it (`bounded_page`).

    Attributes:
        tree: the parsed page without scripts (JSON-LD kept), styles, inline SVG and MathML, frames,
            embeds and comments; its body cut at an element boundary once past the bound.
        cut: whether the body was cut.
    """

    tree: HtmlElement
    cut: bool


class ExtractionTimeoutError(TerminalError):
    """Extracting a page took longer than its time limit (`PageExtractor.extract`)."""


def collect_blog(
    source: BlogSource,
    cursor: Mapping[str, Any] | None,
    client: HttpClient,
    *,
    budget: TimeBudget | None = None,
    extraction_seconds: float = EXTRACTION_SECONDS_PER_PAGE,
) -> SourceRun:
    """Crawl a blog for posts not seen before, up to `max_pages_per_run`.

    Args:
        source: the blog's config.
        cursor: the previous run's `{"seen_urls": [...]}`, or None on the first run.
        client: the shared HTTP client (robots.txt is honoured for every page).
        budget: the source's time budget: no page is started without `extraction_seconds` of it left.
        extraction_seconds: how long extracting one page may take (and then again, in fast mode).

    Returns:
        The run outcome. The cursor adds every post fetched, and every post that failed for good
        (a 4xx, a body over the cap, extraction over its time in fast mode too, or failing); posts that failed
        transiently, or that the time budget left for later, stay unseen so the next run tries them again.
        Its ledger: the discovery routes asked, the pages read against `max_pages_per_run` (its quota, per
        run), and the new posts left for later runs.
    """
    seen = set((cursor or {}).get("seen_urls", []))
    asked = [f"{' and '.join(source.discover)} of {without_login(source.url)}"]
    try:
        discovery = discover_post_urls(source, client)
    except CollectorError as error:
        failed = SourceRun.failed(source.name, source.kind, error)
        failed.asked = asked
        return failed
    run = SourceRun(source.name, source.kind, "ok", warnings=list(discovery.warnings), asked=asked)
    new_urls = _new_allowed_urls(discovery.urls, seen, client, run.warnings)
    to_fetch = new_urls[: source.max_pages_per_run]
    if len(new_urls) > len(to_fetch):
        run.warnings.append(
            f"{len(new_urls) - len(to_fetch)} more new posts wait for later runs (max_pages_per_run={source.max_pages_per_run})"
        )
        run.left_out.append(
            f"{len(new_urls) - len(to_fetch)} new posts past max_pages_per_run ({source.max_pages_per_run}): read by "
            "later runs"
        )
    fetched: list[str] = []
    gone: list[str] = []  # posts that failed for good (404, too large, extraction over time): not asked for again
    with PageExtractor() as extractor:
        for number, url in enumerate(to_fetch):
            if budget is not None and budget.left < extraction_seconds:
                run.warnings.append(
                    f"{len(to_fetch) - number} new posts wait for the next run: less than {extraction_seconds:g} s "
                    f"is left of the source's {budget.seconds:g} s time budget"
                )
                run.left_out.append(f"{len(to_fetch) - number} new posts: the time budget ran out; read next run")
                break
            seconds = extraction_seconds if budget is None else min(extraction_seconds, budget.left)
            try:
                response = client.get(url, respect_robots=True)
                fetched.append(url)
                try:
                    mention = extractor.extract(response.body, response.final_url, source.name, seconds)
                except ExtractionTimeoutError as error:
                    run.warnings.append(f"{error}; it was extracted again in trafilatura's fast mode (no fallback extractors)")
                    mention = extractor.extract(response.body, response.final_url, source.name, seconds, fast=True)
            except CollectorError as error:
                if error.transient:
                    run.warnings.append(f"post skipped until next run: {error}")
                    if url in fetched:
                        fetched.remove(url)
                else:
                    run.warnings.append(f"post skipped for good: {error}")
                    gone.append(url)
                continue
            if mention is None:
                run.warnings.append(f"{url}: no article text found")
            else:
                run.mentions.append(mention)
    run.items_fetched = len(fetched)
    run.quota = QuotaUse(
        "pages read", len(fetched), source.max_pages_per_run, max(0, source.max_pages_per_run - len(fetched)), "run"
    )
    run.cursor = {"seen_urls": sorted(seen | set(fetched) | set(gone))}
    if to_fetch and not fetched:
        run.status = "failed"
        run.error = f"none of the {len(to_fetch)} new posts could be fetched; last problem: {run.warnings[-1]}"
        run.cursor = None
    elif not discovery.urls:
        run.status = "empty"
    return run


def collect_blog_in_context(source: BlogSource, cursor: Mapping[str, Any] | None, context: CollectionContext) -> SourceRun:
    """`collect_blog` with the shared collector signature (see `collectors.units`), within the source's time budget."""
    return collect_blog(source, cursor, context.client, budget=context.time_budget())


def discover_post_urls(source: BlogSource, client: HttpClient) -> Discovery:
    """Post URLs from the site's feed (autodiscovered on its home page) and/or its sitemaps.

    A route that fails (a feed that is empty or not a feed, a sitemap that is not XML) is reported
    as a warning while another route works; an entry or sitemap that cannot be read is skipped with
    a warning naming it.

    Raises:
        TransientError: every configured discovery route failed, one of them for a reason that may pass
            (the network, a 5xx).
        TerminalError: every configured discovery route failed for good.
    """
    found = Discovery()
    failures: list[str] = []
    transient = False
    routes = {"feed": _urls_from_feed, "sitemap": _urls_from_sitemaps}
    for route in source.discover:
        try:
            urls = routes[route](source, client, found.warnings)
        except CollectorError as error:
            failures.append(f"{route}: {error}")
            transient = transient or error.transient
            continue
        except Exception as error:  # noqa: BLE001 - a parser's surprise on hostile input costs this route only, named
            failures.append(f"{route}: {type(error).__name__}: {error}")
            continue
        found.urls.extend(url for url in urls if url not in found.urls)
    if failures and len(failures) == len(source.discover):
        failed = TransientError if transient else TerminalError
        raise failed(f"no posts could be discovered on {source.url} ({'; '.join(failures)})")
    found.warnings[:0] = [f"discovery through {failure}" for failure in failures]
    return found


def extract_post(html: bytes, url: str, source: str, *, fast: bool = False) -> Mention | None:
    """Title, authors, publish time and main text of a post page, without navigation, sidebars and footer.

    Args:
        html: the page as fetched.
        url: where it was fetched from (after redirects).
        source: the configured source name.
        fast: trafilatura's fast mode: its main extractor only, without the readability and jusText
            fallbacks (which can miss text on hard pages, and take much longer on some).

    Returns:
        The post, marked `text_truncated` when its markup was cut (`bounded_page`); None when the page
        holds no article text.
    """
    page = bounded_page(html)
    if page is None:
        return None
    stated = _StatedMetadata.read(page.tree)
    document = trafilatura.bare_extraction(
        page.tree, url=url, fast=fast, with_metadata=True, include_comments=False, date_extraction_params=_DATE_FORMAT
    )
    if not isinstance(document, Document):  # None: nothing extracted (without as_dict it is never a dict)
        return None
    text = (document.text or "").strip()
    if not text:
        return None
    if document.title and text.startswith(document.title):
        text = text[len(document.title) :].lstrip()
    published_at, precision = stated.published or _stated_time(document.date) or (None, "second")
    publishers = {name.casefold() for name in [*stated.publishers, document.sitename] if name}
    authors = byline_names(stated.authors or ([document.author] if document.author else []), publishers)
    return Mention(
        platform="blog",
        source=source,
        native_id=None,
        url=canonical_url(url),
        title=document.title,
        text=text,
        author_handle=authors[0] if authors else None,
        author_name=authors[0] if authors else None,
        published_at=published_at,
        published_precision=precision,
        authors=authors,
        publisher=document.sitename,
        text_truncated=page.cut,
    )


def bounded_page(html: bytes, limit: int = MAX_EXTRACTED_MARKUP_CHARS) -> BoundedPage | None:
    """The page parsed, without what cannot be article text, and its body cut once past `limit`.

    Scripts (all but JSON-LD, up to 64 KiB of it), styles, inline SVG and MathML, frames, embeds and
    comments are dropped. The body is then walked in document order, counting each element's tag,
    attributes and text: at the element where the count passes `limit`, the text still allowed is
    kept and that element's children and everything after it are removed.

    Args:
        html: the page as fetched (its charset declared or detected, as trafilatura decodes it).
        limit: the body's markup to keep, in characters.

    Returns:
        The bounded page, or None when the bytes are not HTML.
    """
    tree = trafilatura.load_html(html)
    if tree is None:
        return None
    json_ld_chars = 0
    for element in list(tree.iter(*_DROPPED_ELEMENTS)):
        if element.tag == "script" and (element.get("type") or "").strip().lower() == _JSON_LD:
            json_ld_chars += len(element.text or "")
            if json_ld_chars <= _MAX_JSON_LD_CHARS:
                continue
        element.drop_tree()  # its tail, text that follows it, stays
    body = tree.find("body")
    if body is None:  # a fragment, not a document: all of it is body
        body = tree
    size = 0
    for element in body.iter():
        if not isinstance(element.tag, str):
            continue
        own = 2 * len(element.tag) + 5 + sum(len(name) + len(value) + 4 for name, value in element.attrib.items())
        if size + own + len(element.text or "") + len(element.tail or "") > limit:
            _cut_from(element, body, max(0, limit - size - own))
            return BoundedPage(tree, cut=True)
        size += own + len(element.text or "") + len(element.tail or "")
    return BoundedPage(tree, cut=False)


def byline_names(bylines: list[str], publishers: set[str]) -> list[str]:
    """The people a page's bylines credit, in order, once each.

    A byline may join several names (`;`, `,`, `&`, `and`, `|`) and carry noise: "By", a date or time
    after the name ("Jeff Foust Monday, November 3"), "Updated ...". A name that is the publisher's
    ("Condé Nast" beside "Molly Wood") is not an author.

    Args:
        bylines: the bylines as the page gives them (JSON-LD author names, or the extractor's byline).
        publishers: the publisher's and site's names, casefolded.

    Returns:
        The names.
    """
    names: list[str] = []
    for byline in bylines:
        for part in _BYLINE_SEPARATORS.split(byline):
            name = _BYLINE_DATE_TAIL.sub("", _BYLINE_PREFIX.sub("", part.strip(_NAME_PUNCTUATION))).strip(_NAME_PUNCTUATION)
            if (
                name and not _DATE_WORD.match(name) and not name.startswith(("http://", "https://"))
                and name.casefold() not in publishers and name.casefold() not in {known.casefold() for known in names}
            ):
                names.append(name)
    return names


class PageExtractor:
    """Runs `extract_post` in a worker process, one page at a time, each within a time limit.

    The worker starts with the first page. A page that overruns its time, or kills the worker (out
    of memory, a crash in a parser), costs only itself: the worker is stopped and the next page
    starts a new one. Use it as a context manager (or call `close`).
    """

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._requests: Connection | None = None
        self._answers: Connection | None = None

    def extract(self, html: bytes, url: str, source: str, seconds: float, *, fast: bool = False) -> Mention | None:
        """`extract_post` of one page (in fast mode if `fast`), within `seconds`.

        Raises:
            ExtractionTimeoutError: extracting the page took longer than `seconds`.
            TerminalError: extraction failed on the page (its error named), or killed the worker.
            TransientError: the worker could not be started, or had stopped before the page was handed over.
        """
        requests, answers = self._worker()
        try:
            requests.send((html, url, source, fast))
            answered = answers.poll(seconds)
        except OSError as error:
            status = self.close()
            raise TransientError(
                f"{url}: the page could not be handed to the extraction process (exit status {status}: {error})"
            ) from error
        if not answered:
            self.close()
            mode = " in fast mode" if fast else ""
            raise ExtractionTimeoutError(f"{url}: extracting its text{mode} took longer than {seconds:g} s, the limit per page")
        try:
            outcome, value = answers.recv()
        except (EOFError, OSError) as error:
            status = self.close()
            raise TerminalError(
                f"{url}: the extraction process died on this page (exit status {status}, e.g. out of memory)"
            ) from error
        if outcome == "failed":
            raise TerminalError(f"{url}: its text could not be extracted ({value})")
        mention: Mention | None = value
        return mention

    def close(self) -> int | None:
        """Stop the worker, if one runs (it holds nothing worth a clean exit).

        Returns:
            Its exit status (negative: the signal that ended it); None when no worker ran.
        """
        process, self._process = self._process, None
        for connection in (self._requests, self._answers):
            if connection is not None:
                connection.close()
        self._requests = self._answers = None
        if process is None:
            return None
        if process.poll() is None:
            process.kill()
        return process.wait()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def _worker(self) -> tuple[Connection, Connection]:
        if self._process is not None and self._requests is not None and self._answers is not None:
            return self._requests, self._answers
        worker_reads, we_write = os.pipe()
        we_read, worker_writes = os.pipe()
        command = [
            sys.executable, "-c",
            f"from collectors.blogs import serve_extractions; serve_extractions({worker_reads}, {worker_writes})",
        ]
        python_path = os.pathsep.join(filter(None, [str(_PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
        try:
            self._process = subprocess.Popen(
                command, pass_fds=(worker_reads, worker_writes), stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONPATH": python_path},
            )
        except OSError as error:
            os.close(we_write)
            os.close(we_read)
            raise TransientError(f"the page extraction process could not be started ({error})") from error
        finally:
            os.close(worker_reads)
            os.close(worker_writes)
        self._requests, self._answers = Connection(we_write, readable=False), Connection(we_read, writable=False)
        try:
            started = self._answers.poll(_WORKER_START_SECONDS) and self._answers.recv() == ("ready", None)
        except (EOFError, OSError):
            started = False
        if not started:
            status = self.close()
            raise TransientError(f"the page extraction process did not start (exit status {status})")
        return self._requests, self._answers


def serve_extractions(requests_fd: int, answers_fd: int) -> None:
    """The extraction worker's loop (`PageExtractor`): extract each page sent until the pipe closes.

    Answers `("ready", None)` once warmed up, then `("done", Mention | None)` per page, or
    `("failed", "<error type>: <message>")` when extraction raised.

    Args:
        requests_fd: the pipe `(html, url, source, fast)` requests arrive on.
        answers_fd: the pipe answers go back on.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is for the collector, which stops the worker
    requests, answers = Connection(requests_fd, writable=False), Connection(answers_fd, readable=False)
    extract_post(_WARM_UP_PAGE, "http://localhost/", "warm-up")
    answers.send(("ready", None))
    while True:
        try:
            html, url, source, fast = requests.recv()
        except EOFError:
            return
        try:
            answers.send(("done", extract_post(html, url, source, fast=fast)))
        except Exception as error:  # noqa: BLE001 - one page's failure is its own: named, and the next page served
            answers.send(("failed", f"{type(error).__name__}: {error}"))


@dataclass(frozen=True)
class _StatedMetadata:
    """What a page states about itself in its markup, read before extraction.

    Attributes:
        published: the publish time it states and its precision, the first full timestamp first.
        authors: the author names in its JSON-LD (people, not organisations).
        publishers: the publisher and site names it states.
    """

    published: tuple[datetime, PublishedPrecision] | None
    authors: list[str]
    publishers: list[str]

    @classmethod
    def read(cls, tree: HtmlElement) -> _StatedMetadata:
        objects = list(_json_ld_objects(tree))
        articles = [obj for obj in objects if _is_article(obj)] or objects
        stated_times = [
            *(meta.get("content") for meta in tree.iter("meta") if _meta_key(meta) in _PUBLISHED_META),
            *(str(obj["datePublished"]) for obj in articles if isinstance(obj.get("datePublished"), str)),
            *_time_elements(tree),
        ]
        parsed = [moment for value in stated_times if (moment := _stated_time(value))]
        published = next((moment for moment in parsed if moment[1] == "second"), parsed[0] if parsed else None)
        authors = [name for obj in articles for name in _people(obj.get("author"))]
        publishers = [name for obj in articles for name in _names(obj.get("publisher"))]
        publishers += [meta.get("content") or "" for meta in tree.iter("meta") if _meta_key(meta) == "og:site_name"]
        return cls(published, authors, [name for name in publishers if name])


def _stated_time(value: str | None) -> tuple[datetime, PublishedPrecision] | None:
    """A stated date or time: at its UTC offset to the second when it has both a time and an offset,
    else its date as a day (00:00 UTC); None when it is neither, or implausible."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
    if moment.year < _EARLIEST_PLAUSIBLE_YEAR:
        return None
    has_time = ":" in text or "T" in text.upper()[8:]
    if has_time and moment.tzinfo is not None:
        return moment, "second"
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC), "day"


def _meta_key(meta: HtmlElement) -> str:
    return (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").strip().lower()


def _time_elements(tree: HtmlElement) -> Iterator[str]:
    """`<time datetime>` values: those marked as the publish time, then the first in the article (or body)."""
    times = [element for element in tree.iter("time") if element.get("datetime")]
    for element in times:
        if (element.get("itemprop") or "").lower() == "datepublished" or element.get("pubdate") is not None:
            yield element.get("datetime")
    scope = tree.find(".//article")
    if scope is None:
        scope = tree.find("body")
    if scope is not None:
        first = next((element for element in scope.iter("time") if element.get("datetime")), None)
        if first is not None:
            yield first.get("datetime")


def _json_ld_objects(tree: HtmlElement) -> Iterator[dict[str, Any]]:
    """Every JSON object of the page's JSON-LD, `@graph` members and list items included."""
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != _JSON_LD:
            continue
        try:
            pending: list[Any] = [json.loads(script.text or "")]
        except ValueError:
            continue
        while pending:
            item = pending.pop(0)
            if isinstance(item, list):
                pending.extend(item)
            elif isinstance(item, dict):
                yield item
                pending.extend(graph if isinstance(graph := item.get("@graph"), list) else [])


def _is_article(obj: dict[str, Any]) -> bool:
    kinds = obj.get("@type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    return any(isinstance(kind, str) and kind.endswith(("Article", "Posting")) for kind in kinds)


def _people(value: Any) -> list[str]:
    """Names of a JSON-LD `author`: strings and persons, not organisations."""
    items = value if isinstance(value, list) else [value]
    return [
        name for item in items
        if not (isinstance(item, dict) and item.get("@type") == "Organization")
        for name in _names(item)
    ]


def _names(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    names = [item.get("name") if isinstance(item, dict) else item for item in items]
    return [name.strip() for name in names if isinstance(name, str) and name.strip()]


def _cut_from(element: HtmlElement, body: HtmlElement, text_allowed: int) -> None:
    """Keep `text_allowed` characters of `element`'s text (to a word) and nothing after it in `body`."""
    text = element.text or ""
    if len(text) > text_allowed:
        kept = text[:text_allowed]
        element.text = kept[: kept.rfind(" ")] if " " in kept else kept
    del element[:]
    node = element
    while node is not body:
        node.tail = None
        parent = node.getparent()
        del parent[parent.index(node) + 1 :]
        node = parent


def _new_allowed_urls(urls: list[str], seen: set[str], client: HttpClient, warnings: list[str]) -> list[str]:
    """The URLs not seen before that robots.txt allows; those on a host whose robots.txt cannot be
    read wait for the next run, with one warning per host."""
    allowed: list[str] = []
    unreadable: dict[str, tuple[CollectorError, int]] = {}
    for url in urls:
        host = host_of(url)
        if url in seen:
            continue
        if host in unreadable:
            error, count = unreadable[host]
            unreadable[host] = (error, count + 1)
            continue
        try:
            if client.allowed_by_robots(url):
                allowed.append(url)
        except CollectorError as error:
            unreadable[host] = (error, 1)
    warnings.extend(
        f"{count} new posts on {host} skipped until next run: its robots.txt could not be read ({error})"
        for host, (error, count) in unreadable.items()
    )
    return allowed


def _urls_from_feed(source: BlogSource, client: HttpClient, warnings: list[str]) -> list[str]:
    home = client.get(source.url, respect_robots=True)
    feed_url = _autodiscovered_feed(home.body, home.final_url)
    if feed_url is None:
        raise TerminalError(f"{source.url} links no RSS or Atom feed (no <link rel=\"alternate\">)")
    response = client.get(feed_url)
    linked = f"{feed_url}, linked as the feed of {source.url},"
    if not response.body.strip():
        raise TerminalError(f"{linked} is empty; check the site's feed link, or set discover: [sitemap]")
    try:
        feed = parse_feed(response.body, source.name, response.final_url, response.headers)
    except TerminalError as error:
        raise TerminalError(f"{linked} is not RSS or Atom; check the site's feed link, or set discover: [sitemap]") from error
    read_at = response.final_url
    warnings.extend(warning if warning.startswith(read_at) else f"{read_at}: {warning}" for warning in feed.warnings)
    return [canonical_url(mention.url) for mention in feed.mentions if mention.url]


def _autodiscovered_feed(html: bytes, page_url: str) -> str | None:
    try:
        page = lxml.html.document_fromstring(html)
    except (lxml.etree.ParserError, ValueError):
        return None
    for link in page.iterfind(".//link"):
        rel, media_type = (link.get("rel") or "").lower().split(), (link.get("type") or "").lower()
        if "alternate" in rel and media_type in _FEED_TYPES and link.get("href"):
            return urljoin(page_url, link.get("href"))
    return None


def _urls_from_sitemaps(source: BlogSource, client: HttpClient, warnings: list[str]) -> list[str]:
    """Post URLs of the site's sitemaps, newest `lastmod` first. The first sitemap must be read; a
    sitemap it lists that cannot be, or an entry that is not a URL, is skipped with a warning."""
    pending = client.sitemaps(source.url) or [f"{host_of(source.url)}/sitemap.xml"]
    pages: list[tuple[str, str]] = []
    visited = 0
    while pending and visited < _MAX_SITEMAPS:
        sitemap_url = pending.pop(0)
        visited += 1
        try:
            root = _parse_xml(client.get(sitemap_url).body, sitemap_url)
        except CollectorError as error:
            if visited == 1:
                raise
            warnings.append(f"sitemap skipped: {error}")
            continue
        if root.tag == f"{_SITEMAP_NS}sitemapindex":
            pending.extend(loc.text.strip() for loc in root.iter(f"{_SITEMAP_NS}loc") if loc.text)
            continue
        for entry in root.iter(f"{_SITEMAP_NS}url"):
            loc = (entry.findtext(f"{_SITEMAP_NS}loc") or "").strip()
            if not loc:
                continue
            try:
                pages.append((entry.findtext(f"{_SITEMAP_NS}lastmod") or "", canonical_url(loc)))
            except ValueError as error:
                warnings.append(f"{sitemap_url}: entry skipped: {error}")
    pages.sort(key=lambda page: page[0], reverse=True)
    home = canonical_url(source.url)
    return [url for _, url in pages if url != home]


def _parse_xml(body: bytes, url: str) -> Any:
    try:
        return lxml.etree.fromstring(body, parser=lxml.etree.XMLParser(resolve_entities=False, no_network=True))
    except lxml.etree.XMLSyntaxError as error:
        raise TerminalError(f"{url} is not a valid sitemap: {error}") from error
