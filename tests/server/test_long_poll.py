"""GET ...?wait=S answers as soon as the item completes, or after S seconds still pending."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import anyio.to_thread
import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from foureyes.server.push import InProcessNotifier, PostgresNotifier, project_topic, run_topic
from foureyes.server.push.registry import LONG_POLL
from foureyes.server.service import Service

API = "/humanlayer/v1"


def test_wait_returns_promptly_when_decided_from_another_thread(
    agent: Any, service: Service, make_function_call: Any
) -> None:
    agent.post("/function_calls", make_function_call())
    with ThreadPoolExecutor(max_workers=1) as pool:
        waiting = pool.submit(agent.get, "/function_calls/call-1", params={"wait": 20})
        time.sleep(0.3)
        assert not waiting.done()
        decided_at = time.monotonic()
        service.decisions.decide_function_call(
            agent.project_id, "call-1", approved=True, channel="cli", actor_key_id=None
        )
        response = waiting.result(timeout=10)
    assert time.monotonic() - decided_at < 2
    assert response.status_code == 200
    assert response.json()["status"]["approved"] is True


def test_wait_times_out_with_the_item_pending(agent: Any, make_function_call: Any) -> None:
    agent.post("/function_calls", make_function_call())
    started = time.monotonic()
    response = agent.get("/function_calls/call-1", params={"wait": "0.4"})
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert response.json()["status"]["approved"] is None
    assert 0.35 <= elapsed < 3


def test_wait_on_a_completed_item_answers_at_once(agent: Any, reviewer: Any, make_function_call: Any) -> None:
    agent.post("/function_calls", make_function_call())
    reviewer.post("/agent/function_calls/call-1/respond", {"approved": True})
    started = time.monotonic()
    assert agent.get("/function_calls/call-1", params={"wait": 30}).json()["status"]["approved"] is True
    assert time.monotonic() - started < 2


def test_no_wait_and_zero_wait_answer_at_once(agent: Any, make_function_call: Any) -> None:
    agent.post("/function_calls", make_function_call())
    started = time.monotonic()
    agent.get("/function_calls/call-1")
    agent.get("/function_calls/call-1", params={"wait": 0})
    assert time.monotonic() - started < 2


def test_human_contact_wait(agent: Any, reviewer: Any, make_human_contact: Any) -> None:
    agent.post("/contact_requests", make_human_contact())
    with ThreadPoolExecutor(max_workers=1) as pool:
        waiting = pool.submit(agent.get, "/contact_requests/hc-1", params={"wait": 20})
        time.sleep(0.3)
        reviewer.post("/agent/human_contacts/hc-1/respond", {"response": "casual"})
        response = waiting.result(timeout=10)
    assert response.json()["status"]["response"] == "casual"


@pytest.mark.parametrize("wait", ["-1", "55.01", "56", "abc", "", "nan", "inf", "-inf", "1e309"])
def test_bad_wait_values(agent: Any, make_function_call: Any, expect_error: Any, wait: str) -> None:
    agent.post("/function_calls", make_function_call())
    error = expect_error(agent.get("/function_calls/call-1", params={"wait": wait}), 400, "invalid_parameter")
    assert "wait" in error["message"]
    expect_error(agent.get("/contact_requests/x", params={"wait": wait}), 400, "invalid_parameter")


def test_wait_on_an_unknown_id_is_404_at_once(agent: Any, expect_error: Any) -> None:
    started = time.monotonic()
    expect_error(agent.get("/function_calls/nope", params={"wait": 30}), 404, "not_found")
    assert time.monotonic() - started < 2


def test_waiters_are_unsubscribed(agent: Any, service: Service, make_function_call: Any) -> None:
    assert isinstance(service.notifier, InProcessNotifier | PostgresNotifier)
    # The app's revocation check holds one subscription for as long as it runs.
    standing = service.notifier.subscriber_count()
    agent.post("/function_calls", make_function_call())
    agent.get("/function_calls/call-1", params={"wait": 0.05})
    assert service.notifier.subscriber_count() == standing


@pytest.mark.anyio
async def test_waiting_holds_no_worker_thread(
    app: FastAPI, service: Service, make_function_call: Any
) -> None:
    """Far more waiters than worker threads: they all park, and a decision still gets through."""
    key = service.keys.create_api_key(scopes=["agent", "respond"]).plaintext
    headers = {"Authorization": f"Bearer {key}"}
    limiter = anyio.to_thread.current_default_thread_limiter()
    old_tokens, limiter.total_tokens = limiter.total_tokens, 2
    results: list[Any] = []
    assert isinstance(service.notifier, InProcessNotifier | PostgresNotifier)
    standing = service.notifier.subscriber_count()  # the app's revocation check
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers) as http:
            assert (await http.post(f"{API}/function_calls", json=make_function_call())).status_code == 200

            async def wait() -> None:
                response = await http.get(f"{API}/function_calls/call-1", params={"wait": 20})
                results.append(response.json()["status"]["approved"])

            with anyio.fail_after(10):
                async with anyio.create_task_group() as tg:
                    for _ in range(20):
                        tg.start_soon(wait)
                    notifier = service.notifier
                    assert isinstance(notifier, InProcessNotifier | PostgresNotifier)
                    # All 20 park (2 worker threads would hold 2); on a loaded machine that
                    # takes a while, so wait for it rather than for a fixed time.
                    while notifier.subscriber_count() < standing + 20:  # noqa: ASYNC110 (a count, no event)
                        await anyio.sleep(0.02)
                    assert notifier.subscriber_count() == standing + 20
                    answer = await http.post(
                        f"{API}/agent/function_calls/call-1/respond", json={"approved": True}
                    )
                    assert answer.status_code == 200
    finally:
        limiter.total_tokens = old_tokens
    assert results == [True] * 20


@pytest.mark.anyio
async def test_notifier_publish_from_a_thread() -> None:
    notifier = InProcessNotifier()
    topic = (1, "function_call", "c")
    async with notifier.subscribe(topic) as subscription:
        assert not await subscription.wait(0.05)
        threading.Timer(0.05, notifier.publish, args=[topic]).start()
        with anyio.fail_after(5):
            assert await subscription.wait(10)
        # A wake-up is consumed: the next wait times out unless published again.
        assert not await subscription.wait(0.05)
        notifier.publish((1, "function_call", "other"))
        assert not await subscription.wait(0.05)
    assert notifier.subscriber_count() == 0
    notifier.publish(topic)  # nobody listening: a no-op


def test_run_and_project_topics_are_published_on_create_and_on_completion(
    agent: Any, service: Service, make_function_call: Any
) -> None:
    published: list[tuple[int, str, str]] = []
    handed: list[object] = []
    real_publish = service.notifier.publish

    def record(topic: tuple[int, str, str], *item: object) -> None:
        published.append(topic)
        handed.extend(item)
        real_publish(topic, *item)

    service.notifier.publish = record  # type: ignore[method-assign]
    run, project = run_topic(agent.project_id, "run-1"), project_topic(agent.project_id)
    agent.post("/function_calls", make_function_call())
    assert published == [run, project]
    agent.post("/function_calls", make_function_call())  # idempotent retry: nothing changed
    assert published == [run, project]
    service.decisions.decide_function_call(
        agent.project_id, "call-1", approved=True, channel="cli", actor_key_id=None
    )
    assert published[2:] == [(agent.project_id, "function_call", "call-1"), run, project]
    # The completed item is handed over with each of the decision's topics (a create hands none).
    decided = service.items.get_function_call(agent.project_id, "call-1")
    assert handed == [decided] * 3


@contextlib.contextmanager
def served(app: FastAPI) -> Iterator[int]:
    """``app`` behind a real uvicorn on a free port (lifespan is the fixtures' business), so a
    client can really hang up."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, port=port, lifespan="off", log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        _until(lambda: server.started)
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _waiters_metric(port: int) -> float:
    """``foureyes_waiters{kind="long-poll"}`` as /metrics reports it (to a loopback client)."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    (line,) = [x for x in text.splitlines() if x.startswith('foureyes_waiters{kind="long-poll"}')]
    return float(line.split()[-1])


def _until(condition: Any) -> None:
    """Poll ``condition`` (a hang guard of 10 s, not a timing assertion)."""
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "condition not met within 10 s"
        time.sleep(0.01)


def test_an_abandoned_long_poll_stops_when_the_client_hangs_up(
    app: FastAPI, service: Service, agent: Any, make_function_call: Any
) -> None:
    agent.post("/function_calls", make_function_call())
    notifier = service.notifier
    assert isinstance(notifier, InProcessNotifier | PostgresNotifier)
    standing = notifier.subscriber_count()  # the app's revocation check
    with served(app) as port:
        clients = []
        for _ in range(3):
            client = socket.create_connection(("127.0.0.1", port))
            request = (
                f"GET {API}/function_calls/call-1?wait=50 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {agent.key}\r\n\r\n"
            )
            client.sendall(request.encode())
            clients.append(client)
        _until(lambda: notifier.subscriber_count() == standing + 3)
        assert service.subscribers.count(LONG_POLL) == 3
        assert _waiters_metric(port) == 3
        clients.pop().close()
        _until(lambda: notifier.subscriber_count() == standing + 2)
        assert service.subscribers.count(LONG_POLL) == 2
        for client in clients:
            client.close()
        # Each waiter is gone long before its 50 s `wait` ends: from the push registry (and so
        # from /metrics) as well as from the notifier.
        _until(lambda: notifier.subscriber_count() == standing + 0)
        _until(lambda: service.subscribers.count(LONG_POLL) == 0)
        assert _waiters_metric(port) == 0
        # The server still answers, and a wait that nobody abandons still gets its decision.
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=agent.headers) as http:
            threading.Timer(
                0.2,
                service.decisions.decide_function_call,
                args=(agent.project_id, "call-1"),
                kwargs={"approved": True, "channel": "cli", "actor_key_id": None},
            ).start()
            answer = http.get(f"{API}/function_calls/call-1", params={"wait": 30}, timeout=30)
            assert answer.json()["status"]["approved"] is True
