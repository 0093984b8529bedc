"""Benchmark: blog post extraction before and after bounding it, and publish times read right.

Part `sizes`: one post page of 1, 2, 4 and 8 MiB in two shapes. Both start like a big real post: a
head with metadata, JSON-LD and a large inline script and stylesheet (a quarter of the page),
navigation, an article of twelve paragraphs. Then, until the page reaches its size:
- updates: readers' updates (each a block with its author, time, text and a link) and sidebars;
- table: one long table (a launch log of three short cells a row), the worst shape found for
  trafilatura's fallbacks (jusText's paragraph revision is quadratic in the rows).

- before: `trafilatura.bare_extraction` on the whole page, as `collectors.blogs` called it before
  (metadata on, comments off, the same htmldate settings);
- after: `collectors.blogs.extract_post`, which drops scripts and styles and cuts the body's markup
  at `MAX_EXTRACTED_MARKUP_CHARS` before extracting;
- after, in the worker: as `collect_blog` extracts, through `collectors.blogs.PageExtractor`, the
  worker process, within the per-page limit (`EXTRACTION_SECONDS_PER_PAGE`) and, over it, again in
  trafilatura's fast mode within the same limit (the worker's start is not counted; the page's
  hand-over is).

Each extraction runs in a fresh process and reports wall and CPU seconds (CPU not for the worker),
the peak RSS of the process that extracted, what extraction added to the RSS after the imports (not for the worker), and whether the
article's first and last paragraphs are in the text. `--limit` stops an extraction after that many
seconds (reported as "> limit").

Part `publish-times`: `--pages` pages of each kind below, with a publish time drawn at random (seeded)
between 2023 and 2025 at a UTC offset among -08:00, -05:00, +00:00, +01:00, +05:30 and +09:00, the
post URL holding the local date where the kind says. A page is exactly right when the stored time is
the instant the page states to the second (a full timestamp) or the day it states, stored as a day
(a date only: the extractor before had no way to say so); right to the day compares the UTC date for
full timestamps and the stated date for days.

Usage:
    .venv/bin/python bench/blog_extraction.py                          # both parts: about 20 min
    .venv/bin/python bench/blog_extraction.py --part publish-times     # seconds
    .venv/bin/python bench/blog_extraction.py --part sizes --sizes 1 2 # smoke check, about 30 s
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from multiprocessing.connection import Connection

ARTICLE = [
    f"Paragraph {number} of the launch report: Acme rockets flew their {number}th mission of the season, and the "
    "crew wrote down what went right, what went wrong, and what the next flight will change before it leaves the pad."
    for number in range(1, 13)
]
# htmldate's settings as collectors.blogs passed them before.
BEFORE_DATE_FORMAT = {"outputformat": "%Y-%m-%dT%H:%M:%S%z", "original_date": True, "extensive_search": True}
WAYS = {"before": "before", "after": "after", "worker": "after, in the worker"}
URL = "https://launch-notes.example/2024/03/04/launch-report"
_UPDATE = (
    '<div class="update" id="u{n}"><span class="who">reader{n}</span> wrote at '
    '<time datetime="2024-03-05T1{hour}:0{minute}:00+00:00">1{hour}:0{minute}</time>: launch {n} was loud, and '
    '<a href="/updates/{n}">this photo</a> shows the plume over the bay.</div>\n'
)
_LOG_ROW = "<tr><td>Launch {n}</td><td>Acme rocket</td><td>{kg} kg</td></tr>\n"
_TEASER = '<li><a href="/posts/teaser-{n}">Teaser {n}: more from the launch notes archive</a></li>\n'


def synthetic_page(size: int, shape: str = "updates") -> bytes:
    """A post page of about `size` bytes (see the module docstring): the article followed by readers'
    updates and sidebars (`shape` "updates"), or by one long table (`shape` "table")."""
    script_size, style_size = size // 5, size // 20
    head = (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Launch report | Launch Notes</title>"
        '<meta property="article:published_time" content="2024-03-05T09:30:00-08:00">'
        '<meta property="og:site_name" content="Launch Notes">'
        '<script type="application/ld+json">{"@context": "https://schema.org", "@type": "BlogPosting", '
        '"headline": "Launch report", "datePublished": "2024-03-05T09:30:00-08:00", '
        '"author": [{"@type": "Person", "name": "Dana Okafor"}]}</script>'
        f"<script>var telemetry = [{'1,' * (script_size // 2)}0];</script>"
        f"<style>{'.c{color:#123456}' * (style_size // 17)}</style></head>"
    )
    body = (
        '<body><header><nav><a href="/">Home</a> '
        + " ".join(f'<a href="/section/{n}">Section {n}</a>' for n in range(30))
        + "</nav></header><main><article><h1>Launch report</h1>"
        '<p class="byline">By <a rel="author" href="/authors/dana">Dana Okafor</a></p>'
        + "".join(f"<p>{paragraph}</p>" for paragraph in ARTICLE)
        + "</article>"
        + ('<section class="updates"><h2>Readers\' updates</h2>\n' if shape == "updates" else "<table>\n")
    )
    parts = [head, body]
    total = len(head) + len(body)
    number = 0
    while total < size - 200:
        number += 1
        if shape == "table":
            block = _LOG_ROW.format(n=number, kg=number * 3)
        elif number % 4:
            block = _UPDATE.format(n=number, hour=number % 10, minute=number % 10)
        else:
            block = f'<aside class="sidebar"><ul>{_TEASER.format(n=number) * 3}</ul></aside>\n'
        parts.append(block)
        total += len(block)
    parts.append("</section>" if shape == "updates" else "</table>")
    parts.append("</main><footer>Copyright Launch Notes</footer></body></html>")
    return "".join(parts).encode()


@dataclass(frozen=True)
class Measurement:
    """One extraction in a fresh process."""

    seconds: float
    cpu_seconds: float | None
    peak_mib: float
    extraction_mib: float | None
    article_kept: str


def before_extraction(html: bytes, url: str) -> tuple[str, datetime | None]:
    """Text and publish time as `collectors.blogs` extracted them before: trafilatura on the whole page,
    htmldate's date taken as it came and a time without an offset labelled UTC."""
    import trafilatura
    from trafilatura.settings import Document

    document = trafilatura.bare_extraction(
        html, url=url, with_metadata=True, include_comments=False, date_extraction_params=BEFORE_DATE_FORMAT
    )
    if not isinstance(document, Document):
        return "", None
    try:
        moment = datetime.fromisoformat(document.date) if document.date else None
    except ValueError:
        moment = None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return document.text or "", moment


