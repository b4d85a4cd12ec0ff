"""Items (function calls and human contacts) and their decisions.

Every function takes the connection of the caller's unit of work; writes return the record as
it was written, so nobody has to re-read or hand-build what was just stored.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, Select, bindparam, func, select

from foureyes._protocol import ItemState
from foureyes.storage.events import dumps
from foureyes.storage.records import DecisionRecord, ItemRecord, NewDecision, NewItem
from foureyes.storage.schema import decisions, items, users

PENDING = ItemState.PENDING

# create and get run on every agent request: the statement is built once.
_SELECT_ITEM = select(items).where(
    items.c.project_id == bindparam("project_id"),
    items.c.kind == bindparam("kind"),
    items.c.call_id == bindparam("call_id"),
)
# A decision runs these on every item it completes: built once, like the create's.
_COMPLETE = (
    items.update()
    .where(items.c.id == bindparam("done_item_id"), items.c.state == PENDING)
    .values(state=bindparam("done_state"), completed_at=bindparam("done_at"))
)
_INSERT_DECISION = decisions.insert()
# A bulk decision's rows, many in one statement. Each names its item (one decision per item in
# a batch), so the ids are matched by item: asking for them in the order given would make
# SQLAlchemy insert one row a statement on SQLite.
_INSERT_DECISIONS = decisions.insert().returning(decisions.c.item_id, decisions.c.id)
# The ones of a batch still pending, held until the commit (FOR UPDATE on PostgreSQL, in id
# order so two batches lock in the same order; SQLite's BEGIN IMMEDIATE holds the one writer).
_LOCK_PENDING = (
    select(items.c.id)
    .where(items.c.id.in_(bindparam("item_ids", expanding=True)), items.c.state == PENDING)
    .order_by(items.c.id)
    .with_for_update()
)
# Bound parameters per statement stay well below SQLite's and PostgreSQL's limits.
_CHUNK = 1000
# The deciding person's address, else the address an email link was signed for.
ACTOR_EMAIL = func.coalesce(users.c.email, decisions.c.actor_address).label("actor_email")
# Who decided, by the name they had then (stored with the decision), else by their name now.
ACTOR_NAME = func.coalesce(decisions.c.actor_name, users.c.display_name).label("actor_name")
# A decision with its decider: select it from DECISIONS_WITH_ACTOR and add the WHERE.
DECISIONS_WITH_ACTOR: Select[Any] = (
    select(*[c for c in decisions.c if c.name != "actor_name"], ACTOR_EMAIL, ACTOR_NAME)
    .select_from(decisions.outerjoin(users, users.c.id == decisions.c.actor_user_id))
    .order_by(decisions.c.id)
)
_SELECT_DECISIONS = DECISIONS_WITH_ACTOR.where(decisions.c.item_id == bindparam("item_id"))


def decision_from_row(row: Row[Any]) -> DecisionRecord:
    """A decision row joined (outer) with its user's ``actor_email`` and ``actor_name``."""
    return DecisionRecord(
        id=row.id,
        verdict=row.verdict,
        comment=row.comment,
        option_name=row.option_name,
        response=row.response,
        actor_key_id=row.actor_key_id,
        channel=row.channel,
        decided_at=row.decided_at,
        spec_digest=row.spec_digest,
        actor_user_id=row.actor_user_id,
        actor_email=row.actor_email,
        actor_name=row.actor_name,
        edited_kwargs=None if row.edited_kwargs is None else json.loads(row.edited_kwargs),
        receipt=row.receipt,
        policy=row.policy,
        step_up_credential=row.step_up_credential,
        approver_groups=_names(row.approver_groups),
    )


