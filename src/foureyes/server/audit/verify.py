"""``verify(db)``: recompute the audit log's tree and hold it against its checkpoints and rows.

Three things are checked, and every problem names the entry it is found at where there is one:

1. the log itself: indexes dense from 0, each entry's stored hash its content's, each entry's
   columns what its JSON says, and the head's size the number of entries;
2. every checkpoint: its signature (by its key, or the pinned verifier key), and the root of the
   first ``tree_size`` entries as recomputed; a checkpoint larger than the log means entries
   were removed;
3. the rows the log describes: each decision row as its entry recorded it, each item's digests
   (recomputed from the stored request, so edited arguments show) and state, each API key's
   prefix and scopes; and no item, decision, key or user after the log started that no entry
   accounts for. Without this, a row edited in place would go unnoticed: the log alone proves
   only itself.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from foureyes._protocol import ItemState
from foureyes.server.audit import merkle, note
from foureyes.server.audit.log import LOG_STARTED
from foureyes.server.domain.items import request_digest_of, spec_digest_of
from foureyes.storage import Database, credentials
from foureyes.storage import audit as rows
from foureyes.storage.audit import AuditKeyRecord, CheckpointRecord
from foureyes.storage.schema import api_keys, decisions, items, users
from foureyes.storage.sealing import SecretBox

DECISION_COLUMNS = (
    "verdict",
    "comment",
    "option_name",
    "response",
    "actor_key_id",
    "actor_user_id",
    "actor_address",
    "channel",
    "spec_digest",
    "policy",
    "receipt",
    "approver_groups",
)


@dataclass(frozen=True, order=True)
class Problem:
    # the entry it was found at; None for a row that no entry accounts for (sorted last)
    index: float
    message: str


@dataclass
class Report:
    entries: int = 0
    checkpoints: int = 0
    rows: int = 0
    verifier_keys: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, index: int | None, message: str) -> None:
        self.problems.append(Problem(float("inf") if index is None else index, message))

    def first(self) -> Problem | None:
        return min(self.problems) if self.problems else None


@dataclass
class _Seen:
    """What the entries say about the rows, by row id: (entry index, what it recorded)."""

    baseline: dict[str, int] = field(default_factory=dict)
    decisions: dict[int, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    created: dict[int, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    completed: dict[int, tuple[int, str]] = field(default_factory=dict)
    keys: dict[int, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    users: set[int] = field(default_factory=set)


def verify(db: Database, *, pinned_key: str | None = None) -> Report:
    """Check the whole log; ``pinned_key`` (a verifier key) must have signed every checkpoint."""
    report = Report()
    pinned = None if pinned_key is None else note.parse_verifier_key(pinned_key)
    seen = _Seen()
    with db.snapshot() as conn:
        keys = rows.keys(conn)
        report.verifier_keys = [
            note.verifier_key(k.name, base64.b64decode(k.public_key)) for k in keys.values()
        ]
        checkpoints = rows.checkpoints(conn)
        report.checkpoints = len(checkpoints)
        _check_log(conn, report, seen, checkpoints, keys, pinned)
        _check_rows(conn, report, seen, db.box)
    report.problems.sort()
    return report


def _check_log(
    conn: Connection,
    report: Report,
    seen: _Seen,
    checkpoints: list[CheckpointRecord],
    keys: dict[int, AuditKeyRecord],
    pinned: tuple[str, bytes] | None,
) -> None:
    frontier = merkle.Frontier()
    pending = iter(checkpoints)
    upcoming = next(pending, None)
    good = 0  # the size of the last checkpoint that matched
    for entry in rows.entries(conn):
        if entry.seq != frontier.size:
            report.add(
                frontier.size, f"entry {frontier.size} is missing (the next one stored is {entry.seq})"
            )
            break
        while upcoming is not None and upcoming.tree_size == frontier.size:
            good = _check_checkpoint(report, upcoming, frontier.root(), keys, pinned, good)
            upcoming = next(pending, None)
        content = entry.entry.encode("utf-8")
        leaf = merkle.leaf_hash(content)
        if leaf.hex() != entry.leaf_hash:
            report.add(entry.seq, f"entry {entry.seq} ({entry.kind}) was changed: its hash does not match it")
        _read_entry(report, seen, entry.seq, entry.kind, entry.call_id, content)
        frontier.append(leaf)
    report.entries = frontier.size
    while upcoming is not None and upcoming.tree_size == frontier.size:
        good = _check_checkpoint(report, upcoming, frontier.root(), keys, pinned, good)
        upcoming = next(pending, None)
    for checkpoint in ([upcoming] if upcoming else []) + list(pending):
        report.add(
            frontier.size,
            f"checkpoint of {checkpoint.tree_size} entries, but the log has only {frontier.size}: "
            f"entries from {frontier.size} on were removed",
        )
    head = rows.head_size(conn)
    if head != frontier.size:
        report.add(
            min(head, frontier.size), f"the log's head counts {head} entries, but {frontier.size} are stored"
        )


def _check_checkpoint(
    report: Report,
    checkpoint: CheckpointRecord,
    root: bytes,
    keys: dict[int, AuditKeyRecord],
    pinned: tuple[str, bytes] | None,
    good: int,
) -> int:
    size = checkpoint.tree_size
    key = keys.get(checkpoint.key_id)
    try:
        if key is None:
            raise note.NoteError(f"its key {checkpoint.key_id} is gone")
        name, public = key.name, base64.b64decode(key.public_key)
        if pinned is not None and pinned != (name, public):
            raise note.NoteError("it is not signed by the pinned key")
        signed = note.open_note(checkpoint.note, name, public)
        if signed.size != size or signed.root.hex() != checkpoint.root_hash:
            raise note.NoteError("its signed size or root differs from the stored ones")
    except note.NoteError as exc:
        report.add(max(size - 1, 0), f"checkpoint of {size} entries does not verify: {exc}")
        return good
    if root.hex() != checkpoint.root_hash:
        # Filed under the last entry it covers: an entry found changed within it names itself.
        report.add(
            size - 1,
            f"checkpoint of {size} entries does not match the log: an entry from {good} to {size - 1} "
            "was changed or replaced",
        )
        return good
    return size


def _read_entry(
    report: Report, seen: _Seen, index: int, kind: str, call_id: str | None, content: bytes
) -> None:
    try:
        entry = json.loads(content)
        data = entry["data"]
    except (ValueError, KeyError, TypeError):
        report.add(index, f"entry {index} is not an audit entry")
        return
    if entry.get("index") != index or entry.get("kind") != kind or entry.get("call_id") != call_id:
        report.add(index, f"entry {index}: its columns do not match its content")
    item = data.get("item") or {}
    if kind == LOG_STARTED and index == 0:
        seen.baseline = {k: int(v) for k, v in data.get("before", {}).items()}
    if "decision" in data:
        seen.decisions[int(data["decision"]["id"])] = (index, data["decision"])
        if "state" in data and item.get("id") is not None:
            seen.completed[int(item["id"])] = (index, str(data["state"]))
    if kind == "created" and item.get("id") is not None:
        seen.created[int(item["id"])] = (index, {**data, "call_id": call_id})
    if kind == "key_created":
        seen.keys[int(data["key_id"])] = (index, data)
    if kind == "user_created":
        seen.users.add(int(data["user_id"]))


def _rows(conn: Connection, table: Any) -> Iterator[Any]:
    yield from conn.execute(select(table).order_by(table.c.id).execution_options(yield_per=1000))


def _check_rows(conn: Connection, report: Report, seen: _Seen, box: SecretBox) -> None:
    before = seen.baseline
    for row in _rows(conn, decisions):
        report.rows += 1
        found = seen.decisions.pop(row.id, None)
        if found is None:
            if row.id > before.get("decisions", 0):
                report.add(None, f"decision {row.id} (of item {row.item_id}) is in no log entry")
            continue
        index, logged = found
        stored = {name: getattr(row, name) for name in DECISION_COLUMNS}
        stored["decided_at"] = row.decided_at.isoformat()
        stored["edited_kwargs"] = None if row.edited_kwargs is None else json.loads(row.edited_kwargs)
        changed = sorted(k for k, v in stored.items() if logged.get(k) != v)
        if changed:
            report.add(
                index, f"entry {index}: decision {row.id} differs from the log in {', '.join(changed)}"
            )
    for decision_id, (index, _) in seen.decisions.items():
        report.add(index, f"entry {index}: decision {decision_id} is no longer stored")
    for row in _rows(conn, items):
        report.rows += 1
        _check_item(report, seen, row, before.get("items", 0), lambda r: _as_sent(conn, box, r))
    for row in _rows(conn, api_keys):
        report.rows += 1
        key = seen.keys.get(row.id)
        if key is None:
            if row.id > before.get("api_keys", 0):
                report.add(None, f"API key {row.id} ({row.prefix}) was made without a log entry")
            continue
        index, logged = key
        if logged.get("prefix") != row.prefix or sorted(logged.get("scopes", ())) != sorted(
            row.scopes.split()
        ):
            report.add(index, f"entry {index}: API key {row.id} differs from the log in its prefix or scopes")
    for row in _rows(conn, users):
        report.rows += 1
        if row.id not in seen.users and row.id > before.get("users", 0):
            report.add(None, f"user {row.id} was made without a log entry")


def _as_sent(conn: Connection, box: SecretBox, row: Any) -> Any:
    """An item's spec with its sealed credentials put back: what a request stored before
    migration 0017 redacted it was digested as."""
    return credentials.restore(json.loads(row.spec), credentials.opened(conn, box, row.id))


def _check_item(report: Report, seen: _Seen, row: Any, before: int, as_sent: Callable[[Any], Any]) -> None:
    created = seen.created.get(row.id)
    if created is None:
        if row.id > before:
            report.add(None, f"item {row.id} ({row.call_id!r}) is in no log entry")
        return
    index, logged = created
    spec = json.loads(row.spec)
    wrong = [
        name
        for name, value in (
            ("call_id", row.call_id),
            ("run_id", row.run_id),
            ("spec_digest", row.spec_digest),
            ("request_digest", row.request_digest),
        )
        if logged.get(name) != value
    ]
    if spec_digest_of(row.kind, spec) != logged.get("spec_digest"):
        wrong.append("spec (the arguments)")
    elif logged.get("request_digest") != request_digest_of(row.run_id, spec) and logged.get(
        "request_digest"
    ) != request_digest_of(row.run_id, as_sent(row)):
        # (only a request stored before 0017 needs its credentials back to match)
        wrong.append("spec")
    if wrong:
        report.add(
            index,
            f"entry {index}: item {row.id} ({row.call_id!r}) differs from the log in {', '.join(wrong)}",
        )
    completed = seen.completed.get(row.id)
    if completed is None and row.state != ItemState.PENDING and row.id > before:
        report.add(index, f"entry {index}: item {row.id} is {row.state}, but the log has no decision for it")
    elif completed is not None and completed[1] != row.state:
        report.add(
            completed[0], f"entry {completed[0]}: item {row.id} is {row.state}, the log says {completed[1]}"
        )
