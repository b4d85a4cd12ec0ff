"""The HTTP client and push channel of one ``AsyncHumanLayer``: one of each per event loop.

Written by hand, as is its sync twin (`foureyes._sync.connections`): this is where the two
clients truly differ.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from foureyes._core import PushOutcome, Watch
from foureyes._push import PushChannel


class AsyncConnections:
    def __init__(
        self,
        transport: httpx.AsyncBaseTransport | None,
        http_client: httpx.AsyncClient | None,
        new_push: Callable[[], PushChannel],
    ) -> None:
        self._transport = transport
        self.http = http_client
        self._owns_http = http_client is None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._new_push = new_push
        self.push: PushChannel | None = None
        self._push_loop: asyncio.AbstractEventLoop | None = None

    def client(self) -> httpx.AsyncClient:
        if not self._owns_http:
            assert self.http is not None
            return self.http
        # An httpx.AsyncClient's connections belong to one event loop, and a module-level
        # default client may outlive several asyncio.run() calls: one client per loop.
        loop = asyncio.get_running_loop()
        if self.http is None or self._loop is not loop:
            # No idle connections are kept: an async client cannot be closed when it is
            # collected, and code written for HumanLayer never closes it.
            limits = httpx.Limits(max_keepalive_connections=0)
            self.http = httpx.AsyncClient(transport=self._transport, limits=limits)
            self._loop = loop
        return self.http

    async def watch(self, step: Watch) -> PushOutcome:
        # Like the HTTP client, a WebSocket belongs to one event loop: one channel per loop.
        loop = asyncio.get_running_loop()
        if self.push is None or self._push_loop is not loop:
            self.push = self._new_push()
            self._push_loop = loop
        return await self.push.watch(step.kind, step.call_id, step.seconds)

    async def aclose(self) -> None:
        if self.http is not None and self._owns_http:
            await self.http.aclose()
            self.http = None
        if self.push is not None and self._push_loop is asyncio.get_running_loop():
            await self.push.aclose()
        self.push = None
