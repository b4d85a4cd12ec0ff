"""``EmailSink``: the email channel's half of the outbox.

``fan_out`` runs in the transaction of a change. For a request created whose
``spec.channel.email`` names an address, and for an escalation (``escalate_email_*``), it
composes one message per recipient (the primary address and every ``additional_recipients``
entry; To and Cc as the channel says, Bcc never shown) with links signed for that recipient,
and freezes it into one delivery whose target is the address. ``deliver`` hands it to the SMTP
server for that address alone; a retry sends the same message with the same ``Message-ID``.

Without ``FOUREYES_SMTP_URL`` such a request is still queued, so it is flagged where deliveries
are shown: its delivery fails at the first attempt, saying email is not configured, and a
warning is logged.
"""

from __future__ import annotations

import email
import email.policy
import json
import logging
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import aiosmtplib
from sqlalchemy import Connection

from foureyes.server.channels.email import smtp
from foureyes.server.channels.email.links import PURPOSE, LinkClaim, LinkSigner
from foureyes.server.channels.email.message import Recipient, compose, recipients_of
from foureyes.server.domain.events import Event, ItemCreated, ItemEscalated
from foureyes.server.outbox import Attempt
from foureyes.server.settings import Settings
from foureyes.storage import Database, DeliveryRecord, ItemRecord, Tx, outbox
from foureyes.storage import keys as key_rows

logger = logging.getLogger(__name__)

SINK = "email"
NOT_CONFIGURED = "email is not configured on this server (set FOUREYES_SMTP_URL and FOUREYES_EMAIL_FROM)"


def channel_email(spec: Mapping[str, Any]) -> Mapping[str, Any] | None:
    channel = spec.get("channel")
    found = channel.get("email") if isinstance(channel, Mapping) else None
    return found if isinstance(found, Mapping) else None


def escalation_channel(item: ItemRecord, escalation: Mapping[str, Any]) -> dict[str, Any] | None:
    """The email channel an escalation goes to: the override channel's address if given, else
    the original one, with the additional recipients of the original channel, the escalation
    and the override channel merged (each address once, first mention wins)."""
    original = channel_email(item.spec) or {}
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


def recipients_allowed(item: ItemRecord, escalations: Collection[Mapping[str, Any]]) -> set[str]:
    """Every address this request was sent to (created or escalated), lower-cased."""
    found = {r.address.lower() for r in recipients_of(channel_email(item.spec))}
    for escalation in escalations:
        found |= {r.address.lower() for r in recipients_of(escalation_channel(item, escalation))}
    return found


def email_deliveries(db: Database, item_id: int) -> list[DeliveryRecord]:
    """The emails sent (or owed) for one request, oldest first: what its inbox page shows."""
    with db.read() as conn:
        return list(reversed(outbox.list_recent(conn, sink=SINK, item_id=item_id)))


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

    @property
    def signer(self) -> LinkSigner:
        return self._signer

    # ------------------------------------------------------------------ in the change's transaction

    def fan_out(self, tx: Tx, event: Event) -> int:
        if isinstance(event, ItemCreated):
            channel, note = channel_email(event.record.spec), None
        elif isinstance(event, ItemEscalated):
            channel = escalation_channel(event.record, event.escalation)
            note = str(event.escalation.get("escalation_msg") or "")
        else:
            return 0
        recipients = recipients_of(channel)
        if channel is None or not recipients:
            return 0
        item = event.record
        project = key_rows.get_project(tx.conn, item.project_id)
        expires = event.at + timedelta(seconds=self._settings.email_link_max_age_seconds)
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
        if self._smtp is None:
            logger.warning(
                "%s %r names email %s, but %s", item.kind, item.call_id, recipient.address, NOT_CONFIGURED
            )
        payload = {
            "recipient": recipient.address,
            "field": recipient.field,
            "message": message.as_string(policy=email.policy.SMTP),
            "template_error": template_error,
        }
        outbox.enqueue(
            tx.conn,
            sink=SINK,
            target=recipient.address,
            item_id=item.id,
            event_type=f"{item.kind}.{event.type}",
            payload=json.dumps(payload, ensure_ascii=False),
            now=event.at,
            # not configured: the first attempt fails it for good, and says why
            expires_at=event.at if self._smtp is None else event.at + self.retry_max,
        )

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
        except aiosmtplib.SMTPResponseException as exc:
            return Attempt(exc.code, f"SMTP {exc.code}: {exc.message}"[:300])
        except (aiosmtplib.SMTPException, OSError) as exc:
            return Attempt(error=f"{type(exc).__name__}: {exc}"[:300])
        return Attempt(250)

    async def aclose(self) -> None:
        return None
