"""``WebhookSink``: the webhook channel's half of the outbox.

``fan_out`` runs in the transaction of a change: for an item created or decided it freezes the
v1beta2 body (``{type, is_test, event}``, the item exactly as the API renders it) into one
delivery per enabled endpoint of the project subscribed to the event type; the target is the
endpoint's id. ``deliver`` POSTs it with a Standard Webhooks signature (every secret that signs
at that moment, so a rotation overlaps), refuses addresses the SSRF guard refuses, reads at most
``webhook_max_response_bytes`` of the answer and counts any 2xx as success.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncGenerator, Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

import httpx
from sqlalchemy import Connection

from foureyes.server.domain.events import DeliveryFailed, Event, ItemCreated, ItemDecided, ItemEscalated
from foureyes.server.outbox import Attempt, FailureReport
from foureyes.server.settings import Settings
from foureyes.server.ssrf import UnsafeURLError, check_url_async
from foureyes.server.threads import run_blocking
from foureyes.server.wire import render_item
from foureyes.storage import Database, DeliveryRecord, ItemRecord, Tx, WebhookEndpointRecord, outbox
from foureyes.storage import endpoints as endpoint_rows
from foureyes.webhooks import sign

SINK = "webhook"
WEBHOOK_EVENTS = (
    "function_call.created",
    "function_call.completed",
    "human_contact.created",
    "human_contact.completed",
    # a message to a person about the request could not be delivered (body: + ``delivery``)
    "function_call.delivery_failed",
    "human_contact.delivery_failed",
    # escalated (``escalate_email_*`` or a step of the project's escalation chain; + ``escalation``)
    "function_call.escalated",
    "human_contact.escalated",
)
USER_AGENT = "foureyes-webhooks"
# The HTTP client's pool: as many connections as the outbox worker has attempts in flight.
MAX_CONNECTIONS = 64


def webhook_envelope(
    event_type: str,
    item: ItemRecord,
    *,
    is_test: bool = False,
    delivery: Mapping[str, Any] | None = None,
    escalation: Mapping[str, Any] | None = None,
) -> str:
    """The v1beta2 webhook body: ``{type, is_test, event}`` with the item exactly as the API
    renders it (``spec.state`` included), as JSON text frozen into the outbox; a
    ``delivery_failed`` event adds ``delivery`` (sink, target, delivery_id, error), an
    ``escalated`` one ``escalation`` (as recorded: a chain step adds ``step``, ``after_seconds``
    and ``channels``)."""
    envelope: dict[str, Any] = {"type": event_type, "is_test": is_test, "event": render_item(item)}
    if delivery is not None:
        envelope["delivery"] = dict(delivery)
    if escalation is not None:
        envelope["escalation"] = dict(escalation)
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))


def event_type_of(event: Event) -> str | None:
    """The webhook event type of a domain event, if webhooks carry it."""
    if isinstance(event, ItemCreated):
        return f"{event.record.kind}.created"
    if isinstance(event, ItemDecided):
        return f"{event.record.kind}.completed"
    if isinstance(event, DeliveryFailed):
        return f"{event.record.kind}.delivery_failed"
    if isinstance(event, ItemEscalated):
        return f"{event.record.kind}.escalated"
    return None


def signed_headers(
    delivery: DeliveryRecord, endpoint: WebhookEndpointRecord, now: datetime
) -> dict[str, str]:
    timestamp = int(now.timestamp())
    body = delivery.payload.encode("utf-8")
    signatures = " ".join(
        sign(secret, delivery.message_id, timestamp, body) for secret in endpoint.signing_secrets(now)
    )
    return {
        "content-type": "application/json",
        # a compressed answer is not read: its size on the wire is what the read cap counts
        "accept-encoding": "identity",
        "user-agent": USER_AGENT,
        "webhook-id": delivery.message_id,
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


class WebhookSink:
    name = SINK

    def __init__(
        self, db: Database, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._db = db
        self._settings = settings
        self._transport = transport
        self._client: httpx.AsyncClient | None = None  # made on the first delivery
        self.attempt_timeout_seconds = settings.webhook_timeout_seconds
        self.per_target_concurrency = settings.webhook_endpoint_concurrency
        self.retry_max = timedelta(seconds=settings.webhook_retry_max_seconds)
        # a failed webhook is shown in its endpoint's deliveries; reporting it as an event would
        # send another webhook to the endpoint that just failed
        self.flags_failures = False
        self.on_failed: FailureReport | None = None

    # ------------------------------------------------------------------ in the change's transaction

    def fan_out(self, tx: Tx, event: Event) -> int:
        return self.fan_out_many(tx, [event])

    def fan_out_many(self, tx: Tx, events: Sequence[Event]) -> int:
        """``fan_out`` of each, the endpoints read once per project and event type and the
        deliveries queued in one statement."""
        wanted: dict[tuple[int, str], list[int]] = {}
        queued: list[dict[str, Any]] = []
        for event in events:
            event_type = event_type_of(event)
            item = event.item
            if event_type is None or item is None:
                continue
            key = (item.project_id, event_type)
            if key not in wanted:
                wanted[key] = endpoint_rows.subscribed(tx.conn, item.project_id, event_type)
            if not wanted[key]:
                continue
            delivery = event.data() if isinstance(event, DeliveryFailed) else None
            escalation = event.data() if isinstance(event, ItemEscalated) else None
            payload = webhook_envelope(event_type, item, delivery=delivery, escalation=escalation)
            queued += [
                self._delivery(endpoint_id, event_type, payload, item_id=item.id, now=event.at)
                for endpoint_id in wanted[key]
            ]
        outbox.enqueue_many(tx.conn, queued)
        return len(queued)

    def enqueue(
        self, tx: Tx, endpoint_id: int, event_type: str, payload: str, *, item_id: int | None, now: datetime
    ) -> int:
        return outbox.enqueue(
            tx.conn, **self._delivery(endpoint_id, event_type, payload, item_id=item_id, now=now)
        )

    def _delivery(
        self, endpoint_id: int, event_type: str, payload: str, *, item_id: int | None, now: datetime
    ) -> dict[str, Any]:
        return {
            "sink": SINK,
            "target": str(endpoint_id),
            "item_id": item_id,
            "event_type": event_type,
            "payload": payload,
            "now": now,
            "expires_at": now + self.retry_max,
        }

    # ------------------------------------------------------------------ in the outbox worker

    def paused_targets(self, conn: Connection) -> Collection[str]:
        return [str(endpoint_id) for endpoint_id in endpoint_rows.disabled_ids(conn)]

    def _endpoint(self, delivery: DeliveryRecord) -> WebhookEndpointRecord | None:
        with self._db.read() as conn:
            return endpoint_rows.get(conn, self._db.box, int(delivery.target))

    async def deliver(self, delivery: DeliveryRecord, now: datetime) -> Attempt:
        endpoint = await run_blocking(self._endpoint, delivery)
        if endpoint is None:
            return Attempt(error=f"webhook endpoint {delivery.target} no longer exists")
        try:
            await check_url_async(endpoint.url, allow_private=self._settings.webhook_allow_private)
            async with self._http().stream(
                "POST",
                endpoint.url,
                content=delivery.payload.encode("utf-8"),
                headers=signed_headers(delivery, endpoint, now),
            ) as response:
                # Leaving the block unread closes the connection; a fully read answer keeps it.
                answer = await read_capped(response, self._settings.webhook_max_response_bytes)
        except UnsafeURLError as exc:
            return Attempt(error=f"refused: {exc}")
        except httpx.TimeoutException:
            return Attempt(error=f"timed out after {self.attempt_timeout_seconds:g} s")
        except httpx.HTTPError as exc:
            return Attempt(error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        if 200 <= response.status_code < 300:
            return Attempt(response.status_code)
        text = answer.decode("utf-8", "replace")[:200]
        return Attempt(response.status_code, f"HTTP {response.status_code}: {text}")

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self._settings.webhook_timeout_seconds,
                follow_redirects=False,  # a redirect could lead past the SSRF guard
                trust_env=False,
                transport=self._transport,
                limits=httpx.Limits(max_connections=MAX_CONNECTIONS),
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
