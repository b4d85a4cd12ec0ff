"""``Storage``: every query the server makes, behind one class, on SQLite or PostgreSQL.

Each write runs in one transaction, so an item, its decision and its events change together or
not at all. On SQLite writes are also serialised through one in-process lock (SQLite has one
writer anyway) and reads run concurrently in WAL mode; on PostgreSQL writes run concurrently,
from any number of replicas. Either way the races are settled by the database, never by the
lock: a repeated create hits the unique ``(project_id, kind, call_id)`` constraint and returns
the stored item, a change that must happen at most once (completing an item, leasing a webhook
delivery) is a conditional UPDATE whose row count says whether this caller won.

Only portable SQL is used here; the connection set-up of each backend lives in ``_sqlite.py``
and ``_postgres.py``.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, Row, and_, bindparam, exists, func, or_, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from foureyes._protocol import ItemState
from foureyes.storage import _postgres, _sqlite
from foureyes.storage.schema import (
    api_keys,
    decisions,
    events,
    items,
    projects,
    users,
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
)
from foureyes.storage.sealing import SecretBox, key_file_for

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

PENDING = ItemState.PENDING


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
    # set for a reviewer's personal token
    user_id: int | None = None


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
    # the person who decided, when known, with their address and name as they are now
    actor_user_id: int | None = None
    actor_email: str | None = None
    actor_name: str | None = None


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
    actor_user_id: int | None = None


@dataclass(frozen=True)
class OutboxEvent:
    """A webhook event to queue, in the transaction of the change, for every enabled endpoint of
    the item's project subscribed to ``type``. ``payload`` is the exact JSON body to send."""

    type: str
    payload: str
    expires_at: datetime


@dataclass(frozen=True)
class WebhookEndpointRecord:
    id: int
    project_id: int
    project_slug: str
    url: str
    events: tuple[str, ...]
    enabled: bool
    secret: str
    previous_secret: str | None
    previous_secret_expires_at: datetime | None
    created_at: datetime

    def signing_secrets(self, now: datetime) -> list[str]:
        """The secrets that sign at ``now``: the current one, and the previous one during the
        overlap after a rotation."""
        found = [self.secret]
        expires = self.previous_secret_expires_at
        if self.previous_secret and expires is not None and now < expires:
            found.append(self.previous_secret)
        return found


@dataclass(frozen=True)
class DeliveryRecord:
    id: int
    endpoint_id: int
    item_id: int | None
    call_id: str | None
    event_type: str
    webhook_id: str
    payload: str
    status: str
    attempts: int
    next_attempt_at: datetime
    expires_at: datetime
    last_error: str | None
    created_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True)
class AttemptRecord:
    id: int
    delivery_id: int
    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    error: str | None


DELIVERY_PENDING = "pending"
DELIVERY_SUCCEEDED = "succeeded"
DELIVERY_FAILED = "failed"


def decision_record(row: Row[Any]) -> DecisionRecord:
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
    )


# The statements of the hot paths (authenticate, create, get), built once: building them per call
# cost more than running them.
_SELECT_ITEM = select(items).where(
    items.c.project_id == bindparam("project_id"),
    items.c.kind == bindparam("kind"),
    items.c.call_id == bindparam("call_id"),
)
_SELECT_KEY_BY_HASH = (
    select(api_keys, projects.c.slug.label("project_slug"))
    .join(projects, projects.c.id == api_keys.c.project_id)
    .where(api_keys.c.key_hash == bindparam("key_hash"))
)
_SELECT_SUBSCRIBED_ENDPOINTS = (
    select(webhook_endpoints.c.id, webhook_endpoints.c.events)
    .where(webhook_endpoints.c.project_id == bindparam("project_id"), webhook_endpoints.c.enabled.is_(True))
    .order_by(webhook_endpoints.c.id)
)

T = TypeVar("T")


class _Pending(Generic[T]):
    def __init__(self, work: Callable[[Connection], T]) -> None:
        self.work = work
        self.done = False
        self.result: T | None = None
        self.error: BaseException | None = None


