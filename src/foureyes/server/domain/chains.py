"""Escalation chains: a project's steps, "after T without a decision, also notify these".

A step is ``{"after_seconds": n, "channels": [ContactChannel, ...]}``; a project's steps are
kept in order of their delay. ``EscalationChains.run_once(now)`` gives every pending request
whose age passed its next step's delay that step: ``items.escalation_steps_done`` is raised by
a conditional UPDATE (exactly one replica wins), and in the same transaction an
``ItemEscalated`` event (channel ``chain``) carries the step's channels, so the email sink sends
it through the outbox and webhooks get ``*.escalated``. A decided request gets no more steps.
Run by the server's deadline task (``server/expiry.py``) on every replica.
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
from foureyes.storage import Database, ItemRecord, ProjectRecord
from foureyes.storage import escalations as chain_rows
from foureyes.storage import events as event_rows
from foureyes.storage import keys as project_rows

logger = logging.getLogger(__name__)

CHANNEL = "chain"
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
        )
        for e in found
        if e.type == ItemEscalated.type and "step" in e.data
    ]


def step_note(number: int, total: int, after_seconds: int) -> str:
    return f"no decision after {duration_text(after_seconds)} (escalation step {number} of {total})"


class EscalationChains:
    def __init__(self, db: Database, emitter: Emitter) -> None:
        self._db = db
        self._emitter = emitter

    def run_once(self, now: datetime) -> tuple[int, datetime | None]:
        """Fire every step due at ``now``: how many this call fired (others' wins are not
        counted), and when the next step still ahead is due (None: none known)."""
        with self._db.read() as conn:
            chained = project_rows.projects_with_escalations(conn)
        fired, nearest = 0, None
        for project in chained:
            count, at = self._run_project(project, now)
            fired += count
            if at is not None and (nearest is None or at < nearest):
                nearest = at
        return fired, nearest

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
        while (
            done < len(steps)
            and item.requested_at + timedelta(seconds=int(steps[done]["after_seconds"])) <= now
        ):
            step = steps[done]
            with self._db.write() as tx:
                if not chain_rows.mark_fired(tx.conn, item.id, done):
                    return fired  # decided meanwhile, or another replica fired it
                number = done + 1
                self._emitter.emit(
                    tx,
                    ItemEscalated(
                        record=item,
                        escalation={
                            "escalation_msg": step_note(number, len(steps), int(step["after_seconds"])),
                            "step": number,
                            "after_seconds": int(step["after_seconds"]),
                            "channels": [dict(c) for c in step["channels"]],
                        },
                        project_id=project.id,
                        at=now,
                        channel=CHANNEL,
                    ),
                )
            logger.info("%s %r: escalation step %d fired", item.kind.replace("_", " "), item.call_id, number)
            fired += 1
            done += 1
        return fired

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
