"""fetch_approval: your own loop decides what to do with the human's verdict.

FOUREYES_API_KEY=<agent key> .venv/bin/python examples/02_imperative_fetch.py
"""

from __future__ import annotations

import json
from typing import Any

from _llm import Reply, ToolCall, call, run_agent, tool_results, tool_schema

from foureyes import FunctionCallSpec, fetch_approval


def send_email(to: str, subject: str, body: str) -> str:
    """Send an email to the customer."""
    return f"email to {to} sent"


SCHEMAS = [
    tool_schema("send_email", "Send an email to the customer.", to="string", subject="string", body="string")
]


def script(messages: list[dict[str, Any]]) -> Reply:
    results = tool_results(messages)
    if not results:
        return Reply(
            None,
            [
                call(
                    "send_email", to="customer@example.com", subject="Welcome!", body="Thanks for signing up!"
                )
            ],
        )
    return Reply(f"Done: {json.loads(results[0])}")


def call_tool(tool_call: ToolCall) -> str:
    print(f"  waiting for a human to approve {tool_call.name}({tool_call.arguments}) ...")
    approval = fetch_approval(FunctionCallSpec(fn=tool_call.name, kwargs=tool_call.arguments))
    completed = approval.as_completed()
    if completed.approved:
        print("  Email sent!")
        return send_email(**tool_call.arguments)
    print(f"  Email not sent, comment was {completed.comment}")
    return f"Email not sent, comment was {completed.comment}"


if __name__ == "__main__":
    print(run_agent("welcome customer@example.com, who just signed up", script, SCHEMAS, call_tool))
