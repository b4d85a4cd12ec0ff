"""``BulkDecisions``: approving or rejecting many pending function calls of a project at once.

Every item is decided in ONE unit of work, and each exactly as a single decision would be: its
decision row, its ``ItemDecided`` event (so each waiter wakes and each webhook is queued). The
ones that are missing or already decided (before or while we write) are skipped and reported,
not an error: a reviewer's selection may be a little stale. A request that needs several
approvals counts this one and may stay pending (it is in ``decided`` with its new approvals).
So are the ones whose verdict does not hold (a rejection without a comment, an unknown reject
option, edited arguments where the request allows none), with the reason a single decision
would have been refused with. The whole batch is read in one query before the write.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from foureyes._protocol import ItemState
from foureyes.models import MAX_BULK_DECISIONS
from foureyes.server.domain.decisions import Decisions, rejection_without_comment
from foureyes.server.domain.errors import ConflictError, ForbiddenError, ValidationFailedError, field_error
from foureyes.server.domain.items import FUNCTION_CALL, Items
from foureyes.storage import Database, ItemRecord, NewDecision, Tx

logger = logging.getLogger(__name__)

# One request decides at most this many items (a page of the inbox holds fewer).
MAX_BULK = MAX_BULK_DECISIONS


@dataclass(frozen=True)
class Verdict:
    """What to decide about one function call: as the body of a single ``respond``."""

    call_id: str
    approved: bool
    comment: str | None = None
    reject_option_name: str | None = None
    edited_kwargs: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Skipped:
    call_id: str
    # "not found", the state it already had ("approved", "rejected" ...), or why the verdict
    # was refused
    reason: str


@dataclass(frozen=True)
class BulkOutcome:
    decided: tuple[ItemRecord, ...]
    skipped: tuple[Skipped, ...]


def check_batch(call_ids: Sequence[str]) -> None:
    """At least one and at most ``MAX_BULK`` call ids, each named once."""
    if not call_ids:
        raise ValidationFailedError(
            "select at least one request",
            [field_error(["body", "decisions"], "at least one item", "too_short")],
        )
    if len(call_ids) > MAX_BULK:
        raise ValidationFailedError(
            f"at most {MAX_BULK} requests can be decided at once, not {len(call_ids)}: send them in batches",
            [field_error(["body", "decisions"], f"at most {MAX_BULK} items", "too_long")],
        )
    if len(set(call_ids)) != len(call_ids):
        repeated = sorted({c for c in call_ids if call_ids.count(c) > 1})
        raise ValidationFailedError(
            f"each call id may be decided once per request; repeated: {', '.join(map(repr, repeated))}",
            [field_error(["body", "decisions"], "a call id is named more than once")],
        )


class BulkDecisions:
    def __init__(self, db: Database, items: Items, decisions: Decisions) -> None:
        self._db = db
        self._items = items
        self._decisions = decisions

    def decide_function_calls(
        self,
        project_id: int,
        call_ids: Sequence[str],
        *,
        approved: bool,
        comment: str | None = None,
        channel: str,
        actor_key_id: int | None,
        actor_user_id: int | None = None,
    ) -> BulkOutcome:
        """Approve (or reject, with one comment for all) the pending function calls named. A
        rejection without its comment is refused as a whole (it would be refused for each)."""
        if not approved and (comment is None or not comment.strip()):
            raise rejection_without_comment()
        verdicts = [Verdict(c, approved, comment) for c in dict.fromkeys(call_ids)]
        return self.decide_each(
            project_id, verdicts, channel=channel, actor_key_id=actor_key_id, actor_user_id=actor_user_id
        )

    def decide_each(
        self,
        project_id: int,
        verdicts: Sequence[Verdict],
        *,
        channel: str,
        actor_key_id: int | None,
        actor_user_id: int | None = None,
    ) -> BulkOutcome:
        """Decide each function call as its verdict says, all in one transaction."""
        check_batch([v.call_id for v in verdicts])
        self._decisions.check_may_decide(project_id, actor_user_id)
        found = self._items.get_many(project_id, FUNCTION_CALL, [v.call_id for v in verdicts])
        skipped: list[Skipped] = []
        todo: list[tuple[ItemRecord, NewDecision]] = []
        for verdict in verdicts:
            item = found.get(verdict.call_id)
            if item is None:
                skipped.append(Skipped(verdict.call_id, "not found"))
                continue
            if item.state != ItemState.PENDING:
                skipped.append(Skipped(verdict.call_id, item.state))
                continue
            if item.step_up:
                # its assertion is bound to one decision: it cannot come with a batch
                skipped.append(
                    Skipped(verdict.call_id, "needs step-up: decide it on its own page, with a passkey")
                )
                continue
            try:
                decision = self._decisions.verdict_on(
                    item,
                    approved=verdict.approved,
                    comment=verdict.comment,
                    reject_option_name=verdict.reject_option_name,
                    channel=channel,
                    actor_key_id=actor_key_id,
                    actor_user_id=actor_user_id,
                    edited_kwargs=verdict.edited_kwargs,
                )
            except ValidationFailedError as exc:
                skipped.append(Skipped(verdict.call_id, exc.message))
                continue
            todo.append((item, decision))
        actor = self._decisions.actor(actor_user_id)

        refused: list[Skipped] = []

        def decide_all(tx: Tx) -> list[tuple[ItemRecord, ItemRecord | None]]:
            refused.clear()
            done = []
            alone: list[tuple[ItemRecord, NewDecision]] = []
            for item, d in todo:
                # Each as one decision would be: an approval of a request needing several may
                # leave it pending; one's own request, or a second approval by the same person,
                # is refused (before anything of it is written) and reported.
                try:
                    if d.verdict == ItemState.APPROVED and item.needs_several:
                        done.append((item, self._decisions.record(tx, item, d.verdict, d, actor)))
                        continue
                    if d.verdict == ItemState.APPROVED:
                        self._decisions.check_approver(item, d, None if actor is None else actor.email)
                    alone.append((item, d))
                except (ConflictError, ForbiddenError) as exc:
                    refused.append(Skipped(item.call_id, exc.message))
            # The ones each decision completes by itself, written together.
            recorded = self._decisions.record_many(tx, alone, actor)
            return done + [(item, record) for (item, _), record in zip(alone, recorded, strict=True)]

        done = self._db.write_grouped(decide_all) if todo else []
        skipped += refused
        decided = tuple(record for _, record in done if record is not None)
        # Decided by someone else between our read and our write.
        skipped += [Skipped(item.call_id, "decided meanwhile") for item, record in done if record is None]
        logger.info(
            "%d function calls decided in one go via %s by key %s user %s (%d skipped)",
            len(decided),
            channel,
            actor_key_id,
            actor_user_id,
            len(skipped),
        )
        return BulkOutcome(decided, tuple(skipped))
