"""The ``foureyes mcp``, ``foureyes mcp proxy``, ``foureyes hook claude-code`` and
``foureyes claude resume`` commands (registered on the ``foureyes`` command by ``cli``).

Each speaks a protocol on stdin/stdout (MCP, or Claude Code's hook JSON), so logs and errors go
to stderr only. The SDK client is configured from the usual variables (``FOUREYES_API_KEY``,
``FOUREYES_API_BASE``, or their ``HUMANLAYER_*`` twins); it never falls back to asking in the
terminal, whose stdin is not a human's here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from foureyes._async.client import AsyncHumanLayer
from foureyes._exceptions import ConfigurationError
from foureyes.integrations import claude_code
from foureyes.integrations._approval import make_client

# Claude Code waits this long for a hook by default, and the MCP TypeScript client this long
# for a tool call: answer a little sooner, so the answer is ours (deny), not a client error.
CLIENT_DEFAULT_TIMEOUT = 60.0
MARGIN = 5.0

mcp_app = typer.Typer(
    help="Claude Code's permission prompt tool over MCP (stdio); see also `foureyes mcp proxy`.",
    invoke_without_command=True,
    add_completion=False,
)
hook_app = typer.Typer(help="Hook commands for agent hosts.", no_args_is_help=True)
claude_app = typer.Typer(help="Claude Code sessions paused for a human (hook --defer).", no_args_is_help=True)

Timeout = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        envvar="FOUREYES_MCP_TIMEOUT",
        help="Seconds to wait for a human before answering deny; 0: wait as long as the client "
        "does (default: MCP_TOOL_TIMEOUT, in ms, less 5 s when set, else 55 s).",
        show_default=False,
    ),
]
RunId = Annotated[
    str,
    typer.Option("--run-id", envvar="FOUREYES_RUN_ID", help="The foureyes run the requests are filed under."),
]
LogLevel = Annotated[str, typer.Option("--log-level", help="Log level (logs go to stderr).")]


def tool_timeout(option: float | None, env: Mapping[str, str] | None = None) -> float | None:
    """The wait for a human, in seconds (None: forever), from ``--timeout`` or the client's."""
    env = os.environ if env is None else env
    if option is not None:
        return None if option <= 0 else option
    raw = env.get("MCP_TOOL_TIMEOUT")
    client_seconds = CLIENT_DEFAULT_TIMEOUT
    if raw:
        with contextlib.suppress(ValueError):
            client_seconds = float(raw) / 1000
    return max(1.0, client_seconds - MARGIN)


def _logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s"
    )


def _client(run_id: str, timeout: float | None) -> AsyncHumanLayer:
    try:
        return make_client(run_id=run_id, timeout=timeout)
    except ConfigurationError as exc:
        sys.stderr.write(f"foureyes: {exc}\n")
        raise typer.Exit(1) from exc


@mcp_app.callback()
def mcp(
    ctx: typer.Context,
    timeout: Timeout = None,
    run_id: RunId = "claude-code",
    log_level: LogLevel = "warning",
) -> None:
    """Serve `request_permission` over stdio for `claude -p --permission-prompt-tool
    mcp__foureyes__request_permission`."""
    if ctx.invoked_subcommand is not None:
        return
    from foureyes.integrations import mcp_server

    _logging(log_level)
    asyncio.run(mcp_server.serve_stdio(_client(run_id, tool_timeout(timeout))))


@mcp_app.command("proxy", context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True})
def mcp_proxy(
    command: Annotated[list[str], typer.Argument(help="The downstream MCP server's command, after --.")],
    tools: Annotated[
        str, typer.Option("--tools", help="Comma-separated globs of tool names that need a human.")
    ] = "",
    destructive: Annotated[
        bool,
        typer.Option(
            "--destructive",
            help="Also every tool not annotated readOnlyHint: true or destructiveHint: false.",
        ),
    ] = False,
    timeout: Timeout = None,
    run_id: Annotated[
        str,
        typer.Option("--run-id", envvar="FOUREYES_RUN_ID", help="The foureyes run requests go under."),
    ] = "mcp-proxy",
    log_level: LogLevel = "warning",
) -> None:
    """Put foureyes in front of a stdio MCP server: chosen tools need approval before a call is
    forwarded. Example: foureyes mcp proxy --tools 'delete_*' -- npx some-mcp-server"""
    from foureyes.integrations import mcp_proxy as proxy

    patterns = claude_code.parse_patterns(tools)
    if not patterns and not destructive:
        sys.stderr.write("foureyes: choose the tools that need a human: --tools PATTERNS, --destructive\n")
        raise typer.Exit(2)
    _logging(log_level)
    gate = proxy.Gate(patterns=patterns, destructive=destructive)
    asyncio.run(proxy.serve_stdio(command, gate, _client(run_id, tool_timeout(timeout))))


StateDir = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        help="Where paused sessions are written down (default: $FOUREYES_STATE_DIR, else "
        "$XDG_STATE_HOME/foureyes, else ~/.local/state/foureyes).",
        show_default=False,
    ),
]


def _write(answer: dict[str, Any] | None) -> None:
    if answer is not None:
        sys.stdout.write(json.dumps(answer) + "\n")


