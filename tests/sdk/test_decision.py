"""``Decision`` built from completed items and from a timeout."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from foureyes import (
    Decision,
    DecisionOutcome,
    FunctionCall,
    FunctionCallSpec,
    FunctionCallStatus,
    HumanContact,
    HumanContactSpec,
    HumanContactStatus,
    RespondedBy,
)

WHEN = datetime(2026, 1, 1, tzinfo=UTC)


def call(**status: object) -> FunctionCall:
    return FunctionCall(
        run_id="r",
        call_id="c1",
        spec=FunctionCallSpec(fn="wire", kwargs={"amount": 5}),
        status=FunctionCallStatus.model_validate(status) if status else None,
    )


def test_approval() -> None:
    who = RespondedBy(email="ann@example.com", channel="inbox")
    decision = Decision.of_function_call(
        FunctionCall.Completed(call=call(approved=True, comment="fine", responded_at=WHEN, responded_by=who))
    )
    assert decision.outcome is DecisionOutcome.APPROVED
    assert (decision.approved, decision.rejected, decision.expired) == (True, False, False)
    assert (decision.call_id, decision.comment, decision.option) == ("c1", "fine", None)
    assert decision.responded_by == who
    assert decision.responded_at == WHEN
    assert decision.edited_kwargs is None


def test_rejection_keeps_comment_and_option() -> None:
    decision = Decision.of_function_call(call(approved=False, comment="too much", reject_option_name="limit"))
    assert decision.outcome is DecisionOutcome.REJECTED
    assert (decision.rejected, decision.approved) == (True, False)
    assert (decision.comment, decision.option) == ("too much", "limit")


def test_pending_items_have_no_decision() -> None:
    with pytest.raises(ValueError, match="no decision yet"):
        Decision.of_function_call(call())
    with pytest.raises(ValueError, match="no decision yet"):
        Decision.of_function_call(call(requested_at=WHEN))
    pending = HumanContact(run_id="r", call_id="h1", spec=HumanContactSpec(msg="?"))
    with pytest.raises(ValueError, match="no answer yet"):
        Decision.of_human_contact(pending)


def test_answer() -> None:
    contact = HumanContact(
        run_id="r",
        call_id="h1",
        spec=HumanContactSpec(msg="formal or casual?"),
        status=HumanContactStatus(response="casual", response_option_name="casual"),
    )
    decision = Decision.of_human_contact(HumanContact.Completed(contact=contact))
    assert decision.outcome is DecisionOutcome.ANSWERED
    assert decision.answered
    assert (decision.answer, decision.option, decision.call_id) == ("casual", "casual", "h1")
    assert not decision.approved


def test_timeout_is_its_own_outcome_never_an_approval() -> None:
    decision = Decision.timed_out("c1", "no human decided within 5 s")
    assert decision.outcome is DecisionOutcome.EXPIRED
    assert (decision.expired, decision.approved, decision.rejected) == (True, False, False)
    assert decision.detail == "no human decided within 5 s"
