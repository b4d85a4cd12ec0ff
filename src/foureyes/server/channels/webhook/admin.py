"""``Webhooks``: the administration of webhook endpoints and of their deliveries."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from foureyes._protocol import ItemKind, ItemState
from foureyes.server import auth
from foureyes.server.channels.webhook.sink import SINK, WEBHOOK_EVENTS, WebhookSink, webhook_envelope
from foureyes.server.domain.errors import InvalidParameterError, NotFoundError
from foureyes.server.domain.events import Emitter, SettingsChanged
from foureyes.server.ssrf import check_url
from foureyes.storage import (
    DELIVERY_FAILED,
    AttemptRecord,
    Database,
    DecisionRecord,
    DeliveryRecord,
    ItemRecord,
    Tx,
    WebhookEndpointRecord,
    keys,
    outbox,
)
from foureyes.storage import endpoints as endpoint_rows
from foureyes.webhooks import generate_secret

logger = logging.getLogger(__name__)


def sample_item(event_type: str, project_id: int, endpoint_id: int, now: datetime) -> ItemRecord:
    """A made-up item for a test event: what a real event of ``event_type`` would carry."""
    kind = event_type.split(".", 1)[0]
    completed = event_type.endswith(".completed")
    spec: dict[str, Any]
    if kind == ItemKind.FUNCTION_CALL:
        spec = {"fn": "test_function", "kwargs": {}, "channel": None, "reject_options": None}
        verdict, response = ItemState.APPROVED, None
    else:
        spec = {"msg": "Is this webhook working?", "subject": None, "channel": None, "response_options": None}
        verdict, response = ItemState.ANSWERED, "yes"
    spec["state"] = {"test": True}
    decision = DecisionRecord(0, verdict, None, None, response, None, "test", now, "")
    return ItemRecord(
        id=0,
        project_id=project_id,
        kind=kind,
        call_id=f"test-{endpoint_id}-{int(now.timestamp())}",
        run_id="foureyes-webhook-test",
        spec=spec,
        request_digest="",
        spec_digest="",
        state=verdict if completed else ItemState.PENDING,
        requested_at=now,
        completed_at=now if completed else None,
        decisions=(decision,) if completed else (),
    )


class Webhooks:
    def __init__(
        self, db: Database, emitter: Emitter, sink: WebhookSink, clock: Callable[[], datetime]
    ) -> None:
        self._db = db
        self._emitter = emitter
        self._sink = sink
        self._clock = clock

    def _changed(self, tx: Tx, endpoint: WebhookEndpointRecord, what: str, **details: Any) -> None:
        self._emitter.emit(
            tx,
            SettingsChanged(
                project_id=endpoint.project_id,
                at=self._clock(),
                channel="admin",
                what=what,
                details={"endpoint_id": endpoint.id, **details},
            ),
        )

    def add_webhook(
        self, project: str, url: str, events: Sequence[str] | None = None, *, allow_private: bool = False
    ) -> tuple[WebhookEndpointRecord, str]:
        """A new endpoint and its secret (shown once). InvalidParameterError on a bad URL or
        event type; UnsafeURLError (one of them) when the URL resolves to a non-public address."""
        wanted = tuple(dict.fromkeys(events or WEBHOOK_EVENTS))
        unknown = sorted(set(wanted) - set(WEBHOOK_EVENTS))
        if unknown:
            raise InvalidParameterError(
                f"unknown event types {', '.join(unknown)}; known: {', '.join(WEBHOOK_EVENTS)}"
            )
        if not auth.PROJECT_SLUG.match(project):
            raise InvalidParameterError(f"invalid project name {project!r}")
        check_url(url, allow_private=allow_private)
        now = self._clock()
        secret = generate_secret()
        with self._db.write() as tx:
            record = keys.ensure_project(tx.conn, project, now=now)
            endpoint = endpoint_rows.insert(
                tx.conn, self._db.box, project=record, url=url, events=wanted, secret=secret, now=now
            )
            self._changed(tx, endpoint, "endpoint_added", url=url, events=list(wanted))
        logger.info("webhook endpoint %d added for project %r: %s", endpoint.id, project, url)
        return endpoint, secret

    def list_webhooks(self, project: str | None = None) -> list[WebhookEndpointRecord]:
        with self._db.read() as conn:
            found = endpoint_rows.list_all(conn, self._db.box)
        return [e for e in found if project is None or e.project_slug == project]

    def get_webhook(self, endpoint_id: int) -> WebhookEndpointRecord:
        with self._db.read() as conn:
            endpoint = endpoint_rows.get(conn, self._db.box, endpoint_id)
        if endpoint is None:
            raise NotFoundError(f"webhook endpoint {endpoint_id} not found")
        return endpoint

    def set_webhook_enabled(self, endpoint_id: int, enabled: bool) -> WebhookEndpointRecord:
        with self._db.write() as tx:
            if not endpoint_rows.set_enabled(tx.conn, endpoint_id, enabled):
                raise NotFoundError(f"webhook endpoint {endpoint_id} not found")
            endpoint = endpoint_rows.get(tx.conn, self._db.box, endpoint_id)
            assert endpoint is not None
            self._changed(tx, endpoint, "endpoint_enabled" if enabled else "endpoint_disabled")
            if enabled:
                tx.after_commit(self._emitter.wake_outbox)  # its held deliveries are due again
        logger.info("webhook endpoint %d %s", endpoint_id, "enabled" if enabled else "disabled")
        return endpoint

    def rotate_webhook_secret(self, endpoint_id: int, overlap_seconds: float) -> tuple[str, datetime]:
        """A new secret; the old one keeps signing too until the returned moment."""
        if overlap_seconds < 0:
            raise InvalidParameterError("the overlap must be >= 0 seconds")
        secret = generate_secret()
        until = self._clock() + timedelta(seconds=overlap_seconds)
        with self._db.write() as tx:
            if not endpoint_rows.rotate_secret(tx.conn, self._db.box, endpoint_id, secret, until):
                raise NotFoundError(f"webhook endpoint {endpoint_id} not found")
            endpoint = endpoint_rows.get(tx.conn, self._db.box, endpoint_id)
            assert endpoint is not None
            self._changed(tx, endpoint, "endpoint_secret_rotated", previous_signs_until=until.isoformat())
        logger.info("webhook endpoint %d secret rotated; the old one signs until %s", endpoint_id, until)
        return secret, until

    def list_deliveries(
        self, *, failed_only: bool = False, endpoint_id: int | None = None, limit: int = 100
    ) -> list[DeliveryRecord]:
        with self._db.read() as conn:
            return outbox.list_recent(
                conn,
                sink=SINK,
                status=DELIVERY_FAILED if failed_only else None,
                target=None if endpoint_id is None else str(endpoint_id),
                limit=limit,
            )

    def _delivery(self, delivery_id: int) -> DeliveryRecord:
        with self._db.read() as conn:
            found = outbox.get(conn, delivery_id)
        if found is None or found.sink != SINK:
            raise NotFoundError(f"webhook delivery {delivery_id} not found")
        return found

    def list_attempts(self, delivery_id: int) -> list[AttemptRecord]:
        self._delivery(delivery_id)
        with self._db.read() as conn:
            return outbox.attempts_of(conn, delivery_id)

    def redeliver(self, delivery_id: int) -> DeliveryRecord:
        """Send a delivery again (same webhook id and body), retried afresh."""
        delivery = self._delivery(delivery_id)
        endpoint = self.get_webhook(int(delivery.target))
        now = self._clock()
        with self._db.write() as tx:
            outbox.requeue(tx.conn, delivery_id, now=now, expires_at=now + self._sink.retry_max)
            self._changed(tx, endpoint, "delivery_requeued", delivery_id=delivery_id)
            tx.after_commit(self._emitter.wake_outbox)
        logger.info("webhook delivery %d queued again", delivery_id)
        return self._delivery(delivery_id)

    def send_test_webhook(self, endpoint_id: int) -> DeliveryRecord:
        """Queue a made-up event with ``is_test: true`` for one endpoint, enabled or not."""
        endpoint = self.get_webhook(endpoint_id)
        event_type = endpoint.events[0] if endpoint.events else WEBHOOK_EVENTS[1]
        now = self._clock()
        item = sample_item(event_type, endpoint.project_id, endpoint_id, now)
        payload = webhook_envelope(event_type, item, is_test=True)
        with self._db.write() as tx:
            delivery_id = self._sink.enqueue(tx, endpoint_id, event_type, payload, item_id=None, now=now)
            self._changed(tx, endpoint, "test_event_queued", delivery_id=delivery_id)
            tx.after_commit(self._emitter.wake_outbox)
        return self._delivery(delivery_id)
