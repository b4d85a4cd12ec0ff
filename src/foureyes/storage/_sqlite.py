"""SQLite connection set-up: durability pragmas and explicit transactions.

Python's sqlite3 module opens transactions lazily and commits behind the caller's back before DDL.
It is switched off and SQLAlchemy's ``begin`` emits the BEGIN itself (the recipe from SQLAlchemy's
SQLite documentation), which also lets a write transaction start with BEGIN IMMEDIATE: it takes
the write lock up front, so a write that first reads cannot fail half-way with SQLITE_BUSY when
another process (e.g. ``foureyes keys create``) wrote in between.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL

logger = logging.getLogger(__name__)

# Execution option set on a connection by Database.write.
WRITE_OPTION = "foureyes_write"

BUSY_TIMEOUT_MS = 10_000
POOL_SIZE = 40


def create_sqlite_engine(url: URL) -> Engine:
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        raise ValueError(
            "an in-memory SQLite database cannot be shared between threads; use a file, "
            "e.g. sqlite:///.foureyes/foureyes.db"
        )
    create_private_file(Path(database))
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
        # Enough for every worker thread (anyio runs up to 40) to keep its connection: a
        # connection beyond the pool's size is closed when returned and reopened with its
        # pragmas on the next burst, which cost more than the query itself under load.
        pool_size=POOL_SIZE,
        max_overflow=10,
    )
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _on_begin)
    return engine


def create_private_file(path: Path) -> None:
    """The database file, 0600 (new directories 0700), before SQLite opens it: it holds the
    whole approval history, and SQLite gives its -wal and -shm files the same mode. An existing
    file open to other users is narrowed to its owner."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        if mode & 0o077:
            try:
                os.fchmod(fd, mode & 0o700)
                logger.warning("%s could be read by other users: narrowed to mode %o", path, mode & 0o700)
            except OSError as exc:
                logger.warning("%s can be read by other users (mode %o): %s", path, mode, exc)
    finally:
        os.close(fd)


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before the answer goes out, so SIGKILL loses nothing
        # acknowledged (NORMAL could lose the last transactions on power loss).
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _on_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
