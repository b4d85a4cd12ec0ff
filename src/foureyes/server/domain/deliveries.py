"""``DeliveryFailures``: a message to a person that could not be delivered is flagged, never
dropped silently.

A sink that reaches people (email, later Slack) reports a delivery that failed for good (the
channel is not configured on this server, the address was refused, the retries ran out) in the
transaction that records the failure. The report is a ``delivery_failed`` event through the
``Emitter``, so the change log, the webhooks and the inbox's live views get it like any other
change, and a warning in the log.
"""

from __future__ import annotations

import logging
from datetime import datetime

from foureyes.server.domain.errors import NotFoundError
from foureyes.server.domain.events import DeliveryFailed, Emitter
from foureyes.storage import DELIVERY_FAILED, AttemptRecord, Database, DeliveryRecord, Tx, outbox
from foureyes.storage import items as item_rows

logger = logging.getLogger(__name__)


class DeliveryFailures:
    def __init__(self, emitter: Emitter) -> None:
        self._emitter = emitter

    def report(self, tx: Tx, delivery: DeliveryRecord, error: str, at: datetime) -> None:
        if delivery.item_id is None:
            return
        item = item_rows.get_by_id(tx.conn, delivery.item_id)
        if item is None:
            return
        logger.warning(
            "%s %r: %s to %s could not be delivered: %s",
            item.kind,
            item.call_id,
            delivery.sink,
            delivery.target,
            error,
        )
        self._emitter.emit(
            tx,
            DeliveryFailed(
                record=item,
                project_id=item.project_id,
                at=at,
                channel=delivery.sink,
                sink=delivery.sink,
                target=delivery.target,
                delivery_id=delivery.id,
                error=error,
            ),
        )


class Deliveries:
    """Every sink's deliveries and their attempts, for ``foureyes deliveries``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def recent(
        self,
        *,
        sink: str | None = None,
        failed_only: bool = False,
        target: str | None = None,
        limit: int = 100,
    ) -> list[DeliveryRecord]:
        with self._db.read() as conn:
            return outbox.list_recent(
                conn,
                sink=sink,
                status=DELIVERY_FAILED if failed_only else None,
                target=target,
                limit=limit,
            )

    def attempts(self, delivery_id: int) -> list[AttemptRecord]:
        with self._db.read() as conn:
            if outbox.get(conn, delivery_id) is None:
                raise NotFoundError(f"no delivery {delivery_id}")
            return outbox.attempts_of(conn, delivery_id)
