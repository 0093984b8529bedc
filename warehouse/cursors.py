"""Reading the per-source cursors (they are written by `warehouse.load`, with the mentions).

Cursors are read from what the warehouse committed, not from the analysts' snapshot: a load that
committed and then failed to publish its snapshot leaves the snapshot behind, and cursors read from
it would have the next run fetch again what was loaded (on X, paid reads). When another process
holds the warehouse file past the lock wait, the snapshot's cursors are used, with a warning: they
are never ahead of the committed ones, so the worst case is fetching again, and the load's upsert
doubles nothing.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from warehouse.connection import LOCK_WAIT_SECONDS, WarehouseLocked, read_committed, read_warehouse

logger = logging.getLogger(__name__)


def read_cursors(warehouse_path: str | Path, lock_wait_seconds: float = LOCK_WAIT_SECONDS) -> dict[str, Any]:
    """Every source's last committed cursor, keyed by source name; empty before the first load.

    Args:
        warehouse_path: the pipeline's DuckDB file.
        lock_wait_seconds: how long to wait for a writer to let go of the file before reading the snapshot.
    """
    try:
        connection = read_committed(warehouse_path, lock_wait_seconds)
    except WarehouseLocked as locked:
        logger.warning("%s Reading the cursors from the snapshot instead: sources may fetch again what it lags.", locked)
        connection = read_warehouse(warehouse_path)
    if connection is None:
        return {}
    with connection:
        tables = {row[0] for row in connection.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if "source_cursors" not in tables:
            return {}
        return {source: json.loads(cursor) for source, cursor in connection.execute("SELECT source, cursor FROM source_cursors").fetchall()}
