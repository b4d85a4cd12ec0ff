"""``ThrottleStore``: sign-in failure counters in the database, shared by every replica.

A counter is one row of ``login_throttle``. ``reserve`` counts a failure on several counters in
one transaction *before* the password is checked, with one ``INSERT ... ON CONFLICT DO UPDATE
... RETURNING`` per counter, so two sign-ins racing on the same counter are serialised by the
row (PostgreSQL's row lock; SQLite's single writer) and each sees the other's count. When any
counter is locked the transaction is rolled back: a refused attempt changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, String, bindparam, case, func, select
from sqlalchemy.dialects import postgresql, sqlite

from foureyes.storage.database import Database
from foureyes.storage.schema import login_throttle
from foureyes.storage.schema_base import UTCDateTime


@dataclass(frozen=True)
class Counter:
    """One thing counted: ``key`` is already hashed; ``limit`` failures lock it."""

    key: str
    scope: str
    limit: int


class _LockedError(Exception):
    def __init__(self, until: datetime) -> None:
        self.until = until


class ThrottleStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._insert: Any = postgresql.insert if db.dialect == "postgresql" else sqlite.insert
        self._statements: dict[int, Any] = {}

    def _counting(self, n: int) -> Any:
        """One statement that counts a failure on ``n`` counters, built once (and compiled once)."""
        if n not in self._statements:
            table = login_throttle
            now = bindparam("now", type_=UTCDateTime())
            expires_at = bindparam("expires_at", type_=UTCDateTime())
            stale = table.c.expires_at <= now  # a row not pruned yet counts as gone
            rows = [
                {
                    "key": bindparam(f"key_{i}", type_=String()),
                    "scope": bindparam(f"scope_{i}", type_=String()),
                    "failures": 1,
                    "expires_at": expires_at,
                }
                for i in range(n)
            ]
            self._statements[n] = (
                self._insert(table)
                .values(rows)
                .on_conflict_do_update(
                    index_elements=[table.c.key],
                    set_={
                        "failures": case((stale, 1), else_=table.c.failures + 1),
                        "locked_until": case((stale, None), else_=table.c.locked_until),
                        "expires_at": expires_at,
                    },
                )
                .returning(table.c.key, table.c.failures, table.c.locked_until)
            )
        return self._statements[n]

    def reserve(
        self,
        counters: Sequence[Counter],
        *,
        now: datetime,
        lockout: Callable[[int], float],
        forget_after: timedelta,
    ) -> datetime | None:
        """Count one more failure on every counter, unless one is locked: then change nothing
        and return when that lock ends. A counter reaching its limit is locked at once for
        ``lockout(failures - limit)`` seconds, so racing attempts after it are refused."""
        table = login_throttle
        # Its rows are taken in one order by every sign-in, so two of them never wait on each
        # other in a cycle.
        ordered = sorted(counters, key=lambda c: c.key)
        params: dict[str, Any] = {"now": now, "expires_at": now + forget_after}
        for i, counter in enumerate(ordered):
            params[f"key_{i}"], params[f"scope_{i}"] = counter.key, counter.scope
        statement = self._counting(len(ordered))

        def count(conn: Connection) -> None:
            counted = {row.key: row for row in conn.execute(statement, params)}
            locks = [r.locked_until for r in counted.values() if r.locked_until and r.locked_until > now]
            if locks:
                raise _LockedError(max(locks))  # rolls the count back
            for counter in ordered:
                failures = counted[counter.key].failures
                if failures >= counter.limit:
                    until = now + timedelta(seconds=lockout(failures - counter.limit))
                    conn.execute(
                        table.update()
                        .where(table.c.key == counter.key)
                        .values(locked_until=until, expires_at=until + forget_after)
                    )

        try:
            # On SQLite, sign-ins arriving together share one commit (each in a savepoint).
            self._db.write_grouped(lambda tx: count(tx.conn))
        except _LockedError as locked:
            return locked.until
        return None

    def release(self, clear: Sequence[Counter], give_back: Sequence[Counter]) -> None:
        """After a right password: forget the ``clear`` counters, and take this attempt's
        failure back from the ``give_back`` ones (unlocking one that it alone brought to its
        limit)."""
        table = login_throttle
        cleared = {c.key for c in clear}
        with self._db.write() as conn:
            # The rows in the order reserve takes them, so the two cannot deadlock.
            for counter in sorted([*clear, *give_back], key=lambda c: c.key):
                row = table.c.key == counter.key
                if counter.key in cleared:
                    conn.execute(table.delete().where(row))
                    continue
                failures = table.c.failures - 1
                conn.execute(
                    table.update()
                    .where(row, table.c.failures > 0)
                    .values(
                        failures=failures,
                        locked_until=case((failures < counter.limit, None), else_=table.c.locked_until),
                    )
                )

    def prune(self, *, now: datetime) -> int:
        """Delete the rows that have expired; their number."""
        with self._db.write() as conn:
            return int(
                conn.execute(login_throttle.delete().where(login_throttle.c.expires_at <= now)).rowcount
            )

    def count_rows(self) -> int:
        with self._db.read() as conn:
            return int(conn.execute(select(func.count()).select_from(login_throttle)).scalar_one())
