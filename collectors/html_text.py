"""Plain text from the HTML fragments that feeds and APIs send (feed entries, Mastodon statuses, Reddit and HN bodies)."""

from __future__ import annotations

from html import unescape

import lxml.etree
import lxml.html

# Elements that break a line when rendered: their text must not run into the next word.
_BLOCK_TAGS = (
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption", "figure", "footer",
    "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "ol", "p", "pre", "section", "table", "td", "th", "tr",
    "ul",
)


def html_to_text(html: str) -> str:
    """Visible text of an HTML fragment, whitespace collapsed."""
    if not html or not html.strip():
        return ""
    if "<" not in html:
        return " ".join(unescape(html).split())
    try:
        fragment = lxml.html.fragment_fromstring(html, create_parent="div")
    except (ValueError, lxml.etree.ParserError):
        return " ".join(html.split())
    for block in fragment.iter(*_BLOCK_TAGS):
        block.text = f" {block.text or ''}"
        block.tail = f" {block.tail or ''}"
    return " ".join(fragment.text_content().split())
