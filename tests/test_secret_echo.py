"""No secret a request carried comes back out of a run.

Each platform's collector runs through `collectors.units.collect_unit`, as the DAG runs it, against a
fake of that platform that echoes the request it received (its line, every header, its body: the
credentials in every form they were sent) in its error body and in a response header, as a broken
gateway or a careless API does. Then no form of any secret (plain, URL-encoded, base64, base64
`login:password` as HTTP Basic sends it) may appear in the run's error, its warnings, or the files
staged for the next task.

Keyless platforms (Hacker News, Mastodon, Google News, feeds, blogs) carry a credential only in their
configured URL (`https://login:password@host/...`, a private feed behind HTTP Basic); the run is also
handed every configured connection, as a config with X, Reddit and Bluesky holds them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from collectors.source_run import SourceRun
from collectors.units import collect_unit, plan_units, stage_unit
from config.model import Config, HttpSettings
from core.staging import StagingArea
from demo.fake_apis import reddit_api, x_api
from demo.fake_apis.loopback import request_echo
from demo.fake_apis.public_apis import PublicApisServer
from tests.local_http import LocalHttpServer, Reply, Request
from transport.http import HttpClient

WINDOW = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))
BRANDS = [{"name": "Brightwave", "aliases": ["Brightwave"], "hashtags": ["#brightwave"]}]
# Characters that URL-encoding and base64 both change, so every form differs from the plain one.
REDDIT_ID, REDDIT_SECRET = "reddit-client-id-4Qx9", "reddit/secret+4Qx9=&key"
X_TOKEN = "AAAAx-bearer/token+7Zp2=="
BLUESKY_HANDLE, BLUESKY_PASSWORD = "brightwave.bsky.social", "abcd-efgh/ijkl+mnop"
URL_LOGIN, URL_PASSWORD = "feed-reader", "feed/pass+word@9Lk="
CONNECTIONS: dict[str, dict[str, Any]] = {
    "reddit_default": {"login": REDDIT_ID, "password": REDDIT_SECRET, "extra": {"user_agent": "python:overheard:0.1"}},
    "twitter_default": {"login": None, "password": X_TOKEN, "extra": {}},
    "bluesky_default": {"login": BLUESKY_HANDLE, "password": BLUESKY_PASSWORD, "extra": {}},
}


def secret_forms(password: str, login: str | None = None) -> set[str]:
    """Every form a secret can come back in: plain, URL-encoded, base64, and base64 `login:password`."""
    forms = {password, quote(password, safe=""), quote_plus(password), _base64(password)}
    if login:
        forms |= {login, _base64(f"{login}:{password}")}
    return forms


def _base64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _collect_and_stage(tmp_path: Path, http: HttpSettings, source: dict[str, Any]) -> tuple[SourceRun, str]:
    """Collect one source through `collect_unit` and stage it; returns its run and every staged byte as text."""
    staging = tmp_path / "staging"
    config = Config.model_validate({
        "warehouse": {"path": str(tmp_path / "overheard.duckdb")}, "staging": str(staging), "brands": BRANDS,
        "sources": [source],
    })
    [unit] = plan_units(config)
    [run] = collect_unit(config, unit, {}, WINDOW, CONNECTIONS, client=HttpClient(http))
    stage_unit(StagingArea(str(staging), "manual__2026-11-02"), unit, [run])
    staged = "\n".join(path.read_text(encoding="utf-8") for path in sorted(staging.rglob("*")) if path.is_file())
    return run, staged


def assert_no_secret(run: SourceRun, staged: str, forms: set[str]) -> None:
    """No form of a secret in the run's error, its warnings, its summary (what `runs` stores) or the staged files.

    Compared case-insensitively: a URL's `scheme://login:password@host` lowercased (as a host name is)
    still gives the password away, and an escape like `%2F` still reads as `%2f`.
    """
    places = {"error": run.error or "", "warnings": "\n".join(run.warnings),
              "summary": json.dumps(run.summary(), ensure_ascii=False), "staged files": staged}
    leaks = sorted((place, form) for place, text in places.items() for form in forms if form.lower() in text.lower())
    assert leaks == [], f"{run.source}: secrets in {leaks}; error: {run.error!r}; warnings: {run.warnings!r}"


def test_the_echo_quotes_every_credential_the_request_carried() -> None:
    basic = f"Basic {_base64(f'{REDDIT_ID}:{REDDIT_SECRET}')}"
    echo = request_echo("POST", "/api/v1/access_token", {"Authorization": basic}, "grant_type=client_credentials")

    assert echo.splitlines() == [
        "POST /api/v1/access_token HTTP/1.1",
        f"Authorization: {basic}",
        "",
        "grant_type=client_credentials",
    ]


@pytest.mark.parametrize(("path", "status"), [
    (reddit_api.TOKEN_PATH, 200),  # an OAuth "error" in a 200: the request echoed as the error code
    (reddit_api.TOKEN_PATH, 401),
    (reddit_api.TOKEN_PATH, 400),
    ("/search", 403),  # after the token: the echo holds the bearer token, and no configured secret may follow it
])
def test_reddit(tmp_path: Path, fast_http: HttpSettings, path: str, status: int) -> None:
    with reddit_api.FakeRedditApi.from_corpus(client_id=REDDIT_ID, client_secret=REDDIT_SECRET) as reddit:
        reddit.script(path, reddit_api.echoed(status))
        run, staged = _collect_and_stage(tmp_path, fast_http, {
            "kind": "reddit", "name": "reddit", "oauth_url": reddit.base_url, "reddit_url": reddit.base_url,
        })

    assert run.status == "failed"
    assert reddit.requests_to(path)[0].headers["authorization"] in (
        f"Basic {_base64(f'{REDDIT_ID}:{REDDIT_SECRET}')}", "bearer fake-reddit-token-1"
    )
    assert_no_secret(run, staged, secret_forms(REDDIT_SECRET, REDDIT_ID))


@pytest.mark.parametrize("status", [400, 401, 403])
def test_x(tmp_path: Path, fast_http: HttpSettings, status: int) -> None:
    with x_api.FakeXApi.from_corpus(bearer_token=X_TOKEN, now=WINDOW[1]) as api:
        api.script(x_api.echoed(status))
        run, staged = _collect_and_stage(tmp_path, fast_http, {"kind": "x", "name": "x", "api_base_url": api.base_url})

    assert run.status == "failed"
    assert_no_secret(run, staged, secret_forms(X_TOKEN))


@pytest.fixture
def public_apis() -> Iterator[PublicApisServer]:
    with PublicApisServer() as server:
        yield server


@pytest.mark.parametrize("status", [400, 401])
def test_bluesky(tmp_path: Path, fast_http: HttpSettings, public_apis: PublicApisServer, status: int) -> None:
    public_apis.fail("/bsky/xrpc/com.atproto.server.createSession", status, echo=True)

    source = {"kind": "bluesky", "name": "bsky", "api_base_url": public_apis.url("bluesky")}
    run, staged = _collect_and_stage(tmp_path, fast_http, source)

    assert run.status == "failed"
    assert f'"password": "{BLUESKY_PASSWORD}"' in public_apis.requests[0].body.decode()  # what was echoed
    assert_no_secret(run, staged, secret_forms(BLUESKY_PASSWORD))



def _with_login(url: str) -> str:
    """The URL with the keyless source's credential in it, as a private endpoint behind HTTP Basic is configured."""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{URL_LOGIN}:{quote(URL_PASSWORD, safe='')}@{rest}"


