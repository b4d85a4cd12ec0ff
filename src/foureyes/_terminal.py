"""The local terminal mode, used when no API key is configured (as in HumanLayer's CLI mode).

The prompts and answers match HumanLayer's, with one deliberate difference: a closed standard
input (EOF: no terminal, a CI job, ``nohup``) is never a yes. An approval is denied; a question
raises `TerminalClosedError`, because there is no answer to give the agent.

Agent-supplied text is untrusted: control characters are escaped before they reach the
terminal, so a crafted argument cannot rewrite what the human sees.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from foureyes._exceptions import TerminalClosedError

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _safe(text: str) -> str:
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def say(text: str) -> None:
    """One line for the human at this terminal (``verbose=True`` progress, too)."""
    print(_safe(text))


@dataclass(frozen=True)
class Verdict:
    approved: bool
    feedback: str | None  # None on a denial means nobody answered: standard input is closed


def ask_approval(run_id: str, fn_name: str, kwargs: dict[str, Any]) -> Verdict:
    # json.dumps escapes control characters inside the arguments itself.
    say(f"Agent {run_id} wants to call\n\n{fn_name}({json.dumps(kwargs, indent=2)})\n\n")
    try:
        feedback = input("Hit ENTER to proceed, or provide feedback to the agent to deny: \n\n")
    except EOFError:
        return Verdict(approved=False, feedback=None)
    if feedback == "":
        return Verdict(approved=True, feedback=None)
    return Verdict(approved=False, feedback=feedback)


def ask_question(run_id: str, question: str) -> str:
    say(f"Agent {run_id} requests assistance:\n\n{question}\n")
    try:
        return input("Please enter a response: \n\n")
    except EOFError:
        raise TerminalClosedError(
            "no human can answer: standard input is closed (set FOUREYES_API_KEY to ask through a server)"
        ) from None
