"""The audit log's rows: entries with their dense index, the head, signing keys, checkpoints.

``take_indexes`` is the one place an index is handed out: it bumps ``audit_head.size`` with one
UPDATE, whose row lock makes every other appender (another thread, process or replica) wait
until this transaction ends. So indexes are dense, and rows become visible in index order: a
reader that sees entry n sees every entry before it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, select

from foureyes.storage.schema import audit_checkpoints, audit_head, audit_keys, audit_log, projects


@dataclass(frozen=True)
class AuditEntryRecord:
    seq: int
    created_at: datetime
    kind: str
    project_id: int | None
    call_id: str | None
    # the canonical JSON that was hashed, and its leaf hash (hex)
    entry: str
    leaf_hash: str


@dataclass(frozen=True)
class AuditKeyRecord:
    id: int
    name: str
    public_key: str
    private_key: str
    created_at: datetime


@dataclass(frozen=True)
class CheckpointRecord:
    id: int
    tree_size: int
    root_hash: str
    note: str
    key_id: int
    created_at: datetime


def _entry(row: Row[Any]) -> AuditEntryRecord:
    return AuditEntryRecord(
        row.seq, row.created_at, row.kind, row.project_id, row.call_id, row.entry, row.leaf_hash
    )


# Run by every audited change: built once.
_TAKE = (
    audit_head.update()
    .where(audit_head.c.id == 1)
    .values(size=audit_head.c.size + bindparam("taken"))
    .returning(audit_head.c.size)
)
_INSERT = audit_log.insert()
_SLUG = select(projects.c.slug).where(projects.c.id == bindparam("project_id"))


def take_indexes(conn: Connection, count: int) -> int:
    """Reserve ``count`` indexes in this transaction; the first of them."""
    size = conn.execute(_TAKE, {"taken": count}).scalar_one()
    return int(size) - count


def head_size(conn: Connection) -> int:
    return int(conn.execute(select(audit_head.c.size).where(audit_head.c.id == 1)).scalar_one())


def insert_many(conn: Connection, entries: list[AuditEntryRecord]) -> None:
    """Write these entries in one statement (their indexes taken by ``take_indexes``)."""
    conn.execute(_INSERT, [dataclasses.asdict(entry) for entry in entries])


def project_slug(conn: Connection, project_id: int) -> str | None:
    slug = conn.execute(_SLUG, {"project_id": project_id}).scalar_one_or_none()
    return None if slug is None else str(slug)


def entries(conn: Connection, start: int = 0, *, batch: int = 1000) -> Iterator[AuditEntryRecord]:
    """Every entry from index ``start`` on, in index order, read a batch at a time."""
    after = start - 1
    while True:
        rows = conn.execute(
            select(audit_log).where(audit_log.c.seq > after).order_by(audit_log.c.seq).limit(batch)
        ).all()
        for row in rows:
            yield _entry(row)
        if len(rows) < batch:
            return
        after = rows[-1].seq


def leaf_hashes(conn: Connection, size: int) -> list[bytes]:
    """The stored leaf hashes of the first ``size`` entries, in index order."""
    rows = conn.execute(
        select(audit_log.c.leaf_hash).where(audit_log.c.seq < size).order_by(audit_log.c.seq)
    ).scalars()
    return [bytes.fromhex(value) for value in rows]


def for_call(conn: Connection, call_id: str, project_id: int | None = None) -> list[AuditEntryRecord]:
    query = select(audit_log).where(audit_log.c.call_id == call_id)
    if project_id is not None:
        query = query.where(audit_log.c.project_id == project_id)
    return [_entry(row) for row in conn.execute(query.order_by(audit_log.c.seq))]


def since(conn: Connection, when: datetime | None) -> Iterator[AuditEntryRecord]:
    query = select(audit_log).order_by(audit_log.c.seq)
    if when is not None:
        query = query.where(audit_log.c.created_at >= when)
    for row in conn.execute(query.execution_options(yield_per=1000)):
        yield _entry(row)


def count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(audit_log)).scalar_one())


# ---------------------------------------------------------------- signing keys and checkpoints


def _key(row: Row[Any]) -> AuditKeyRecord:
    return AuditKeyRecord(row.id, row.name, row.public_key, row.private_key, row.created_at)


def signing_key(conn: Connection) -> AuditKeyRecord | None:
    """The key that signs new checkpoints: the first one made."""
    row = conn.execute(select(audit_keys).order_by(audit_keys.c.id).limit(1)).first()
    return None if row is None else _key(row)


def keys(conn: Connection) -> dict[int, AuditKeyRecord]:
    return {row.id: _key(row) for row in conn.execute(select(audit_keys))}


def insert_key(conn: Connection, *, name: str, public_key: str, private_key: str, now: datetime) -> None:
    conn.execute(
        audit_keys.insert().values(name=name, public_key=public_key, private_key=private_key, created_at=now)
    )


def _checkpoint(row: Row[Any]) -> CheckpointRecord:
    return CheckpointRecord(row.id, row.tree_size, row.root_hash, row.note, row.key_id, row.created_at)


def insert_checkpoint(
    conn: Connection, *, tree_size: int, root_hash: str, note: str, key_id: int, now: datetime
) -> None:
    conn.execute(
        audit_checkpoints.insert().values(
            tree_size=tree_size, root_hash=root_hash, note=note, key_id=key_id, created_at=now
        )
    )


def checkpoints(conn: Connection) -> list[CheckpointRecord]:
    query = select(audit_checkpoints).order_by(audit_checkpoints.c.tree_size, audit_checkpoints.c.id)
    return [_checkpoint(row) for row in conn.execute(query)]


def latest_checkpoint(conn: Connection) -> CheckpointRecord | None:
    query = (
        select(audit_checkpoints)
        .order_by(audit_checkpoints.c.tree_size.desc(), audit_checkpoints.c.id.desc())
        .limit(1)
    )
    row = conn.execute(query).first()
    return None if row is None else _checkpoint(row)
