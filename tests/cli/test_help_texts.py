"""Every help text of the ``foureyes`` command is shown as written: Rich markup in help (on by
default in Typer) eats anything that looks like a tag, e.g. ``[default: 127.0.0.1]``, unless the
bracket is escaped. Each command's ``--help`` is rendered and every word of its help texts must
be in it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from foureyes.cli import app


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(typer.main.get_command(app)))


def _written(text: str) -> str:
    """What a help text should show: the escaped brackets as brackets, whitespace collapsed."""
    return " ".join(text.replace("\\[", "[").split())


def _shown(output: str) -> str:
    # The help is drawn in boxes; the frame and the wrapping are not part of the words.
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", output).split())


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) or "foureyes" for p, _ in COMMANDS])
def test_every_help_text_is_shown_with_its_brackets(path: tuple[str, ...], command: Any) -> None:
    done = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "2000"})
    assert done.exit_code == 0, done.output
    shown = _shown(done.output)
    texts = [command.help or ""] + [p.help for p in command.params if getattr(p, "help", None)]
    for text in texts:
        # The first paragraph is the one every help screen shows in full.
        first = _written(text.split("\n\n")[0])
        assert first in shown, f"{' '.join(path)}: {first!r} is not shown as written"


def test_the_serve_help_shows_its_defaults() -> None:
    done = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "80"})
    assert "Interface to listen on [default: 127.0.0.1]." in _shown(done.output)


GROUPS = [(path, command) for path, command in COMMANDS if getattr(command, "commands", None)]


@pytest.mark.parametrize(("path", "group"), GROUPS, ids=[" ".join(p) or "foureyes" for p, _ in GROUPS])
def test_a_command_list_shows_each_summary_unbroken(path: tuple[str, ...], group: Any) -> None:
    # Wide enough that nothing needs wrapping: each summary is then on the line of its command.
    done = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "2000"})
    assert done.exit_code == 0, done.output
    lines = [" ".join(re.sub(r"[│╭╮╰╯─]", " ", line).split()) for line in done.output.splitlines()]
    for name, sub in group.commands.items():
        if sub.hidden:
            continue
        summary = _written((sub.short_help or sub.help or "").split("\n\n")[0])
        assert f"{name} {summary}".strip() in lines, f"{' '.join((*path, name))}: {summary!r} is broken"
