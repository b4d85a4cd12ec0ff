"""The examples run as a newcomer runs them: as scripts, against a real server, with a reviewer."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import LiveServer
from .test_sdk_compat import Reviewer

# Real server processes (or SIGKILLed ones): part of the full suite, not of --fast.
pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def start(server: LiveServer, name: str, *args: str, **extra_env: str) -> subprocess.Popen[str]:
    env = {**server.env, "FOUREYES_API_KEY": server.create_key("agent"), "FOUREYES_API_BASE": server.api_base}
    env.pop("OPENAI_API_KEY", None)  # the scripted model: offline and deterministic
    env.update(extra_env)
    return subprocess.Popen(
        [sys.executable, str(EXAMPLES / name), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(proc: subprocess.Popen[str]) -> str:
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    return out


@pytest.fixture
def reviewer(live_server: LiveServer) -> Iterator[Reviewer]:
    r = Reviewer(live_server)
    yield r
    r.http.close()


@pytest.mark.parametrize(
    ("approve", "expected"),
    [(True, "2 times 5, plus 32, is 42."), (False, "User denied multiply with message: smaller please")],
)
def test_01_math_example(live_server: LiveServer, reviewer: Reviewer, approve: bool, expected: str) -> None:
    proc = start(live_server, "01_math_example.py")
    [item] = reviewer.wait_pending()
    assert (item["spec"]["fn"], item["spec"]["kwargs"]) == ("multiply", {"x": 2, "y": 5})
    reviewer.respond(item["call_id"], approved=approve, comment=None if approve else "smaller please")
    assert expected in finish(proc)


def test_02_imperative_fetch(live_server: LiveServer, reviewer: Reviewer) -> None:
    proc = start(live_server, "02_imperative_fetch.py")
    [item] = reviewer.wait_pending()
    reviewer.respond(item["call_id"], approved=False, comment="not yet")
    assert "Email not sent, comment was not yet" in finish(proc)


def test_03_imperative_fetch_based(live_server: LiveServer, reviewer: Reviewer) -> None:
    proc = start(live_server, "03_imperative_fetch_based.py")
    [item] = reviewer.wait_pending()
    assert item["call_id"].startswith("call_")  # the model's tool call id
    reviewer.respond(item["call_id"], approved=True)
    assert "Result: 42" in finish(proc)


def test_04_human_as_tool(live_server: LiveServer, reviewer: Reviewer) -> None:
    proc = start(live_server, "04_human_as_tool.py")
    [item] = reviewer.wait_pending("human_contacts")
    reviewer.answer(item["call_id"], response_option_name="formal")
    assert "Use a formal tone." in finish(proc)


def test_05_agent_side_respond(live_server: LiveServer, reviewer: Reviewer) -> None:
    proc = start(
        live_server, "05_agent_side_respond.py", FOUREYES_REVIEWER_KEY=live_server.create_key("respond")
    )
    # The bot approves the small refund at once; the large one waits for a human.
    deadline = time.monotonic() + 15
    while True:
        pending = reviewer.wait_pending()
        if len(pending) == 1 and pending[0]["spec"]["kwargs"]["amount"] == 5000:
            break
        assert time.monotonic() < deadline, pending
        time.sleep(0.05)
    [item] = pending
    reviewer.respond(item["call_id"], approved=False, comment="too large")
    out = finish(proc)
    assert "refunded 20 on A-17" in out
    assert "refund B-42 rejected: too large" in out


def test_06_openai_agents_waits(live_server: LiveServer, reviewer: Reviewer) -> None:
    proc = start(live_server, "06_openai_agents.py")
    [item] = reviewer.wait_pending()
    assert (item["spec"]["fn"], item["spec"]["kwargs"]) == ("refund", {"order_id": "B-42", "amount": 120})
    reviewer.respond(item["call_id"], approved=True)
    assert "Refund: refunded 120 on B-42" in finish(proc)


def test_06_openai_agents_stops_and_resumes(
    live_server: LiveServer, reviewer: Reviewer, tmp_path: Path
) -> None:
    # Each step is a new process; only the saved run state connects them.
    saved = str(tmp_path / "run.json")
    for mode in ("start", "resume"):  # nobody has decided yet: the run stays paused
        out = finish(start(live_server, "06_openai_agents.py", mode, FOUREYES_EXAMPLE_STATE=saved))
        assert "Waiting for a human on call_" in out
    [item] = reviewer.wait_pending()
    reviewer.respond(item["call_id"], approved=False, comment="over the limit")
    out = finish(start(live_server, "06_openai_agents.py", "resume", FOUREYES_EXAMPLE_STATE=saved))
    assert "Refund: over the limit" in out


def test_07_langchain(live_server: LiveServer, reviewer: Reviewer) -> None:
    proc = start(live_server, "07_langchain.py")
    items = {item["spec"]["fn"]: item for item in reviewer.wait_pending(count=2)}
    reviewer.respond(items["send_email"]["call_id"], approved=True)
    reviewer.respond(items["delete_draft"]["call_id"], approved=False, comment="keep that draft")
    out = finish(proc)
    assert "send_email: sent 'Your refund' to customer@example.com" in out
    assert "delete_draft: User rejected the tool call for `delete_draft` with reason: keep that draft" in out


def test_08_pydantic_ai(live_server: LiveServer, reviewer: Reviewer) -> None:
    proc = start(live_server, "08_pydantic_ai.py")
    [item] = reviewer.wait_pending()
    assert (item["spec"]["fn"], item["spec"]["kwargs"]) == ("delete_branch", {"name": "release-1.2"})
    reviewer.respond(item["call_id"], approved=True)
    assert "Branch: deleted release-1.2" in finish(proc)


def test_claude_code_permission_tool(live_server: LiveServer, reviewer: Reviewer) -> None:
    proc = start(live_server, "claude_code_permission_tool.py")
    [item] = reviewer.wait_pending(timeout=30)
    assert (item["spec"]["fn"], item["spec"]["kwargs"]["command"]) == ("Bash", "git push --force origin main")
    reviewer.respond(item["call_id"], approved=False, comment="not on main")
    out = finish(proc)
    assert '{"behavior": "deny", "message": "not on main"}' in out
    assert "Claude Code does not run it and tells the model: not on main" in out


def test_claude_code_hook(live_server: LiveServer, reviewer: Reviewer) -> None:
    proc = start(live_server, "claude_code_hook.py")
    [item] = reviewer.wait_pending(timeout=30)
    assert (item["spec"]["fn"], item["spec"]["kwargs"]) == ("Bash", {"command": "rm -rf build/"})
    reviewer.respond(item["call_id"], approved=True, comment="build dir only")
    out = finish(proc)
    assert "Read README.md -> (no output: pass-through)" in out
    assert "allow: Approved by a human through foureyes: build dir only" in out


def test_mcp_proxy(live_server: LiveServer, reviewer: Reviewer) -> None:
    proc = start(live_server, "mcp_proxy.py")
    [item] = reviewer.wait_pending(timeout=30)
    assert (item["spec"]["fn"], item["spec"]["kwargs"]) == ("delete_note", {"name": "groceries"})
    reviewer.respond(item["call_id"], approved=True)
    out = finish(proc)
    assert "tools: read_note, delete_note" in out
    assert "read_note (no approval needed): eggs, milk" in out
    assert "delete_note (ok): deleted 'groceries': eggs, milk" in out
