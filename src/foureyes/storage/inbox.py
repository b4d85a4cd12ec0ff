"""``InboxStore``: the reviewer's lists, newest first, filtered in SQL where SQL can.

An item's "agent" is the API key that created it (its name, else its prefix), found through the
item's ``created`` event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select

from foureyes._protocol import ItemKind
from foureyes.storage.database import Database
from foureyes.storage.items import DECISIONS_WITH_ACTOR, PENDING, decision_from_row, item_record
from foureyes.storage.records import ItemRecord
from foureyes.storage.schema import api_keys, decisions, events, items


@dataclass(frozen=True)
class InboxFilter:
    pending: bool = True
    kind: str | None = None
    run_id: str | None = None
    # exact function name; only function calls match
    fn: str | None = None
    agent: str | None = None
    text: str | None = None
    requested_after: datetime | None = None
    requested_before: datetime | None = None
    # Keyset paging: only rows after this (time, id) in list order, which is newest first by
    # ``requested_at`` (pending) or ``completed_at`` (history).
    after: tuple[datetime, int] | None = None
    limit: int = 200


@dataclass(frozen=True)
class InboxRow:
    item: ItemRecord
    agent: str | None


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class InboxStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def list_items(self, project_id: int, wanted: InboxFilter) -> list[InboxRow]:
        agent = func.coalesce(api_keys.c.name, api_keys.c.prefix).label("agent")
        created = and_(events.c.item_id == items.c.id, events.c.type == "created")
        query: Any = (
            select(items, agent)
            .outerjoin(events, created)
            .outerjoin(api_keys, api_keys.c.id == events.c.actor_key_id)
            .where(items.c.project_id == project_id)
        )
        at = items.c.requested_at if wanted.pending else items.c.completed_at
        query = query.where(items.c.state == PENDING if wanted.pending else items.c.state != PENDING)
        query = query.order_by(at.desc(), items.c.id.desc())
        if wanted.after is not None:
            time, item_id = wanted.after
            query = query.where(or_(at < time, and_(at == time, items.c.id < item_id)))
        if wanted.kind:
            query = query.where(items.c.kind == wanted.kind)
        if wanted.run_id:
            query = query.where(items.c.run_id == wanted.run_id)
        if wanted.fn is not None:
            # The spec is stored as compact JSON, so the name appears as "fn":"<name>"; a kwarg
            # that happens to look the same is removed by the exact check below.
            fn_json = json.dumps(wanted.fn, ensure_ascii=False)
            query = query.where(
                items.c.kind == ItemKind.FUNCTION_CALL,
                items.c.spec.like(_like(f'"fn":{fn_json}'), escape="\\"),
            )
        if wanted.agent:
            query = query.where(or_(api_keys.c.name == wanted.agent, api_keys.c.prefix == wanted.agent))
        if wanted.text:
            pattern = _like(wanted.text)
            query = query.where(
                or_(
                    items.c.spec.like(pattern, escape="\\"),
                    items.c.call_id.like(pattern, escape="\\"),
                    items.c.run_id.like(pattern, escape="\\"),
                )
            )
        if wanted.requested_after is not None:
            query = query.where(items.c.requested_at >= wanted.requested_after)
        if wanted.requested_before is not None:
            query = query.where(items.c.requested_at < wanted.requested_before)
        query = query.limit(wanted.limit)
        with self._db.read() as conn:
            rows = conn.execute(query).all()
            found = [InboxRow(item_record(row), row.agent) for row in rows]
            if wanted.fn is not None:
                found = [r for r in found if r.item.spec.get("fn") == wanted.fn]
            if wanted.pending or not found:
                return found
            decided = conn.execute(
                DECISIONS_WITH_ACTOR.where(decisions.c.item_id.in_([r.item.id for r in found]))
            ).all()
        by_item: dict[int, list[Any]] = {}
        for row in decided:
            by_item.setdefault(row.item_id, []).append(decision_from_row(row))
        return [replace(r, item=replace(r.item, decisions=tuple(by_item.get(r.item.id, ())))) for r in found]

    def pending_counts(self, project_ids: list[int]) -> dict[int, int]:
        """How many items are pending in each of these projects (absent: none)."""
        if not project_ids:
            return {}
        query = (
            select(items.c.project_id, func.count())
            .where(items.c.project_id.in_(project_ids), items.c.state == PENDING)
            .group_by(items.c.project_id)
        )
        with self._db.read() as conn:
            return {int(pid): int(n) for pid, n in conn.execute(query).all()}

    def origin_of(self, item_id: int) -> tuple[str | None, str | None]:
        """The agent that created the item and the channel it came in through."""
        query = (
            select(func.coalesce(api_keys.c.name, api_keys.c.prefix).label("agent"), events.c.channel)
            .select_from(events)
            .outerjoin(api_keys, api_keys.c.id == events.c.actor_key_id)
            .where(events.c.item_id == item_id, events.c.type == "created")
        )
        with self._db.read() as conn:
            row = conn.execute(query).first()
        return (None, None) if row is None else (row.agent, row.channel)
