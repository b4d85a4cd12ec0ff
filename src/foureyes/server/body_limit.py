"""Reads every request body in full, within a size limit and a deadline, before the app sees it.

A body larger than ``max_bytes`` gets 413, one that has not fully arrived ``timeout_seconds`` after
its headers gets 408; both answers close the connection, so a client that sends slowly or too much
holds neither memory nor a connection for long. The app then reads the body from memory; after
that, ``receive`` is the server's own again (a streaming response waits on it for the disconnect).
"""

from __future__ import annotations

import anyio
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from foureyes.server.domain.errors import (
    DomainError,
    InvalidParameterError,
    PayloadTooLargeError,
    RequestTimeoutError,
)
from foureyes.server.http.errors import error_response


class _RefusedError(Exception):
    def __init__(self, error: DomainError) -> None:
        self.error = error


class _DisconnectedError(Exception):
    pass


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, timeout_seconds: float = 30.0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_seconds = timeout_seconds

    def _too_large(self) -> PayloadTooLargeError:
        return PayloadTooLargeError(
            f"the request body is larger than {self.max_bytes} bytes "
            "(the setting max_body_bytes, FOUREYES_MAX_BODY_BYTES)"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            self._check_declared(scope)
            body = await self._read_body(receive)
        except _RefusedError as refused:
            response = error_response(refused.error)
            # The rest of the body is never read, so the connection cannot carry another request.
            response.headers["Connection"] = "close"
            await response(scope, receive, send)
            return
        except _DisconnectedError:
            return

        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _check_declared(self, scope: Scope) -> None:
        declared = Headers(scope=scope).get("content-length")
        if declared is None:
            return
        if not declared.isdigit():
            raise _RefusedError(InvalidParameterError("invalid Content-Length header"))
        if int(declared) > self.max_bytes:
            raise _RefusedError(self._too_large())

    async def _read_body(self, receive: Receive) -> bytes:
        # A chunked body has no Content-Length: what actually arrives is counted.
        chunks: list[bytes] = []
        received = 0
        with anyio.move_on_after(self.timeout_seconds) as deadline:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise _DisconnectedError
                chunk = message.get("body", b"")
                received += len(chunk)
                if received > self.max_bytes:
                    raise _RefusedError(self._too_large())
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(chunks)
        assert deadline.cancelled_caught
        raise _RefusedError(
            RequestTimeoutError(
                f"the request body did not arrive within {self.timeout_seconds:g} seconds "
                "(the setting body_timeout_seconds, FOUREYES_BODY_TIMEOUT_SECONDS)"
            )
        )
