"""``OutboxWorker``: drains the outbox for every sink, never in the request path.

An asyncio task started in the app's lifespan leases due deliveries (``storage.outbox``), hands
each to its sink, and records every attempt. A failed attempt is retried with exponential
backoff and jitter until the delivery's ``expires_at``, then the delivery is failed. Since the
rows are in the database, a restart loses nothing: a lease held by a killed process runs out.

No target can hold the others up. Every attempt is a task of its own, bounded as a whole by its
sink's ``attempt_timeout_seconds`` of wall-clock time; each (sink, target) has
``per_target_concurrency`` slots, and the worker leases new rows only for targets with a free
slot and starts them at once, without waiting for the attempts already in flight. Order per item
is kept by the lease query, which holds back a delivery while an earlier one of the same item to
the same target is pending.

``run_once(now)`` is one step with an explicit time that waits for the attempts it started, so
tests drive the retry schedule without sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from foureyes._backoff import jittered_delay
from foureyes.server.audit.log import AuditLog
from foureyes.server.outbox.sink import Attempt, FailureReport, Sink
from foureyes.server.threads import run_blocking
from foureyes.storage import DELIVERY_FAILED, DELIVERY_PENDING, DELIVERY_SUCCEEDED, Database, DeliveryRecord
from foureyes.storage import outbox as deliveries
from foureyes.storage.outbox import Route

logger = logging.getLogger(__name__)

# The delay before retry n (n = 1 after the first failure) is BASE * 2**(n-1), capped at MAX,
# times a jitter factor in [1 - JITTER, 1 + JITTER): 5 s, 10 s, 20 s, ... about 6 h, so a
# target that is down for three days still gets about twenty attempts.
RETRY_BASE = timedelta(seconds=5)
RETRY_MAX = timedelta(hours=6)
JITTER = 0.2
BATCH = 20
# Attempts in flight at once in one worker, over all sinks and targets.
MAX_IN_FLIGHT = 64

T = TypeVar("T")


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def _in_thread(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    # The database calls are synchronous; the event loop must not wait on them, and a stopped
    # worker's call finishes before the service closes the database.
    return await run_blocking(fn, *args, **kwargs)


def retry_delay(failures: int, rng: Callable[[], float] = random.random) -> timedelta:
    """How long to wait after the ``failures``-th failed attempt (1-based)."""
    seconds = jittered_delay(
        failures, RETRY_BASE.total_seconds(), RETRY_MAX.total_seconds(), rng(), (1 - JITTER, 1 + JITTER)
    )
    return timedelta(seconds=seconds)


class OutboxWorker:
    def __init__(
        self,
        db: Database,
        sinks: Sequence[Sink],
        *,
        poll_interval_seconds: float = 5.0,
        clock: Callable[[], datetime] = _utcnow,
        rng: Callable[[], float] = random.random,
        audit: AuditLog | None = None,
    ) -> None:
        self.db = db
        # Every attempt's result is appended to the audit log with the attempt's own row.
        self._audit = audit
        self.sinks = {sink.name: sink for sink in sinks}
        self._poll = poll_interval_seconds
        self._clock = clock
        self._rng = rng
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        # attempts in flight per (sink, target), and their tasks
        self._busy: dict[Route, int] = {}
        self._attempts: set[asyncio.Task[None]] = set()
        # Told, in the recording transaction, of a delivery of a sink that ``flags_failures``
        # which failed for good (the app wires it to the domain's DeliveryFailures).
        self.on_failed: FailureReport | None = None

    async def run_once(self, now: datetime | None = None) -> int:
        """Send the deliveries due at ``now`` (default: the clock) that have a free slot, and
        wait for those attempts; how many were tried."""
        started = await self._dispatch(self._clock() if now is None else now)
        await asyncio.gather(*started)
        return len(started)

    def _claim(self, now: datetime, limit: int) -> list[DeliveryRecord]:
        with self.db.read() as conn:
            paused = {name: sink.paused_targets(conn) for name, sink in self.sinks.items()}
            # The worker is woken on every change: finding nothing due must not take the writer.
            if not deliveries.any_due(conn, now=now, paused=paused):
                return []
        # Longer than one attempt can take (it is bounded as a whole, and starts at once), short
        # enough that a killed worker's rows are soon picked up again.
        longest = max((s.attempt_timeout_seconds for s in self.sinks.values()), default=10.0)
        lease_until = now + timedelta(seconds=2 * longest + 5)
        slots = {name: sink.per_target_concurrency for name, sink in self.sinks.items()}
        with self.db.write() as tx:
            return deliveries.claim_due(
                tx.conn,
                now=now,
                lease_until=lease_until,
                limit=limit,
                paused=paused,
                busy=dict(self._busy),
                per_target=slots,
            )

    async def _dispatch(self, now: datetime) -> list[asyncio.Task[None]]:
        """Lease due deliveries for the targets with a free slot and start their attempts."""
        room = MAX_IN_FLIGHT - len(self._attempts)
        if room <= 0 or not self.sinks:
            return []
        claimed = await _in_thread(self._claim, now, min(BATCH, room))
        started: list[asyncio.Task[None]] = []
        for delivery in claimed:
            route = (delivery.sink, delivery.target)
            self._busy[route] = self._busy.get(route, 0) + 1
            task = asyncio.create_task(self._attempt(delivery, now))
            self._attempts.add(task)
            task.add_done_callback(functools.partial(self._release, route=route))
            started.append(task)
        return started

    def _release(self, task: asyncio.Task[None], route: Route) -> None:
        self._attempts.discard(task)
        left = self._busy.pop(route, 1) - 1
        if left > 0:
            self._busy[route] = left
        if self._wake is not None:
            self._wake.set()  # a slot is free: look for that target's next delivery
        if not task.cancelled() and task.exception() is not None:
            logger.error("delivery attempt failed unexpectedly", exc_info=task.exception())

    async def _try(self, sink: Sink | None, delivery: DeliveryRecord, now: datetime) -> Attempt:
        if sink is None:
            # A row of a channel this server does not run (configured on another replica, or
            # removed): retried until it expires, and visible in the delivery list meanwhile.
            return Attempt(error=f"no sink {delivery.sink!r} is configured on this server")
        try:
            # One wall-clock deadline for the whole attempt: a receiver sending a byte at a time
            # would otherwise hold it indefinitely.
            async with asyncio.timeout(sink.attempt_timeout_seconds):
                return await sink.deliver(delivery, now)
        except TimeoutError:
            return Attempt(error=f"timed out after {sink.attempt_timeout_seconds:g} s")

    async def _attempt(self, delivery: DeliveryRecord, now: datetime) -> None:
        started = time.monotonic()
        attempt = await self._try(self.sinks.get(delivery.sink), delivery, now)
        latency_ms = round((time.monotonic() - started) * 1000)
        if attempt.error is None:
            outcome, next_at = DELIVERY_SUCCEEDED, None
        elif attempt.permanent or now >= delivery.expires_at:
            outcome, next_at = DELIVERY_FAILED, None
        else:
            outcome = DELIVERY_PENDING
            delay = retry_delay(delivery.attempts + 1, self._rng)
            if attempt.retry_after is not None:
                delay = max(delay, timedelta(seconds=attempt.retry_after))
            next_at = min(now + delay, delivery.expires_at)
        await _in_thread(self._record, delivery, now, attempt, latency_ms, outcome, next_at)
        level = logging.INFO if outcome != DELIVERY_PENDING else logging.DEBUG
        logger.log(
            level,
            "%s %s %s (delivery %d, %s) to %s: %s",
            delivery.sink,
            delivery.message_id,
            delivery.event_type,
            delivery.id,
            delivery.call_id,
            delivery.target,
            outcome if attempt.error is None else f"{outcome} after {attempt.error}",
        )

    def _record(
        self,
        delivery: DeliveryRecord,
        now: datetime,
        attempt: Attempt,
        latency_ms: int,
        outcome: str,
        next_at: datetime | None,
    ) -> None:
        with self.db.write() as tx:
            deliveries.record_attempt(
                tx.conn,
                delivery.id,
                attempted_at=now,
                status_code=attempt.status_code,
                latency_ms=latency_ms,
                error=attempt.error,
                outcome=outcome,
                next_attempt_at=next_at,
            )
            sink = self.sinks.get(delivery.sink)
            if (
                outcome == DELIVERY_FAILED
                and self.on_failed is not None
                and sink is not None
                and sink.flags_failures
            ):
                self.on_failed(tx, delivery, attempt.error or "failed", now)
            if self._audit is not None:
                project_id = deliveries.project_of(tx.conn, delivery)
                self._audit.append(
                    tx,
                    "delivery_attempt",
                    project_id=project_id,
                    call_id=delivery.call_id,
                    actor={"key_id": None, "user_id": None, "channel": delivery.sink},
                    data={
                        "delivery_id": delivery.id,
                        "message_id": delivery.message_id,
                        "event_type": delivery.event_type,
                        "target": delivery.target,
                        "attempt": delivery.attempts + 1,
                        "status_code": attempt.status_code,
                        "error": attempt.error,
                        "outcome": outcome,
                    },
                )

    # ------------------------------------------------------------------ the background task

    def wake(self) -> None:
        """Look for work now rather than at the next poll. Safe to call from any thread."""
        if self._loop is not None and self._wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closing
                self._loop.call_soon_threadsafe(self._wake.set)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="foureyes-outbox")

    async def stop(self) -> None:
        """Stop looking for work and cut the attempts in flight: their leases run out and the
        deliveries are retried (with the same message id) by whichever worker runs next."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        attempts = list(self._attempts)
        for task in attempts:
            task.cancel()
        await asyncio.gather(*attempts, return_exceptions=True)
        for sink in self.sinks.values():
            await sink.aclose()

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            # Cleared before looking, so a wake that arrives while the lease query runs is kept.
            self._wake.clear()
            try:
                started = await self._dispatch(self._clock())
            except Exception:
                logger.exception("outbox step failed; retrying at the next poll")
                started = []
            if started:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll)
