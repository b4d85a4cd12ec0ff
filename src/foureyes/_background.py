"""One event-loop thread per process, on which the sync client runs its push channels.

The WebSocket code is written once, for asyncio (``_push``); ``HumanLayer`` hands each wait to
this loop and blocks on the answer. The thread is a daemon: it never keeps a process alive.
"""

from __future__ import annotations

import asyncio
import threading

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None


def loop() -> asyncio.AbstractEventLoop:
    global _loop, _thread
    with _lock:
        if _loop is None or _thread is None or not _thread.is_alive():
            _loop = asyncio.new_event_loop()
            _thread = threading.Thread(target=_loop.run_forever, name="foureyes-push", daemon=True)
            _thread.start()
        return _loop
