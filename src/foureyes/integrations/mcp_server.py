"""``foureyes mcp``: Claude Code's permission prompt tool, answered by a human through foureyes.

Claude Code in print mode (``claude -p --permission-prompt-tool mcp__foureyes__request_permission``)
calls the tool ``request_permission`` with ``{tool_name, input, tool_use_id?}`` before a tool
runs that its settings do not already allow. This server turns the call into a foureyes
function call (``fn`` = ``tool_name``, ``kwargs`` = ``input``, call id = ``tool_use_id``, so a
retried request finds the same item), waits for the reviewer by push, and answers with one text
block holding the JSON Claude Code expects::

    {"behavior": "allow", "updatedInput": {...}}     the input as the reviewer approved it
    {"behavior": "deny", "message": "..."}           the reviewer's comment, or why nobody decided

When the wait runs out (``--timeout``) the answer is ``deny``: silence is not consent.
"""

from __future__ import annotations

import json
import logging
from importlib.metadata import version
from typing import Any

from foureyes._async.client import AsyncHumanLayer
from foureyes.integrations._approval import Verdict, ask

logger = logging.getLogger(__name__)

TOOL_NAME = "request_permission"
SERVER_NAME = "foureyes"

_INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "tool_name": {"type": "string", "description": "The tool Claude Code wants to run."},
        "input": {"type": "object", "description": "The tool's input, exactly as it would run."},
        "tool_use_id": {"type": "string", "description": "Claude Code's id for this tool call."},
    },
    "required": ["tool_name", "input"],
}


def permission_answer(verdict: Verdict) -> dict[str, Any]:
    """The JSON Claude Code's permission prompt tool contract expects for a verdict."""
    if verdict.approved:
        return {"behavior": "allow", "updatedInput": verdict.kwargs}
    return {"behavior": "deny", "message": verdict.message}


async def request_permission(client: AsyncHumanLayer, arguments: dict[str, Any]) -> dict[str, Any]:
    """Ask a human whether the tool call in ``arguments`` may run; the contract's JSON answer."""
    tool_name = arguments.get("tool_name")
    tool_input = arguments.get("input")
    tool_use_id = arguments.get("tool_use_id")
    if not isinstance(tool_name, str) or not tool_name or not isinstance(tool_input, dict):
        return {"behavior": "deny", "message": "request_permission needs tool_name (a string) and input"}
    if tool_use_id is not None and not (isinstance(tool_use_id, str) and tool_use_id):
        tool_use_id = None
    verdict = await ask(client, tool_name, tool_input, call_id=tool_use_id)
    logger.info("tool call %s (%s): %s", verdict.call_id, tool_name, "allow" if verdict.approved else "deny")
    return permission_answer(verdict)


def build_server(client: AsyncHumanLayer) -> Any:
    """The MCP server (``mcp.server.lowlevel.Server``) offering ``request_permission``."""
    import mcp.types as types
    from mcp.server.lowlevel import Server

    tool = types.Tool(
        name=TOOL_NAME,
        description=(
            "Ask a human, through foureyes, whether a tool call may run. For Claude Code's "
            "--permission-prompt-tool; answers allow (with the approved input) or deny."
        ),
        input_schema=_INPUT_SCHEMA,
    )

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[tool])

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        if params.name != TOOL_NAME:
            text = f"unknown tool {params.name!r}; this server offers only {TOOL_NAME}"
            return types.CallToolResult(content=[types.TextContent(text=text)], is_error=True)
        answer = await request_permission(client, params.arguments or {})
        return types.CallToolResult(content=[types.TextContent(text=json.dumps(answer))])

    return Server(SERVER_NAME, version=version("foureyes"), on_list_tools=list_tools, on_call_tool=call_tool)


async def serve_stdio(client: AsyncHumanLayer) -> None:
    """Serve ``request_permission`` over stdin/stdout until the client closes the stream."""
    from mcp.server.stdio import stdio_server

    server = build_server(client)
    try:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())
    finally:
        await client.aclose()
