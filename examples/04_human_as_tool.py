"""human_as_tool: the agent asks a human a question and waits for the answer.

    FOUREYES_API_KEY=<agent key> .venv/bin/python examples/04_human_as_tool.py

Answer in another terminal: `foureyes answer CALL_ID "the text"` or `--option NAME`.
"""

from __future__ import annotations

import json
from typing import Any

from _llm import Reply, ToolCall, call, run_agent, tool_results, tool_schema

from foureyes import HumanLayer, ResponseOption

hl = HumanLayer(agent_name="onboarding-assistant")
contact_human = hl.human_as_tool(
    response_options=[
        ResponseOption(name="formal", title="Formal", prompt_fill="Use a formal tone."),
        ResponseOption(name="casual", title="Casual", prompt_fill="Keep it casual and friendly."),
    ]
)

SCHEMAS = [tool_schema(contact_human.__name__, contact_human.__doc__ or "", message="string")]


def script(messages: list[dict[str, Any]]) -> Reply:
    results = tool_results(messages)
    if not results:
        return Reply(None, [call(contact_human.__name__, message="What tone should the welcome email take?")])
    return Reply(f"Understood, I'll write it that way: {json.loads(results[0])}")


def call_tool(tool_call: ToolCall) -> str:
    print(f"  asking a human: {tool_call.arguments['message']}")
    answer = contact_human(**tool_call.arguments)
    print(f"  -> {answer!r}")
    return answer


if __name__ == "__main__":
    print(run_agent("draft a welcome email for a new customer", script, SCHEMAS, call_tool))
