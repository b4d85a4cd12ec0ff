"""The durable outbox: what every sink owes every target, and each attempt to deliver it.

Rows are written by the sinks' fan-out in the transaction of the change and drained by the
outbox worker. A delivery is leased before it is tried (a conditional UPDATE of
``locked_until``, with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so of several workers or
replicas exactly one has a row until its lease runs out; a killed worker's lease simply expires.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, exists, false, or_, select

from foureyes.storage.records import (
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    AttemptRecord,
    DeliveryRecord,
)
from foureyes.storage.schema import deliveries, delivery_attempts, items

# (sink, target): the unit of fairness and of order.
Route = tuple[str, str]

_DELIVERIES = select(deliveries, items.c.call_id.label("call_id")).outerjoin(
    items, items.c.id == deliveries.c.item_id
)


def new_message_id() -> str:
    return "msg_" + secrets.token_urlsafe(18)


def _delivery(row: Row[Any]) -> DeliveryRecord:
    return DeliveryRecord(
        id=row.id,
        sink=row.sink,
        target=row.target,
        item_id=row.item_id,
        call_id=row.call_id,
        event_type=row.event_type,
        message_id=row.message_id,
        payload=row.payload,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        expires_at=row.expires_at,
        last_error=row.last_error,
        created_at=row.created_at,
        completed_at=row.completed_at,
    )


def enqueue(
    conn: Connection,
    *,
    sink: str,
    target: str,
    item_id: int | None,
    event_type: str,
    payload: str,
    now: datetime,
    expires_at: datetime,
) -> int:
    """Queue one delivery, due at once; its id."""
    row = _new_row(sink, target, item_id, event_type, payload, now, expires_at)
    result = conn.execute(_INSERT, row)
    (delivery_id,) = result.inserted_primary_key or (None,)
    assert isinstance(delivery_id, int)
    return delivery_id


def enqueue_many(conn: Connection, queued: Sequence[Mapping[str, Any]]) -> None:
    """Queue many deliveries in one statement, each given as ``enqueue``'s keyword arguments."""
    if queued:
        conn.execute(_INSERT, [_new_row(**q) for q in queued])


_INSERT = deliveries.insert()


def _new_row(
    sink: str,
    target: str,
    item_id: int | None,
    event_type: str,
    payload: str,
    now: datetime,
    expires_at: datetime,
) -> dict[str, Any]:
    return {
        "sink": sink,
        "target": target,
        "item_id": item_id,
        "event_type": event_type,
        "message_id": new_message_id(),
        "payload": payload,
        "status": DELIVERY_PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "expires_at": expires_at,
        "created_at": now,
    }


def get(conn: Connection, delivery_id: int) -> DeliveryRecord | None:
    row = conn.execute(_DELIVERIES.where(deliveries.c.id == delivery_id)).first()
    return None if row is None else _delivery(row)


def list_recent(
    conn: Connection,
    *,
    sink: str | None = None,
    status: str | None = None,
    target: str | None = None,
    item_id: int | None = None,
    limit: int = 100,
) -> list[DeliveryRecord]:
    """The newest deliveries first."""
    query = _DELIVERIES.order_by(deliveries.c.id.desc()).limit(limit)
    if sink is not None:
        query = query.where(deliveries.c.sink == sink)
    if status is not None:
        query = query.where(deliveries.c.status == status)
    if target is not None:
        query = query.where(deliveries.c.target == target)
    if item_id is not None:
        query = query.where(deliveries.c.item_id == item_id)
    return [_delivery(row) for row in conn.execute(query)]


def failed_item_ids(conn: Connection, item_ids: Collection[int], *, sink: str) -> set[int]:
    """Those of ``item_ids`` with a delivery of ``sink`` that failed for good."""
    if not item_ids:
        return set()
    query = select(deliveries.c.item_id).where(
        deliveries.c.sink == sink,
        deliveries.c.status == DELIVERY_FAILED,
        deliveries.c.item_id.in_(list(item_ids)),
    )
    return {row.item_id for row in conn.execute(query.distinct())}


def attempts_of(conn: Connection, delivery_id: int) -> list[AttemptRecord]:
    rows = conn.execute(
        select(delivery_attempts)
        .where(delivery_attempts.c.delivery_id == delivery_id)
        .order_by(delivery_attempts.c.id)
    ).all()
    return [
        AttemptRecord(row.id, row.delivery_id, row.attempted_at, row.status_code, row.latency_ms, row.error)
        for row in rows
    ]


def requeue(conn: Connection, delivery_id: int, *, now: datetime, expires_at: datetime) -> bool:
    """Queue a delivery again, with the same message id, due now."""
    result = conn.execute(
        deliveries.update()
        .where(deliveries.c.id == delivery_id)
        .values(
            status=DELIVERY_PENDING,
            next_attempt_at=now,
            expires_at=expires_at,
            locked_until=None,
            completed_at=None,
        )
    )
    return result.rowcount == 1


