"""``Sink``: what a channel (webhooks, later email and Slack) implements to use the outbox."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import Connection

from foureyes.server.domain.events import FanOut
from foureyes.storage import DeliveryRecord, Tx


@dataclass(frozen=True)
class Attempt:
    """How one delivery attempt went: ``error`` None means delivered. ``status_code`` is the
    receiver's answer where it has one (an HTTP status). ``permanent``: retrying cannot help (the
    target is gone, the token is bad), so a failed delivery is failed at once rather than retried
    until it expires."""

    status_code: int | None = None
    error: str | None = None
    # the receiver said trying again cannot help (a bad token): failed now, not retried
    permanent: bool = False
    # the receiver asked for at least this many seconds before the next try (Retry-After)
    retry_after: float | None = None


# How a sink that reaches people reports a delivery that failed for good, in the transaction
# that records it: (tx, delivery, error, when). The composition root wires it to the domain.
FailureReport = Callable[[Tx, DeliveryRecord, str, datetime], None]


class Sink(FanOut, Protocol):
    # the ``sink`` column of its deliveries
    name: str
    # one wall-clock deadline for a whole attempt, enforced by the worker
    attempt_timeout_seconds: float
    # attempts in flight at once per target, so a slow target fills its own slots only
    per_target_concurrency: int
    # its failures mean a person was not told: the worker reports them (``on_failed``)
    flags_failures: bool
    # where such a sink reports the deliveries it fails itself, in ``fan_out`` (set by the app)
    on_failed: FailureReport | None

    def paused_targets(self, conn: Connection) -> Collection[str]:
        """Targets whose deliveries wait untouched for now (a disabled endpoint)."""
        ...

    async def deliver(self, delivery: DeliveryRecord, now: datetime) -> Attempt:
        """Try once. Expected failures are returned as ``Attempt(error=...)``, not raised."""
        ...

    async def aclose(self) -> None: ...
