"""`foureyes watch` in a real terminal (a pty), deciding what SDK calls are waiting on."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import threading
import time
from typing import Any

import pytest

import foureyes
from foureyes.cli import untrusted
from foureyes.watch import Inbox, split_keys

from .conftest import LiveServer

pytestmark = pytest.mark.slow

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[=>]")


class Terminal:
    """A process on a pseudo-terminal, and everything it has drawn so far."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: str) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
        self.proc = subprocess.Popen(
            args, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd, close_fds=True
        )
        os.close(slave)
        self.raw = b""

    def screen_text(self) -> str:
        return _ANSI.sub("", self.raw.decode("utf-8", errors="replace"))

    def pump(self, seconds: float) -> None:
        ready, _, _ = select.select([self.master], [], [], seconds)
        if ready:
            try:
                self.raw += os.read(self.master, 65536)
            except OSError:  # the process exited and closed the pty
                time.sleep(seconds)

    def wait_for(self, text: str, timeout: float = 20) -> None:
        start = len(self.raw)
        deadline = time.monotonic() + timeout
        while text not in _ANSI.sub("", self.raw[start:].decode("utf-8", errors="replace")):
            assert time.monotonic() < deadline, f"{text!r} never appeared:\n{self.screen_text()[-3000:]}"
            self.pump(0.1)

    def mark(self) -> None:
        """Forget what was drawn so far, so wait_for sees only what comes next."""
        self.pump(0.05)
        self.raw = b""

    def wait_exit(self, timeout: float = 10) -> int:
        """The exit code; the output is drained meanwhile, or a full pty would block the process."""
        deadline = time.monotonic() + timeout
        while (code := self.proc.poll()) is None:
            assert time.monotonic() < deadline, "the process did not exit"
            self.pump(0.05)
        return code

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        os.close(self.master)


def test_watch_approves_what_fetch_approval_waits_on(live_server: LiveServer) -> None:
    hl = foureyes.HumanLayer(api_key=live_server.create_key("agent"), api_base_url=live_server.api_base)
    hl.create_function_call(
        foureyes.FunctionCallSpec(fn="delete_branch", kwargs={"name": "main"}), call_id="call-reject"
    )
    outcome: list[Any] = []
    spec = foureyes.FunctionCallSpec(
        fn="wire_money", kwargs={"usd": 500, "memo": "\x1b[31mred\x1b[0m [bold]not markup[/bold]"}
    )
    waiter = threading.Thread(target=lambda: outcome.append(hl.fetch_approval(spec)), daemon=True)
    waiter.start()

    env = dict(live_server.env)
    env |= {
        "FOUREYES_REVIEWER_KEY": live_server.create_key("respond"),
        "FOUREYES_API_BASE": live_server.api_base,
        "TERM": "xterm-256color",
    }
    env.pop("COLUMNS", None)
    term = Terminal([sys.executable, "-m", "foureyes", "watch"], env, str(live_server.workdir))
    try:
        term.wait_for("wire_money")  # arrived while watching
        assert "delete_branch" in term.screen_text()
        term.mark()
        term.type("j")  # select it: its full arguments are shown
        term.wait_for("not markup")
        text = term.screen_text()
        assert "[bold]not markup[/bold]" in text  # agent text shown literally ...
        assert "\\u001b[31mred" in text  # ... its escape sequence made visible (JSON-escaped) ...
        assert b"\x1b[31mred" not in term.raw  # ... never sent to the terminal
        assert '"usd": 500' in text

        term.mark()
        term.type("k")
        term.type("r")
        term.wait_for("comment for the agent")
        term.type("\r")  # a rejection needs a comment
        term.wait_for("a rejection needs a comment")
        term.type("not main\r")
        term.wait_for("Rejected call-reject")
        rejected = hl.get_function_call("call-reject")
        assert (rejected.status.approved, rejected.status.comment) == (False, "not main")

        term.mark()
        term.type("a")
        deadline = time.monotonic() + 20
        while waiter.is_alive() and time.monotonic() < deadline:
            term.pump(0.05)  # keep draining the pty while the SDK call returns
        assert outcome, "fetch_approval never returned"
        assert outcome[0].call.status.approved is True
        term.wait_for("Nothing is waiting")
        term.type("q")
        assert term.wait_exit() == 0
    finally:
        term.close()


class FakeServer:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.items = {
            "function_calls": [
                {
                    "call_id": "c1",
                    "run_id": "r",
                    "spec": {"fn": "f", "kwargs": {}, "reject_options": [{"name": "typo"}]},
                }
            ],
            "human_contacts": [
                {
                    "call_id": "h1",
                    "run_id": "r",
                    "spec": {"msg": "tone?", "response_options": [{"name": "formal"}]},
                }
            ],
        }

    def __call__(self, method: str, path: str, body: Any) -> dict[str, Any]:
        self.calls.append((method, path, body))
        if method == "GET":
            return {"items": self.items["function_calls" if "function" in path else "human_contacts"]}
        return {}


def test_inbox_keys_pick_options_and_answer() -> None:
    server = FakeServer()
    inbox = Inbox(server, untrusted)
    inbox.refresh()
    for key in ["o", "1"]:
        inbox.key(key)
    assert server.calls[-3] == (
        "POST",
        "/agent/function_calls/c1/respond",
        {"approved": False, "reject_option_name": "typo"},
    )
    inbox.key("down")
    inbox.key("a")  # not for a question
    assert "answered with t" in inbox.message.plain
    for key in "t" + "formal-ish":
        inbox.key(key)
    inbox.key("backspace")
    inbox.key("enter")
    assert ("POST", "/agent/human_contacts/h1/respond", {"response": "formal-is"}) in server.calls
    inbox.key("o")
    inbox.key("1")
    assert server.calls[-3][2] == {"response_option_name": "formal"}
    inbox.key("q")
    assert inbox.done


def test_split_keys() -> None:
    assert list(split_keys("j\x1b[Ak\x1b[B\r\x7f\x1bx\x1b[5~")) == [
        "j", "up", "k", "down", "enter", "backspace", "escape", "x"
    ]  # fmt: skip
