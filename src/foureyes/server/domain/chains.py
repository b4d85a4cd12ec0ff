"""Escalation chains: a project's steps, "after T without a decision, also notify these".

A step is ``{"after_seconds": n, "channels": [ContactChannel, ...]}``; a project's steps are
kept in order of their delay. ``EscalationChains.run_once(now)`` gives every pending request
whose age passed its next step's delay that step: ``items.escalation_steps_done`` is raised by
a conditional UPDATE (exactly one replica wins), and in the same transaction an
``ItemEscalated`` event (channel ``chain``) carries the step's channels, so the email sink sends
it through the outbox and webhooks get ``*.escalated``. A decided request gets no more steps.
Run by the server's deadline task (``server/expiry.py``) on every replica.

A request a policy escalated (``escalate:``, policy_steps.py) has its own steps instead, of the
same shape, kept on the item with ``items.next_escalation_at`` (when the next is due): the same
task fires them the same way, exactly once each by the same kind of conditional UPDATE, with
channel ``policy`` and the rule's name in the event. Such a request follows no project chain.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from foureyes.server.domain.deadlines import MAX_DEFAULT_SECONDS, duration_text
from foureyes.server.domain.errors import InvalidInputError
from foureyes.server.domain.events import Emitter, ItemEscalated
from foureyes.storage import Database, ItemRecord, ProjectRecord, Tx
from foureyes.storage import escalations as chain_rows
from foureyes.storage import events as event_rows
from foureyes.storage import keys as project_rows

logger = logging.getLogger(__name__)

CHANNEL = "chain"
# a rule's own steps (policies.CHANNEL, which imports this module)
POLICY_CHANNEL = "policy"
MAX_STEPS = 10
BATCH = 100


def check_step(after_seconds: int, channels: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One step as stored, or InvalidInputError saying why; ``channels`` are already checked
    (``projects.check_channels``)."""
    if not 1 <= after_seconds <= MAX_DEFAULT_SECONDS:
        raise InvalidInputError(
            f"an escalation step's delay must be between 1 second and {MAX_DEFAULT_SECONDS} seconds"
        )
    if not channels:
        raise InvalidInputError("an escalation step must name at least one channel")
    return {"after_seconds": after_seconds, "channels": [dict(c) for c in channels]}


