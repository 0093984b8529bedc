"""Blogs and news sites: find post URLs (feed autodiscovery, sitemap.xml), fetch the new ones,
extract title, author, date and main text with trafilatura."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser
import lxml.etree
import lxml.html
import trafilatura
from trafilatura.settings import Document

from collectors.context import CollectionContext
from collectors.http import HttpClient, host_of
from collectors.source_run import SourceRun
from config.model import BlogSource
from core.errors import CollectorError, TerminalError
from core.mention import Mention, canonical_url

_FEED_TYPES = ("application/rss+xml", "application/atom+xml")
_SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
_MAX_SITEMAPS = 20
_DATE_FORMAT = {"outputformat": "%Y-%m-%dT%H:%M:%S%z", "original_date": True, "extensive_search": True}


@dataclass
class Discovery:
    """Post URLs found on a site, newest first where the site says when they changed.

    Attributes:
        urls: canonical post URLs.
        warnings: discovery routes that failed while another worked.
    """

    urls: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def collect_blog(source: BlogSource, cursor: Mapping[str, Any] | None, client: HttpClient) -> SourceRun:
    """Crawl a blog for posts not seen before, up to `max_pages_per_run`.

    Args:
        source: the blog's config.
        cursor: the previous run's `{"seen_urls": [...]}`, or None on the first run.
        client: the shared HTTP client (robots.txt is honoured for every page).

    Returns:
        The run outcome. The cursor adds every post fetched, and every post that failed for good
        (a 4xx, a body over the cap); posts that failed transiently stay unseen so the next run
        tries them again.
    """
    seen = set((cursor or {}).get("seen_urls", []))
    try:
        discovery = discover_post_urls(source, client)
    except CollectorError as error:
        return SourceRun.failed(source.name, source.kind, error)
    new_urls = [url for url in discovery.urls if url not in seen and client.allowed_by_robots(url)]
    to_fetch = new_urls[: source.max_pages_per_run]
    run = SourceRun(source.name, source.kind, "ok", warnings=list(discovery.warnings))
    if len(new_urls) > len(to_fetch):
        run.warnings.append(
            f"{len(new_urls) - len(to_fetch)} more new posts wait for later runs (max_pages_per_run={source.max_pages_per_run})"
        )
    fetched: list[str] = []
    gone: list[str] = []  # posts that failed for good (404, too large): not asked for again
    for url in to_fetch:
        try:
            response = client.get(url, respect_robots=True)
        except CollectorError as error:
            if error.transient:
                run.warnings.append(f"post skipped until next run: {error}")
            else:
                run.warnings.append(f"post skipped for good: {error}")
                gone.append(url)
            continue
        fetched.append(url)
        mention = extract_post(response.body, response.final_url, source.name)
        if mention is None:
            run.warnings.append(f"{url}: no article text found")
        else:
            run.mentions.append(mention)
    run.items_fetched = len(fetched)
    run.cursor = {"seen_urls": sorted(seen | set(fetched) | set(gone))}
    if to_fetch and not fetched:
        run.status = "failed"
        run.error = f"none of the {len(to_fetch)} new posts could be fetched; last problem: {run.warnings[-1]}"
        run.cursor = None
    elif not discovery.urls:
        run.status = "empty"
    return run


def collect_blog_in_context(source: BlogSource, cursor: Mapping[str, Any] | None, context: CollectionContext) -> SourceRun:
    """`collect_blog` with the shared collector signature (see `collectors.units`)."""
    return collect_blog(source, cursor, context.client)


def discover_post_urls(source: BlogSource, client: HttpClient) -> Discovery:
    """Post URLs from the site's feed (autodiscovered on its home page) and/or its sitemaps.

    Raises:
        CollectorError: every configured discovery route failed.
    """
    found = Discovery()
    failures: list[str] = []
    routes = {"feed": _urls_from_feed, "sitemap": _urls_from_sitemaps}
    for route in source.discover:
        try:
            urls = routes[route](source, client)
        except CollectorError as error:
            failures.append(f"{route}: {error}")
            continue
        found.urls.extend(url for url in urls if url not in found.urls)
    if failures and len(failures) == len(source.discover):
        raise TerminalError(f"no posts could be discovered on {source.url} ({'; '.join(failures)})")
    found.warnings.extend(f"discovery through {failure}" for failure in failures)
    return found


def extract_post(html: bytes, url: str, source: str) -> Mention | None:
    """Title, author, date and main text of a post page, without navigation, sidebars and footer.

    Returns:
        The mention, or None when the page holds no article text.
    """
    document = trafilatura.bare_extraction(
        html, url=url, with_metadata=True, include_comments=False, date_extraction_params=_DATE_FORMAT
    )
    if not isinstance(document, Document):  # None: nothing extracted (without as_dict it is never a dict)
        return None
    text = (document.text or "").strip()
    if not text:
        return None
    if document.title and text.startswith(document.title):
        text = text[len(document.title) :].lstrip()
    return Mention(
        platform="blog",
        source=source,
        native_id=None,
        url=canonical_url(url),
        title=document.title,
        text=text,
        author_handle=document.author,
        author_name=document.author,
        published_at=_parse_date(document.date),
        publisher=document.sitename,
    )


def _urls_from_feed(source: BlogSource, client: HttpClient) -> list[str]:
    home = client.get(source.url, respect_robots=True)
    feed_url = _autodiscovered_feed(home.body, home.final_url)
    if feed_url is None:
        raise TerminalError(f"{source.url} links no RSS or Atom feed (no <link rel=\"alternate\">)")
    feed = feedparser.parse(client.get(feed_url).body)
    if not feed.version and not feed.entries:
        raise TerminalError(f"{feed_url}, linked as the feed of {source.url}, is not RSS or Atom")
    return [canonical_url(urljoin(feed_url, entry.link)) for entry in feed.entries if entry.get("link")]


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


def _urls_from_sitemaps(source: BlogSource, client: HttpClient) -> list[str]:
    pending = client.sitemaps(source.url) or [f"{host_of(source.url)}/sitemap.xml"]
    pages: list[tuple[str, str]] = []
    visited = 0
    while pending and visited < _MAX_SITEMAPS:
        sitemap_url = pending.pop(0)
        visited += 1
        root = _parse_xml(client.get(sitemap_url).body, sitemap_url)
        if root.tag == f"{_SITEMAP_NS}sitemapindex":
            pending.extend(loc.text.strip() for loc in root.iter(f"{_SITEMAP_NS}loc") if loc.text)
            continue
        for entry in root.iter(f"{_SITEMAP_NS}url"):
            loc = entry.findtext(f"{_SITEMAP_NS}loc")
            if loc:
                pages.append((entry.findtext(f"{_SITEMAP_NS}lastmod") or "", canonical_url(loc.strip())))
    pages.sort(key=lambda page: page[0], reverse=True)
    home = canonical_url(source.url)
    return [url for _, url in pages if url != home]


def _parse_xml(body: bytes, url: str) -> Any:
    try:
        return lxml.etree.fromstring(body, parser=lxml.etree.XMLParser(resolve_entities=False, no_network=True))
    except lxml.etree.XMLSyntaxError as error:
        raise TerminalError(f"{url} is not a valid sitemap: {error}") from error


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
