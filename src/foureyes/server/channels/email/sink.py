"""``EmailSink``: the email channel's half of the outbox.

``fan_out`` runs in the transaction of a change. For a request created whose
``spec.channel.email`` names an address, and for an escalation (``escalate_email_*``), it
composes one message per recipient (the primary address and every ``additional_recipients``
entry; To and Cc as the channel says, Bcc never shown) with links signed for that recipient,
and freezes it into one delivery whose target is the address. ``deliver`` hands it to the SMTP
server for that address alone; a retry sends the same message with the same ``Message-ID``.

The ``routed_to`` channels of the ``created`` event (a policy's route targets, else the
project's default channels for a request that names no channel) get the same message, each
address once. A request a policy decides as it is created (``settled``) sends no email at all.
Without ``FOUREYES_SMTP_URL`` each delivery is recorded as failed at once, saying email is not
configured, and reported (``on_failed``: a ``delivery_failed`` event and a warning in the log),
so the request is flagged, never dropped silently. A 5xx answer (an address refused) fails a
delivery at once; anything else is retried until ``retry_max``.
"""

from __future__ import annotations

import email
import email.policy
import json
import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import aiosmtplib
from sqlalchemy import Connection

from foureyes.server.channels.email import smtp
from foureyes.server.channels.email.links import PURPOSE, LinkClaim, LinkSigner
from foureyes.server.channels.email.message import Recipient, compose, recipients_of
from foureyes.server.domain.events import Event, ItemCreated, ItemEscalated
from foureyes.server.outbox import Attempt, FailureReport
from foureyes.server.settings import Settings
from foureyes.storage import (
    DELIVERY_FAILED,
    AttemptRecord,
    Database,
    DeliveryRecord,
    EventRecord,
    ItemRecord,
    Tx,
    outbox,
)
from foureyes.storage import events as event_rows
from foureyes.storage import keys as key_rows

logger = logging.getLogger(__name__)

SINK = "email"
NOT_CONFIGURED = "email is not configured on this server (set FOUREYES_SMTP_URL and FOUREYES_EMAIL_FROM)"


def channel_email(spec: Mapping[str, Any]) -> Mapping[str, Any] | None:
    channel = spec.get("channel")
    found = channel.get("email") if isinstance(channel, Mapping) else None
    return found if isinstance(found, Mapping) else None


def escalation_channel(
    item: ItemRecord, escalation: Mapping[str, Any], original: Mapping[str, Any] | None = None
) -> dict[str, Any] | None:
    """The email channel an escalation goes to: the override channel's address if given, else
    the original one (the request's, or ``original``), with the additional recipients of the
    original channel, the escalation and the override channel merged (each address once, first
    mention wins)."""
    original = original or channel_email(item.spec) or {}
    override = channel_email(escalation) or {}
    address = override.get("address") or original.get("address")
    if not address:
        return None
    merged: list[Any] = []
    seen = {str(address).lower()}
    for source in (original, escalation, override):
        for extra in source.get("additional_recipients") or []:
            if (
                isinstance(extra, Mapping)
                and extra.get("address")
                and str(extra["address"]).lower() not in seen
            ):
                seen.add(str(extra["address"]).lower())
                merged.append(dict(extra))
    return {
        **original,
        **{k: v for k, v in override.items() if v is not None},
        "address": address,
        "additional_recipients": merged,
    }


