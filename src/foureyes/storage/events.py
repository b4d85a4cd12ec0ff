"""The change log: one row per change, appended by the domain's event writer (``emit``)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, select

from foureyes.storage.records import EventRecord
from foureyes.storage.schema import events


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def append(
    conn: Connection,
    *,
    type: str,
    data: dict[str, Any],
    project_id: int | None,
    item_id: int | None,
    actor_key_id: int | None,
    actor_user_id: int | None,
    channel: str | None,
    at: datetime,
) -> int:
    result = conn.execute(
        _INSERT,
        {
            "project_id": project_id,
            "item_id": item_id,
            "type": type,
            "data": dumps(data),
            "actor_key_id": actor_key_id,
            "actor_user_id": actor_user_id,
            "channel": channel,
            "created_at": at,
        },
    )
    (event_id,) = result.inserted_primary_key or (None,)
    assert isinstance(event_id, int)
    return event_id


_INSERT = events.insert()


def append_many(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Append many changes in one statement; each row as ``append``'s arguments, ``data`` a
    mapping and the time as ``at``."""
    if rows:
        conn.execute(_INSERT, [{**row, "data": dumps(row["data"]), "created_at": row["at"]} for row in rows])


def _event(row: Row[Any]) -> EventRecord:
    return EventRecord(
        id=row.id,
        project_id=row.project_id,
        item_id=row.item_id,
        type=row.type,
        data=json.loads(row.data),
        actor_key_id=row.actor_key_id,
        actor_user_id=row.actor_user_id,
        channel=row.channel,
        created_at=row.created_at,
    )


def for_item(conn: Connection, item_id: int) -> list[EventRecord]:
    rows = conn.execute(select(events).where(events.c.item_id == item_id).order_by(events.c.id)).all()
    return [_event(row) for row in rows]


# Read by every decision's Slack fan-out: built once.
_CREATED_DATA = (
    select(events.c.data)
    .where((events.c.item_id == bindparam("item_id")) & (events.c.type == "created"))
    .limit(1)
)


def created_data(conn: Connection, item_id: int) -> dict[str, Any]:
    """The data of an item's ``created`` event (where it was ``routed_to``, whether ``settled``)."""
    row = conn.execute(_CREATED_DATA, {"item_id": item_id}).first()
    found = json.loads(row.data) if row is not None and row.data else {}
    return found if isinstance(found, dict) else {}


_CREATED_DATA_MANY = (
    select(events.c.item_id, events.c.data)
    .where(events.c.item_id.in_(bindparam("item_ids", expanding=True)), events.c.type == "created")
    .order_by(events.c.id)
)


def created_data_many(conn: Connection, item_ids: list[int]) -> dict[int, dict[str, Any]]:
    """``created_data`` of many items in one statement, by item id (an item without its event
    is missing)."""
    found: dict[int, dict[str, Any]] = {}
    for start in range(0, len(item_ids), 1000):
        for row in conn.execute(_CREATED_DATA_MANY, {"item_ids": item_ids[start : start + 1000]}):
            data = json.loads(row.data) if row.data else {}
            found.setdefault(row.item_id, data if isinstance(data, dict) else {})
    return found


def for_project(conn: Connection, project_id: int, *, limit: int = 100) -> list[EventRecord]:
    """The newest changes of a project first, items and settings alike."""
    rows = conn.execute(
        select(events).where(events.c.project_id == project_id).order_by(events.c.id.desc()).limit(limit)
    ).all()
    return [_event(row) for row in rows]
