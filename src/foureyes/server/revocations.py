"""Revocation that reaches open streams: a WebSocket or an inbox event stream ends when the
credential it was opened with stops being good.

A stream is authorised once, when it opens. What can end that authorisation later: its API key
is revoked; a personal token's owner loses their role in the project; a person is removed from
the project, signs out, or has their password reset (which ends every session); a session
expires. Each stream registers here with its ``Grant`` and a callback that closes it.

Every change of that kind publishes ``REVOKED`` after its commit, through the service's notifier:
in this process at once, and to every other replica through PostgreSQL's LISTEN/NOTIFY (also
from a CLI command). On that wake-up, and every ``recheck_seconds`` without one, ``run``
re-checks every open stream of this process against the database in a few batched queries
(``storage.access``) and closes those whose grant is gone. The periodic check is the second line:
a lost notification, or the CLI on SQLite (whose processes share no notifier), cannot leave a
stream open longer than one interval. As with every other wake-up, the notification carries no
data: the database says what is still allowed.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime

import anyio.to_thread

from foureyes.server.notifier import Notifier, Topic
from foureyes.storage import Database
from foureyes.storage.access import AccessStore

logger = logging.getLogger(__name__)

# Project ids start at 1: no item or project topic is ever (0, ...).
REVOKED: Topic = (0, "revoked", "")


@dataclass(frozen=True)
class KeyGrant:
    """A stream opened with an API key (a WebSocket): good while the key authenticates."""

    key_id: int


@dataclass(frozen=True)
class SessionGrant:
    """A person's inbox stream of one project: good while the sign-in session lasts and the
    person has a role in the project. ``session_hash`` is the stored hash of the cookie."""

    session_hash: str
    project_id: int


Grant = KeyGrant | SessionGrant
OnRevoked = Callable[[], Awaitable[None]]


class Revocations:
    def __init__(
        self, db: Database, notifier: Notifier, clock: Callable[[], datetime], recheck_seconds: float
    ) -> None:
        self._access = AccessStore(db)
        self._notifier = notifier
        self._clock = clock
        self.recheck_seconds = recheck_seconds
        self._open: dict[int, tuple[Grant, OnRevoked]] = {}
        self._handles = itertools.count(1)
        self.sweeps = 0  # re-checks that looked at the database, for tests and operators
        self.closed = 0  # streams closed by a revocation

    # ------------------------------------------------------------------ publishing

    def announce(self) -> None:
        """Call after committing a revocation: every replica re-checks its open streams."""
        self._notifier.publish(REVOKED)

    # ------------------------------------------------------------------ registering streams

    def add(self, grant: Grant, on_revoked: OnRevoked) -> int:
        """Watch a stream; ``on_revoked`` is awaited (once) when its grant is gone. Returns the
        handle for ``discard``."""
        handle = next(self._handles)
        self._open[handle] = (grant, on_revoked)
        return handle

    def discard(self, handle: int) -> None:
        self._open.pop(handle, None)

    @property
    def open_count(self) -> int:
        return len(self._open)

    # ------------------------------------------------------------------ checking

    def allowed(self, grants: Collection[Grant]) -> set[Grant]:
        """The grants that are still good (blocking: call it on a worker thread)."""
        key_ids = {g.key_id for g in grants if isinstance(g, KeyGrant)}
        hashes = {g.session_hash for g in grants if isinstance(g, SessionGrant)}
        live_keys = self._access.live_keys(key_ids) if key_ids else set()
        live_sessions = self._access.live_session_projects(hashes, now=self._clock()) if hashes else set()

        def good(grant: Grant) -> bool:
            if isinstance(grant, KeyGrant):
                return grant.key_id in live_keys
            return (grant.session_hash, grant.project_id) in live_sessions

        return {grant for grant in grants if good(grant)}

    async def still_allowed(self, grant: Grant) -> bool:
        return grant in await anyio.to_thread.run_sync(self.allowed, (grant,))

    async def sweep(self) -> int:
        """Close every open stream whose grant is gone; how many were closed."""
        entries = dict(self._open)
        if not entries:
            return 0
        self.sweeps += 1
        good = await anyio.to_thread.run_sync(self.allowed, {grant for grant, _ in entries.values()})
        gone = [(h, close) for h, (grant, close) in entries.items() if grant not in good]
        for handle, _ in gone:
            self.discard(handle)
        if gone:
            logger.info("closing %d stream(s) whose key or access was revoked", len(gone))
            await asyncio.gather(*(close() for _, close in gone), return_exceptions=True)
            self.closed += len(gone)
        return len(gone)

    async def run(self) -> None:
        """Re-check on every revocation and every ``recheck_seconds``, until cancelled."""
        async with self._notifier.subscribe(REVOKED) as subscription:
            while True:
                await subscription.wait(self.recheck_seconds)
                try:
                    await self.sweep()
                except Exception:  # the database may be away for a moment: the next round retries
                    logger.exception("could not re-check open streams for revocations")
