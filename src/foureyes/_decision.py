"""``Decision``: what a human decided about one item, in terms every adapter can translate.

The wire models keep HumanLayer's shape (``approved``/``comment`` on a function call,
``response`` on a human contact), which leaves some outcomes implicit: a wait that ran out is an
exception, not a status. A framework adapter needs all of them side by side, so that it can map
each to its framework's own word (approve / edit / reject with a message / respond) in one place:

- ``approved``: run the call, with ``edited_kwargs`` instead of the requested arguments when a
  reviewer edited them (``require_approval(editable=True)``, ``allow_edit``);
- ``rejected``: do not run it; ``comment`` says why, ``option`` names the reject option chosen;
- ``answered``: a human answered a question (human contact); ``answer`` holds the text;
- ``expired``: nobody decided in time (``detail`` says what ran out): the server completed the
  request at its deadline (``status.expired_at`` set), or the caller's own wait ran out
  (``timed_out``). Silence is not consent, so every adapter treats it as a refusal.

HumanLayer's refusal text ("User denied ... with message ...") belongs to the decorator and is
formatted there, not here.

This module imports only ``foureyes.models``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from foureyes.models import FunctionCall, HumanContact, RespondedBy


class DecisionOutcome(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    ANSWERED = "answered"
    EXPIRED = "expired"


@dataclass(frozen=True, kw_only=True)
class Decision:
    """The completed outcome of one function call or human contact (see the module docstring)."""

    outcome: DecisionOutcome
    call_id: str
    comment: str | None = None
    option: str | None = None
    answer: str | None = None
    edited_kwargs: dict[str, Any] | None = None
    detail: str | None = None
    responded_by: RespondedBy | None = None
    responded_at: datetime | None = None

    @property
    def approved(self) -> bool:
        return self.outcome is DecisionOutcome.APPROVED

    @property
    def rejected(self) -> bool:
        return self.outcome is DecisionOutcome.REJECTED

    @property
    def answered(self) -> bool:
        return self.outcome is DecisionOutcome.ANSWERED

    @property
    def expired(self) -> bool:
        return self.outcome is DecisionOutcome.EXPIRED

    @classmethod
    def of_function_call(cls, call: FunctionCall | FunctionCall.Completed) -> Decision:
        """The decision a completed function call carries; ValueError while it is pending."""
        if isinstance(call, FunctionCall.Completed):
            call = call.call
        status = call.status
        if status is None or status.approved is None:
            raise ValueError(f"function call {call.call_id!r} has no decision yet")
        if status.expired_at is not None:
            return cls._expired(call.call_id, status.comment, status.expired_at)
        return cls(
            outcome=DecisionOutcome.APPROVED if status.approved else DecisionOutcome.REJECTED,
            call_id=call.call_id,
            comment=status.comment,
            option=None if status.approved else status.reject_option_name,
            edited_kwargs=status.edited_kwargs if status.approved else None,
            responded_by=status.responded_by,
            responded_at=status.responded_at,
        )

    @classmethod
    def of_human_contact(cls, contact: HumanContact | HumanContact.Completed) -> Decision:
        """The answer a completed human contact carries; ValueError while it is pending."""
        if isinstance(contact, HumanContact.Completed):
            contact = contact.contact
        status = contact.status
        if status is None or status.response is None:
            raise ValueError(f"human contact {contact.call_id!r} has no answer yet")
        if status.expired_at is not None:
            return cls._expired(contact.call_id, status.response, status.expired_at)
        return cls(
            outcome=DecisionOutcome.ANSWERED,
            call_id=contact.call_id,
            answer=status.response,
            option=status.response_option_name,
            responded_by=status.responded_by,
            responded_at=status.responded_at,
        )

    @classmethod
    def _expired(cls, call_id: str, detail: str | None, at: datetime) -> Decision:
        # The server's verdict at the request's deadline: nobody decided, so nobody is named.
        return cls(
            outcome=DecisionOutcome.EXPIRED,
            call_id=call_id,
            detail=detail or "the request's deadline passed",
            responded_at=at,
        )

    @classmethod
    def timed_out(cls, call_id: str, detail: str) -> Decision:
        """Nobody decided in time: ``detail`` says what ran out (for logs and for the model)."""
        return cls(outcome=DecisionOutcome.EXPIRED, call_id=call_id, detail=detail)
