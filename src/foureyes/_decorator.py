"""What ``require_approval`` and ``human_as_tool`` share between the sync and async clients.

What a human approved is exactly what runs. Every argument, positional ones bound to their
parameter names and defaults filled in, is sent for review as JSON, and the function is then
called with exactly that binding, and only if it still serialises to what was approved.

Outcomes, as in HumanLayer: approved returns the function's result (its own exceptions
propagate unchanged); rejected returns a denial text for the LLM; no decision (server
unreachable past the deadline, an API error, a timeout) returns "Error fetching approval for
...". A request the server expired at its deadline returns "Nobody answered in time: ...", not
a denial. The function never runs without an approval.

A client plugs in through a *decide* callable: ``decide(fn_name, kwargs)`` returns None when
the human approved, an ``Edited`` when they approved edited arguments (only for
``require_approval(editable=True)``), else the text to hand back to the LLM, and raises when
it got no decision. An edited call runs with the edited arguments, and what it returns is
handed to the LLM as a text that says first what the reviewer changed.
The gate a call passes through is written once, for asyncio (`foureyes._async.gate`), and
generated for sync code (`foureyes._sync.gate`); the wrappers that pick one are in `_wrappers`.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeAlias, TypeVar

from pydantic_core import to_jsonable_python

from foureyes import _terminal
from foureyes._decision import Decision
from foureyes._exceptions import FoureyesError, HumanLayerException, UserDeniedError
from foureyes.models import ContactChannel, FunctionCall, HumanContact, ResponseOption

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Edited:
    """Approved with other arguments: ``kwargs`` run; ``note`` tells the LLM what changed."""

    kwargs: dict[str, Any]
    note: str


# None: approved as asked; a str: the refusal text for the LLM
Verdict: TypeAlias = "str | Edited | None"
Decide = Callable[[str, dict[str, Any]], "str | Edited | None"]
AsyncDecide = Callable[[str, dict[str, Any]], Awaitable["str | Edited | None"]]
# What a gated function becomes: it returns the function's result or the text for the LLM.
Gated: TypeAlias = Callable[P, R | str]
AsyncGated: TypeAlias = Callable[P, Coroutine[Any, Any, R | str]]


def check_unique(options: list[ResponseOption] | None, what: str) -> None:
    if options:
        names = [option.name for option in options]
        if len(names) != len(set(names)):
            raise HumanLayerException(f"{what} must have unique names")


# ---------------------------------------------------------------------------- verdict texts


def terminal_refusal(fn_name: str, verdict: _terminal.Verdict) -> str | None:
    if verdict.approved:
        return None
    if verdict.feedback is None:
        return str(UserDeniedError(f"User denied {fn_name}: no answer (stdin closed)"))
    return str(UserDeniedError(f"User denied {fn_name} with feedback: {verdict.feedback}"))


def backend_refusal(
    fn_name: str,
    sent: dict[str, Any],
    completed: FunctionCall.Completed,
    channel: ContactChannel | None,
    verbose: bool,
) -> str | Edited | None:
    """None when approved (an ``Edited`` with edits); else HumanLayer's denial text. Raises when
    the answer is unusable."""
    if completed.call.spec.kwargs != sent:
        # A decision binds to the arguments it was made on; never run others.
        raise FoureyesError(f"the server's {fn_name} call carries other arguments than were sent")
    completed.as_completed()  # ValueError for a rejection without a comment, as in HumanLayer
    decision = Decision.of_function_call(completed)
    if decision.expired:
        if verbose:
            _terminal.say(f"foureyes: nobody decided on {fn_name} in time")
        return expired_refusal(fn_name, decision.detail)
    if decision.approved:
        if verbose:
            _terminal.say(f"foureyes: human approved {fn_name}")
        if decision.edited_kwargs is not None:
            return Edited(decision.edited_kwargs, edit_note(fn_name, sent, decision.edited_kwargs))
        return None
    if verbose:
        _terminal.say(f"foureyes: human denied {fn_name} with message: {decision.comment}")
    echoed = completed.call.spec.channel or channel
    if echoed and echoed.slack and echoed.slack.context_about_channel_or_user:
        context = echoed.slack.context_about_channel_or_user
        return f"User in {context} denied {fn_name} with message: {decision.comment}"
    return f"User denied {fn_name} with message: {decision.comment}"


# ---------------------------------------------------------------------------- the gated function


@dataclass(frozen=True)
class Target:
    fn: Callable[..., Any]
    name: str
    signature: inspect.Signature
    receiver: str | None  # a method's self/cls: bound to the call, not an argument to review
    is_async: bool

    @classmethod
    def of(cls, fn: Callable[..., Any]) -> Target:
        if not callable(fn):
            raise TypeError(f"require_approval needs a function, got {fn!r}")
        try:
            signature = inspect.signature(fn)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"require_approval cannot read the parameters of {fn!r}: {exc}") from exc
        params = list(signature.parameters.values())
        receiver = None
        if params and params[0].name in ("self", "cls") and params[0].kind is not params[0].KEYWORD_ONLY:
            receiver = params[0].name
        name = getattr(fn, "__name__", type(fn).__name__)
        return cls(fn, name, signature, receiver, inspect.iscoroutinefunction(fn))

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> inspect.BoundArguments:
        bound = self.signature.bind(*args, **kwargs)  # a bad call fails as it would without us
        bound.apply_defaults()
        return bound

    def shown(self, bound: inspect.BoundArguments) -> dict[str, Any]:
        """The arguments as the reviewer sees them: by name, as JSON, ``**kwargs`` flattened."""
        shown: dict[str, Any] = {}
        for name, value in bound.arguments.items():
            kind = self.signature.parameters[name].kind
            if kind is inspect.Parameter.VAR_KEYWORD:
                shown.update(value)
            elif name != self.receiver:
                shown[name] = value
        # No repr() fallback: an argument that cannot be shown faithfully cannot be approved.
        result: dict[str, Any] = to_jsonable_python(shown)
        return result

    def rebind(self, bound: inspect.BoundArguments, edited: dict[str, Any]) -> inspect.BoundArguments:
        """The call with the reviewer's ``edited`` arguments (JSON, by name, ``**kwargs``
        flattened as ``shown`` has them), the receiver kept; exactly those, or an error."""
        remaining = dict(edited)
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        positional = True  # until a positional parameter is left out
        for name, param in self.signature.parameters.items():
            if name == self.receiver:
                args.append(bound.arguments[name])
            elif param.kind is param.VAR_POSITIONAL and name in remaining and positional:
                args.extend(remaining.pop(name))
            elif param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD) and name in remaining:
                if positional:
                    args.append(remaining.pop(name))
                else:
                    kwargs[name] = remaining.pop(name)
            elif param.kind is param.KEYWORD_ONLY and name in remaining:
                kwargs[name] = remaining.pop(name)
            elif param.kind is not param.VAR_KEYWORD:
                positional = False
        has_var_keyword = any(p.kind is p.VAR_KEYWORD for p in self.signature.parameters.values())
        if remaining and not has_var_keyword:
            raise FoureyesError(f"the edited arguments name no parameter of {self.name}: {sorted(remaining)}")
        kwargs.update(remaining)
        rebound = self.bind(tuple(args), kwargs)
        if self.shown(rebound) != edited:
            raise FoureyesError(f"the edited arguments do not fit the parameters of {self.name}")
        return rebound

    def still(self, bound: inspect.BoundArguments, shown: dict[str, Any]) -> None:
        if self.shown(bound) != shown:
            raise FoureyesError(f"the arguments of {self.name} changed while waiting for approval")


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 200 else text[:199] + "…"


def edit_note(fn_name: str, sent: dict[str, Any], edited: dict[str, Any]) -> str:
    """What the reviewer changed, for the LLM."""
    changes = [
        f"{key}: {_short(sent[key])} -> {_short(edited[key])}"
        for key in sent
        if key in edited and sent[key] != edited[key]
    ]
    changes += [f"{key}: removed" for key in sent if key not in edited]
    changes += [f"{key}: added {_short(edited[key])}" for key in edited if key not in sent]
    return (
        f"A reviewer edited the arguments of {fn_name} before approving it "
        f"({'; '.join(changes)}); it ran with the edited arguments."
    )


def edited_answer(note: str, result: Any) -> str:
    """What an edited call hands the LLM: what changed, then what the function returned."""
    return f"{note} It returned: {result}"


def expired_refusal(fn_name: str, detail: str | None) -> str:
    """The text for the LLM when nobody answered in time: not a human's rejection."""
    return (
        f"Nobody answered in time: {fn_name} was not approved before its deadline and did not run ({detail})"
    )


