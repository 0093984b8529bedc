"""The shape of an Overheard config file, as pydantic models.

Every model forbids unknown keys, so a misspelt key is an error rather than a silently ignored
setting. Loading (YAML, environment variables, relative paths, error messages) is in
`config.loading`.
"""

from __future__ import annotations

import zoneinfo
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError


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


StringList = Annotated[list[str], BeforeValidator(_require_string_list)]
HttpUrl = Annotated[str, BeforeValidator(_require_http_url)]
SourceName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BrandConfig(_Strict):
    """A brand or competitor and the terms that identify its mentions."""

    name: str = Field(min_length=1)
    aliases: StringList = []
    hashtags: StringList = []
    handles: StringList = []
    owned_handles: StringList = []
    owned_domains: StringList = []

    @field_validator("hashtags")
    @classmethod
    def _hashtags_start_with_hash(cls, value: list[str]) -> list[str]:
        for tag in value:
            if not tag.startswith("#") or len(tag) < 2:
                raise PydanticCustomError("hashtag", "expected hashtags like '#brand', got '{tag}'", {"tag": tag})
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
        if not (self.aliases or self.hashtags or self.handles):
            raise PydanticCustomError("no_terms", "give at least one of aliases, hashtags or handles")
        return self

    @property
    def terms(self) -> list[str]:
        """Every term that identifies a mention of this brand (aliases, hashtags, handles)."""
        return [*self.aliases, *self.hashtags, *self.handles]


class FeedSource(_Strict):
    """An RSS or Atom feed."""

    kind: Literal["rss"]
    name: SourceName
    url: HttpUrl
    audience: int | None = Field(default=None, ge=0)


class BlogSource(_Strict):
    """A blog or news site crawled for posts found through its feed and/or sitemap."""

    kind: Literal["blog"]
    name: SourceName
    url: HttpUrl
    discover: list[Literal["feed", "sitemap"]] = ["feed", "sitemap"]
    max_pages_per_run: int = Field(default=20, ge=1, le=1000)
    audience: int | None = Field(default=None, ge=0)


Source = Annotated[FeedSource | BlogSource, Field(discriminator="kind")]


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


class WarehouseSettings(_Strict):
    """Where the DuckDB file lives, and how much memory a load may use before spilling to disk."""

    path: str = Field(min_length=1)
    memory_limit: str = Field(default="1GB", pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$")


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
    feeds_per_task: int = Field(default=25, ge=1, le=1000)

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
        return self

    @property
    def all_brands(self) -> list[BrandConfig]:
        """Brands first, then competitors."""
        return [*self.brands, *self.competitors]

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
