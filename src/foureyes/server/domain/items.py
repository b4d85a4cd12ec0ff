"""``Items``: storing requests (function calls, human contacts) and reading them back."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError

from foureyes._protocol import MAX_ID_LENGTH, ItemKind
from foureyes.models import FunctionCall, HumanContact
from foureyes.server.domain.approvers import check_requested, requested_approvers
from foureyes.server.domain.deadlines import default_deadline, requested_deadline
from foureyes.server.domain.edits import requested_allow_edit
from foureyes.server.domain.errors import (
    ConflictError,
    InvalidParameterError,
    NotFoundError,
    ValidationFailedError,
    field_error,
    validation_failed,
)
from foureyes.server.domain.events import Emitter, ItemCreated
from foureyes.server.domain.quorum import requested_quorum
from foureyes.server.domain.routes import resolve
from foureyes.storage import Database, ItemRecord, NewItem, ProjectRecord, Tx, credentials, keys
from foureyes.storage import items as item_rows
from foureyes.storage.inbox import InboxFilter, InboxRow, InboxStore

logger = logging.getLogger(__name__)

FUNCTION_CALL = ItemKind.FUNCTION_CALL
HUMAN_CONTACT = ItemKind.HUMAN_CONTACT

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500
# Far past any real list, and far inside the 64-bit integers both databases take for OFFSET.
MAX_OFFSET = 2**31 - 1
MAX_RUN_ITEMS = 1000


@dataclass(frozen=True)
class PendingPage:
    items: list[ItemRecord]
    total: int
    limit: int
    offset: int

    @property
    def has_more(self) -> bool:
        return self.offset + len(self.items) < self.total


def canonical_digest(value: Any) -> str:
    """SHA-256 of canonical JSON: sorted keys, no spaces, UTF-8."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def spec_digest_of(kind: str, spec: Mapping[str, Any]) -> str:
    """The digest a decision binds to: the function and its arguments, or the question."""
    if kind == FUNCTION_CALL:
        return canonical_digest({"fn": spec["fn"], "kwargs": spec["kwargs"]})
    return canonical_digest({"msg": spec["msg"], "subject": spec.get("subject")})


def request_digest_of(run_id: str, spec: Mapping[str, Any]) -> str:
    return canonical_digest({"run_id": run_id, "spec": spec})


def describe(kind: str) -> str:
    """``function call`` or ``human contact``, for messages."""
    return kind.replace("_", " ")


def _validate(model: type[BaseModel], payload: Mapping[str, Any]) -> None:
    try:
        model.model_validate(payload)
    except ValidationError as exc:
        raise validation_failed(exc, prefix=["body"]) from None
    problems = [
        field_error(["body", name], f"must be a non-empty string of at most {MAX_ID_LENGTH} characters")
        for name in ("run_id", "call_id")
        if not payload[name] or len(payload[name]) > MAX_ID_LENGTH
    ]
    if problems:
        raise ValidationFailedError("run_id and call_id must be non-empty and short", problems)


def _check_unique_options(spec: Mapping[str, Any], field: str) -> None:
    names = [option["name"] for option in spec.get(field) or ()]
    if len(names) != len(set(names)):
        raise ValidationFailedError(
            f"{field} must have unique names",
            [field_error(["body", "spec", field], "option names must be unique")],
        )


class Verdict(Protocol):
    """What the policies say of a new item, before it is announced: the route targets of the
    rule that acts (``routes.py``), and whether that rule decides it at once."""

    @property
    def routes(self) -> tuple[str, ...]: ...

    @property
    def decides(self) -> bool: ...


class CreatePolicy(Protocol):
    """The policies, as the create transaction sees them: ``evaluate`` (before ItemCreated, so
    the channels know where the request goes and whether anyone must decide it), then ``act``
    (after it: the matches are recorded, the item decided, its quorum raised, routes kept or
    escalation steps given)."""

    def evaluate(self, tx: Tx, item: ItemRecord, actor_key_id: int | None) -> Verdict: ...

    def act(self, tx: Tx, item: ItemRecord, verdict: Any) -> ItemRecord: ...


