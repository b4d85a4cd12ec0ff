"""``foureyes mcp proxy -- COMMAND ...``: foureyes in front of any stdio MCP server.

The proxy starts the downstream server as a subprocess and serves its tools, resources and
prompts unchanged over its own stdin/stdout, except that a ``tools/call`` of a chosen tool is
held until a human approves it in foureyes:

- chosen by name (``--tools 'delete_*,send_email'``, ``fnmatch`` globs), or
- with ``--destructive``, every tool the downstream server does not declare harmless: its
  annotations say ``destructiveHint: true``, or say nothing (the MCP default is destructive);
  only ``readOnlyHint: true`` or ``destructiveHint: false`` exempt a tool. Annotations are the
  downstream server's own claims: for a server you do not trust, name its tools instead.

An approved call is forwarded with the arguments the server holds for the approved item, which
are the arguments the reviewer saw, never a copy the client sent again; a rejected one is not
forwarded and returns a tool error (``isError: true``) carrying the reviewer's message, so the
model reads why. Any failure to get a decision is a rejection too.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from foureyes._async.client import AsyncHumanLayer
from foureyes.integrations._approval import ask
from foureyes.integrations.claude_code import matches

if TYPE_CHECKING:
    import mcp.types

logger = logging.getLogger(__name__)


@dataclass
class Gate:
    """Which tools need a human, from the names chosen and (optionally) the tools' annotations."""

    patterns: Sequence[str] = ()
    destructive: bool = False
    # The downstream's tools as last listed, by name (their annotations decide --destructive).
    tools: dict[str, Any] = field(default_factory=dict)

    def remember(self, tools: Iterable[Any]) -> None:
        for tool in tools:
            self.tools[tool.name] = tool

    def needs_approval(self, name: str) -> bool:
        if matches(name, self.patterns):
            return True
        if not self.destructive:
            return False
        tool = self.tools.get(name)
        hints = getattr(tool, "annotations", None)
        if hints is None:
            return True  # unknown tool or no annotations: the MCP defaults say destructive
        return not (hints.read_only_hint is True or hints.destructive_hint is False)


def downstream_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The proxy's environment for the downstream server, less foureyes' own settings: the
    server being gated has no business holding the key that asks for its approvals."""
    env = os.environ if env is None else env
    return {k: v for k, v in env.items() if not k.startswith(("FOUREYES_", "HUMANLAYER_"))}


def denied_result(message: str) -> mcp.types.CallToolResult:
    import mcp.types as types

    text = f"A human reviewer did not approve this call (foureyes): {message}"
    return types.CallToolResult(content=[types.TextContent(text=text)], is_error=True)


def build_proxy(downstream: Any, gate: Gate, client: AsyncHumanLayer) -> Any:
    """An MCP server that relays to ``downstream`` (a connected ``mcp.Client``) through ``gate``."""
    import mcp.types as types
    from mcp.server.lowlevel import Server

    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        cursor = params.cursor if params is not None else None
        listed: types.ListToolsResult = await downstream.list_tools(cursor=cursor, cache_mode="refresh")
        gate.remember(listed.tools)
        return listed

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        name = params.name
        arguments = params.arguments or {}
        if gate.destructive and name not in gate.tools:
            gate.remember((await downstream.list_tools(cache_mode="refresh")).tools)
        if not gate.needs_approval(name):
            result: types.CallToolResult = await downstream.call_tool(name, arguments)
            return result
        verdict = await ask(client, name, arguments, call_id=None)
        if not verdict.approved:
            logger.info("tool call %s (%s) denied: not forwarded", verdict.call_id, name)
            return denied_result(verdict.message)
        logger.info("tool call %s (%s) approved: forwarded", verdict.call_id, name)
        # What the reviewer approved is exactly what runs: the server's copy of the arguments.
        approved: types.CallToolResult = await downstream.call_tool(name, verdict.kwargs)
        return approved

    handlers: dict[str, Any] = {"on_list_tools": list_tools, "on_call_tool": call_tool}
    capabilities = downstream.server_capabilities
    if capabilities.resources is not None:

        async def list_resources(ctx: Any, params: Any) -> Any:
            return await downstream.list_resources(cursor=params.cursor if params else None)

        async def read_resource(ctx: Any, params: Any) -> Any:
            return await downstream.read_resource(params.uri)

        handlers.update(on_list_resources=list_resources, on_read_resource=read_resource)
    if capabilities.prompts is not None:

        async def list_prompts(ctx: Any, params: Any) -> Any:
            return await downstream.list_prompts(cursor=params.cursor if params else None)

        async def get_prompt(ctx: Any, params: Any) -> Any:
            return await downstream.get_prompt(params.name, params.arguments)

        handlers.update(on_list_prompts=list_prompts, on_get_prompt=get_prompt)
    info = downstream.server_info
    name = f"foureyes proxy for {info.name}" if info is not None else "foureyes proxy"
    return Server(name, instructions=downstream.instructions, **handlers)


async def serve_stdio(command: Sequence[str], gate: Gate, client: AsyncHumanLayer) -> None:
    """Start ``command`` as the downstream server and relay between it and our stdin/stdout."""
    from mcp import Client, StdioServerParameters
    from mcp.server.stdio import stdio_server

    params = StdioServerParameters(command=command[0], args=list(command[1:]), env=downstream_env())
    try:
        # The downstream's listing is never served from a cache: the gate reads it fresh.
        async with Client(params, mode="legacy", cache=None) as downstream:
            server = build_proxy(downstream, gate, client)
            async with stdio_server() as (read_stream, write_stream):
                await server.run(read_stream, write_stream, server.create_initialization_options())
    finally:
        await client.aclose()
