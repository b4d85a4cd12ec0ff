"""``ExpiryTask``: completes requests whose deadline passed, on the server, never on a client.

An asyncio task started in the app's lifespan. Each step expires every pending item whose
``expires_at`` has come (``Decisions.expire``, the one decision path: waiters wake and webhooks
fire as for a human's decision), then sleeps until the next known deadline, at most
``poll_interval_seconds``. The poll finds deadlines other replicas stored; ``wake_for(at)``,
called after a local create commits, shortens a sleep that would overrun a new deadline. Every
replica runs the task: the conditional UPDATE that completes an item lets exactly one win, and
since the deadlines are rows, a restart picks up where the last process stopped.

The same task fires the steps of projects' escalation chains (``EscalationChains``, when given):
their exactly-once is the same kind of conditional UPDATE, and the next step due shortens the
sleep as the next deadline does.

``run_once(now)`` is one step with an explicit time, for tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from foureyes.server.domain.chains import EscalationChains
from foureyes.server.domain.decisions import Decisions
from foureyes.server.threads import run_blocking
from foureyes.storage import Database
from foureyes.storage import items as item_rows

logger = logging.getLogger(__name__)

BATCH = 100


class ExpiryTask:
    def __init__(
        self,
        db: Database,
        decisions: Decisions,
        clock: Callable[[], datetime],
        *,
        poll_interval_seconds: float,
        chains: EscalationChains | None = None,
    ) -> None:
        self._db = db
        self._chains = chains
        # how many escalation steps the last run_once fired
        self.escalated = 0
        self._decisions = decisions
        self._clock = clock
        self._poll = poll_interval_seconds
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._next: datetime | None = None

    def run_once(self, now: datetime) -> int:
        """Expire what is due at ``now``; how many items this call expired (others' wins are
        not counted). Remembers the next deadline still ahead."""
        expired = 0
        while True:
            with self._db.read() as conn:
                due = item_rows.due_for_expiry(conn, now, BATCH)
            for item in due:
                if self._decisions.expire(item) is not None:
                    expired += 1
            if len(due) < BATCH:
                break
        with self._db.read() as conn:
            self._next = item_rows.next_deadline(conn)
        if self._chains is not None:
            self.escalated, step_due = self._chains.run_once(now)
            if step_due is not None and (self._next is None or step_due < self._next):
                self._next = step_due
        return expired

    def _sleep_seconds(self) -> float:
        if self._next is None:
            return self._poll
        return max(0.0, min(self._poll, (self._next - self._clock()).total_seconds()))

    # ------------------------------------------------------------------ the background task

    def wake_for(self, at: datetime) -> None:
        """A deadline ``at`` was stored: make sure the task looks then. Safe from any thread."""
        loop, wake = self._loop, self._wake
        if loop is None or wake is None:
            return

        def nearer() -> None:
            if self._next is None or at < self._next:
                self._next = at
                wake.set()

        with contextlib.suppress(RuntimeError):  # the loop is closing
            loop.call_soon_threadsafe(nearer)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="foureyes-expiry")

    async def stop(self) -> None:
        self._loop = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            self._wake.clear()
            try:
                count = await run_blocking(self.run_once, self._clock())
                if count:
                    logger.info("expired %d request(s) whose deadline passed", count)
                if self.escalated:
                    logger.info("fired %d escalation step(s)", self.escalated)
            except Exception:
                logger.exception("expiry step failed; retrying at the next poll")
                self._next = None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._sleep_seconds())
