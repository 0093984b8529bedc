"""The analysts' snapshot: a read-only copy of the warehouse, replaced atomically after each write.

DuckDB lets one process open a file for writing, and while it does, no other process can open that
file at all, not even read-only. So readers (analysts, `overheard summary`, reports) never open the
pipeline's file: after each committed write, the writer publishes a copy beside it,
`<stem>.read.duckdb`, and readers open that copy read-only.

How the copy is made, and why:

- `CHECKPOINT` writes every committed change into the file and empties the WAL; the file's bytes are
  then copied while the writer still holds its connection (and so the lock: no other process can write
  meanwhile). The copy is made by a child process: DuckDB's lock is a POSIX record lock, and the
  writer's process would lose it on closing any descriptor of the file, its own copy's included.
- The alternative, `ATTACH` a new file and `COPY FROM DATABASE`, gives the same snapshot but rebuilds
  every table and index: over 10x slower at a million mentions (bench/snapshot_publish.py).
- The copy is written to a temporary file beside the snapshot, synced to disk, then renamed onto
  the snapshot path (`os.replace`, atomic). A reader opens either the old file or the new one, never a
  half-written one (`open_snapshot` also makes sure DuckDB's two opens of the path got the same file);
  a reader that has the old one open keeps reading it until it closes.
- The copy carries a one-row table `snapshot_info` saying when it was published and by which run.
- A publisher killed mid-publish leaves its temporary copy, `<stem>.read.duckdb.<hex>.publishing`
  (a full copy of the warehouse). Each publisher holds an `flock` on its copy from creating it until
  it is renamed or removed, shared with the copying child process, and the kernel releases it when
  they die; so the next publisher removes every copy nobody holds, and leftovers never accumulate.
- A publish that fails (a full disk, say) raises `SnapshotNotPublished` with the cause: what was
  committed stays committed, and readers keep the previous snapshot until the next publish.
"""

from __future__ import annotations

import fcntl
import glob
import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path

import duckdb

from core.errors import OverheardError

SNAPSHOT_SUFFIX = ".read.duckdb"
# The temporary copy a publisher writes, `<snapshot>.<hex>.publishing`, before renaming it onto the snapshot.
PUBLISHING_SUFFIX = ".publishing"

# In the snapshot only (the pipeline's file has no such table): when it was published and by which run.
SNAPSHOT_INFO_COLUMNS = "published_at TIMESTAMPTZ NOT NULL, run_id VARCHAR"
_ALIAS = "overheard_publishing_snapshot"
_OPEN_ATTEMPTS = 5
# Run in a child process (see the module docstring): copy argv[1] to argv[2].
_COPY_FILE = "import shutil, sys; shutil.copyfile(sys.argv[1], sys.argv[2])"

logger = logging.getLogger(__name__)


class SnapshotNotPublished(OverheardError):
    """The warehouse committed, but its snapshot could not be replaced; the message gives the cause."""


def snapshot_path(warehouse_path: str | Path) -> Path:
    """Where the analysts' snapshot of a warehouse file is: `<dir>/<stem>.read.duckdb`.

    Args:
        warehouse_path: the pipeline's DuckDB file, e.g. `var/demo/overheard.duckdb`.

    Returns:
        The snapshot beside it, e.g. `var/demo/overheard.read.duckdb`.
    """
    path = Path(warehouse_path)
    return path.with_name(path.stem + SNAPSHOT_SUFFIX)


def publish_snapshot(
    connection: duckdb.DuckDBPyConnection, warehouse_path: str | Path, run_id: str | None = None
) -> Path:
    """Replace the snapshot with a copy of everything the warehouse has committed.

    Call it from the writer right after its commit, with the write connection still open, outside
    any transaction, and with no other connection of this process writing meanwhile. Inside a
    transaction that has changed something, DuckDB refuses (`duckdb.TransactionException`): rows not
    yet committed are never published.

    Args:
        connection: the writer's connection (`warehouse.connection.open_warehouse`).
        warehouse_path: the file that connection has open.
        run_id: the run (or the person) whose write this publishes; recorded in `snapshot_info`.

    Returns:
        The snapshot's path.
    """
    target = snapshot_path(warehouse_path)
    _remove_abandoned_copies(target)
    publishing, claim = _claim_copy(target)
    try:
        connection.execute("CHECKPOINT")
        _copy(Path(warehouse_path), publishing, claim)
        _record_publication(connection, publishing, run_id)
        _sync(publishing)
        # Nothing ever writes the snapshot, so a WAL beside it is a leftover of someone who opened it
        # read-write; DuckDB refuses to open the new file with it ("WAL does not match database file").
        Path(f"{target}.wal").unlink(missing_ok=True)
        os.replace(publishing, target)
    except BaseException as error:
        for leftover in (publishing, Path(f"{publishing}.wal")):
            leftover.unlink(missing_ok=True)
        if isinstance(error, (OSError, duckdb.IOException)):
            raise SnapshotNotPublished(
                f"the warehouse committed, but its snapshot {target} could not be published: {error}. Readers see "
                "the previous snapshot until the next publish (retrying the task publishes it)"
            ) from error
        raise
    finally:
        os.close(claim)
    _sync(target.parent)
    return target


