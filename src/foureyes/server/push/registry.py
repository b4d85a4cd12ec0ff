"""Every live subscriber of this process, in one place: whose it is, what it may hold, how it ends.

A subscriber is a WebSocket connection, a long-poll (``GET ...?wait=S``) or an inbox event
stream. Each registers here, for as long as it is open, with the ``Grant`` it was authorised by
(an API key, or a person's sign-in session in one project). The registry

- counts a key's WebSocket connections and what they watch, against ``limits.Limits``, and
  hands out the key's share of worker threads (``reads``);
- ends the subscribers whose grant is gone when ``revocations.Revocations`` says so
  (``end``): a WebSocket is closed with 4401, a long-poll wakes and re-reads (which answers 401),
  an event stream sends its last ``revoked`` event;
- closes every WebSocket with 1001 (going away) and a reason on shutdown (``close_all``), so a
  client can tell a planned stop from a crash (uvicorn would close them with 1012).

It is used on the event loop only, and holds no topic subscriptions itself: a subscriber
subscribes to its topics through the notifier, and waits with ``Subscriber.wait``, which
returns early when the subscriber is revoked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection, Iterator
from dataclasses import dataclass

from foureyes.server.push.limits import READS_PER_KEY, Limits, Refusal
from foureyes.server.push.topics import Subscription

logger = logging.getLogger(__name__)

WEBSOCKET = "websocket"
LONG_POLL = "long-poll"
EVENT_STREAM = "event-stream"

GOING_AWAY = 1001


@dataclass(frozen=True)
class KeyGrant:
    """Opened with an API key (a WebSocket, a long-poll): good while the key authenticates."""

    key_id: int


@dataclass(frozen=True)
class SessionGrant:
    """A person's inbox stream of one project: good while the sign-in session lasts and the
    person has a role in the project. ``session_hash`` is the stored hash of the cookie."""

    session_hash: str
    project_id: int


Grant = KeyGrant | SessionGrant
OnRevoked = Callable[[], Awaitable[None]]
OnShutdown = Callable[[int, str], Awaitable[None]]


class Subscriber:
    """One live subscriber. ``revoked`` is set once its grant is gone; ``on_revoked`` (a
    WebSocket's close) is awaited then too, ``on_shutdown`` when the server stops, and
    ``watches`` says how many items and runs it watches (a WebSocket's subscriptions)."""

    def __init__(
        self,
        kind: str,
        grant: Grant,
        *,
        on_revoked: OnRevoked | None = None,
        on_shutdown: OnShutdown | None = None,
        watches: Callable[[], int] | None = None,
    ) -> None:
        self.kind = kind
        self.grant = grant
        self.revoked = asyncio.Event()
        self._on_revoked = on_revoked
        self._on_shutdown = on_shutdown
        self._watches = watches

    @property
    def key_id(self) -> int | None:
        return self.grant.key_id if isinstance(self.grant, KeyGrant) else None

    @property
    def watch_count(self) -> int:
        return 0 if self._watches is None else self._watches()

    async def wait(self, subscription: Subscription, seconds: float) -> bool | None:
        """Whether ``subscription``'s topic was published within ``seconds``; None as soon as
        this subscriber is revoked, also in the middle of the wait."""
        if self.revoked.is_set():
            return None
        waiting = asyncio.ensure_future(subscription.wait(seconds))
        stopping = asyncio.ensure_future(self.revoked.wait())
        try:
            await asyncio.wait((waiting, stopping), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            waiting.cancel()
        if self.revoked.is_set() or waiting.cancelled() or not waiting.done():
            return None
        return waiting.result()

    async def revoke(self) -> None:
        self.revoked.set()
        if self._on_revoked is not None:
            await self._on_revoked()

    async def shut_down(self, code: int, reason: str) -> None:
        if self._on_shutdown is not None:
            await self._on_shutdown(code, reason)


class _Key:
    """What one API key holds on the WebSocket endpoint of this process."""

    def __init__(self) -> None:
        self.websockets: set[Subscriber] = set()
        self.reads = asyncio.Semaphore(READS_PER_KEY)


class Registry:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._live: set[Subscriber] = set()
        self._keys: dict[int, _Key] = {}
        self.accepted = 0  # WebSocket connections admitted since start, for tests and benchmarks

    # ------------------------------------------------------------------ registering

    def add(self, subscriber: Subscriber) -> Refusal | None:
        """Register ``subscriber`` until ``discard``; a WebSocket is refused when its key holds
        the most connections it may already."""
        key_id = subscriber.key_id
        if subscriber.kind == WEBSOCKET and key_id is not None:
            key = self._keys.setdefault(key_id, _Key())
            refusal = self.limits.refuse_connection(len(key.websockets))
            if refusal is not None:
                self._forget_if_idle(key_id)
                return refusal
            key.websockets.add(subscriber)
            self.accepted += 1
        self._live.add(subscriber)
        return None

    def discard(self, subscriber: Subscriber) -> None:
        self._live.discard(subscriber)
        key_id = subscriber.key_id
        key = None if key_id is None else self._keys.get(key_id)
        if key is not None and key_id is not None:
            key.websockets.discard(subscriber)
            self._forget_if_idle(key_id)

    def _forget_if_idle(self, key_id: int) -> None:
        if not self._keys[key_id].websockets:
            del self._keys[key_id]

    @contextlib.contextmanager
    def holding(self, subscriber: Subscriber) -> Iterator[Subscriber]:
        """Registered for the block: for the subscribers no limit applies to (long-polls and
        event streams)."""
        if subscriber.kind == WEBSOCKET:
            raise ValueError("a WebSocket may be refused: add it and check the refusal")
        self.add(subscriber)
        try:
            yield subscriber
        finally:
            self.discard(subscriber)

    # ------------------------------------------------------------------ limits

    def check_subscribe(self, subscriber: Subscriber, new: int) -> Refusal | None:
        """Whether the WebSocket ``subscriber`` may watch ``new`` more items and runs."""
        key_id = subscriber.key_id
        key_watches = 0 if key_id is None else self.watching(key_id)
        return self.limits.refuse_subscribe(subscriber.watch_count, key_watches, new)

    def reads(self, key_id: int) -> asyncio.Semaphore:
        """Held around each read a watcher of this key makes (the key must hold a connection)."""
        return self._keys[key_id].reads

    def watching(self, key_id: int) -> int:
        """Items and runs the key's WebSocket connections watch."""
        key = self._keys.get(key_id)
        return 0 if key is None else sum(s.watch_count for s in key.websockets)

    # ------------------------------------------------------------------ counting

    @property
    def open_count(self) -> int:
        return len(self._live)

    def count(self, kind: str) -> int:
        return sum(1 for s in self._live if s.kind == kind)

    def watch_count(self) -> int:
        """Items and runs all WebSocket connections of this process watch."""
        return sum(s.watch_count for s in self._live)

    def live(self) -> list[Subscriber]:
        return list(self._live)

    # ------------------------------------------------------------------ ending

    async def end(self, subscribers: Collection[Subscriber]) -> int:
        """End ``subscribers``, whose grant is gone: each is revoked once, and counted live no more.
        How many were still live. A WebSocket keeps its place among its key's connections (and
        its watchers their share of threads) until its session has ended and discards itself."""
        gone = [s for s in subscribers if s in self._live]
        for subscriber in gone:
            self._live.discard(subscriber)
        await asyncio.gather(*(s.revoke() for s in gone), return_exceptions=True)
        return len(gone)

    async def close_all(self, code: int = GOING_AWAY, reason: str = "server shutting down") -> None:
        """Close every WebSocket connection (others end with the server as plain HTTP does)."""
        sessions = [s for s in self._live if s.kind == WEBSOCKET]
        if sessions:
            logger.info("closing %d WebSocket session(s): %s", len(sessions), reason)
        await asyncio.gather(*(s.shut_down(code, reason) for s in sessions), return_exceptions=True)
