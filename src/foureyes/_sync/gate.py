# Generated from src/foureyes/_async/gate.py by scripts/generate_sync: do not edit.
# Change the asyncio source and run scripts/generate_sync.
"""The gate a wrapped function's every call passes through, and the ``human_as_tool`` tool.

The rules are in `foureyes._decorator`: bind every argument, ask, check the arguments did not
change while waiting, and run the function only on an approval.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from foureyes._decorator import (
    Decide,
    Edited,
    Target,
    edited_answer,
    name_tool,
    no_decision,
    tool_subject,
)
from foureyes.models import ContactChannel, HumanContactSpec, ResponseOption


def gate(target: Target, decide: Decide) -> Callable[..., Any]:
    @functools.wraps(target.fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        bound = target.bind(args, kwargs)
        note = None
        try:
            shown = target.shown(bound)
            refusal = decide(target.name, shown)
            if not isinstance(refusal, str):
                target.still(bound, shown)
            if isinstance(refusal, Edited):
                # Only the arguments the reviewer approved run (and the receipt was signed over).
                bound, note, refusal = target.rebind(bound, refusal.kwargs), refusal.note, None
        except Exception as exc:  # whatever went wrong, no decision means no run
            return no_decision(target, exc)
        if refusal is not None:
            return refusal
        result = target.fn(*bound.args, **bound.kwargs)
        return result if note is None else edited_answer(note, result)

    return wrapper


def make_tool(
    ask: Callable[[HumanContactSpec], str],
    channel: ContactChannel | None,
    options: list[ResponseOption] | None,
) -> Callable[..., str]:
    def contact_human(message: str, subject: str | None = None) -> str:
        """contact a human"""
        spec = HumanContactSpec(
            msg=message, subject=tool_subject(channel, subject), channel=channel, response_options=options
        )
        return ask(spec)

    name_tool(contact_human, channel)
    return contact_human