def _measure(way: str, size: int, shape: str, answer: Connection) -> None:
    import trafilatura

    from collectors.blogs import EXTRACTION_SECONDS_PER_PAGE, ExtractionTimeoutError, PageExtractor, extract_post

    html = synthetic_page(size, shape)
    trafilatura.bare_extraction(b"<html><body><article><p>warm-up text</p></article></body></html>")
    imported = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if way == "worker":
        with PageExtractor() as extractor:
            extractor.extract(b"<html><body><p>start</p></body></html>", URL, "launch-notes", 60)
            started = time.perf_counter()
            limit = EXTRACTION_SECONDS_PER_PAGE
            try:
                mention = extractor.extract(html, URL, "launch-notes", limit)
                kept = _kept(mention.text if mention else "")
            except ExtractionTimeoutError:
                try:
                    mention = extractor.extract(html, URL, "launch-notes", limit, fast=True)
                    kept = f"{_kept(mention.text if mention else '')}, in fast mode after {limit:g} s in full"
                except ExtractionTimeoutError:
                    kept = f"skipped: over {limit:g} s in full and in fast mode"
            seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        answer.send(Measurement(seconds, None, peak, None, kept))
        return
    started, cpu_started = time.perf_counter(), time.process_time()
    if way == "before":
        text = before_extraction(html, URL)[0]
    else:
        mention = extract_post(html, URL, "launch-notes")
        text = mention.text if mention else ""
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    answer.send(Measurement(seconds, cpu_seconds, peak, peak - imported, _kept(text)))


