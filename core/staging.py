"""The files one run hands from task to task: local disk by default, any fsspec URL otherwise.

Tasks pass the URLs of these files to each other, never the mentions themselves, so on a
multi-machine Airflow the staging location can be object storage (s3://, gs://, abfs://) that
every worker reaches.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

import fsspec


class StagingArea:
    """The staging folder of one run: `{staging}/{run_id}/`.

    Args:
        base: the configured staging location (a local path or an fsspec URL).
        run_id: the Airflow run id (made safe for paths).
    """

    def __init__(self, base: str, run_id: str):
        self.root = f"{base.rstrip('/')}/{re.sub(r'[^A-Za-z0-9._-]+', '_', run_id)}"

    def url(self, *parts: str) -> str:
        """The URL of a file under this run's folder."""
        return "/".join([self.root, *parts])

    def write_json(self, name: str, document: Any) -> str:
        """Write one JSON document; returns its URL."""
        url = self.url(name)
        with fsspec.open(url, "w", encoding="utf-8", auto_mkdir=True) as handle:
            json.dump(document, handle, ensure_ascii=False, default=str)
        return url

    def write_jsonl(self, name: str, records: Iterable[dict[str, Any]]) -> str:
        """Write one JSON record per line; returns its URL."""
        url = self.url(name)
        with fsspec.open(url, "w", encoding="utf-8", auto_mkdir=True) as handle:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False, default=str))
                handle.write("\n")
        return url


def read_json(url: str) -> Any:
    """Read a JSON document written by `StagingArea.write_json`."""
    with fsspec.open(url, "r", encoding="utf-8") as handle:
        return json.load(handle)


def read_jsonl(url: str) -> Iterator[dict[str, Any]]:
    """Read the records written by `StagingArea.write_jsonl`."""
    with fsspec.open(url, "r", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)
