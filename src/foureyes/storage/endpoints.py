"""Webhook endpoints. Secrets are sealed with the database's ``SecretBox`` on the way in and
opened on the way out, so a copy of the database alone cannot sign."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, select

from foureyes.storage.records import ProjectRecord, WebhookEndpointRecord
from foureyes.storage.schema import projects, webhook_endpoints
from foureyes.storage.sealing import SecretBox

_ENDPOINTS = select(webhook_endpoints, projects.c.slug.label("project_slug")).join(
    projects, projects.c.id == webhook_endpoints.c.project_id
)
# Runs in every create and decision: built once.
_SUBSCRIBED = (
    select(webhook_endpoints.c.id, webhook_endpoints.c.events)
    .where(webhook_endpoints.c.project_id == bindparam("project_id"), webhook_endpoints.c.enabled.is_(True))
    .order_by(webhook_endpoints.c.id)
)


def _endpoint(box: SecretBox, row: Row[Any]) -> WebhookEndpointRecord:
    return WebhookEndpointRecord(
        id=row.id,
        project_id=row.project_id,
        project_slug=row.project_slug,
        url=row.url,
        events=tuple(row.events.split()),
        enabled=bool(row.enabled),
        secret=box.open(row.secret),
        previous_secret=None if row.previous_secret is None else box.open(row.previous_secret),
        previous_secret_expires_at=row.previous_secret_expires_at,
        created_at=row.created_at,
    )


def insert(
    conn: Connection,
    box: SecretBox,
    *,
    project: ProjectRecord,
    url: str,
    events: Sequence[str],
    secret: str,
    now: datetime,
) -> WebhookEndpointRecord:
    result = conn.execute(
        webhook_endpoints.insert().values(
            project_id=project.id,
            url=url,
            events=" ".join(events),
            enabled=True,
            secret=box.seal(secret),
            created_at=now,
        )
    )
    (endpoint_id,) = result.inserted_primary_key or (None,)
    assert isinstance(endpoint_id, int)
    return WebhookEndpointRecord(
        endpoint_id, project.id, project.slug, url, tuple(events), True, secret, None, None, now
    )


def get(conn: Connection, box: SecretBox, endpoint_id: int) -> WebhookEndpointRecord | None:
    row = conn.execute(_ENDPOINTS.where(webhook_endpoints.c.id == endpoint_id)).first()
    return None if row is None else _endpoint(box, row)


def list_all(conn: Connection, box: SecretBox, project_id: int | None = None) -> list[WebhookEndpointRecord]:
    query = _ENDPOINTS.order_by(webhook_endpoints.c.id)
    if project_id is not None:
        query = query.where(webhook_endpoints.c.project_id == project_id)
    return [_endpoint(box, row) for row in conn.execute(query)]


def subscribed(conn: Connection, project_id: int, event_type: str) -> list[int]:
    """The enabled endpoints of a project that want ``event_type``, oldest first."""
    rows = conn.execute(_SUBSCRIBED, {"project_id": project_id}).all()
    return [row.id for row in rows if event_type in row.events.split()]


def disabled_ids(conn: Connection) -> list[int]:
    rows = conn.execute(select(webhook_endpoints.c.id).where(webhook_endpoints.c.enabled.is_(False)))
    return [row.id for row in rows]


def set_enabled(conn: Connection, endpoint_id: int, enabled: bool) -> bool:
    result = conn.execute(
        webhook_endpoints.update().where(webhook_endpoints.c.id == endpoint_id).values(enabled=enabled)
    )
    return result.rowcount == 1


def rotate_secret(
    conn: Connection, box: SecretBox, endpoint_id: int, new_secret: str, previous_expires_at: datetime
) -> bool:
    result = conn.execute(
        webhook_endpoints.update()
        .where(webhook_endpoints.c.id == endpoint_id)
        .values(
            previous_secret=webhook_endpoints.c.secret,
            previous_secret_expires_at=previous_expires_at,
            secret=box.seal(new_secret),
        )
    )
    return result.rowcount == 1
