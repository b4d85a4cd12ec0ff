"""Web Push: the server's own keys (``server_keys``) and reviewers' push subscriptions.

A private key is sealed with the database's ``SecretBox`` on the way in and opened on the way
out, as webhook secrets are. A subscription is reached only while its person is a member of its
project: ``recipients`` joins the memberships, so removing someone from a project stops their
notifications at once, whatever subscriptions are left.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from foureyes.storage.schema import api_keys, events, memberships, push_subscriptions, server_keys
from foureyes.storage.sealing import SecretBox


@dataclass(frozen=True)
class ServerKey:
    name: str
    public_key: str
    private_key: str
    created_at: datetime


@dataclass(frozen=True)
class PushSubscription:
    id: int
    user_id: int
    project_id: int
    endpoint: str
    p256dh: str
    auth: str
    created_at: datetime


def get_server_key(conn: Connection, box: SecretBox, name: str) -> ServerKey | None:
    row = conn.execute(select(server_keys).where(server_keys.c.name == name)).first()
    if row is None:
        return None
    return ServerKey(row.name, row.public_key, box.open(row.sealed_private_key), row.created_at)


def add_server_key(
    conn: Connection, box: SecretBox, *, name: str, public_key: str, private_key: str, now: datetime
) -> bool:
    """Store a new key under ``name``; False when one is there already (another replica's)."""
    try:
        with conn.begin_nested():
            conn.execute(
                server_keys.insert().values(
                    name=name,
                    public_key=public_key,
                    sealed_private_key=box.seal(private_key),
                    created_at=now,
                )
            )
    except IntegrityError:
        return False
    return True


def _subscription(row: Row[Any]) -> PushSubscription:
    return PushSubscription(
        row.id, row.user_id, row.project_id, row.endpoint, row.p256dh, row.auth, row.created_at
    )


def subscribe(
    conn: Connection,
    *,
    user_id: int,
    project_id: int,
    endpoint: str,
    p256dh: str,
    auth: str,
    now: datetime,
) -> int:
    """Turn notifications on for (person, project) on this endpoint; the subscription's id.

    The endpoint is one browser: it is taken from anyone else who had it (a shared device
    notifies whoever turned it on last), and its keys are updated everywhere it is used (a
    browser that subscribed again has new ones)."""
    conn.execute(
        delete(push_subscriptions).where(
            push_subscriptions.c.endpoint == endpoint, push_subscriptions.c.user_id != user_id
        )
    )
    conn.execute(
        update(push_subscriptions)
        .where(push_subscriptions.c.endpoint == endpoint)
        .values(p256dh=p256dh, auth=auth)
    )
    found = conn.execute(
        select(push_subscriptions.c.id).where(
            push_subscriptions.c.project_id == project_id, push_subscriptions.c.endpoint == endpoint
        )
    ).scalar_one_or_none()
    if found is not None:
        return int(found)
    result = conn.execute(
        push_subscriptions.insert().values(
            user_id=user_id,
            project_id=project_id,
            endpoint=endpoint,
            p256dh=p256dh,
            auth=auth,
            created_at=now,
        )
    )
    (subscription_id,) = result.inserted_primary_key or (None,)
    assert isinstance(subscription_id, int)
    return subscription_id


def unsubscribe(conn: Connection, *, user_id: int, project_id: int, endpoint: str) -> int:
    """Turn it off for (person, project) on this endpoint; how many endpoint rows are left."""
    conn.execute(
        delete(push_subscriptions).where(
            push_subscriptions.c.user_id == user_id,
            push_subscriptions.c.project_id == project_id,
            push_subscriptions.c.endpoint == endpoint,
        )
    )
    return int(
        conn.execute(select(func.count()).where(push_subscriptions.c.endpoint == endpoint)).scalar_one()
    )


def is_subscribed(conn: Connection, *, user_id: int, project_id: int, endpoint: str) -> bool:
    found = conn.execute(
        select(push_subscriptions.c.id).where(
            push_subscriptions.c.user_id == user_id,
            push_subscriptions.c.project_id == project_id,
            push_subscriptions.c.endpoint == endpoint,
        )
    ).first()
    return found is not None


def get(conn: Connection, subscription_id: int) -> PushSubscription | None:
    row = conn.execute(select(push_subscriptions).where(push_subscriptions.c.id == subscription_id)).first()
    return None if row is None else _subscription(row)


def remove(conn: Connection, subscription_id: int) -> bool:
    """Remove one subscription (its push service said it is gone)."""
    result = conn.execute(delete(push_subscriptions).where(push_subscriptions.c.id == subscription_id))
    return result.rowcount == 1


def list_for(conn: Connection, *, user_id: int | None = None) -> list[PushSubscription]:
    query = select(push_subscriptions).order_by(push_subscriptions.c.id)
    if user_id is not None:
        query = query.where(push_subscriptions.c.user_id == user_id)
    return [_subscription(row) for row in conn.execute(query)]


# Built once: every create's Web Push fan-out asks it (most often of a project with none).
_RECIPIENTS = (
    select(push_subscriptions.c.id)
    .join(
        memberships,
        (memberships.c.user_id == push_subscriptions.c.user_id)
        & (memberships.c.project_id == push_subscriptions.c.project_id),
    )
    .where(push_subscriptions.c.project_id == bindparam("project_id"))
    .order_by(push_subscriptions.c.id)
)


def recipients(conn: Connection, project_id: int) -> list[int]:
    """The subscriptions of a project whose person is still a member of it, by id."""
    return [int(found) for found in conn.execute(_RECIPIENTS, {"project_id": project_id}).scalars()]


_AGENT = (
    select(func.coalesce(api_keys.c.name, api_keys.c.prefix))
    .select_from(events)
    .join(api_keys, api_keys.c.id == events.c.actor_key_id)
    .where(events.c.item_id == bindparam("item_id"), events.c.type == "created")
)


def agent_of(conn: Connection, item_id: int) -> str | None:
    """The agent that created an item: its key's name, else the key's prefix."""
    found = conn.execute(_AGENT, {"item_id": item_id}).scalar_one_or_none()
    return None if found is None else str(found)
