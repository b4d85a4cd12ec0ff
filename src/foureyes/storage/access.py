"""``AccessStore``: which of many open streams' credentials are still good, in a few queries.

The server re-checks every open WebSocket and inbox stream after a revocation and periodically;
these queries answer for a whole batch at once (``CHUNK`` ids per query), so the cost of a
check grows with the number of streams divided by ``CHUNK``, not with the number of streams.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import and_, or_, select

from foureyes.storage.database import Database
from foureyes.storage.schema import api_keys, memberships, sessions

CHUNK = 500

T = TypeVar("T")


def _chunks(values: Iterable[T]) -> Iterator[Sequence[T]]:
    batch = sorted(set(values))  # type: ignore[type-var]
    for start in range(0, len(batch), CHUNK):
        yield batch[start : start + CHUNK]


class AccessStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def live_keys(self, key_ids: Iterable[int]) -> set[int]:
        """The keys among ``key_ids`` that still authenticate: not revoked and, for a personal
        token, whose owner still has a role in the token's project."""
        owner_role = and_(
            memberships.c.user_id == api_keys.c.user_id, memberships.c.project_id == api_keys.c.project_id
        )
        live: set[int] = set()
        with self._db.read() as conn:
            for batch in _chunks(key_ids):
                query = (
                    select(api_keys.c.id)
                    .select_from(api_keys.outerjoin(memberships, owner_role))
                    .where(
                        api_keys.c.id.in_(batch),
                        api_keys.c.revoked_at.is_(None),
                        or_(api_keys.c.user_id.is_(None), memberships.c.id.is_not(None)),
                    )
                )
                live.update(int(row.id) for row in conn.execute(query))
        return live

    def live_session_projects(self, token_hashes: Iterable[str], *, now: datetime) -> set[tuple[str, int]]:
        """``(session hash, project id)`` for every unexpired session among ``token_hashes`` and
        every project its person has a role in."""
        live: set[tuple[str, int]] = set()
        with self._db.read() as conn:
            for batch in _chunks(token_hashes):
                query = (
                    select(sessions.c.token_hash, memberships.c.project_id)
                    .join(memberships, memberships.c.user_id == sessions.c.user_id)
                    .where(sessions.c.token_hash.in_(batch), sessions.c.expires_at > now)
                )
                live.update((str(row.token_hash), int(row.project_id)) for row in conn.execute(query))
        return live
