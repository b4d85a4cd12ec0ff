"""Pydantic AI: a ``requires_approval`` tool, decided by a human through foureyes.

Start the server (scripts/serve), then:

    FOUREYES_API_KEY=<agent key> .venv/bin/python examples/08_pydantic_ai.py

The agent wants to delete a branch; decide with `foureyes approve CALL_ID` /
`foureyes reject CALL_ID --comment ...` or in the inbox. The `HandleDeferredToolCalls`
capability waits for the decision inside the run; a rejection reaches the model as the
tool's result. With OPENAI_API_KEY set the agent runs on OpenAI (OPENAI_MODEL, default
gpt-4o-mini); without it, on a scripted model, offline. Needs `pip install foureyes[pydantic-ai]`.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any

from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models import Model
from pydantic_ai.models.function import AgentInfo, FunctionModel

from foureyes import AsyncHumanLayer
from foureyes.integrations.pydantic_ai import DeferredApprovals


def scripted(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """Asks to delete the branch; once the tool answered, reports what it said."""
    answers = [
        part
        for message in messages
        if isinstance(message, ModelRequest)
        for part in message.parts
        if part.part_kind == "tool-return"
    ]
    if answers:
        return ModelResponse(parts=[TextPart(f"Branch: {answers[-1].model_response_str()}")])
    call = ToolCallPart(
        tool_name="delete_branch", args={"name": "release-1.2"}, tool_call_id=f"call_{uuid.uuid4().hex[:8]}"
    )
    return ModelResponse(parts=[call])


def model() -> Model | str:
    if os.environ.get("OPENAI_API_KEY"):
        return f"openai:{os.environ.get('OPENAI_MODEL', 'gpt-4o-mini')}"
    return FunctionModel(scripted)


async def main() -> None:
    approvals = DeferredApprovals(AsyncHumanLayer(agent_name="git-agent"))
    agent: Agent[None, Any] = Agent(model(), capabilities=[approvals.capability()])

    @agent.tool_plain(requires_approval=True)
    def delete_branch(name: str) -> str:
        """Delete a git branch."""
        return f"deleted {name}"

    task = "Delete the branch release-1.2."
    print(f"Agent: {task}")
    result = await agent.run(task)
    print(result.output)


if __name__ == "__main__":
    asyncio.run(main())
