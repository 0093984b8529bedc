"""`make demo`: serve the sample corpus on loopback and run one social_listening cycle through Airflow."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from cli.main import run_cycle
from config import load_config
from demo.corpus_server import CorpusServer, CorpusServerError

DEMO_CONFIG = Path(__file__).resolve().parents[1] / "config" / "demo.yaml"
# The port is part of the blog URLs, and so of their mention keys: a fixed one keeps reruns idempotent.
DEFAULT_PORT = 8765


def main() -> int:
    """Run the demo; returns the exit status."""
    port = int(os.environ.get("OVERHEARD_DEMO_PORT", DEFAULT_PORT))
    server = CorpusServer(port=port)
    try:
        server.start()
    except CorpusServerError as error:
        print(f"{error}\nSet OVERHEARD_DEMO_PORT to a free port and run the demo again.", file=sys.stderr)
        return 1
    try:
        os.environ["OVERHEARD_DEMO_PORT"] = str(server.port)
        sites = ", ".join(server.base_url(site) for site in ("news", "homefixers", "streamsetup"))
        print(f"Serving the sample corpus at {sites}")
        config = load_config(DEMO_CONFIG)
        return run_cycle(DEMO_CONFIG, config.warehouse.path)
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