def item_record(row: Row[Any], found: tuple[DecisionRecord, ...] = ()) -> ItemRecord:
    return ItemRecord(
        id=row.id,
        project_id=row.project_id,
        kind=row.kind,
        call_id=row.call_id,
        run_id=row.run_id,
        spec=json.loads(row.spec),
        request_digest=row.request_digest,
        spec_digest=row.spec_digest,
        state=row.state,
        requested_at=row.requested_at,
        completed_at=row.completed_at,
        decisions=found,
        expires_at=row.expires_at,
        slack_message_ts=getattr(row, "slack_message_ts", None),
        allow_edit=bool(row.allow_edit),
        required_approvals=row.required_approvals,
        creator_user_id=row.creator_user_id,
        routes=tuple((row.routes or "").split()),
        step_up=bool(row.step_up),
        approver_groups=_names(row.approver_groups),
        approver_groups_needed=row.approver_groups_needed or 0,
        escalation_steps_done=row.escalation_steps_done,
        escalation_steps=tuple(json.loads(row.escalation_steps)) if row.escalation_steps else (),
        next_escalation_at=row.next_escalation_at,
    )


def _names(stored: str | None) -> tuple[str, ...]:
    return tuple((stored or "").split())


def _joined(names: tuple[str, ...]) -> str | None:
    return " ".join(names) or None


def _has_decisions(row: Row[Any]) -> bool:
    """A completed item has its decisions; a pending one only the approvals of a quorum."""
    return bool(row.state != PENDING or (row.required_approvals or 1) > 1 or row.approver_groups)


def decisions_of(conn: Connection, item_id: int) -> list[DecisionRecord]:
    return [decision_from_row(row) for row in conn.execute(_SELECT_DECISIONS, {"item_id": item_id})]


def get(conn: Connection, project_id: int, kind: str, call_id: str) -> ItemRecord | None:
    """The item with its decisions."""
    row = conn.execute(_SELECT_ITEM, {"project_id": project_id, "kind": kind, "call_id": call_id}).first()
    if row is None:
        return None
    found = tuple(decisions_of(conn, row.id)) if _has_decisions(row) else ()
    return item_record(row, found)


def get_many(conn: Connection, project_id: int, kind: str, call_ids: list[str]) -> dict[str, ItemRecord]:
    """The items of these call ids that exist, by call id, with their decisions: two statements
    however many are named (a bulk decision reads its whole batch at once)."""
    rows = conn.execute(
        select(items).where(
            items.c.project_id == project_id, items.c.kind == kind, items.c.call_id.in_(call_ids)
        )
    ).all()
    wanted = [row.id for row in rows if _has_decisions(row)]
    found: dict[int, list[DecisionRecord]] = {}
    if wanted:
        query = DECISIONS_WITH_ACTOR.where(decisions.c.item_id.in_(wanted))
        for row in conn.execute(query):
            found.setdefault(row.item_id, []).append(decision_from_row(row))
    return {row.call_id: item_record(row, tuple(found.get(row.id, ()))) for row in rows}


def get_by_id(conn: Connection, item_id: int) -> ItemRecord | None:
    """The item with its decisions, by its row id."""
    row = conn.execute(select(items).where(items.c.id == item_id)).first()
    if row is None:
        return None
    return item_record(row, tuple(decisions_of(conn, row.id)) if row.state != PENDING else ())


def insert(conn: Connection, new: NewItem) -> tuple[ItemRecord, bool]:
    """Insert a pending item, or return the one already stored under its call id; the boolean
    says whether this call created it. A writer inserting the same call id at the same moment
    (another replica) is settled by the unique constraint: the loser's transaction fails with
    ``IntegrityError``, and its caller reads the winner's item (no savepoint on the hot path)."""
    existing = get(conn, new.project_id, new.kind, new.call_id)
    if existing is not None:
        return existing, False
    # The item's own columns, as given; the actor and channel belong to its created event.
    stored = {f.name: getattr(new, f.name) for f in dataclasses.fields(new)}
    del stored["actor_key_id"], stored["channel"]
    routes = " ".join(new.routes) or None
    groups = {
        "approver_groups": _joined(new.approver_groups),
        "approver_groups_needed": new.approver_groups_needed or None,
    }
    result = conn.execute(
        items.insert(), {**stored, "spec": dumps(new.spec), "state": PENDING, "routes": routes, **groups}
    )
    (item_id,) = result.inserted_primary_key or (None,)
    assert isinstance(item_id, int)
    record = ItemRecord(id=item_id, **stored, state=PENDING, completed_at=None)
    return record, True


