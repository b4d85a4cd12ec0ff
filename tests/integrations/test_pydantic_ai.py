"""Pydantic AI's real agent loop with a scripted FunctionModel, deferred tools decided through a
real foureyes server: inline (HandleDeferredToolCalls) and stop-the-world."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic_ai import Agent
from pydantic_ai.exceptions import CallDeferred
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.tools import DeferredToolRequests, DeferredToolResults, ToolApproved

from foureyes import AsyncHumanLayer, HumanLayer
from foureyes.integrations.pydantic_ai import DeferredApprovals

from .conftest import Reviewer, Server

pytestmark = pytest.mark.anyio


def scripted(tool: str, call_id: str, **args: Any) -> FunctionModel:
    """Calls ``tool`` once; once it answered, says what it said."""

    def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        returns = [
            part
            for message in messages
            if isinstance(message, ModelRequest)
            for part in message.parts
            if part.part_kind in ("tool-return", "retry-prompt")
        ]
        if returns:
            return ModelResponse(parts=[TextPart(f"tool said: {returns[-1].model_response_str()}")])
        return ModelResponse(parts=[ToolCallPart(tool_name=tool, args=args, tool_call_id=call_id)])

    return FunctionModel(respond)


def refund_agent(
    model: FunctionModel, refunded: list[int], approvals: DeferredApprovals | None = None
) -> Agent[None, Any]:
    agent: Agent[None, Any] = Agent(model, capabilities=[approvals.capability()] if approvals else [])

    @agent.tool_plain(requires_approval=True)
    def refund(order: int) -> str:
        """Refund an order."""
        refunded.append(order)
        return f"refunded {order}"

    @agent.tool_plain
    def ask_customer(question: str) -> str:
        """Ask the customer something."""
        raise CallDeferred(metadata={"question": f"Customer asks: {question}"}, kind="question")

    return agent


@pytest.mark.parametrize("approved", [True, False])
async def test_inline_handler(aclient: AsyncHumanLayer, reviewer: Reviewer, approved: bool) -> None:
    refunded: list[int] = []
    call_id = f"pa-inline-{approved}"
    approvals = DeferredApprovals(aclient, timeout=30)
    agent = refund_agent(scripted("refund", call_id, order=5), refunded, approvals)
    decided = reviewer.decide_next(
        {"approved": approved, "comment": None if approved else "refunded already"}
    )
    result = await agent.run("refund order 5")
    [item] = decided.result(timeout=30)
    assert (item["call_id"], item["spec"]["fn"], item["spec"]["kwargs"]) == (call_id, "refund", {"order": 5})
    if approved:
        assert refunded == [5]
        assert result.output == "tool said: refunded 5"
    else:
        assert refunded == []
        assert result.output == "tool said: refunded already"


async def test_inline_expiry_is_a_denial(client: HumanLayer, reviewer: Reviewer) -> None:
    refunded: list[int] = []
    agent = refund_agent(
        scripted("refund", "pa-expire", order=6), refunded, DeferredApprovals(client, timeout=0.3)
    )
    result = await agent.run("refund order 6")
    assert refunded == []
    assert result.output.startswith("tool said: No human approved refund in time")


async def test_inline_question_is_answered_by_a_human(aclient: AsyncHumanLayer, reviewer: Reviewer) -> None:
    agent = refund_agent(
        scripted("ask_customer", "pa-ask", question="which order?"), [], DeferredApprovals(aclient)
    )
    answered = reviewer.answer_next("order 1042")
    result = await agent.run("ask them")
    item = answered.result(timeout=30)
    assert (item["call_id"], item["spec"]["msg"]) == ("pa-ask", "Customer asks: which order?")
    assert result.output == "tool said: order 1042"


async def test_stop_the_world(server: Server, reviewer: Reviewer) -> None:
    refunded: list[int] = []
    agent = refund_agent(scripted("refund", "pa-stop", order=7), refunded)
    first = await agent.run("refund order 7", output_type=[str, DeferredToolRequests])
    requests = first.output
    assert isinstance(requests, DeferredToolRequests)

    def process() -> DeferredApprovals:  # a fresh client, as a later process would have
        return DeferredApprovals(HumanLayer(api_key=server.key("agent"), api_base_url=server.api_base))

    assert process().results(requests) is None
    assert await process().aresults(requests) is None
    [pending] = reviewer.pending()
    assert pending["call_id"] == "pa-stop"
    assert refunded == []
    reviewer.respond("pa-stop", approved=True)
    results = process().results(requests)
    assert isinstance(results, DeferredToolResults)
    assert results.approvals == {"pa-stop": ToolApproved()}
    second = await agent.run(
        message_history=first.all_messages(),
        deferred_tool_results=results,
        output_type=[str, DeferredToolRequests],
    )
    assert refunded == [7]
    assert second.output == "tool said: refunded 7"


async def test_stop_the_world_expiry(aclient: AsyncHumanLayer, reviewer: Reviewer) -> None:
    refunded: list[int] = []
    agent = refund_agent(scripted("refund", "pa-stale", order=8), refunded)
    first = await agent.run("refund order 8", output_type=[str, DeferredToolRequests])
    assert isinstance(first.output, DeferredToolRequests)
    results = await DeferredApprovals(aclient).aresults(first.output, expire_after=0.0)
    assert results is not None
    second = await agent.run(
        message_history=first.all_messages(), deferred_tool_results=results, output_type=str
    )
    assert refunded == []
    assert second.output.startswith("tool said: No human approved refund in time")
