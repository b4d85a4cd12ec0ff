"""A stand-in for a browser's push service on 127.0.0.1, and a browser's side of a subscription.

The service records every message it is sent and answers each subscription path with the
status a test sets (201 by default). ``BrowserKeys`` is what ``PushManager.subscribe`` makes in
a browser: an ECDH P-256 key pair and a 16-byte auth secret; it decrypts what the service got
(``aes128gcm``, RFC 8188/8291) as the browser would.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

HANG_GUARD_SECONDS = 20.0


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class PushService:
    url: str = ""
    received: list[Received] = field(default_factory=list)
    # path -> the status answered to it
    status: dict[str, int] = field(default_factory=dict)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, path: str | None = None) -> list[Received]:
        deadline = time.monotonic() + HANG_GUARD_SECONDS
        with self.changed:
            while True:
                found = [r for r in self.received if path is None or r.path == path]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                assert left > 0, f"the push service got {len(found)} messages, expected {count}"
                self.changed.wait(left)


@contextmanager
def running_push_service() -> Iterator[PushService]:
    service = PushService()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            with service.changed:
                service.received.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                service.changed.notify_all()
            status = service.status.get(self.path, 201)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    service.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield service
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class BrowserKeys:
    """One browser's subscription keys."""

    def __init__(self) -> None:
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.p256dh = b64url(point)
        self.secret = os.urandom(16)
        self.auth = b64url(self.secret)

    def decrypt(self, received: Received) -> dict[str, Any]:
        assert received.headers["content-encoding"] == "aes128gcm"
        plain = http_ece.decrypt(
            received.body, private_key=self.private_key, auth_secret=self.secret, version="aes128gcm"
        )
        found: dict[str, Any] = json.loads(plain)
        return found


def vapid_claims(received: Received) -> tuple[dict[str, Any], str]:
    """The JWT claims and the public key ``k`` of the request's ``Authorization: vapid t=..., k=...``,
    after checking the JWT's ES256 signature against ``k``."""
    from py_vapid import Vapid02

    header = received.headers["authorization"]
    assert header.startswith("vapid "), header
    assert Vapid02.verify(header), "the VAPID signature does not verify"
    parts = dict(part.strip().split("=", 1) for part in header[len("vapid ") :].split(","))
    claims = json.loads(unb64url(parts["t"].split(".")[1]))
    return claims, parts["k"]
