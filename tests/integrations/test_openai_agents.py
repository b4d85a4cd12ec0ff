"""The OpenAI Agents SDK's real runner, with a scripted model, against a real foureyes server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from agents import Agent, Model, ModelResponse, RunConfig, RunResult, Usage, function_tool
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText

from foureyes import AsyncHumanLayer, HumanLayer
from foureyes.integrations.openai_agents import AgentApprovals, Paused

from .conftest import Reviewer, Server

pytestmark = pytest.mark.anyio
NO_NETWORK = RunConfig(tracing_disabled=True)


class ScriptedModel(Model):
    """Calls ``refund`` once with the scripted call id; after the tool's answer, says what the
    tool said. Every input it was given is kept."""

    def __init__(self, call_id: str, order: int = 1042) -> None:
        self.call_id = call_id
        self.order = order
        self.inputs: list[Any] = []

    async def get_response(
        self, system_instructions: Any, input: Any, *args: Any, **kwargs: Any
    ) -> ModelResponse:
        self.inputs.append(input)
        outputs = [
            item for item in input if isinstance(item, dict) and item.get("type") == "function_call_output"
        ]
        if outputs:
            text = f"tool said: {outputs[-1]['output']}"
            message = ResponseOutputMessage(
                id="msg_1",
                type="message",
                role="assistant",
                status="completed",
                content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
            )
            return ModelResponse(output=[message], usage=Usage(), response_id=None)
        call = ResponseFunctionToolCall(
            type="function_call",
            name="refund",
            arguments=json.dumps({"order": self.order}),
            call_id=self.call_id,
            id="fc_1",
        )
        return ModelResponse(output=[call], usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        raise NotImplementedError


def make_agent(model: Model, refunded: list[int]) -> Agent[Any]:
    @function_tool(needs_approval=True)
    def refund(order: int) -> str:
        """Refund an order."""
        refunded.append(order)
        return f"refunded {order}"

    return Agent(name="support", instructions="Refund when asked.", tools=[refund], model=model)


async def test_approved_call_runs_under_the_tool_call_id(
    aclient: AsyncHumanLayer, reviewer: Reviewer
) -> None:
    refunded: list[int] = []
    agent = make_agent(ScriptedModel("call_approve"), refunded)
    decided = reviewer.decide_next({"approved": True})
    result = await AgentApprovals(aclient, timeout=30).run(agent, "refund 1042", run_config=NO_NETWORK)
    [item] = decided.result(timeout=30)
    assert item["call_id"] == "call_approve"
    assert item["spec"] == {**item["spec"], "fn": "refund", "kwargs": {"order": 1042}}
    assert refunded == [1042]
    assert result.final_output == "tool said: refunded 1042"


async def test_rejected_call_does_not_run_and_the_model_gets_the_comment(
    client: HumanLayer, reviewer: Reviewer
) -> None:
    refunded: list[int] = []
    model = ScriptedModel("call_reject")
    reviewer.decide_next({"approved": False, "comment": "order 1042 was already refunded"})
    # The sync client works too: its calls run in a worker thread.
    result = await AgentApprovals(client, timeout=30).run(
        make_agent(model, refunded), "refund", run_config=NO_NETWORK
    )
    assert refunded == []
    assert result.final_output == "tool said: order 1042 was already refunded"


async def test_expired_call_does_not_run(aclient: AsyncHumanLayer, reviewer: Reviewer) -> None:
    refunded: list[int] = []
    result = await AgentApprovals(aclient, timeout=0.3).run(
        make_agent(ScriptedModel("call_expire"), refunded), "refund", run_config=NO_NETWORK
    )
    assert refunded == []
    assert isinstance(result.final_output, str)
    assert result.final_output.startswith("tool said: No human approved refund in time")
    # Nobody decided: the request is still waiting on the server, and it was never approved.
    assert [item["call_id"] for item in reviewer.pending()] == ["call_expire"]


async def test_stop_and_resume_keeps_the_run_as_json(server: Server, reviewer: Reviewer) -> None:
    refunded: list[int] = []

    def fresh_process() -> tuple[AgentApprovals, Agent[Any]]:
        # What a new process has: a new client, a new agent, the saved JSON.
        hl = AsyncHumanLayer(api_key=server.key("agent"), api_base_url=server.api_base)
        return AgentApprovals(hl), make_agent(ScriptedModel("call_durable"), refunded)

    approvals, agent = fresh_process()
    paused = await approvals.start(agent, "refund 1042", run_config=NO_NETWORK)
    assert isinstance(paused, Paused)
    assert paused.call_ids == ["call_durable"]
    saved = json.dumps(paused.state)
    [pending] = reviewer.pending()
    assert pending["call_id"] == "call_durable"

    approvals, agent = fresh_process()
    again = await approvals.resume(agent, saved, run_config=NO_NETWORK)
    assert isinstance(again, Paused)
    assert again.call_ids == ["call_durable"]
    assert refunded == []
    assert len(reviewer.pending()) == 1  # asking again made no second request

    reviewer.respond("call_durable", approved=True)
    approvals, agent = fresh_process()
    done = await approvals.resume(agent, saved, run_config=NO_NETWORK)
    assert isinstance(done, RunResult)
    assert refunded == [1042]
    assert done.final_output == "tool said: refunded 1042"


async def test_resume_expires_a_call_pending_too_long(aclient: AsyncHumanLayer, reviewer: Reviewer) -> None:
    refunded: list[int] = []
    agent = make_agent(ScriptedModel("call_stale"), refunded)
    approvals = AgentApprovals(aclient)
    paused = await approvals.start(agent, "refund", run_config=NO_NETWORK)
    assert isinstance(paused, Paused)
    done = await approvals.resume(agent, paused.state, expire_after=0.0, run_config=NO_NETWORK)
    assert isinstance(done, RunResult)
    assert refunded == []
    assert isinstance(done.final_output, str)
    assert "No human approved refund in time" in done.final_output
