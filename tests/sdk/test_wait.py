"""The wait: create with retries, long-poll until decided, backoff, deadlines."""

from __future__ import annotations

import json
import random
from collections.abc import Callable

import httpx
import pytest

from foureyes import (
    ApprovalTimeout,
    AsyncHumanLayer,
    AuthenticationError,
    ConflictError,
    FunctionCallSpec,
    HumanContactSpec,
    HumanLayer,
    InvalidRequestError,
    NotFoundError,
    RetryPolicy,
)

from .conftest import FakeClock, FakeServer, passthrough, refuse, status

SPEC = FunctionCallSpec(fn="transfer", kwargs={"to": "alice", "usd": 10})


def test_creates_then_long_polls_until_decided(hl: HumanLayer, server: FakeServer, clock: FakeClock) -> None:
    server.decide_on_get(3, approved=True, comment="ok")
    completed = hl.fetch_approval(SPEC)
    assert completed.as_completed().approved is True
    assert completed.as_completed().comment == "ok"
    [post] = server.sent("POST")
    assert post.url.path == "/humanlayer/v1/function_calls"
    body = json.loads(post.content)
    assert body["status"] is None
    assert body["run_id"] == "run-1"
    assert body["spec"] == {
        "fn": "transfer",
        "kwargs": {"to": "alice", "usd": 10},
        "channel": None,
        "reject_options": None,
        "state": None,
    }
    gets = server.sent("GET")
    assert len(gets) == 3
    assert all(g.url.params["wait"] == "25.000" for g in gets)
    # The long-poll itself is the wait: no client-side sleeps against a server that holds.
    assert clock.sleeps == []


def test_read_timeout_outlasts_the_long_poll(hl: HumanLayer, server: FakeServer) -> None:
    server.decide_on_get(1)
    hl.fetch_approval(SPEC)
    [get] = server.sent("GET")
    assert get.extensions["timeout"]["read"] > 25


def test_a_server_that_ignores_wait_is_asked_about_once_a_second(
    hl: HumanLayer, server: FakeServer, clock: FakeClock
) -> None:
    server.ignore_wait = True
    server.decide_on_get(5)
    hl.fetch_approval(SPEC)
    assert len(server.sent("GET")) == 5
    assert clock.sleeps == [1.0, 1.0, 1.0, 1.0]


def test_connection_errors_and_5xx_while_waiting_back_off_and_recover(
    hl: HumanLayer, server: FakeServer, clock: FakeClock
) -> None:
    server.decide_on_get(1, approved=False, comment="no")
    server.script = [
        passthrough,
        refuse,
        status(503),
        refuse,
        status(502),
        refuse,
        status(500),
        refuse,
        refuse,
    ]
    completed = hl.fetch_approval(SPEC)
    assert completed.as_completed().comment == "no"
    # full-jitter windows with the jitter pinned at the top: 0.25 * 2**n, capped at 10 s
    assert clock.sleeps == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_backoff_is_jittered_within_growing_bounds(
    make_hl: Callable[..., HumanLayer], server: FakeServer, clock: FakeClock
) -> None:
    hl = make_hl(retry=RetryPolicy(jitter=random.Random(3).random))
    server.script = [refuse] * 12
    server.decide_on_get(1)
    hl.fetch_approval(SPEC)
    ceilings = [min(10.0, 0.25 * 2**n) for n in range(12)]
    assert len(clock.sleeps) == 12
    assert all(0 <= s <= c for s, c in zip(clock.sleeps, ceilings, strict=True))
    assert len(set(clock.sleeps)) == 12  # jittered, not a fixed schedule
    assert sum(clock.sleeps[6:]) > sum(clock.sleeps[:6])  # and growing


def test_backoff_resets_after_a_good_answer(hl: HumanLayer, server: FakeServer, clock: FakeClock) -> None:
    calls = 0

    def flaky(request: httpx.Request) -> httpx.Response | None:
        nonlocal calls
        calls += 1
        return None if calls in (1, 4) else refuse(request)  # the create, then one good GET

    server.script = [flaky] * 6
    server.decide_on_get(2)
    hl.fetch_approval(SPEC)
    assert clock.sleeps == [0.25, 0.5, 0.25, 0.5]


def test_429_honours_retry_after(hl: HumanLayer, server: FakeServer, clock: FakeClock) -> None:
    server.script = [status(429, headers={"Retry-After": "7"})]
    server.decide_on_get(1)
    hl.fetch_approval(SPEC)
    assert clock.sleeps == [7.0]


def test_lost_create_answer_is_re_posted_with_the_same_body(
    hl: HumanLayer, server: FakeServer, clock: FakeClock
) -> None:
    server.lose_answers = 1  # the first POST lands, but its answer never arrives
    server.decide_on_get(1)
    hl.fetch_approval(SPEC)
    posts = server.sent("POST")
    assert len(posts) == 2
    assert posts[0].content == posts[1].content
    assert len(server.items) == 1
    assert clock.sleeps == [0.25]


