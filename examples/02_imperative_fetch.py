"""fetch_approval: your own loop decides what to do with the human's verdict.

FOUREYES_API_KEY=<agent key> .venv/bin/python examples/02_imperative_fetch.py
"""

from __future__ import annotations

import json
from typing import Any

from _llm import Model, Reply, call, tool_results, tool_schema

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
            print(f"  waiting for a human to approve {tool_call.name}({tool_call.arguments}) ...")
            approval = fetch_approval(FunctionCallSpec(fn=tool_call.name, kwargs=tool_call.arguments))
            completed = approval.as_completed()
            if completed.approved:
                result = send_email(**tool_call.arguments)
                print("  Email sent!")
            else:
                result = f"Email not sent, comment was {completed.comment}"
                print(f"  {result}")
            messages.append({"role": "tool", "tool_call_id": tool_call.id, "content": json.dumps(result)})


if __name__ == "__main__":
    print(run_agent("welcome customer@example.com, who just signed up"))
