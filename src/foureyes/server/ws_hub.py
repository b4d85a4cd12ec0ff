"""The open WebSocket sessions of this process: counted, and closed together on shutdown.

uvicorn closes WebSockets with 1012 (service restart) when it shuts down; the app closes them
first with 1001 (going away) and a reason, so a client can tell a planned stop from a crash.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

logger = logging.getLogger(__name__)

GOING_AWAY = 1001


class Closable(Protocol):
    async def close(self, code: int, reason: str) -> None: ...


class WebSocketHub:
    def __init__(self) -> None:
        self._open: set[Closable] = set()
        self.accepted = 0  # sessions authenticated since start, for tests and benchmarks

    def add(self, session: Closable) -> None:
        self._open.add(session)
        self.accepted += 1

    def discard(self, session: Closable) -> None:
        self._open.discard(session)

    @property
    def open_count(self) -> int:
        return len(self._open)

    async def close_all(self, code: int = GOING_AWAY, reason: str = "server shutting down") -> None:
        sessions = list(self._open)
        if sessions:
            logger.info("closing %d WebSocket session(s): %s", len(sessions), reason)
        await asyncio.gather(*(s.close(code, reason) for s in sessions), return_exceptions=True)
