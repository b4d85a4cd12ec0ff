"""PostgreSQL connection set-up: the psycopg 3 driver, durable commits, one migrator at a time.

Several replicas share one database, so unlike SQLite nothing here is serialised in the process:
races are settled by the database (unique constraints, conditional UPDATEs, row locks), see
``store.py``.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL

logger = logging.getLogger(__name__)

# Any constant works; it only has to be the same in every replica (pg_advisory_xact_lock key).
MIGRATION_LOCK_KEY = 0x666F75726579
POOL_SIZE = 40


def normalise_url(url: URL) -> URL:
    """``postgresql://`` and ``postgres://`` mean psycopg 3 here: it is the driver we ship."""
    if url.drivername in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+psycopg")
    return url


def create_postgres_engine(url: URL) -> Engine:
    engine = create_engine(
        normalise_url(url),
        # A replica outlives database restarts: a dead pooled connection is replaced, not used.
        pool_pre_ping=True,
        # Sized like SQLite's, for the same reason: connections beyond the pool's size are
        # closed when returned, and a new PostgreSQL connection costs milliseconds. They are
        # opened only as the load needs them.
        pool_size=POOL_SIZE,
        max_overflow=10,
    )
    event.listen(engine, "connect", _on_connect)
    return engine


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    # An acknowledged create or decision must survive a crash of the database server too. The
    # server's own setting is kept unless it is `off`, which would acknowledge before the WAL is
    # flushed; `local`, `remote_write`, `on` and `remote_apply` are all durable locally.
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        row = cursor.fetchone()
        if row is not None and row[0] == "off":
            cursor.execute("SET synchronous_commit = on")
    dbapi_connection.commit()


def lock_for_migrations(conn: Connection) -> None:
    """Held until the migration transaction ends: replicas starting together migrate one by one,
    and the later ones find the schema already at head (PostgreSQL DDL is transactional)."""
    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
