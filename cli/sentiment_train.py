"""`overheard sentiment train`: (issue 13, item 4) being built."""

from __future__ import annotations

import argparse

from config import Config


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    """Add the arguments of `overheard sentiment <name>`."""


def run(name: str, config: Config, arguments: argparse.Namespace) -> int:
    """Run `overheard sentiment <name>`; returns the exit status."""
    raise NotImplementedError(name)
