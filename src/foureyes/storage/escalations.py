"""Escalation steps: which pending requests are due for their next step, and the conditional
UPDATE that records a step as fired; for a project's chain, and for the requests a policy gave
their own steps (``items.escalation_steps``, which then follow no chain). Every function takes
the caller's connection."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

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
            items.c.escalation_steps.is_(None),
        )
        .order_by(items.c.requested_at, items.c.id)
        .limit(limit)
    ).all()
    return [item_record(row) for row in rows]


def mark_fired(conn: Connection, item_id: int, done: int) -> bool:
    """Record step ``done + 1`` of its project's chain as fired, if the item is still pending and
    nobody else fired it: of every replica that tries, exactly one gets True."""
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
            items.c.escalation_steps.is_(None),
        )
    ).scalar_one_or_none()
    if found is not None and found.tzinfo is None:  # an aggregate skips the column's type on SQLite
        found = found.replace(tzinfo=UTC)
    return found


def set_own_steps(
    conn: Connection, item: ItemRecord, steps: Sequence[Mapping[str, Any]], first_at: datetime
) -> ItemRecord:
    """Give a new item its own steps (a policy's), the first due at ``first_at``."""
    kept = tuple(dict(step) for step in steps)
    conn.execute(
        items.update()
        .where(items.c.id == item.id)
        .values(escalation_steps=json.dumps(kept, separators=(",", ":")), next_escalation_at=first_at)
    )
    return dataclasses.replace(item, escalation_steps=kept, next_escalation_at=first_at)


def due_own_steps(conn: Connection, now: datetime, limit: int) -> list[ItemRecord]:
    """Pending items whose own next step is due at ``now``, the longest due first."""
    rows = conn.execute(
        select(items)
        .where(items.c.state == PENDING, items.c.next_escalation_at <= now)
        .order_by(items.c.next_escalation_at, items.c.id)
        .limit(limit)
    ).all()
    return [item_record(row) for row in rows]


def mark_own_fired(conn: Connection, item_id: int, done: int, next_at: datetime | None) -> bool:
    """Record step ``done + 1`` of the item's own steps as fired, the next due at ``next_at``
    (None: it was the last): as ``mark_fired``, exactly one replica gets True."""
    result = conn.execute(
        items.update()
        .where(items.c.id == item_id, items.c.state == PENDING, items.c.escalation_steps_done == done)
        .values(escalation_steps_done=done + 1, next_escalation_at=next_at)
    )
    return result.rowcount == 1


def next_own_step(conn: Connection, now: datetime) -> datetime | None:
    """When the next own step of any pending item is due, after ``now``."""
    found: datetime | None = conn.execute(
        select(func.min(items.c.next_escalation_at)).where(
            items.c.state == PENDING, items.c.next_escalation_at > now
        )
    ).scalar_one_or_none()
    if found is not None and found.tzinfo is None:  # as in oldest_waiting
        found = found.replace(tzinfo=UTC)
    return found
