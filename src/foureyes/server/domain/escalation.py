"""``Escalations``: recording that a pending request was escalated (HumanLayer's
``escalate_email_*``). Delivery of the escalation (email) is not built yet: it is recorded in the
change log only."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from foureyes.models import Escalation
from foureyes.server.domain.decisions import ensure_pending
from foureyes.server.domain.errors import ConflictError, validation_failed
from foureyes.server.domain.events import Emitter, ItemEscalated
from foureyes.server.domain.items import FUNCTION_CALL, HUMAN_CONTACT, Items, describe
from foureyes.storage import Database, ItemRecord, credentials
from foureyes.storage import items as item_rows

logger = logging.getLogger(__name__)


class Escalations:
    def __init__(self, db: Database, emitter: Emitter, items: Items, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._emitter = emitter
        self._items = items
        self._clock = clock

    def escalate_function_call(
        self,
        project_id: int,
        call_id: str,
        escalation: Mapping[str, Any],
        *,
        channel: str = "api",
        actor_key_id: int | None = None,
    ) -> ItemRecord:
        return self._escalate(project_id, FUNCTION_CALL, call_id, escalation, channel, actor_key_id)

    def escalate_human_contact(
        self,
        project_id: int,
        call_id: str,
        escalation: Mapping[str, Any],
        *,
        channel: str = "api",
        actor_key_id: int | None = None,
    ) -> ItemRecord:
        return self._escalate(project_id, HUMAN_CONTACT, call_id, escalation, channel, actor_key_id)

    def _escalate(
        self,
        project_id: int,
        kind: str,
        call_id: str,
        escalation: Mapping[str, Any],
        channel: str,
        actor_key_id: int | None,
    ) -> ItemRecord:
        try:
            Escalation.model_validate(escalation)
        except ValidationError as exc:
            raise validation_failed(exc, prefix=["body"]) from None
        item = self._items.get(project_id, kind, call_id)
        ensure_pending(item)
        # the change log keeps the escalation with its channel's credentials redacted
        kept, secrets = credentials.split_channel_of(escalation)
        now = self._clock()
        with self._db.write() as tx:
            if not item_rows.lock_if_pending(tx.conn, item.id):
                raise ConflictError(f"{describe(kind)} {call_id!r} was already decided")
            credentials.seal(
                tx.conn, self._db.box, secrets, part=credentials.ESCALATION, now=now, item_id=item.id
            )
            self._emitter.emit(
                tx,
                ItemEscalated(
                    record=item,
                    escalation=kept,
                    project_id=project_id,
                    at=now,
                    actor_key_id=actor_key_id,
                    channel=channel,
                ),
            )
        logger.info("%s %r escalated via %s by key %s", describe(kind), call_id, channel, actor_key_id)
        return item
