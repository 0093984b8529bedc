"""One desk server per warehouse: a lock file beside the warehouse, `<stem>.desk.lock`, held while it serves.

The desk's writer is the one writer of desk actions and sign-ins to the warehouse, and claims are
atomic because one server checks them one after the other; a second server on the same warehouse
would be a second writer. So `overheard desk` takes this lock before it serves, and when another
server holds it, stops at once and names that server (its pid and address) and what to do.

The lock is an advisory `flock` on the open file, which the kernel lets go when the process ends,
however it ends: the file a killed server leaves behind blocks nobody, and the next server simply
writes itself into it.

    with DeskServerLock(config.warehouse.path, "127.0.0.1", 8770):
        uvicorn.run(app, ...)
"""

from __future__ import annotations

import fcntl
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

DESK_LOCK_SUFFIX = ".desk.lock"


class DeskAlreadyServed(Exception):
    """Another desk server serves the warehouse; the message names it and says what to do."""


def desk_lock_path(warehouse_path: str | Path) -> Path:
    """Where the desk server lock of a warehouse file is: `<dir>/<stem>.desk.lock`."""
    path = Path(warehouse_path)
    return path.with_name(path.stem + DESK_LOCK_SUFFIX)


class DeskServerLock:
    """The lock this process holds while it serves the desk of a warehouse.

    Args:
        warehouse_path: the pipeline's DuckDB file.
        host: the address this server listens on (written in the lock, for the message a second server gives).
        port: its port.
    """

    def __init__(self, warehouse_path: str | Path, host: str, port: int):
        self.warehouse_path = Path(warehouse_path)
        self.path = desk_lock_path(warehouse_path)
        self.host = host
        self.port = port
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or refuse at once.

        Raises:
            DeskAlreadyServed: another desk server holds it (the message names its pid and address).
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            raise DeskAlreadyServed(self._refusal(holder)) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({
            "pid": os.getpid(), "host": self.host, "port": self.port,
            "started_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        }).encode(), 0)
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        """Let go of the lock (the file stays, empty)."""
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)
        os.close(self._fd)  # closing the last descriptor of the open file releases the flock
        self._fd = None

    def __enter__(self) -> DeskServerLock:
        self.acquire()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.release()

    def _refusal(self, holder: dict[str, object]) -> str:
        where = self.warehouse_path
        if not holder:  # it took the lock a moment ago and has not written itself in yet
            return (f"Another desk server is starting on this warehouse ({where}): use that one, or stop it and "
                    f"start this one again (the lock is {self.path}).")
        pid, address = holder.get("pid"), f"{holder.get('host')}:{holder.get('port')}"
        return (f"Another desk server already serves this warehouse ({where}): pid {pid} at http://{address}/ "
                f"(started {holder.get('started_at')}). Open that one, or stop it (kill {pid}) and start this one "
                "again. One server per warehouse: its writer is the one writer of desk actions.")


def _read(fd: int) -> dict[str, object]:
    """What the holder wrote in the lock file (empty when nothing yet)."""
    try:
        holder = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except ValueError:
        return {}
    return holder if isinstance(holder, dict) else {}
