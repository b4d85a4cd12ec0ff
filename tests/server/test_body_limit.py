"""Bodies over max_body_bytes (4 KiB in these tests) are refused with 413 before parsing; bodies
that do not arrive in full within body_timeout_seconds get 408 and lose their connection."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
import uvicorn
from starlette.types import Message, Receive, Scope, Send

from foureyes.server.app import create_app
from foureyes.server.body_limit import BodySizeLimit
from foureyes.server.settings import Settings


def _padded(make_function_call: Any, size: int) -> bytes:
    body = make_function_call()
    raw = json.dumps(body).encode()
    body["spec"]["kwargs"]["pad"] = "x" * (size - len(raw) - len(', "pad": ""'))
    encoded = json.dumps(body).encode()
    assert len(encoded) == size
    return encoded


def test_body_at_the_limit_is_accepted(agent: Any, make_function_call: Any) -> None:
    response = agent.post("/function_calls", content=_padded(make_function_call, 4096))
    assert response.status_code == 200


def test_declared_length_over_the_limit(agent: Any, make_function_call: Any, expect_error: Any) -> None:
    response = agent.post("/function_calls", content=_padded(make_function_call, 4097))
    error = expect_error(response, 413, "payload_too_large")
    assert "4096" in error["message"]


def test_chunked_body_over_the_limit(agent: Any, make_function_call: Any, expect_error: Any) -> None:
    raw = _padded(make_function_call, 6000)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(raw), 1000):
            yield raw[start : start + 1000]

    response = agent.post("/function_calls", content=chunks())
    expect_error(response, 413, "payload_too_large")
    assert agent.get("/agent/function_calls/pending").json()["total"] == 0


def test_chunked_body_under_the_limit(agent: Any, make_function_call: Any) -> None:
    raw = json.dumps(make_function_call()).encode()
    response = agent.post("/function_calls", content=iter([raw[:10], raw[10:]]))
    assert response.status_code == 200


async def _run(
    messages: list[Message], *, max_bytes: int = 100, deadline: float = 30.0, then_wait: bool = False
) -> tuple[list[Message], list[bytes]]:
    """Drive the middleware with ``messages`` as the client's body (then, with ``then_wait``,
    nothing more, else a disconnect); what it sent and what the inner app read."""
    sent: list[Message] = []
    read: list[bytes] = []
    pending = list(messages)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        read.append((await receive()).get("body", b""))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then_wait:
            await anyio.sleep_forever()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
    await BodySizeLimit(app, max_bytes=max_bytes, timeout_seconds=deadline)(scope, receive, send)
    return sent, read


@pytest.mark.anyio
async def test_streamed_messages_are_counted() -> None:
    """At the ASGI level: several body messages, no Content-Length, the third one crosses the
    limit; the middleware answers 413 itself and the app never sees the body."""
    messages = [{"type": "http.request", "body": b"x" * 40, "more_body": True} for _ in range(3)]
    sent, seen = await _run(messages)
    assert seen == []
    assert sent[0]["status"] == 413
    assert (b"connection", b"close") in sent[0]["headers"]
    assert b"larger than 100 bytes" in sent[1]["body"]


@pytest.mark.anyio
async def test_a_body_in_pieces_reaches_the_app_whole() -> None:
    messages = [
        {"type": "http.request", "body": b"ab", "more_body": True},
        {"type": "http.request", "body": b"cd", "more_body": False},
    ]
    sent, seen = await _run(messages)
    assert seen == [b"abcd"]
    assert sent[0]["status"] == 204


@pytest.mark.anyio
async def test_half_sent_body_gets_408() -> None:
    messages = [{"type": "http.request", "body": b"{", "more_body": True}]
    sent, seen = await _run(messages, deadline=0.05, then_wait=True)
    assert seen == []
    assert sent[0]["status"] == 408
    assert (b"connection", b"close") in sent[0]["headers"]
    error = json.loads(sent[1]["body"])["error"]
    assert error["code"] == "request_timeout"
    assert "body_timeout_seconds" in error["message"]


@pytest.mark.anyio
async def test_a_client_gone_mid_body_gets_no_answer() -> None:
    messages = [{"type": "http.request", "body": b"{", "more_body": True}]
    sent, seen = await _run(messages)
    assert (sent, seen) == ([], [])


def test_bad_content_length(agent: Any, expect_error: Any) -> None:
    scope_app = agent.client.app
    sent: list[Message] = []

    async def run() -> None:
        async def receive() -> Message:
            return {"type": "http.request", "body": b"{}", "more_body": False}

        async def send(message: Message) -> None:
            sent.append(message)

        scope: Scope = {
            "type": "http",
            "method": "POST",
            "path": "/humanlayer/v1/function_calls",
            "headers": [(b"content-length", b"abc")],
        }
        await BodySizeLimit(scope_app, max_bytes=10)(scope, receive, send)

    anyio.run(run)
    assert sent[0]["status"] == 400
    assert json.loads(sent[1]["body"])["error"]["code"] == "invalid_parameter"


@pytest.fixture
def served(database_url: str) -> Iterator[tuple[int, str]]:
    """The app under a real uvicorn on a free port (a thread of this process), with a short body
    deadline; yields the port and an agent key."""
    settings = Settings(database_url=database_url, body_timeout_seconds=0.5)
    app = create_app(settings)
    key = app.state.service.keys.create_api_key().plaintext
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started:
                break
            time.sleep(0.01)
        assert server.started
        yield port, key
    finally:
        server.should_exit = True
        thread.join(10)


def _read_until_closed(conn: socket.socket) -> bytes:
    received = b""
    while chunk := conn.recv(65536):
        received += chunk
    return received


def test_half_sent_body_gets_408_and_the_connection_is_closed(served: tuple[int, str]) -> None:
    port, key = served
    head = (
        "POST /humanlayer/v1/function_calls HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(head.encode() + b'{"run_id": ')
        # The server answers and then closes: recv returns b"" (a timeout here would raise).
        received = _read_until_closed(conn)
    status_line, _, rest = received.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 408 Request Timeout"
    assert b"connection: close" in rest.lower()
    assert json.loads(rest.split(b"\r\n\r\n", 1)[1])["error"]["code"] == "request_timeout"
    # Nothing was stored, and the server serves the next connection as usual.
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(
            b"GET /humanlayer/v1/agent/function_calls/pending HTTP/1.1\r\nHost: x\r\n"
            + f"Authorization: Bearer {key}\r\nConnection: close\r\n\r\n".encode()
        )
        answer = _read_until_closed(conn)
    assert answer.startswith(b"HTTP/1.1 200")
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["total"] == 0
