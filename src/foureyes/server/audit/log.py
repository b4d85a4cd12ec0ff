"""``AuditLog``: appends every change to the tamper-evident log and signs its checkpoints.

An entry is the canonical JSON (RFC 8785) of ``{index, time, kind, project, call_id, actor,
data}``; its leaf hash is RFC 6962's. ``record(tx, event)`` (called by ``Emitter.emit``) and
``append(tx, ...)`` (the outbox worker's delivery results) queue the entry for the end of the
caller's transaction (``Tx.before_commit``): the index is taken there, with the head row's lock,
so the lock is the last one a transaction takes (no deadlock with item locks) and is held only
until the commit. The first entry of a log, ``log_started``, notes the highest ids that existed
before it, so ``audit verify`` knows which rows the log must account for.

``checkpoint()`` hashes the entries appended since the last call (a ``Frontier`` kept in
memory), signs a C2SP checkpoint with the log's Ed25519 key (made on first use, its private half
sealed with the database's ``SecretBox``) and stores it; the server calls it periodically.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from foureyes.server.audit import merkle, note
from foureyes.server.domain.events import Event, SettingsChanged
from foureyes.storage import Database, ItemRecord, Tx
from foureyes.storage import audit as rows
from foureyes.storage.audit import AuditEntryRecord, AuditKeyRecord, CheckpointRecord
from foureyes.storage.schema import api_keys, decisions, items, users

logger = logging.getLogger(__name__)

LOG_STARTED = "log_started"
# The tables whose rows the log accounts for (``audit verify`` compares them with it).
BASELINE_TABLES = {"items": items, "decisions": decisions, "api_keys": api_keys, "users": users}


def canonical(value: Any) -> bytes:
    """RFC 8785 JSON; values outside its domain (integers beyond 2**53 from an agent's data)
    fall back to sorted keys without spaces. Either way the stored bytes are what is hashed."""
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def timestamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def default_origin(public_url: str) -> str:
    host = urlsplit(public_url).netloc if public_url else ""
    return f"{host}/audit" if host else "foureyes/audit"


@dataclass(frozen=True)
class Pending:
    kind: str
    at: datetime
    project_id: int | None
    call_id: str | None
    actor: Mapping[str, Any]
    data: Mapping[str, Any]


def _from_event(event: Event) -> Pending:
    kind = event.what if isinstance(event, SettingsChanged) else event.type
    data = event.audit_data()
    item = event.item
    if item is not None:
        data = {"item": {"id": item.id, "kind": item.kind}, **data}
    actor = {"key_id": event.actor_key_id, "user_id": event.actor_user_id, "channel": event.channel}
    call_id = None if item is None else item.call_id
    return Pending(kind, event.at, event.project_id, call_id, actor, data)


@dataclass(frozen=True)
class ShownEntry:
    index: int
    time: str
    what: str
    by: str
    leaf_hash: str


class AuditLog:
    def __init__(self, db: Database, clock: Callable[[], datetime], *, origin: str) -> None:
        self._db = db
        self._clock = clock
        self._origin = note.check_name(origin)
        self._slugs: dict[int, str | None] = {}
        self._frontier = merkle.Frontier()
        self._hashing = threading.Lock()

    # ------------------------------------------------------------------ appending

    def record(self, tx: Tx, event: Event) -> None:
        self._queue(tx, _from_event(event))

    def record_many(self, tx: Tx, events: Sequence[Event]) -> None:
        """``record`` each event, in order, as one append: their indexes taken in one UPDATE of
        the head and their entries written in one statement."""
        if events:
            tx.before_commit(functools.partial(self._write, tx, *map(_from_event, events)))

    def append(
        self,
        tx: Tx,
        kind: str,
        *,
        project_id: int | None = None,
        call_id: str | None = None,
        actor: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        """Append an entry that is no domain event (a delivery attempt) at the end of ``tx``."""
        actor = actor or {"key_id": None, "user_id": None, "channel": None}
        self._queue(tx, Pending(kind, self._clock(), project_id, call_id, actor, data or {}))

    def _queue(self, tx: Tx, pending: Pending) -> None:
        tx.before_commit(functools.partial(self._write, tx, pending))

    def _slug(self, tx: Tx, project_id: int | None) -> str | None:
        if project_id is None:
            return None
        if project_id in self._slugs:  # a project's slug never changes
            return self._slugs[project_id]
        slug = rows.project_slug(tx.conn, project_id)
        # Remembered once committed: a project made by a transaction that rolls back is gone.
        tx.after_commit(functools.partial(self._slugs.__setitem__, project_id, slug))
        return slug

    def _write(self, tx: Tx, *pending: Pending) -> None:
        """Append these entries, in order, at the next indexes."""
        conn = tx.conn
        index = rows.take_indexes(conn, len(pending))
        if index == 0:
            baseline = {
                name: conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
                for name, table in BASELINE_TABLES.items()
            }
            started = Pending(LOG_STARTED, pending[0].at, None, None, {}, {"before": baseline})
            pending = (started, *pending)
            rows.take_indexes(conn, 1)
        rows.insert_many(conn, [self._entry(tx, index + n, p) for n, p in enumerate(pending)])

    def _entry(self, tx: Tx, index: int, pending: Pending) -> AuditEntryRecord:
        entry = {
            "index": index,
            "time": timestamp(pending.at),
            "kind": pending.kind,
            "project": self._slug(tx, pending.project_id),
            "call_id": pending.call_id,
            "actor": dict(pending.actor),
            "data": dict(pending.data),
        }
        encoded = canonical(entry)
        return AuditEntryRecord(
            seq=index,
            created_at=pending.at,
            kind=pending.kind,
            project_id=pending.project_id,
            call_id=pending.call_id,
            entry=encoded.decode("utf-8"),
            leaf_hash=merkle.leaf_hash(encoded).hex(),
        )

    def entries_of(self, item: ItemRecord) -> list[ShownEntry]:
        """The item's entries, oldest first, as the inbox shows them."""
        with self._db.read() as conn:
            found = rows.for_call(conn, item.call_id, item.project_id)
        shown = []
        for record in found:
            entry = json.loads(record.entry)
            data, actor = entry["data"], entry["actor"]
            if data.get("item", {}).get("kind", item.kind) != item.kind:
                continue  # the other kind's request under the same call id
            what = record.kind
            if "decision" in data:
                what = f"{record.kind}: {data['decision']['verdict']}"
            elif record.kind == "delivery_attempt":
                what = f"{data['event_type']} to {actor['channel']} {data['target']}: {data['outcome']}"
            by = ", ".join(
                f"{label} {actor[key]}"
                for key, label in (("user_id", "user"), ("key_id", "key"))
                if actor.get(key)
            )
            by = (
                f"{by} via {actor['channel']}"
                if by and actor.get("channel")
                else by or (actor.get("channel") or "")
            )
            shown.append(ShownEntry(record.seq, entry["time"], what, by, record.leaf_hash))
        return shown

    # ------------------------------------------------------------------ checkpoints

    def signing_key(self) -> tuple[AuditKeyRecord, Ed25519PrivateKey]:
        """The key that signs checkpoints, made and stored (sealed) on first use."""
        with self._db.read() as conn:
            found = rows.signing_key(conn)
        if found is None:
            key = Ed25519PrivateKey.generate()
            raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
            try:
                with self._db.write() as tx:
                    rows.insert_key(
                        tx.conn,
                        name=self._origin,
                        public_key=base64.b64encode(note.public_bytes(key)).decode("ascii"),
                        private_key=self._db.box.seal(base64.b64encode(raw).decode("ascii")),
                        now=self._clock(),
                    )
                logger.warning("created the audit log's signing key for %r", self._origin)
            except IntegrityError:
                pass  # another process made it first: use theirs
            with self._db.read() as conn:
                found = rows.signing_key(conn)
            assert found is not None
        private = base64.b64decode(self._db.box.open(found.private_key))
        return found, Ed25519PrivateKey.from_private_bytes(private)

    def verifier_key(self) -> str:
        found, _ = self.signing_key()
        return note.verifier_key(found.name, base64.b64decode(found.public_key))

    def tree_head(self) -> tuple[int, bytes]:
        """The size and root of the log as committed now, hashing only what is new."""
        with self._hashing, self._db.read() as conn:
            for entry in rows.entries(conn, self._frontier.size):
                if entry.seq != self._frontier.size:
                    raise RuntimeError(f"the audit log has no entry {self._frontier.size}")
                self._frontier.append(merkle.leaf_hash(entry.entry.encode("utf-8")))
            return self._frontier.size, self._frontier.root()

    def checkpoint(self, *, force: bool = False) -> CheckpointRecord | None:
        """Sign and store a checkpoint of the log as it is; None when the latest one already
        covers every entry (unless ``force``: then that one is returned)."""
        size, root = self.tree_head()
        with self._db.read() as conn:
            latest = rows.latest_checkpoint(conn)
        if latest is not None and latest.tree_size >= size:
            return latest if force else None
        key, private = self.signing_key()
        signed = note.sign(note.checkpoint_text(key.name, size, root), key.name, private)
        try:
            with self._db.write() as tx:
                rows.insert_checkpoint(
                    tx.conn,
                    tree_size=size,
                    root_hash=root.hex(),
                    note=signed,
                    key_id=key.id,
                    now=self._clock(),
                )
        except IntegrityError:
            pass  # another replica signed the same size at the same moment: the same note
        logger.info("audit checkpoint signed: %d entries", size)
        with self._db.read() as conn:
            return rows.latest_checkpoint(conn)