def tool_answer(completed: HumanContact.Completed) -> str:
    """What ``human_as_tool`` hands the LLM: the human's answer, or that nobody answered in time."""
    decision = Decision.of_human_contact(completed)
    if decision.expired:
        return f"Nobody answered in time: the question expired before anyone responded ({decision.detail})"
    return completed.as_completed()


def no_decision(target: Target, exc: Exception) -> str:
    logger.warning("no approval for %s, not running it: %s", target.name, exc)
    return f"Error fetching approval for {target.name}: {exc}"


# ---------------------------------------------------------------------------- human_as_tool


def tool_subject(channel: ContactChannel | None, subject: str | None) -> str | None:
    # The channel's subject keeps the reply on its email thread, so it wins over the model's.
    if channel and channel.email and channel.email.experimental_subject_line is not None:
        return channel.email.experimental_subject_line
    return subject


def name_tool(tool: Callable[..., Any], channel: ContactChannel | None) -> None:
    """HumanLayer's rules: the tool's name and docstring tell the LLM whom it reaches."""
    tool.__annotations__ = {"message": str, "subject": str | None, "return": str}
    if channel is None:
        return
    if channel.slack:
        tool.__doc__ = "Contact a human via slack and wait for a response"
        tool.__name__ = "contact_human_in_slack"
        context = channel.slack.context_about_channel_or_user
        if context:
            tool.__doc__ += f" in {context}"
            tool.__name__ = f"contact_human_in_slack_in_{context.replace(' ', '_')}"
    if channel.email:
        tool.__doc__ = "Contact a human via email and wait for a response"
        tool.__name__ = "contact_human_via_email"
        tool.__annotations__ = {"subject": str, "message": str, "return": str}
        address = re.sub(r"_+", "_", re.sub(r"[^a-zA-Z0-9]+", "_", channel.email.address)).strip("_")
        if address:
            tool.__name__ = f"contact_human_via_email_{address}"
    else:
        # Only email has subjects: hide the parameter so the LLM is not offered it.
        tool.__annotations__ = {"message": str, "return": str}
        signature = inspect.signature(tool)
        tool.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[p for p in signature.parameters.values() if p.name != "subject"]
        )
    tool.__qualname__ = tool.__name__