def test_create_refused_then_retried(hl: HumanLayer, server: FakeServer, clock: FakeClock) -> None:
    server.script = [refuse, status(503), refuse]
    server.decide_on_get(1)
    hl.fetch_approval(SPEC)
    assert len(server.sent("POST")) == 4
    assert len(server.items) == 1
    assert clock.sleeps == [0.25, 0.5, 1.0]


def test_re_post_that_finds_a_decided_call_returns_it(hl: HumanLayer, server: FakeServer) -> None:
    def decide_then_lose(request: httpx.Request) -> httpx.Response:
        server._route(request)
        server.decide(server.only()["call_id"], approved=True)
        raise httpx.ReadTimeout("timed out", request=request)

    server.script = [decide_then_lose]
    assert hl.fetch_approval(SPEC).as_completed().approved is True
    assert server.sent("GET") == []


def test_404_while_waiting_creates_the_call_again(hl: HumanLayer, server: FakeServer) -> None:
    def forget(request: httpx.Request) -> httpx.Response:
        server.items.clear()  # a store that lost the acknowledged call
        return status(404)(request)

    server.script = [passthrough, forget]
    server.decide_on_get(1)
    assert hl.fetch_approval(SPEC).as_completed().approved is True
    assert [r.method for r in server.sent()] == ["POST", "GET", "POST", "GET"]
    assert server.requests[0].content == server.requests[2].content


def test_404_that_persists_is_raised_after_a_few_re_creates(hl: HumanLayer, server: FakeServer) -> None:
    def lost_for_reads(request: httpx.Request) -> httpx.Response | None:
        return status(404)(request) if request.method == "GET" else None

    server.script = [lost_for_reads] * 20
    with pytest.raises(NotFoundError):
        hl.fetch_approval(SPEC)
    assert [r.method for r in server.requests] == ["POST"] + ["GET", "POST"] * 3 + ["GET"]


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (401, AuthenticationError),
        (409, ConflictError),
        (422, InvalidRequestError),
        (400, InvalidRequestError),
    ],
)
def test_4xx_on_create_is_raised_at_once(
    hl: HumanLayer, server: FakeServer, clock: FakeClock, code: int, error: type[Exception]
) -> None:
    server.script = [status(code)]
    with pytest.raises(error, match=str(code)):
        hl.fetch_approval(SPEC)
    assert len(server.requests) == 1
    assert clock.sleeps == []


def test_4xx_while_waiting_is_raised_at_once(hl: HumanLayer, server: FakeServer, clock: FakeClock) -> None:
    server.script = [passthrough, status(403)]
    with pytest.raises(Exception, match="403"):
        hl.fetch_approval(SPEC)
    assert len(server.requests) == 2


def test_deadline_raises_approval_timeout(
    make_hl: Callable[..., HumanLayer], server: FakeServer, clock: FakeClock
) -> None:
    hl = make_hl(timeout=60)
    started = clock.now
    with pytest.raises(ApprovalTimeout, match="within 60 s") as raised:
        hl.fetch_approval(SPEC)
    assert isinstance(raised.value, TimeoutError)
    assert clock.now - started == pytest.approx(60)
    # the last GET only asked for what was left of the deadline
    waits = [float(r.url.params["wait"]) for r in server.sent("GET")]
    assert waits == [25.0, 25.0, 10.0]


def test_deadline_with_the_server_down_names_the_last_error(
    make_hl: Callable[..., HumanLayer], server: FakeServer, clock: FakeClock
) -> None:
    hl = make_hl(timeout=30)
    server.script = [refuse] * 100
    with pytest.raises(ApprovalTimeout, match="ConnectError"):
        hl.fetch_approval(SPEC)
    assert sum(clock.sleeps) == pytest.approx(30)
    assert server.items == {}


def test_human_contact_waits_the_same_way(hl: HumanLayer, server: FakeServer) -> None:
    def answer_on_get(call_id: str) -> None:
        server.answer(call_id, "blue")

    server.script = [refuse]
    server.on_get = answer_on_get
    completed = hl.fetch_human_response(HumanContactSpec(msg="Which colour?"))
    assert completed.as_completed() == "blue"
    assert server.sent("GET")[0].url.path.startswith("/humanlayer/v1/contact_requests/")


@pytest.mark.anyio
async def test_async_client_waits_with_the_same_rules(
    make_ahl: Callable[..., AsyncHumanLayer], server: FakeServer, clock: FakeClock
) -> None:
    ahl = make_ahl()
    server.lose_answers = 1
    server.script = [passthrough, refuse, status(503)]
    server.decide_on_get(1, approved=False, comment="not now")
    completed = await ahl.fetch_approval(SPEC)
    assert completed.as_completed().comment == "not now"
    assert [r.method for r in server.requests] == ["POST", "POST", "POST", "POST", "GET"]
    assert clock.sleeps == [0.25, 0.5, 1.0]
    assert len(server.items) == 1
    await ahl.aclose()


@pytest.mark.anyio
async def test_async_deadline(make_ahl: Callable[..., AsyncHumanLayer], server: FakeServer) -> None:
    ahl = make_ahl(timeout=5)
    with pytest.raises(ApprovalTimeout):
        await ahl.fetch_human_response(HumanContactSpec(msg="anyone?"))
    await ahl.aclose()
