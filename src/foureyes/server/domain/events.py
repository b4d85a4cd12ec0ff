"""Domain events and ``Emitter``, the one writer of change records.

An event says what happened, with the record as it was written. ``Emitter.emit(tx, event)``
appends it to the change log (``events``, with its project and actor), hands it to the audit
log's recorder (``server/audit``: appended at the end of the same transaction), lets every
registered sink fan it out into outbox rows in the same transaction, and queues the push topics
that wake waiters for after the commit. Nothing else writes events, outbox rows or topics.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol, runtime_checkable

from foureyes.server.push.topics import Topic, item_topic, project_topic, run_topic
from foureyes.storage import DecisionRecord, ItemRecord, Tx
from foureyes.storage import events as event_log

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Event:
    """Something that changed, in one project (None for a change that has no project)."""

    type: ClassVar[str]
    project_id: int | None
    at: datetime
    actor_key_id: int | None = None
    actor_user_id: int | None = None
    channel: str | None = None

    @property
    def item(self) -> ItemRecord | None:
        return None

    def data(self) -> dict[str, Any]:
        return {}

    def audit_data(self) -> dict[str, Any]:
        """What the audit log keeps of this change (``data`` unless an event says more)."""
        return self.data()

    def topics(self) -> list[Topic]:
        """The push topics whose waiters must look again once this is committed."""
        return []

    def completed_item(self) -> ItemRecord | None:
        """The item this change completed, as committed: handed to this process's waiters with
        the wake-up, so they need not read it back (a completed item changes no more)."""
        return None


@dataclass(frozen=True, kw_only=True)
class _ItemEvent(Event):
    record: ItemRecord

    @property
    def item(self) -> ItemRecord:
        return self.record


@dataclass(frozen=True, kw_only=True)
class ItemCreated(_ItemEvent):
    """``routed_to``: the channels besides the agent's own it goes to (a policy's route, else the
    project's default channels for a request that names no channel). ``settled``: a policy
    decides it in this same transaction, so no one is asked to (an ``ItemDecided`` follows)."""

    type: ClassVar[str] = "created"
    routed_to: tuple[Mapping[str, Any], ...] = ()
    settled: bool = False

    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"run_id": self.record.run_id, "request_digest": self.record.request_digest}
        if self.routed_to:
            data["routed_to"] = [dict(channel) for channel in self.routed_to]
        if self.settled:
            data["settled"] = True
        return data

    def audit_data(self) -> dict[str, Any]:
        item = self.record
        expires = None if item.expires_at is None else item.expires_at.isoformat()
        return {**self.data(), "spec_digest": item.spec_digest, "expires_at": expires}

    def topics(self) -> list[Topic]:
        return [run_topic(self.record.project_id, self.record.run_id), project_topic(self.record.project_id)]


@dataclass(frozen=True, kw_only=True)
class ItemDecided(_ItemEvent):
    """The item completed: its last decision is the one that completed it."""

    type: ClassVar[str] = "decided"

    def completed_item(self) -> ItemRecord:
        return self.record

    def data(self) -> dict[str, Any]:
        decision = self.record.decisions[-1]
        return {
            "verdict": decision.verdict,
            "comment": decision.comment,
            "option_name": decision.option_name,
            "response": decision.response,
            "spec_digest": decision.spec_digest,
            "user_id": decision.actor_user_id,
        } | ({} if decision.policy is None else {"policy": decision.policy})

    def audit_data(self) -> dict[str, Any]:
        return {"state": self.record.state, "decision": decision_fields(self.record.decisions[-1])}

    def topics(self) -> list[Topic]:
        item = self.record
        return [
            item_topic(item.project_id, item.kind, item.call_id),
            run_topic(item.project_id, item.run_id),
            project_topic(item.project_id),
        ]


@dataclass(frozen=True, kw_only=True)
class ItemApproved(_ItemEvent):
    """One approval of an item that needs several: it is still pending, its last decision is
    this approval."""

    type: ClassVar[str] = "approval"

    def data(self) -> dict[str, Any]:
        decision = self.record.decisions[-1]
        return {
            "user_id": decision.actor_user_id,
            "approvals": len(self.record.approvals()),
            "required": self.record.quorum,
            "spec_digest": decision.spec_digest,
        }

    def audit_data(self) -> dict[str, Any]:
        return {"state": self.record.state, "decision": decision_fields(self.record.decisions[-1])}

    def topics(self) -> list[Topic]:
        item = self.record
        return [item_topic(item.project_id, item.kind, item.call_id), project_topic(item.project_id)]


@dataclass(frozen=True, kw_only=True)
class PolicyMatched(_ItemEvent):
    """A rule matched a new item: what it did (require, route), or, for a shadow rule, what it
    would have done. An approve or reject is an ``ItemDecided`` of its own."""

    type: ClassVar[str] = "policy"
    policy: str
    action: str
    shadow: bool

    def data(self) -> dict[str, Any]:
        return {"policy": self.policy, "action": self.action, "shadow": self.shadow}


@dataclass(frozen=True, kw_only=True)
class ItemEscalated(_ItemEvent):
    type: ClassVar[str] = "escalated"
    escalation: Mapping[str, Any]

    def data(self) -> dict[str, Any]:
        return dict(self.escalation)


@dataclass(frozen=True, kw_only=True)
class DeliveryFailed(_ItemEvent):
    """A message to a person about this item could not be delivered (the channel is not
    configured, the address was refused, or the retries ran out)."""

    type: ClassVar[str] = "delivery_failed"
    sink: str
    target: str
    delivery_id: int
    error: str

    def data(self) -> dict[str, Any]:
        return {
            "sink": self.sink,
            "target": self.target,
            "delivery_id": self.delivery_id,
            "error": self.error,
        }

    def topics(self) -> list[Topic]:
        # the inbox's pending list and item page show the flag
        return [project_topic(self.record.project_id)]


@dataclass(frozen=True, kw_only=True)
class SettingsChanged(Event):
    """An administrative change: a key, a person's role, a webhook endpoint. ``what`` is the
    event type (``key_created``, ``endpoint_disabled`` ...), ``details`` what identifies it."""

    type: ClassVar[str] = "settings"
    what: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def data(self) -> dict[str, Any]:
        return dict(self.details)


def decision_fields(decision: DecisionRecord) -> dict[str, Any]:
    """A decision as its row holds it: what the audit log keeps and ``audit verify`` compares
    with the row. Every event that records a decision carries this under ``decision``."""
    return {
        "id": decision.id,
        "verdict": decision.verdict,
        "comment": decision.comment,
        "option_name": decision.option_name,
        "response": decision.response,
        "actor_key_id": decision.actor_key_id,
        "actor_user_id": decision.actor_user_id,
        "actor_address": decision.actor_email if decision.actor_user_id is None else None,
        "channel": decision.channel,
        "decided_at": decision.decided_at.isoformat(),
        "spec_digest": decision.spec_digest,
        "policy": decision.policy,
        "edited_kwargs": decision.edited_kwargs,
        "receipt": decision.receipt,
        # stored space-separated; entries from before 0021 have none, as their rows
        "approver_groups": " ".join(decision.approver_groups) or None,
    }


class FanOut(Protocol):
    """The half of a sink the domain sees: turning an event into outbox rows."""

    def fan_out(self, tx: Tx, event: Event) -> int:
        """Queue this sink's deliveries of ``event`` in ``tx``; how many were queued."""
        ...


