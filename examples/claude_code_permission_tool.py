"""What `claude -p --permission-prompt-tool mcp__foureyes__request_permission` does, played by
the official MCP client: start `foureyes mcp`, ask whether a Bash command may run, print the
answer Claude Code would act on. Approve or reject it in the inbox or with `foureyes approve`.

FOUREYES_API_KEY=<agent key> .venv/bin/python examples/claude_code_permission_tool.py
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from mcp import Client, StdioServerParameters


async def main() -> None:
    # Claude Code passes a server only the "env" of its .mcp.json entry (and a few safe
    # variables): hand over the foureyes settings explicitly, as that entry would.
    env = {k: v for k, v in os.environ.items() if k.startswith("FOUREYES_") or k == "PATH"}
    server = StdioServerParameters(command=sys.executable, args=["-m", "foureyes", "mcp"], env=env)
    async with Client(server, mode="legacy") as claude:
        print("asking a human whether Claude may run: git push --force origin main")
        result = await claude.call_tool(
            "request_permission",
            {
                "tool_name": "Bash",
                "input": {"command": "git push --force origin main", "description": "Publish the fix"},
                "tool_use_id": f"toolu_example_{os.getpid()}",
            },
        )
    answer = json.loads(result.content[0].text)  # type: ignore[union-attr]
    print(json.dumps(answer))
    if answer["behavior"] == "allow":
        print(f"Claude Code runs Bash with {json.dumps(answer['updatedInput'])}")
    else:
        print(f"Claude Code does not run it and tells the model: {answer['message']}")


if __name__ == "__main__":
    asyncio.run(main())
