"""OpenAI Agents SDK: a ``needs_approval`` tool, decided by a human through foureyes.

Start the server (scripts/serve), then either wait in one process:

    FOUREYES_API_KEY=<agent key> .venv/bin/python examples/06_openai_agents.py

or stop while the human decides, and resume later (from any process):

    FOUREYES_API_KEY=<agent key> .venv/bin/python examples/06_openai_agents.py start
    FOUREYES_API_KEY=<agent key> .venv/bin/python examples/06_openai_agents.py resume

Decide with `foureyes approve CALL_ID` / `foureyes reject CALL_ID --comment ...` or in the
inbox. With OPENAI_API_KEY set the agent runs on OpenAI (OPENAI_MODEL, default gpt-4o-mini);
without it, on a scripted model, offline. Needs `pip install foureyes[openai-agents]`.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from agents import Agent, Model, ModelResponse, RunConfig, RunResult, Usage, function_tool
from openai.types.responses import ResponseFunctionToolCall, ResponseOutputMessage, ResponseOutputText

from foureyes import AsyncHumanLayer
from foureyes.integrations.openai_agents import AgentApprovals, Paused

SAVED = Path(os.environ.get("FOUREYES_EXAMPLE_STATE") or Path(tempfile.gettempdir()) / "foureyes-refund.json")
TASK = "Refund 120 on order B-42"


@function_tool(needs_approval=True)
def refund(order_id: str, amount: int) -> str:
    """Refund an amount on a customer's order."""
    return f"refunded {amount} on {order_id}"


class ScriptedModel(Model):
    """Asks for the refund; once the tool answered, tells the user what happened."""

    async def get_response(
        self, system_instructions: Any, input: Any, *args: Any, **kwargs: Any
    ) -> ModelResponse:
        answers = [i for i in input if isinstance(i, dict) and i.get("type") == "function_call_output"]
        if not answers:
            call = ResponseFunctionToolCall(
                type="function_call",
                name="refund",
                arguments=json.dumps({"order_id": "B-42", "amount": 120}),
                call_id=f"call_{uuid.uuid4().hex[:12]}",
            )
            return ModelResponse(output=[call], usage=Usage(), response_id=None)
        text = ResponseOutputText(type="output_text", text=f"Refund: {answers[-1]['output']}", annotations=[])
        message = ResponseOutputMessage(
            id="msg_1", type="message", role="assistant", status="completed", content=[text]
        )
        return ModelResponse(output=[message], usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


def agent() -> Agent[Any]:
    real = bool(os.environ.get("OPENAI_API_KEY"))
    model: str | Model = os.environ.get("OPENAI_MODEL", "gpt-4o-mini") if real else ScriptedModel()
    print(f"Agent ({'OpenAI ' + str(model) if real else 'scripted model'}): refund 120 on order B-42")
    return Agent(name="support", instructions="Refund orders when asked.", tools=[refund], model=model)


async def step(mode: str, saved: dict[str, Any] | None) -> RunResult | Paused:
    approvals = AgentApprovals(AsyncHumanLayer(agent_name="refund-agent"))
    # No traces are sent anywhere unless a real model is in use.
    config = RunConfig(tracing_disabled=not os.environ.get("OPENAI_API_KEY"))
    if saved is not None:
        return await approvals.resume(agent(), saved, run_config=config)
    if mode == "start":
        return await approvals.start(agent(), TASK, run_config=config)
    return await approvals.run(agent(), TASK, run_config=config)


def main(mode: str) -> None:
    result = asyncio.run(step(mode, json.loads(SAVED.read_text()) if mode == "resume" else None))
    if isinstance(result, Paused):
        SAVED.write_text(json.dumps(result.state))
        print(f"Waiting for a human on {', '.join(result.call_ids)}; run state saved to {SAVED}.")
        print("Run this example again with `resume` once it is decided.")
        return
    print(result.final_output)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "run")
