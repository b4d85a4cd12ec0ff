"""Claude Code and MCP against a real server: `foureyes mcp` spawned over stdio by the official
MCP client, the PreToolUse hook fed real hook JSON on stdin, and the proxy in front of a small
stdio MCP server of our own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from .conftest import LiveServer
from .test_sdk_compat import Reviewer

pytestmark = pytest.mark.slow  # each test spawns the server and MCP processes

TOY_SERVER = Path(__file__).with_name("mcp_toy_server.py")


@pytest.fixture
def reviewer(live_server: LiveServer) -> Iterator[Reviewer]:
    r = Reviewer(live_server)
    yield r
    r.http.close()


def agent_env(server: LiveServer, **extra: str) -> dict[str, str]:
    """What Claude Code's `.mcp.json` "env" (or the hook's environment) would hold."""
    return {
        "FOUREYES_API_KEY": server.create_key("agent"),
        "FOUREYES_API_BASE": server.api_base,
        "PATH": os.environ["PATH"],
        **extra,
    }


def foureyes_mcp(env: dict[str, str], *args: str) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", "foureyes", "mcp", *args], env=env)


def text_of(result: Any) -> str:
    [block] = result.content
    assert block.type == "text"
    return str(block.text)


@asynccontextmanager
async def calling(client: Client, tool: str, arguments: dict[str, Any]) -> AsyncIterator[list[Any]]:
    """Call the tool in the background; leaving the block waits for its result (in the list)."""
    results: list[Any] = []

    async def call() -> None:
        results.append(await client.call_tool(tool, arguments))

    async with anyio.create_task_group() as tg:
        tg.start_soon(call)
        yield results


async def decide(reviewer: Reviewer, **body: Any) -> dict[str, Any]:
    """Wait for the one pending call, decide it as ``body`` says, and return it as it was asked."""
    [item] = await anyio.to_thread.run_sync(lambda: reviewer.wait_pending(timeout=30))
    response = await anyio.to_thread.run_sync(lambda: reviewer.respond(item["call_id"], **body))
    assert response.status_code == 200, response.text
    return dict(item)


# ---------------------------------------------------------------- foureyes mcp (permission prompt tool)


@pytest.mark.anyio
async def test_permission_tool_allows_with_the_original_input(
    live_server: LiveServer, reviewer: Reviewer
) -> None:
    tool_input = {"command": "rm -rf build/", "description": "clean"}
    async with Client(foureyes_mcp(agent_env(live_server)), mode="legacy") as client:
        [tool] = (await client.list_tools()).tools
        assert tool.name == "request_permission"
        args = {"tool_name": "Bash", "input": tool_input, "tool_use_id": "toolu_01A"}
        async with calling(client, "request_permission", args) as answers:
            asked = await decide(reviewer, approved=True)
    assert asked["call_id"] == "toolu_01A"
    assert asked["spec"]["fn"] == "Bash"
    assert asked["spec"]["kwargs"] == tool_input  # the reviewer saw the full input
    [result] = answers
    assert result.is_error is False
    assert json.loads(text_of(result)) == {"behavior": "allow", "updatedInput": tool_input}


@pytest.mark.anyio
async def test_permission_tool_denies_with_the_comment_and_a_retry_finds_the_decision(
    live_server: LiveServer, reviewer: Reviewer
) -> None:
    args = {"tool_name": "Write", "input": {"file_path": "/etc/passwd", "content": "x"}, "tool_use_id": "t-2"}
    async with Client(foureyes_mcp(agent_env(live_server)), mode="legacy") as client:
        async with calling(client, "request_permission", args) as answers:
            await decide(reviewer, approved=False, comment="not system files")
        # The same tool_use_id again (a retried request) is the same item: no second question.
        again = await client.call_tool("request_permission", args)
    expected = {"behavior": "deny", "message": "not system files"}
    assert json.loads(text_of(answers[0])) == expected
    assert json.loads(text_of(again)) == expected
    assert reviewer.http.get("/agent/function_calls/pending").json()["items"] == []


@pytest.mark.anyio
async def test_permission_tool_denies_when_nobody_decides_in_time(live_server: LiveServer) -> None:
    args = {"tool_name": "Bash", "input": {"command": "make deploy"}, "tool_use_id": "t-3"}
    async with Client(foureyes_mcp(agent_env(live_server), "--timeout", "1"), mode="legacy") as client:
        result = await client.call_tool("request_permission", args)
    answer = json.loads(text_of(result))
    assert answer["behavior"] == "deny"
    assert "No human decided on Bash within 1 s" in answer["message"]


@pytest.mark.anyio
async def test_permission_tool_wait_survives_a_server_restart(live_server: LiveServer) -> None:
    args = {"tool_name": "Bash", "input": {"command": "terraform apply"}, "tool_use_id": "t-restart"}
    env = agent_env(live_server)
    reviewer = Reviewer(live_server)  # its key is made before the server goes down
    async with (
        Client(foureyes_mcp(env, "--timeout", "120"), mode="legacy") as client,
        calling(client, "request_permission", args) as answers,
    ):
        [item] = await anyio.to_thread.run_sync(lambda: reviewer.wait_pending(timeout=30))
        live_server.kill()
        await anyio.sleep(0.5)  # the waiting SDK now sees refused connections and backs off
        assert answers == []
        await anyio.to_thread.run_sync(live_server.start)
        approve = lambda: reviewer.respond(item["call_id"], approved=True)  # noqa: E731
        assert (await anyio.to_thread.run_sync(approve)).status_code == 200
    reviewer.http.close()
    assert json.loads(text_of(answers[0])) == {
        "behavior": "allow",
        "updatedInput": {"command": "terraform apply"},
    }


# ---------------------------------------------------------------- foureyes hook claude-code


def hook_event(tool_name: str, tool_input: dict[str, Any], tool_use_id: str, tmp_path: Path) -> str:
    """A PreToolUse event as Claude Code writes it on the hook's stdin."""
    return json.dumps(
        {
            "session_id": "abc123-session",
            "transcript_path": str(tmp_path / "transcript.jsonl"),
            "cwd": str(tmp_path),
            "permission_mode": "default",
            "hook_event_name": "PreToolUse",
            "tool_name": tool_name,
            "tool_input": tool_input,
            "tool_use_id": tool_use_id,
        }
    )