@pytest.mark.parametrize(("kind", "prefix", "settings"), [
    ("hackernews", "/hn/", lambda server: {"api_base_url": _with_login(server.url("hackernews"))}),
    ("mastodon", "/mastodon/", lambda server: {"instances": [_with_login(server.url("mastodon", "mastodon.social"))]}),
    ("google_news", "/gnews/", lambda server: {"base_url": _with_login(server.url("google_news"))}),
])
def test_keyless_search_apis(
    tmp_path: Path, fast_http: HttpSettings, public_apis: PublicApisServer, kind: str, prefix: str, settings: Any
) -> None:
    public_apis.fail(prefix, 401, echo=True, times=None)

    source = {"kind": kind, "name": kind.replace("_", "-"), **settings(public_apis)}
    run, staged = _collect_and_stage(tmp_path, fast_http, source)

    assert run.status == "failed"
    basic = f"Basic {_base64(f'{URL_LOGIN}:{URL_PASSWORD}')}"
    assert public_apis.requests_to(prefix)[0].headers["authorization"] == basic
    assert_no_secret(run, staged, secret_forms(URL_PASSWORD, URL_LOGIN) | _every_connection_secret())


def _echo_reply(request: Request) -> Reply:
    echo = request_echo("GET", request.path, request.headers)
    authorization = request.headers.get("authorization", "")
    challenge = f'Basic realm="feed", error="{authorization}"'
    return Reply(401, json.dumps({"error": echo, "message": echo}).encode(),
                 {"Content-Type": "application/json", "WWW-Authenticate": challenge})


@pytest.mark.parametrize(("kind", "path"), [("rss", "/feed.xml"), ("blog", "/")])
def test_feeds_and_blogs(
    tmp_path: Path, fast_http: HttpSettings, http_server: LocalHttpServer, kind: str, path: str
) -> None:
    for route in (path, "/robots.txt", "/feed", "/sitemap.xml"):
        http_server.route(route, _echo_reply)

    source = {"kind": kind, "name": f"private-{kind}", "url": _with_login(http_server.base_url + path)}
    run, staged = _collect_and_stage(tmp_path, fast_http, source)

    assert run.status == "failed"
    assert any(request.headers.get("authorization") for request in http_server.requests)
    assert_no_secret(run, staged, secret_forms(URL_PASSWORD, URL_LOGIN) | _every_connection_secret())


def _every_connection_secret() -> set[str]:
    return secret_forms(REDDIT_SECRET, REDDIT_ID) | secret_forms(X_TOKEN) | secret_forms(BLUESKY_PASSWORD)
