"""`foureyes.testing.FakeFoureyes`'s quorum: a request that needs several distinct approvals.

As on a server (docs/protocol.md, "Quorum and separation of duties"): ``required_approvals``
from 1 to 20; while pending the status carries ``required_approvals``, ``approvals`` and
``approvals_needed``, and ``approved`` stays null until the last approval; people are told
apart by address (case-insensitive), the same person twice is refused, an approval by nobody
(a project key) is refused, and one rejection completes the request (a veto). Approver groups
(``required_approvers``) are not faked: such a create is refused rather than its groups ignored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from foureyes._approvers import MAX_REQUIRED_APPROVALS


class ForbiddenError(ValueError):
    """Refused as a server refuses it with 403."""


class ConflictError(ValueError):
    """Refused as a server refuses it with 409."""


def unsupported(body: dict[str, Any]) -> str | None:
    """Why the fake refuses this create body's quorum extensions, or None."""
    if body.get("required_approvers") is not None:
        return (
            "FakeFoureyes does not support required_approvers (approver groups): test them "
            "against a foureyes server"
        )
    raw = body.get("required_approvals")
    if raw is not None and (
        isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_REQUIRED_APPROVALS
    ):
        return f"required_approvals must be an integer from 1 to {MAX_REQUIRED_APPROVALS}"
    return None


def pending_status(body: dict[str, Any]) -> dict[str, Any]:
    """The status keys a new request carries: none unless it needs more than one approval."""
    required = body.get("required_approvals") or 1
    if required <= 1:
        return {}
    return {"required_approvals": required, "approvals": [], "approvals_needed": _needed(required, 0)}


def counts_approvals(item: dict[str, Any]) -> bool:
    return (item["status"].get("required_approvals") or 1) > 1


def add_approval(item: dict[str, Any], by: dict[str, Any], edited: Any, now: datetime) -> bool:
    """Record one approval of a request that needs several; whether it is the last one needed
    (then the caller completes the request as approved)."""
    status = item["status"]
    email = by.get("email")
    if not email:
        raise ForbiddenError(
            f"{item['call_id']!r} needs approvals from {status['required_approvals']} distinct people: "
            "approve as a person (FakeFoureyes.approve(call_id, by='ana@example.com')), not with "
            "a project key"
        )
    who = email.strip().lower()
    if who in {a["email"].strip().lower() for a in status["approvals"]}:
        raise ConflictError(
            f"{email} already approved {item['call_id']!r}; it needs another person's approval"
        )
    required = status["required_approvals"]
    last: bool = len(status["approvals"]) + 1 == int(required)
    if edited is not None and not last:
        raise ValueError("FakeFoureyes takes edited arguments only with the approval that completes a quorum")
    status["approvals"].append({**by, "at": now.isoformat()})
    if not last:
        status["approvals_needed"] = _needed(required, len(status["approvals"]))
    return last


def _needed(required: int, approvals: int) -> dict[str, Any]:
    left = required - approvals
    return {"approvals": left, "from_groups": 0, "groups": [], "text": f"{left} more from other people"}
