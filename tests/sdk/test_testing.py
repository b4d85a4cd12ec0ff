"""foureyes.testing: the fake server users test their agents with, through the real clients."""

from __future__ import annotations

import asyncio
import inspect
import re
import threading
from pathlib import Path

import httpx
import pytest

import foureyes
from foureyes import (
    AuthenticationError,
    ConflictError,
    FunctionCallDecision,
    FunctionCallSpec,
    FunctionCallStatus,
    HumanContactSpec,
    InvalidRequestError,
    ResponseOption,
)
from foureyes.testing import CLIENT_TIMEOUT, FakeFoureyes

OPTIONS = [ResponseOption(name="later", title="Not now", prompt_fill="try again tomorrow")]


def test_rules_decide_as_soon_as_the_agent_asks() -> None:
    fy = FakeFoureyes()
    fy.auto_reject("too large", fn="refund")
    fy.auto_approve()
    ran: list[str] = []
    hl = fy.client()

    @hl.require_approval
    def refund(usd: int) -> str:
        ran.append("refund")
        return "refunded"

    @hl.require_approval
    def lookup(order: str) -> str:
        ran.append("lookup")
        return "found"

    assert refund(40) == "User denied refund with message: too large"
    assert lookup("o-1") == "found"
    assert ran == ["lookup"]
    assert fy.pending() == []
    [refused] = [call for (_, _), call in fy.items.items() if call["spec"]["fn"] == "refund"]
    assert refused["spec"]["kwargs"] == {"usd": 40}
    assert refused["status"]["responded_by"]["channel"] == "testing"


def test_a_waiting_sync_agent_goes_on_when_the_test_decides() -> None:
    fy = FakeFoureyes()
    hl = fy.client()
    result: list[foureyes.FunctionCall.Completed] = []
    agent = threading.Thread(
        target=lambda: result.append(hl.fetch_approval(FunctionCallSpec(fn="deploy", kwargs={"env": "prod"})))
    )
    agent.start()
    call = fy.wait_for_pending()
    assert call.spec.fn == "deploy"
    assert call.status is not None
    assert call.status.approved is None
    fy.approve(call.call_id, "go ahead")
    agent.join(timeout=30)
    assert not agent.is_alive()
    [completed] = result
    assert completed.as_completed().comment == "go ahead"
    # one long-poll, held until the decision and woken by it
    assert len([r for r in fy.requests if r.method == "GET" and "wait" in r.url.params]) == 1


@pytest.mark.anyio
async def test_a_waiting_async_agent_goes_on_when_the_test_rejects_with_an_option() -> None:
    fy = FakeFoureyes()
    ahl = fy.async_client()
    spec = FunctionCallSpec(fn="deploy", kwargs={}, reject_options=OPTIONS)
    asked = asyncio.ensure_future(ahl.fetch_approval(spec))
    call = await asyncio.to_thread(fy.wait_for_pending)
    assert not asked.done()  # held by the long-poll, which did not block the loop
    rejected = fy.reject(call.call_id, option="later")
    assert rejected.status is not None
    assert rejected.status.comment == "try again tomorrow"
    status = (await asked).call.status
    assert status is not None
    assert (status.approved, status.reject_option_name) == (False, "later")


@pytest.mark.anyio
async def test_questions_are_answered_with_text_or_an_option() -> None:
    fy = FakeFoureyes()
    fy.auto_answer(option="later")
    ahl = fy.async_client()
    tool = ahl.human_as_tool(response_options=OPTIONS)
    assert await tool("Deploy now?") == "try again tomorrow"
    fy.clear_rules()
    hl = fy.client()
    created = hl.create_human_contact(HumanContactSpec(msg="Which region?"), call_id="q-1")
    assert [c.call_id for c in fy.pending_contacts()] == ["q-1"]
    assert created.status is not None
    fy.answer("q-1", "eu-west")
    assert hl.get_human_contact("q-1").status.response == "eu-west"  # type: ignore[union-attr]
    assert fy.pending_contacts() == []


def test_the_servers_rules_hold() -> None:
    fy = FakeFoureyes()
    hl = fy.client()
    hl.create_function_call(FunctionCallSpec(fn="f", kwargs={"a": 1}), call_id="c-1")
    # the same call id for another request
    with pytest.raises(ConflictError):
        hl.create_function_call(FunctionCallSpec(fn="f", kwargs={"a": 2}), call_id="c-1")
    # a rejection has a comment
    with pytest.raises(InvalidRequestError):
        hl.respond_to_function_call("c-1", FunctionCallStatus(approved=False))
    with pytest.raises(ValueError, match="comment"):
        fy.reject("c-1")
    with pytest.raises(ValueError, match="comment"):
        fy.auto_reject()
    with pytest.raises(ValueError, match="response"):
        fy.auto_answer()
    # decisions are final, through the API and through the helpers
    hl.respond_to_function_call("c-1", FunctionCallStatus(approved=True))
    assert fy.function_call("c-1").status.responded_by.channel == "api"  # type: ignore[union-attr]
    with pytest.raises(ConflictError):
        hl.respond_to_function_call("c-1", FunctionCallStatus(approved=False, comment="no"))
    with pytest.raises(ValueError, match="final"):
        fy.reject("c-1", "no")
    with pytest.raises(AuthenticationError):
        fy.client(api_key="someone-else").get_function_call("c-1")


