"""What one API key may hold on the WebSocket endpoint: connections, subscriptions, worker threads.

One key's open sessions are kept together, so a subscribe is checked against the connection's
own limit and against what all the key's connections watch, and a new connection against how
many the key holds. Each limit is a setting (``ws_max_*``, see docs/configuration.md). They are
counted per server process: a key may hold up to the limits on each replica.

The watchers of all of one key's sessions also share a few worker threads
(``READS_PER_KEY``), so a bulk subscribe, which reads every item and run it names, cannot take
the thread pool from other requests.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Protocol

from foureyes.server.settings import Settings

# Worker threads the watchers of one key's sessions may use at once (of the process's 40).
READS_PER_KEY = 4

SUBSCRIPTIONS_PER_CONNECTION = "subscriptions_per_connection"
SUBSCRIPTIONS_PER_KEY = "subscriptions_per_key"
CONNECTIONS_PER_KEY = "connections_per_key"


class Counted(Protocol):
    @property
    def subscription_count(self) -> int: ...


@dataclass(frozen=True)
class Refusal:
    """A limit that a connection or a subscribe would go over."""

    limit: str  # one of the names above, as announced in the ``ready`` frame
    maximum: int
    message: str

    def frame(self, code: str, **extra: Any) -> dict[str, Any]:
        return {
            "type": "error",
            "code": code,
            "message": self.message,
            "limit": self.limit,
            "max": self.maximum,
            **extra,
        }


class _Key:
    def __init__(self) -> None:
        self.sessions: set[Counted] = set()
        self.reads = asyncio.Semaphore(READS_PER_KEY)


class KeyLimits:
    def __init__(self, settings: Settings) -> None:
        self.per_connection = settings.ws_max_subscriptions_per_connection
        self.per_key = settings.ws_max_subscriptions_per_key
        self.connections = settings.ws_max_connections_per_key
        self._keys: dict[int, _Key] = {}

    def announced(self) -> dict[str, int]:
        """The limits as the ``ready`` frame tells them to the client."""
        return {
            SUBSCRIPTIONS_PER_CONNECTION: self.per_connection,
            SUBSCRIPTIONS_PER_KEY: self.per_key,
            CONNECTIONS_PER_KEY: self.connections,
        }

    def open(self, key_id: int, session: Counted) -> Refusal | None:
        """Count ``session`` as one of the key's connections, unless it already holds the most."""
        key = self._keys.setdefault(key_id, _Key())
        if len(key.sessions) >= self.connections:
            return Refusal(
                CONNECTIONS_PER_KEY,
                self.connections,
                f"this API key already holds {self.connections} WebSocket connections to this "
                "server, the most it may; close one first",
            )
        key.sessions.add(session)
        return None

    def close(self, key_id: int, session: Counted) -> None:
        key = self._keys.get(key_id)
        if key is not None:
            key.sessions.discard(session)
            if not key.sessions:
                del self._keys[key_id]

    def reads(self, key_id: int) -> asyncio.Semaphore:
        """Held around each read a watcher of this key makes (the key must be open)."""
        return self._keys[key_id].reads

    def watching(self, key_id: int) -> int:
        key = self._keys.get(key_id)
        return 0 if key is None else sum(s.subscription_count for s in key.sessions)

    def check_subscribe(self, key_id: int, session: Counted, new: int) -> Refusal | None:
        """Whether ``session`` may watch ``new`` more items and runs."""
        if session.subscription_count + new > self.per_connection:
            return Refusal(
                SUBSCRIPTIONS_PER_CONNECTION,
                self.per_connection,
                f"a connection may watch at most {self.per_connection} items and runs; it watches "
                f"{session.subscription_count} and this frame adds {new}: nothing of it was subscribed",
            )
        watching = self.watching(key_id)
        if watching + new > self.per_key:
            return Refusal(
                SUBSCRIPTIONS_PER_KEY,
                self.per_key,
                f"an API key may watch at most {self.per_key} items and runs over all its "
                f"connections; it watches {watching} and this frame adds {new}: nothing of it was "
                "subscribed",
            )
        return None