class Items:
    def __init__(self, db: Database, emitter: Emitter, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._emitter = emitter
        self._clock = clock
        self._inbox = InboxStore(db)
        # Told of every new deadline after its commit (the expiry task; any thread).
        self.on_deadline: Callable[[datetime], None] | None = None
        # Given every new item in its create transaction: the policies, which may decide it, raise
        # its quorum or route it.
        self.policy: CreatePolicy | None = None

    def now(self) -> datetime:
        return self._clock()

    # ------------------------------------------------------------------ create

    def create_function_call(
        self,
        project_id: int,
        payload: Mapping[str, Any],
        *,
        actor_key_id: int | None = None,
        channel: str = "api",
        actor_user_id: int | None = None,
    ) -> ItemRecord:
        """Store a function call from its JSON (a ``FunctionCall``). Idempotent per call id.
        ``actor_user_id``: the person who owns the creating key (they may not approve it)."""
        _validate(FunctionCall, payload)
        spec = payload["spec"]
        _check_unique_options(spec, "reject_options")
        spec_digest = spec_digest_of(FUNCTION_CALL, spec)
        return self._create(
            project_id, FUNCTION_CALL, payload, spec_digest, actor_key_id, channel, actor_user_id
        )

    def create_human_contact(
        self,
        project_id: int,
        payload: Mapping[str, Any],
        *,
        actor_key_id: int | None = None,
        channel: str = "api",
        actor_user_id: int | None = None,
    ) -> ItemRecord:
        """Store a question from its JSON (a ``HumanContact``). Idempotent per call id."""
        _validate(HumanContact, payload)
        spec = payload["spec"]
        _check_unique_options(spec, "response_options")
        spec_digest = spec_digest_of(HUMAN_CONTACT, spec)
        return self._create(
            project_id, HUMAN_CONTACT, payload, spec_digest, actor_key_id, channel, actor_user_id
        )

    def _create(
        self,
        project_id: int,
        kind: str,
        payload: Mapping[str, Any],
        spec_digest: str,
        actor_key_id: int | None,
        channel: str,
        actor_user_id: int | None,
    ) -> ItemRecord:
        call_id = payload["call_id"]
        # Credentials in the channel are sealed apart; the spec keeps "[redacted]" in their place,
        # and a replay is the same request after that (the same token or another).
        spec, secrets = credentials.split_channel_of(payload["spec"])
        request_digest = request_digest_of(payload["run_id"], spec)
        # what a request stored before migration 0017 (which kept its digest) was digested as
        as_before = request_digest_of(payload["run_id"], dict(payload["spec"])) if secrets else request_digest
        now = self._clock()
        expires_at = requested_deadline(payload, now)
        # only a function call's arguments can be edited
        allow_edit = requested_allow_edit(payload) if kind == FUNCTION_CALL else False
        required = requested_quorum(payload) if kind == FUNCTION_CALL else None
        approvers = requested_approvers(payload) if kind == FUNCTION_CALL else None
        if approvers is not None:
            # each group's approver is one of the people counted
            required = max(required or 1, approvers.needed) if approvers.needed > 1 else required
        new = NewItem(
            project_id=project_id,
            kind=kind,
            call_id=call_id,
            run_id=payload["run_id"],
            spec=spec,
            request_digest=request_digest,
            spec_digest=spec_digest,
            requested_at=now,
            actor_key_id=actor_key_id,
            channel=channel,
            expires_at=expires_at,
            allow_edit=allow_edit,
            required_approvals=required,
            creator_user_id=actor_user_id,
            approver_groups=() if approvers is None else approvers.groups,
            approver_groups_needed=0 if approvers is None else approvers.needed,
        )

        def create(tx: Tx) -> tuple[ItemRecord, bool]:
            wanted = new
            project = keys.get_project(tx.conn, project_id)
            if expires_at is None:
                fallback = default_deadline(None if project is None else project.expires_after_seconds, now)
                wanted = dataclasses.replace(new, expires_at=fallback)
            if project is not None and project.step_up:
                wanted = dataclasses.replace(wanted, step_up=True)
            item, created = item_rows.insert(tx.conn, wanted)
            if created and approvers is not None:
                # in the create's transaction (a replay of a stored request is not checked again)
                check_requested(tx.conn, project_id, approvers)
            if created:
                credentials.seal(
                    tx.conn, self._db.box, secrets, part=credentials.SPEC, now=now, item_id=item.id
                )
            if created and item.expires_at is not None and self.on_deadline is not None:
                tx.after_commit(functools.partial(self.on_deadline, item.expires_at))
            if created and project is not None and project.escalation_steps and self.on_deadline:
                # the deadline task also fires escalation steps: it looks when the first is due
                first = timedelta(seconds=int(project.escalation_steps[0]["after_seconds"]))
                tx.after_commit(functools.partial(self.on_deadline, item.requested_at + first))
            if created:
                verdict = None if self.policy is None else self.policy.evaluate(tx, item, actor_key_id)
                defaults = () if project is None else project.default_channels
                # A routed request goes to its route's targets (besides the agent's own channel);
                # one that names no channel to its project's default channels.
                if verdict is not None and verdict.routes:
                    routed = resolve(verdict.routes, defaults)
                else:
                    routed = () if spec.get("channel") else defaults
                self._emitter.emit(
                    tx,
                    ItemCreated(
                        record=item,
                        project_id=project_id,
                        at=now,
                        actor_key_id=actor_key_id,
                        channel=channel,
                        routed_to=routed,
                        settled=verdict is not None and verdict.decides,
                    ),
                )
                if self.policy is not None:
                    item = self.policy.act(tx, item, verdict)
                if item.next_escalation_at is not None and self.on_deadline is not None:
                    # a policy gave it its own escalation steps: the deadline task fires them
                    tx.after_commit(functools.partial(self.on_deadline, item.next_escalation_at))
            return item, created

        try:
            item, created = self._db.write_grouped(create)
        except IntegrityError:
            # Another replica stored the same call id between our read and our insert.
            found = self._find(project_id, kind, call_id)
            if found is None:
                raise
            item, created = found, False
        if created:
            logger.info("%s %r created in project %d", describe(kind), call_id, project_id)
        elif item.request_digest not in (request_digest, as_before):
            raise ConflictError(
                f"{describe(kind)} {call_id!r} already exists with a different run_id or spec"
            )
        return item

    # ------------------------------------------------------------------ read

    def _find(self, project_id: int, kind: str, call_id: str) -> ItemRecord | None:
        with self._db.read() as conn:
            return item_rows.get(conn, project_id, kind, call_id)

    def get(self, project_id: int, kind: str, call_id: str) -> ItemRecord:
        item = self._find(project_id, kind, call_id)
        if item is None:
            # Another project's item is reported exactly like a missing one.
            raise NotFoundError(f"{describe(kind)} {call_id!r} not found")
        return item

    def get_many(self, project_id: int, kind: str, call_ids: list[str]) -> dict[str, ItemRecord]:
        """The items of ``call_ids`` that exist in the project, by call id (one read)."""
        with self._db.read() as conn:
            return item_rows.get_many(conn, project_id, kind, call_ids)

    def get_function_call(self, project_id: int, call_id: str) -> ItemRecord:
        return self.get(project_id, FUNCTION_CALL, call_id)

    def get_human_contact(self, project_id: int, call_id: str) -> ItemRecord:
        return self.get(project_id, HUMAN_CONTACT, call_id)

    def list_pending_function_calls(
        self, project_id: int, *, limit: int = DEFAULT_PAGE_SIZE, offset: int = 0
    ) -> PendingPage:
        return self._pending(project_id, FUNCTION_CALL, limit, offset)

    def list_pending_human_contacts(
        self, project_id: int, *, limit: int = DEFAULT_PAGE_SIZE, offset: int = 0
    ) -> PendingPage:
        return self._pending(project_id, HUMAN_CONTACT, limit, offset)

    def _pending(self, project_id: int, kind: str, limit: int, offset: int) -> PendingPage:
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidParameterError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        if not 0 <= offset <= MAX_OFFSET:
            raise InvalidParameterError(f"offset must be between 0 and {MAX_OFFSET}")
        with self._db.read() as conn:
            found, total = item_rows.list_pending(conn, project_id, kind, limit, offset)
        return PendingPage(found, total, limit, offset)

    def list_run_items(self, project_id: int, run_id: str, *, limit: int = MAX_RUN_ITEMS) -> list[ItemRecord]:
        """Every function call and human contact of a run (the first ``limit``), oldest first."""
        with self._db.read() as conn:
            return item_rows.list_run(conn, project_id, run_id, limit)

    def list_inbox(self, project_id: int, wanted: InboxFilter) -> list[InboxRow]:
        """Pending (newest first) or decided (latest first) items for the inbox."""
        return self._inbox.list_items(project_id, wanted)

    def pending_counts(self, project_ids: list[int]) -> dict[int, int]:
        """How many requests are pending in each project."""
        return self._inbox.pending_counts(project_ids)

    def item_origin(self, item: ItemRecord) -> tuple[str | None, str | None]:
        """The agent (its key's name or prefix) and the channel the item came in through."""
        return self._inbox.origin_of(item.id)

    def get_project(self, project_id: int) -> ProjectRecord:
        with self._db.read() as conn:
            project = keys.get_project(conn, project_id)
        if project is None:
            raise NotFoundError("project not found")
        return project
