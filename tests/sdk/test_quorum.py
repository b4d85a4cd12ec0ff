"""Asking for several approvals and for approver groups (``approvals=``, ``approvers=``): checked
before anything is sent, sent only when asked, read back from the status; and the fake's quorum
(distinct approvers, ``by=``; a rejection vetoes; groups refused)."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

import foureyes
from foureyes import (
    AsyncHumanLayer,
    ConfigurationError,
    FunctionCallSpec,
    HumanLayer,
    InvalidRequestError,
    PermissionDeniedError,
    all_of,
    any_of,
    at_least,
)
from foureyes.testing import FakeFoureyes

SPEC = FunctionCallSpec(fn="pay", kwargs={"usd": 900})


def _created(fy: FakeFoureyes) -> dict[str, Any]:
    [create] = [r for r in fy.requests if r.method == "POST" and r.url.path.endswith("/function_calls")]
    body: dict[str, Any] = json.loads(create.content)
    return body


# ---------------------------------------------------------------- what is sent


def test_nothing_extra_is_sent_unless_asked() -> None:
    fy = FakeFoureyes()
    fy.client().create_function_call(SPEC, call_id="c1")
    body = _created(fy)
    assert not {"allow_edit", "required_approvals", "required_approvers"} & set(body)


@pytest.mark.parametrize(
    ("approvers", "wire"),
    [
        (all_of("finance", "security"), {"all_of": ["finance", "security"]}),
        (any_of("finance", "legal"), {"any_of": ["finance", "legal"]}),
        (at_least(2, "fin", "sec", "legal"), {"at_least": 2, "of": ["fin", "sec", "legal"]}),
        ({"all_of": ["finance", "security"]}, {"all_of": ["finance", "security"]}),
        ({"at_least": 1, "of": ["a", "b"]}, {"any_of": ["a", "b"]}),
    ],
)
def test_approvers_are_sent_in_the_wire_shape(approvers: Any, wire: dict[str, Any]) -> None:
    fy = FakeFoureyes()
    # The fake does not fake groups: it refuses them plainly, after the body was sent.
    with pytest.raises(InvalidRequestError, match="does not support required_approvers"):
        fy.client().create_function_call(SPEC, call_id="c1", approvals=3, approvers=approvers)
    body = _created(fy)
    assert body["required_approvers"] == wire
    assert body["required_approvals"] == 3
    assert fy.items == {}


@pytest.mark.parametrize("approvals", [0, 21, -1, True, 2.0, "2"])
def test_approvals_outside_1_to_20_are_refused_before_anything_is_sent(approvals: Any) -> None:
    fy = FakeFoureyes()
    hl = fy.client()
    with pytest.raises(ValueError, match="approvals must be an integer from 1 to 20"):
        hl.create_function_call(SPEC, approvals=approvals)
    with pytest.raises(ValueError, match="approvals must be an integer from 1 to 20"):
        hl.fetch_approval(SPEC, approvals=approvals)
    with pytest.raises(ValueError, match="approvals must be an integer from 1 to 20"):
        hl.require_approval(approvals=approvals)
    with pytest.raises(ValueError, match="approvals must be an integer from 1 to 20"):
        foureyes.require_approval(approvals=approvals)
    assert fy.requests == []


@pytest.mark.parametrize(
    ("approvers", "message"),
    [
        ({"all_of": []}, "from 1 to 20 groups"),
        ({"all_of": [f"g{i}" for i in range(21)]}, "from 1 to 20 groups"),
        ({"all_of": ["finance", "finance"]}, "name a group twice"),
        ({"any_of": "finance"}, "must be a list of group names"),
        ({"all_of": ["no spaces"]}, "invalid approver group name 'no spaces'"),
        ({"at_least": 3, "of": ["a", "b"]}, r"from 1 to the number of groups \(2\)"),
        ({"at_least": 0, "of": ["a", "b"]}, "at_least must be"),
        ({"one_of": ["a"]}, "approvers must be"),
        ({"all_of": ["a"], "any_of": ["b"]}, "approvers must be"),
    ],
)
def test_malformed_approvers_are_refused_before_anything_is_sent(approvers: Any, message: str) -> None:
    fy = FakeFoureyes()
    hl = fy.client()
    with pytest.raises(ValueError, match=message):
        hl.fetch_approval(SPEC, approvers=approvers)
    with pytest.raises(ValueError, match=message):
        hl.require_approval(approvers=approvers)
    assert fy.requests == []


def test_approvers_of_another_type_and_bad_helpers_are_refused() -> None:
    with pytest.raises(TypeError, match="approvers must be all_of"):
        FakeFoureyes().client().fetch_approval(SPEC, approvers=["finance"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="from 1 to 20 groups"):
        all_of()
    with pytest.raises(ValueError, match="at_least must be"):
        at_least(3, "a", "b")


def test_the_terminal_mode_refuses_a_quorum_rather_than_dropping_it() -> None:
    hl = HumanLayer()  # no API key: the local terminal
    with pytest.raises(ConfigurationError, match="approvals and approvers need a foureyes server"):
        hl.require_approval(approvals=2)
    with pytest.raises(ConfigurationError, match="approvals and approvers need a foureyes server"):
        hl.fetch_approval(SPEC, approvers=any_of("finance"))
    hl.require_approval(approvals=1)  # one approval is what the terminal gives


# ---------------------------------------------------------------- the fake's quorum


def test_a_quorum_stays_pending_until_that_many_distinct_people_approve() -> None:
    fy = FakeFoureyes()
    hl = fy.client()
    created = hl.create_function_call(SPEC, call_id="c1", approvals=2)
    assert created.status is not None
    assert created.status.required_approvals == 2
    assert created.status.approvals == []
    assert created.status.approvals_needed is not None
    assert created.status.approvals_needed.approvals == 2
    assert _created(fy)["required_approvals"] == 2

    first = fy.approve("c1", by="ana@example.com")
    assert first.status is not None
    assert first.status.approved is None
    assert [a.email for a in first.status.approvals or []] == ["ana@example.com"]
    assert first.status.approvals_needed is not None
    assert first.status.approvals_needed.approvals == 1
    assert first.status.approvals_needed.text == "1 more from other people"
    assert [c.call_id for c in fy.pending()] == ["c1"]

    with pytest.raises(ValueError, match="already approved"):
        fy.approve("c1", by="ANA@example.com")  # the same person, told apart by address
    with pytest.raises(ValueError, match="approve as a person"):
        fy.approve("c1")

    done = fy.approve("c1", "fine", by="ben@example.com")
    assert done.status is not None
    assert done.status.approved is True
    assert done.status.comment == "fine"
    assert done.status.responded_by is not None
    assert done.status.responded_by.email == "ben@example.com"
    assert [a.email for a in done.status.approvals or []] == ["ana@example.com", "ben@example.com"]
    assert done.status.approvals_needed is None
    assert fy.pending() == []
    with pytest.raises(ValueError, match="already decided"):
        fy.approve("c1", by="cy@example.com")


def test_one_rejection_vetoes_a_quorum() -> None:
    fy = FakeFoureyes()
    hl = fy.client()
    hl.create_function_call(SPEC, call_id="c1", approvals=3)
    fy.approve("c1", by="ana@example.com")
    vetoed = fy.reject("c1", "not this month", by="ben@example.com")
    assert vetoed.status is not None
    assert vetoed.status.approved is False
    assert vetoed.status.comment == "not this month"
    assert vetoed.status.responded_by is not None
    assert vetoed.status.responded_by.email == "ben@example.com"
    assert fy.pending() == []


def test_the_decorator_runs_only_once_the_quorum_is_met_and_its_receipt_checks_out() -> None:
    fy = FakeFoureyes()
    hl = fy.client()
    ran: list[int] = []
    answers: list[Any] = []

    @hl.require_approval(approvals=2)
    def pay(usd: int) -> str:
        ran.append(usd)
        return f"paid {usd}"

    thread = threading.Thread(target=lambda: answers.append(pay(900)))
    thread.start()
    call = fy.wait_for_pending()
    fy.approve(call.call_id, by="ana@example.com")
    assert ran == []
    assert fy.function_call(call.call_id).status.approved is None  # type: ignore[union-attr]
    fy.approve(call.call_id, by="ben@example.com")
    thread.join(timeout=10)
    assert ran == [900]
    assert answers == ["paid 900"]


def test_an_agents_own_key_cannot_count_towards_a_quorum_but_can_veto() -> None:
    fy = FakeFoureyes()
    hl = fy.client()
    hl.create_function_call(SPEC, call_id="c1", approvals=2)
    approval = foureyes.FunctionCallStatus(approved=True)
    with pytest.raises(PermissionDeniedError, match="approve as a person"):
        hl.respond_to_function_call("c1", approval)
    [result] = hl.respond_to_function_calls([foureyes.FunctionCallDecision(call_id="c1", approved=True)])
    assert result.result == "skipped"
    assert "approve as a person" in (result.reason or "")
    rejected = hl.respond_to_function_call("c1", foureyes.FunctionCallStatus(approved=False, comment="no"))
    assert rejected.status is not None
    assert rejected.status.approved is False


def test_a_rule_decides_a_quorum_outright() -> None:
    fy = FakeFoureyes()
    fy.auto_approve()
    completed = fy.client().fetch_approval(SPEC, approvals=2)
    assert completed.call.status is not None
    assert completed.call.status.approved is True


def test_the_module_level_api_asks_for_a_quorum_too() -> None:
    results: list[Any] = []
    with FakeFoureyes() as fy:
        thread = threading.Thread(target=lambda: results.append(foureyes.fetch_approval(SPEC, approvals=2)))
        thread.start()
        call = fy.wait_for_pending()
        assert call.status is not None
        assert call.status.required_approvals == 2
        fy.approve(call.call_id, by="ana@example.com")
        fy.approve(call.call_id, by="ben@example.com")
        thread.join(timeout=10)
    [completed] = results
    assert completed.call.status.approved is True


@pytest.mark.anyio
async def test_the_async_client_asks_for_a_quorum() -> None:
    import anyio

    fy = FakeFoureyes()
    results: list[Any] = []

    async def ask(hl: AsyncHumanLayer) -> None:
        results.append(await hl.fetch_approval(SPEC, approvals=2))

    async with fy.async_client() as hl, anyio.create_task_group() as tg:
        tg.start_soon(ask, hl)
        call = await anyio.to_thread.run_sync(fy.wait_for_pending)
        fy.approve(call.call_id, by="ana@example.com")
        await anyio.sleep(0.05)
        assert results == []
        fy.approve(call.call_id, by="ben@example.com")
    [completed] = results
    assert completed.call.status.approved is True
    assert [a.email for a in completed.call.status.approvals] == ["ana@example.com", "ben@example.com"]
    with pytest.raises(ValueError, match="approvals must be"):
        await AsyncHumanLayer(api_key="k").fetch_approval(SPEC, approvals=0)


def test_edits_come_with_the_approval_that_completes_a_quorum() -> None:
    fy = FakeFoureyes()
    hl = fy.client()
    hl.create_function_call(SPEC, call_id="c1", approvals=2, allow_edit=True)
    with pytest.raises(ValueError, match="only with the approval that completes"):
        fy.approve("c1", by="ana@example.com", edited_kwargs={"usd": 90})
    fy.approve("c1", by="ana@example.com")
    done = fy.approve("c1", by="ben@example.com", edited_kwargs={"usd": 90})
    assert done.status is not None
    assert done.status.edited_kwargs == {"usd": 90}
