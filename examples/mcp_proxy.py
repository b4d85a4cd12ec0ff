"""`foureyes mcp proxy` in front of an MCP server (examples/mcp_notes_server.py): the client,
here the official MCP client, sees the server's tools unchanged, but a destructive one waits
for a human. Approve or reject `delete_note` in the inbox or with `foureyes approve` / `reject`.

FOUREYES_API_KEY=<agent key> .venv/bin/python examples/mcp_proxy.py
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from mcp import Client, StdioServerParameters

NOTES_SERVER = Path(__file__).with_name("mcp_notes_server.py")


async def main() -> None:
    env = {k: v for k, v in os.environ.items() if k.startswith("FOUREYES_") or k == "PATH"}
    # --destructive: every tool not annotated read-only or non-destructive needs a human.
    proxy = ["-m", "foureyes", "mcp", "proxy", "--destructive", "--", sys.executable, str(NOTES_SERVER)]
    async with Client(
        StdioServerParameters(command=sys.executable, args=proxy, env=env), mode="legacy"
    ) as client:
        print("tools:", ", ".join(tool.name for tool in (await client.list_tools()).tools))
        read = await client.call_tool("read_note", {"name": "groceries"})
        print("read_note (no approval needed):", read.content[0].text)  # type: ignore[union-attr]
        print("delete_note: waiting for a human ...")
        deleted = await client.call_tool("delete_note", {"name": "groceries"})
        status = "error" if deleted.is_error else "ok"
        print(f"delete_note ({status}):", deleted.content[0].text)  # type: ignore[union-attr]


if __name__ == "__main__":
    asyncio.run(main())
