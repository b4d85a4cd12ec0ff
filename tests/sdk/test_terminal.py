"""The terminal mode (no API key): HumanLayer's prompts, and EOF is never a yes."""

from __future__ import annotations

import io

import pytest

import foureyes
from foureyes import AsyncHumanLayer, FunctionCallSpec, HumanContactSpec, HumanLayer, TerminalClosedError


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    lines: list[str] = []
    prompts: list[str] = []

    def fake_input(prompt: str = "") -> str:
        prompts.append(prompt)
        if not lines:
            raise EOFError
        return lines.pop(0)

    monkeypatch.setattr("builtins.input", fake_input)
    return lines


def test_enter_runs_the_function_with_what_was_shown(
    answers: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    hl = HumanLayer(run_id="run-9")
    ran: list[tuple[int, int]] = []

    @hl.require_approval
    def multiply(x: int, y: int = 3) -> int:
        ran.append((x, y))
        return x * y

    answers.append("")
    assert multiply(2) == 6
    assert ran == [(2, 3)]
    out = capsys.readouterr().out
    assert out.startswith('Agent run-9 wants to call\n\nmultiply({\n  "x": 2,\n  "y": 3\n})\n\n')


def test_feedback_denies(answers: list[str]) -> None:
    hl = HumanLayer.cli()

    @hl.require_approval
    def rm(path: str) -> None:
        raise AssertionError("must not run")

    answers.append("not that folder")
    assert rm("/") == "User denied rm with feedback: not that folder"


def test_closed_stdin_denies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    hl = HumanLayer()
    ran: list[int] = []

    @hl.require_approval
    def launch() -> None:
        ran.append(1)

    assert launch() == "User denied launch: no answer (stdin closed)"
    assert ran == []
    completed = hl.fetch_approval(FunctionCallSpec(fn="launch", kwargs={}))
    verdict = completed.as_completed()
    assert (verdict.approved, verdict.comment) == (False, "no answer (stdin closed)")


def test_fetch_approval_and_questions_in_the_terminal(
    answers: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    hl = HumanLayer(run_id="r")
    answers.extend(["", "blue"])
    assert hl.fetch_approval(FunctionCallSpec(fn="f", kwargs={})).as_completed().approved is True
    assert hl.fetch_human_response(HumanContactSpec(msg="Colour?")).as_completed() == "blue"
    assert "Agent r requests assistance:\n\nColour?\n" in capsys.readouterr().out


def test_question_with_closed_stdin_raises(answers: list[str]) -> None:
    tool = HumanLayer().human_as_tool()
    with pytest.raises(TerminalClosedError, match="standard input is closed") as raised:
        tool("anyone there?")
    assert isinstance(raised.value, EOFError)


def test_agent_text_cannot_drive_the_terminal(answers: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    answers.append("ok")
    HumanLayer().human_as_tool()("hi\x1b[2J\x1b[1;1Hall clear")
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "\\x1b[2J" in out


@pytest.mark.anyio
async def test_async_client_asks_in_the_terminal_too(answers: list[str]) -> None:
    ahl = AsyncHumanLayer()
    ran: list[int] = []

    @ahl.require_approval
    async def go() -> str:
        ran.append(1)
        return "went"

    answers.extend(["", "stop"])
    assert await go() == "went"
    assert await go() == "User denied go with feedback: stop"
    assert ran == [1]
    assert await go() == "User denied go: no answer (stdin closed)"


def test_module_level_decorator_uses_the_terminal_without_a_key(answers: list[str]) -> None:
    @foureyes.require_approval
    def f() -> str:
        return "ran"

    answers.append("")
    assert f() == "ran"
