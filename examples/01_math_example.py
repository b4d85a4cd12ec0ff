"""The decorator: `multiply` runs only after a human approves it.

Start the server (scripts/serve), then:

    FOUREYES_API_KEY=<agent key> .venv/bin/python examples/01_math_example.py

and approve or reject in another terminal with `foureyes pending` / `foureyes approve CALL_ID`.
If you reject with a comment, the model is told why and answers accordingly.
"""

from __future__ import annotations

import json
from typing import Any

from _llm import Reply, ToolCall, call, run_agent, tool_results, tool_schema

from foureyes import require_approval


def add(x: int, y: int) -> int:
    """Add two numbers together."""
    return x + y


@require_approval
def multiply(x: int, y: int) -> int:
    """Multiply two numbers together."""
    return x * y


TOOLS = {"add": add, "multiply": multiply}
SCHEMAS = [
    tool_schema("add", "Add two numbers together.", x="integer", y="integer"),
    tool_schema("multiply", "Multiply two numbers together.", x="integer", y="integer"),
]


def script(messages: list[dict[str, Any]]) -> Reply:
    results = tool_results(messages)
    if not results:
        return Reply(None, [call("multiply", x=2, y=5)])
    if len(results) == 1:
        product = json.loads(results[0])
        if not isinstance(product, int):
            return Reply(f"I could not multiply the numbers: {product}")
        return Reply(None, [call("add", x=product, y=32)])
    return Reply(f"2 times 5, plus 32, is {json.loads(results[-1])}.")


def call_tool(tool_call: ToolCall) -> Any:
    print(f"  calling {tool_call.name}({tool_call.arguments}) ...")
    # multiply waits here for a human; a rejection comes back as text for the model.
    result = TOOLS[tool_call.name](**tool_call.arguments)
    print(f"  -> {result!r}")
    return result


if __name__ == "__main__":
    print(run_agent("multiply 2 and 5, then add 32 to the result", script, SCHEMAS, call_tool))
