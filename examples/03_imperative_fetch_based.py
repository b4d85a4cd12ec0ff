"""create_function_call + your own waiting loop, with the model's tool call id as the call id.

    FOUREYES_API_KEY=<agent key> .venv/bin/python examples/03_imperative_fetch_based.py

The loop below asks every 2 seconds, as you would with any backend. With foureyes you can instead
pass `wait=` to get_function_call and be answered the moment a human decides.
"""

from __future__ import annotations

import json
import time
from typing import Any

from _llm import Model, Reply, call, tool_results, tool_schema

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


def run_agent(task: str) -> str:
    model = Model(script)
    print(f"Agent ({model.describe()}): {task}")
    messages: list[dict[str, Any]] = [{"role": "user", "content": task}]
    while True:
        reply = model.chat(messages, SCHEMAS)
        messages.append(reply.as_message())
        if not reply.tool_calls:
            return reply.content or ""
        for tool_call in reply.tool_calls:
            function_args = tool_call.arguments
            call_ = hl.create_function_call(
                spec=FunctionCallSpec(fn="multiply", kwargs=function_args),
                call_id=tool_call.id,
            )
            print(f"  created approval request {call_.call_id}; waiting ...")
            while (not call_.status) or (call_.status.approved is None):
                time.sleep(2)
                call_ = hl.get_function_call(call_id=tool_call.id)
            if call_.status.approved:
                function_response_json = json.dumps(multiply(**function_args))
            else:
                function_response_json = json.dumps(
                    {"error": f"call {call_.spec.fn} not approved, comment was {call_.status.comment}"}
                )
            print(f"  -> {function_response_json}")
            messages.append({"role": "tool", "tool_call_id": tool_call.id, "content": function_response_json})


if __name__ == "__main__":
    print(run_agent("multiply 7 and 6"))