def routed_emails(routed_to: Collection[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The email channels among those a request was routed to (a route, the project's defaults)."""
    found = [channel.get("email") for channel in routed_to if isinstance(channel, Mapping)]
    return [email for email in found if isinstance(email, Mapping)]


def escalation_channels(
    item: ItemRecord, escalation: Mapping[str, Any], routed_to: Collection[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Where an escalation is emailed: a chain step's own channels (only those); else its own or
    the request's channel; for a request that named no email (routed by a policy or to the
    project's defaults), each email it was routed to."""
    if "step" in escalation:
        return [dict(channel) for channel in routed_emails(escalation.get("channels") or [])]
    given = escalation_channel(item, escalation)
    if given is not None or channel_email(item.spec) is not None:
        return [] if given is None else [given]
    found = [escalation_channel(item, escalation, routed) for routed in routed_emails(routed_to)]
    return [channel for channel in found if channel is not None]


def recipients_allowed(item: ItemRecord, events: Collection[EventRecord]) -> set[str]:
    """Every address this request was sent to (created, routed to the project's defaults, or
    escalated), lower-cased; ``events`` is the item's change log."""
    found = {r.address.lower() for r in recipients_of(channel_email(item.spec))}
    routed: list[Mapping[str, Any]] = []
    for event in events:
        if event.type == "created":
            routed = list(event.data.get("routed_to") or [])
            for channel in routed_emails(routed):
                found |= {r.address.lower() for r in recipients_of(channel)}
        elif event.type == "escalated":
            for channel in escalation_channels(item, event.data, routed):
                found |= {r.address.lower() for r in recipients_of(channel)}
    return found


@dataclass(frozen=True)
class EmailDelivery:
    delivery: DeliveryRecord
    attempts: list[AttemptRecord]


def email_deliveries(db: Database, item_id: int) -> list[EmailDelivery]:
    """The emails sent (or owed) for one request, oldest first, with every attempt: what its
    inbox page shows."""
    with db.read() as conn:
        found = list(reversed(outbox.list_recent(conn, sink=SINK, item_id=item_id)))
        return [EmailDelivery(d, outbox.attempts_of(conn, d.id)) for d in found]


def undelivered(db: Database, item_ids: Collection[int]) -> set[int]:
    """Those requests with an email that could not be delivered (the pending list's mark)."""
    with db.read() as conn:
        return outbox.failed_item_ids(conn, item_ids, sink=SINK)


class EmailSink:
    name = SINK

    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._settings = settings
        self._smtp = smtp.SmtpConfig.parse(settings.smtp_url) if settings.smtp_url else None
        self._signer = LinkSigner(db.box.derive(PURPOSE))
        self.attempt_timeout_seconds = settings.email_timeout_seconds
        self.per_target_concurrency = 2
        self.retry_max = timedelta(seconds=settings.email_retry_max_seconds)
        # A failed email means a person was not told: flagged (DeliveryFailures.report).
        self.flags_failures = True
        self.on_failed: FailureReport | None = None

    @property
    def signer(self) -> LinkSigner:
        return self._signer

    # ------------------------------------------------------------------ in the change's transaction

    def fan_out(self, tx: Tx, event: Event) -> int:
        note = None
        channels: list[Mapping[str, Any] | None]
        if isinstance(event, ItemCreated):
            if event.settled:
                return 0  # a policy decides it in this transaction: there is nothing to ask
            channels = [channel_email(event.record.spec), *routed_emails(event.routed_to)]
        elif isinstance(event, ItemEscalated):
            routed = event_rows.created_data(tx.conn, event.record.id).get("routed_to") or []
            channels = list(escalation_channels(event.record, event.escalation, routed))
            note = str(event.escalation.get("escalation_msg") or "")
        else:
            return 0
        queued, seen = 0, set()
        for channel in channels:
            if channel is None:
                continue
            recipients = [r for r in recipients_of(channel) if r.address.lower() not in seen]
            seen |= {r.address.lower() for r in recipients}
            queued += self._fan_out_channel(tx, event, channel, recipients, note)
        return queued

    def _fan_out_channel(
        self, tx: Tx, event: Event, channel: Mapping[str, Any], recipients: list[Recipient], note: str | None
    ) -> int:
        item = event.item
        assert item is not None
        project = key_rows.get_project(tx.conn, item.project_id)
        # A link never outlives the request's own deadline.
        expires = event.at + timedelta(seconds=self._settings.email_link_max_age_seconds)
        if item.expires_at is not None:
            expires = min(expires, item.expires_at)
        for recipient in recipients:
            token = self._signer.sign(
                LinkClaim(
                    item.project_id, item.kind, item.call_id, recipient.address, int(expires.timestamp())
                )
            )
            composed = compose(
                item,
                channel,
                recipient=recipient.address,
                visible=[r for r in recipients if r.field != "bcc"],
                sender=self._settings.email_from or "foureyes@localhost",
                link=f"{self._settings.base_url}/email/{token}",
                links_expire=expires.strftime("%Y-%m-%d %H:%M UTC"),
                project="" if project is None else project.name,
                escalation=note,
            )
            if composed.template_error:
                logger.warning("%s %r: %s", item.kind, item.call_id, composed.template_error)
            self._enqueue(tx, item, recipient, event, composed.message, composed.template_error)
        return len(recipients)

    def _enqueue(
        self,
        tx: Tx,
        item: ItemRecord,
        recipient: Recipient,
        event: Event,
        message: EmailMessage,
        template_error: str | None,
    ) -> None:
        payload = {
            "recipient": recipient.address,
            "field": recipient.field,
            "message": message.as_string(policy=email.policy.SMTP),
            "template_error": template_error,
        }
        delivery_id = outbox.enqueue(
            tx.conn,
            sink=SINK,
            target=recipient.address,
            item_id=item.id,
            event_type=f"{item.kind}.{event.type}",
            payload=json.dumps(payload, ensure_ascii=False),
            now=event.at,
            expires_at=event.at + self.retry_max,
        )
        if self._smtp is None:
            # Not configured: recorded as failed at once, and flagged (never dropped silently).
            outbox.record_attempt(
                tx.conn,
                delivery_id,
                attempted_at=event.at,
                status_code=None,
                latency_ms=0,
                error=NOT_CONFIGURED,
                outcome=DELIVERY_FAILED,
            )
            delivery = outbox.get(tx.conn, delivery_id)
            if delivery is not None and self.on_failed is not None:
                self.on_failed(tx, delivery, NOT_CONFIGURED, event.at)

    # ------------------------------------------------------------------ in the outbox worker

    def paused_targets(self, conn: Connection) -> Collection[str]:
        return ()

    async def deliver(self, delivery: DeliveryRecord, now: datetime) -> Attempt:
        if self._smtp is None:
            return Attempt(error=NOT_CONFIGURED)
        payload = json.loads(delivery.payload)
        message = email.message_from_string(payload["message"], policy=email.policy.default)
        try:
            await smtp.send(
                self._smtp,
                message,
                self._settings.email_from,
                payload["recipient"],
                socket_timeout=self.attempt_timeout_seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = exc.recipients[0] if exc.recipients else None
            code = None if refused is None else refused.code
            error = f"address refused: {refused}" if refused is not None else "address refused"
            return Attempt(code, error[:300], permanent=code is not None and code >= 500)
        except aiosmtplib.SMTPResponseException as exc:
            # 5xx is the server's final answer (an address or message it will never take)
            return Attempt(exc.code, f"SMTP {exc.code}: {exc.message}"[:300], permanent=exc.code >= 500)
        except (aiosmtplib.SMTPException, OSError) as exc:
            return Attempt(error=f"{type(exc).__name__}: {exc}"[:300])
        return Attempt(250)

    async def aclose(self) -> None:
        return None
