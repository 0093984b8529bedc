"""`make demo`: serve the sample corpus on loopback and run one social_listening cycle through Airflow."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from cli.main import run_cycle
from config import load_config
from demo.corpus_server import CorpusServer

DEMO_CONFIG = Path(__file__).resolve().parents[1] / "config" / "demo.yaml"


def main() -> int:
    """Run the demo; returns the exit status."""
    with CorpusServer() as server:
        os.environ["OVERHEARD_DEMO_PORT"] = str(server.port)
        sites = ", ".join(server.base_url(site) for site in ("news", "homefixers", "streamsetup"))
        print(f"Serving the sample corpus at {sites}")
        config = load_config(DEMO_CONFIG)
        return run_cycle(DEMO_CONFIG, config.warehouse.path)


if __name__ == "__main__":
    sys.exit(main())
