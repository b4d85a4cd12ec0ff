"""The model behind the examples: OpenAI's client when OPENAI_API_KEY is set, else a scripted one.

The scripted model emits the same tool calls a real model would for each example's task, so the
examples run offline against a local foureyes server while a human decides with the CLI.
``OPENAI_BASE_URL`` is honoured by the OpenAI client, so a local model server works too.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MODEL = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass
class Reply:
    content: str | None
    tool_calls: list[ToolCall] = field(default_factory=list)

    def as_message(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
                }
                for c in self.tool_calls
            ]
        return message


Script = Callable[[list[dict[str, Any]]], Reply]


def call(name: str, **arguments: Any) -> ToolCall:
    return ToolCall(id=f"call_{uuid.uuid4().hex[:12]}", name=name, arguments=arguments)


def tool_results(messages: list[dict[str, Any]]) -> list[str]:
    """What the tools have answered so far, oldest first."""
    return [m["content"] for m in messages if m.get("role") == "tool"]


class Model:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.client: Any = None
        if os.environ.get("OPENAI_API_KEY"):
            from openai import OpenAI

            self.client = OpenAI()

    def describe(self) -> str:
        return (
            f"OpenAI model {MODEL}" if self.client else "scripted model (set OPENAI_API_KEY for a real one)"
        )

    def chat(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Reply:
        if self.client is None:
            return self.script(messages)
        response = self.client.chat.completions.create(model=MODEL, messages=messages, tools=tools)
        message = response.choices[0].message
        calls = [
            ToolCall(id=c.id, name=c.function.name, arguments=json.loads(c.function.arguments))
            for c in message.tool_calls or []
        ]
        return Reply(content=message.content, tool_calls=calls)


def run_agent(
    task: str, script: Script, tools: list[dict[str, Any]], handle: Callable[[ToolCall], Any]
) -> str:
    """The usual tool loop: ask the model, run each tool call through ``handle``, repeat."""
    model = Model(script)
    print(f"Agent ({model.describe()}): {task}")
    messages: list[dict[str, Any]] = [{"role": "user", "content": task}]
    while True:
        reply = model.chat(messages, tools)
        messages.append(reply.as_message())
        if not reply.tool_calls:
            return reply.content or ""
        for tool_call in reply.tool_calls:
            result = handle(tool_call)
            messages.append({"role": "tool", "tool_call_id": tool_call.id, "content": json.dumps(result)})


def tool_schema(name: str, description: str, **params: str) -> dict[str, Any]:
    """An OpenAI tool definition whose parameters all have the given JSON types."""
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": {p: {"type": t} for p, t in params.items()},
                "required": list(params),
            },
        },
    }
