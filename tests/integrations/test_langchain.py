"""LangChain v1's create_agent with HumanInTheLoopMiddleware, a hand-built LangGraph graph and a
classic tool, each with a scripted chat model, against a real foureyes server."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Annotated, Any, TypedDict

import pytest
from langchain.agents import create_agent
from langchain.agents.middleware import HumanInTheLoopMiddleware
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph

from foureyes import AsyncHumanLayer, HumanLayer
from foureyes.integrations.langchain import Resolver, approval_required, ask_human, request_approval

from .conftest import Reviewer, Server


class ScriptedModel(BaseChatModel):
    """Asks for the scripted tool calls; once tools answered, says what each said."""

    calls: list[dict[str, Any]]

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        return self

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        answers = [m for m in messages if isinstance(m, ToolMessage)]
        if answers:
            said = " | ".join(f"{m.name}: {m.content}" for m in answers)
            message = AIMessage(content=f"tools said: {said}")
        else:
            message = AIMessage(content="", tool_calls=self.calls)
        return ChatResult(generations=[ChatGeneration(message=message)])


def call(name: str, call_id: str, **args: Any) -> dict[str, Any]:
    return {"name": name, "args": args, "id": call_id, "type": "tool_call"}


def agent_with(
    ran: list[str], calls: list[dict[str, Any]], interrupt_on: dict[str, Any], mode: str = "batched"
) -> Any:
    @tool
    def refund(order: int) -> str:
        """Refund an order."""
        ran.append(f"refund {order}")
        return f"refunded {order}"

    @tool
    def close_ticket(ticket: str) -> str:
        """Close a ticket."""
        ran.append(f"close {ticket}")
        return f"closed {ticket}"

    @tool
    def ask_customer(question: str) -> str:
        """Ask the customer."""
        ran.append("ask_customer")
        return "the tool itself ran"

    return create_agent(
        model=ScriptedModel(calls=calls),
        tools=[refund, close_ticket, ask_customer],
        middleware=[HumanInTheLoopMiddleware(interrupt_on=interrupt_on, interrupt_mode=mode)],  # type: ignore[arg-type]
        checkpointer=InMemorySaver(),
    )


def thread(name: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": name}}


def final_text(result: dict[str, Any]) -> str:
    return str(result["messages"][-1].content)


@pytest.mark.parametrize("mode", ["batched", "per_call"])
def test_batched_decisions_in_order(client: HumanLayer, reviewer: Reviewer, mode: str) -> None:
    ran: list[str] = []
    calls = [call("refund", f"tc-a-{mode}", order=7), call("close_ticket", f"tc-b-{mode}", ticket="T-1")]
    agent = agent_with(ran, calls, {"refund": True, "close_ticket": True}, mode)
    wanted = {"refund": {"approved": True}, "close_ticket": {"approved": False, "comment": "keep it open"}}

    def decide() -> list[list[str]]:
        # Batched mode puts both calls to the reviewer at once.
        seen: list[list[str]] = []
        while sum(map(len, seen)) < 2:
            items = reviewer.wait_pending(2 if mode == "batched" else 1)
            seen.append(sorted(item["call_id"] for item in items))
            for item in items:
                reviewer.respond(item["call_id"], **wanted[item["spec"]["fn"]])
        return seen

    decided = reviewer.pool.submit(decide)
    messages = {"messages": [("user", "refund 7, close T-1")]}
    result = Resolver(client, timeout=30).invoke(agent, messages, thread(mode))
    seen = decided.result(timeout=30)
    if mode == "per_call":  # under the model's own tool call ids
        assert sorted(call_id for group in seen for call_id in group) == [f"tc-a-{mode}", f"tc-b-{mode}"]
    else:
        assert len(seen) == 1
    assert ran == ["refund 7"]
    text = final_text(result)
    assert "refund: refunded 7" in text
    assert "close_ticket: User rejected the tool call for `close_ticket` with reason: keep it open" in text


def test_expired_call_does_not_run(client: HumanLayer, reviewer: Reviewer) -> None:
    ran: list[str] = []
    agent = agent_with(ran, [call("refund", "tc-expire", order=8)], {"refund": True})
    result = Resolver(client, timeout=0.3).invoke(
        agent, {"messages": [("user", "refund 8")]}, thread("expire")
    )
    assert ran == []
    assert "User rejected the tool call for `refund` with reason: No human approved refund in time" in (
        final_text(result)
    )


@pytest.mark.parametrize("mode", ["batched", "per_call"])
def test_respond_only_tool_becomes_a_question(client: HumanLayer, reviewer: Reviewer, mode: str) -> None:
    ran: list[str] = []
    question = call("ask_customer", f"tc-ask-{mode}", question="Which order?")
    agent = agent_with(ran, [question], {"ask_customer": {"allowed_decisions": ["respond"]}}, mode)
    answered = reviewer.answer_next("order 1042")
    result = Resolver(client, timeout=30).invoke(
        agent, {"messages": [("user", "refund")]}, thread(f"ask-{mode}")
    )
    assert "Which order?" in answered.result(timeout=30)["spec"]["msg"]
    assert ran == []  # the human answered in place of the tool
    assert final_text(result) == "tools said: ask_customer: order 1042"


def test_a_tool_that_cannot_be_rejected_is_not_asked(client: HumanLayer, reviewer: Reviewer) -> None:
    ran: list[str] = []
    agent = agent_with(
        ran, [call("refund", "tc-noreject", order=9)], {"refund": {"allowed_decisions": ["approve"]}}
    )
    with pytest.raises(ValueError, match="no 'reject'"):
        Resolver(client, timeout=30).invoke(agent, {"messages": [("user", "refund 9")]}, thread("noreject"))
    assert ran == []
    assert reviewer.pending() == []


def test_durable_poll_resumes_from_another_process(server: Server, reviewer: Reviewer) -> None:
    ran: list[str] = []
    agent = agent_with(ran, [call("refund", "tc-durable", order=10)], {"refund": True})
    config = thread("durable")
    agent.invoke({"messages": [("user", "refund 10")]}, config)
    pauses = agent.get_state(config).interrupts

    def process() -> Resolver:  # a fresh client each time, as a new process would have
        return Resolver(HumanLayer(api_key=server.key("agent"), api_base_url=server.api_base))

    assert process().poll(pauses) is None
    assert process().poll(pauses) is None
    [pending] = reviewer.pending()  # polling twice asked once
    assert pending["spec"]["fn"] == "refund"
    reviewer.respond(pending["call_id"], approved=True)
    command = process().poll(agent.get_state(config).interrupts)
    assert command is not None
    result = agent.invoke(command, config)
    assert ran == ["refund 10"]
    assert final_text(result) == "tools said: refund: refunded 10"


class Transfer(TypedDict):
    amount: int
    log: Annotated[list[str], operator.add]


def transfer_graph() -> Any:
    def confirm(state: Transfer) -> dict[str, Any]:
        purpose = ask_human(f"What is the transfer of {state['amount']} for?")
        decision = request_approval("transfer", {"amount": state["amount"], "purpose": purpose})
        assert decision.expired or decision.responded_by is not None  # who decided survives the checkpoint
        if decision.approved:
            return {"log": [f"sent {state['amount']} for {purpose}"]}
        return {"log": [f"not sent: {decision.outcome}: {decision.comment or decision.detail}"]}

    graph = StateGraph(Transfer)
    graph.add_node("confirm", confirm)
    graph.add_edge(START, "confirm")
    graph.add_edge("confirm", END)
    return graph.compile(checkpointer=InMemorySaver())


@pytest.mark.anyio
@pytest.mark.parametrize("approved", [True, False])
async def test_hand_built_graph_interrupts(
    aclient: AsyncHumanLayer, reviewer: Reviewer, approved: bool
) -> None:
    graph = transfer_graph()
    answered = reviewer.answer_next("rent")
    decided = reviewer.decide_next({"approved": approved, "comment": None if approved else "not this month"})
    result = await Resolver(aclient, timeout=30).ainvoke(
        graph, {"amount": 900, "log": []}, thread(f"g-{approved}")
    )
    answered.result(timeout=30)
    [item] = decided.result(timeout=30)
    assert item["spec"]["kwargs"] == {"amount": 900, "purpose": "rent"}
    assert result["log"] == (["sent 900 for rent"] if approved else ["not sent: rejected: not this month"])


def test_hand_built_graph_expiry_is_a_refusal(client: HumanLayer, reviewer: Reviewer) -> None:
    graph = transfer_graph()
    reviewer.answer_next("rent")
    result = Resolver(client, timeout=0.3).invoke(graph, {"amount": 5, "log": []}, thread("g-expire"))
    [line] = result["log"]
    assert line.startswith("not sent: expired: no human decided within 0.3 s")


@pytest.mark.parametrize("approved", [True, False])
def test_classic_tool_needs_approval(client: HumanLayer, reviewer: Reviewer, approved: bool) -> None:
    ran: list[str] = []

    @tool
    def delete_file(path: str) -> str:
        """Delete a file."""
        ran.append(path)
        return f"deleted {path}"

    gated = approval_required(delete_file, client, timeout=30)
    assert (gated.name, gated.description) == (delete_file.name, delete_file.description)
    tool_call_id = f"tc-classic-{approved}"
    model = ScriptedModel(calls=[call("delete_file", tool_call_id, path="/tmp/x")])
    agent = create_agent(model=model, tools=[gated])
    decided = reviewer.decide_next({"approved": approved, "comment": None if approved else "keep that file"})
    result = agent.invoke({"messages": [("user", "delete /tmp/x")]})
    [item] = decided.result(timeout=30)
    assert item["call_id"] == tool_call_id
    assert item["spec"]["kwargs"] == {"path": "/tmp/x"}
    answer = next(m for m in result["messages"] if isinstance(m, ToolMessage))
    if approved:
        assert ran == ["/tmp/x"]
        assert (answer.content, answer.status) == ("deleted /tmp/x", "success")
    else:
        assert ran == []
        assert (answer.content, answer.status) == ("keep that file", "error")


def test_classic_tool_expiry_does_not_run(client: HumanLayer, reviewer: Reviewer) -> None:
    ran: list[str] = []

    @tool
    def delete_file(path: str) -> str:
        """Delete a file."""
        ran.append(path)
        return "deleted"

    answer = approval_required(delete_file, client, timeout=0.3).invoke(
        call("delete_file", "tc-cx", path="/x")
    )
    assert ran == []
    assert isinstance(answer, ToolMessage)
    assert answer.status == "error"
    assert str(answer.content).startswith("No human approved delete_file in time")
