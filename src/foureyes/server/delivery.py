"""The webhook delivery worker: drains the outbox, never the request path.

The service writes one outbox row per (event, subscribed endpoint) in the transaction of the
change. This worker, an asyncio task started in the app's lifespan, leases due rows (a
conditional UPDATE of ``locked_until``, so several workers or replicas never send the same row
at once), POSTs each with a Standard Webhooks signature, and records every attempt. Any 2xx is
success; anything else is retried with exponential backoff and jitter until the delivery's
``expires_at`` (``webhook_retry_max_seconds`` after the event), then it is failed. Every retry
carries the same ``webhook-id`` and body. Since the rows are in the database, a restart loses
nothing: a lease held by a killed process simply runs out.

No receiver can hold the others up. Every attempt is a task of its own, bounded as a whole
(resolving, connecting, sending, reading) by ``webhook_timeout_seconds`` of wall-clock time, and
reads at most ``webhook_max_response_bytes`` of the answer. Each endpoint has
``webhook_endpoint_concurrency`` slots: the worker leases new rows only for endpoints with a free
slot and starts them at once, without waiting for the attempts already in flight, so a slow
endpoint fills its own slots and nobody else's. Order per item is kept by the lease query, which
holds back a delivery while an earlier one of the same item to the same endpoint is pending.

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
from collections.abc import AsyncGenerator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

import httpx

from foureyes._backoff import jittered_delay
from foureyes.server.settings import Settings
from foureyes.server.ssrf import UnsafeURLError, check_url_async
from foureyes.storage import (
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    DELIVERY_SUCCEEDED,
    DeliveryRecord,
    Storage,
    WebhookEndpointRecord,
)
from foureyes.webhooks import sign

logger = logging.getLogger(__name__)

# The delay before retry n (n = 1 after the first failure) is BASE * 2**(n-1), capped at MAX,
# times a jitter factor in [1 - JITTER, 1 + JITTER): 5 s, 10 s, 20 s, ... about 6 h, so a
# receiver that is down for three days still gets about twenty attempts.
RETRY_BASE = timedelta(seconds=5)
RETRY_MAX = timedelta(hours=6)
JITTER = 0.2
BATCH = 20
# Attempts in flight at once in one worker, over all endpoints (and the HTTP client's pool).
MAX_IN_FLIGHT = 64
USER_AGENT = "foureyes-webhooks"

T = TypeVar("T")


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def _in_thread(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``fn`` on a worker thread. Cancelled (the worker is stopping), it still waits for ``fn``:
    a storage call cut loose would hand its connection back after the pool was closed."""
    future = asyncio.ensure_future(asyncio.to_thread(fn, *args, **kwargs))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await future
        raise


def retry_delay(failures: int, rng: Callable[[], float] = random.random) -> timedelta:
    """How long to wait after the ``failures``-th failed attempt (1-based)."""
    seconds = jittered_delay(
        failures, RETRY_BASE.total_seconds(), RETRY_MAX.total_seconds(), rng(), (1 - JITTER, 1 + JITTER)
    )
    return timedelta(seconds=seconds)


def signed_headers(
    delivery: DeliveryRecord, endpoint: WebhookEndpointRecord, now: datetime
) -> dict[str, str]:
    timestamp = int(now.timestamp())
    body = delivery.payload.encode("utf-8")
    signatures = " ".join(
        sign(secret, delivery.webhook_id, timestamp, body) for secret in endpoint.signing_secrets(now)
    )
    return {
        "content-type": "application/json",
        # a compressed answer is not read: its size on the wire is what the read cap counts
        "accept-encoding": "identity",
        "user-agent": USER_AGENT,
        "webhook-id": delivery.webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
    }


async def read_capped(response: httpx.Response, limit: int) -> bytes:
    """At most ``limit`` bytes of the body, as sent (not decompressed); the rest stays unread."""
    taken = bytearray()
    stream = cast(AsyncGenerator[bytes, None], response.aiter_raw())
    async with contextlib.aclosing(stream) as chunks:
        async for chunk in chunks:
            taken += chunk[: limit - len(taken)]
            if len(taken) >= limit:
                break
    return bytes(taken)


