"""Overheard configuration: one YAML file, validated when loaded."""

from config.loading import ConfigError, load_config
from config.model import BlogSource, BrandConfig, Config, FeedSource, HttpSettings, Source

__all__ = [
    "BlogSource",
    "BrandConfig",
    "Config",
    "ConfigError",
    "FeedSource",
    "HttpSettings",
    "Source",
    "load_config",
]
