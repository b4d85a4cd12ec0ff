"""What one API key may hold on the WebSocket endpoint: connections, subscriptions, worker threads.

A subscribe is checked against the connection's own limit and against what all the key's
connections watch, and a new connection against how many the key holds. Each limit is a
setting (``ws_max_*``, see docs/configuration.md). They are counted per server process, by the
registry (``registry.Registry``): a key may hold up to the limits on each replica.

The watchers of all of one key's sessions also share a few worker threads
(``READS_PER_KEY``), so a bulk subscribe, which reads every item and run it names, cannot take
the thread pool from other requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from foureyes.server.settings import Settings

# Worker threads the watchers of one key's sessions may use at once (of the process's 40).
READS_PER_KEY = 4

SUBSCRIPTIONS_PER_CONNECTION = "subscriptions_per_connection"
SUBSCRIPTIONS_PER_KEY = "subscriptions_per_key"
CONNECTIONS_PER_KEY = "connections_per_key"


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


@dataclass(frozen=True)
class Limits:
    per_connection: int
    per_key: int
    connections: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            per_connection=settings.ws_max_subscriptions_per_connection,
            per_key=settings.ws_max_subscriptions_per_key,
            connections=settings.ws_max_connections_per_key,
        )

    def announced(self) -> dict[str, int]:
        """The limits as the ``ready`` frame tells them to the client."""
        return {
            SUBSCRIPTIONS_PER_CONNECTION: self.per_connection,
            SUBSCRIPTIONS_PER_KEY: self.per_key,
            CONNECTIONS_PER_KEY: self.connections,
        }

    def refuse_connection(self, held: int) -> Refusal | None:
        """Whether a key that holds ``held`` connections may open one more."""
        if held < self.connections:
            return None
        return Refusal(
            CONNECTIONS_PER_KEY,
            self.connections,
            f"this API key already holds {self.connections} WebSocket connections to this "
            "server, the most it may; close one first",
        )

    def refuse_subscribe(self, connection_watches: int, key_watches: int, new: int) -> Refusal | None:
        """Whether a connection may watch ``new`` more items and runs."""
        if connection_watches + new > self.per_connection:
            return Refusal(
                SUBSCRIPTIONS_PER_CONNECTION,
                self.per_connection,
                f"a connection may watch at most {self.per_connection} items and runs; it watches "
                f"{connection_watches} and this frame adds {new}: nothing of it was subscribed",
            )
        if key_watches + new > self.per_key:
            return Refusal(
                SUBSCRIPTIONS_PER_KEY,
                self.per_key,
                f"an API key may watch at most {self.per_key} items and runs over all its "
                f"connections; it watches {key_watches} and this frame adds {new}: nothing of it was "
                "subscribed",
            )
        return None
