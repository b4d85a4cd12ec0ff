"""``require_approval`` and ``human_as_tool``, shared by the sync and async clients.

What a human approved is exactly what runs. Every argument, positional ones bound to their
parameter names and defaults filled in, is sent for review as JSON, and the function is then
called with exactly that binding, and only if it still serialises to what was approved.

Outcomes, as in HumanLayer: approved returns the function's result (its own exceptions
propagate unchanged); rejected returns a denial text for the LLM; no decision (server
unreachable past the deadline, an API error, a timeout) returns "Error fetching approval for
...". The function never runs without an approval.

A client plugs in through a *decide* callable: ``decide(fn_name, kwargs)`` returns None when
the human approved, else the text to hand back to the LLM, and raises when it got no decision.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar, overload

from pydantic_core import to_jsonable_python

from foureyes import _terminal
from foureyes._decision import Decision
from foureyes._exceptions import FoureyesError, HumanLayerException, UserDeniedError
from foureyes.models import ContactChannel, FunctionCall, HumanContactSpec, ResponseOption

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

Decide = Callable[[str, dict[str, Any]], str | None]
AsyncDecide = Callable[[str, dict[str, Any]], Awaitable[str | None]]


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
) -> str | None:
    """None when approved; else HumanLayer's denial text. Raises when the answer is unusable."""
    if completed.call.spec.kwargs != sent:
        # A decision binds to the arguments it was made on; never run others.
        raise FoureyesError(f"the server's {fn_name} call carries other arguments than were sent")
    completed.as_completed()  # ValueError for a rejection without a comment, as in HumanLayer
    decision = Decision.of_function_call(completed)
    if decision.approved:
        if verbose:
            _terminal.say(f"foureyes: human approved {fn_name}")
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
class _Target:
    fn: Callable[..., Any]
    name: str
    signature: inspect.Signature
    receiver: str | None  # a method's self/cls: bound to the call, not an argument to review
    is_async: bool

    @classmethod
    def of(cls, fn: Callable[..., Any]) -> _Target:
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

    def still(self, bound: inspect.BoundArguments, shown: dict[str, Any]) -> None:
        if self.shown(bound) != shown:
            raise FoureyesError(f"the arguments of {self.name} changed while waiting for approval")


def _no_decision(target: _Target, exc: Exception) -> str:
    logger.warning("no approval for %s, not running it: %s", target.name, exc)
    return f"Error fetching approval for {target.name}: {exc}"


def _gate_sync(target: _Target, decide: Decide) -> Callable[..., Any]:
    @functools.wraps(target.fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        bound = target.bind(args, kwargs)
        try:
            shown = target.shown(bound)
            refusal = decide(target.name, shown)
            if refusal is None:
                target.still(bound, shown)
        except Exception as exc:  # whatever went wrong, no decision means no run
            return _no_decision(target, exc)
        if refusal is not None:
            return refusal
        return target.fn(*bound.args, **bound.kwargs)

    return wrapper


def _gate_async(target: _Target, decide: AsyncDecide) -> Callable[..., Coroutine[Any, Any, Any]]:
    @functools.wraps(target.fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        bound = target.bind(args, kwargs)
        try:
            shown = target.shown(bound)
            refusal = await decide(target.name, shown)
            if refusal is None:
                target.still(bound, shown)
        except Exception as exc:  # whatever went wrong, no decision means no run
            return _no_decision(target, exc)
        if refusal is not None:
            return refusal
        result = target.fn(*bound.args, **bound.kwargs)
        return await result if target.is_async else result

    return wrapper


class HumanLayerWrapper:
    """What ``HumanLayer.require_approval(...)`` returns: apply it to a function, or ``.wrap(fn)``.

    A sync function stays sync. An ``async def`` function becomes a coroutine function whose
    wait runs in a worker thread, so the event loop is never blocked.
    """

    def __init__(self, decide: Decide, adecide: AsyncDecide | None = None) -> None:
        self._decide = decide
        self._adecide = adecide or (lambda name, shown: asyncio.to_thread(decide, name, shown))

    @overload
    def wrap(self, fn: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R | str]]: ...
    @overload
    def wrap(self, fn: Callable[P, R]) -> Callable[P, R | str]: ...
    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        target = _Target.of(fn)
        if target.is_async:
            return _gate_async(target, self._adecide)
        return _gate_sync(target, self._decide)

    __call__ = wrap


class AsyncHumanLayerWrapper:
    """What ``AsyncHumanLayer.require_approval(...)`` returns. The wrapped function becomes a
    coroutine function, whether it was ``async def`` or not (a sync one runs on the loop)."""

    def __init__(self, adecide: AsyncDecide) -> None:
        self._adecide = adecide

    @overload
    def wrap(self, fn: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R | str]]: ...
    @overload
    def wrap(self, fn: Callable[P, R]) -> Callable[P, Coroutine[Any, Any, R | str]]: ...
    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        return _gate_async(_Target.of(fn), self._adecide)

    __call__ = wrap


# ---------------------------------------------------------------------------- human_as_tool


def _subject(channel: ContactChannel | None, subject: str | None) -> str | None:
    # The channel's subject keeps the reply on its email thread, so it wins over the model's.
    if channel and channel.email and channel.email.experimental_subject_line is not None:
        return channel.email.experimental_subject_line
    return subject


def _name_tool(tool: Callable[..., Any], channel: ContactChannel | None) -> None:
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


def make_tool(
    ask: Callable[[HumanContactSpec], str],
    channel: ContactChannel | None,
    options: list[ResponseOption] | None,
) -> Callable[..., str]:
    def contact_human(message: str, subject: str | None = None) -> str:
        """contact a human"""
        spec = HumanContactSpec(
            msg=message, subject=_subject(channel, subject), channel=channel, response_options=options
        )
        return ask(spec)

    _name_tool(contact_human, channel)
    return contact_human


def make_async_tool(
    ask: Callable[[HumanContactSpec], Awaitable[str]],
    channel: ContactChannel | None,
    options: list[ResponseOption] | None,
) -> Callable[..., Coroutine[Any, Any, str]]:
    async def contact_human(message: str, subject: str | None = None) -> str:
        """contact a human"""
        spec = HumanContactSpec(
            msg=message, subject=_subject(channel, subject), channel=channel, response_options=options
        )
        return await ask(spec)

    _name_tool(contact_human, channel)
    return contact_human
