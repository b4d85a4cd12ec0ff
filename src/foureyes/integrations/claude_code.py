"""``foureyes hook claude-code``: a Claude Code ``PreToolUse`` hook that asks a human first.

Claude Code runs the hook command before each tool call and writes the event as JSON on its
stdin (``session_id``, ``cwd``, ``hook_event_name``, ``tool_name``, ``tool_input``,
``tool_use_id``, ...). Tools whose name matches one of the patterns (``fnmatch`` globs such as
``Bash``, ``Write``, ``mcp__*``) become a foureyes function call (``fn`` = tool name, ``kwargs``
= tool input, call id = ``tool_use_id``); every other tool passes through: no output, exit 0,
Claude Code decides as if there were no hook. The answer is printed as::

    {"hookSpecificOutput": {"hookEventName": "PreToolUse",
                            "permissionDecision": "allow" | "deny" | "defer",
                            "permissionDecisionReason": "..."}}

``deny`` is also the answer when the wait runs out or the server cannot be had. With
``defer`` (Claude Code 2.1.89+, print mode only) a tool call nobody has decided yet pauses the
run instead (it exits with ``stop_reason: "tool_deferred"``); the hook writes down the session
in a state directory, and ``foureyes claude resume`` waits for the human and resumes it with
``claude -p --resume SESSION``. On resume Claude Code runs the hook again for the same
``tool_use_id``, which now finds the decision. No process stays blocked while a human decides.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from foureyes._async.client import AsyncHumanLayer
from foureyes._exceptions import FoureyesError
from foureyes.integrations._approval import Verdict, ask, peek

logger = logging.getLogger(__name__)

Decision = Literal["allow", "deny", "defer"]


def parse_patterns(text: str) -> list[str]:
    """``'Bash, Write,mcp__*'`` -> ``['Bash', 'Write', 'mcp__*']``."""
    return [p.strip() for p in text.split(",") if p.strip()]


def matches(tool_name: str, patterns: Iterable[str]) -> bool:
    """Whether a tool needs a human: case-sensitive globs, as Claude Code's tool names are."""
    return any(fnmatch.fnmatchcase(tool_name, pattern) for pattern in patterns)


def hook_output(
    decision: Decision, reason: str, updated_input: dict[str, Any] | None = None
) -> dict[str, Any]:
    specific: dict[str, Any] = {
        "hookEventName": "PreToolUse",
        "permissionDecision": decision,
        "permissionDecisionReason": reason,
    }
    if updated_input is not None:
        specific["updatedInput"] = updated_input
    return {"hookSpecificOutput": specific}


def _answer(verdict: Verdict, tool_input: dict[str, Any]) -> dict[str, Any]:
    if verdict.approved:
        reason = "Approved by a human through foureyes" + (f": {verdict.message}" if verdict.message else ".")
        # The reviewer approved the server's copy; should it ever differ, that copy is what runs.
        changed = verdict.kwargs if verdict.kwargs != tool_input else None
        return hook_output("allow", reason, changed)
    return hook_output("deny", verdict.message)


# ---------------------------------------------------------------------------- deferred sessions


@dataclass(frozen=True)
class Deferred:
    """A Claude Code session paused at a tool call that waits for a human."""

    session_id: str
    cwd: str
    run_id: str
    call_id: str
    tool_name: str
    tool_input: dict[str, Any]
    deferred_at: str


_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


