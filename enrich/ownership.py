"""Ownership: content a tracked company published itself is owned media, not earned."""

from __future__ import annotations

from urllib.parse import urlsplit

from config.model import BrandConfig
from query.brand_matching import fold_term


class OwnedContent:
    """Recognises content a tracked company published itself: its handles and its domains.

    Args:
        brands: every brand and competitor; content owned by any of them is not earned media.
    """

    def __init__(self, brands: list[BrandConfig]):
        self._handles = {fold_term(handle.lstrip("@")): brand.name for brand in brands for handle in brand.owned_handles}
        self._domains = {domain.lower().lstrip("."): brand.name for brand in brands for domain in brand.owned_domains}

    def owner(self, author_handle: str | None, url: str | None) -> str | None:
        """The brand that owns content with this author and URL, or None for earned content."""
        if author_handle:
            owner = self._handles.get(fold_term(author_handle.lstrip("@")))
            if owner:
                return owner
        host = (urlsplit(url).hostname or "") if url else ""
        while host:
            if host in self._domains:
                return self._domains[host]
            host = host.partition(".")[2]
        return None
