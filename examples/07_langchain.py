"""LangChain v1: ``HumanInTheLoopMiddleware`` interrupts answered by a human through foureyes.

Start the server (scripts/serve), then:

    FOUREYES_API_KEY=<agent key> .venv/bin/python examples/07_langchain.py

The agent wants to send an email (approve / edit / reject) and to delete a draft (approve /
reject): both go to the reviewer at once; decide with `foureyes approve CALL_ID` /
`foureyes reject CALL_ID --comment ...` or in the inbox. A rejected call does not run and the
model is told the reviewer's reason. With OPENAI_API_KEY set and `langchain-openai` installed
the agent runs on OpenAI (OPENAI_MODEL, default gpt-4o-mini); otherwise on a scripted model,
offline. Needs `pip install foureyes[langchain]`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from typing import Any

from langchain.agents import create_agent
from langchain.agents.middleware import HumanInTheLoopMiddleware
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver

from foureyes import HumanLayer
from foureyes.integrations.langchain import Resolver


@tool
def send_email(to: str, subject: str, body: str) -> str:
    """Send an email."""
    return f"sent {subject!r} to {to}"


@tool
def delete_draft(draft_id: str) -> str:
    """Delete an email draft."""
    return f"deleted draft {draft_id}"


class ScriptedModel(BaseChatModel):
    """Asks for both tools; once they answered, reports what each said."""

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        return self

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        answers = [m for m in messages if isinstance(m, ToolMessage)]
        if answers:
            message = AIMessage(content="\n".join(f"{m.name}: {m.content}" for m in answers))
        else:
            email = {"to": "customer@example.com", "subject": "Your refund", "body": "It is on its way."}
            message = AIMessage(
                content="",
                tool_calls=[
                    {
                        "name": "send_email",
                        "args": email,
                        "id": f"call_{uuid.uuid4().hex[:8]}",
                        "type": "tool_call",
                    },
                    {
                        "name": "delete_draft",
                        "args": {"draft_id": "D-7"},
                        "id": f"call_{uuid.uuid4().hex[:8]}",
                        "type": "tool_call",
                    },
                ],
            )
        return ChatResult(generations=[ChatGeneration(message=message)])


def model() -> Any:
    if os.environ.get("OPENAI_API_KEY"):
        try:
            from langchain_openai import ChatOpenAI  # type: ignore[import-not-found]
        except ImportError:
            print("(langchain-openai is not installed: using the scripted model)")
        else:
            return ChatOpenAI(model=os.environ.get("OPENAI_MODEL", "gpt-4o-mini"))
    return ScriptedModel()


def main() -> None:
    agent = create_agent(
        model=model(),
        tools=[send_email, delete_draft],
        middleware=[
            HumanInTheLoopMiddleware(
                interrupt_on={
                    "send_email": {"allowed_decisions": ["approve", "edit", "reject"]},
                    "delete_draft": {"allowed_decisions": ["approve", "reject"]},
                }
            )
        ],
        checkpointer=InMemorySaver(),  # interrupts need one; use a durable one to resume elsewhere
    )
    task = "Email customer@example.com that the refund is on its way, and delete draft D-7."
    print(f"Agent: {task}")
    config = {"configurable": {"thread_id": uuid.uuid4().hex}}
    result = Resolver(HumanLayer(agent_name="email-agent")).invoke(
        agent, {"messages": [("user", task)]}, config
    )
    print(result["messages"][-1].content)


if __name__ == "__main__":
    main()
