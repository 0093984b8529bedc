"""The shape of an Overheard config file, as pydantic models.

Every model forbids unknown keys, so a misspelt key is an error rather than a silently ignored
setting. Loading (YAML, environment variables, relative paths, error messages) is in
`config.loading`.
"""

from __future__ import annotations

import re
import zoneinfo
from decimal import Decimal
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, RootModel, field_validator, model_validator
from pydantic_core import PydanticCustomError

from config.playbook import EmailSettings, Playbook
from query.boolean import QueryError, parse_query


def _require_string_list(value: Any) -> Any:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise PydanticCustomError("string_list", "expected a list of strings")
    return value


def _require_http_url(value: Any) -> Any:
    if not isinstance(value, str):
        raise PydanticCustomError("http_url", "expected an http(s) URL as a string")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PydanticCustomError(
            "http_url", "expected an http(s) URL such as https://example.com/feed.xml, got '{value}'",
            {"value": value},
        )
    return value


def _require_websocket_url(value: Any) -> Any:
    if not isinstance(value, str):
        raise PydanticCustomError("websocket_url", "expected a ws(s) URL as a string")
    parts = urlsplit(value)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise PydanticCustomError(
            "websocket_url",
            "expected a websocket URL such as wss://jetstream2.us-east.bsky.network/subscribe, got '{value}'",
            {"value": value},
        )
    return value


