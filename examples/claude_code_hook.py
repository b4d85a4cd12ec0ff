"""What Claude Code does with a `PreToolUse` hook running `foureyes hook claude-code`: write
the event on the hook's stdin, read its decision on stdout. Approve or reject it in the inbox
or with `foureyes approve` / `foureyes reject`. A tool that does not match `--tools` passes
through without a word (shown first).

FOUREYES_API_KEY=<agent key> .venv/bin/python examples/claude_code_hook.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

HOOK = [sys.executable, "-m", "foureyes", "hook", "claude-code", "--tools", "Bash,Write,mcp__*"]


def event(tool_name: str, tool_input: dict[str, object]) -> str:
    return json.dumps(
        {
            "session_id": f"example-session-{os.getpid()}",
            "transcript_path": "/tmp/transcript.jsonl",
            "cwd": os.getcwd(),
            "hook_event_name": "PreToolUse",
            "tool_name": tool_name,
            "tool_input": tool_input,
            "tool_use_id": f"toolu_{tool_name}_{os.getpid()}",
        }
    )


def run_hook(tool_name: str, tool_input: dict[str, object]) -> str:
    done = subprocess.run(
        HOOK, input=event(tool_name, tool_input), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"hook failed ({done.returncode}): {done.stderr}")
    return done.stdout.strip()


if __name__ == "__main__":
    print(f"Read README.md -> {run_hook('Read', {'file_path': 'README.md'}) or '(no output: pass-through)'}")
    print("Bash rm -rf build/ -> waiting for a human ...")
    decision = json.loads(run_hook("Bash", {"command": "rm -rf build/"}))["hookSpecificOutput"]
    print(f"{decision['permissionDecision']}: {decision['permissionDecisionReason']}")
