"""The Slack channel's rows: where a request's message was posted, and the signed interaction
payloads already handled (so one presented again is refused)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, and_, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from foureyes.storage import items as item_rows
from foureyes.storage.records import ItemRecord
from foureyes.storage.schema import api_keys, events, items, slack_interactions


def set_message(conn: Connection, item_id: int, *, channel: str, ts: str) -> None:
    """Remember the message that shows the item (the channel as Slack answered it)."""
    conn.execute(
        items.update().where(items.c.id == item_id).values(slack_channel=channel, slack_message_ts=ts)
    )


def message_of(conn: Connection, item_id: int) -> tuple[str, str] | None:
    """``(channel, ts)`` of the item's Slack message, None while nothing was posted."""
    row = conn.execute(
        select(items.c.slack_channel, items.c.slack_message_ts).where(items.c.id == item_id)
    ).first()
    if row is None or row.slack_channel is None or row.slack_message_ts is None:
        return None
    return str(row.slack_channel), str(row.slack_message_ts)


def first_sighting(conn: Connection, digest: str, *, now: datetime, forget_before: datetime) -> bool:
    """Record a handled interaction: True the first time this digest is seen, False after.
    Digests older than ``forget_before`` (outside the signature window) are pruned."""
    conn.execute(delete(slack_interactions).where(slack_interactions.c.received_at < forget_before))
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    result = conn.execute(
        insert(slack_interactions).values(digest=digest, received_at=now).on_conflict_do_nothing()
    )
    return result.rowcount == 1


def item_by_id(conn: Connection, item_id: int) -> ItemRecord | None:
    """The item with its decisions, by its row id."""
    row = conn.execute(select(items).where(items.c.id == item_id)).first()
    return None if row is None else item_rows.item_record(row, tuple(item_rows.decisions_of(conn, item_id)))


def agent_of(conn: Connection, item_id: int) -> str | None:
    """The name (else the prefix) of the API key that created the item."""
    created = and_(events.c.item_id == item_id, events.c.type == "created")
    row = conn.execute(
        select(func.coalesce(api_keys.c.name, api_keys.c.prefix))
        .select_from(events.outerjoin(api_keys, api_keys.c.id == events.c.actor_key_id))
        .where(created)
        .limit(1)
    ).first()
    return None if row is None or row[0] is None else str(row[0])
