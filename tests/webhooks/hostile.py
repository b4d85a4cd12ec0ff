"""Hostile webhook receivers on 127.0.0.1, each a plain socket server in a thread of its own.

``TricklingReceiver`` answers every request one byte at a time (a byte every ``interval``
seconds); ``FloodingReceiver`` answers with a body of ``size`` bytes, streamed from one reused
chunk for as long as the client reads. Both record what happened, in order, so a test asserts
on events and byte counts rather than on time. The benchmark (bench/slow_receiver.py) uses them
too; this module imports nothing of foureyes.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any


def _read_request(conn: socket.socket) -> bytes:
    """The request's head and body (by its content-length); b"" if the client went away."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return b""
        body += chunk
    return head + b"\r\n\r\n" + body


class _SocketReceiver:
    """Accepts connections until stopped, handling each on a thread of its own."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._open: set[socket.socket] = set()
        acceptor = threading.Thread(target=self._accept, daemon=True)
        acceptor.start()
        self._threads.append(acceptor)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def record(self, kind: str, detail: Any = None) -> None:
        with self._lock:
            self.events.append((kind, detail))

    def snapshot(self) -> list[tuple[str, Any]]:
        with self._lock:
            return list(self.events)

    def count(self, kind: str) -> int:
        return sum(1 for event, _ in self.snapshot() if event == kind)

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._open.add(conn)
            handler = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            handler.start()
            self._threads.append(handler)

    def _serve(self, conn: socket.socket) -> None:
        try:
            request = _read_request(conn)
            if request:
                self.record("request", request)
                self.answer(conn)
        except OSError as exc:
            self.record("error", exc)
        finally:
            with self._lock:
                self._open.discard(conn)
            conn.close()

    def answer(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self._stopping.set()
        self._listener.close()
        with self._lock:
            for conn in self._open:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=5)


class TricklingReceiver(_SocketReceiver):
    """Answers 200 with ``body``, sending the whole answer (status line included) a byte at a
    time. Records ``("cut", bytes_sent)`` when the client closes before the end, ``("done", n)``
    when it was all sent."""

    def __init__(self, *, interval: float = 0.5, body: bytes = b"x" * 200) -> None:
        self.interval = interval
        self.answer_bytes = b"HTTP/1.1 200 OK\r\n" + f"content-length: {len(body)}\r\n\r\n".encode() + body
        super().__init__()

    def answer(self, conn: socket.socket) -> None:
        for sent in range(len(self.answer_bytes)):
            if self._stopping.wait(self.interval):
                self.record("stopped", sent)
                return
            try:
                conn.sendall(self.answer_bytes[sent : sent + 1])
            except OSError:
                self.record("cut", sent)
                return
            # a closed client shows as an empty read once its FIN has arrived
            conn.setblocking(False)
            try:
                if conn.recv(1) == b"":
                    self.record("cut", sent + 1)
                    return
            except BlockingIOError:
                pass
            finally:
                conn.setblocking(True)
        self.record("done", len(self.answer_bytes))


class FloodingReceiver(_SocketReceiver):
    """Answers ``status`` with a ``size``-byte body, streamed from one 64 KiB chunk while the
    client reads. Records ``("sent", n)``: the body bytes the kernel accepted before the client
    closed (or all of them)."""

    CHUNK = b"A" * 65536

    def __init__(self, *, size: int = 200 * 1024 * 1024, status: int = 200) -> None:
        self.size = size
        self.status = status
        super().__init__()

    def answer(self, conn: socket.socket) -> None:
        conn.sendall(
            f"HTTP/1.1 {self.status} Flood\r\ncontent-type: text/plain\r\n"
            f"content-length: {self.size}\r\n\r\n".encode()
        )
        chunk = memoryview(self.CHUNK)
        sent = 0
        try:
            while sent < self.size and not self._stopping.is_set():
                piece = chunk[: min(len(chunk), self.size - sent)]
                conn.sendall(piece)
                sent += len(piece)
        except OSError:
            pass
        self.record("sent", sent)

    def body_bytes_sent(self) -> int:
        return sum(n for kind, n in self.snapshot() if kind == "sent")


@contextlib.contextmanager
def running(receiver: _SocketReceiver) -> Iterator[Any]:
    try:
        yield receiver
    finally:
        receiver.stop()


async def wait_until(condition: Any, *, limit: float = 60.0, step: float = 0.02) -> bool:
    """Poll ``condition`` until it holds or ``limit`` seconds pass (a bound, not an assertion),
    leaving the event loop to the worker meanwhile."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if condition():
            return True
        await asyncio.sleep(step)
    return bool(condition())
