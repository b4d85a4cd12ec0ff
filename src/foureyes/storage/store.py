"""``Storage``: every query the server makes, behind one class.

Writes are serialised through one in-process lock and each runs in one transaction, so an item,
its decision and its events change together or not at all. Reads take no lock and run
concurrently (SQLite in WAL mode lets readers proceed while one writer commits). A change that
must happen at most once, such as completing an item, is a conditional UPDATE whose row count
says whether this caller won, which stays correct with several processes or replicas.

Only portable SQL is used here; the SQLite-specific connection set-up lives in ``_sqlite.py``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, Row, create_engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from foureyes.storage import _sqlite
from foureyes.storage.schema import api_keys, decisions, events, items, projects

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

PENDING = "pending"


@dataclass(frozen=True)
class ProjectRecord:
    id: int
    slug: str
    name: str


@dataclass(frozen=True)
class ApiKeyRecord:
    id: int
    project_id: int
    project_slug: str
    name: str | None
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class DecisionRecord:
    id: int
    verdict: str
    comment: str | None
    option_name: str | None
    response: str | None
    actor_key_id: int | None
    channel: str
    decided_at: datetime
    spec_digest: str


@dataclass(frozen=True)
class ItemRecord:
    id: int
    project_id: int
    kind: str
    call_id: str
    run_id: str
    spec: dict[str, Any]
    request_digest: str
    spec_digest: str
    state: str
    requested_at: datetime
    completed_at: datetime | None
    # Loaded by get_item; list_pending leaves it empty.
    decisions: tuple[DecisionRecord, ...] = ()


@dataclass(frozen=True)
class EventRecord:
    id: int
    item_id: int
    type: str
    data: dict[str, Any]
    actor_key_id: int | None
    channel: str | None
    created_at: datetime


@dataclass(frozen=True)
class NewItem:
    project_id: int
    kind: str
    call_id: str
    run_id: str
    spec: dict[str, Any]
    request_digest: str
    spec_digest: str
    requested_at: datetime
    actor_key_id: int | None
    channel: str


@dataclass(frozen=True)
class NewDecision:
    verdict: str
    comment: str | None
    option_name: str | None
    response: str | None
    actor_key_id: int | None
    channel: str
    decided_at: datetime
    spec_digest: str


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Storage:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._write_lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str) -> Storage:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            return cls(_sqlite.create_sqlite_engine(parsed))
        return cls(create_engine(parsed, pool_pre_ping=True))

    @property
    def engine(self) -> Engine:
        return self._engine

    def migrate(self) -> None:
        """Bring the schema to the newest migration; a no-op when it is already there."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        with self._write() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._write_lock, self._engine.connect() as conn:
            conn.execution_options(**{_sqlite.WRITE_OPTION: True})
            with conn.begin():
                yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._engine.connect() as conn:
            yield conn

    # ------------------------------------------------------------------ projects and keys

    def ensure_project(self, slug: str, name: str | None = None, *, now: datetime) -> ProjectRecord:
        with self._write() as conn:
            row = conn.execute(select(projects).where(projects.c.slug == slug)).first()
            if row is not None:
                return ProjectRecord(row.id, row.slug, row.name)
            result = conn.execute(projects.insert().values(slug=slug, name=name or slug, created_at=now))
            (project_id,) = result.inserted_primary_key or (None,)
            assert isinstance(project_id, int)
            return ProjectRecord(project_id, slug, name or slug)

    def get_project(self, project_id: int) -> ProjectRecord | None:
        with self._read() as conn:
            row = conn.execute(select(projects).where(projects.c.id == project_id)).first()
        return None if row is None else ProjectRecord(row.id, row.slug, row.name)

    def insert_api_key(
        self,
        *,
        project: ProjectRecord,
        name: str | None,
        prefix: str,
        key_hash: str,
        scopes: Sequence[str],
        now: datetime,
    ) -> ApiKeyRecord:
        with self._write() as conn:
            result = conn.execute(
                api_keys.insert().values(
                    project_id=project.id,
                    name=name,
                    prefix=prefix,
                    key_hash=key_hash,
                    scopes=" ".join(scopes),
                    created_at=now,
                )
            )
            (key_id,) = result.inserted_primary_key or (None,)
        assert isinstance(key_id, int)
        return ApiKeyRecord(key_id, project.id, project.slug, name, prefix, tuple(scopes), now, None)

    def find_api_key(self, key_hash: str) -> ApiKeyRecord | None:
        with self._read() as conn:
            row = conn.execute(self._keys_query().where(api_keys.c.key_hash == key_hash)).first()
        return None if row is None else self._key_record(row)

    def list_api_keys(self, project_id: int | None = None) -> list[ApiKeyRecord]:
        query = self._keys_query().order_by(api_keys.c.id)
        if project_id is not None:
            query = query.where(api_keys.c.project_id == project_id)
        with self._read() as conn:
            return [self._key_record(row) for row in conn.execute(query)]

    def revoke_api_key(self, key_id: int, *, now: datetime) -> bool:
        with self._write() as conn:
            result = conn.execute(
                api_keys.update()
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            return result.rowcount == 1

    @staticmethod
    def _keys_query() -> Any:
        return select(api_keys, projects.c.slug.label("project_slug")).join(
            projects, projects.c.id == api_keys.c.project_id
        )

    @staticmethod
    def _key_record(row: Row[Any]) -> ApiKeyRecord:
        return ApiKeyRecord(
            id=row.id,
            project_id=row.project_id,
            project_slug=row.project_slug,
            name=row.name,
            prefix=row.prefix,
            scopes=tuple(row.scopes.split()),
            created_at=row.created_at,
            revoked_at=row.revoked_at,
        )

    # ------------------------------------------------------------------ items

    def create_item(self, new: NewItem) -> tuple[ItemRecord, bool]:
        """Insert the item and its ``created`` event, or return the one already stored under its
        call id. The boolean says whether this call created it."""
        try:
            with self._write() as conn:
                existing = self._select_item(conn, new.project_id, new.kind, new.call_id)
                if existing is not None:
                    return existing, False
                result = conn.execute(
                    items.insert().values(
                        project_id=new.project_id,
                        kind=new.kind,
                        call_id=new.call_id,
                        run_id=new.run_id,
                        spec=_dumps(new.spec),
                        request_digest=new.request_digest,
                        spec_digest=new.spec_digest,
                        state=PENDING,
                        requested_at=new.requested_at,
                    )
                )
                (item_id,) = result.inserted_primary_key or (None,)
                assert isinstance(item_id, int)
                conn.execute(
                    events.insert().values(
                        item_id=item_id,
                        type="created",
                        data=_dumps({"run_id": new.run_id, "request_digest": new.request_digest}),
                        actor_key_id=new.actor_key_id,
                        channel=new.channel,
                        created_at=new.requested_at,
                    )
                )
        except IntegrityError:
            # Another process inserted the same call id between our read and our insert.
            existing = self.get_item(new.project_id, new.kind, new.call_id)
            if existing is None:
                raise
            return existing, False
        record = ItemRecord(
            id=item_id,
            project_id=new.project_id,
            kind=new.kind,
            call_id=new.call_id,
            run_id=new.run_id,
            spec=new.spec,
            request_digest=new.request_digest,
            spec_digest=new.spec_digest,
            state=PENDING,
            requested_at=new.requested_at,
            completed_at=None,
        )
        return record, True

    def get_item(self, project_id: int, kind: str, call_id: str) -> ItemRecord | None:
        with self._read() as conn:
            return self._select_item(conn, project_id, kind, call_id)

    def complete_item(
        self, item_id: int, state: str, decision: NewDecision, event_data: dict[str, Any]
    ) -> bool:
        """Record the decision that completes a pending item. False, with nothing written, when
        the item was no longer pending: exactly one of several racing deciders gets True."""
        with self._write() as conn:
            result = conn.execute(
                items.update()
                .where(items.c.id == item_id, items.c.state == PENDING)
                .values(state=state, completed_at=decision.decided_at)
            )
            if result.rowcount != 1:
                return False
            conn.execute(
                decisions.insert().values(
                    item_id=item_id,
                    verdict=decision.verdict,
                    comment=decision.comment,
                    option_name=decision.option_name,
                    response=decision.response,
                    actor_key_id=decision.actor_key_id,
                    channel=decision.channel,
                    decided_at=decision.decided_at,
                    spec_digest=decision.spec_digest,
                )
            )
            conn.execute(
                events.insert().values(
                    item_id=item_id,
                    type="decided",
                    data=_dumps(event_data),
                    actor_key_id=decision.actor_key_id,
                    channel=decision.channel,
                    created_at=decision.decided_at,
                )
            )
            return True

    def add_event_if_pending(
        self,
        item_id: int,
        event_type: str,
        data: dict[str, Any],
        *,
        actor_key_id: int | None,
        channel: str | None,
        now: datetime,
    ) -> bool:
        """Append an event to a still-pending item; False, with nothing written, otherwise."""
        with self._write() as conn:
            # FOR UPDATE holds off a concurrent decision on PostgreSQL; SQLite has the one writer.
            state = conn.execute(
                select(items.c.state).where(items.c.id == item_id).with_for_update()
            ).scalar_one_or_none()
            if state != PENDING:
                return False
            conn.execute(
                events.insert().values(
                    item_id=item_id,
                    type=event_type,
                    data=_dumps(data),
                    actor_key_id=actor_key_id,
                    channel=channel,
                    created_at=now,
                )
            )
            return True

    def list_pending(
        self, project_id: int, kind: str, limit: int, offset: int
    ) -> tuple[list[ItemRecord], int]:
        """The oldest pending items first, and how many are pending in all."""
        where = (items.c.project_id == project_id, items.c.kind == kind, items.c.state == PENDING)
        with self._read() as conn:
            total = conn.execute(select(func.count()).select_from(items).where(*where)).scalar_one()
            rows = conn.execute(
                select(items)
                .where(*where)
                .order_by(items.c.requested_at, items.c.id)
                .limit(limit)
                .offset(offset)
            ).all()
        return [self._item_record(row) for row in rows], int(total)

    def list_decisions(self, item_id: int) -> list[DecisionRecord]:
        with self._read() as conn:
            return self._select_decisions(conn, item_id)

    def list_events(self, item_id: int) -> list[EventRecord]:
        with self._read() as conn:
            rows = conn.execute(select(events).where(events.c.item_id == item_id).order_by(events.c.id)).all()
        return [
            EventRecord(
                id=row.id,
                item_id=row.item_id,
                type=row.type,
                data=json.loads(row.data),
                actor_key_id=row.actor_key_id,
                channel=row.channel,
                created_at=row.created_at,
            )
            for row in rows
        ]

    def _select_item(self, conn: Connection, project_id: int, kind: str, call_id: str) -> ItemRecord | None:
        row = conn.execute(
            select(items).where(
                items.c.project_id == project_id, items.c.kind == kind, items.c.call_id == call_id
            )
        ).first()
        if row is None:
            return None
        found = tuple(self._select_decisions(conn, row.id)) if row.state != PENDING else ()
        return self._item_record(row, found)

    @staticmethod
    def _select_decisions(conn: Connection, item_id: int) -> list[DecisionRecord]:
        rows = conn.execute(
            select(decisions).where(decisions.c.item_id == item_id).order_by(decisions.c.id)
        ).all()
        return [
            DecisionRecord(
                id=row.id,
                verdict=row.verdict,
                comment=row.comment,
                option_name=row.option_name,
                response=row.response,
                actor_key_id=row.actor_key_id,
                channel=row.channel,
                decided_at=row.decided_at,
                spec_digest=row.spec_digest,
            )
            for row in rows
        ]

    @staticmethod
    def _item_record(row: Row[Any], found: tuple[DecisionRecord, ...] = ()) -> ItemRecord:
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
        )
