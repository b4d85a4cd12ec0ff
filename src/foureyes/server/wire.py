"""Items as HumanLayer-compatible JSON: the ``status`` object is computed from the item and the
decision that completed it."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from foureyes._protocol import ItemKind, ItemState
from foureyes.server.domain.approvers import requirement_of, tally
from foureyes.server.renderable import renderable
from foureyes.storage import DecisionRecord, ItemRecord
from foureyes.storage.credentials import redact_channel_of

if TYPE_CHECKING:  # the service renders webhook bodies with render_item, so no runtime import back
    from foureyes.server.domain.bulk import BulkOutcome
    from foureyes.server.service import PendingPage


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _completing_decision(item: ItemRecord) -> DecisionRecord | None:
    if item.state == ItemState.PENDING or not item.decisions:
        return None
    return item.decisions[-1]


def render_item(item: ItemRecord) -> dict[str, Any]:
    decision = _completing_decision(item)
    status: dict[str, Any] = {
        "requested_at": _iso(item.requested_at),
        "responded_at": _iso(item.completed_at if decision else None),
    }
    if item.kind == ItemKind.FUNCTION_CALL:
        status |= {
            # Pending must be null, never false: the SDK reads false as a rejection.
            "approved": None if decision is None else decision.verdict == ItemState.APPROVED,
            "comment": None if decision is None else decision.comment,
            "reject_option_name": None if decision is None else decision.option_name,
            # the Slack message that shows the request, once the Slack channel posted it
            "slack_message_ts": item.slack_message_ts,
        }
    else:
        status |= {
            "response": None if decision is None else decision.response,
            "response_option_name": None if decision is None else decision.option_name,
        }
    expired = decision is not None and decision.verdict == ItemState.EXPIRED
    if expired and item.kind == ItemKind.HUMAN_CONTACT:
        # Non-null, so that every client stops waiting; expired_at tells it from an answer.
        status["response"] = decision.comment if decision else None
    # foureyes extensions beside the compatible fields; HumanLayer's SDK ignores them.
    status["responded_by"] = None if decision is None or expired else responded_by(decision)
    # Present only when they apply, so a request without a deadline renders as before.
    if item.expires_at is not None:
        status["expires_at"] = _iso(item.expires_at)
    if expired and decision is not None:
        status["expired_at"] = _iso(decision.decided_at)
    if item.allow_edit:
        status["allow_edit"] = True
    if decision is not None and decision.edited_kwargs is not None:
        # the arguments the reviewer approved instead of spec.kwargs (which stay as asked)
        status["edited_kwargs"] = decision.edited_kwargs
    if decision is not None and decision.receipt is not None:
        status["receipt"] = decision.receipt
    if item.needs_several:
        # Who approved so far; approved stays null until the last of them.
        status["required_approvals"] = item.quorum
        status["approvals"] = [_approval(item, d) for d in item.approvals()]
        requirement = requirement_of(item)
        if requirement is not None:
            status["required_approvers"] = requirement.as_json()
        if item.state == ItemState.PENDING:
            status["approvals_needed"] = _needed(item)
    if item.routes:
        status["routes"] = list(item.routes)
    # What storage holds from before the input limits may not render: that part becomes a placeholder.
    # Credentials are never stored in a spec; redacting again keeps one that got in anyway unseen.
    spec = renderable(redact_channel_of(item.spec))
    return {"run_id": item.run_id, "call_id": item.call_id, "spec": spec, "status": status}


def _approval(item: ItemRecord, decision: DecisionRecord) -> dict[str, Any]:
    shown = {**responded_by(decision), "at": _iso(decision.decided_at)}
    if item.approver_groups:
        # the requirement's groups the approver was in (one of them is the one they count for)
        shown["groups"] = list(decision.approver_groups)
    return shown


def _needed(item: ItemRecord) -> dict[str, Any]:
    """What a pending item still needs: ``approvals`` in all, ``from_groups`` of them from
    distinct ones of ``groups``; ``text`` says it as the inbox does ("security and 1 more ...")."""
    found = tally(item)
    return {
        "approvals": max(found.required - found.approvals, 0),
        "from_groups": found.groups_left,
        "groups": list(found.wanted),
        "text": found.still_needs(),
    }


def responded_by(decision: DecisionRecord) -> dict[str, Any]:
    if decision.policy is not None:
        # An automatic decision names its rule.
        return {"email": None, "name": f"policy:{decision.policy}", "channel": decision.channel}
    return {"email": decision.actor_email, "name": decision.actor_name, "channel": decision.channel}


def render_page(page: PendingPage) -> dict[str, Any]:
    return {
        "items": [render_item(item) for item in page.items],
        "total": page.total,
        "limit": page.limit,
        "offset": page.offset,
        "has_more": page.has_more,
    }


def bulk_results(outcome: BulkOutcome, asked: list[str]) -> list[dict[str, Any]]:
    """A bulk respond's answer: each verdict's result, in the order ``asked``."""
    found: dict[str, dict[str, Any]] = {
        item.call_id: {"call_id": item.call_id, "result": "decided", "function_call": render_item(item)}
        for item in outcome.decided
    }
    found |= {
        s.call_id: {"call_id": s.call_id, "result": "skipped", "reason": s.reason} for s in outcome.skipped
    }
    return [found[call_id] for call_id in asked]