def complete(
    conn: Connection,
    item: ItemRecord,
    state: str,
    decision: NewDecision,
    *,
    actor_email: str | None = None,
    actor_name: str | None = None,
) -> ItemRecord | None:
    """Record the decision that completes a pending item: the item as completed, or None, with
    nothing written, when it was no longer pending. Exactly one of several racing deciders wins
    (a conditional UPDATE). ``actor_email``/``actor_name`` are the deciding person's, as now (the name is kept
    with the decision)."""
    result = conn.execute(
        _COMPLETE, {"done_item_id": item.id, "done_state": state, "done_at": decision.decided_at}
    )
    if result.rowcount != 1:
        return None
    written = _insert_decision(conn, item, decision, actor_email, actor_name)
    return dataclasses.replace(
        item, state=state, completed_at=decision.decided_at, decisions=(*item.decisions, written)
    )


def complete_many(
    conn: Connection,
    batch: Sequence[tuple[ItemRecord, NewDecision]],
    *,
    actor_email: str | None = None,
    actor_name: str | None = None,
) -> list[ItemRecord | None]:
    """``complete`` for many items, each by its decision (its verdict is the state), in a few
    statements however many there are: for each item, as ``complete`` would answer, in order
    (None: it was no longer pending, nothing of it written)."""
    ids = [item.id for item, _ in batch]
    pending: set[int] = set()
    for start in range(0, len(ids), _CHUNK):
        pending.update(conn.execute(_LOCK_PENDING, {"item_ids": ids[start : start + _CHUNK]}).scalars())
    todo = [(item, decision) for item, decision in batch if item.id in pending]
    if not todo:
        return [None] * len(batch)
    updates = [
        {"done_item_id": item.id, "done_state": d.verdict, "done_at": d.decided_at} for item, d in todo
    ]
    updated = conn.execute(_COMPLETE, updates).rowcount
    if updated != len(todo):  # the lock above holds them: nothing else may have decided one
        raise RuntimeError(f"{len(todo)} items locked as pending, {updated} completed")
    rows = [_decision_row(item, d, actor_email, actor_name) for item, d in todo]
    decision_ids: dict[int, int] = {}
    for start in range(0, len(rows), _CHUNK):
        decision_ids.update(
            (row.item_id, row.id) for row in conn.execute(_INSERT_DECISIONS, rows[start : start + _CHUNK])
        )
    completed: dict[int, ItemRecord] = {}
    for item, d in todo:
        decision_id = decision_ids[item.id]
        written = DecisionRecord(id=decision_id, **_fields(d), actor_email=actor_email, actor_name=actor_name)
        completed[item.id] = dataclasses.replace(
            item, state=d.verdict, completed_at=d.decided_at, decisions=(*item.decisions, written)
        )
    return [completed.get(item.id) for item, _ in batch]


def _decision_row(
    item: ItemRecord, decision: NewDecision, actor_email: str | None, actor_name: str | None
) -> dict[str, Any]:
    """The decision's columns: the record's fields, JSON for the edited arguments, the address of
    a decider who is no person of the server, and a person's name as it is now (kept with the
    decision: a later rename leaves it as it was)."""
    given = _fields(decision)
    edited = None if decision.edited_kwargs is None else dumps(decision.edited_kwargs)
    return {
        **given,
        "edited_kwargs": edited,
        "approver_groups": _joined(decision.approver_groups),
        "item_id": item.id,
        "actor_address": actor_email if decision.actor_user_id is None else None,
        "actor_name": actor_name if decision.actor_user_id is not None else None,
    }


def _insert_decision(
    conn: Connection, item: ItemRecord, decision: NewDecision, actor_email: str | None, actor_name: str | None
) -> DecisionRecord:
    inserted = conn.execute(_INSERT_DECISION, _decision_row(item, decision, actor_email, actor_name))
    (decision_id,) = inserted.inserted_primary_key or (None,)
    assert isinstance(decision_id, int)
    return DecisionRecord(id=decision_id, **_fields(decision), actor_email=actor_email, actor_name=actor_name)


