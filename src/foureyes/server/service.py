"""The domain rules. Every channel (REST, CLI, later inbox, email, Slack) goes through here.

``decide_function_call`` and ``answer_human_contact`` are the one path for every decision: they
check the item is still pending and the answer is complete, record exactly one decision with its
event in one transaction, log it, and wake waiters after the commit.

Methods are synchronous (SQLAlchemy is); the HTTP layer calls them from worker threads.
Failures are raised as the typed errors of ``foureyes.server.domain.errors``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ValidationError

from foureyes._protocol import ItemKind
from foureyes.models import Escalation, FunctionCall, HumanContact
from foureyes.server import auth
from foureyes.server.domain.errors import (
    ConflictError,
    InvalidParameterError,
    NotFoundError,
    UnauthorizedError,
    ValidationFailedError,
    field_error,
    validation_failed,
)
from foureyes.server.notifier import Notifier, Topic, project_topic, run_topic
from foureyes.server.people import People
from foureyes.server.pg_notifier import notifier_for
from foureyes.server.revocations import Revocations
from foureyes.server.settings import Settings
from foureyes.server.ssrf import check_url
from foureyes.server.wire import render_item
from foureyes.storage import (
    DELIVERY_FAILED,
    ApiKeyRecord,
    AttemptRecord,
    DecisionRecord,
    DeliveryRecord,
    ItemRecord,
    NewDecision,
    NewItem,
    OutboxEvent,
    ProjectRecord,
    Storage,
    WebhookEndpointRecord,
)
from foureyes.storage.inbox import InboxFilter, InboxRow, InboxStore
from foureyes.webhooks import generate_secret

logger = logging.getLogger(__name__)

FUNCTION_CALL = ItemKind.FUNCTION_CALL
HUMAN_CONTACT = ItemKind.HUMAN_CONTACT

MAX_ID_LENGTH = 256
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500
# Far past any real list, and far inside the 64-bit integers both databases take for OFFSET.
MAX_OFFSET = 2**31 - 1
MAX_RUN_ITEMS = 1000

WEBHOOK_EVENTS = (
    "function_call.created",
    "function_call.completed",
    "human_contact.created",
    "human_contact.completed",
)

_PROJECT_SLUG = auth.PROJECT_SLUG


@dataclass(frozen=True)
class CreatedKey:
    """A new API key. ``plaintext`` exists only here: the database keeps its hash."""

    id: int
    prefix: str
    plaintext: str
    project: str
    scopes: tuple[str, ...]
    name: str | None


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


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _blank_to_none(text: str | None) -> str | None:
    return None if text is None or not text.strip() else text


def _option_text(option: Mapping[str, Any]) -> str:
    """What an option stands for when the human picked it without typing anything."""
    for key in ("prompt_fill", "title", "name"):
        value = option.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return str(option["name"])


def webhook_envelope(event_type: str, item: ItemRecord, *, is_test: bool = False) -> str:
    """The v1beta2 webhook body: ``{type, is_test, event}`` with the item exactly as the API
    renders it (``spec.state`` included), as JSON text frozen into the outbox."""
    envelope = {"type": event_type, "is_test": is_test, "event": render_item(item)}
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))


class Service:
    def __init__(
        self,
        storage: Storage,
        notifier: Notifier,
        *,
        clock: Callable[[], datetime] = _utcnow,
        webhook_retry_max_seconds: float = Settings.webhook_retry_max_seconds,
        settings: Settings | None = None,
    ) -> None:
        self.storage = storage
        self.notifier = notifier
        self._clock = clock
        settings = settings or Settings()
        # Closes open streams whose key or access is revoked; the app runs its checks.
        self.revocations = Revocations(storage, notifier, clock, settings.revocation_recheck_seconds)
        self.people = People(storage, settings, clock, on_revoked=self.revocations.announce)
        self._inbox = InboxStore(storage)
        self.webhook_retry_max = timedelta(seconds=webhook_retry_max_seconds)
        # Called after a commit that queued webhooks, so the delivery worker need not wait for
        # its next poll. Set by the app; any thread may call it.
        self.on_outbox: Callable[[], None] | None = None

    def close(self) -> None:
        self.notifier.close()
        self.storage.close()

    # ------------------------------------------------------------------ projects and keys

    def create_api_key(
        self, project: str = "default", scopes: Sequence[str] = (auth.AGENT,), name: str | None = None
    ) -> CreatedKey:
        """A new key for ``project`` (created if missing); InvalidParameterError on a bad slug or scope."""
        if not _PROJECT_SLUG.match(project):
            raise InvalidParameterError(
                f"invalid project name {project!r}: use letters, digits, '.', '_' or '-' (at most 100)"
            )
        wanted = tuple(dict.fromkeys(scopes))
        unknown = sorted(set(wanted) - set(auth.SCOPES))
        if not wanted or unknown:
            raise InvalidParameterError(f"scopes must be a non-empty subset of {', '.join(auth.SCOPES)}")
        now = self._clock()
        record = self.storage.ensure_project(project, now=now)
        plaintext = auth.generate_key()
        key = self.storage.insert_api_key(
            project=record,
            name=name,
            prefix=auth.display_prefix(plaintext),
            key_hash=auth.hash_key(plaintext),
            scopes=wanted,
            now=now,
        )
        logger.info("API key %s created for project %r with scopes %s", key.prefix, project, ",".join(wanted))
        return CreatedKey(key.id, key.prefix, plaintext, record.slug, wanted, name)

    def list_api_keys(self, project: str | None = None) -> list[ApiKeyRecord]:
        keys = self.storage.list_api_keys()
        return [k for k in keys if project is None or k.project_slug == project]

    def revoke_api_key(self, key_id: int) -> bool:
        revoked = self.storage.revoke_api_key(key_id, now=self._clock())
        if revoked:
            logger.info("API key %d revoked", key_id)
            self.revocations.announce()
        return revoked

    def authenticate(self, token: str) -> auth.Principal:
        key = self.storage.find_api_key(auth.hash_key(token))
        if key is None:
            raise UnauthorizedError("unknown API key")
        if key.revoked_at is not None:
            raise UnauthorizedError("this API key has been revoked")
        if key.user_id is not None and self.people.role_in(key.user_id, key.project_id) is None:
            # A personal token reads and decides only while its owner has a role in the project.
            raise UnauthorizedError("the owner of this token no longer has a role in its project")
        return auth.Principal(
            key_id=key.id, project_id=key.project_id, scopes=frozenset(key.scopes), user_id=key.user_id
        )

    def create_personal_token(self, user_id: int, project: str, name: str | None = None) -> CreatedKey:
        """A reviewer's own ``respond`` token: what it decides is attributed to them."""
        record = self.people.personal_token_project(user_id, project)
        plaintext = auth.generate_key()
        key = self.storage.insert_api_key(
            project=record,
            name=name,
            prefix=auth.display_prefix(plaintext),
            key_hash=auth.hash_key(plaintext),
            scopes=(auth.RESPOND,),
            now=self._clock(),
            user_id=user_id,
        )
        logger.info("personal token %s created for user %d in project %r", key.prefix, user_id, project)
        return CreatedKey(key.id, key.prefix, plaintext, record.slug, (auth.RESPOND,), name)

    def list_personal_tokens(self, user_id: int) -> list[ApiKeyRecord]:
        return [k for k in self.storage.list_api_keys() if k.user_id == user_id]

    def revoke_personal_token(self, user_id: int, key_id: int) -> bool:
        if not any(k.id == key_id for k in self.list_personal_tokens(user_id)):
            raise NotFoundError(f"token {key_id} not found")
        return self.revoke_api_key(key_id)

    def get_project(self, project_id: int) -> ProjectRecord:
        project = self.storage.get_project(project_id)
        if project is None:
            raise NotFoundError("project not found")
        return project

    # ------------------------------------------------------------------ create and read

    def create_function_call(
        self,
        project_id: int,
        payload: Mapping[str, Any],
        *,
        actor_key_id: int | None = None,
        channel: str = "api",
    ) -> ItemRecord:
        """Store a function call from its JSON (a ``FunctionCall``). Idempotent per call id."""
        self._validate(FunctionCall, payload)
        spec = payload["spec"]
        self._check_unique_options(spec, "reject_options")
        spec_digest = canonical_digest({"fn": spec["fn"], "kwargs": spec["kwargs"]})
        return self._create(project_id, FUNCTION_CALL, payload, spec_digest, actor_key_id, channel)

    def create_human_contact(
        self,
        project_id: int,
        payload: Mapping[str, Any],
        *,
        actor_key_id: int | None = None,
        channel: str = "api",
    ) -> ItemRecord:
        """Store a question from its JSON (a ``HumanContact``). Idempotent per call id."""
        self._validate(HumanContact, payload)
        spec = payload["spec"]
        self._check_unique_options(spec, "response_options")
        spec_digest = canonical_digest({"msg": spec["msg"], "subject": spec.get("subject")})
        return self._create(project_id, HUMAN_CONTACT, payload, spec_digest, actor_key_id, channel)

    def get_function_call(self, project_id: int, call_id: str) -> ItemRecord:
        return self._get(project_id, FUNCTION_CALL, call_id)

    def get_human_contact(self, project_id: int, call_id: str) -> ItemRecord:
        return self._get(project_id, HUMAN_CONTACT, call_id)

    def list_pending_function_calls(
        self, project_id: int, *, limit: int = DEFAULT_PAGE_SIZE, offset: int = 0
    ) -> PendingPage:
        return self._pending(project_id, FUNCTION_CALL, limit, offset)

    def list_pending_human_contacts(
        self, project_id: int, *, limit: int = DEFAULT_PAGE_SIZE, offset: int = 0
    ) -> PendingPage:
        return self._pending(project_id, HUMAN_CONTACT, limit, offset)

    def list_inbox(self, project_id: int, wanted: InboxFilter) -> list[InboxRow]:
        """Pending (newest first) or decided (latest first) items for the inbox."""
        return self._inbox.list_items(project_id, wanted)

    def item_origin(self, item: ItemRecord) -> tuple[str | None, str | None]:
        """The agent (its key's name or prefix) and the channel the item came in through."""
        return self._inbox.origin_of(item.id)

    def now(self) -> datetime:
        return self._clock()

    def list_run_items(self, project_id: int, run_id: str, *, limit: int = MAX_RUN_ITEMS) -> list[ItemRecord]:
        """Every function call and human contact of a run (the first ``limit``), oldest first."""
        return self.storage.list_run_items(project_id, run_id, limit)

    # ------------------------------------------------------------------ decisions

    def decide_function_call(
        self,
        project_id: int,
        call_id: str,
        *,
        approved: bool,
        comment: str | None = None,
        reject_option_name: str | None = None,
        channel: str,
        actor_key_id: int | None,
        actor_user_id: int | None = None,
    ) -> ItemRecord:
        """Approve or reject a pending function call: the one path for every channel."""
        self._check_may_decide(project_id, actor_user_id)
        item = self._get(project_id, FUNCTION_CALL, call_id)
        self._ensure_pending(item)
        comment = _blank_to_none(comment)
        if approved:
            if reject_option_name is not None:
                raise ValidationFailedError(
                    "reject_option_name only applies to a rejection",
                    [field_error(["body", "reject_option_name"], "must be null when approved is true")],
                )
            verdict = "approved"
        else:
            if reject_option_name is not None:
                option = self._find_option(item, "reject_options", reject_option_name, "reject_option_name")
                comment = comment if comment is not None else _option_text(option)
            if comment is None:
                raise ValidationFailedError(
                    "a rejection needs a comment (or the name of one of the request's reject_options)",
                    [field_error(["body", "comment"], "required when approved is false", "missing")],
                )
            verdict = "rejected"
        decision = NewDecision(
            verdict=verdict,
            comment=comment,
            option_name=reject_option_name,
            response=None,
            actor_key_id=actor_key_id,
            channel=channel,
            decided_at=self._clock(),
            spec_digest=item.spec_digest,
            actor_user_id=actor_user_id,
        )
        return self._complete(item, verdict, decision)

    def answer_human_contact(
        self,
        project_id: int,
        call_id: str,
        *,
        response: str | None = None,
        response_option_name: str | None = None,
        channel: str,
        actor_key_id: int | None,
        actor_user_id: int | None = None,
    ) -> ItemRecord:
        """Answer a pending question: the one path for every channel."""
        self._check_may_decide(project_id, actor_user_id)
        item = self._get(project_id, HUMAN_CONTACT, call_id)
        self._ensure_pending(item)
        response = _blank_to_none(response)
        if response_option_name is not None:
            option = self._find_option(item, "response_options", response_option_name, "response_option_name")
            response = response if response is not None else _option_text(option)
        if response is None:
            raise ValidationFailedError(
                "an answer needs a response text (or the name of one of the request's response_options)",
                [field_error(["body", "response"], "required", "missing")],
            )
        decision = NewDecision(
            verdict="answered",
            comment=None,
            option_name=response_option_name,
            response=response,
            actor_key_id=actor_key_id,
            channel=channel,
            decided_at=self._clock(),
            spec_digest=item.spec_digest,
            actor_user_id=actor_user_id,
        )
        return self._complete(item, "answered", decision)

    # ------------------------------------------------------------------ escalation

    def escalate_function_call(
        self,
        project_id: int,
        call_id: str,
        escalation: Mapping[str, Any],
        *,
        channel: str = "api",
        actor_key_id: int | None = None,
    ) -> ItemRecord:
        return self._escalate(project_id, FUNCTION_CALL, call_id, escalation, channel, actor_key_id)

    def escalate_human_contact(
        self,
        project_id: int,
        call_id: str,
        escalation: Mapping[str, Any],
        *,
        channel: str = "api",
        actor_key_id: int | None = None,
    ) -> ItemRecord:
        return self._escalate(project_id, HUMAN_CONTACT, call_id, escalation, channel, actor_key_id)

    # ------------------------------------------------------------------ webhooks

    def add_webhook(
        self,
        project: str,
        url: str,
        events: Sequence[str] | None = None,
        *,
        allow_private: bool = False,
    ) -> tuple[WebhookEndpointRecord, str]:
        """A new endpoint and its secret (shown once). InvalidParameterError on a bad URL or
        event type; UnsafeURLError (one of them) when the URL resolves to a non-public address."""
        wanted = tuple(dict.fromkeys(events or WEBHOOK_EVENTS))
        unknown = sorted(set(wanted) - set(WEBHOOK_EVENTS))
        if unknown:
            raise InvalidParameterError(
                f"unknown event types {', '.join(unknown)}; known: {', '.join(WEBHOOK_EVENTS)}"
            )
        if not _PROJECT_SLUG.match(project):
            raise InvalidParameterError(f"invalid project name {project!r}")
        check_url(url, allow_private=allow_private)
        now = self._clock()
        record = self.storage.ensure_project(project, now=now)
        secret = generate_secret()
        endpoint = self.storage.insert_webhook_endpoint(
            project=record, url=url, events=wanted, secret=secret, now=now
        )
        logger.info("webhook endpoint %d added for project %r: %s", endpoint.id, project, url)
        return endpoint, secret

    def list_webhooks(self, project: str | None = None) -> list[WebhookEndpointRecord]:
        return [
            e for e in self.storage.list_webhook_endpoints() if project is None or e.project_slug == project
        ]

    def get_webhook(self, endpoint_id: int) -> WebhookEndpointRecord:
        endpoint = self.storage.get_webhook_endpoint(endpoint_id)
        if endpoint is None:
            raise NotFoundError(f"webhook endpoint {endpoint_id} not found")
        return endpoint

    def set_webhook_enabled(self, endpoint_id: int, enabled: bool) -> WebhookEndpointRecord:
        if not self.storage.set_webhook_enabled(endpoint_id, enabled):
            raise NotFoundError(f"webhook endpoint {endpoint_id} not found")
        logger.info("webhook endpoint %d %s", endpoint_id, "enabled" if enabled else "disabled")
        return self.get_webhook(endpoint_id)

    def rotate_webhook_secret(self, endpoint_id: int, overlap_seconds: float) -> tuple[str, datetime]:
        """A new secret; the old one keeps signing too until the returned moment."""
        if overlap_seconds < 0:
            raise InvalidParameterError("the overlap must be >= 0 seconds")
        secret = generate_secret()
        until = self._clock() + timedelta(seconds=overlap_seconds)
        if not self.storage.rotate_webhook_secret(endpoint_id, secret, until):
            raise NotFoundError(f"webhook endpoint {endpoint_id} not found")
        logger.info("webhook endpoint %d secret rotated; the old one signs until %s", endpoint_id, until)
        return secret, until

    def list_deliveries(
        self, *, failed_only: bool = False, endpoint_id: int | None = None, limit: int = 100
    ) -> list[DeliveryRecord]:
        status = DELIVERY_FAILED if failed_only else None
        return self.storage.list_deliveries(status=status, endpoint_id=endpoint_id, limit=limit)

    def list_attempts(self, delivery_id: int) -> list[AttemptRecord]:
        if self.storage.get_delivery(delivery_id) is None:
            raise NotFoundError(f"webhook delivery {delivery_id} not found")
        return self.storage.list_attempts(delivery_id)

    def redeliver(self, delivery_id: int) -> DeliveryRecord:
        """Send a delivery again (same webhook id and body), retried afresh."""
        now = self._clock()
        if not self.storage.redeliver(delivery_id, now=now, expires_at=now + self.webhook_retry_max):
            raise NotFoundError(f"webhook delivery {delivery_id} not found")
        logger.info("webhook delivery %d queued again", delivery_id)
        self._outbox_written()
        delivery = self.storage.get_delivery(delivery_id)
        assert delivery is not None
        return delivery

    def send_test_webhook(self, endpoint_id: int) -> DeliveryRecord:
        """Queue a made-up event with ``is_test: true`` for one endpoint."""
        endpoint = self.get_webhook(endpoint_id)
        event_type = endpoint.events[0] if endpoint.events else WEBHOOK_EVENTS[1]
        now = self._clock()
        kind = event_type.split(".", 1)[0]
        completed = event_type.endswith(".completed")
        spec: dict[str, Any]
        if kind == FUNCTION_CALL:
            spec = {"fn": "test_function", "kwargs": {}, "channel": None, "reject_options": None}
            decision_verdict, response = "approved", None
        else:
            spec = {
                "msg": "Is this webhook working?",
                "subject": None,
                "channel": None,
                "response_options": None,
            }
            decision_verdict, response = "answered", "yes"
        spec["state"] = {"test": True}
        decision = DecisionRecord(0, decision_verdict, None, None, response, None, "test", now, "")
        item = ItemRecord(
            id=0,
            project_id=endpoint.project_id,
            kind=kind,
            call_id=f"test-{endpoint_id}-{int(now.timestamp())}",
            run_id="foureyes-webhook-test",
            spec=spec,
            request_digest="",
            spec_digest="",
            state=decision_verdict if completed else "pending",
            requested_at=now,
            completed_at=now if completed else None,
            decisions=(decision,) if completed else (),
        )
        event = OutboxEvent(
            event_type, webhook_envelope(event_type, item, is_test=True), now + self.webhook_retry_max
        )
        delivery = self.storage.enqueue_test_delivery(endpoint_id, event, now=now)
        if delivery is None:
            raise NotFoundError(f"webhook endpoint {endpoint_id} not found")
        self._outbox_written()
        return delivery

    def _outbox_written(self) -> None:
        if self.on_outbox is not None:
            self.on_outbox()

    # ------------------------------------------------------------------ helpers

    def _outbox(self, event_type: str, item: ItemRecord, now: datetime) -> list[OutboxEvent]:
        return [OutboxEvent(event_type, webhook_envelope(event_type, item), now + self.webhook_retry_max)]

    @staticmethod
    def topic(item: ItemRecord) -> Topic:
        return (item.project_id, item.kind, item.call_id)

    @staticmethod
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

    @staticmethod
    def _check_unique_options(spec: Mapping[str, Any], field: str) -> None:
        names = [option["name"] for option in spec.get(field) or ()]
        if len(names) != len(set(names)):
            raise ValidationFailedError(
                f"{field} must have unique names",
                [field_error(["body", "spec", field], "option names must be unique")],
            )

    def _create(
        self,
        project_id: int,
        kind: str,
        payload: Mapping[str, Any],
        spec_digest: str,
        actor_key_id: int | None,
        channel: str,
    ) -> ItemRecord:
        call_id = payload["call_id"]
        spec = dict(payload["spec"])
        request_digest = canonical_digest({"run_id": payload["run_id"], "spec": spec})
        now = self._clock()
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
        )
        as_stored = ItemRecord(
            id=0,
            project_id=project_id,
            kind=kind,
            call_id=call_id,
            run_id=new.run_id,
            spec=spec,
            request_digest=request_digest,
            spec_digest=spec_digest,
            state="pending",
            requested_at=now,
            completed_at=None,
        )
        item, created = self.storage.create_item(new, self._outbox(f"{kind}.created", as_stored, now))
        if created:
            logger.info("%s %r created in project %d", kind.replace("_", " "), call_id, project_id)
            self.notifier.publish(run_topic(project_id, item.run_id))
            self.notifier.publish(project_topic(project_id))
            self._outbox_written()
        elif item.request_digest != request_digest:
            raise ConflictError(
                f"{kind.replace('_', ' ')} {call_id!r} already exists with a different run_id or spec"
            )
        return item

    def _get(self, project_id: int, kind: str, call_id: str) -> ItemRecord:
        item = self.storage.get_item(project_id, kind, call_id)
        if item is None:
            # Another project's item is reported exactly like a missing one.
            raise NotFoundError(f"{kind.replace('_', ' ')} {call_id!r} not found")
        return item

    @staticmethod
    def _ensure_pending(item: ItemRecord) -> None:
        if item.state != "pending":
            raise ConflictError(f"{item.kind.replace('_', ' ')} {item.call_id!r} was already {item.state}")

    @staticmethod
    def _find_option(item: ItemRecord, field: str, name: str, body_field: str) -> Mapping[str, Any]:
        options: list[Mapping[str, Any]] = item.spec.get(field) or []
        for option in options:
            if option["name"] == name:
                return option
        known = ", ".join(repr(o["name"]) for o in options) or "none"
        raise ValidationFailedError(
            f"{body_field} {name!r} is not one of the request's {field} ({known})",
            [field_error(["body", body_field], f"unknown option; the request's {field}: {known}")],
        )

    def _check_may_decide(self, project_id: int, actor_user_id: int | None) -> None:
        """A person decides only in a project where they are an admin or a reviewer; a
        project-wide key without an owner was already checked for its scope."""
        if actor_user_id is not None:
            self.people.may_decide(actor_user_id, project_id)

    def _complete(self, item: ItemRecord, state: str, decision: NewDecision) -> ItemRecord:
        actor = None if decision.actor_user_id is None else self.people.store.get_user(decision.actor_user_id)
        event = {
            "verdict": decision.verdict,
            "comment": decision.comment,
            "option_name": decision.option_name,
            "response": decision.response,
            "spec_digest": decision.spec_digest,
            "user_id": decision.actor_user_id,
        }
        as_completed = dataclasses.replace(
            item,
            state=state,
            completed_at=decision.decided_at,
            decisions=(
                *item.decisions,
                DecisionRecord(
                    id=0,
                    verdict=decision.verdict,
                    comment=decision.comment,
                    option_name=decision.option_name,
                    response=decision.response,
                    actor_key_id=decision.actor_key_id,
                    channel=decision.channel,
                    decided_at=decision.decided_at,
                    spec_digest=decision.spec_digest,
                    actor_user_id=decision.actor_user_id,
                    actor_email=None if actor is None else actor.email,
                    actor_name=None if actor is None else actor.display_name,
                ),
            ),
        )
        outbox = self._outbox(f"{item.kind}.completed", as_completed, decision.decided_at)
        if not self.storage.complete_item(item.id, state, decision, event, outbox):
            # Someone else decided between our read and our write.
            raise ConflictError(f"{item.kind.replace('_', ' ')} {item.call_id!r} was already decided")
        logger.info(
            "%s %r %s via %s by key %s user %s",
            item.kind.replace("_", " "),
            item.call_id,
            state,
            decision.channel,
            decision.actor_key_id,
            decision.actor_user_id,
        )
        self.notifier.publish(self.topic(item))
        self.notifier.publish(run_topic(item.project_id, item.run_id))
        self.notifier.publish(project_topic(item.project_id))
        self._outbox_written()
        return self._get(item.project_id, item.kind, item.call_id)

    def _escalate(
        self,
        project_id: int,
        kind: str,
        call_id: str,
        escalation: Mapping[str, Any],
        channel: str,
        actor_key_id: int | None,
    ) -> ItemRecord:
        try:
            Escalation.model_validate(escalation)
        except ValidationError as exc:
            raise validation_failed(exc, prefix=["body"]) from None
        item = self._get(project_id, kind, call_id)
        self._ensure_pending(item)
        recorded = self.storage.add_event_if_pending(
            item.id,
            "escalated",
            dict(escalation),
            actor_key_id=actor_key_id,
            channel=channel,
            now=self._clock(),
        )
        if not recorded:
            raise ConflictError(f"{kind.replace('_', ' ')} {call_id!r} was already decided")
        # Delivery (email) does not exist yet: the escalation is recorded for the audit log only.
        logger.info(
            "%s %r escalated via %s by key %s", kind.replace("_", " "), call_id, channel, actor_key_id
        )
        return self._get(project_id, kind, call_id)

    def _pending(self, project_id: int, kind: str, limit: int, offset: int) -> PendingPage:
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidParameterError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        if not 0 <= offset <= MAX_OFFSET:
            raise InvalidParameterError(f"offset must be between 0 and {MAX_OFFSET}")
        found, total = self.storage.list_pending(project_id, kind, limit, offset)
        return PendingPage(found, total, limit, offset)


def open_service(settings: Settings) -> Service:
    """A Service on the configured database, migrated, for commands that do not run the server."""
    storage = Storage.from_url(settings.database_url, secret_key_file=settings.secret_key_file or None)
    try:
        storage.migrate()
    except Exception:
        storage.close()
        raise
    return Service(
        storage,
        notifier_for(storage),
        webhook_retry_max_seconds=settings.webhook_retry_max_seconds,
        settings=settings,
    )