def _kept(text: str) -> str:
    return "yes" if ARTICLE[0] in text and ARTICLE[-1] in text else "no"


def measure(way: str, size: int, shape: str, limit: float) -> Measurement | None:
    """One extraction of a `size`-byte page in a fresh process; None when it ran past `limit` seconds."""
    context = multiprocessing.get_context("spawn")
    receiving, sending = context.Pipe(duplex=False)
    process = context.Process(target=_measure, args=(way, size, shape, sending))
    process.start()
    sending.close()
    result: Measurement | None = receiving.recv() if receiving.poll(limit + 10) else None
    if result is None:
        process.kill()
    process.join()
    return result if result is None or result.seconds <= limit else None


def run_sizes(sizes: list[float], shapes: list[str], limit: float) -> None:
    """Part `sizes`: a table of every shape, size and way."""
    print("| page | way | seconds | CPU seconds | peak RSS MiB | extraction added MiB | article kept |")
    print("|---|---|---:|---:|---:|---:|---|")
    for shape in shapes:
        for mib in sizes:
            page = f"{mib:g} MiB, {shape}"
            for way, label in WAYS.items():
                result = measure(way, int(mib * 1024 * 1024), shape, limit)
                if result is None:
                    print(f"| {page} | {label} | > {limit:g} | | | | |", flush=True)
                    continue
                cpu = "" if result.cpu_seconds is None else f"{result.cpu_seconds:.2f}"
                added = "" if result.extraction_mib is None else f"{result.extraction_mib:.0f}"
                print(
                    f"| {page} | {label} | {result.seconds:.2f} | {cpu} | {result.peak_mib:.0f} | {added} | "
                    f"{result.article_kept} |",
                    flush=True,
                )


@dataclass(frozen=True)
class DatedPage:
    """A page built with a known publish time."""

    html: bytes
    url: str
    expected: datetime
    precision: str


def _page(head: str, top: str, url: str, expected: datetime, precision: str) -> DatedPage:
    paragraphs = "".join(f"<p>{paragraph}</p>" for paragraph in ARTICLE[:4])
    html = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Launch report | Launch Notes</title>{head}'
        '<meta property="og:site_name" content="Launch Notes"></head><body><nav><a href="/">Home</a></nav>'
        f"<main><article><h1>Launch report</h1>{top}{paragraphs}</article></main><footer>Launch Notes</footer></body></html>"
    )
    return DatedPage(html.encode(), url, expected, precision)


def _json_ld(published: str) -> str:
    graph = [
        {"@type": "WebSite", "name": "Launch Notes"},
        {"@type": "BlogPosting", "headline": "Launch report", "datePublished": published},
    ]
    return f'<script type="application/ld+json">{json.dumps({"@context": "https://schema.org", "@graph": graph})}</script>'


def _url(local: datetime, dated: bool) -> str:
    return f"https://launch-notes.example/{local:%Y/%m/%d}/launch-report" if dated else (
        "https://launch-notes.example/posts/launch-report"
    )