_DECISION_FIELDS = tuple(f.name for f in dataclasses.fields(NewDecision))


def _fields(decision: NewDecision) -> dict[str, Any]:
    """The decision's fields as they are (``asdict`` would deep-copy the edited arguments)."""
    return {name: getattr(decision, name) for name in _DECISION_FIELDS}


def add_approval(
    conn: Connection,
    item: ItemRecord,
    decision: NewDecision,
    *,
    actor_email: str | None = None,
    actor_name: str | None = None,
) -> ItemRecord:
    """Record one approval of an item that needs more: it stays pending. The caller holds the
    item (``lock_if_pending``) and has checked the approver is new."""
    written = _insert_decision(conn, item, decision, actor_email, actor_name)
    return dataclasses.replace(item, decisions=(*item.decisions, written))


def set_quorum_and_routes(
    conn: Connection,
    item: ItemRecord,
    required: int | None,
    routes: tuple[str, ...],
    groups: tuple[tuple[str, ...], int] | None = None,
) -> ItemRecord:
    """What a policy decided about a new item short of deciding it: the approvals it needs, the
    channels it goes to, and (``groups``: names and how many of them) its approver groups."""
    names, needed = (item.approver_groups, item.approver_groups_needed) if groups is None else groups
    conn.execute(
        items.update()
        .where(items.c.id == item.id)
        .values(
            required_approvals=required,
            routes=" ".join(routes) or None,
            approver_groups=_joined(names),
            approver_groups_needed=needed or None,
        )
    )
    return dataclasses.replace(
        item,
        required_approvals=required,
        routes=routes,
        approver_groups=names,
        approver_groups_needed=needed,
    )


def lock_if_pending(conn: Connection, item_id: int) -> bool:
    """Whether the item is still pending, holding off a concurrent decision until the caller's
    transaction ends (FOR UPDATE on PostgreSQL; SQLite has the one writer)."""
    state = conn.execute(
        select(items.c.state).where(items.c.id == item_id).with_for_update()
    ).scalar_one_or_none()
    return state == PENDING


def list_pending(
    conn: Connection, project_id: int, kind: str, limit: int, offset: int
) -> tuple[list[ItemRecord], int]:
    """The oldest pending items first, and how many are pending in all."""
    where = (items.c.project_id == project_id, items.c.kind == kind, items.c.state == PENDING)
    total = conn.execute(select(func.count()).select_from(items).where(*where)).scalar_one()
    rows = conn.execute(
        select(items).where(*where).order_by(items.c.requested_at, items.c.id).limit(limit).offset(offset)
    ).all()
    return [
        item_record(row, tuple(decisions_of(conn, row.id)) if _has_decisions(row) else ()) for row in rows
    ], int(total)


def list_run(conn: Connection, project_id: int, run_id: str, limit: int) -> list[ItemRecord]:
    """The first ``limit`` items of a run, both kinds, oldest first, with their decisions."""
    rows = conn.execute(
        select(items)
        .where(items.c.project_id == project_id, items.c.run_id == run_id)
        .order_by(items.c.id)
        .limit(limit)
    ).all()
    return [
        item_record(row, tuple(decisions_of(conn, row.id)) if _has_decisions(row) else ()) for row in rows
    ]


def due_for_expiry(conn: Connection, now: datetime, limit: int) -> list[ItemRecord]:
    """Pending items whose deadline has come, the earliest first."""
    rows = conn.execute(
        select(items)
        .where(items.c.state == PENDING, items.c.expires_at.is_not(None), items.c.expires_at <= now)
        .order_by(items.c.expires_at, items.c.id)
        .limit(limit)
    ).all()
    return [item_record(row) for row in rows]


def next_deadline(conn: Connection) -> datetime | None:
    """The earliest deadline of a pending item, if any has one."""
    found: datetime | None = conn.execute(
        select(func.min(items.c.expires_at)).where(items.c.state == PENDING, items.c.expires_at.is_not(None))
    ).scalar_one_or_none()
    if found is not None and found.tzinfo is None:  # an aggregate skips the column's type on SQLite
        found = found.replace(tzinfo=UTC)
    return found
