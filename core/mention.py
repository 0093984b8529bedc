"""The common mention record every collector produces, and its natural key."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Platforms whose items are web pages: their natural key is the canonical URL, so the same article
# reached through two feeds, or through a feed and a crawl, is one mention.
WEB_PLATFORMS = frozenset({"news", "blog"})

# How much of `Mention.published_at` its source states: a full timestamp, or only the day.
PublishedPrecision = Literal["second", "day"]

# The most text a mention keeps, in characters: a longer body is cut there and `text_truncated` set, so
# that no one item (an article with an appendix, a feed entity expanded a million times) outweighs a run.
MAX_TEXT_CHARS = 100_000

_TRACKING_PARAMETERS = frozenset(
    {"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "yclid", "_hsenc", "_hsmi", "ref_src"}
)


def canonical_url(url: str) -> str:
    """The URL with tracking parameters, fragment and default port removed, host lowercased.

    Args:
        url: an absolute http(s) URL.

    Returns:
        The normalised URL; query parameters keep their order.

    Raises:
        ValueError: the URL cannot be read (a port that is not a number, a broken IPv6 address).
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as error:
        raise ValueError(f"{url!r} is not a valid URL ({error})") from error
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    query = [
        (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if not name.lower().startswith("utm_") and name.lower() not in _TRACKING_PARAMETERS
    ]
    return urlunsplit((scheme, host, parts.path or "/", urlencode(query), ""))


@dataclass(frozen=True)
class Mention:
    """One post, comment, article or page that a collector found.

    Attributes:
        platform: where it was published: news, blog, x, reddit, ...
        source: the name of the configured source that collected it.
        native_id: the platform's own id (feed guid, tweet id), when there is one.
        url: where a person can read it.
        text: the body as plain text, at most `MAX_TEXT_CHARS` characters.
        title: the headline, for articles and posts that have one.
        author_handle: the author's handle or byline.
        author_name: the author's display name.
        author_followers: the author's audience, when the platform reports it.
        published_at: when it was published (timezone-aware), when known.
        engagement: counts such as likes, replies, shares, comments, score.
        parent_id: the key of the item it replies to.
        thread_id: the conversation or thread it belongs to.
        lang_hint: the language the platform declares, if any.
        amplifies: the key of the post this one passes on unchanged (an X retweet, a Mastodon reblog,
            a Bluesky repost, a Reddit crosspost), so stories count it with the original.
        shared_links: the URLs it links to or quotes, in order (a quoted post as its URL).
        community_size: how many people follow the community it was posted in (a subreddit's
            subscribers), when the platform says; the author's own audience is `author_followers`.
        score_hidden: the platform hides its score for now; the score is left out of `engagement` (unknown).
        publisher: who published it, by name: the news outlet, the site, the feed's title.
        text_truncated: the body was longer than `MAX_TEXT_CHARS` and `text` is its start (set when
            the mention is made), or (blogs) the page's markup was cut before extraction.
        published_precision: how much of `published_at` the source states: "second" (a full timestamp,
            at its stated UTC offset) or "day" (only the date: `published_at` is that day at 00:00 UTC,
            and hour-level analytics count the mention at its first-seen time instead).
        authors: everyone a byline credits, in its order, without dates or the publisher's name;
            the first is `author_handle`. Empty where the platform names one author, in `author_handle`.
        rating: the stars a review gives, 1 to 5 (an App Store review); None for anything that is not a review.
        about_brand: the configured brand or competitor it is about by where it was found (the reviews of a
            configured app: the app's brand), whether or not its text names it; None when only its text says.
        extras: anything else the platform gives, kept as JSON; no stage reads it.
    """

    platform: str
    source: str
    native_id: str | None
    url: str | None
    text: str
    title: str | None = None
    author_handle: str | None = None
    author_name: str | None = None
    author_followers: int | None = None
    published_at: datetime | None = None
    engagement: dict[str, int] = field(default_factory=dict)
    parent_id: str | None = None
    thread_id: str | None = None
    lang_hint: str | None = None
    amplifies: str | None = None
    shared_links: list[str] = field(default_factory=list)
    community_size: int | None = None
    score_hidden: bool = False
    publisher: str | None = None
    text_truncated: bool = False
    published_precision: PublishedPrecision = "second"
    authors: list[str] = field(default_factory=list)
    rating: int | None = None
    about_brand: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.text) > MAX_TEXT_CHARS:
            object.__setattr__(self, "text", self.text[:MAX_TEXT_CHARS])
            object.__setattr__(self, "text_truncated", True)

    @property
    def key(self) -> str:
        """The natural key: canonical URL for web items, `platform:native_id` otherwise."""
        if self.platform in WEB_PLATFORMS and self.url:
            return canonical_url(self.url)
        if self.native_id:
            return f"{self.platform}:{self.native_id}"
        raise ValueError(f"a {self.platform} mention from {self.source} has neither a URL nor a native id")

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict, with `key` and times in ISO 8601."""
        record = dataclasses.asdict(self)
        record["key"] = self.key
        record["published_at"] = self.published_at.isoformat() if self.published_at else None
        return record

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> Mention:
        """The inverse of `to_json`."""
        values: dict[str, Any] = {f.name: record.get(f.name) for f in dataclasses.fields(cls)}
        if values["published_at"]:
            values["published_at"] = datetime.fromisoformat(values["published_at"])
        values["engagement"] = values["engagement"] or {}
        values["shared_links"] = values["shared_links"] or []
        values["score_hidden"] = bool(values["score_hidden"])
        values["text_truncated"] = bool(values["text_truncated"])
        values["published_precision"] = values["published_precision"] or "second"
        values["authors"] = values["authors"] or []
        values["extras"] = values["extras"] or {}
        return cls(**values)
