"""Short reads and writes of the database for tests, through the real repositories."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from foureyes.server.domain.events import Emitter, ItemCreated, ItemDecided
from foureyes.storage import (
    AttemptRecord,
    Database,
    DecisionRecord,
    DeliveryRecord,
    EventRecord,
    ItemRecord,
    NewDecision,
    NewItem,
    ProjectRecord,
    Tx,
    WebhookEndpointRecord,
    endpoints,
    events,
    items,
    keys,
    outbox,
)


def ensure_project(db: Database, slug: str, *, now: datetime) -> ProjectRecord:
    with db.write() as tx:
        return keys.ensure_project(tx.conn, slug, now=now)


def get_item(db: Database, project_id: int, kind: str, call_id: str) -> ItemRecord | None:
    with db.read() as conn:
        return items.get(conn, project_id, kind, call_id)


def events_of(db: Database, item_id: int) -> list[EventRecord]:
    with db.read() as conn:
        return events.for_item(conn, item_id)


def decisions_of(db: Database, item_id: int) -> list[DecisionRecord]:
    with db.read() as conn:
        return items.decisions_of(conn, item_id)


def delivery_of(db: Database, delivery_id: int) -> DeliveryRecord | None:
    with db.read() as conn:
        return outbox.get(conn, delivery_id)


def attempts_of(db: Database, delivery_id: int) -> list[AttemptRecord]:
    with db.read() as conn:
        return outbox.attempts_of(conn, delivery_id)


def claim(db: Database, **kwargs: Any) -> list[DeliveryRecord]:
    """Lease due deliveries as the outbox worker does (``outbox.claim_due``'s arguments)."""
    with db.write() as tx:
        return outbox.claim_due(tx.conn, **kwargs)


def create_item(db: Database, new: NewItem) -> tuple[ItemRecord, bool]:
    """Insert an item and emit its ``created`` event in one grouped write, as the domain does."""
    emitter = Emitter(lambda *_: None)

    def work(tx: Tx) -> tuple[ItemRecord, bool]:
        item, created = items.insert(tx.conn, new)
        if created:
            emitter.emit(tx, ItemCreated(record=item, project_id=new.project_id, at=new.requested_at))
        return item, created

    return db.write_grouped(work)


def complete_item(db: Database, item: ItemRecord, state: str, decision: NewDecision) -> bool:
    """Complete a pending item and emit ``decided`` in one grouped write; whether this won."""
    emitter = Emitter(lambda *_: None)

    def work(tx: Tx) -> bool:
        done = items.complete(tx.conn, item, state, decision)
        if done is not None:
            emitter.emit(tx, ItemDecided(record=done, project_id=item.project_id, at=decision.decided_at))
        return done is not None

    return db.write_grouped(work)


def revoke_key(db: Database, key_id: int, *, now: datetime) -> bool:
    """Revoke a key in the database only: no announcement, as another process might."""
    with db.write() as tx:
        return keys.revoke_key(tx.conn, key_id, now=now)


def endpoints_of(db: Database) -> list[WebhookEndpointRecord]:
    """Every endpoint, secrets opened with the database's key."""
    with db.read() as conn:
        return endpoints.list_all(conn, db.box)
