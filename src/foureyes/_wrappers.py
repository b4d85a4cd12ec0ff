"""What ``require_approval(...)`` returns: apply it to a function, or call ``.wrap(fn)``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar, overload

from foureyes._async import gate as async_gate
from foureyes._decorator import AsyncDecide, Decide, Target
from foureyes._sync import gate as sync_gate

P = ParamSpec("P")
R = TypeVar("R")


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
        target = Target.of(fn)
        if target.is_async:
            return async_gate.gate(target, self._adecide)
        return sync_gate.gate(target, self._decide)

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
        return async_gate.gate(Target.of(fn), self._adecide)

    __call__ = wrap