StringList = Annotated[list[str], BeforeValidator(_require_string_list)]
HttpUrl = Annotated[str, BeforeValidator(_require_http_url)]
WebSocketUrl = Annotated[str, BeforeValidator(_require_websocket_url)]
SourceName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BrandConfig(_Strict):
    """A brand or competitor and the terms that identify its mentions."""

    name: str = Field(min_length=1)
    aliases: StringList = []
    hashtags: StringList = []
    handles: StringList = []
    cashtags: StringList = []
    owned_handles: StringList = []
    owned_domains: StringList = []
    query: str | None = None

    @field_validator("query")
    @classmethod
    def _query_parses(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_query(value)
            except QueryError as error:
                raise PydanticCustomError("query", "{error}", {"error": str(error)}) from None
        return value

    @field_validator("hashtags")
    @classmethod
    def _hashtags_start_with_hash(cls, value: list[str]) -> list[str]:
        for tag in value:
            if not tag.startswith("#") or len(tag) < 2:
                raise PydanticCustomError("hashtag", "expected hashtags like '#brand', got '{tag}'", {"tag": tag})
        return value

    @field_validator("cashtags")
    @classmethod
    def _cashtags_start_with_dollar(cls, value: list[str]) -> list[str]:
        for tag in value:
            if not tag.startswith("$") or len(tag) < 2:
                raise PydanticCustomError("cashtag", "expected cashtags like '$TICKER', got '{tag}'", {"tag": tag})
        return value

    @field_validator("handles", "owned_handles")
    @classmethod
    def _handles_start_with_at(cls, value: list[str]) -> list[str]:
        for handle in value:
            if not handle.startswith("@") or len(handle) < 2:
                raise PydanticCustomError("handle", "expected handles like '@brand', got '{handle}'", {"handle": handle})
        return value

    @model_validator(mode="after")
    def _has_a_term(self) -> BrandConfig:
        if not self.terms and not self.query:
            raise PydanticCustomError("no_terms", "give at least one of aliases, hashtags, handles, cashtags or query")
        return self

    @property
    def terms(self) -> list[str]:
        """Every term that identifies a mention of this brand (aliases, hashtags, handles, cashtags)."""
        return [*self.aliases, *self.hashtags, *self.handles, *self.cashtags]


class FeedSource(_Strict):
    """An RSS or Atom feed."""

    kind: Literal["rss"]
    name: SourceName
    url: HttpUrl
    audience: int | None = Field(default=None, ge=0)
    connection: None = None

    @property
    def endpoint(self) -> str:
        """The URL whose host the source is fetched from (for per-host politeness)."""
        return self.url


class BlogSource(_Strict):
    """A blog or news site crawled for posts found through its feed and/or sitemap."""

    kind: Literal["blog"]
    name: SourceName
    url: HttpUrl
    discover: list[Literal["feed", "sitemap"]] = ["feed", "sitemap"]
    max_pages_per_run: int = Field(default=20, ge=1, le=1000)
    audience: int | None = Field(default=None, ge=0)
    connection: None = None

    @property
    def endpoint(self) -> str:
        """The URL whose host the source is fetched from (for per-host politeness)."""
        return self.url


class XSource(_Strict):
    """X (Twitter) recent search through the API v2, built from the brand terms.

    X bills each post read: `price_per_post_read` (in `price_currency`) prices them, and a run's estimated
    cost is its posts read times that price (the warehouse's `source_coverage`); without a price, no cost.
    """

    kind: Literal["x"]
    name: SourceName
    connection: str = "twitter_default"
    api_base_url: HttpUrl = "https://api.x.com"
    include_retweets: bool = False
    languages: StringList = []
    max_posts_per_run: int = Field(default=500, ge=10, le=10_000)
    monthly_read_budget: int | None = Field(default=None, ge=0)
    price_per_post_read: Decimal | None = Field(default=None, ge=0, max_digits=18, decimal_places=6)
    price_currency: str = "USD"
    audience: None = None

    @field_validator("price_currency")
    @classmethod
    def _currency_code(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z]{3}", value):
            raise ValueError(
                f"price_currency {value!r} is not a currency code: use its three capital letters (ISO 4217), "
                "e.g. USD, EUR or GBP"
            )
        return value

    @property
    def endpoint(self) -> str:
        """The URL whose host the source is fetched from (for per-host politeness)."""
        return self.api_base_url


class RedditSource(_Strict):
    """Reddit search (sitewide and per subreddit), posts and comments; public RSS without credentials."""

    kind: Literal["reddit"]
    name: SourceName
    connection: str = "reddit_default"
    subreddits: StringList = []
    sitewide: bool = True
    include_comments: bool = True
    max_items_per_run: int = Field(default=500, ge=10, le=10_000)
    oauth_url: HttpUrl = "https://oauth.reddit.com"
    reddit_url: HttpUrl = "https://www.reddit.com"
    audience: None = None

    @property
    def endpoint(self) -> str:
        """The URL whose host the source is fetched from (for per-host politeness)."""
        return self.oauth_url


class HackerNewsSource(_Strict):
    """Hacker News stories and comments through the Algolia search API (no key)."""

    kind: Literal["hackernews"]
    name: SourceName
    api_base_url: HttpUrl = "https://hn.algolia.com/api/v1"
    max_items_per_run: int = Field(default=500, ge=10, le=10_000)
    audience: int | None = Field(default=None, ge=0)
    connection: None = None

    @property
    def endpoint(self) -> str:
        """The URL whose host the source is fetched from (for per-host politeness)."""
        return self.api_base_url


class MastodonSource(_Strict):
    """Hashtag timelines on Mastodon instances (no key); hashtags default to the brands'."""

    kind: Literal["mastodon"]
    name: SourceName
    instances: list[HttpUrl] = Field(min_length=1)
    hashtags: StringList = []
    max_items_per_run: int = Field(default=400, ge=10, le=10_000)
    audience: None = None
    connection: None = None

    @property
    def endpoint(self) -> str:
        """The URL whose host the source is fetched from (for per-host politeness)."""
        return self.instances[0]


class GoogleNewsSource(_Strict):
    """Google News RSS search, one query per brand and competitor (no key)."""

    kind: Literal["google_news"]
    name: SourceName
    base_url: HttpUrl = "https://news.google.com"
    language: str = "en-GB"
    country: str = "GB"
    audience: int | None = Field(default=None, ge=0)
    connection: None = None

    @property
    def endpoint(self) -> str:
        """The URL whose host the source is fetched from (for per-host politeness)."""
        return self.base_url


class BlueskySource(_Strict):
    """Bluesky post search (app.bsky.feed.searchPosts); needs an app password."""

    kind: Literal["bluesky"]
    name: SourceName
    connection: str = "bluesky_default"
    api_base_url: HttpUrl = "https://bsky.social"
    max_items_per_run: int = Field(default=400, ge=10, le=10_000)
    audience: None = None

    @property
    def endpoint(self) -> str:
        """The URL whose host the source is fetched from (for per-host politeness)."""
        return self.api_base_url


class AppConfig(_Strict):
    """One app whose App Store reviews are collected, and the brand or competitor they belong to."""

    id: str
    country: str = "gb"
    brand: str = Field(min_length=1)

    @field_validator("id", mode="before")
    @classmethod
    def _numeric_app_id(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not re.fullmatch(r"\d{1,20}", value):
            raise PydanticCustomError(
                "app_id",
                "expected the App Store app id, the digits after 'id' in the app's address "
                "(apps.apple.com/gb/app/name/id1234567890 has id '1234567890'), got '{value}'",
                {"value": value},
            )
        return value

    @field_validator("country")
    @classmethod
    def _country_code(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z]{2}", value):
            raise PydanticCustomError(
                "country", "expected the App Store's two-letter country code such as 'gb' or 'us', got '{value}'",
                {"value": value},
            )
        return value.lower()


class AppReviewsSource(_Strict):
    """App Store customer reviews of the configured apps (the public reviews feed; no key).

    Every review of an app belongs to the app's `brand` (a brand or competitor), whether or not its text
    names it. Google Play has no keyless public route to its reviews that Overheard can rely on (scraping
    its pages is against its terms), so it is not collected.
    """

    kind: Literal["app_reviews"]
    name: SourceName
    apps: list[AppConfig] = Field(min_length=1)
    base_url: HttpUrl = "https://itunes.apple.com"
    max_pages: int = Field(default=10, ge=1, le=10)
    audience: None = None
    connection: None = None

    @model_validator(mode="after")
    def _each_app_once(self) -> AppReviewsSource:
        _reject_duplicates("apps", [f"{app.country}/{app.id}" for app in self.apps])
        return self

    @property
    def max_items_per_run(self) -> int:
        """The most reviews a run reads: every page of every app."""
        return len(self.apps) * self.max_pages * 50

    @property
    def endpoint(self) -> str:
        """The URL whose host the source is fetched from (for per-host politeness)."""
        return self.base_url


class BlueskyJetstreamSource(_Strict):
    """Every public Bluesky post, read from a Jetstream instance (a keyless websocket stream) over the run's
    window and matched locally against the brands' terms and queries."""

    kind: Literal["bluesky_jetstream"]
    name: SourceName
    url: WebSocketUrl = "wss://jetstream2.us-east.bsky.network/subscribe"
    # How far back the instance replays; a window reaching further is read from there, the rest reported left out.
    retention_hours: float = Field(default=24.0, gt=0)
    # The stream starting this much later than asked (after connecting, or reconnecting) is a gap, reported.
    gap_seconds: float = Field(default=60.0, gt=0)
    # No frame for this long: the stream has reached its live edge, and the run stops there.
    idle_seconds: float = Field(default=30.0, gt=0)
    audience: None = None
    connection: None = None

    @property
    def endpoint(self) -> str:
        """The URL whose host the source is fetched from (for per-host politeness)."""
        return self.url


class YouTubeChannel(_Strict):
    """A brand's own YouTube channel: every comment on its videos belongs to the brand (or competitor)."""

    id: str
    brand: str = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _channel_id(cls, value: str) -> str:
        if not re.fullmatch(r"UC[A-Za-z0-9_-]{22}", value):
            raise PydanticCustomError(
                "channel_id",
                "expected a YouTube channel id: 'UC' and 22 letters, digits, '-' or '_', as in the channel's address "
                "youtube.com/channel/UCxxxxxxxxxxxxxxxxxxxxxx (a @handle is not an id: the channel's About page, "
                "Share channel > Copy channel ID, gives it), got '{value}'",
                {"value": value},
            )
        return value


class YouTubeSource(_Strict):
    """YouTube videos found by the brands' search terms and on the brands' own channels, and their
    comment threads (the Data API v3; an API key in the Airflow connection), within a daily quota budget.

    A video is followed for `follow_days` after it is published: each run reads its new comments. Comments
    on a configured channel's videos belong to the channel's brand whatever they say; comments on videos
    found by search are matched to brands by their own words.
    """

    kind: Literal["youtube"]
    name: SourceName
    connection: str = "youtube_default"
    api_base_url: HttpUrl = "https://www.googleapis.com/youtube/v3"
    channels: list[YouTubeChannel] = []
    search: bool = True
    daily_quota_units: int = Field(default=10_000, ge=1)
    follow_days: int = Field(default=7, ge=1, le=60)
    audience: None = None

    @model_validator(mode="after")
    def _each_channel_once(self) -> YouTubeSource:
        _reject_duplicates("channels", [channel.id for channel in self.channels])
        return self

    @property
    def endpoint(self) -> str:
        """The URL whose host the source is fetched from (for per-host politeness)."""
        return self.api_base_url


SOURCE_MODELS = (FeedSource, BlogSource, XSource, RedditSource, HackerNewsSource, MastodonSource, GoogleNewsSource, BlueskySource,
                 AppReviewsSource, BlueskyJetstreamSource, YouTubeSource)
SOURCE_KINDS = tuple(get_args(model.model_fields["kind"].annotation)[0] for model in SOURCE_MODELS)
Source = Annotated[
    FeedSource | BlogSource | XSource | RedditSource | HackerNewsSource | MastodonSource | GoogleNewsSource | BlueskySource
    | AppReviewsSource | BlueskyJetstreamSource | YouTubeSource,
    Field(discriminator="kind"),
]


class HttpSettings(_Strict):
    """How Overheard talks to the web (one client for every collector)."""

    user_agent: str = "Overheard/0.1 (+https://github.com/overheard/overheard; social listening bot)"
    timeout_seconds: float = Field(default=20.0, gt=0)
    max_retries: int = Field(default=3, ge=0, le=10)
    backoff_seconds: float = Field(default=1.0, ge=0)
    max_retry_wait_seconds: float = Field(default=60.0, ge=0)
    max_body_bytes: int = Field(default=10_000_000, gt=0)
    politeness_delay_seconds: float = Field(default=1.0, ge=0)
    max_parallel_hosts: int = Field(default=8, ge=1, le=64)


class ReachSettings(_Strict):
    """Audiences assumed for web sources that do not configure their own."""

    default_feed_audience: int = Field(default=5_000, ge=0)
    default_blog_audience: int = Field(default=1_000, ge=0)
    default_forum_audience: int = Field(default=50_000, ge=0)


class SentimentLanguages(RootModel[dict[str, str]]):
    """Which model scores the sentiment of mentions in a language the backend does not cover.

    A map from a language code (ISO 639-1, as `mentions.lang`) or `*` (any other language) to a Hugging
    Face sentiment model, by hub name (found in the local cache) or directory, that covers it, e.g.
    `{de: cardiffnlp/twitter-xlm-roberta-base-sentiment}`. A mention in a language neither the backend
    nor this map covers is left unscored, with the reason in `sentiment_reason` (enrich/language.py).
    """

    model_config = ConfigDict(frozen=True)

    @field_validator("root")
    @classmethod
    def _language_codes(cls, value: dict[str, str]) -> dict[str, str]:
        for language, model in value.items():
            if not re.fullmatch(r"[a-z]{2,3}|\*", language):
                raise PydanticCustomError(
                    "sentiment_language",
                    "sentiment.languages: '{language}' is not a language code such as 'de' (ISO 639-1) or '*'",
                    {"language": language},
                )
            if not model.strip():
                raise PydanticCustomError(
                    "sentiment_language", "sentiment.languages.{language}: name a model", {"language": language}
                )
        return value


class SentimentSettings(_Strict):
    """Which sentiment backend scores mentions (see enrich/sentiment.py).

    `auto` (the default) scores with `model` when it can be loaded here, else with the model Overheard
    ships (`shipped:overheard-sentiment-v1`), else with VADER, and records on every row which and why.
    """

    backend: Literal["lexicon", "transformers", "auto"] = "auto"
    model: str | None = None
    device: str = Field(default="auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$")
    batch_size: int = Field(default=32, ge=1, le=1024)
    precision: Literal["float32", "bfloat16", "float16", "int8"] = "float32"
    languages: SentimentLanguages = SentimentLanguages({})


# The weekly report's sections, in the order the report shows them (the ids of its <section> elements).
REPORT_SECTIONS = (
    "summary", "coverage", "listening", "volume", "share-of-voice", "sentiment", "themes", "top-mentions", "spikes",
    "categories", "service-levels", "staffing", "source-health", "formula-versions",
)
# Editions: a name for a list of sections. marketing leaves out the care team's operational tables.
REPORT_EDITIONS = {
    "all": REPORT_SECTIONS,
    "care": REPORT_SECTIONS,
    "marketing": (
        "summary", "coverage", "listening", "volume", "share-of-voice", "sentiment", "themes", "top-mentions", "spikes",
        "categories", "formula-versions",
    ),
}


class ReportSettings(_Strict):
    """The weekly mention report (reports/).

    `sections` chooses what goes in: an edition (`all`, the default; `care`, the same, with the care
    team's service levels, staffing and source health; `marketing`, without them) or a list of section
    ids (`REPORT_SECTIONS`), shown in the report's own order.
    """

    folder: str = "reports"
    pdf: bool = False
    email: EmailSettings | None = None
    sections: str | list[str] = "all"

    @field_validator("sections")
    @classmethod
    def _known_sections(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, str):
            if value not in REPORT_EDITIONS:
                raise ValueError(
                    f"unknown report edition {value!r}: use one of {', '.join(REPORT_EDITIONS)}, "
                    f"or a list of sections from {', '.join(REPORT_SECTIONS)}"
                )
            return value
        unknown = [name for name in value if name not in REPORT_SECTIONS]
        if unknown:
            raise ValueError(
                f"unknown report section{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}: "
                f"the sections are {', '.join(REPORT_SECTIONS)}"
            )
        if not value:
            raise ValueError(f"report.sections lists no section: name some of {', '.join(REPORT_SECTIONS)}")
        return value

    @property
    def section_ids(self) -> tuple[str, ...]:
        """The sections the report shows, in the report's order."""
        chosen = REPORT_EDITIONS[self.sections] if isinstance(self.sections, str) else self.sections
        return tuple(name for name in REPORT_SECTIONS if name in chosen)


class WarehouseSettings(_Strict):
    """Where the DuckDB file lives, and how much memory a load may use before spilling to disk."""

    path: str = Field(min_length=1)
    memory_limit: str = Field(default="1GB", pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$")


# The collection lanes (Config.lane_sources; airflow_edge.lanes names the DAG of each): `full`, the hourly run of
# every source but the fast lane's; `care`, the care fast lane, the playbook's fast_lane sources every few minutes.
LANES = ("full", "care")


class Config(_Strict):
    """A whole Overheard configuration."""

    timezone: str = "UTC"
    warehouse: WarehouseSettings
    staging: str = Field(min_length=1)
    brands: list[BrandConfig] = Field(min_length=1)
    competitors: list[BrandConfig] = []
    sources: list[Source] = Field(min_length=1)
    http: HttpSettings = HttpSettings()
    reach: ReachSettings = ReachSettings()
    sentiment: SentimentSettings = SentimentSettings()
    playbook: Playbook | None = None
    report: ReportSettings = ReportSettings()
    feeds_per_task: int = Field(default=25, ge=1, le=1000)
    backfill_days: float = Field(default=1.0, ge=0, le=60)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise PydanticCustomError(
                "timezone", "unknown timezone '{value}'; use an IANA name such as 'Europe/London'", {"value": value}
            ) from None
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        _reject_duplicates("sources", [source.name for source in self.sources])
        _reject_duplicates("brands and competitors", [brand.name for brand in self.all_brands])
        known = {brand.name for brand in self.all_brands}
        for source in self.sources:
            owned: list[AppConfig | YouTubeChannel] = (
                [*source.apps] if isinstance(source, AppReviewsSource)
                else [*source.channels] if isinstance(source, YouTubeSource) else []
            )
            for n, item in enumerate(owned):
                if item.brand not in known:
                    raise PydanticCustomError(
                        "unknown_name",
                        "sources '{source}': {field}[{n}].brand '{brand}' is not a brand or competitor; "
                        "name one of {known}",
                        {"source": source.name, "field": "apps" if isinstance(item, AppConfig) else "channels", "n": n,
                         "brand": item.brand, "known": ", ".join(sorted(known))},
                    )
        if self.playbook:
            for n, rule in enumerate(self.playbook.routing):
                for brand in rule.brands:
                    if brand not in known:
                        raise PydanticCustomError(
                            "unknown_name", "playbook.routing[{n}].brands: '{brand}' is not a brand or competitor",
                            {"n": n, "brand": brand},
                        )
        sources = [source.name for source in self.sources]
        for name in self.playbook.fast_lane.sources if self.playbook and self.playbook.fast_lane else []:
            if name not in sources:
                raise PydanticCustomError(
                    "unknown_name", "playbook.fast_lane.sources: '{name}' is not a configured source; name one of {known}",
                    {"name": name, "known": ", ".join(sources)},
                )
        return self

    @property
    def all_brands(self) -> list[BrandConfig]:
        """Brands first, then competitors."""
        return [*self.brands, *self.competitors]

    def lane_sources(self, lane: str) -> list[Source]:
        """The sources a collection lane collects, in config order: `care`, the playbook's fast lane's; `full`,
        every other source (all of them when the playbook has no fast lane).

        Raises:
            ValueError: `lane` is not one of `LANES`, or it is `care` and the playbook has no fast lane.
        """
        fast_lane = self.playbook.fast_lane if self.playbook else None
        if lane == "full":
            return [source for source in self.sources if not fast_lane or source.name not in fast_lane.sources]
        if lane == "care":
            if fast_lane is None:
                raise ValueError("the care lane collects the playbook's fast_lane sources, and this config has none: "
                                 "add playbook.fast_lane: {sources: [...], every_minutes: 5} (docs/configuration.md)")
            return [source for source in self.sources if source.name in fast_lane.sources]
        raise ValueError(f"unknown collection lane '{lane}'; the lanes are {', '.join(LANES)}")

    def source(self, name: str) -> Source:
        """The source called `name`; KeyError names the known ones."""
        for source in self.sources:
            if source.name == name:
                return source
        raise KeyError(f"no source named '{name}'; configured: {', '.join(s.name for s in self.sources)}")


def _reject_duplicates(what: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name.lower() in seen:
            raise PydanticCustomError("duplicate", "{what}: the name '{name}' is used twice", {"what": what, "name": name})
        seen.add(name.lower())