def start_hook(env: dict[str, str], event: str, *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "foureyes", "hook", "claude-code", *args],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None
    proc.stdin.write(event)
    proc.stdin.close()
    return proc


def finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    assert proc.stdout is not None
    assert proc.stderr is not None
    with proc.stdout, proc.stderr:
        out = proc.stdout.read()
        err = proc.stderr.read()
    code = proc.wait(timeout=60)
    assert code == 0, err
    return code, out


@pytest.mark.parametrize(
    ("body", "decision", "reason"),
    [
        ({"approved": True, "comment": "fine"}, "allow", "Approved by a human through foureyes: fine"),
        ({"approved": False, "comment": "not on main"}, "deny", "not on main"),
    ],
)
def test_hook_asks_for_matching_tools(
    live_server: LiveServer,
    reviewer: Reviewer,
    tmp_path: Path,
    body: dict[str, Any],
    decision: str,
    reason: str,
) -> None:
    env = agent_env(live_server)
    event = hook_event("Bash", {"command": "git push --force"}, "toolu_hook_1", tmp_path)
    proc = start_hook(env, event, "--tools", "Bash,Write,mcp__*", "--state-dir", str(tmp_path))
    [item] = reviewer.wait_pending(timeout=30)
    assert item["call_id"] == "toolu_hook_1"
    assert item["run_id"] == "claude-abc123-session"
    assert item["spec"] == {**item["spec"], "fn": "Bash", "kwargs": {"command": "git push --force"}}
    assert reviewer.respond(item["call_id"], **body).status_code == 200
    _, out = finish(proc)
    assert json.loads(out) == {
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": decision,
            "permissionDecisionReason": reason,
        }
    }


def test_hook_passes_other_tools_through_untouched(
    live_server: LiveServer, reviewer: Reviewer, tmp_path: Path
) -> None:
    env = agent_env(live_server)
    for tool in ("Read", "mcpX", "Bash2"):
        event = hook_event(tool, {"file_path": "README.md"}, f"toolu_{tool}", tmp_path)
        code, out = finish(start_hook(env, event, "--tools", "Bash,Write,mcp__*"))
        assert (code, out) == (0, "")
    assert reviewer.http.get("/agent/function_calls/pending").json()["items"] == []


def test_hook_blocks_an_unreadable_event(live_server: LiveServer) -> None:
    proc = start_hook(agent_env(live_server), "not json", "--tools", "*")
    assert proc.stdout is not None
    assert proc.stderr is not None
    with proc.stdout, proc.stderr:
        assert proc.stdout.read() == ""
        assert "cannot read the hook event" in proc.stderr.read()
    assert proc.wait(timeout=60) == 2  # Claude Code's "block this tool call"