def default_state_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$FOUREYES_STATE_DIR``, else ``$XDG_STATE_HOME/foureyes``, else ``~/.local/state/foureyes``."""
    env = os.environ if env is None else env
    if env.get("FOUREYES_STATE_DIR"):
        return Path(env["FOUREYES_STATE_DIR"])
    base = Path(env["XDG_STATE_HOME"]) if env.get("XDG_STATE_HOME") else Path.home() / ".local" / "state"
    return base / "foureyes"


class DeferredStore:
    """One JSON file per paused session under ``<state dir>/claude-deferred/``."""

    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir / "claude-deferred"

    def _path(self, session_id: str) -> Path:
        return self.dir / f"{_SAFE_NAME.sub('_', session_id)}.json"

    def save(self, record: Deferred) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self._path(record.session_id)
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps(asdict(record), indent=2))
        partial.replace(path)  # a reader never sees half a record

    def load(self, session_id: str) -> Deferred | None:
        path = self._path(session_id)
        if not path.exists():
            return None
        return Deferred(**json.loads(path.read_text()))

    def all(self) -> list[Deferred]:
        if not self.dir.is_dir():
            return []
        return [Deferred(**json.loads(p.read_text())) for p in sorted(self.dir.glob("*.json"))]

    def remove(self, session_id: str) -> None:
        self._path(session_id).unlink(missing_ok=True)


# ---------------------------------------------------------------------------- the hook


def run_id_for(event: Mapping[str, Any], default: str) -> str:
    """One foureyes run per Claude Code session, stable across the hook's separate processes
    (a re-created item must carry the run id it was first created with)."""
    session = event.get("session_id")
    return f"claude-{session}" if isinstance(session, str) and session else default


async def pre_tool_use(
    event: Mapping[str, Any],
    *,
    patterns: Sequence[str],
    client: Callable[[str], AsyncHumanLayer],
    wait: float,
    defer: bool,
    store: DeferredStore | None,
    default_run_id: str,
) -> dict[str, Any] | None:
    """The hook's answer to one event, or None to pass through (print nothing).

    ``client(run_id)`` makes the SDK client (its timeout is the wait). With ``defer``, a call
    still undecided after ``wait`` seconds (0: do not wait) is deferred and written to ``store``.
    Whatever goes wrong on the way to a human's decision answers ``deny``.
    """
    if event.get("hook_event_name", "PreToolUse") != "PreToolUse":
        return None
    tool_name = event.get("tool_name")
    if not isinstance(tool_name, str) or not matches(tool_name, patterns):
        return None
    tool_input = event.get("tool_input")
    if not isinstance(tool_input, dict):
        return hook_output("deny", "foureyes: the hook event carries no tool_input object; not asking.")
    raw_id = event.get("tool_use_id")
    call_id = raw_id if isinstance(raw_id, str) and raw_id else None
    run_id = run_id_for(event, default_run_id)
    try:
        sdk = client(run_id)
    except FoureyesError as exc:  # no key, say: the call does not run unasked
        return hook_output("deny", f"foureyes cannot ask a human about {tool_name}: {exc}")
    try:
        if defer and call_id is not None and wait <= 0:
            decided = await peek(sdk, tool_name, tool_input, call_id=call_id)
            verdict = decided or Verdict("expired", call_id, tool_input, "")
        else:
            verdict = await ask(sdk, tool_name, tool_input, call_id=call_id)
    finally:
        await sdk.aclose()
    if verdict.outcome == "expired" and defer and call_id is not None:
        session = event.get("session_id")
        if store is not None and isinstance(session, str) and session:
            cwd = event.get("cwd")
            store.save(
                Deferred(
                    session_id=session,
                    cwd=cwd if isinstance(cwd, str) and cwd else os.getcwd(),
                    run_id=run_id,
                    call_id=call_id,
                    tool_name=tool_name,
                    tool_input=tool_input,
                    deferred_at=datetime.now(UTC).isoformat(),
                )
            )
        logger.info("tool call %s (%s): deferred until a human decides", call_id, tool_name)
        return hook_output(
            "defer",
            f"Waiting for a human to approve {tool_name} in foureyes (call {call_id}); "
            f"resume with: foureyes claude resume {session}",
        )
    if store is not None and isinstance(event.get("session_id"), str):
        store.remove(str(event["session_id"]))
    return _answer(verdict, tool_input)


async def decision(sdk: AsyncHumanLayer, record: Deferred, *, wait: bool) -> Verdict | None:
    """The human's decision on a deferred call: waited for (by push), or None when ``wait`` is
    off and nobody decided yet. Asking again is idempotent: it finds the deferred item."""
    try:
        if wait:
            return await ask(sdk, record.tool_name, record.tool_input, call_id=record.call_id)
        return await peek(sdk, record.tool_name, record.tool_input, call_id=record.call_id)
    finally:
        await sdk.aclose()


def resume_command(claude: str, session_id: str, extra: Sequence[str]) -> list[str]:
    return [claude, "-p", "--resume", session_id, *extra]
