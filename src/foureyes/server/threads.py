"""Blocking work of the server's background tasks, run on a worker thread that a cancelled task
still waits for.

``asyncio.to_thread`` lets the awaiting task go at once when it is cancelled while its thread
keeps running. At shutdown the service closes the database right after its tasks stop, so a
thread left running (an expiry step, an outbox lease, a checkpoint) would open a fresh pool on the
closed engine and leave its connection to the garbage collector. ``run_blocking`` delivers the
cancellation only after the thread has finished: stopping a task also stops its database work.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def run_blocking(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` on the default executor (with this task's context variables);
    when the awaiting task is cancelled, the cancellation is raised once ``fn`` has returned."""
    loop = asyncio.get_running_loop()
    call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
    future = loop.run_in_executor(None, call)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        # Wait for the thread (repeated cancellations included), then let the cancellation go.
        while not future.done():
            try:
                await asyncio.wait([future])
            except asyncio.CancelledError:
                continue
        if not future.cancelled():
            future.exception()  # retrieved, so asyncio does not log it: nobody wants it now
        raise
