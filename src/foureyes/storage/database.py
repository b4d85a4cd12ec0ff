"""``Database``: the unit of work. The domain composes a change as one closure over a ``Tx``.

::

    with db.write() as tx:                     # one transaction, committed on leaving the block
        item = items.complete(tx.conn, ...)    # repositories take the connection
        emitter.emit(tx, ItemDecided(item))    # change records in the same transaction
    # after the commit: tx.after_commit hooks (push topics, waking the outbox worker)

    item = db.write_grouped(decide)            # the same, but SQLite commits pieces together

``read()`` is a connection outside any write. On SQLite writes are serialised through one
in-process lock (SQLite has one writer anyway) and reads run concurrently in WAL mode; on
PostgreSQL writes run concurrently, from any number of replicas. Either way the races are
settled by the database, never by the lock: a repeated create hits a unique constraint, a change
that must happen at most once is a conditional UPDATE whose row count says who won.

``write_grouped`` is SQLite's group commit: work arriving while another thread holds the writer
is queued, and the next writer runs the whole queue in one transaction, each closure in a
savepoint of its own, so one fsync covers them all. A closure that raises is rolled back alone,
and only the closures whose work was committed run their after-commit hooks.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, Generic, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, event, select
from sqlalchemy.engine import CursorResult, make_url

from foureyes.storage import _postgres, _sqlite
from foureyes.storage.schema import webhook_endpoints
from foureyes.storage.sealing import SecretBox, key_file_for

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

T = TypeVar("T")


class DatabaseClosedError(RuntimeError):
    """A connection was asked of a ``Database`` after ``close()``."""


def _migrations_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


@functools.cache
def _head_revisions() -> frozenset[str]:
    return frozenset(ScriptDirectory.from_config(_migrations_config()).get_heads())


def _engine_for(url: str) -> Engine:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite.create_sqlite_engine(parsed)
    if backend in ("postgresql", "postgres"):
        return _postgres.create_postgres_engine(parsed)
    raise ValueError(f"unsupported database {backend!r}: use sqlite:/// or postgresql+psycopg://")


def inspect_database(
    url: str, query: Callable[[Connection], T]
) -> tuple[frozenset[str], frozenset[str], T | None]:
    """For ``foureyes doctor``: the migrations a database is at, the newest ones shipped, and
    ``query``'s answer (None unless the schema is current), without migrating the database or
    touching the secret key file."""
    engine = _engine_for(url)
    try:
        with engine.connect() as conn:
            current = frozenset(MigrationContext.configure(conn).get_current_heads())
            answer = query(conn) if current == _head_revisions() else None
        return current, _head_revisions(), answer
    finally:
        engine.dispose()


class Tx:
    """One write in progress: its connection, and what to do once it is committed."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._before: list[Callable[[], None]] = []
        self._after: list[Callable[[], None]] = []

    def execute(self, statement: Any, parameters: Any = None) -> CursorResult[Any]:
        return self.conn.execute(statement, parameters)

    def before_commit(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` in this transaction after the rest of its work (the audit log appends
        here, so its lock is the last one a transaction takes and is held only to the commit)."""
        self._before.append(hook)

    def _finish(self) -> None:
        while self._before:
            self._before.pop(0)()

    def after_commit(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` once this transaction is committed (never if it is rolled back)."""
        self._after.append(hook)

    def _committed(self) -> None:
        hooks, self._after = self._after, []
        for hook in hooks:
            try:
                hook()
            except Exception:
                # The change is stored; a failed wake-up only delays whoever it would have woken.
                logger.exception("after-commit hook failed")


class _Pending(Generic[T]):
    def __init__(self, work: Callable[[Connection], T]) -> None:
        self.work = work
        self.done = False
        self.result: T | None = None
        self.error: BaseException | None = None


class _GroupCommit:
    """Leader-follower group commit, with no thread of its own. A caller queues its work, then
    takes the writer lock; if the holder before it already ran the work, it only collects the
    result, otherwise it runs everything queued so far in one transaction. Only the holder of
    the writer lock empties the queue, and it marks its whole batch done before letting go."""

    def __init__(
        self, writer: threading.Lock, begin: Callable[[], AbstractContextManager[Connection]]
    ) -> None:
        self._writer = writer
        self._begin = begin
        self._lock = threading.Lock()
        self._queue: list[_Pending[Any]] = []

    def run(self, work: Callable[[Connection], T]) -> T:
        mine: _Pending[T] = _Pending(work)
        with self._lock:
            self._queue.append(mine)
        with self._writer:
            if not mine.done:
                self._run_queue()
        if mine.error is not None:
            raise mine.error
        return mine.result  # type: ignore[return-value]

    def _run_queue(self) -> None:
        with self._lock:
            batch, self._queue = self._queue, []
        try:
            with self._begin() as conn:
                for pending in batch:
                    try:
                        with conn.begin_nested():
                            pending.result = pending.work(conn)
                    except Exception as exc:
                        pending.error = exc
        except BaseException as exc:
            # The transaction as a whole failed: nothing of the batch is stored.
            for pending in batch:
                pending.result, pending.error = None, exc
        finally:
            for pending in batch:
                pending.done = True


class Database:
    def __init__(self, engine: Engine, box: SecretBox | None = None) -> None:
        self._engine = engine
        # Seals webhook secrets before they are written and opens them when read (sealing.py).
        self.box = box or SecretBox.from_file(
            key_file_for(engine.url.database if engine.dialect.name == "sqlite" else None)
        )
        # SQLite has one writer per database: taking it in the process first keeps threads from
        # queueing on its busy timeout. PostgreSQL takes row locks, so writes run side by side.
        self._write_lock: threading.Lock | None = threading.Lock() if self.dialect == "sqlite" else None
        self._read_autocommit = self.dialect == "postgresql"
        self._group = (
            _GroupCommit(self._write_lock, self._transaction) if self._write_lock is not None else None
        )
        # After close() no new connection is made: the engine's pool would otherwise start over
        # and hold it until the garbage collector finds it open (a late thread's work fails here).
        self._closed = False
        event.listen(engine, "do_connect", self._refuse_when_closed)

    def _refuse_when_closed(self, *_: Any) -> None:
        if self._closed:
            raise DatabaseClosedError(f"the database {self._engine.url!r} is closed")

    @classmethod
    def from_url(cls, url: str, *, secret_key_file: str | Path | None = None) -> Database:
        """``secret_key_file``: the key that seals webhook secrets; by default beside a SQLite
        database, else ``.foureyes/secret.key`` (created on first use)."""
        engine = _engine_for(url)
        try:
            return cls(engine, SecretBox.from_file(Path(secret_key_file)) if secret_key_file else None)
        except BaseException:
            engine.dispose()
            raise

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._engine.dialect.name

    def migrate(self) -> None:
        """Bring the schema to the newest migration; a no-op when it is already there."""
        config = _migrations_config()
        with self.write() as tx:
            if self.dialect == "postgresql":
                _postgres.lock_for_migrations(tx.conn)
            config.attributes["connection"] = tx.conn
            config.attributes["secret_box"] = self.box  # 0005 seals the secrets already stored
            command.upgrade(config, "head")
            # A wrong key file fails here, before the server opens its port, not at delivery.
            stored = tx.conn.execute(select(webhook_endpoints.c.secret).limit(1)).scalar()
            if stored is not None:
                self.box.open(stored)

    def schema_revisions(self) -> tuple[frozenset[str], frozenset[str]]:
        """The migrations the database is at and the newest ones shipped (equal when current).
        Raises SQLAlchemy's errors when the database cannot be reached."""
        with self.read() as conn:
            current = frozenset(MigrationContext.configure(conn).get_current_heads())
        return current, _head_revisions()

    def close(self) -> None:
        self._closed = True
        self._engine.dispose()

    @contextmanager
    def write(self) -> Iterator[Tx]:
        """A write transaction, committed when the block ends; then its after-commit hooks."""
        with self._write_lock or nullcontext(), self._transaction() as conn:
            tx = Tx(conn)
            yield tx
            tx._finish()
        tx._committed()

    def write_grouped(self, work: Callable[[Tx], T]) -> T:
        """``work`` in a write transaction, committed (with its hooks run) before this returns;
        on SQLite possibly in one commit with other threads' work (see the module docstring)."""
        if self._group is None:
            with self.write() as tx:
                return work(tx)
        txs: list[Tx] = []

        def piece(conn: Connection) -> T:
            tx = Tx(conn)
            txs[:] = [tx]
            result = work(tx)
            tx._finish()
            return result

        result = self._group.run(piece)
        for tx in txs:
            tx._committed()
        return result

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self._engine.connect() as conn:
            if self._read_autocommit:
                # PostgreSQL, READ COMMITTED: every statement sees its own snapshot inside a
                # transaction too, so reading without one sees the same and saves the BEGIN and
                # ROLLBACK round trips around each read.
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn

    @contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """A read-only transaction that sees one moment throughout, for readers that hold many
        tables against each other while writers go on (``audit verify``). On PostgreSQL it is
        REPEATABLE READ; on SQLite a read transaction in WAL mode is a snapshot already."""
        with self._engine.connect() as conn:
            if self.dialect == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            with conn.begin():
                yield conn

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        with self._engine.connect() as conn:
            conn.execution_options(**{_sqlite.WRITE_OPTION: True})
            with conn.begin():
                yield conn
