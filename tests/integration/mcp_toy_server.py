"""A small stdio MCP server for the proxy tests: three tools, each call appended to $TOY_LOG."""

from __future__ import annotations

import json
import os

import anyio
import mcp.types as types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

TOOLS = [
    types.Tool(
        name="delete_file",
        description="Delete a file.",
        input_schema={"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
        annotations=types.ToolAnnotations(destructive_hint=True),
    ),
    types.Tool(
        name="read_file",
        description="Read a file.",
        input_schema={"type": "object", "properties": {"path": {"type": "string"}}},
        annotations=types.ToolAnnotations(read_only_hint=True),
    ),
    types.Tool(
        name="echo",
        description="Say it back (no annotations: the MCP defaults call that destructive).",
        input_schema={"type": "object", "properties": {"text": {"type": "string"}}},
    ),
]


async def list_tools(ctx: object, params: object) -> types.ListToolsResult:
    return types.ListToolsResult(tools=TOOLS)


async def call_tool(ctx: object, params: types.CallToolRequestParams) -> types.CallToolResult:
    line = json.dumps({"name": params.name, "arguments": params.arguments}) + "\n"
    async with await anyio.open_file(os.environ["TOY_LOG"], "a") as log:
        await log.write(line)
    text = f"{params.name} ran with {json.dumps(params.arguments, sort_keys=True)}"
    return types.CallToolResult(content=[types.TextContent(text=text)])


async def main() -> None:
    server = Server("toy", on_list_tools=list_tools, on_call_tool=call_tool)
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


if __name__ == "__main__":
    anyio.run(main)
