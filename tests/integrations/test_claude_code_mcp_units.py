"""The Claude Code and MCP adapters' rules, without processes: which tools need a human, the
answers' shapes, the timeouts, and that the proxy forwards the approved arguments."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import mcp.types as types
import pytest

from foureyes import AsyncHumanLayer
from foureyes.integrations import claude_code, mcp_proxy, mcp_server
from foureyes.integrations._approval import Verdict
from foureyes.integrations.commands import tool_timeout


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_tool_patterns_are_case_sensitive_globs() -> None:
    patterns = claude_code.parse_patterns(" Bash, Write ,mcp__*,,")
    assert patterns == ["Bash", "Write", "mcp__*"]
    assert claude_code.matches("mcp__github__create_issue", patterns)
    assert claude_code.matches("Bash", patterns)
    assert not claude_code.matches("bash", patterns)
    assert not claude_code.matches("Read", patterns)
    assert not claude_code.matches("Bash", [])


def tool(name: str, **hints: bool) -> types.Tool:
    annotations = types.ToolAnnotations(**hints) if hints else None
    return types.Tool(name=name, input_schema={"type": "object"}, annotations=annotations)


def test_destructive_gate_follows_the_mcp_defaults() -> None:
    gate = mcp_proxy.Gate(destructive=True)
    gate.remember(
        [
            tool("plain"),
            tool("reader", read_only_hint=True),
            tool("additive", destructive_hint=False),
            tool("wiper", destructive_hint=True),
            tool("writer", read_only_hint=False),
        ]
    )
    asked = {
        name
        for name in ["plain", "reader", "additive", "wiper", "writer", "unlisted"]
        if gate.needs_approval(name)
    }
    assert asked == {"plain", "wiper", "writer", "unlisted"}


def test_a_named_tool_needs_a_human_whatever_its_annotations_claim() -> None:
    gate = mcp_proxy.Gate(patterns=["reader"], destructive=False)
    gate.remember([tool("reader", read_only_hint=True), tool("wiper", destructive_hint=True)])
    assert gate.needs_approval("reader")
    assert not gate.needs_approval("wiper")  # not chosen: no annotation adds a tool unasked


def test_the_downstream_server_does_not_get_foureyes_credentials() -> None:
    env = {"PATH": "/bin", "FOUREYES_API_KEY": "k", "HUMANLAYER_API_KEY": "k2", "GITHUB_TOKEN": "t"}
    assert mcp_proxy.downstream_env(env) == {"PATH": "/bin", "GITHUB_TOKEN": "t"}


def test_wait_answers_before_the_client_gives_up() -> None:
    assert tool_timeout(None, {}) == 55.0
    assert tool_timeout(None, {"MCP_TOOL_TIMEOUT": "600000"}) == 595.0
    assert tool_timeout(None, {"MCP_TOOL_TIMEOUT": "junk"}) == 55.0
    assert tool_timeout(30, {"MCP_TOOL_TIMEOUT": "600000"}) == 30
    assert tool_timeout(0, {}) is None  # wait as long as the client does


def test_permission_answers_follow_claude_codes_contract() -> None:
    approved = Verdict("approved", "t1", {"command": "ls"}, "ok")
    assert mcp_server.permission_answer(approved) == {"behavior": "allow", "updatedInput": {"command": "ls"}}
    for outcome in ("rejected", "expired", "failed"):
        verdict = Verdict(outcome, "t1", {"command": "ls"}, "why")  # type: ignore[arg-type]
        assert mcp_server.permission_answer(verdict) == {"behavior": "deny", "message": "why"}


def never_called(run_id: str) -> AsyncHumanLayer:
    raise AssertionError("a pass-through must not ask anyone")


@pytest.mark.anyio
@pytest.mark.parametrize(
    "event",
    [
        {"hook_event_name": "PreToolUse", "tool_name": "Read", "tool_input": {}, "tool_use_id": "t"},
        {"hook_event_name": "PostToolUse", "tool_name": "Bash", "tool_input": {}, "tool_use_id": "t"},
        {"hook_event_name": "PreToolUse", "tool_input": {}},
    ],
)
async def test_the_hook_passes_through_what_it_was_not_asked_to_gate(event: dict[str, Any]) -> None:
    answer = await claude_code.pre_tool_use(
        event, patterns=["Bash"], client=never_called, wait=1, defer=False, store=None, default_run_id="r"
    )
    assert answer is None


def test_deferred_sessions_are_kept_one_file_each(tmp_path: Path) -> None:
    store = claude_code.DeferredStore(tmp_path)
    record = claude_code.Deferred("../odd/session", "/w", "claude-x", "toolu_1", "Bash", {"c": 1}, "now")
    store.save(record)
    assert [p.name for p in (tmp_path / "claude-deferred").iterdir()] == [".._odd_session.json"]
    assert store.load("../odd/session") == record
    assert store.all() == [record]
    store.remove("../odd/session")
    assert store.all() == []


def approving_server(approved_kwargs: dict[str, Any], sent: list[Any]) -> httpx.MockTransport:
    """A server whose stored copy of the call differs from what the client sends again."""

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        body = json.loads(request.content)
        now = datetime.now(UTC).isoformat()
        body["spec"]["kwargs"] = approved_kwargs
        body["status"] = {"requested_at": now, "responded_at": now, "approved": True, "comment": None}
        return httpx.Response(200, json=body)

    return httpx.MockTransport(handle)


class FakeDownstream:
    server_capabilities = types.ServerCapabilities(tools=types.ToolsCapability())
    server_info = None
    instructions = None

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def list_tools(self, **_: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[tool("delete_file", destructive_hint=True)])

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        self.calls.append((name, arguments))
        return types.CallToolResult(content=[types.TextContent(text="done")])


@pytest.mark.anyio
async def test_the_proxy_forwards_the_arguments_the_reviewer_approved() -> None:
    sent: list[Any] = []
    client = AsyncHumanLayer(
        api_key="k", api_base_url="http://fe.test/humanlayer/v1",
        transport=approving_server({"path": "approved.txt"}, sent),
        verify_receipts=False,  # a stand-in that signs no receipts, like HumanLayer's cloud
    )  # fmt: skip
    downstream = FakeDownstream()
    server = mcp_proxy.build_proxy(downstream, mcp_proxy.Gate(destructive=True), client)
    handler = server.get_request_handler("tools/call").handler
    params = types.CallToolRequestParams(name="delete_file", arguments={"path": "resent.txt"})
    result = await handler(None, params)
    assert result.is_error is False
    assert sent[0]["spec"] == {**sent[0]["spec"], "fn": "delete_file", "kwargs": {"path": "resent.txt"}}
    assert downstream.calls == [("delete_file", {"path": "approved.txt"})]


HOOK_EVENT = json.dumps(
    {
        "hook_event_name": "PreToolUse",
        "tool_name": "Bash",
        "tool_input": {"command": "ls"},
        "tool_use_id": "t",
    }
)


def run_cli(monkeypatch: pytest.MonkeyPatch, args: list[str], stdin: str) -> Any:
    from typer.testing import CliRunner

    from foureyes.cli import app

    for name in ("FOUREYES_API_KEY", "HUMANLAYER_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return CliRunner().invoke(app, args, input=stdin)


def test_the_hook_without_a_key_denies_what_it_gates(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    done = run_cli(
        monkeypatch, ["hook", "claude-code", "--tools", "Bash", "--state-dir", str(tmp_path)], HOOK_EVENT
    )
    assert done.exit_code == 0
    answer = json.loads(done.stdout)["hookSpecificOutput"]
    assert answer["permissionDecision"] == "deny"
    assert "FOUREYES_API_KEY" in answer["permissionDecisionReason"]


def test_the_hook_refuses_to_wait_forever_without_defer(monkeypatch: pytest.MonkeyPatch) -> None:
    done = run_cli(monkeypatch, ["hook", "claude-code", "--tools", "Bash", "--wait", "0"], HOOK_EVENT)
    assert done.exit_code == 2  # Claude Code blocks the call: a hook it would kill is no answer
    assert done.stdout == ""
