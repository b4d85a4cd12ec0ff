"""The core's push rules, driven step by step with no I/O: Watch after the create, fall back to
long-poll when push is unavailable, and never treat anything but a completed item as an answer."""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any

import pytest

from foureyes import ApprovalTimeout, FunctionCall, FunctionCallSpec, RetryPolicy
from foureyes._core import (
    FUNCTION_CALLS,
    Pushed,
    PushQuiet,
    PushUnavailable,
    Reply,
    Response,
    Send,
    Sleep,
    Step,
    Watch,
    await_completion,
)
from foureyes._push import websocket_url

from .conftest import FakeClock

ITEM = FunctionCall(run_id="run-1", call_id="call-1", spec=FunctionCallSpec(fn="wire", kwargs={"usd": 5}))


def as_json(approved: bool | None, comment: str | None = None) -> bytes:
    body = ITEM.model_dump(mode="json")
    body["status"] = {
        "requested_at": "2026-01-01T00:00:00Z",
        "responded_at": None if approved is None else "2026-01-01T00:01:00Z",
        "approved": approved,
        "comment": comment,
    }
    return json.dumps(body).encode()


def start(clock: FakeClock, timeout: float | None = None) -> Generator[Step, Reply | None, Any]:
    return await_completion(
        ITEM,
        FUNCTION_CALLS,
        policy=RetryPolicy(jitter=lambda: 1.0, push_wait=100.0),
        http_timeout=30.0,
        timeout=timeout,
        clock=clock,
        push=True,
    )


def created(operation: Generator[Step, Reply | None, Any]) -> Step:
    step = next(operation)
    assert isinstance(step, Send)
    assert step.request.method == "POST"
    return operation.send(Response(200, as_json(None)))


def test_after_the_create_the_wait_watches_the_item(clock: FakeClock) -> None:
    operation = start(clock)
    step = created(operation)
    assert step == Watch("function_call", "call-1", 100.0)
    with pytest.raises(StopIteration) as done:
        operation.send(Pushed(as_json(True, "fine")))
    assert done.value.value.status.approved is True
    assert done.value.value.status.comment == "fine"


def test_a_quiet_watch_or_a_pending_push_watches_again(clock: FakeClock) -> None:
    operation = start(clock)
    created(operation)
    assert isinstance(operation.send(PushQuiet()), Watch)
    assert isinstance(operation.send(Pushed(as_json(None))), Watch)
    with pytest.raises(StopIteration) as done:
        operation.send(Pushed(as_json(False, "no")))
    assert done.value.value.status.approved is False


def test_push_unavailable_falls_back_to_long_poll_for_the_rest_of_the_wait(clock: FakeClock) -> None:
    operation = start(clock)
    created(operation)
    step = operation.send(PushUnavailable("HTTP 404"))
    assert isinstance(step, Send)
    assert step.request.method == "GET"
    assert step.request.params == {"wait": "25.000"}
    clock.now += 25
    step = operation.send(Response(200, as_json(None)))
    assert isinstance(step, Send)  # still long-polling, no more watches
    with pytest.raises(StopIteration) as done:
        operation.send(Response(200, as_json(True)))
    assert done.value.value.status.approved is True


def test_watches_are_clipped_to_the_deadline_which_ends_the_wait_unapproved(clock: FakeClock) -> None:
    operation = start(clock, timeout=10.0)
    step = created(operation)
    assert isinstance(step, Watch)
    assert step.seconds == pytest.approx(10.0)
    clock.now += 10.0
    with pytest.raises(ApprovalTimeout):
        operation.send(PushQuiet())


def test_a_pushed_item_that_is_not_valid_is_an_error_not_an_approval(clock: FakeClock) -> None:
    operation = start(clock)
    created(operation)
    with pytest.raises(Exception, match="not a valid FunctionCall"):
        operation.send(Pushed(b'{"status": {"approved": true}}'))


def test_no_sleep_is_ever_needed_while_pushes_arrive(clock: FakeClock) -> None:
    operation = start(clock)
    steps = [created(operation)] + [operation.send(PushQuiet()) for _ in range(5)]
    assert not any(isinstance(s, Sleep) for s in steps)


@pytest.mark.parametrize(
    ("base", "url"),
    [
        ("http://127.0.0.1:7444/humanlayer/v1", "ws://127.0.0.1:7444/humanlayer/v1/ws"),
        ("https://fe.example.com/humanlayer/v1/", "wss://fe.example.com/humanlayer/v1/ws"),
    ],
)
def test_websocket_url_follows_the_api_base(base: str, url: str) -> None:
    assert websocket_url(base) == url
