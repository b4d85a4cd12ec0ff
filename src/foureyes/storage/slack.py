"""The Slack channel's rows: where a request's messages were posted (its first, and those its
escalations posted), the signed interaction payloads already handled (so one presented again is
refused), and each project's own bot token, sealed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, bindparam, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from foureyes.storage import items as item_rows
from foureyes.storage.records import ItemRecord
from foureyes.storage.schema import api_keys, events, items, projects, slack_interactions, slack_messages
from foureyes.storage.sealing import SecretBox


@dataclass(frozen=True)
class SlackMessage:
    """A message an escalation posted for a request; ``channel`` and ``ts`` once it was posted."""

    id: int
    item_id: int
    target: str
    note: str | None
    context: str | None
    channel: str | None
    ts: str | None


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
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT ... ON CONFLICT DO NOTHING
    inserted = conn.execute(
        insert(slack_interactions)
        .values(digest=digest, received_at=now)
        .on_conflict_do_nothing()
        .returning(slack_interactions.c.digest)
    ).first()
    return inserted is not None


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


def add_message(
    conn: Connection, item_id: int, *, target: str, note: str | None, context: str | None, now: datetime
) -> int:
    """Record that an escalation posts a message to ``target`` (posted later, by the outbox)."""
    result = conn.execute(
        slack_messages.insert().values(
            item_id=item_id, target=target, note=note, context=context, created_at=now
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def set_message_posted(conn: Connection, message_id: int, *, channel: str, ts: str) -> None:
    conn.execute(
        slack_messages.update().where(slack_messages.c.id == message_id).values(channel=channel, ts=ts)
    )


def _message(row: object) -> SlackMessage:
    return SlackMessage(*(getattr(row, c.name) for c in slack_messages.c if c.name != "created_at"))


def get_message(conn: Connection, message_id: int) -> SlackMessage | None:
    row = conn.execute(select(slack_messages).where(slack_messages.c.id == message_id)).first()
    return None if row is None else _message(row)


def messages_of(conn: Connection, item_id: int) -> list[SlackMessage]:
    """The messages the item's escalations posted (or will post), oldest first."""
    rows = conn.execute(
        select(slack_messages).where(slack_messages.c.item_id == item_id).order_by(slack_messages.c.id)
    ).all()
    return [_message(row) for row in rows]


_MESSAGES_OF_MANY = (
    select(slack_messages)
    .where(slack_messages.c.item_id.in_(bindparam("item_ids", expanding=True)))
    .order_by(slack_messages.c.id)
)


def messages_of_many(conn: Connection, item_ids: list[int]) -> dict[int, list[SlackMessage]]:
    """``messages_of`` many items in one statement, by item id (an item without any is missing)."""
    found: dict[int, list[SlackMessage]] = {}
    for start in range(0, len(item_ids), 1000):
        for row in conn.execute(_MESSAGES_OF_MANY, {"item_ids": item_ids[start : start + 1000]}):
            found.setdefault(row.item_id, []).append(_message(row))
    return found


def set_project_token(conn: Connection, box: SecretBox, project_id: int, token: str | None) -> bool:
    """Keep (None: forget) the project's bot token, sealed."""
    sealed = None if token is None else box.seal(token)
    result = conn.execute(projects.update().where(projects.c.id == project_id).values(slack_bot_token=sealed))
    return result.rowcount == 1


def projects_with_token(conn: Connection) -> frozenset[int]:
    """The projects that have a bot token of their own (nothing is opened to tell)."""
    rows = conn.execute(select(projects.c.id).where(projects.c.slack_bot_token.is_not(None)))
    return frozenset(int(row[0]) for row in rows)


def project_token(conn: Connection, box: SecretBox, project_id: int) -> str | None:
    """The project's own bot token, opened; None when it has none."""
    stored = conn.execute(select(projects.c.slack_bot_token).where(projects.c.id == project_id)).scalar()
    return None if stored is None else box.open(str(stored))