PAGE_KINDS: dict[str, Callable[[datetime], DatedPage]] = {
    "meta article:published_time, URL date": lambda local: _page(
        f'<meta property="article:published_time" content="{local.isoformat()}">', "", _url(local, True), local, "second"
    ),
    "meta article:published_time in UTC (Z)": lambda local: _page(
        f'<meta property="article:published_time" content="{local.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}">', "",
        _url(local, False), local, "second",
    ),
    "JSON-LD @graph datePublished, URL date": lambda local: _page(
        _json_ld(local.isoformat()), "", _url(local, True), local, "second"
    ),
    "<time datetime>, no URL date": lambda local: _page(
        "", f'<time class="published" datetime="{local.isoformat()}">{local:%B %d, %Y}</time>', _url(local, False),
        local, "second",
    ),
    "<time datetime>, URL date": lambda local: _page(
        "", f'<time class="published" datetime="{local.isoformat()}">{local:%B %d, %Y}</time>', _url(local, True),
        local, "second",
    ),
    "meta date only": lambda local: _page(
        f'<meta property="article:published_time" content="{local:%Y-%m-%d}">', "", _url(local, False),
        datetime(local.year, local.month, local.day, tzinfo=UTC), "day",
    ),
    "URL date only": lambda local: _page(
        "", "", _url(local, True), datetime(local.year, local.month, local.day, tzinfo=UTC), "day"
    ),
    "JSON-LD time without offset": lambda local: _page(
        _json_ld(f"{local:%Y-%m-%dT%H:%M:%S}"), "", _url(local, False),
        datetime(local.year, local.month, local.day, tzinfo=UTC), "day",
    ),
}
OFFSETS = [timedelta(hours=-8), timedelta(hours=-5), timedelta(0), timedelta(hours=1), timedelta(hours=5, minutes=30),
           timedelta(hours=9)]


def _right(stored: datetime | None, precision: str, page: DatedPage) -> tuple[bool, bool]:
    """(exactly right, right to the day) for what was stored of a page."""
    if stored is None:
        return False, False
    if page.precision == "day":
        return stored == page.expected and precision == "day", stored.date() == page.expected.date()
    return stored == page.expected and precision == "second", stored.astimezone(UTC).date() == page.expected.astimezone(UTC).date()


def run_publish_times(pages_per_kind: int, seed: int) -> None:
    """Part `publish-times`: the share exactly right and right to the day, per kind and in all, before and after."""
    from collectors.blogs import extract_post

    chooser = random.Random(seed)
    start = datetime(2023, 1, 1, tzinfo=UTC).timestamp()
    print("| page kind | pages | exactly right before | after | right to the day before | after |")
    print("|---|---:|---:|---:|---:|---:|")
    totals = [0, 0, 0, 0, 0]
    for kind, build in PAGE_KINDS.items():
        counts = [0, 0, 0, 0]
        for _ in range(pages_per_kind):
            instant = datetime.fromtimestamp(start + chooser.randrange(3 * 365 * 86400), tz=UTC)
            page = build(instant.astimezone(timezone(chooser.choice(OFFSETS))))
            before = _right(before_extraction(page.html, page.url)[1], "second", page)
            mention = extract_post(page.html, page.url, "launch-notes")
            after = _right(mention.published_at, mention.published_precision, page) if mention else (False, False)
            for index, right in enumerate([before[0], after[0], before[1], after[1]]):
                counts[index] += right
        totals = [totals[0] + pages_per_kind, *(total + count for total, count in zip(totals[1:], counts, strict=True))]
        print(f"| {kind} | {pages_per_kind} | " + " | ".join(f"{count / pages_per_kind:.0%}" for count in counts) + " |")
    print(f"| all | {totals[0]} | " + " | ".join(f"{count / totals[0]:.0%}" for count in totals[1:]) + " |")


def main() -> None:
    """Run the parts asked for and print their tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["sizes", "publish-times", "all"], default="all")
    parser.add_argument("--sizes", type=float, nargs="+", default=[1, 2, 4, 8], help="page sizes in MiB")
    parser.add_argument("--shapes", nargs="+", choices=["updates", "table"], default=["updates", "table"])
    parser.add_argument("--limit", type=float, default=180, help="stop an extraction after this many seconds")
    parser.add_argument("--pages", type=int, default=25, help="pages of each kind in part publish-times")
    parser.add_argument("--seed", type=int, default=11)
    arguments = parser.parse_args()
    if arguments.part in ("publish-times", "all"):
        run_publish_times(arguments.pages, arguments.seed)
    if arguments.part in ("sizes", "all"):
        run_sizes(arguments.sizes, arguments.shapes, arguments.limit)


if __name__ == "__main__":
    main()