def test_hook_defers_and_claude_resume_resumes_once_decided(
    live_server: LiveServer, reviewer: Reviewer, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "claude-argv.json"
    fake_claude = bin_dir / "claude"
    fake_claude.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"open({str(record)!r}, 'w').write(json.dumps({{'argv': sys.argv[1:], 'cwd': os.getcwd()}}))\n"
    )
    fake_claude.chmod(0o755)
    env = agent_env(live_server, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    event = hook_event("mcp__github__merge_pull_request", {"number": 7}, "toolu_defer", tmp_path)
    hook_args = ("--tools", "mcp__*", "--defer", "--wait", "0", "--state-dir", str(state))

    _, out = finish(start_hook(env, event, *hook_args))
    answer = json.loads(out)["hookSpecificOutput"]
    assert answer["permissionDecision"] == "defer"
    assert "foureyes claude resume abc123-session" in answer["permissionDecisionReason"]

    def foureyes(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "foureyes", *args], env=env, capture_output=True, text=True, timeout=60
        )

    listed = foureyes("claude", "deferred", "--state-dir", str(state))
    session, tool, call_id = listed.stdout.split("\t")[:3]
    assert (session, tool, call_id) == ("abc123-session", "mcp__github__merge_pull_request", "toolu_defer")
    # Nobody decided yet: --no-wait leaves the session paused and claude is not run.
    skipped = foureyes("claude", "resume", "--no-wait", "--state-dir", str(state))
    assert skipped.returncode == 0, skipped.stderr
    assert "nobody decided yet" in skipped.stderr
    assert not record.exists()

    [item] = reviewer.wait_pending(timeout=30)
    assert item["call_id"] == "toolu_defer"
    assert reviewer.respond(item["call_id"], approved=True).status_code == 200

    resumed = foureyes(
        "claude", "resume", "abc123-session", "--claude-arg=--output-format", "--claude-arg=json",
        "--state-dir", str(state),
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    ran = json.loads(record.read_text())
    assert ran["argv"] == ["-p", "--resume", "abc123-session", "--output-format", "json"]
    assert ran["cwd"] == str(tmp_path)  # the session's own directory
    assert foureyes("claude", "deferred", "--state-dir", str(state)).stdout == ""

    # Resumed, Claude Code runs the hook again for the same tool call: it now finds the decision.
    _, out = finish(start_hook(env, event, *hook_args))
    assert json.loads(out)["hookSpecificOutput"]["permissionDecision"] == "allow"
    assert reviewer.http.get("/agent/function_calls/pending").json()["items"] == []


# ---------------------------------------------------------------- foureyes mcp proxy


def toy_log(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def proxy(env: dict[str, str], *args: str) -> StdioServerParameters:
    # "-I": the downstream command's own options pass through untouched.
    return foureyes_mcp(env, "proxy", *args, "--", sys.executable, "-I", str(TOY_SERVER))


@pytest.mark.anyio
async def test_proxy_forwards_approved_calls_with_the_approved_arguments(
    live_server: LiveServer, reviewer: Reviewer, tmp_path: Path
) -> None:
    log = tmp_path / "toy.log"
    env = agent_env(live_server, TOY_LOG=str(log))
    async with Client(proxy(env, "--tools", "delete_*"), mode="legacy") as client:
        names = [tool.name for tool in (await client.list_tools()).tools]
        assert names == ["delete_file", "read_file", "echo"]

        # Not chosen: straight through, nobody asked.
        passed = await client.call_tool("echo", {"text": "hi"})
        assert text_of(passed) == 'echo ran with {"text": "hi"}'

        async with calling(client, "delete_file", {"path": "/srv/data/old.csv"}) as results:
            [asked] = await anyio.to_thread.run_sync(lambda: reviewer.wait_pending(timeout=30))
            assert toy_log(log) == [{"name": "echo", "arguments": {"text": "hi"}}]  # held until approved
            approve = lambda: reviewer.respond(asked["call_id"], approved=True)  # noqa: E731
            assert (await anyio.to_thread.run_sync(approve)).status_code == 200
    assert asked["spec"]["fn"] == "delete_file"
    assert asked["spec"]["kwargs"] == {"path": "/srv/data/old.csv"}
    assert text_of(results[0]) == 'delete_file ran with {"path": "/srv/data/old.csv"}'
    assert toy_log(log)[-1] == {"name": "delete_file", "arguments": {"path": "/srv/data/old.csv"}}


@pytest.mark.anyio
async def test_proxy_does_not_forward_a_denied_call(
    live_server: LiveServer, reviewer: Reviewer, tmp_path: Path
) -> None:
    log = tmp_path / "toy.log"
    env = agent_env(live_server, TOY_LOG=str(log))
    async with Client(proxy(env, "--destructive"), mode="legacy") as client:
        # readOnlyHint: passes; the tool without annotations is destructive by MCP's defaults.
        read = await client.call_tool("read_file", {"path": "a.txt"})
        assert read.is_error is False
        async with calling(client, "echo", {"text": "rm everything"}) as results:
            await decide(reviewer, approved=False, comment="no, ask Ana first")
    [denied] = results
    assert denied.is_error is True
    assert "no, ask Ana first" in text_of(denied)
    assert toy_log(log) == [{"name": "read_file", "arguments": {"path": "a.txt"}}]