def _due(now: datetime, paused: Mapping[str, Collection[str]], full: Collection[Route]) -> Any:
    free = or_(deliveries.c.locked_until.is_(None), deliveries.c.locked_until <= now)
    # A paused target's deliveries (a disabled webhook endpoint) wait, untouched.
    held = [
        and_(deliveries.c.sink == sink, deliveries.c.target.in_(list(targets)))
        for sink, targets in paused.items()
        if targets
    ]
    busy = [and_(deliveries.c.sink == sink, deliveries.c.target == target) for sink, target in full]
    return and_(
        deliveries.c.status == DELIVERY_PENDING,
        deliveries.c.next_attempt_at <= now,
        free,
        ~or_(false(), *held, *busy),
    )


def any_due(conn: Connection, *, now: datetime, paused: Mapping[str, Collection[str]]) -> bool:
    """Whether anything is due: the worker is woken on every change, and finding nothing due
    must not take the writer."""
    return conn.execute(select(deliveries.c.id).where(_due(now, paused, ())).limit(1)).first() is not None


def claim_due(
    conn: Connection,
    *,
    now: datetime,
    lease_until: datetime,
    limit: int,
    paused: Mapping[str, Collection[str]] | None = None,
    busy: Mapping[Route, int] | None = None,
    per_target: Mapping[str, int] | None = None,
) -> list[DeliveryRecord]:
    """Lease up to ``limit`` due deliveries to the caller until ``lease_until``.

    A delivery is due when its time has come, no lease on it is live, its target is not paused,
    and no earlier delivery of the same item to the same (sink, target) is still pending (order
    per item). With ``per_target`` (slots per sink name), no target gets more leases than its
    sink's slots, counting the caller's attempts already in flight (``busy``): a slow target's
    backlog is left in the outbox rather than leased to wait behind it.
    """
    paused = paused or {}
    taken = dict(busy or {})
    slots = dict(per_target or {})

    def is_full(route: Route) -> bool:
        cap = slots.get(route[0])
        return cap is not None and taken.get(route, 0) >= cap

    full = [route for route in taken if is_full(route)]
    due = _due(now, paused, full)
    earlier = deliveries.alias("earlier")
    blocked = exists().where(
        earlier.c.sink == deliveries.c.sink,
        earlier.c.target == deliveries.c.target,
        earlier.c.item_id == deliveries.c.item_id,
        earlier.c.id < deliveries.c.id,
        earlier.c.status == DELIVERY_PENDING,
    )
    # On PostgreSQL, rows another replica is claiming right now are skipped rather than waited
    # for; SQLite ignores the clause (its write transaction excludes the others).
    candidates = conn.execute(
        select(deliveries.c.id, deliveries.c.sink, deliveries.c.target)
        .where(due, ~blocked)
        .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
        # room to skip the rows of targets whose slots this lease fills
        .limit(limit if not slots else limit * 4)
        .with_for_update(skip_locked=True, of=deliveries)
    ).all()
    claimed: list[DeliveryRecord] = []
    for delivery_id, sink, target in candidates:
        if len(claimed) >= limit:
            break
        route = (sink, target)
        if is_full(route):
            continue
        # `due` again: the lease is the guard that outlives this transaction.
        result = conn.execute(
            deliveries.update().where(deliveries.c.id == delivery_id, due).values(locked_until=lease_until)
        )
        if result.rowcount != 1:
            continue
        found = get(conn, delivery_id)
        assert found is not None
        claimed.append(found)
        taken[route] = taken.get(route, 0) + 1
    return claimed


def record_attempt(
    conn: Connection,
    delivery_id: int,
    *,
    attempted_at: datetime,
    status_code: int | None,
    latency_ms: int,
    error: str | None,
    outcome: str,
    next_attempt_at: datetime | None = None,
) -> None:
    """Append an attempt and move the delivery on: ``outcome`` is succeeded, failed (final) or
    pending (retry at ``next_attempt_at``). The lease is released."""
    values: dict[str, Any] = {
        "status": outcome,
        "attempts": deliveries.c.attempts + 1,
        "locked_until": None,
        "last_error": error,
    }
    if outcome == DELIVERY_PENDING:
        assert next_attempt_at is not None
        values["next_attempt_at"] = next_attempt_at
    else:
        values["completed_at"] = attempted_at
    conn.execute(
        delivery_attempts.insert().values(
            delivery_id=delivery_id,
            attempted_at=attempted_at,
            status_code=status_code,
            latency_ms=latency_ms,
            error=error,
        )
    )
    conn.execute(deliveries.update().where(deliveries.c.id == delivery_id).values(**values))


def project_of(conn: Connection, delivery: DeliveryRecord) -> int | None:
    """The project of the delivery's item (None for a delivery of no item, a test event)."""
    if delivery.item_id is None:
        return None
    found = conn.execute(
        select(items.c.project_id).where(items.c.id == delivery.item_id)
    ).scalar_one_or_none()
    return None if found is None else int(found)
