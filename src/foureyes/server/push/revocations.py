"""Revocation that reaches live subscribers: a WebSocket, a long-poll or an inbox event stream
ends when the credential it was opened with stops being good.

A subscriber is authorised once, when it opens. What can end that authorisation later: its API
key is revoked; a personal token's owner loses their role in the project; a person is removed
from the project, signs out, or has their password reset (which ends every session); a session
expires. Each subscriber is in the registry (``registry.Registry``) with its ``Grant``.

Every change of that kind publishes ``REVOKED`` after its commit (``announce``), through the
service's notifier: in this process at once, and to every other replica through PostgreSQL's
LISTEN/NOTIFY (also from a CLI command). On that wake-up, and every ``recheck_seconds`` without
one, ``run`` re-checks every live subscriber of this process against the database in a few
batched queries (``storage.access``) and has the registry end those whose grant is gone. The
periodic check is the second line: a lost notification, or the CLI on SQLite (whose processes
share no notifier), cannot leave a stream open longer than one interval. As with every other
wake-up, the notification carries no data: the database says what is still allowed. ``run``
holds one subscription to ``REVOKED`` for as long as it runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from datetime import datetime

from foureyes.server.push.registry import Grant, KeyGrant, Registry, SessionGrant
from foureyes.server.push.topics import REVOKED, Notifier
from foureyes.server.threads import run_blocking
from foureyes.storage import Database
from foureyes.storage.access import AccessStore

logger = logging.getLogger(__name__)


class Revocations:
    def __init__(
        self,
        db: Database,
        notifier: Notifier,
        registry: Registry,
        clock: Callable[[], datetime],
        recheck_seconds: float,
    ) -> None:
        self._access = AccessStore(db)
        self._notifier = notifier
        self._registry = registry
        self._clock = clock
        self.recheck_seconds = recheck_seconds
        self.sweeps = 0  # re-checks that looked at the database, for tests and operators
        self.closed = 0  # subscribers ended by a revocation

    # ------------------------------------------------------------------ publishing

    def announce(self) -> None:
        """Call after committing a revocation: every replica re-checks its live subscribers."""
        self._notifier.publish(REVOKED)

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
        return grant in await run_blocking(self.allowed, (grant,))

    async def sweep(self) -> int:
        """End every live subscriber whose grant is gone; how many were ended."""
        live = self._registry.live()
        if not live:
            return 0
        self.sweeps += 1
        good = await run_blocking(self.allowed, {s.grant for s in live})
        gone = [s for s in live if s.grant not in good]
        if gone:
            logger.info("ending %d subscriber(s) whose key or access was revoked", len(gone))
            self.closed += await self._registry.end(gone)
        return len(gone)

    async def run(self) -> None:
        """Re-check on every revocation and every ``recheck_seconds``, until cancelled."""
        async with self._notifier.subscribe(REVOKED) as subscription:
            while True:
                await subscription.wait(self.recheck_seconds)
                try:
                    await self.sweep()
                except Exception:  # the database may be away for a moment: the next round retries
                    logger.exception("could not re-check live subscribers for revocations")