class _GroupCommit:
    """Leader-follower group commit, with no thread of its own. A caller queues its work, then
    takes the writer lock; if the holder before it already ran the work, it only collects the
    result, otherwise it runs everything queued so far in one transaction. Only the holder of
    the writer lock empties the queue, and it marks its whole batch done before letting go."""

    def __init__(
        self, writer: threading.Lock, begin: Callable[[], AbstractContextManager[Connection]]
    ) -> None:
        self._writer = writer
        self._begin = begin
        self._lock = threading.Lock()
        self._queue: list[_Pending[Any]] = []

    def run(self, work: Callable[[Connection], T]) -> T:
        mine: _Pending[T] = _Pending(work)
        with self._lock:
            self._queue.append(mine)
        with self._writer:
            if not mine.done:
                self._run_queue()
        if mine.error is not None:
            raise mine.error
        return mine.result  # type: ignore[return-value]

    def _run_queue(self) -> None:
        with self._lock:
            batch, self._queue = self._queue, []
        try:
            with self._begin() as conn:
                for pending in batch:
                    try:
                        with conn.begin_nested():
                            pending.result = pending.work(conn)
                    except Exception as exc:
                        pending.error = exc
        except BaseException as exc:
            # The transaction as a whole failed: nothing of the batch is stored.
            for pending in batch:
                pending.result, pending.error = None, exc
        finally:
            for pending in batch:
                pending.done = True