def test_bulk_respond_decides_each_verdict_or_says_why_not() -> None:
    fy = FakeFoureyes()
    hl = fy.client()
    for n in range(3):
        hl.create_function_call(FunctionCallSpec(fn="f", kwargs={"n": n}), call_id=f"c-{n}")
    fy.approve("c-0")
    results = hl.respond_to_function_calls(
        [
            FunctionCallDecision(call_id="c-0", approved=False, comment="late"),
            FunctionCallDecision(call_id="c-1", approved=True),
            FunctionCallDecision(call_id="c-2", approved=False),  # no comment: refused
            FunctionCallDecision(call_id="nope", approved=True),
        ]
    )
    assert [(r.call_id, r.result, r.reason) for r in results] == [
        ("c-0", "skipped", "approved"),
        ("c-1", "decided", None),
        ("c-2", "skipped", "a rejection needs a comment or a reject option"),
        ("nope", "skipped", "not found"),
    ]
    assert results[1].function_call is not None
    assert results[1].function_call.status.approved is True  # type: ignore[union-attr]
    assert fy.function_call("c-1").status.responded_by.channel == "api"  # type: ignore[union-attr]
    assert fy.function_call("c-2").status.approved is None  # type: ignore[union-attr]
    with pytest.raises(InvalidRequestError):
        hl.respond_to_function_calls(
            [
                FunctionCallDecision(call_id="c-2", approved=True),
                FunctionCallDecision(call_id="c-2", approved=True),
            ]
        )


def test_pending_lists_answer_the_protocols_envelope() -> None:
    fy = FakeFoureyes()
    hl = fy.client()
    for n in range(3):
        hl.create_function_call(FunctionCallSpec(fn="f", kwargs={"n": n}), call_id=f"c-{n}")
    fy.approve("c-0")
    with httpx.Client(transport=fy.transport(), base_url=fy.api_base_url) as http:
        auth = {"Authorization": f"Bearer {fy.api_key}"}
        page = http.get("/agent/function_calls/pending", params={"limit": 1}, headers=auth).json()
        assert [item["call_id"] for item in page["items"]] == ["c-1"]
        assert (page["total"], page["has_more"]) == (2, True)
        assert http.get("/agent/human_contacts/pending", headers=auth).json()["total"] == 0


def test_inside_with_the_module_level_api_uses_the_fake() -> None:
    @foureyes.require_approval
    def send_email(to: str) -> str:
        return f"sent to {to}"

    with FakeFoureyes() as fy:
        fy.auto_approve(fn="send_email")
        fy.auto_answer("blue")
        assert send_email("ana@example.com") == "sent to ana@example.com"
        assert foureyes.human_as_tool()("Favourite colour?") == "blue"
        assert foureyes.default_client().api_base_url == fy.api_base_url
    assert [call["spec"]["kwargs"] for (kind, _), call in fy.items.items() if kind == "function_calls"] == [
        {"to": "ana@example.com"}
    ]
    assert foureyes.default_client().api_base_url != fy.api_base_url


def test_its_clients_give_up_rather_than_hang_unless_told_otherwise() -> None:
    fy = FakeFoureyes()
    assert fy.client().timeout == fy.async_client().timeout == CLIENT_TIMEOUT
    assert fy.client(timeout=None).timeout is None
    with pytest.raises(foureyes.ApprovalTimeout):
        fy.client(timeout=0.05).fetch_approval(FunctionCallSpec(fn="f", kwargs={}))


def test_the_docs_examples_run() -> None:
    page = (Path(__file__).parents[2] / "docs" / "testing.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", page, re.DOTALL)
    assert len(blocks) == 2
    ran = []
    for block in blocks:
        namespace: dict[str, object] = {"__name__": "docs_testing"}
        exec(compile(block, "docs/testing.md", "exec"), namespace)
        for name, test in namespace.items():
            if name.startswith("test_") and callable(test):
                outcome = test()
                if inspect.iscoroutine(outcome):
                    asyncio.run(outcome)
                ran.append(name)
    assert len(ran) == 4
