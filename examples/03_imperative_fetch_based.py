"""create_function_call + your own waiting loop, with the model's tool call id as the call id.

    FOUREYES_API_KEY=<agent key> .venv/bin/python examples/03_imperative_fetch_based.py

The loop below asks every 2 seconds, as you would with any backend. With foureyes you can instead
pass `wait=` to get_function_call and be answered the moment a human decides.
"""

from __future__ import annotations

import json
import time
from typing import Any

from _llm import Reply, ToolCall, call, run_agent, tool_results, tool_schema

from foureyes import FunctionCallSpec, HumanLayer

hl = HumanLayer(agent_name="fetch-based-math")


def multiply(x: int, y: int) -> int:
    return x * y


SCHEMAS = [tool_schema("multiply", "Multiply two numbers together.", x="integer", y="integer")]


def script(messages: list[dict[str, Any]]) -> Reply:
    results = tool_results(messages)
    if not results:
        return Reply(None, [call("multiply", x=7, y=6)])
    return Reply(f"Result: {json.loads(results[0])}")


def call_tool(tool_call: ToolCall) -> Any:
    function_args = tool_call.arguments
    call_ = hl.create_function_call(
        spec=FunctionCallSpec(fn="multiply", kwargs=function_args),
        # call_id is optional; the model's tool call id is a natural choice
        call_id=tool_call.id,
    )
    print(f"  created approval request {call_.call_id}; waiting ...")
    while (not call_.status) or (call_.status.approved is None):
        time.sleep(2)
        call_ = hl.get_function_call(call_id=tool_call.id)
    if call_.status.approved:
        result: Any = multiply(**function_args)
    else:
        result = {"error": f"call {call_.spec.fn} not approved, comment was {call_.status.comment}"}
    print(f"  -> {result}")
    return result


if __name__ == "__main__":
    print(run_agent("multiply 7 and 6", script, SCHEMAS, call_tool))