def with_step(steps: Sequence[Mapping[str, Any]], step: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The chain with ``step`` added in the order of the delays."""
    if len(steps) >= MAX_STEPS:
        raise InvalidInputError(f"at most {MAX_STEPS} escalation steps")
    merged = [dict(s) for s in steps] + [dict(step)]
    return sorted(merged, key=lambda s: int(s["after_seconds"]))


@dataclass(frozen=True)
class FiredStep:
    number: int
    after_seconds: int
    at: datetime
    channels: list[dict[str, Any]]
    # the rule whose steps these are; None: the project's chain
    policy: str | None = None
    # False: one of a request's own steps not fired (yet); ``at`` is when it is due
    fired: bool = True

    @property
    def after(self) -> str:
        return duration_text(self.after_seconds)


def fired_steps(db: Database, item_id: int) -> list[FiredStep]:
    """The chain steps an item has had, in order: what its inbox page shows."""
    with db.read() as conn:
        found = event_rows.for_item(conn, item_id)
    return [
        FiredStep(
            int(e.data["step"]),
            int(e.data["after_seconds"]),
            e.created_at,
            list(e.data.get("channels") or []),
            e.data.get("policy"),
        )
        for e in found
        if e.type == ItemEscalated.type and "step" in e.data
    ]


def steps_of(db: Database, item: ItemRecord) -> list[FiredStep]:
    """What an item's inbox page shows: the steps it has had and, when a policy gave it its own,
    those still ahead."""
    fired = fired_steps(db, item.id)
    ahead = [
        FiredStep(
            number,
            int(step["after_seconds"]),
            item.requested_at + timedelta(seconds=int(step["after_seconds"])),
            list(step.get("channels") or []),
            step.get("policy"),
            fired=False,
        )
        for number, step in enumerate(item.escalation_steps, 1)
        if number > len(fired)
    ]
    return fired + ahead


def step_note(number: int, total: int, after_seconds: int, policy: str | None = None) -> str:
    by = "" if policy is None else f", policy {policy}"
    return f"no decision after {duration_text(after_seconds)} (escalation step {number} of {total}{by})"


def step_due(item: ItemRecord, steps: Sequence[Mapping[str, Any]], done: int) -> datetime | None:
    """When step ``done + 1`` of ``steps`` is due for ``item`` (None: there is none)."""
    if done >= len(steps):
        return None
    return item.requested_at + timedelta(seconds=int(steps[done]["after_seconds"]))


class EscalationChains:
    def __init__(self, db: Database, emitter: Emitter) -> None:
        self._db = db
        self._emitter = emitter

    def run_once(self, now: datetime) -> tuple[int, datetime | None]:
        """Fire every step due at ``now``: how many this call fired (others' wins are not
        counted), and when the next step still ahead is due (None: none known)."""
        with self._db.read() as conn:
            chained = project_rows.projects_with_escalations(conn)
        fired, nearest = self._run_own(now)
        for project in chained:
            count, at = self._run_project(project, now)
            fired += count
            if at is not None and (nearest is None or at < nearest):
                nearest = at
        return fired, nearest

    def _run_own(self, now: datetime) -> tuple[int, datetime | None]:
        """Fire the due steps of requests with their own (a policy's)."""
        fired = 0
        while True:
            with self._db.read() as conn:
                due = chain_rows.due_own_steps(conn, now, BATCH)
            count = sum(self._fire_own(item, now) for item in due)
            fired += count
            if len(due) < BATCH or not count:
                break
        with self._db.read() as conn:
            return fired, chain_rows.next_own_step(conn, now)

    def _fire_own(self, item: ItemRecord, now: datetime) -> int:
        """Fire the item's own next step and every later one also due; how many this call fired."""
        steps, done, fired = item.escalation_steps, item.escalation_steps_done, 0
        while (at := step_due(item, steps, done)) is not None and at <= now:
            with self._db.write() as tx:
                if not chain_rows.mark_own_fired(tx.conn, item.id, done, step_due(item, steps, done + 1)):
                    return fired  # decided meanwhile, or another replica fired it
                self._emit(tx, item, steps, done, now, str(steps[done].get("policy") or POLICY_CHANNEL))
            fired += 1
            done += 1
        return fired

    def _run_project(self, project: ProjectRecord, now: datetime) -> tuple[int, datetime | None]:
        steps = project.escalation_steps
        fired = 0
        # a request that waited past several delays gets them all, in order (``_fire``)
        for done, step in enumerate(steps):
            delay = timedelta(seconds=int(step["after_seconds"]))
            while True:
                with self._db.read() as conn:
                    due = chain_rows.due_for_step(conn, project.id, done, now - delay, BATCH)
                for item in due:
                    fired += self._fire(project, item, done, now)
                if len(due) < BATCH:
                    break
        return fired, self._next_due(project, now)

    def _fire(self, project: ProjectRecord, item: ItemRecord, done: int, now: datetime) -> int:
        """Fire step ``done + 1`` and every later step also due; how many this call fired."""
        steps = project.escalation_steps
        fired = 0
        while (at := step_due(item, steps, done)) is not None and at <= now:
            with self._db.write() as tx:
                if not chain_rows.mark_fired(tx.conn, item.id, done):
                    return fired  # decided meanwhile, or another replica fired it
                self._emit(tx, item, steps, done, now, None)
            fired += 1
            done += 1
        return fired

    def _emit(
        self,
        tx: Tx,
        item: ItemRecord,
        steps: Sequence[Mapping[str, Any]],
        done: int,
        now: datetime,
        policy: str | None,
    ) -> None:
        """The event of step ``done + 1``: a chain's (``policy`` None) or a rule's."""
        step, number = steps[done], done + 1
        escalation = {
            "escalation_msg": step_note(number, len(steps), int(step["after_seconds"]), policy),
            "step": number,
            "after_seconds": int(step["after_seconds"]),
            "channels": [dict(c) for c in step["channels"]],
        }
        if policy is not None:
            escalation["policy"] = policy
        self._emitter.emit(
            tx,
            ItemEscalated(
                record=item,
                escalation=escalation,
                project_id=item.project_id,
                at=now,
                channel=CHANNEL if policy is None else POLICY_CHANNEL,
            ),
        )
        logger.info("%s %r: escalation step %d fired", item.kind.replace("_", " "), item.call_id, number)

    def _next_due(self, project: ProjectRecord, now: datetime) -> datetime | None:
        nearest = None
        with self._db.read() as conn:
            for done, step in enumerate(project.escalation_steps):
                oldest = chain_rows.oldest_waiting(conn, project.id, done)
                if oldest is None:
                    continue
                at = oldest + timedelta(seconds=int(step["after_seconds"]))
                if at > now and (nearest is None or at < nearest):
                    nearest = at
        return nearest
