"""Bodies over max_body_bytes (4 KiB in these tests) are refused with 413 before parsing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from foureyes.server.body_limit import BodySizeLimit


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


@pytest.mark.anyio
async def test_streamed_messages_are_counted() -> None:
    """At the ASGI level: several body messages, no Content-Length, the third one crosses the limit."""
    seen: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            seen.append(len(message.get("body", b"")))
            if not message.get("more_body"):
                break

    messages = [{"type": "http.request", "body": b"x" * 40, "more_body": True} for _ in range(3)]

    async def receive() -> Message:
        return messages.pop(0)

    async def send(_message: Message) -> None:
        raise AssertionError("nothing is sent by the inner app")

    limited = BodySizeLimit(app, max_bytes=100)
    scope: Scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
    with pytest.raises(Exception, match="larger than 100 bytes"):
        await limited(scope, receive, send)
    assert seen == [40, 40]


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

    import anyio

    anyio.run(run)
    assert sent[0]["status"] == 400
    assert json.loads(sent[1]["body"])["error"]["code"] == "invalid_parameter"
