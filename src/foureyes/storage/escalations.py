"""Escalation chains: which pending requests are due for their next step, and the conditional
UPDATE that records a step as fired. Every function takes the caller's connection."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, func, select

from foureyes.storage.items import PENDING, item_record
from foureyes.storage.records import ItemRecord
from foureyes.storage.schema import items


def due_for_step(
    conn: Connection, project_id: int, done: int, requested_before: datetime, limit: int
) -> list[ItemRecord]:
    """Pending items of the project that have had ``done`` steps and were requested at or
    before ``requested_before`` (the next step's delay ago), the oldest first."""
    rows = conn.execute(
        select(items)
        .where(
            items.c.project_id == project_id,
            items.c.state == PENDING,
            items.c.escalation_steps_done == done,
            items.c.requested_at <= requested_before,
        )
        .order_by(items.c.requested_at, items.c.id)
        .limit(limit)
    ).all()
    return [item_record(row) for row in rows]


def mark_fired(conn: Connection, item_id: int, done: int) -> bool:
    """Record step ``done + 1`` as fired, if the item is still pending and nobody else fired it:
    of every replica that tries, exactly one gets True."""
    result = conn.execute(
        items.update()
        .where(items.c.id == item_id, items.c.state == PENDING, items.c.escalation_steps_done == done)
        .values(escalation_steps_done=done + 1)
    )
    return result.rowcount == 1


def steps_done(conn: Connection, item_id: int) -> int:
    found = conn.execute(select(items.c.escalation_steps_done).where(items.c.id == item_id)).scalar_one()
    return int(found)


def oldest_waiting(conn: Connection, project_id: int, done: int) -> datetime | None:
    """When the oldest pending item of the project that has had ``done`` steps was requested."""
    found: datetime | None = conn.execute(
        select(func.min(items.c.requested_at)).where(
            items.c.project_id == project_id,
            items.c.state == PENDING,
            items.c.escalation_steps_done == done,
        )
    ).scalar_one_or_none()
    if found is not None and found.tzinfo is None:  # an aggregate skips the column's type on SQLite
        found = found.replace(tzinfo=UTC)
    return found