@hook_app.command("claude-code")
def hook_claude_code(
    tools: Annotated[
        str,
        typer.Option("--tools", help="Comma-separated globs of the tools that need a human: 'Bash,mcp__*'."),
    ],
    wait: Annotated[
        float,
        typer.Option(
            "--wait",
            help="Seconds to wait for a human (keep below the hook's timeout, 60 s by default); "
            "then deny, or defer with --defer.",
        ),
    ] = CLIENT_DEFAULT_TIMEOUT - MARGIN,
    defer: Annotated[
        bool,
        typer.Option(
            "--defer",
            help="In `claude -p` runs: pause the session instead of denying when nobody decided "
            "in time; resume it with `foureyes claude resume`.",
        ),
    ] = False,
    state_dir: StateDir = None,
    log_level: LogLevel = "warning",
) -> None:
    """A Claude Code PreToolUse hook: reads the event on stdin, prints allow / deny / defer.

    Exit code 2 (Claude Code blocks the tool call) for anything that stops it from answering:
    any other failure of a hook only makes Claude Code carry on without it."""
    _logging(log_level)
    if wait <= 0 and not defer:
        sys.stderr.write("foureyes: --wait must be more than 0 seconds (or use --defer)\n")
        raise typer.Exit(2)
    try:
        event = json.loads(sys.stdin.read())
        if not isinstance(event, dict):
            raise ValueError("the event is not a JSON object")
    except ValueError as exc:
        # Exit code 2 blocks the tool call: an unreadable event is never waved through.
        sys.stderr.write(f"foureyes: cannot read the hook event on stdin: {exc}\n")
        raise typer.Exit(2) from exc
    patterns = claude_code.parse_patterns(tools)
    store = claude_code.DeferredStore(state_dir or claude_code.default_state_dir())
    # With --defer --wait 0 the wait is skipped; this bounds it only for an event without a
    # tool_use_id, which has nothing to defer under.
    timeout = wait if wait > 0 else 1.0

    def client(run_id: str) -> AsyncHumanLayer:
        return make_client(run_id=run_id, timeout=timeout)

    try:
        answer = asyncio.run(
            claude_code.pre_tool_use(
                event,
                patterns=patterns,
                client=client,
                wait=wait,
                defer=defer,
                store=store,
                default_run_id="claude-code",
            )
        )
    except Exception as exc:
        sys.stderr.write(f"foureyes: the hook failed, so the tool call is blocked: {exc!r}\n")
        raise typer.Exit(2) from exc
    _write(answer)


@claude_app.command("deferred")
def claude_deferred(
    state_dir: StateDir = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON document instead (its fields: docs/cli.md).")
    ] = False,
) -> None:
    """List the Claude Code sessions paused at a tool call, waiting for a human."""
    store = claude_code.DeferredStore(state_dir or claude_code.default_state_dir())
    if as_json:
        sessions = [
            {"session_id": r.session_id, "tool_name": r.tool_name, "call_id": r.call_id, "cwd": r.cwd}
            for r in store.all()
        ]
        sys.stdout.write(json.dumps({"sessions": sessions}, indent=2) + "\n")
        return
    for record in store.all():
        sys.stdout.write(f"{record.session_id}\t{record.tool_name}\t{record.call_id}\t{record.cwd}\n")


@claude_app.command("resume")
def claude_resume(
    sessions: Annotated[
        list[str] | None, typer.Argument(help="Session ids (default: every paused session).")
    ] = None,
    wait: Annotated[
        bool,
        typer.Option("--wait/--no-wait", help="Wait for the decision (by push), or skip undecided."),
    ] = True,
    claude: Annotated[str, typer.Option("--claude", help="The claude executable.")] = "claude",
    claude_arg: Annotated[
        list[str] | None,
        typer.Option("--claude-arg", help="An extra argument for claude (repeatable), e.g. --output-format."),
    ] = None,
    state_dir: StateDir = None,
    log_level: LogLevel = "warning",
) -> None:
    """Once a human decided, resume each paused session with `claude -p --resume SESSION`."""
    _logging(log_level)
    store = claude_code.DeferredStore(state_dir or claude_code.default_state_dir())
    extra = list(claude_arg or [])
    records = []
    for name in sessions or [r.session_id for r in store.all()]:
        record = store.load(name)
        if record is None:
            sys.stderr.write(f"foureyes: no paused session {name!r}\n")
            raise typer.Exit(1)
        records.append(record)
    failed = False
    for record in records:
        verdict = asyncio.run(claude_code.decision(_client(record.run_id, None), record, wait=wait))
        if verdict is None:
            sys.stderr.write(f"foureyes: {record.session_id}: nobody decided yet; not resumed\n")
            continue
        if verdict.outcome not in ("approved", "rejected"):
            sys.stderr.write(f"foureyes: {record.session_id}: {verdict.message}\n")
            failed = True
            continue
        sys.stderr.write(f"foureyes: {record.session_id}: {verdict.outcome}; resuming\n")
        argv = claude_code.resume_command(claude, record.session_id, extra)
        done = subprocess.run(argv, cwd=record.cwd if Path(record.cwd).is_dir() else None, check=False)  # noqa: S603
        if done.returncode == 0:
            store.remove(record.session_id)
        else:
            failed = True
    if failed:
        raise typer.Exit(1)
