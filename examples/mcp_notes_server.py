"""A small stdio MCP server for the proxy example: notes you can read and delete."""

from __future__ import annotations

import anyio
import mcp.types as types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

NOTES = {"groceries": "eggs, milk", "passwords": "(do not delete)"}
NAME = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
TOOLS = [
    types.Tool(
        name="read_note",
        description="Read a note.",
        input_schema=NAME,
        annotations=types.ToolAnnotations(read_only_hint=True),
    ),
    types.Tool(
        name="delete_note",
        description="Delete a note for good.",
        input_schema=NAME,
        annotations=types.ToolAnnotations(destructive_hint=True),
    ),
]


async def list_tools(ctx: object, params: object) -> types.ListToolsResult:
    return types.ListToolsResult(tools=TOOLS)


async def call_tool(ctx: object, params: types.CallToolRequestParams) -> types.CallToolResult:
    name = str((params.arguments or {}).get("name"))
    if name not in NOTES:
        return types.CallToolResult(content=[types.TextContent(text=f"no note {name!r}")], is_error=True)
    text = NOTES[name] if params.name == "read_note" else f"deleted {name!r}: {NOTES.pop(name)}"
    return types.CallToolResult(content=[types.TextContent(text=text)])


async def main() -> None:
    server = Server("notes", on_list_tools=list_tools, on_call_tool=call_tool)
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


if __name__ == "__main__":
    anyio.run(main)