def _claim_copy(snapshot: Path) -> tuple[Path, int]:
    """A new temporary copy's path beside the snapshot, and a descriptor holding an flock on it.

    A name unique per call, so that a file left by a killed publisher is never reused. Between
    creating the file and locking it, another publisher may take it for abandoned and remove it;
    the path is then checked to still be the locked file, and another name is tried if not.
    """
    while True:
        publishing = snapshot.with_name(f"{snapshot.name}.{uuid.uuid4().hex}{PUBLISHING_SUFFIX}")
        claim = os.open(publishing, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        fcntl.flock(claim, fcntl.LOCK_EX)
        if _names(publishing, claim):
            return publishing, claim
        os.close(claim)


def _remove_abandoned_copies(snapshot: Path) -> None:
    """Remove the temporary copies (and their WALs) that no living publisher holds: killed mid-publish."""
    pattern = f"{glob.escape(snapshot.name)}.*{PUBLISHING_SUFFIX}"
    for copy in sorted(snapshot.parent.glob(pattern)):
        try:
            descriptor = os.open(copy, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            continue  # a publisher at work
        try:
            if _names(copy, descriptor):
                copy.unlink()
                Path(f"{copy}.wal").unlink(missing_ok=True)
                logger.info("removed %s, left by a publisher that was killed", copy)
        finally:
            os.close(descriptor)
    for wal in snapshot.parent.glob(f"{pattern}.wal"):
        if not wal.with_suffix("").exists():
            wal.unlink(missing_ok=True)


def _names(path: Path, descriptor: int) -> bool:
    """Whether `path` is (still) the file open as `descriptor`."""
    try:
        status = path.stat()
    except FileNotFoundError:
        return False
    opened = os.fstat(descriptor)
    return (status.st_dev, status.st_ino) == (opened.st_dev, opened.st_ino)


def _copy(warehouse: Path, copy: Path, claim: int) -> None:
    """Copy the warehouse file's bytes into `copy` in a child process that shares the claim's flock."""
    copied = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _COPY_FILE, str(warehouse), str(copy)],
        pass_fds=(claim,), capture_output=True, text=True, check=False,
    )
    if copied.returncode != 0:
        lines = copied.stderr.strip().splitlines()
        raise OSError(f"copying {warehouse} failed: {lines[-1] if lines else f'exit status {copied.returncode}'}")


def _record_publication(connection: duckdb.DuckDBPyConnection, copy: Path, run_id: str | None) -> None:
    """Add `snapshot_info` to the copy (DETACH checkpoints it: the copy is left without a WAL)."""
    connection.execute(f"ATTACH '{_sql_string(copy)}' AS {_ALIAS}")
    try:
        connection.execute(f"CREATE TABLE {_ALIAS}.snapshot_info ({SNAPSHOT_INFO_COLUMNS})")
        connection.execute(f"INSERT INTO {_ALIAS}.snapshot_info VALUES (now(), ?)", [run_id])
    finally:
        connection.execute(f"DETACH {_ALIAS}")


def open_snapshot(snapshot: str | Path) -> duckdb.DuckDBPyConnection:
    """Open a published snapshot read-only, as the file its path names now.

    Two things make this more than `duckdb.connect(snapshot, read_only=True)`:

    - Within one process, connect() hands back the database already open for that path, which after
      a publish is the previous snapshot. The snapshot is attached to a fresh in-memory database
      instead, as the catalog `warehouse`, made the default one.
    - DuckDB opens the path twice: once to read the headers, then again to read the rest. A publish
      between the two would pair the old file's headers with the new file's blocks (seen as "No more
      data remaining in MetadataReader" about once in 600 opens under back-to-back publishes). So
      the file is identified before and after; when it changed, it is opened again.

    Args:
        snapshot: the snapshot file (`snapshot_path(warehouse_path)`).

    Raises:
        duckdb.IOException: the snapshot was replaced during every one of several attempts to open it.
    """
    snapshot = Path(snapshot)
    for _ in range(_OPEN_ATTEMPTS):
        published = _identity(snapshot)
        connection = duckdb.connect()
        try:
            connection.execute(f"ATTACH '{_sql_string(snapshot)}' AS warehouse (READ_ONLY)")
        except duckdb.Error:
            connection.close()
            if _identity(snapshot) == published:
                raise
            continue
        if _identity(snapshot) == published:
            connection.execute("USE warehouse")
            return connection
        connection.close()
    raise duckdb.IOException(f"{snapshot} was replaced while opening it, {_OPEN_ATTEMPTS} times: try again")


def _identity(path: Path) -> tuple[int, int, int, int]:
    """What tells one published file from the next at the same path."""
    status = path.stat()
    return status.st_dev, status.st_ino, status.st_mtime_ns, status.st_size


def _sql_string(path: Path) -> str:
    return str(path).replace("'", "''")


def _sync(path: Path) -> None:
    """Flush a file, or a directory's entries, to disk (POSIX). DuckDB holds no lock on it any more."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
