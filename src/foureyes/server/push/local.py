"""Wake-ups within one process: the index from topic to the waiters subscribed to it.

The service publishes a topic after it commits a change; a waiter subscribes to the topic
*before* it reads, so a change committed between its read and its wait still wakes it. Waking
costs O(matching subscribers), whatever the number of topics subscribed. ``InProcessNotifier``
serves one process on its own (SQLite) and is the local half of ``postgres.PostgresNotifier``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator

from foureyes.server.push.topics import Subscription, Topic


class _Waiter:
    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.event = asyncio.Event()
        self._latest: object | None = None  # what the last wake-up handed over
        self._handed: object | None = None  # ... as of the last wait that returned True

    async def wait(self, seconds: float) -> bool:
        try:
            async with asyncio.timeout(seconds):
                await self.event.wait()
        except TimeoutError:
            return False
        # Cleared before the caller re-reads: a publish after this point wakes the next wait.
        self.event.clear()
        self._handed, self._latest = self._latest, None
        return True

    def handed(self) -> object | None:
        return self._handed

    def wake(self, handed: object | None = None) -> None:
        # publish() runs in a worker thread (the service is synchronous), and asyncio.Event is
        # not thread-safe, so the set is handed to the waiter's own loop.
        with contextlib.suppress(RuntimeError):  # that loop has closed: nobody is waiting
            self.loop.call_soon_threadsafe(self._set, handed)

    def _set(self, handed: object | None) -> None:
        # A later wake-up that hands nothing (another process's, a wake_all) means "look again".
        self._latest = handed
        self.event.set()


class InProcessNotifier:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[Topic, set[_Waiter]] = {}

    @contextlib.asynccontextmanager
    async def subscribe(self, topic: Topic) -> AsyncIterator[Subscription]:
        waiter = _Waiter()
        with self._lock:
            self._waiters.setdefault(topic, set()).add(waiter)
        try:
            yield waiter
        finally:
            with self._lock:
                waiters = self._waiters.get(topic)
                if waiters is not None:
                    waiters.discard(waiter)
                    if not waiters:
                        del self._waiters[topic]

    def publish(self, topic: Topic, handed: object | None = None) -> None:
        with self._lock:
            waiters = list(self._waiters.get(topic, ()))
        for waiter in waiters:
            waiter.wake(handed)

    def wake_all(self) -> None:
        """Wake every subscriber of every topic: for when wake-ups may have been lost."""
        with self._lock:
            waiters = [w for topic_waiters in self._waiters.values() for w in topic_waiters]
        for waiter in waiters:
            waiter.wake()

    def start(self) -> None:
        """Nothing to receive: every publisher is in this process."""

    def close(self) -> None:
        """Nothing to release."""

    def subscriber_count(self) -> int:
        with self._lock:
            return sum(len(w) for w in self._waiters.values())