@runtime_checkable
class BatchFanOut(FanOut, Protocol):
    """A sink that reads what it needs for many events at once (a bulk decision's)."""

    def fan_out_many(self, tx: Tx, events: Sequence[Event]) -> int:
        """``fan_out`` of each event, in order; how many deliveries were queued in all."""
        ...


class Recorder(Protocol):
    """The audit log, as the domain sees it: every event is recorded in its transaction."""

    def record(self, tx: Tx, event: Event) -> None: ...

    def record_many(self, tx: Tx, events: Sequence[Event]) -> None:
        """``record`` each, in order (their indexes taken at once)."""
        ...


def _log_row(event: Event) -> dict[str, Any]:
    """The event as the change log's ``append`` takes it."""
    item = event.item
    return {
        "type": event.what if isinstance(event, SettingsChanged) else event.type,
        "data": event.data(),
        "project_id": event.project_id,
        "item_id": None if item is None else item.id,
        "actor_key_id": event.actor_key_id,
        "actor_user_id": event.actor_user_id,
        "channel": event.channel,
        "at": event.at,
    }


class Emitter:
    def __init__(
        self,
        publish: Callable[[Topic, ItemRecord | None], None],
        sinks: Sequence[FanOut] = (),
        *,
        on_queued: Callable[[], None] | None = None,
        audit: Recorder | None = None,
    ) -> None:
        self._publish = publish
        self.sinks = list(sinks)
        # Appends every event to the tamper-evident log, in the event's transaction.
        self.audit = audit
        # Wakes the outbox worker after a commit that queued deliveries. Set by the app.
        self.on_queued = on_queued
        # Told of every event once it is committed (the metrics count decisions this way).
        self.observers: list[Callable[[Event], None]] = []

    def emit(self, tx: Tx, event: Event) -> None:
        event_log.append(tx.conn, **_log_row(event))
        if self.audit is not None:
            self.audit.record(tx, event)
        queued = sum(sink.fan_out(tx, event) for sink in self.sinks)
        completed = event.completed_item()
        for topic in event.topics():
            tx.after_commit(functools.partial(self._publish, topic, completed))
        if queued:
            tx.after_commit(self.wake_outbox)
        for observer in self.observers:
            tx.after_commit(functools.partial(observer, event))

    def emit_many(self, tx: Tx, events: Sequence[Event]) -> None:
        """``emit`` each event, in order, with what is the same for all done once: the change
        log's rows in one statement, the audit entries in one append, each sink's reads for the
        whole batch, and one after-commit hook that publishes every topic."""
        if not events:
            return
        event_log.append_many(tx.conn, [_log_row(event) for event in events])
        if self.audit is not None:
            self.audit.record_many(tx, events)
        queued = 0
        for sink in self.sinks:
            if isinstance(sink, BatchFanOut):
                queued += sink.fan_out_many(tx, events)
            else:
                queued += sum(sink.fan_out(tx, event) for event in events)
        wakes = [(topic, event.completed_item()) for event in events for topic in event.topics()]
        tx.after_commit(functools.partial(self._publish_all, wakes, list(events)))
        if queued:
            tx.after_commit(self.wake_outbox)

    def _publish_all(self, wakes: list[tuple[Topic, ItemRecord | None]], events: list[Event]) -> None:
        for topic, completed in wakes:
            try:
                self._publish(topic, completed)
            except Exception:  # as each of emit's hooks: one failed wake-up stops no other
                logger.exception("publishing %s failed", topic)
        for event in events:
            for observer in self.observers:
                try:
                    observer(event)
                except Exception:
                    logger.exception("an observer of %s failed", event.type)

    def wake_outbox(self) -> None:
        """Tell the outbox worker there is work, rather than letting it wait for its next poll."""
        if self.on_queued is not None:
            self.on_queued()
