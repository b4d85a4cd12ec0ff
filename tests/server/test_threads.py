"""Background tasks' blocking work: a cancelled task waits for its thread before it ends, so
nothing of it runs on after the service has closed the database."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from foureyes.server.threads import run_blocking


def test_the_result_and_the_error_come_back() -> None:
    def fails() -> None:
        raise ValueError("no")

    async def main() -> None:
        assert await run_blocking(lambda a, b=0: a + b, 2, b=3) == 5
        with pytest.raises(ValueError, match="no"):
            await run_blocking(fails)

    asyncio.run(main())


@pytest.mark.parametrize("raises", [False, True])
def test_a_cancelled_task_ends_only_after_its_thread(raises: bool) -> None:
    started, release = threading.Event(), threading.Event()
    finished: list[float] = []

    def work() -> None:
        started.set()
        release.wait(5)
        finished.append(time.monotonic())
        if raises:
            raise RuntimeError("after the cancellation, nobody wants this")

    async def main() -> None:
        task = asyncio.create_task(run_blocking(work))
        await asyncio.to_thread(started.wait, 5)
        task.cancel()
        await asyncio.sleep(0.05)
        task.cancel()  # a second cancellation does not let it go early either
        await asyncio.sleep(0.05)
        assert not task.done()
        assert not finished
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert len(finished) == 1  # the thread ran to its end before the task did

    asyncio.run(main())
