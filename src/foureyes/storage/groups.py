"""A project's approver groups and their members. Every function takes the connection of the
caller's unit of work; members are people (user rows), named by their address."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Connection, delete, func, select

from foureyes.storage.records import GroupRecord
from foureyes.storage.schema import items, project_group_members, project_groups, users

PENDING = "pending"


def list_groups(
    conn: Connection, project_id: int, names: Sequence[str] | None = None, *, lock: str | None = None
) -> list[GroupRecord]:
    """The project's groups (those of ``names``, when given) by name, with their members.
    ``lock`` (PostgreSQL; SQLite has one writer anyway) holds their rows to the end of the
    transaction: ``share`` for a write that relies on them existing (a create or a policy naming
    them), ``update`` for one that changes or removes them. So a removal and a create naming the
    group at the same moment are settled in order: the later one sees what the first did."""
    query = select(project_groups).where(project_groups.c.project_id == project_id)
    if names is not None:
        query = query.where(project_groups.c.name.in_(list(names)))
    if lock is not None:
        query = query.with_for_update(read=lock == "share")
    # sorted here, not by the database: PostgreSQL's collation orders text otherwise than SQLite
    rows = sorted(conn.execute(query).all(), key=lambda row: row.name)
    members: dict[int, list[str]] = {row.id: [] for row in rows}
    if rows:
        found = conn.execute(
            select(project_group_members.c.group_id, users.c.email)
            .join(users, users.c.id == project_group_members.c.user_id)
            .where(project_group_members.c.group_id.in_(list(members)))
        )
        for group_id, email in found:
            members[group_id].append(email)
    return [
        GroupRecord(row.id, row.project_id, row.name, tuple(sorted(members[row.id])), row.created_at)
        for row in rows
    ]


def find(conn: Connection, project_id: int, name: str, *, lock: str | None = None) -> GroupRecord | None:
    found = list_groups(conn, project_id, [name], lock=lock)
    return found[0] if found else None


def insert(conn: Connection, project_id: int, name: str, now: datetime) -> int:
    result = conn.execute(project_groups.insert().values(project_id=project_id, name=name, created_at=now))
    (group_id,) = result.inserted_primary_key or (None,)
    assert isinstance(group_id, int)
    return group_id


def add_members(conn: Connection, group_id: int, user_ids: Iterable[int]) -> None:
    """Add these people (the caller skipped those already in it)."""
    rows = [{"group_id": group_id, "user_id": user_id} for user_id in user_ids]
    if rows:
        conn.execute(project_group_members.insert(), rows)


def remove_members(conn: Connection, group_id: int, user_ids: Iterable[int]) -> None:
    conn.execute(
        delete(project_group_members).where(
            project_group_members.c.group_id == group_id, project_group_members.c.user_id.in_(list(user_ids))
        )
    )


def remove(conn: Connection, group_id: int) -> None:
    conn.execute(delete(project_group_members).where(project_group_members.c.group_id == group_id))
    conn.execute(delete(project_groups).where(project_groups.c.id == group_id))


def groups_of(conn: Connection, project_id: int, email: str, names: Sequence[str]) -> tuple[str, ...]:
    """Which of the project's groups ``names`` the person with this address is in, sorted."""
    found = conn.execute(
        select(project_groups.c.name)
        .join(project_group_members, project_group_members.c.group_id == project_groups.c.id)
        .join(users, users.c.id == project_group_members.c.user_id)
        .where(
            project_groups.c.project_id == project_id,
            project_groups.c.name.in_(list(names)),
            func.lower(users.c.email) == email.strip().lower(),
        )
    )
    return tuple(sorted(found.scalars()))


def pending_needing(conn: Connection, project_id: int, name: str) -> list[str]:
    """The call ids of the project's pending requests whose requirement names this group."""
    rows = conn.execute(
        select(items.c.call_id, items.c.approver_groups).where(
            items.c.project_id == project_id, items.c.state == PENDING, items.c.approver_groups.is_not(None)
        )
    )
    return [call_id for call_id, names in rows if name in (names or "").split()]


def people_by_address(conn: Connection, addresses: Sequence[str]) -> dict[str, int]:
    """The user id of each address that is a person's, by the address in lower case."""
    wanted = sorted({a.strip().lower() for a in addresses})
    if not wanted:
        return {}
    rows = conn.execute(select(users.c.id, users.c.email).where(func.lower(users.c.email).in_(wanted)))
    return {email.lower(): user_id for user_id, email in rows}
