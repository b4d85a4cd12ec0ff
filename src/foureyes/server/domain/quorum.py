"""Quorum and separation of duties: when an approval completes an item.

A request may need several approvals (``required_approvals``, from the create body or a
policy). Each approval is a decision row; the item stays pending until that many distinct
people have approved, and then the last approval completes it as approved. One rejection
completes it as rejected at once (a veto). People are told apart by their address, so an
inbox session, a personal token and an email link of the same person are one approver. Nobody
approves a request created with their own key. A request may also need approvals from members
of named groups (``approvers.py``); its approvals are counted here the same way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from foureyes._approvers import MAX_REQUIRED_APPROVALS
from foureyes.server.domain.approvers import counts, tally
from foureyes.server.domain.errors import ConflictError, ForbiddenError, ValidationFailedError, field_error
from foureyes.server.domain.events import Emitter, ItemApproved, ItemDecided
from foureyes.storage import ItemRecord, NewDecision, Tx
from foureyes.storage import groups as group_rows
from foureyes.storage import items as item_rows

REQUIRED_APPROVALS = "required_approvals"


def requested_quorum(payload: Mapping[str, Any]) -> int | None:
    """The ``required_approvals`` a create body names, checked; None when it names none."""
    raw = payload.get(REQUIRED_APPROVALS)
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_REQUIRED_APPROVALS:
        raise ValidationFailedError(
            f"required_approvals must be an integer from 1 to {MAX_REQUIRED_APPROVALS}",
            [
                field_error(
                    ["body", REQUIRED_APPROVALS], f"must be an integer from 1 to {MAX_REQUIRED_APPROVALS}"
                )
            ],
        )
    return raw


def identity(address: str | None) -> str | None:
    return None if not address else address.strip().lower()


def check_not_creator(
    item: ItemRecord, actor_user_id: int | None, creator_address: str | None, actor_address: str | None
) -> None:
    """The person whose key created the request may not approve it (they may withdraw it by
    rejecting). ``creator_address``: the creator's address, to recognise them behind an email link."""
    if item.creator_user_id is None:
        return
    same_user = actor_user_id is not None and actor_user_id == item.creator_user_id
    same_address = identity(actor_address) is not None and identity(actor_address) == identity(
        creator_address
    )
    if same_user or same_address:
        raise ForbiddenError("you created this request: someone else must approve it (separation of duties)")


def record_approval(
    tx: Tx,
    emitter: Emitter,
    item: ItemRecord,
    decision: NewDecision,
    *,
    actor_email: str | None,
    actor_name: str | None,
    sign: Callable[[NewDecision], NewDecision],
) -> ItemRecord | None:
    """Record an approval of an item that needs several: the item, pending with one approval
    more or completed as approved by this one (``sign`` gives that last approval its receipt);
    None (nothing written) when it was no longer pending. ConflictError when this person
    already approved it."""
    # Held until our commit: two approvers at once cannot both be "the first of two".
    if not item_rows.lock_if_pending(tx.conn, item.id):
        return None
    current = dataclasses.replace(item, decisions=tuple(item_rows.decisions_of(tx.conn, item.id)))
    who = identity(actor_email)
    if who is None:
        raise ForbiddenError(
            f"this request needs approvals from {item.quorum} distinct people"
            + (" in its approver groups" if item.approver_groups else "")
            + ": approve it as a person "
            "(the inbox, a personal token or an email link), not with a project key"
        )
    if who in {identity(d.actor_email) for d in current.approvals()}:
        raise ConflictError(f"you already approved {item.call_id!r}; it needs another person's approval")
    if current.approver_groups:
        member_of = group_rows.groups_of(tx.conn, item.project_id, who, current.approver_groups)
        if not counts(current, member_of):
            needs = tally(current).still_needs()
            raise ForbiddenError(
                f"your approval would not count: {item.call_id!r} still needs {needs}, "
                "and you are in none of the groups still needed"
            )
        decision = dataclasses.replace(decision, approver_groups=member_of)
    if tally(current, decision.approver_groups).met:
        done = item_rows.complete(
            tx.conn, current, decision.verdict, sign(decision), actor_email=actor_email, actor_name=actor_name
        )
        if done is not None:
            emitter.emit(tx, decided_event(done, decision))
        return done
    pending = item_rows.add_approval(
        tx.conn, current, decision, actor_email=actor_email, actor_name=actor_name
    )
    emitter.emit(
        tx,
        ItemApproved(
            record=pending,
            project_id=item.project_id,
            at=decision.decided_at,
            actor_key_id=decision.actor_key_id,
            actor_user_id=decision.actor_user_id,
            channel=decision.channel,
        ),
    )
    return pending


def decided_event(done: ItemRecord, decision: NewDecision) -> ItemDecided:
    return ItemDecided(
        record=done,
        project_id=done.project_id,
        at=decision.decided_at,
        actor_key_id=decision.actor_key_id,
        actor_user_id=decision.actor_user_id,
        channel=decision.channel,
    )


def still_needed(item: ItemRecord) -> int:
    """How many more approvals a pending item needs."""
    return max(item.quorum - len(item.approvals()), 0)


def progress(item: ItemRecord) -> str | None:
    """'1 of 2 approvals (alice@example.com); 1 more needed from other people' for an item
    needing several; '...; still needs security' when it needs approvers of groups."""
    if not item.needs_several:
        return None
    approvals = item.approvals()
    who = ", ".join(d.actor_email or d.actor_name or "?" for d in approvals)
    text = f"{len(approvals)} of {item.quorum} approvals" + (f" ({who})" if who else "")
    needed = still_needed(item)
    if item.state == "pending" and item.approver_groups:
        text += f"; still needs {tally(item).still_needs()}"
    elif item.state == "pending" and needed:
        text += f"; {needed} more needed from other people"
    return text
