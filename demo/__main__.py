"""`make demo`: serve the sample corpus and fake platform APIs on loopback, and run one
social_listening cycle through Airflow at the demo's fixed logical date."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cli.main import run_cycle
from config import Config, load_config
from demo.corpus_server import CorpusServer, CorpusServerError
from demo.fake_apis.public_apis import PublicApisServer
from demo.fake_apis.reddit_api import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, FakeRedditApi
from demo.fake_apis.x_api import DEMO_TOKEN, FakeXApi

DEMO_CONFIG = Path(__file__).resolve().parents[1] / "config" / "demo.yaml"
# The sample data was written for this moment: the demo's runs are always at it, so their windows,
# and the platforms' notion of "now", stay the same from one demo run to the next.
LOGICAL_DATE = datetime(2026, 11, 2, 12, tzinfo=UTC)
# The corpus port is part of the blog URLs, and so of their mention keys: a fixed one keeps reruns
# idempotent. The fake APIs take the next ports.
DEFAULT_PORT = 8765


@contextmanager
def demo_services(port: int) -> Iterator[CorpusServer]:
    """Start the corpus server and the fake X, Reddit and public APIs, with their URLs and demo
    credentials (as Airflow connections) in the environment; stop everything on exit.

    Args:
        port: the corpus port; the APIs take the three after it. 0 picks free ports for all.
    """

    def port_after(offset: int) -> int:
        return port + offset if port else 0

    with ExitStack() as stack:
        corpus = CorpusServer(port=port)
        corpus.start()
        stack.callback(corpus.stop)
        public = stack.enter_context(PublicApisServer(port=port_after(1)))
        x_api = stack.enter_context(FakeXApi.from_corpus(now=LOGICAL_DATE + timedelta(minutes=5), port=port_after(2)))
        reddit = stack.enter_context(FakeRedditApi.from_corpus(port=port_after(3)))
        bluesky = next(iter(public.bluesky_accounts.values()))  # the demo account the fake accepts
        connections = {
            "AIRFLOW_CONN_TWITTER_DEFAULT": {"conn_type": "generic", "password": DEMO_TOKEN},
            "AIRFLOW_CONN_REDDIT_DEFAULT": {"conn_type": "generic", "login": DEMO_CLIENT_ID, "password": DEMO_CLIENT_SECRET},
            "AIRFLOW_CONN_BLUESKY_DEFAULT": {"conn_type": "generic", "login": bluesky["handle"], "password": bluesky["app_password"]},
        }
        locations = {
            "OVERHEARD_DEMO_PORT": str(corpus.port),
            "OVERHEARD_DEMO_APIS": public.base_url,
            "OVERHEARD_DEMO_X": x_api.base_url,
            "OVERHEARD_DEMO_REDDIT": reddit.base_url,
        }
        saved = {name: os.environ.get(name) for name in [*connections, *locations]}
        os.environ.update({name: json.dumps(value) for name, value in connections.items()})
        os.environ.update(locations)
        stack.callback(_restore, saved)
        print(f"Serving the sample corpus at {corpus.base_url('news')} (and .2, .3), the public APIs at "
              f"{public.base_url}, X at {x_api.base_url}, Reddit at {reddit.base_url}")
        yield corpus


def _restore(saved: dict[str, str | None]) -> None:
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def main() -> int:
    """Run the demo; returns the exit status."""
    port = int(os.environ.get("OVERHEARD_DEMO_PORT", DEFAULT_PORT))
    with ExitStack() as stack:
        try:
            stack.enter_context(demo_services(port))
        except (CorpusServerError, OSError) as error:
            print(f"{error}\nPorts {port}-{port + 3} must be free: set OVERHEARD_DEMO_PORT to another base port.", file=sys.stderr)
            return 1
        config = load_config(DEMO_CONFIG)
        status = run_cycle(DEMO_CONFIG, config.warehouse.path, LOGICAL_DATE.isoformat())
    if status == 0:
        _render_weekly_report(config)
        _open_the_desk_to_demo_accounts(config)
    return status


# The demo's desk accounts (config/demo.yaml: lead on every queue, ana and bo on care).
DEMO_DESK_PASSWORDS = {"lead": "lead-demo-pass", "ana": "ana-demo-pass", "bo": "bo-demo-pass"}


def _open_the_desk_to_demo_accounts(config: Config) -> None:
    """Set the demo accounts' passwords in the desk state and say how to sign in."""
    from desk.accounts import desk_people, set_password
    from desk.state import DeskState, desk_state_path

    assert config.playbook is not None  # the demo config has one
    state = DeskState(desk_state_path(config.warehouse.path))
    people = desk_people(config.playbook)
    for name, password in DEMO_DESK_PASSWORDS.items():
        set_password(state, people, name, password, datetime.now(UTC))
    print("\nThe care desk: run `make desk` and open http://127.0.0.1:8770/; sign in as")
    print("  lead  password lead-demo-pass  (lead: every queue, the board)")
    print("  ana   password ana-demo-pass   (agent: care)")
    print("  bo    password bo-demo-pass    (agent: care)")


def _render_weekly_report(config: Config) -> None:
    """Render the report of the week the demo's data covers, as the weekly_mention_report DAG would."""
    from cli.warehouse_access import open_for_reading
    from reports.publishing import last_complete_week, publish_weekly_report

    with open_for_reading(config) as connection:
        week = last_complete_week(connection, config)
        if week is None:
            print("\nNo week has been loaded to its end yet: no weekly report.")
            return
        files = publish_weekly_report(connection, config, week, email=False)
    print(f"\nWeekly mention report {files.week}: {files.html} (open it in a browser; mentions in {files.csv.name})")


if __name__ == "__main__":
    sys.exit(main())
