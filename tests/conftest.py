"""Shared fixtures: local HTTP servers, fast HTTP settings, small configs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from config.model import HttpSettings
from tests.local_http import LocalHttpServer


@pytest.fixture
def http_server() -> Iterator[LocalHttpServer]:
    """A scriptable server on 127.0.0.1."""
    with LocalHttpServer() as server:
        yield server


@pytest.fixture
def fast_http() -> HttpSettings:
    """HTTP settings without politeness delays or backoff waits, and short timeouts."""
    return HttpSettings(
        timeout_seconds=2.0, max_retries=2, backoff_seconds=0.0, politeness_delay_seconds=0.0, max_body_bytes=200_000
    )
