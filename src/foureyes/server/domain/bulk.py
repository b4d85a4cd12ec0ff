"""``BulkDecisions``: approving or rejecting many pending function calls of a project at once.

Every item is decided in ONE unit of work, and each exactly as a single decision would be: its
decision row, its ``ItemDecided`` event (so each waiter wakes and each webhook is queued). The
ones that are missing or already decided (before or while we write) are skipped and reported,
not an error: a reviewer's selection may be a little stale. A request that needs several
approvals counts this one and may stay pending (it is in ``decided`` with its new approvals).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from foureyes._protocol import ItemState
from foureyes.server.domain.decisions import Decisions
from foureyes.server.domain.errors import ConflictError, ForbiddenError, NotFoundError, ValidationFailedError
from foureyes.server.domain.items import FUNCTION_CALL, Items
from foureyes.storage import Database, ItemRecord, NewDecision, Tx

logger = logging.getLogger(__name__)

# One request decides at most this many items (a page of the inbox holds fewer).
MAX_BULK = 500


@dataclass(frozen=True)
class Skipped:
    call_id: str
    # "not found", or the state it already had: "approved", "rejected" ...
    reason: str


@dataclass(frozen=True)
class BulkOutcome:
    decided: tuple[ItemRecord, ...]
    skipped: tuple[Skipped, ...]


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
        """Approve (or reject, with one comment for all) the pending function calls named."""
        wanted = list(dict.fromkeys(call_ids))
        if not wanted:
            raise ValidationFailedError("select at least one request")
        if len(wanted) > MAX_BULK:
            raise ValidationFailedError(f"at most {MAX_BULK} requests can be decided at once")
        self._decisions.check_may_decide(project_id, actor_user_id)
        skipped: list[Skipped] = []
        todo: list[tuple[ItemRecord, NewDecision]] = []
        for call_id in wanted:
            try:
                item = self._items.get(project_id, FUNCTION_CALL, call_id)
            except NotFoundError:
                skipped.append(Skipped(call_id, "not found"))
                continue
            if item.state != ItemState.PENDING:
                skipped.append(Skipped(call_id, item.state))
                continue
            if item.step_up:
                # its assertion is bound to one decision: it cannot come with a batch
                skipped.append(Skipped(call_id, "needs step-up: decide it on its own page, with a passkey"))
                continue
            decision = self._decisions.verdict_on(
                item,
                approved=approved,
                comment=comment,
                reject_option_name=None,
                channel=channel,
                actor_key_id=actor_key_id,
                actor_user_id=actor_user_id,
            )
            todo.append((item, decision))
        actor = self._decisions.actor(actor_user_id)

        refused: list[Skipped] = []

        def decide_all(tx: Tx) -> list[tuple[ItemRecord, ItemRecord | None]]:
            refused.clear()
            done = []
            for item, d in todo:
                # Each as one decision would be: an approval of a request needing several may
                # leave it pending; one's own request, or a second approval by the same person,
                # is refused (before anything of it is written) and reported.
                try:
                    done.append((item, self._decisions.record(tx, item, d.verdict, d, actor)))
                except (ConflictError, ForbiddenError) as exc:
                    refused.append(Skipped(item.call_id, exc.message))
            return done

        done = self._db.write_grouped(decide_all) if todo else []
        skipped += refused
        decided = tuple(record for _, record in done if record is not None)
        # Decided by someone else between our read and our write.
        skipped += [Skipped(item.call_id, "decided meanwhile") for item, record in done if record is None]
        logger.info(
            "%d function calls %s in one go via %s by key %s user %s (%d skipped)",
            len(decided),
            ItemState.APPROVED if approved else ItemState.REJECTED,
            channel,
            actor_key_id,
            actor_user_id,
            len(skipped),
        )
        return BulkOutcome(decided, tuple(skipped))
