"""The webhook delivery worker: drains the outbox, never the request path.

The service writes one outbox row per (event, subscribed endpoint) in the transaction of the
change. This worker, an asyncio task started in the app's lifespan, leases due rows (a
conditional UPDATE of ``locked_until``, so several workers or replicas never send the same row
at once), POSTs each with a Standard Webhooks signature, and records every attempt. Any 2xx is
success; anything else is retried with exponential backoff and jitter until the delivery's
``expires_at`` (``webhook_retry_max_seconds`` after the event), then it is failed. Every retry
carries the same ``webhook-id`` and body. Since the rows are in the database, a restart loses
nothing: a lease held by a killed process simply runs out.

``run_once(now)`` is one step with an explicit time, so tests drive the retry schedule without
sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx

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
    doublings: int = 2 ** min(max(failures - 1, 0), 30)
    nominal = min(RETRY_MAX, RETRY_BASE * doublings)
    return nominal * (1 - JITTER + 2 * JITTER * rng())


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
        "user-agent": USER_AGENT,
        "webhook-id": delivery.webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
    }


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
        )
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    async def run_once(self, now: datetime | None = None) -> int:
        """Send every delivery due at ``now`` (default: the clock) once; how many were tried."""
        now = self._clock() if now is None else now
        # Longer than one attempt can take (resolving and POSTing are both bounded by the
        # timeout), short enough that a killed worker's rows are soon picked up again.
        lease = timedelta(seconds=2 * self.settings.webhook_timeout_seconds + 5)
        claimed = await _in_thread(
            self.storage.claim_due_deliveries, now=now, lease_until=now + lease, limit=BATCH
        )
        await asyncio.gather(*(self._attempt(d, e, now) for d, e in claimed))
        return len(claimed)

    async def _attempt(
        self, delivery: DeliveryRecord, endpoint: WebhookEndpointRecord, now: datetime
    ) -> None:
        started = time.monotonic()
        status_code: int | None = None
        error: str | None = None
        try:
            async with asyncio.timeout(self.settings.webhook_timeout_seconds):
                await check_url_async(endpoint.url, allow_private=self.settings.webhook_allow_private)
            response = await self._client.post(
                endpoint.url,
                content=delivery.payload.encode("utf-8"),
                headers=signed_headers(delivery, endpoint, now),
            )
            status_code = response.status_code
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code}: {response.text[:200]}"
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
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._client.aclose()

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            try:
                busy = await self.run_once()
            except Exception:
                logger.exception("webhook delivery step failed; retrying at the next poll")
                busy = 0
            if busy:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.webhook_poll_interval_seconds)