class DeliveryWorker:
    def __init__(
        self,
        storage: Storage,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = _utcnow,
        rng: Callable[[], float] = random.random,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.storage = storage
        self.settings = settings
        self._clock = clock
        self._rng = rng
        self._client = httpx.AsyncClient(
            timeout=settings.webhook_timeout_seconds,
            follow_redirects=False,  # a redirect could lead past the SSRF guard
            trust_env=False,
            transport=transport,
            limits=httpx.Limits(max_connections=MAX_IN_FLIGHT),
        )
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        # attempts in flight per endpoint id, and their tasks
        self._busy: dict[int, int] = {}
        self._attempts: set[asyncio.Task[None]] = set()

    async def run_once(self, now: datetime | None = None) -> int:
        """Send the deliveries due at ``now`` (default: the clock) that have a free slot, and
        wait for those attempts; how many were tried."""
        started = await self._dispatch(self._clock() if now is None else now)
        await asyncio.gather(*started)
        return len(started)

    async def _dispatch(self, now: datetime) -> list[asyncio.Task[None]]:
        """Lease due deliveries for the endpoints with a free slot and start their attempts."""
        room = MAX_IN_FLIGHT - len(self._attempts)
        if room <= 0:
            return []
        # Longer than one attempt can take (it is bounded by the timeout as a whole, and starts
        # at once), short enough that a killed worker's rows are soon picked up again.
        lease = timedelta(seconds=2 * self.settings.webhook_timeout_seconds + 5)
        claimed = await _in_thread(
            self.storage.claim_due_deliveries,
            now=now,
            lease_until=now + lease,
            limit=min(BATCH, room),
            busy=dict(self._busy),
            per_endpoint=self.settings.webhook_endpoint_concurrency,
        )
        started: list[asyncio.Task[None]] = []
        for delivery, endpoint in claimed:
            self._busy[endpoint.id] = self._busy.get(endpoint.id, 0) + 1
            task = asyncio.create_task(self._attempt(delivery, endpoint, now))
            self._attempts.add(task)
            task.add_done_callback(functools.partial(self._release, endpoint_id=endpoint.id))
            started.append(task)
        return started

    def _release(self, task: asyncio.Task[None], endpoint_id: int) -> None:
        self._attempts.discard(task)
        left = self._busy.pop(endpoint_id, 1) - 1
        if left > 0:
            self._busy[endpoint_id] = left
        if self._wake is not None:
            self._wake.set()  # a slot is free: look for that endpoint's next delivery
        if not task.cancelled() and task.exception() is not None:
            logger.error("webhook attempt failed unexpectedly", exc_info=task.exception())

    async def _post(
        self, delivery: DeliveryRecord, endpoint: WebhookEndpointRecord, now: datetime
    ) -> tuple[int, bytes]:
        """POST the delivery: the status code and at most the read cap of the answer."""
        await check_url_async(endpoint.url, allow_private=self.settings.webhook_allow_private)
        async with self._client.stream(
            "POST",
            endpoint.url,
            content=delivery.payload.encode("utf-8"),
            headers=signed_headers(delivery, endpoint, now),
        ) as response:
            # Leaving the block unread closes the connection; a fully read answer keeps it.
            return response.status_code, await read_capped(response, self.settings.webhook_max_response_bytes)

    async def _attempt(
        self, delivery: DeliveryRecord, endpoint: WebhookEndpointRecord, now: datetime
    ) -> None:
        started = time.monotonic()
        status_code: int | None = None
        error: str | None = None
        try:
            # One wall-clock deadline for the whole attempt: httpx's own timeout is per read, so
            # a receiver sending a byte at a time would otherwise hold the attempt indefinitely.
            async with asyncio.timeout(self.settings.webhook_timeout_seconds):
                status_code, answer = await self._post(delivery, endpoint, now)
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code}: {answer.decode('utf-8', 'replace')[:200]}"
        except UnsafeURLError as exc:
            error = f"refused: {exc}"
        except (httpx.TimeoutException, TimeoutError):
            error = f"timed out after {self.settings.webhook_timeout_seconds:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        latency_ms = round((time.monotonic() - started) * 1000)
        if error is None:
            outcome, next_at = DELIVERY_SUCCEEDED, None
        elif now >= delivery.expires_at:
            outcome, next_at = DELIVERY_FAILED, None
        else:
            outcome = DELIVERY_PENDING
            next_at = min(now + retry_delay(delivery.attempts + 1, self._rng), delivery.expires_at)
        await _in_thread(
            self.storage.record_attempt,
            delivery.id,
            attempted_at=now,
            status_code=status_code,
            latency_ms=latency_ms,
            error=error,
            outcome=outcome,
            next_attempt_at=next_at,
        )
        level = logging.INFO if outcome != DELIVERY_PENDING else logging.DEBUG
        logger.log(
            level,
            "webhook %s %s (delivery %d, %s) to endpoint %d: %s",
            delivery.webhook_id,
            delivery.event_type,
            delivery.id,
            delivery.call_id,
            endpoint.id,
            outcome if error is None else f"{outcome} after {error}",
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
        self._task = asyncio.create_task(self._run(), name="foureyes-webhook-delivery")

    async def stop(self) -> None:
        """Stop looking for work and cut the attempts in flight: their leases run out and the
        deliveries are retried (with the same webhook id) by whichever worker runs next."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        attempts = list(self._attempts)
        for task in attempts:
            task.cancel()
        await asyncio.gather(*attempts, return_exceptions=True)
        await self._client.aclose()

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            # Cleared before looking, so a wake that arrives while the lease query runs is kept.
            self._wake.clear()
            try:
                started = await self._dispatch(self._clock())
            except Exception:
                logger.exception("webhook delivery step failed; retrying at the next poll")
                started = []
            if started:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.webhook_poll_interval_seconds)
