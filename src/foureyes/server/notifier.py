"""Wake-ups for long-poll waiters: "item X changed, look again".

The service publishes a topic after it commits a change; a waiter subscribes to the topic
*before* it reads the item, so a change committed between its read and its wait still wakes it.
A notification carries no data: the waiter re-reads the item, which keeps the database the only
source of truth and lets a lost or duplicate wake-up do no harm.

An item's topic is ``(project_id, kind, call_id)``; ``run_topic(project_id, run_id)`` and
``project_topic(project_id)`` are published too on every create and completion, so a watcher of
a run is woken only by its own run's changes: waking costs O(matching subscribers), whatever the
number of topics subscribed (the notifier is the index from topic to subscribers).

``Notifier`` is the interface; ``InProcessNotifier`` serves one process (SQLite), and
``pg_notifier.PostgresNotifier`` carries topics between replicas on one PostgreSQL database.
``notifier_for`` in ``pg_notifier`` picks one for a storage.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Protocol

Topic = tuple[int, str, str]  # (project_id, kind, call_id)

PROJECT = "project"
RUN = "run"


def project_topic(project_id: int) -> Topic:
    """Published on every create and every completion in a project, beside the item's own topic:
    for watchers of a whole run or inbox, which re-read what they show."""
    return (project_id, PROJECT, "")


def run_topic(project_id: int, run_id: str) -> Topic:
    """Published on every create and every completion of an item of ``run_id``."""
    return (project_id, RUN, run_id)


class Subscription(Protocol):
    async def wait(self, seconds: float) -> bool:
        """True when the topic was published since subscribing (or since the last wait that
        returned True), False after ``seconds``."""
        ...


class Notifier(Protocol):
    def subscribe(self, topic: Topic) -> AbstractAsyncContextManager[Subscription]: ...

    def publish(self, topic: Topic) -> None:
        """Wake every subscriber of ``topic``. Safe to call from any thread."""
        ...

    def start(self) -> None:
        """Begin receiving other processes' wake-ups, if there are any; blocking, call it on a
        worker thread before serving."""
        ...

    def close(self) -> None: ...


class _Waiter:
    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.event = asyncio.Event()

    async def wait(self, seconds: float) -> bool:
        try:
            async with asyncio.timeout(seconds):
                await self.event.wait()
        except TimeoutError:
            return False
        # Cleared before the caller re-reads: a publish after this point wakes the next wait.
        self.event.clear()
        return True

    def wake(self) -> None:
        # publish() runs in a worker thread (the service is synchronous), and asyncio.Event is
        # not thread-safe, so the set is handed to the waiter's own loop.
        with contextlib.suppress(RuntimeError):  # that loop has closed: nobody is waiting
            self.loop.call_soon_threadsafe(self.event.set)


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

    def publish(self, topic: Topic) -> None:
        with self._lock:
            waiters = list(self._waiters.get(topic, ()))
        for waiter in waiters:
            waiter.wake()

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