def new_webhook_id() -> str:
    return "msg_" + secrets.token_urlsafe(18)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Storage:
    def __init__(self, engine: Engine, box: SecretBox | None = None) -> None:
        self._engine = engine
        # Seals webhook secrets before they are written and opens them when read (sealing.py).
        self._box = box or SecretBox.from_file(
            key_file_for(engine.url.database if engine.dialect.name == "sqlite" else None)
        )
        # SQLite has one writer per database: taking it in the process first keeps threads from
        # queueing on its busy timeout. PostgreSQL takes row locks, so writes run side by side.
        self._write_lock: threading.Lock | None = threading.Lock() if self.dialect == "sqlite" else None
        self._read_autocommit = self.dialect == "postgresql"
        self._group = (
            _GroupCommit(self._write_lock, self._transaction) if self._write_lock is not None else None
        )

    @classmethod
    def from_url(cls, url: str, *, secret_key_file: str | Path | None = None) -> Storage:
        """``secret_key_file``: the key that seals webhook secrets; by default beside a SQLite
        database, else ``.foureyes/secret.key`` (created on first use)."""
        parsed = make_url(url)
        backend = parsed.get_backend_name()
        if backend == "sqlite":
            engine = _sqlite.create_sqlite_engine(parsed)
        elif backend in ("postgresql", "postgres"):
            engine = _postgres.create_postgres_engine(parsed)
        else:
            raise ValueError(f"unsupported database {backend!r}: use sqlite:/// or postgresql+psycopg://")
        try:
            return cls(engine, SecretBox.from_file(Path(secret_key_file)) if secret_key_file else None)
        except BaseException:
            engine.dispose()
            raise

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._engine.dialect.name

    def migrate(self) -> None:
        """Bring the schema to the newest migration; a no-op when it is already there."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        with self._write() as conn:
            if self.dialect == "postgresql":
                _postgres.lock_for_migrations(conn)
            config.attributes["connection"] = conn
            config.attributes["secret_box"] = self._box  # 0005 seals the secrets already stored
            command.upgrade(config, "head")
            # A wrong key file fails here, before the server opens its port, not at delivery.
            stored = conn.execute(select(webhook_endpoints.c.secret).limit(1)).scalar()
            if stored is not None:
                self._box.open(stored)

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._write_lock or nullcontext(), self._transaction() as conn:
            yield conn

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        with self._engine.connect() as conn:
            conn.execution_options(**{_sqlite.WRITE_OPTION: True})
            with conn.begin():
                yield conn

    def _write_grouped(self, work: Callable[[Connection], T]) -> T:
        """``work`` in a write transaction, committed before this returns. On SQLite, work that
        arrives while another thread holds the writer is queued, and the next writer runs the
        whole queue in one transaction, each piece in a savepoint of its own, so one fsync
        covers them all (group commit). A piece that raises is rolled back alone."""
        if self._group is None:
            with self._write() as conn:
                return work(conn)
        return self._group.run(work)

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._engine.connect() as conn:
            if self._read_autocommit:
                # PostgreSQL, READ COMMITTED: every statement sees its own snapshot inside a
                # transaction too, so reading without one sees the same and saves the BEGIN and
                # ROLLBACK round trips around each read.
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn

    # ------------------------------------------------------------------ projects and keys

    def ensure_project(self, slug: str, name: str | None = None, *, now: datetime) -> ProjectRecord:
        try:
            with self._write() as conn:
                row = conn.execute(select(projects).where(projects.c.slug == slug)).first()
                if row is not None:
                    return ProjectRecord(row.id, row.slug, row.name)
                result = conn.execute(projects.insert().values(slug=slug, name=name or slug, created_at=now))
                (project_id,) = result.inserted_primary_key or (None,)
                assert isinstance(project_id, int)
                return ProjectRecord(project_id, slug, name or slug)
        except IntegrityError:
            # Another process created it between our read and our insert.
            with self._read() as conn:
                row = conn.execute(select(projects).where(projects.c.slug == slug)).first()
            if row is None:
                raise
            return ProjectRecord(row.id, row.slug, row.name)

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
        user_id: int | None = None,
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
                    user_id=user_id,
                )
            )
            (key_id,) = result.inserted_primary_key or (None,)
        assert isinstance(key_id, int)
        return ApiKeyRecord(key_id, project.id, project.slug, name, prefix, tuple(scopes), now, None, user_id)

    def find_api_key(self, key_hash: str) -> ApiKeyRecord | None:
        with self._read() as conn:
            row = conn.execute(_SELECT_KEY_BY_HASH, {"key_hash": key_hash}).first()
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
            user_id=row.user_id,
        )

    # ------------------------------------------------------------------ items

    def create_item(self, new: NewItem, outbox: Sequence[OutboxEvent] = ()) -> tuple[ItemRecord, bool]:
        """Insert the item, its ``created`` event and its webhook deliveries, or return the one
        already stored under its call id. The boolean says whether this call created it."""

        def insert(conn: Connection) -> tuple[ItemRecord, bool]:
            existing = self._select_item(conn, new.project_id, new.kind, new.call_id)
            if existing is not None:
                return existing, False
            result = conn.execute(
                items.insert(),
                {
                    "project_id": new.project_id,
                    "kind": new.kind,
                    "call_id": new.call_id,
                    "run_id": new.run_id,
                    "spec": _dumps(new.spec),
                    "request_digest": new.request_digest,
                    "spec_digest": new.spec_digest,
                    "state": PENDING,
                    "requested_at": new.requested_at,
                },
            )
            (item_id,) = result.inserted_primary_key or (None,)
            assert isinstance(item_id, int)
            conn.execute(
                events.insert(),
                {
                    "item_id": item_id,
                    "type": "created",
                    "data": _dumps({"run_id": new.run_id, "request_digest": new.request_digest}),
                    "actor_key_id": new.actor_key_id,
                    "channel": new.channel,
                    "created_at": new.requested_at,
                },
            )
            self._enqueue(conn, new.project_id, item_id, outbox, now=new.requested_at)
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

        try:
            return self._write_grouped(insert)
        except IntegrityError:
            # Another process inserted the same call id between our read and our insert.
            existing = self.get_item(new.project_id, new.kind, new.call_id)
            if existing is None:
                raise
            return existing, False

    def get_item(self, project_id: int, kind: str, call_id: str) -> ItemRecord | None:
        with self._read() as conn:
            return self._select_item(conn, project_id, kind, call_id)

    def complete_item(
        self,
        item_id: int,
        state: str,
        decision: NewDecision,
        event_data: dict[str, Any],
        outbox: Sequence[OutboxEvent] = (),
    ) -> bool:
        """Record the decision that completes a pending item, and queue its webhooks. False, with
        nothing written, when the item was no longer pending: exactly one of several racing
        deciders gets True. On SQLite, decisions arriving together share one commit (see
        ``_write_grouped``), as creates do."""

        def record(conn: Connection) -> bool:
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
                    actor_user_id=decision.actor_user_id,
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
            if outbox:
                project_id = conn.execute(
                    select(items.c.project_id).where(items.c.id == item_id)
                ).scalar_one()
                self._enqueue(conn, project_id, item_id, outbox, now=decision.decided_at)
            return True

        return self._write_grouped(record)

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

    def list_run_items(self, project_id: int, run_id: str, limit: int) -> list[ItemRecord]:
        """The first ``limit`` items of a run, both kinds, oldest first, with their decisions."""
        with self._read() as conn:
            rows = conn.execute(
                select(items)
                .where(items.c.project_id == project_id, items.c.run_id == run_id)
                .order_by(items.c.id)
                .limit(limit)
            ).all()
            return [
                self._item_record(
                    row, tuple(self._select_decisions(conn, row.id)) if row.state != PENDING else ()
                )
                for row in rows
            ]

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
        row = conn.execute(_SELECT_ITEM, {"project_id": project_id, "kind": kind, "call_id": call_id}).first()
        if row is None:
            return None
        found = tuple(self._select_decisions(conn, row.id)) if row.state != PENDING else ()
        return self._item_record(row, found)

    @staticmethod
    def _select_decisions(conn: Connection, item_id: int) -> list[DecisionRecord]:
        rows = conn.execute(
            select(decisions, users.c.email.label("actor_email"), users.c.display_name.label("actor_name"))
            .outerjoin(users, users.c.id == decisions.c.actor_user_id)
            .where(decisions.c.item_id == item_id)
            .order_by(decisions.c.id)
        ).all()
        return [decision_record(row) for row in rows]

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

    # ------------------------------------------------------------------ webhooks

    @staticmethod
    def _enqueue(
        conn: Connection,
        project_id: int,
        item_id: int | None,
        outbox: Sequence[OutboxEvent],
        *,
        now: datetime,
    ) -> None:
        if not outbox:
            return
        endpoints = conn.execute(_SELECT_SUBSCRIBED_ENDPOINTS, {"project_id": project_id}).all()
        for event in outbox:
            for endpoint in endpoints:
                if event.type in endpoint.events.split():
                    conn.execute(
                        webhook_deliveries.insert().values(
                            endpoint_id=endpoint.id,
                            item_id=item_id,
                            event_type=event.type,
                            webhook_id=new_webhook_id(),
                            payload=event.payload,
                            status=DELIVERY_PENDING,
                            attempts=0,
                            next_attempt_at=now,
                            expires_at=event.expires_at,
                            created_at=now,
                        )
                    )

    def insert_webhook_endpoint(
        self, *, project: ProjectRecord, url: str, events: Sequence[str], secret: str, now: datetime
    ) -> WebhookEndpointRecord:
        with self._write() as conn:
            result = conn.execute(
                webhook_endpoints.insert().values(
                    project_id=project.id,
                    url=url,
                    events=" ".join(events),
                    enabled=True,
                    secret=self._box.seal(secret),
                    created_at=now,
                )
            )
            (endpoint_id,) = result.inserted_primary_key or (None,)
        assert isinstance(endpoint_id, int)
        found = self.get_webhook_endpoint(endpoint_id)
        assert found is not None
        return found

    @staticmethod
    def _endpoints_query() -> Any:
        return select(webhook_endpoints, projects.c.slug.label("project_slug")).join(
            projects, projects.c.id == webhook_endpoints.c.project_id
        )

    def _endpoint_record(self, row: Row[Any]) -> WebhookEndpointRecord:
        return WebhookEndpointRecord(
            id=row.id,
            project_id=row.project_id,
            project_slug=row.project_slug,
            url=row.url,
            events=tuple(row.events.split()),
            enabled=bool(row.enabled),
            secret=self._box.open(row.secret),
            previous_secret=None if row.previous_secret is None else self._box.open(row.previous_secret),
            previous_secret_expires_at=row.previous_secret_expires_at,
            created_at=row.created_at,
        )

    def get_webhook_endpoint(self, endpoint_id: int) -> WebhookEndpointRecord | None:
        with self._read() as conn:
            row = conn.execute(self._endpoints_query().where(webhook_endpoints.c.id == endpoint_id)).first()
        return None if row is None else self._endpoint_record(row)

    def list_webhook_endpoints(self, project_id: int | None = None) -> list[WebhookEndpointRecord]:
        query = self._endpoints_query().order_by(webhook_endpoints.c.id)
        if project_id is not None:
            query = query.where(webhook_endpoints.c.project_id == project_id)
        with self._read() as conn:
            return [self._endpoint_record(row) for row in conn.execute(query)]

    def set_webhook_enabled(self, endpoint_id: int, enabled: bool) -> bool:
        with self._write() as conn:
            result = conn.execute(
                webhook_endpoints.update()
                .where(webhook_endpoints.c.id == endpoint_id)
                .values(enabled=enabled)
            )
            return result.rowcount == 1

    def rotate_webhook_secret(self, endpoint_id: int, new_secret: str, previous_expires_at: datetime) -> bool:
        with self._write() as conn:
            result = conn.execute(
                webhook_endpoints.update()
                .where(webhook_endpoints.c.id == endpoint_id)
                .values(
                    previous_secret=webhook_endpoints.c.secret,
                    previous_secret_expires_at=previous_expires_at,
                    secret=self._box.seal(new_secret),
                )
            )
            return result.rowcount == 1

    def enqueue_test_delivery(
        self, endpoint_id: int, event: OutboxEvent, *, now: datetime
    ) -> DeliveryRecord | None:
        """Queue ``event`` for one endpoint only, enabled or not (a test belongs to no item)."""
        with self._write() as conn:
            if (
                conn.execute(
                    select(webhook_endpoints.c.id).where(webhook_endpoints.c.id == endpoint_id)
                ).first()
                is None
            ):
                return None
            result = conn.execute(
                webhook_deliveries.insert().values(
                    endpoint_id=endpoint_id,
                    item_id=None,
                    event_type=event.type,
                    webhook_id=new_webhook_id(),
                    payload=event.payload,
                    status=DELIVERY_PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    expires_at=event.expires_at,
                    created_at=now,
                )
            )
            (delivery_id,) = result.inserted_primary_key or (None,)
        assert isinstance(delivery_id, int)
        return self.get_delivery(delivery_id)

    @staticmethod
    def _deliveries_query() -> Any:
        return select(webhook_deliveries, items.c.call_id.label("call_id")).outerjoin(
            items, items.c.id == webhook_deliveries.c.item_id
        )

    @staticmethod
    def _delivery_record(row: Row[Any]) -> DeliveryRecord:
        return DeliveryRecord(
            id=row.id,
            endpoint_id=row.endpoint_id,
            item_id=row.item_id,
            call_id=row.call_id,
            event_type=row.event_type,
            webhook_id=row.webhook_id,
            payload=row.payload,
            status=row.status,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            expires_at=row.expires_at,
            last_error=row.last_error,
            created_at=row.created_at,
            completed_at=row.completed_at,
        )

    def get_delivery(self, delivery_id: int) -> DeliveryRecord | None:
        with self._read() as conn:
            row = conn.execute(self._deliveries_query().where(webhook_deliveries.c.id == delivery_id)).first()
        return None if row is None else self._delivery_record(row)

    def list_deliveries(
        self, *, status: str | None = None, endpoint_id: int | None = None, limit: int = 100
    ) -> list[DeliveryRecord]:
        """The newest deliveries first."""
        query = self._deliveries_query().order_by(webhook_deliveries.c.id.desc()).limit(limit)
        if status is not None:
            query = query.where(webhook_deliveries.c.status == status)
        if endpoint_id is not None:
            query = query.where(webhook_deliveries.c.endpoint_id == endpoint_id)
        with self._read() as conn:
            return [self._delivery_record(row) for row in conn.execute(query)]

    def list_attempts(self, delivery_id: int) -> list[AttemptRecord]:
        with self._read() as conn:
            rows = conn.execute(
                select(webhook_attempts)
                .where(webhook_attempts.c.delivery_id == delivery_id)
                .order_by(webhook_attempts.c.id)
            ).all()
        return [
            AttemptRecord(
                row.id, row.delivery_id, row.attempted_at, row.status_code, row.latency_ms, row.error
            )
            for row in rows
        ]

    def redeliver(self, delivery_id: int, *, now: datetime, expires_at: datetime) -> bool:
        """Queue a delivery again, with the same webhook id, due now."""
        with self._write() as conn:
            result = conn.execute(
                webhook_deliveries.update()
                .where(webhook_deliveries.c.id == delivery_id)
                .values(
                    status=DELIVERY_PENDING,
                    next_attempt_at=now,
                    expires_at=expires_at,
                    locked_until=None,
                    completed_at=None,
                )
            )
            return result.rowcount == 1

    def claim_due_deliveries(
        self,
        *,
        now: datetime,
        lease_until: datetime,
        limit: int,
        busy: Mapping[int, int] | None = None,
        per_endpoint: int | None = None,
    ) -> list[tuple[DeliveryRecord, WebhookEndpointRecord]]:
        """Lease up to ``limit`` due deliveries to the caller until ``lease_until``.

        A delivery is due when its time has come, no lease on it is live, and no earlier
        delivery of the same item to the same endpoint is still pending (order per item). The
        rows are locked while they are leased (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) and
        each lease is a conditional UPDATE, so of several workers or replicas exactly one gets
        a row until its lease runs out.

        With ``per_endpoint``, no endpoint gets more than that many leases counting the
        caller's attempts already in flight (``busy``, per endpoint id): a slow endpoint's
        backlog is left in the outbox rather than leased to wait behind it.
        """
        taken = dict(busy or {})
        full = [key for key, count in taken.items() if per_endpoint is not None and count >= per_endpoint]
        earlier = webhook_deliveries.alias("earlier")
        blocked = exists().where(
            earlier.c.endpoint_id == webhook_deliveries.c.endpoint_id,
            earlier.c.item_id == webhook_deliveries.c.item_id,
            earlier.c.id < webhook_deliveries.c.id,
            earlier.c.status == DELIVERY_PENDING,
        )
        free = or_(webhook_deliveries.c.locked_until.is_(None), webhook_deliveries.c.locked_until <= now)
        # A disabled endpoint's deliveries wait, untouched, until it is enabled again.
        enabled = webhook_deliveries.c.endpoint_id.in_(
            select(webhook_endpoints.c.id).where(webhook_endpoints.c.enabled.is_(True))
        )
        due = and_(
            webhook_deliveries.c.status == DELIVERY_PENDING,
            webhook_deliveries.c.next_attempt_at <= now,
            free,
            enabled,
            webhook_deliveries.c.endpoint_id.not_in(full),
        )
        claimed: list[tuple[DeliveryRecord, WebhookEndpointRecord]] = []
        with self._read() as conn:
            # The worker is woken on every create: finding nothing due must not take the writer.
            if conn.execute(select(webhook_deliveries.c.id).where(due).limit(1)).first() is None:
                return claimed
        with self._write() as conn:
            # On PostgreSQL, rows another replica is claiming right now are skipped rather than
            # waited for; SQLite ignores the clause (its write transaction excludes the others).
            candidates = conn.execute(
                select(webhook_deliveries.c.id, webhook_deliveries.c.endpoint_id)
                .where(due, ~blocked)
                .order_by(webhook_deliveries.c.next_attempt_at, webhook_deliveries.c.id)
                # room to skip the rows of endpoints whose slots this lease fills
                .limit(limit if per_endpoint is None else limit * 4)
                .with_for_update(skip_locked=True, of=webhook_deliveries)
            ).all()
            for delivery_id, endpoint_id in candidates:
                if len(claimed) >= limit:
                    break
                if per_endpoint is not None and taken.get(endpoint_id, 0) >= per_endpoint:
                    continue
                # `due` again: the lease is the guard that outlives this transaction.
                result = conn.execute(
                    webhook_deliveries.update()
                    .where(webhook_deliveries.c.id == delivery_id, due)
                    .values(locked_until=lease_until)
                )
                if result.rowcount != 1:
                    continue
                delivery = self._delivery_record(
                    conn.execute(self._deliveries_query().where(webhook_deliveries.c.id == delivery_id)).one()
                )
                endpoint = self._endpoint_record(
                    conn.execute(
                        self._endpoints_query().where(webhook_endpoints.c.id == delivery.endpoint_id)
                    ).one()
                )
                claimed.append((delivery, endpoint))
                taken[endpoint_id] = taken.get(endpoint_id, 0) + 1
        return claimed

    def record_attempt(
        self,
        delivery_id: int,
        *,
        attempted_at: datetime,
        status_code: int | None,
        latency_ms: int,
        error: str | None,
        outcome: str,
        next_attempt_at: datetime | None = None,
    ) -> None:
        """Append an attempt and move the delivery on: ``outcome`` is succeeded, failed (final) or
        pending (retry at ``next_attempt_at``). The lease is released."""
        values: dict[str, Any] = {
            "status": outcome,
            "attempts": webhook_deliveries.c.attempts + 1,
            "locked_until": None,
            "last_error": error,
        }
        if outcome == DELIVERY_PENDING:
            assert next_attempt_at is not None
            values["next_attempt_at"] = next_attempt_at
        else:
            values["completed_at"] = attempted_at
        with self._write() as conn:
            conn.execute(
                webhook_attempts.insert().values(
                    delivery_id=delivery_id,
                    attempted_at=attempted_at,
                    status_code=status_code,
                    latency_ms=latency_ms,
                    error=error,
                )
            )
            conn.execute(
                webhook_deliveries.update().where(webhook_deliveries.c.id == delivery_id).values(**values)
            )
