"""Projects and API keys. Every function takes the connection of the caller's unit of work."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, select
from sqlalchemy.exc import IntegrityError

from foureyes.storage.records import ApiKeyRecord, ProjectRecord
from foureyes.storage.schema import api_keys, projects

# authenticate runs on every request: the statement is built once.
_KEYS = select(api_keys, projects.c.slug.label("project_slug")).join(
    projects, projects.c.id == api_keys.c.project_id
)
_KEY_BY_HASH = _KEYS.where(api_keys.c.key_hash == bindparam("key_hash"))


def _project(row: Row[Any]) -> ProjectRecord:
    channels = tuple(json.loads(row.default_channels)) if row.default_channels else ()
    return ProjectRecord(
        row.id,
        row.slug,
        row.name,
        row.expires_after_seconds,
        default_channels=channels,
        email_deciders_members_only=bool(row.email_deciders_members_only),
        escalation_steps=tuple(json.loads(row.escalation_steps)) if row.escalation_steps else (),
        step_up=bool(row.step_up),
    )


def find_project(conn: Connection, slug: str) -> ProjectRecord | None:
    row = conn.execute(select(projects).where(projects.c.slug == slug)).first()
    return None if row is None else _project(row)


def list_projects(conn: Connection) -> list[ProjectRecord]:
    return [_project(row) for row in conn.execute(select(projects).order_by(projects.c.slug))]


# Built once: every create reads its project, and so do the sinks' fan-outs in its transaction.
_PROJECT = select(projects).where(projects.c.id == bindparam("project_id"))


def get_project(conn: Connection, project_id: int) -> ProjectRecord | None:
    row = conn.execute(_PROJECT, {"project_id": project_id}).first()
    return None if row is None else _project(row)


def set_project_expiry(conn: Connection, project_id: int, seconds: int | None) -> bool:
    """Set (None: clear) the deadline of the project's requests that name none."""
    result = conn.execute(
        projects.update().where(projects.c.id == project_id).values(expires_after_seconds=seconds)
    )
    return result.rowcount == 1


def set_project_channels(conn: Connection, project_id: int, channels: Sequence[Mapping[str, Any]]) -> bool:
    """Set (empty: clear) the channels of the project's requests that name none."""
    text = json.dumps(list(channels), ensure_ascii=False, separators=(",", ":")) if channels else None
    result = conn.execute(projects.update().where(projects.c.id == project_id).values(default_channels=text))
    return result.rowcount == 1


def set_project_escalation_steps(
    conn: Connection, project_id: int, steps: Sequence[Mapping[str, Any]]
) -> bool:
    """Set (empty: clear) the project's escalation chain."""
    text = json.dumps(list(steps), ensure_ascii=False, separators=(",", ":")) if steps else None
    result = conn.execute(projects.update().where(projects.c.id == project_id).values(escalation_steps=text))
    return result.rowcount == 1


def projects_with_escalations(conn: Connection) -> list[ProjectRecord]:
    """Every project that has an escalation chain."""
    rows = conn.execute(select(projects).where(projects.c.escalation_steps.is_not(None))).all()
    return [_project(row) for row in rows]


def set_project_email_deciders(conn: Connection, project_id: int, members_only: bool) -> bool:
    result = conn.execute(
        projects.update().where(projects.c.id == project_id).values(email_deciders_members_only=members_only)
    )
    return result.rowcount == 1


def set_project_step_up(conn: Connection, project_id: int, step_up: bool) -> bool:
    result = conn.execute(projects.update().where(projects.c.id == project_id).values(step_up=step_up))
    return result.rowcount == 1


def ensure_project(conn: Connection, slug: str, name: str | None = None, *, now: datetime) -> ProjectRecord:
    """The project ``slug``, created if missing. Another writer creating it at the same moment
    is settled by the unique slug: the insert runs in a savepoint, and the loser reads the
    winner's row."""
    found = find_project(conn, slug)
    if found is not None:
        return found
    try:
        with conn.begin_nested():
            result = conn.execute(projects.insert().values(slug=slug, name=name or slug, created_at=now))
    except IntegrityError:
        found = find_project(conn, slug)
        if found is None:
            raise
        return found
    (project_id,) = result.inserted_primary_key or (None,)
    assert isinstance(project_id, int)
    return ProjectRecord(project_id, slug, name or slug)


def _key(row: Row[Any]) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=row.id,
        project_id=row.project_id,
        project_slug=row.project_slug,
        name=row.name,
        prefix=row.prefix,
        scopes=tuple(row.scopes.split()),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        user_id=row.user_id,
    )


def insert_key(
    conn: Connection,
    *,
    project: ProjectRecord,
    name: str | None,
    prefix: str,
    key_hash: str,
    scopes: Sequence[str],
    now: datetime,
    user_id: int | None = None,
) -> ApiKeyRecord:
    result = conn.execute(
        api_keys.insert().values(
            project_id=project.id,
            name=name,
            prefix=prefix,
            key_hash=key_hash,
            scopes=" ".join(scopes),
            created_at=now,
            user_id=user_id,
        )
    )
    (key_id,) = result.inserted_primary_key or (None,)
    assert isinstance(key_id, int)
    return ApiKeyRecord(key_id, project.id, project.slug, name, prefix, tuple(scopes), now, None, user_id)


def find_key(conn: Connection, key_hash: str) -> ApiKeyRecord | None:
    row = conn.execute(_KEY_BY_HASH, {"key_hash": key_hash}).first()
    return None if row is None else _key(row)


def get_key(conn: Connection, key_id: int) -> ApiKeyRecord | None:
    row = conn.execute(_KEYS.where(api_keys.c.id == key_id)).first()
    return None if row is None else _key(row)


def list_keys(
    conn: Connection, *, project_id: int | None = None, user_id: int | None = None
) -> list[ApiKeyRecord]:
    query = _KEYS.order_by(api_keys.c.id)
    if project_id is not None:
        query = query.where(api_keys.c.project_id == project_id)
    if user_id is not None:
        query = query.where(api_keys.c.user_id == user_id)
    return [_key(row) for row in conn.execute(query)]


def revoke_key(conn: Connection, key_id: int, *, now: datetime) -> bool:
    """True when this call revoked it; False when it was unknown or revoked already."""
    result = conn.execute(
        api_keys.update()
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount == 1
