"""A project's policies (rules that decide, route or raise the bar at create time). Every
function takes the connection of the caller's unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, func, select

from foureyes.storage.items import item_record
from foureyes.storage.records import ItemRecord, PolicyRecord
from foureyes.storage.schema import api_keys, events, items, policies

# Read on every create in a project: the statement is built once.
_OF_PROJECT = (
    select(policies)
    .where(policies.c.project_id == bindparam("project_id"))
    .order_by(policies.c.position, policies.c.id)
)


def _policy(row: Row[Any]) -> PolicyRecord:
    return PolicyRecord(
        id=row.id,
        project_id=row.project_id,
        name=row.name,
        position=row.position,
        expression=row.expression,
        action=row.action,
        comment=row.comment,
        shadow=bool(row.shadow),
        created_at=row.created_at,
    )


def list_policies(conn: Connection, project_id: int) -> list[PolicyRecord]:
    """The project's rules in the order they are evaluated."""
    return [_policy(row) for row in conn.execute(_OF_PROJECT, {"project_id": project_id})]


def count(conn: Connection, project_id: int) -> int:
    found = conn.execute(
        select(func.count()).select_from(policies).where(policies.c.project_id == project_id)
    )
    return int(found.scalar_one())


def next_position(conn: Connection, project_id: int) -> int:
    found = conn.execute(select(func.max(policies.c.position)).where(policies.c.project_id == project_id))
    last = found.scalar_one_or_none()
    return 1 if last is None else int(last) + 1


def insert(
    conn: Connection,
    *,
    project_id: int,
    name: str,
    position: int,
    expression: str,
    action: str,
    comment: str | None,
    shadow: bool,
    now: datetime,
) -> PolicyRecord:
    values = {
        "project_id": project_id,
        "name": name,
        "position": position,
        "expression": expression,
        "action": action,
        "comment": comment,
        "shadow": shadow,
        "created_at": now,
    }
    result = conn.execute(policies.insert().values(**values))
    (policy_id,) = result.inserted_primary_key or (None,)
    assert isinstance(policy_id, int)
    return PolicyRecord(id=policy_id, **values)  # type: ignore[arg-type]


def remove(conn: Connection, project_id: int, name: str) -> bool:
    result = conn.execute(
        delete(policies).where(policies.c.project_id == project_id, policies.c.name == name)
    )
    return result.rowcount == 1


def remove_all(conn: Connection, project_id: int) -> int:
    return int(conn.execute(delete(policies).where(policies.c.project_id == project_id)).rowcount)


def replace_all(conn: Connection, project_id: int, wanted: Sequence[dict[str, Any]], now: datetime) -> None:
    """The project's rules become exactly ``wanted`` (in the caller's transaction)."""
    remove_all(conn, project_id)
    for position, rule in enumerate(wanted, start=1):
        insert(conn, project_id=project_id, position=position, now=now, **rule)


def make_room(conn: Connection, project_id: int, position: int) -> None:
    """Move the rules at ``position`` and after one place down, so a new one fits there."""
    conn.execute(
        policies.update()
        .where(policies.c.project_id == project_id, policies.c.position >= position)
        .values(position=policies.c.position + 1)
    )


def recent_items(conn: Connection, project_id: int, limit: int) -> list[tuple[ItemRecord, str | None]]:
    """The project's latest items, newest first, each with the name (else the prefix) of the key
    that created it."""
    agent = func.coalesce(api_keys.c.name, api_keys.c.prefix).label("agent")
    rows = conn.execute(
        select(items, agent)
        .outerjoin(events, (events.c.item_id == items.c.id) & (events.c.type == "created"))
        .outerjoin(api_keys, api_keys.c.id == events.c.actor_key_id)
        .where(items.c.project_id == project_id)
        .order_by(items.c.id.desc())
        .limit(limit)
    ).all()
    return [(item_record(row), row.agent) for row in rows]
