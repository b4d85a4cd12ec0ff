"""The HTTP client and push channel of one ``HumanLayer``, shared by all its threads.

Written by hand, as is its asyncio twin (`foureyes._async.connections`): this is where the two
clients truly differ. The push channel is asyncio code; it runs on the process's background
event-loop thread (``_background``) and the calling thread blocks on its answer.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable

import httpx

from foureyes import _background
from foureyes._core import PushOutcome, Watch
from foureyes._push import PushChannel


class Connections:
    def __init__(
        self,
        transport: httpx.BaseTransport | None,
        http_client: httpx.Client | None,
        new_push: Callable[[], PushChannel],
    ) -> None:
        self._transport = transport
        self.http = http_client
        self._owns_http = http_client is None
        self._lock = threading.Lock()
        self._finalizer: weakref.finalize[[], Connections] | None = None
        self._new_push = new_push
        self.push: PushChannel | None = None

    def client(self) -> httpx.Client:
        with self._lock:
            if self.http is None:
                self.http = httpx.Client(transport=self._transport)
                # HumanLayer's clients need no closing, so code written for them never closes
                # ours: close the connections when the client (and so this object) is collected.
                self._finalizer = weakref.finalize(self, self.http.close)
            return self.http

    def watch(self, step: Watch) -> PushOutcome:
        with self._lock:
            if self.push is None:
                self.push = self._new_push()
            channel = self.push
        future = asyncio.run_coroutine_threadsafe(
            channel.watch(step.kind, step.call_id, step.seconds), _background.loop()
        )
        try:
            return future.result()
        except BaseException:  # KeyboardInterrupt, say: stop watching on the loop too
            future.cancel()
            raise

    def close(self) -> None:
        with self._lock:
            if self.http is not None and self._owns_http:
                if self._finalizer is not None:
                    self._finalizer()
                self.http = None
            channel, self.push = self.push, None
        if channel is not None:
            asyncio.run_coroutine_threadsafe(channel.aclose(), _background.loop()).result(timeout=30)
