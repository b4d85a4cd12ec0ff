"""The module-level API (``from foureyes import require_approval, fetch_approval``).

It uses default clients configured from the environment. They are made on first *use*, not at
import or decoration time, so a module can decorate its tools before the environment is set.
An ``async def`` function gets the default `AsyncHumanLayer`, anything else the `HumanLayer`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, ParamSpec, TypeVar, overload

from foureyes import _decorator, _wrappers
from foureyes._approvers import Approvers, Ask
from foureyes._async.client import AsyncHumanLayer
from foureyes._sync import gate as sync_gate
from foureyes._sync.client import HumanLayer
from foureyes.models import (
    ContactChannel,
    FunctionCall,
    FunctionCallSpec,
    HumanContact,
    HumanContactSpec,
    ResponseOption,
)

P = ParamSpec("P")
R = TypeVar("R")

_lock = threading.Lock()
_sync: HumanLayer | None = None
_async: AsyncHumanLayer | None = None


def default_client() -> HumanLayer:
    """The `HumanLayer` behind the module-level functions, made from the environment once."""
    global _sync
    with _lock:
        if _sync is None:
            _sync = HumanLayer()
        return _sync


def default_async_client() -> AsyncHumanLayer:
    """The `AsyncHumanLayer` behind module-level ``require_approval`` on ``async def`` functions."""
    global _async
    with _lock:
        if _async is None:
            _async = AsyncHumanLayer()
        return _async


def install(
    sync: HumanLayer | None, async_: AsyncHumanLayer | None
) -> tuple[HumanLayer | None, AsyncHumanLayer | None]:
    """Make these the default clients (``foureyes.testing`` does); returns the ones they replace."""
    global _sync, _async
    with _lock:
        previous = _sync, _async
        _sync, _async = sync, async_
        return previous


def reset_default_clients() -> None:
    """Forget the default clients, so the next use reads the environment again (for tests)."""
    global _sync, _async
    with _lock:
        if _sync is not None:
            _sync.close()
        _sync = _async = None


@overload
def require_approval(
    contact_channel: Callable[P, Coroutine[Any, Any, R]], /
) -> Callable[P, Coroutine[Any, Any, R | str]]: ...
@overload
def require_approval(contact_channel: Callable[P, R], /) -> Callable[P, R | str]: ...
@overload
def require_approval(
    contact_channel: ContactChannel | None = None,
    reject_options: list[ResponseOption] | None = None,
    *,
    editable: bool = False,
    approvals: int | None = None,
    approvers: Approvers | Mapping[str, Any] | None = None,
) -> _wrappers.HumanLayerWrapper: ...
def require_approval(
    contact_channel: ContactChannel | Callable[..., Any] | None = None,
    reject_options: list[ResponseOption] | None = None,
    *,
    editable: bool = False,
    approvals: int | None = None,
    approvers: Approvers | Mapping[str, Any] | None = None,
) -> Any:
    """``@require_approval``, bare or called, with the default client (``editable``,
    ``approvals``, ``approvers``: as for ``HumanLayer.require_approval``)."""
    if callable(contact_channel):
        return require_approval()(contact_channel)
    _decorator.check_unique(reject_options, "reject_options")
    channel = contact_channel
    ask = Ask.of(editable, approvals, approvers)

    def decide(name: str, shown: dict[str, Any]) -> _decorator.Verdict:
        return default_client()._decider(channel, reject_options, ask)(name, shown)

    async def adecide(name: str, shown: dict[str, Any]) -> _decorator.Verdict:
        return await default_async_client()._decider(channel, reject_options, ask)(name, shown)

    return _wrappers.HumanLayerWrapper(decide, adecide)


def human_as_tool(
    contact_channel: ContactChannel | None = None, response_options: list[ResponseOption] | None = None
) -> Callable[..., str]:
    """A tool the LLM calls to ask a human, through the default client."""
    _decorator.check_unique(response_options, "response_options")
    return sync_gate.make_tool(
        lambda spec: default_client().fetch_human_response(spec).as_completed(),
        contact_channel,
        response_options,
    )


def fetch_approval(
    spec: FunctionCallSpec,
    *,
    allow_edit: bool = False,
    approvals: int | None = None,
    approvers: Approvers | Mapping[str, Any] | None = None,
) -> FunctionCall.Completed:
    """Ask for approval through the default client and wait for the decision."""
    return default_client().fetch_approval(
        spec, allow_edit=allow_edit, approvals=approvals, approvers=approvers
    )


def fetch_human_response(spec: HumanContactSpec) -> HumanContact.Completed:
    """Ask a human through the default client and wait for the answer."""
    return default_client().fetch_human_response(spec)
