"""One serving process per SQLite database: an exclusive lock file beside it, held for life.

A server keeps its live waiters (long-polls, WebSockets, inbox streams) in memory and wakes them
from its own commits; on SQLite nothing carries a wake-up to another process. A second
``foureyes serve`` on the same file would store everything correctly yet leave an agent waiting
on one process deaf to a decision made through the other. So the server takes
``foureyes.db.lock`` with ``flock`` before it opens the database and keeps it until it stops;
the kernel drops the lock when the process dies, however it dies, so a stale file never blocks
a restart. Commands that open the database briefly (``keys``, ``users``, ``webhooks``) do not
take it and keep working beside a running server. PostgreSQL carries wake-ups between replicas
(LISTEN/NOTIFY), so no lock is taken there.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from sqlalchemy.engine import make_url


class DatabaseInUseError(SystemExit):
    """Another process is serving this SQLite database. A ``SystemExit`` with a message, so
    ``foureyes serve`` ends with that one sentence (status 1) rather than a traceback."""


class ServerLock:
    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    def release(self) -> None:
        """Idempotent. The file stays: removing it would let a third process lock a new file
        while a second still holds the old one."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def lock_file_for(database_url: str) -> Path | None:
    """``foureyes.db.lock`` beside a SQLite database (symlinks resolved), or None (PostgreSQL)."""
    parsed = make_url(database_url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    database = Path(parsed.database).resolve()
    return database.with_name(database.name + ".lock")


def acquire_server_lock(database_url: str) -> ServerLock | None:
    """Take the database's server lock, or raise ``DatabaseInUseError`` naming who holds it."""
    path = lock_file_for(database_url)
    if path is None:
        return None
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode("ascii", "replace").strip()
        os.close(fd)
        who = f"process {holder}" if holder.isdigit() else "another process"
        raise DatabaseInUseError(
            f"foureyes: another foureyes server ({who}) is already serving {path.with_suffix('')}; "
            "a second one would miss the first one's decisions. Stop it first, or use "
            "PostgreSQL to run several replicas on one database."
        ) from None
    except BaseException:
        os.close(fd)
        raise
    # Who holds it, for the message above; written only once the lock is ours.
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return ServerLock(path, fd)
