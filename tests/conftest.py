"""Shared fixtures: local HTTP servers, fast HTTP settings, small configs."""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.model import Config, HttpSettings
from tests.local_http import LocalHttpServer

REPO = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    """Point Airflow at a throw-away home with the repo's airflow.cfg before anything imports it."""
    home = Path(tempfile.mkdtemp(prefix="overheard-airflow-"))
    (home / "jwt_secret").write_text(secrets.token_urlsafe(32), encoding="utf-8")
    os.environ["AIRFLOW_HOME"] = str(home)
    os.environ["AIRFLOW_CONFIG"] = str(REPO / "airflow.cfg")


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


@pytest.fixture
def config(tmp_path) -> Config:
    """A small config: Brightwave and Tidewell, two feeds, warehouse and staging under tmp_path."""
    return Config.model_validate(
        {
            "warehouse": {"path": str(tmp_path / "overheard.duckdb")},
            "staging": str(tmp_path / "staging"),
            "brands": [{"name": "Brightwave", "aliases": ["Brightwave"], "owned_domains": ["brightwave.example"]}],
            "competitors": [{"name": "Tidewell", "aliases": ["Tidewell"]}],
            "sources": [
                {"kind": "rss", "name": "techwire", "url": "https://techwire.example/feed", "audience": 1000},
                {"kind": "rss", "name": "gazette", "url": "https://gazette.example/feed"},
            ],
        }
    )
